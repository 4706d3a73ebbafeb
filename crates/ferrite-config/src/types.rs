//! Kubo's value types (its `config/types.go`) as serde adapters for the
//! section structs: `Strings`, header maps, Go durations and byte sizes.
//!
//! `null` never reaches these: sections are read with `null` values removed,
//! so a `null` key takes the field's default like a missing one. Durations
//! and sizes are parsed by [`crate::units`] and written back as strings
//! that Kubo and Ferrite both read.

use std::fmt;
use std::time::Duration;

use ferrite_ipld::HashAlg;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::units::{parse_byte_size, parse_duration};

/// Kubo's `Strings`: one string or a list ("" is empty).
pub(crate) mod strings {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        struct Strings;
        impl<'de> Visitor<'de> for Strings {
            type Value = Vec<String>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, an array of strings or null")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(if s.is_empty() {
                    Vec::new()
                } else {
                    vec![s.to_owned()]
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element()? {
                    out.push(s);
                }
                Ok(out)
            }
        }
        d.deserialize_any(Strings)
    }

    /// As Kubo writes it: `null` when empty, a string for one, else a list.
    pub(crate) fn serialize<S: Serializer>(v: &[String], s: S) -> Result<S::Ok, S::Error> {
        match v {
            [] => s.serialize_none(),
            [one] => s.serialize_str(one),
            many => many.serialize(s),
        }
    }
}

/// Go's `map[string][]string` of HTTP headers, in file order.
pub(crate) mod headers {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(String, Vec<String>)>, D::Error> {
        struct Headers;
        impl<'de> Visitor<'de> for Headers {
            type Value = Vec<(String, Vec<String>)>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of header lists")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    out.push(entry);
                }
                Ok(out)
            }
        }
        d.deserialize_map(Headers)
    }

    pub(crate) fn serialize<S: Serializer>(
        v: &[(String, Vec<String>)],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(v.len()))?;
        for (name, values) in v {
            map.serialize_entry(name, values)?;
        }
        map.end()
    }
}

/// Kubo's `OptionalDuration`: a Go duration string; "", "default" and
/// "null" mean unset.
pub(crate) fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s = String::deserialize(d)?;
    match s.as_str() {
        "" | "default" | "null" => Ok(None),
        s => parse_duration(s).map(Some).map_err(de::Error::custom),
    }
}

/// A duration whose unset value is `SECS` seconds.
pub(crate) fn duration_or<'de, D: Deserializer<'de>, const SECS: u64>(
    d: D,
) -> Result<Duration, D::Error> {
    Ok(opt_duration(d)?.unwrap_or(Duration::from_secs(SECS)))
}

/// Writes a duration in a form Go's `time.ParseDuration` reads (`1h0m0s`,
/// `1m30s`, `0.5s`).
pub(crate) fn ser_duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&go_duration(*d))
}

pub(crate) fn ser_opt_duration<S: Serializer>(
    d: &Option<Duration>,
    s: S,
) -> Result<S::Ok, S::Error> {
    d.map(go_duration).serialize(s)
}

fn go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let mut out = String::new();
    if secs >= 3600 {
        out += &format!("{}h", secs / 3600);
    }
    if secs >= 60 {
        out += &format!("{}m", secs % 3600 / 60);
    }
    out += &(secs % 60).to_string();
    if d.subsec_nanos() > 0 {
        out += format!(".{:09}", d.subsec_nanos()).trim_end_matches('0');
    }
    out + "s"
}

/// Kubo's `OptionalBytes`: a size such as `"256KiB"`, or a number of
/// bytes; `""` means unset.
pub(crate) fn opt_byte_size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    struct Size;
    impl Visitor<'_> for Size {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a size such as \"256KiB\" or a number")
        }
        fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
            Ok(Some(n))
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
            match s.trim() {
                "" => Ok(None),
                _ => parse_byte_size(s).map(Some).map_err(E::custom),
            }
        }
    }
    d.deserialize_any(Size)
}

/// A byte size whose unset value is `DEFAULT` bytes.
pub(crate) fn byte_size_or<'de, D: Deserializer<'de>, const DEFAULT: u64>(
    d: D,
) -> Result<u64, D::Error> {
    Ok(opt_byte_size(d)?.unwrap_or(DEFAULT))
}

/// Sizes are written as a string of bytes, which Kubo's `string` and
/// `OptionalBytes` fields both read.
pub(crate) fn ser_byte_size<S: Serializer>(n: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&n.to_string())
}

pub(crate) fn ser_opt_byte_size<S: Serializer>(n: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    n.map(|n| n.to_string()).serialize(s)
}

/// A hash function name, case-insensitive (`Import.HashFunction`).
pub(crate) mod hash_name {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<HashAlg>, D::Error> {
        let name = String::deserialize(d)?;
        HashAlg::from_name(&name.to_ascii_lowercase())
            .map(Some)
            .map_err(de::Error::custom)
    }

    pub(crate) fn serialize<S: Serializer>(h: &Option<HashAlg>, s: S) -> Result<S::Ok, S::Error> {
        h.map(HashAlg::name).serialize(s)
    }
}
