//! `Provide` (and the older `Reprovider`): announcing content to the DHT.

use std::time::Duration;

use crate::error::Result;
use crate::Config;

/// Reprovide interval when neither `Provide.DHT.Interval` nor
/// `Reprovider.Interval` is set (Kubo: 22h).
pub const DEFAULT_REPROVIDE_INTERVAL: Duration = Duration::from_secs(22 * 3600);
/// Provide strategy when unset.
pub const DEFAULT_PROVIDE_STRATEGY: &str = "all";

/// Reproviding settings, read from Kubo's `Provide.*` and, when those are
/// unset, from the older `Reprovider.*` keys.
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
        let interval = match self.opt_duration("Provide.DHT.Interval")? {
            Some(d) => d,
            None => self
                .opt_duration("Reprovider.Interval")?
                .unwrap_or(DEFAULT_REPROVIDE_INTERVAL),
        };
        let strategy = match self.opt_string("Provide.Strategy")? {
            Some(s) => s,
            None => self.opt_string("Reprovider.Strategy")?.unwrap_or_default(),
        };
        let strategy = if strategy.is_empty() {
            DEFAULT_PROVIDE_STRATEGY.to_owned()
        } else {
            strategy
        };
        Ok(ReproviderSettings {
            enabled: self.opt_bool("Provide.Enabled")?.unwrap_or(true),
            interval,
            strategy,
        })
    }
}
