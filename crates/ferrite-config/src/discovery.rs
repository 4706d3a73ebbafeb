//! `Discovery`: local peer discovery (mDNS).

use crate::error::Result;
use crate::Config;

impl Config {
    /// `Discovery.MDNS.Enabled` (false when missing, as in Kubo; init
    /// writes true).
    pub fn mdns_enabled(&self) -> Result<bool> {
        Ok(self.opt_bool("Discovery.MDNS.Enabled")?.unwrap_or(false))
    }
}
