//! `Swarm`: address filters, NAT port mapping, the connection manager,
//! transport switches and the resource manager.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Result;
use crate::types::{duration_or, opt_byte_size, ser_duration, ser_opt_byte_size};
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

/// `Swarm.ConnMgr`; missing, `null`, `""` and `"default"` values take
/// Kubo's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ConnMgrSettings {
    /// `Type`: `basic` (default) or `none`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// `LowWater`: trim down to this many connections.
    pub low_water: u64,
    /// `HighWater`: start trimming above this many connections.
    pub high_water: u64,
    /// `GracePeriod`: new connections are safe from trimming this long.
    #[serde(
        deserialize_with = "duration_or::<_, 20>",
        serialize_with = "ser_duration"
    )]
    pub grace_period: Duration,
    /// `SilencePeriod`: minimum time between trims.
    #[serde(
        deserialize_with = "duration_or::<_, 10>",
        serialize_with = "ser_duration"
    )]
    pub silence_period: Duration,
    /// Keys Ferrite does not read, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for ConnMgrSettings {
    fn default() -> Self {
        ConnMgrSettings {
            kind: DEFAULT_CONN_MGR_TYPE.into(),
            low_water: DEFAULT_CONN_MGR_LOW_WATER,
            high_water: DEFAULT_CONN_MGR_HIGH_WATER,
            grace_period: DEFAULT_CONN_MGR_GRACE_PERIOD,
            silence_period: DEFAULT_CONN_MGR_SILENCE_PERIOD,
            extra: Map::new(),
        }
    }
}

/// `Swarm.Transports.Network`: Kubo's per-transport switches; `None`
/// (missing or `null`) leaves the transport at its default.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NetworkTransports {
    /// `TCP`.
    #[serde(rename = "TCP")]
    pub tcp: Option<bool>,
    /// `QUIC`.
    #[serde(rename = "QUIC")]
    pub quic: Option<bool>,
    /// `Websocket`.
    pub websocket: Option<bool>,
    /// `WebTransport`.
    pub web_transport: Option<bool>,
    /// `WebRTCDirect`.
    #[serde(rename = "WebRTCDirect")]
    pub webrtc_direct: Option<bool>,
    /// Keys Ferrite does not read, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `Swarm.Transports`: only `Network` is read.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Transports {
    /// `Network`: which transports run.
    pub network: NetworkTransports,
    /// Keys Ferrite does not read (`Security`, `Multiplexers`), kept.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `Swarm.ResourceMgr`: the memory above which new connections are refused.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ResourceMgr {
    /// `Enabled`: `false` removes the limit.
    pub enabled: Option<bool>,
    /// `MaxMemory`: the limit in bytes (`"4GB"`, `"512 MiB"` or a number);
    /// `None` is the host's share of physical memory.
    #[serde(
        deserialize_with = "opt_byte_size",
        serialize_with = "ser_opt_byte_size"
    )]
    pub max_memory: Option<u64>,
    /// Keys Ferrite does not read (`Limits`, …), kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `Swarm` section.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct SwarmSettings {
    /// `Swarm.AddrFilters`: multiaddr ranges never dialled or accepted.
    pub addr_filters: Vec<String>,
    /// `Swarm.DisableNatPortMap`: no UPnP/NAT-PMP port mapping.
    pub disable_nat_port_map: bool,
    /// `Swarm.ConnMgr`.
    pub conn_mgr: ConnMgrSettings,
    /// `Swarm.Transports`.
    pub transports: Transports,
    /// `Swarm.ResourceMgr`.
    pub resource_mgr: ResourceMgr,
    /// Keys Ferrite does not read, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Config {
    /// The `Swarm` section.
    pub fn swarm(&self) -> Result<SwarmSettings> {
        self.section("Swarm")
    }
}
