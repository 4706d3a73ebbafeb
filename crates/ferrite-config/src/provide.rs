//! `Provide` (and the older `Reprovider`): announcing content to the DHT.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Result;
use crate::types::{opt_duration, ser_opt_duration};
use crate::Config;

/// Reprovide interval when neither `Provide.DHT.Interval` nor
/// `Reprovider.Interval` is set (Kubo: 22h).
pub const DEFAULT_REPROVIDE_INTERVAL: Duration = Duration::from_secs(22 * 3600);
/// Provide strategy when unset.
pub const DEFAULT_PROVIDE_STRATEGY: &str = "all";

/// `Provide.DHT`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ProvideDht {
    /// `Interval`: how often content is reprovided; zero disables it.
    #[serde(deserialize_with = "opt_duration", serialize_with = "ser_opt_duration")]
    pub interval: Option<Duration>,
    /// Keys Ferrite does not read, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `Provide` section; unset values fall back to `Reprovider`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Provide {
    /// `Enabled` (default true): announce content at all.
    pub enabled: bool,
    /// `Strategy`, e.g. `all`, `pinned`, `roots`, `pinned+mfs`.
    pub strategy: Option<String>,
    /// `DHT`.
    #[serde(rename = "DHT")]
    pub dht: ProvideDht,
    /// Keys Ferrite does not read, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for Provide {
    fn default() -> Self {
        Provide {
            enabled: true,
            strategy: None,
            dht: ProvideDht::default(),
            extra: Map::new(),
        }
    }
}

/// The deprecated `Reprovider` section.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Reprovider {
    /// `Interval`.
    #[serde(deserialize_with = "opt_duration", serialize_with = "ser_opt_duration")]
    pub interval: Option<Duration>,
    /// `Strategy`.
    pub strategy: Option<String>,
    /// Keys Ferrite does not read, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Reproviding settings, from Kubo's `Provide.*` and, where those are
/// unset, the older `Reprovider.*`, with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReproviderSettings {
    /// `Provide.Enabled` (default true): announce content at all.
    pub enabled: bool,
    /// `Provide.DHT.Interval` / `Reprovider.Interval`; zero disables
    /// periodic reproviding.
    pub interval: Duration,
    /// `Provide.Strategy` / `Reprovider.Strategy`, e.g. `all`, `pinned`,
    /// `roots`, `pinned+mfs`.
    pub strategy: String,
}

impl Config {
    /// Reproviding: `Provide.*` first, then the deprecated `Reprovider.*`.
    pub fn reprovider(&self) -> Result<ReproviderSettings> {
        let provide = self.section::<Provide>("Provide")?;
        let old = self.section::<Reprovider>("Reprovider")?;
        let strategy = provide.strategy.or(old.strategy).unwrap_or_default();
        Ok(ReproviderSettings {
            enabled: provide.enabled,
            interval: (provide.dht.interval)
                .or(old.interval)
                .unwrap_or(DEFAULT_REPROVIDE_INTERVAL),
            strategy: if strategy.is_empty() {
                DEFAULT_PROVIDE_STRATEGY.into()
            } else {
                strategy
            },
        })
    }
}
