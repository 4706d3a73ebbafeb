//! `Routing`: how the node finds peers and content.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{invalid, Result};
use crate::Config;

/// `Routing.Type` when unset.
pub const DEFAULT_ROUTING_TYPE: &str = "auto";
/// The `Routing.Type` values Kubo accepts.
pub const ROUTING_TYPES: [&str; 8] = [
    "auto",
    "autoclient",
    "dht",
    "dhtclient",
    "dhtserver",
    "none",
    "delegated",
    "custom",
];

/// The `Routing` section.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Routing {
    /// `Routing.Type`: one of [`ROUTING_TYPES`]; `None` is
    /// [`DEFAULT_ROUTING_TYPE`].
    #[serde(rename = "Type")]
    pub kind: Option<String>,
    /// Keys Ferrite does not read, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Config {
    /// `Routing.Type` (default `auto`); one of [`ROUTING_TYPES`].
    pub fn routing_type(&self) -> Result<String> {
        let t = (self.section::<Routing>("Routing")?.kind)
            .unwrap_or_else(|| DEFAULT_ROUTING_TYPE.into());
        if !ROUTING_TYPES.contains(&t.as_str()) {
            return Err(invalid(
                "Routing.Type",
                format!(
                    "unknown routing type {t:?} (expected one of {})",
                    ROUTING_TYPES.join(", ")
                ),
            ));
        }
        Ok(t)
    }
}
