//! `Swarm`: address filters, NAT port mapping and the connection manager.

use std::time::Duration;

use crate::error::Result;
use crate::Config;

/// Connection manager type when `Swarm.ConnMgr.Type` is unset.
pub const DEFAULT_CONN_MGR_TYPE: &str = "basic";
/// Connection manager low water mark when unset.
pub const DEFAULT_CONN_MGR_LOW_WATER: u64 = 32;
/// Connection manager high water mark when unset.
pub const DEFAULT_CONN_MGR_HIGH_WATER: u64 = 96;
/// Connection manager grace period when unset.
pub const DEFAULT_CONN_MGR_GRACE_PERIOD: Duration = Duration::from_secs(20);
/// How often the connection manager trims, when unset.
pub const DEFAULT_CONN_MGR_SILENCE_PERIOD: Duration = Duration::from_secs(10);

/// `Swarm.ConnMgr` with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnMgrSettings {
    /// `Type`: `basic` (default) or `none`.
    pub kind: String,
    /// `LowWater`: trim down to this many connections.
    pub low_water: u64,
    /// `HighWater`: start trimming above this many connections.
    pub high_water: u64,
    /// `GracePeriod`: new connections are safe from trimming this long.
    pub grace_period: Duration,
    /// `SilencePeriod`: minimum time between trims.
    pub silence_period: Duration,
}

/// The `Swarm` settings Ferrite uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmSettings {
    /// `Swarm.AddrFilters`: multiaddr ranges never dialled or accepted.
    pub addr_filters: Vec<String>,
    /// `Swarm.DisableNatPortMap`: no UPnP/NAT-PMP port mapping.
    pub disable_nat_port_map: bool,
    /// `Swarm.ConnMgr`.
    pub conn_mgr: ConnMgrSettings,
}

impl Config {
    /// `Swarm.AddrFilters`, `Swarm.DisableNatPortMap` and `Swarm.ConnMgr`.
    pub fn swarm(&self) -> Result<SwarmSettings> {
        Ok(SwarmSettings {
            addr_filters: self.string_list("Swarm.AddrFilters")?,
            disable_nat_port_map: self.opt_bool("Swarm.DisableNatPortMap")?.unwrap_or(false),
            conn_mgr: ConnMgrSettings {
                kind: self
                    .opt_string("Swarm.ConnMgr.Type")?
                    .unwrap_or_else(|| DEFAULT_CONN_MGR_TYPE.into()),
                low_water: self
                    .opt_u64("Swarm.ConnMgr.LowWater")?
                    .unwrap_or(DEFAULT_CONN_MGR_LOW_WATER),
                high_water: self
                    .opt_u64("Swarm.ConnMgr.HighWater")?
                    .unwrap_or(DEFAULT_CONN_MGR_HIGH_WATER),
                grace_period: self
                    .opt_duration("Swarm.ConnMgr.GracePeriod")?
                    .unwrap_or(DEFAULT_CONN_MGR_GRACE_PERIOD),
                silence_period: self
                    .opt_duration("Swarm.ConnMgr.SilencePeriod")?
                    .unwrap_or(DEFAULT_CONN_MGR_SILENCE_PERIOD),
            },
        })
    }
}
