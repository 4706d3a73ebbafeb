//! A command's request as a go-ipfs-cmds query string and back.
//!
//! Requests are plain serde structs whose field names are Kubo's option names
//! (positional arguments are the repeated `arg`). Serializing goes through
//! `serde_json::Value` (a field is a scalar or a list of scalars);
//! deserializing reads the decoded query pairs with Kubo's rules: a bare
//! `?flag` is `true`, the last value of a repeated option wins, and a value of
//! the wrong type is `could not convert value "x" to type bool (for option "-name")`.

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;

/// The query pairs of `req`, in field order; lists become repeated keys.
/// Options left at their defaults (what an empty query decodes to) are left
/// out, as Kubo's CLI sends only the options given.
pub fn to_pairs<T: Serialize + DeserializeOwned>(req: &T) -> Result<Vec<(String, String)>, String> {
    let v = serde_json::to_value(req).map_err(|e| e.to_string())?;
    let serde_json::Value::Object(fields) = v else {
        return Err("a command request must be a struct".into());
    };
    let defaults = from_pairs::<T>(&[])
        .ok()
        .and_then(|d| serde_json::to_value(d).ok());
    let mut out = Vec::new();
    for (k, v) in fields {
        if defaults.as_ref().and_then(|d| d.get(&k)) == Some(&v) {
            continue;
        }
        match v {
            serde_json::Value::Null => {}
            serde_json::Value::Array(items) => {
                for i in items {
                    out.push((k.clone(), scalar(&k, i)?));
                }
            }
            other => out.push((k.clone(), scalar(&k, other)?)),
        }
    }
    Ok(out)
}

fn scalar(key: &str, v: serde_json::Value) -> Result<String, String> {
    match v {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Bool(b) => Ok(b.to_string()),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(format!("option {key}: {other} is not a scalar")),
    }
}

/// Reads a request from decoded query pairs. Unknown options are ignored, as
/// go-ipfs-cmds does for options a command does not declare.
pub fn from_pairs<T: DeserializeOwned>(pairs: &[(String, String)]) -> Result<T, QueryError> {
    let mut map: Vec<(String, Vec<String>)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (k, v) in pairs {
        match index.get(k.as_str()) {
            Some(&i) => map[i].1.push(v.clone()),
            None => {
                index.insert(k, map.len());
                map.push((k.clone(), vec![v.clone()]));
            }
        }
    }
    from_options(map)
}

/// Reads a request from options already grouped by name (`arg` for the
/// positional arguments), as [`crate::rpc::Req`] holds them.
pub fn from_options<T: DeserializeOwned>(map: Vec<(String, Vec<String>)>) -> Result<T, QueryError> {
    T::deserialize(Query { map })
}

/// Kubo's reading of a boolean option's value (a bare `?flag` is `""`).
pub fn kubo_bool(v: &str) -> Option<bool> {
    match v {
        "" | "true" | "1" | "True" | "TRUE" => Some(true),
        "false" | "0" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Why a query does not make a request: Kubo's wording, a client error.
#[derive(Debug)]
pub struct QueryError(pub String);

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for QueryError {}

impl de::Error for QueryError {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        QueryError(msg.to_string())
    }

    fn missing_field(field: &'static str) -> Self {
        if field == "arg" {
            QueryError("argument is required".into())
        } else {
            QueryError(format!("option \"{field}\" is required"))
        }
    }
}

struct Query {
    map: Vec<(String, Vec<String>)>,
}

impl<'de> de::Deserializer<'de> for Query {
    type Error = QueryError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, QueryError> {
        visitor.visit_map(Fields {
            iter: self.map.into_iter(),
            value: None,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct Fields {
    iter: std::vec::IntoIter<(String, Vec<String>)>,
    value: Option<(String, Vec<String>)>,
}

impl<'de> de::MapAccess<'de> for Fields {
    type Error = QueryError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, QueryError> {
        match self.iter.next() {
            Some((k, v)) => {
                let key = seed.deserialize(k.as_str().into_deserializer())?;
                self.value = Some((k, v));
                Ok(Some(key))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, QueryError> {
        let (key, values) = self.value.take().expect("value after key");
        seed.deserialize(Value { key, values })
    }
}

/// The values of one option.
struct Value {
    key: String,
    values: Vec<String>,
}

impl Value {
    fn last(&self) -> &str {
        self.values.last().map_or("", String::as_str)
    }

    fn bad(&self, ty: &str) -> QueryError {
        QueryError(format!(
            "could not convert value \"{}\" to type {ty} (for option \"-{}\")",
            self.last(),
            self.key
        ))
    }

    fn parse<T: std::str::FromStr>(&self, ty: &str) -> Result<T, QueryError> {
        self.last().parse().map_err(|_| self.bad(ty))
    }
}

macro_rules! parse_number {
    ($($method:ident $visit:ident $ty:ty, $kubo:literal;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, QueryError> {
            visitor.$visit(self.parse::<$ty>($kubo)?)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Value {
    type Error = QueryError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, QueryError> {
        visitor.visit_string(self.last().to_owned())
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, QueryError> {
        match kubo_bool(self.last()) {
            Some(b) => visitor.visit_bool(b),
            None => Err(self.bad("bool")),
        }
    }

    parse_number! {
        deserialize_u8 visit_u8 u8, "uint";
        deserialize_u16 visit_u16 u16, "uint";
        deserialize_u32 visit_u32 u32, "uint";
        deserialize_u64 visit_u64 u64, "uint64";
        deserialize_i8 visit_i8 i8, "int";
        deserialize_i16 visit_i16 i16, "int";
        deserialize_i32 visit_i32 i32, "int";
        deserialize_i64 visit_i64 i64, "int64";
        deserialize_f32 visit_f32 f32, "float";
        deserialize_f64 visit_f64 f64, "float64";
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, QueryError> {
        visitor.visit_some(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, QueryError> {
        let key = self.key;
        visitor.visit_seq(de::value::SeqDeserializer::new(
            self.values.into_iter().map(move |v| Value {
                key: key.clone(),
                values: vec![v],
            }),
        ))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, QueryError> {
        visitor.visit_enum(self.last().to_owned().into_deserializer())
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, QueryError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf unit unit_struct tuple
        tuple_struct map struct identifier ignored_any
    }
}

impl<'de> IntoDeserializer<'de, QueryError> for Value {
    type Deserializer = Value;

    fn into_deserializer(self) -> Value {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Req {
        #[serde(rename = "arg", default)]
        paths: Vec<String>,
        #[serde(default = "yes")]
        recursive: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        depth: Option<i64>,
        #[serde(rename = "cid-base", default)]
        cid_base: String,
    }

    fn yes() -> bool {
        true
    }

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn query_round_trips_and_follows_kubo_rules() {
        let r = Req {
            paths: vec!["a".into(), "b c".into()],
            recursive: false,
            depth: Some(-1),
            cid_base: "base32".into(),
        };
        let p = to_pairs(&r).unwrap();
        assert_eq!(
            p,
            pairs(&[
                ("arg", "a"),
                ("arg", "b c"),
                ("recursive", "false"),
                ("depth", "-1"),
                ("cid-base", "base32")
            ])
        );
        assert_eq!(from_pairs::<Req>(&p).unwrap(), r);

        // defaults, a bare flag, the last of repeated values, unknown options
        let r: Req = from_pairs(&pairs(&[
            ("recursive", ""),
            ("depth", "1"),
            ("depth", "2"),
            ("x", "y"),
        ]))
        .unwrap();
        assert_eq!((r.paths.len(), r.recursive, r.depth), (0, true, Some(2)));
    }

    #[test]
    fn bad_values_are_kubo_errors() {
        let e = from_pairs::<Req>(&pairs(&[("recursive", "maybe")])).unwrap_err();
        assert_eq!(
            e.0,
            "could not convert value \"maybe\" to type bool (for option \"-recursive\")"
        );
        let e = from_pairs::<Req>(&pairs(&[("depth", "x")])).unwrap_err();
        assert_eq!(
            e.0,
            "could not convert value \"x\" to type int64 (for option \"-depth\")"
        );
    }
}
