//! `Routing`: how the node finds peers and content.

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

impl Config {
    /// `Routing.Type` (default `auto`); one of [`ROUTING_TYPES`].
    pub fn routing_type(&self) -> Result<String> {
        match self.opt_string("Routing.Type")? {
            None => Ok(DEFAULT_ROUTING_TYPE.into()),
            Some(t) if ROUTING_TYPES.contains(&t.as_str()) => Ok(t),
            Some(t) => Err(invalid(
                "Routing.Type",
                format!(
                    "unknown routing type {t:?} (expected one of {})",
                    ROUTING_TYPES.join(", ")
                ),
            )),
        }
    }
}
