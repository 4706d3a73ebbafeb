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
