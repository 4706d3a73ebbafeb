//! Serde adapters that store typed values (CIDs, peer IDs) as their text
//! form, so the Raft log, snapshots and peer messages keep the JSON they
//! had when these fields were strings (old logs still read).

use std::fmt::Display;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serializer};

/// `#[serde(with = "crate::text")]`: one value as its `Display` text,
/// read back with `FromStr`.
pub(crate) fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// See [`serialize`].
pub(crate) fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
where
    T: FromStr,
    T::Err: Display,
    D: Deserializer<'de>,
{
    let s = String::deserialize(d)?;
    s.parse()
        .map_err(|e| serde::de::Error::custom(format!("{s:?}: {e}")))
}

/// Parses one text value, naming it in the error.
fn parse<T, E>(s: &str) -> Result<T, E>
where
    T: FromStr,
    T::Err: Display,
    E: serde::de::Error,
{
    s.parse().map_err(|e| E::custom(format!("{s:?}: {e}")))
}

/// `#[serde(with = "crate::text::seq")]`: a `Vec` of typed values as a list
/// of their texts.
pub(crate) mod seq {
    use super::*;
    use serde::ser::SerializeSeq;

    /// See the module.
    pub(crate) fn serialize<T: Display, S: Serializer>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for x in v {
            seq.serialize_element(&Text(x))?;
        }
        seq.end()
    }

    /// See the module.
    pub(crate) fn deserialize<'de, T, D>(d: D) -> Result<Vec<T>, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| parse(s))
            .collect()
    }
}

/// `#[serde(with = "crate::text::opt")]`: an `Option` of a typed value as
/// its text or `null`.
pub(crate) mod opt {
    use super::*;

    /// See the module.
    pub(crate) fn serialize<T: Display, S: Serializer>(
        v: &Option<T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(x) => s.serialize_some(&Text(x)),
            None => s.serialize_none(),
        }
    }

    /// See the module.
    pub(crate) fn deserialize<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        Option::<String>::deserialize(d)?
            .map(|s| parse(&s))
            .transpose()
    }
}

/// `#[serde(with = "crate::text::opt_seq")]`: an optional `Vec` of typed
/// values as a list of their texts or `null`.
pub(crate) mod opt_seq {
    use super::*;

    /// See the module.
    pub(crate) fn serialize<T: Display, S: Serializer>(
        v: &Option<Vec<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(x) => s.serialize_some(&Texts(x)),
            None => s.serialize_none(),
        }
    }

    /// See the module.
    pub(crate) fn deserialize<'de, T, D>(d: D) -> Result<Option<Vec<T>>, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        Option::<Vec<String>>::deserialize(d)?
            .map(|v| v.iter().map(|s| parse(s)).collect())
            .transpose()
    }
}

/// `#[serde(with = "crate::text::keys")]`: a `BTreeMap` with typed keys as
/// an object keyed by their texts (in the map's order).
pub(crate) mod keys {
    use std::collections::BTreeMap;

    use serde::ser::SerializeMap;
    use serde::Serialize;

    use super::*;

    /// See the module.
    pub(crate) fn serialize<K, V, S>(m: &BTreeMap<K, V>, s: S) -> Result<S::Ok, S::Error>
    where
        K: Display,
        V: Serialize,
        S: Serializer,
    {
        let mut map = s.serialize_map(Some(m.len()))?;
        for (k, v) in m {
            map.serialize_entry(&Text(k), v)?;
        }
        map.end()
    }

    /// See the module.
    pub(crate) fn deserialize<'de, K, V, D>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: FromStr + Ord,
        K::Err: Display,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        BTreeMap::<String, V>::deserialize(d)?
            .into_iter()
            .map(|(k, v)| Ok((parse(&k)?, v)))
            .collect()
    }
}

/// Serializes a value as its `Display` text.
struct Text<'a, T>(&'a T);

impl<T: Display> serde::Serialize for Text<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self.0)
    }
}

/// Serializes values as a list of their `Display` texts.
struct Texts<'a, T>(&'a [T]);

impl<T: Display> serde::Serialize for Texts<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        seq::serialize(self.0, s)
    }
}
