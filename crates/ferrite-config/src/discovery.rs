//! `Discovery`: local peer discovery (mDNS).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Result;
use crate::Config;

/// `Discovery.MDNS`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Mdns {
    /// `Enabled` (false when missing, as in Kubo; init writes true).
    pub enabled: bool,
    /// Keys Ferrite does not read, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Config {
    /// `Discovery.MDNS.Enabled`.
    pub fn mdns_enabled(&self) -> Result<bool> {
        Ok(self.section::<Mdns>("Discovery.MDNS")?.enabled)
    }
}
