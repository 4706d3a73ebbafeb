//! The `Cluster` section of the repo config.
//!
//! ```json
//! "Cluster": {
//!   "PeerName": "node-a",
//!   "Secret": "<64 hex digits>",
//!   "ListenMultiaddress": ["/ip4/0.0.0.0/tcp/9096"],
//!   "Bootstrap": ["/ip4/10.0.0.1/tcp/9096/p2p/12D3..."],
//!   "ReplicationFactorMin": -1,
//!   "ReplicationFactorMax": -1,
//!   "RestAPI": {"HTTPListenMultiaddress": "/ip4/127.0.0.1/tcp/9094",
//!               "BasicAuthCredentials": {"admin": "secret"}},
//!   "PinSvcAPI": {"HTTPListenMultiaddress": "/ip4/127.0.0.1/tcp/9097", "Tokens": ["..."]},
//!   "MonitorPingInterval": "5s",
//!   "ReallocateAfter": "5m",
//!   "Tags": {"group": "eu"},
//!   "AllocateBy": ["tag:group", "freespace"],
//!   "PinTracker": {"Concurrency": 16, "MaxAttempts": 8}
//! }
//! ```
//! Key names follow IPFS Cluster's `service.json` where one exists.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::node::ClusterError;

/// Default cluster (peer-to-peer) listen address, IPFS Cluster's port.
pub const DEFAULT_LISTEN: &str = "/ip4/0.0.0.0/tcp/9096";
/// Default REST API address.
pub const DEFAULT_REST_API: &str = "/ip4/127.0.0.1/tcp/9094";
/// Default Pinning Service API address.
pub const DEFAULT_PINSVC_API: &str = "/ip4/127.0.0.1/tcp/9097";

/// The `Cluster` config section as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClusterSection {
    /// Human-readable peer name.
    #[serde(default)]
    pub peer_name: String,
    /// 32-byte shared secret, hex.
    pub secret: String,
    /// Cluster host listen addresses.
    #[serde(default = "default_listen")]
    pub listen_multiaddress: Vec<String>,
    /// Peers to join through when this peer has no Raft state yet.
    #[serde(default)]
    pub bootstrap: Vec<String>,
    /// Default minimum replication (-1 = every peer).
    #[serde(default = "minus_one")]
    pub replication_factor_min: i32,
    /// Default maximum replication (-1 = every peer).
    #[serde(default = "minus_one")]
    pub replication_factor_max: i32,
    /// REST API (IPFS Cluster's, port 9094).
    #[serde(default, rename = "RestAPI")]
    pub rest_api: ApiSection,
    /// Pinning Service API (port 9097).
    #[serde(default, rename = "PinSvcAPI")]
    pub pin_svc_api: ApiSection,
    /// How often each peer publishes its metrics (Go duration, e.g. "5s").
    #[serde(default = "default_ping")]
    pub monitor_ping_interval: String,
    /// How long an allocated peer may be down before its pins move.
    #[serde(default = "default_reallocate")]
    pub reallocate_after: String,
    /// Free-form tags published as `tag:<name>` metrics.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Allocation order: `tag:<name>` partitions, then `freespace`.
    #[serde(default = "default_allocate_by")]
    pub allocate_by: Vec<String>,
    /// Pin tracker tunables.
    #[serde(default)]
    pub pin_tracker: TrackerSection,
}

/// An HTTP API's settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiSection {
    /// Listen address; empty = the default; "off" disables the API.
    #[serde(default, rename = "HTTPListenMultiaddress")]
    pub http_listen_multiaddress: String,
    /// REST API basic-auth users (user -> password); empty = no auth.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub basic_auth_credentials: BTreeMap<String, String>,
    /// Pinning Service API bearer tokens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<String>,
}

/// Pin tracker tunables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TrackerSection {
    /// Parallel pin operations.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Automatic attempts before a pin stays in pin_error until `recover`.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
}

impl Default for TrackerSection {
    fn default() -> Self {
        TrackerSection {
            concurrency: default_concurrency(),
            max_attempts: default_attempts(),
        }
    }
}

fn default_listen() -> Vec<String> {
    vec![DEFAULT_LISTEN.into()]
}
fn minus_one() -> i32 {
    -1
}
fn default_ping() -> String {
    "5s".into()
}
fn default_reallocate() -> String {
    "5m".into()
}
fn default_allocate_by() -> Vec<String> {
    vec!["freespace".into()]
}
fn default_concurrency() -> usize {
    16
}
fn default_attempts() -> u32 {
    8
}

impl ClusterSection {
    /// A new section with `secret` and defaults for everything else.
    pub fn new(secret: &[u8; 32], peer_name: &str) -> ClusterSection {
        ClusterSection {
            peer_name: peer_name.into(),
            secret: to_hex(secret),
            listen_multiaddress: default_listen(),
            bootstrap: Vec::new(),
            replication_factor_min: -1,
            replication_factor_max: -1,
            rest_api: ApiSection::default(),
            pin_svc_api: ApiSection::default(),
            monitor_ping_interval: default_ping(),
            reallocate_after: default_reallocate(),
            tags: BTreeMap::new(),
            allocate_by: default_allocate_by(),
            pin_tracker: TrackerSection::default(),
        }
    }

    /// Reads the section from a repo config; `Ok(None)` when the repo has no
    /// cluster configured.
    pub fn from_config(cfg: &ferrite_config::Config) -> Result<Option<Self>, ClusterError> {
        let Some(v) = cfg
            .lookup("Cluster")
            .map_err(|e| ClusterError::Config(e.to_string()))?
        else {
            return Ok(None);
        };
        if v.is_null() {
            return Ok(None);
        }
        let s: ClusterSection = serde_json::from_value(v.clone())
            .map_err(|e| ClusterError::Config(format!("Cluster: {e}")))?;
        s.validate()?;
        Ok(Some(s))
    }

    /// Checks every field that can be wrong, with the key in the message.
    pub fn validate(&self) -> Result<(), ClusterError> {
        self.secret_bytes()?;
        self.ping_interval()?;
        self.reallocate_after()?;
        for a in &self.listen_multiaddress {
            a.parse::<libp2p::Multiaddr>()
                .map_err(|e| ClusterError::Config(format!("Cluster: bad multiaddr {a:?}: {e}")))?;
        }
        self.bootstrap_addrs()?;
        if self.replication_factor_min == 0
            || self.replication_factor_max == 0
            || (self.replication_factor_max > 0
                && self.replication_factor_min > self.replication_factor_max)
        {
            return Err(ClusterError::Config(
                "Cluster.ReplicationFactorMin/Max: need min <= max, neither 0 (-1 = everywhere)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// `Bootstrap` parsed (a `/p2p/<peer ID>` in one is checked to be a
    /// peer ID); the error names the bad address.
    pub fn bootstrap_addrs(&self) -> Result<Vec<libp2p::Multiaddr>, ClusterError> {
        self.bootstrap
            .iter()
            .map(|a| {
                a.parse().map_err(|e| {
                    ClusterError::Config(format!("Cluster.Bootstrap: bad multiaddr {a:?}: {e}"))
                })
            })
            .collect()
    }

    /// The decoded secret.
    pub fn secret_bytes(&self) -> Result<[u8; 32], ClusterError> {
        parse_secret(&self.secret).map_err(|e| ClusterError::Config(format!("Cluster.Secret: {e}")))
    }

    /// `MonitorPingInterval` as a duration.
    pub fn ping_interval(&self) -> Result<Duration, ClusterError> {
        parse_duration(&self.monitor_ping_interval)
            .map_err(|e| ClusterError::Config(format!("Cluster.MonitorPingInterval: {e}")))
    }

    /// `ReallocateAfter` as a duration.
    pub fn reallocate_after(&self) -> Result<Duration, ClusterError> {
        parse_duration(&self.reallocate_after)
            .map_err(|e| ClusterError::Config(format!("Cluster.ReallocateAfter: {e}")))
    }
}

/// Lower-case hex.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses a 32-byte secret written as 64 hex digits.
pub fn parse_secret(s: &str) -> Result<[u8; 32], String> {
    let s = s.trim();
    if s.len() != 64 {
        return Err(format!(
            "must be 64 hex digits (32 bytes), got {} characters",
            s.len()
        ));
    }
    let mut out = [0u8; 32];
    for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
        let hex = std::str::from_utf8(chunk).map_err(|_| "not hex".to_string())?;
        out[i] = u8::from_str_radix(hex, 16).map_err(|_| format!("{hex:?} is not hex"))?;
    }
    Ok(out)
}

/// Parses a Go duration ("300ms", "1.5h", "2h45m", "90s").
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    ferrite_config::parse_duration(s.trim())
        .map_err(|_| format!("{s:?} is not a duration like 500ms, 90s, 5m or 1h30m"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn secrets() {
        let k = [7u8; 32];
        assert_eq!(parse_secret(&to_hex(&k)).unwrap(), k);
        assert!(parse_secret("abcd").unwrap_err().contains("64 hex digits"));
        assert!(parse_secret(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn section_defaults_and_validation() {
        let mut cfg = ferrite_config::Config::init(&["test"]).unwrap();
        assert!(ClusterSection::from_config(&cfg).unwrap().is_none());
        let s = ClusterSection::new(&[1; 32], "a");
        cfg.set("Cluster", serde_json::to_value(&s).unwrap())
            .unwrap();
        let back = ClusterSection::from_config(&cfg).unwrap().unwrap();
        assert_eq!(back, s);
        assert_eq!(back.ping_interval().unwrap(), Duration::from_secs(5));
        cfg.set("Cluster.Secret", serde_json::json!("nothex"))
            .unwrap();
        let e = ClusterSection::from_config(&cfg).unwrap_err().to_string();
        assert!(e.contains("Cluster.Secret"), "{e}");
        let mut s = ClusterSection::new(&[1; 32], "a");
        s.bootstrap = vec!["/ip4/10.0.0.1/tcp/9096/p2p/12D3nope".into()];
        let e = s.validate().unwrap_err().to_string();
        assert!(
            e.contains("Cluster.Bootstrap") && e.contains("12D3nope"),
            "{e}"
        );
    }
}
