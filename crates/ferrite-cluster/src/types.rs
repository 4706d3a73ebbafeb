//! The cluster's user-facing values: per-peer pin status, pin options,
//! metrics and peer descriptions. The REST API turns these into IPFS
//! Cluster's JSON shapes; the peer RPC carries them as they are.

use std::collections::BTreeMap;

use ferrite_ipld::Cid;
use libp2p::PeerId;
use serde::{Deserialize, Serialize};

use crate::node::ClusterError;
use crate::pinset::PinMode;

/// Where a pin stands on one peer (IPFS Cluster's `TrackerStatus`; the
/// serialized names are IPFS Cluster's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TrackerStatus {
    /// Nothing known (e.g. the peer did not answer for a CID it has never seen).
    #[default]
    Undefined,
    /// The peer could not be asked.
    ClusterError,
    /// Pinning failed; retried with back-off, `recover` retries at once.
    PinError,
    /// Unpinning failed.
    UnpinError,
    /// Pinned locally.
    Pinned,
    /// Being fetched and pinned.
    Pinning,
    /// Being unpinned.
    Unpinning,
    /// Not pinned here (and not supposed to be).
    Unpinned,
    /// Allocated to other peers, not this one.
    Remote,
    /// Waiting for a pinning slot.
    PinQueued,
    /// Waiting to be unpinned.
    UnpinQueued,
    /// Was pinned by the cluster but the local pin vanished (e.g. `pin rm`).
    UnexpectedlyUnpinned,
}

impl TrackerStatus {
    /// The name IPFS Cluster uses (`pin_error`, `pinned`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            TrackerStatus::Undefined => "undefined",
            TrackerStatus::ClusterError => "cluster_error",
            TrackerStatus::PinError => "pin_error",
            TrackerStatus::UnpinError => "unpin_error",
            TrackerStatus::Pinned => "pinned",
            TrackerStatus::Pinning => "pinning",
            TrackerStatus::Unpinning => "unpinning",
            TrackerStatus::Unpinned => "unpinned",
            TrackerStatus::Remote => "remote",
            TrackerStatus::PinQueued => "pin_queued",
            TrackerStatus::UnpinQueued => "unpin_queued",
            TrackerStatus::UnexpectedlyUnpinned => "unexpectedly_unpinned",
        }
    }

    /// Parses an IPFS Cluster status name.
    pub fn parse(s: &str) -> Option<TrackerStatus> {
        ALL_STATUSES.iter().copied().find(|t| t.as_str() == s)
    }

    /// Whether this is an error state.
    pub fn is_error(self) -> bool {
        matches!(
            self,
            TrackerStatus::PinError | TrackerStatus::UnpinError | TrackerStatus::ClusterError
        )
    }
}

/// Every status, for parsing and filters.
pub const ALL_STATUSES: [TrackerStatus; 12] = [
    TrackerStatus::Undefined,
    TrackerStatus::ClusterError,
    TrackerStatus::PinError,
    TrackerStatus::UnpinError,
    TrackerStatus::Pinned,
    TrackerStatus::Pinning,
    TrackerStatus::Unpinning,
    TrackerStatus::Unpinned,
    TrackerStatus::Remote,
    TrackerStatus::PinQueued,
    TrackerStatus::UnpinQueued,
    TrackerStatus::UnexpectedlyUnpinned,
];

/// The status of one CID on one peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinInfo {
    /// The CID (its text in JSON).
    #[serde(with = "crate::text")]
    pub cid: Cid,
    /// Cluster peer ID of the peer this status is from (base58 in JSON).
    #[serde(with = "crate::text")]
    pub peer: PeerId,
    /// That peer's name.
    pub peername: String,
    /// Its IPFS peer ID.
    pub ipfs_peer_id: String,
    /// Its IPFS swarm addresses.
    #[serde(default)]
    pub ipfs_peer_addresses: Vec<String>,
    /// The status.
    pub status: TrackerStatus,
    /// When the status last changed, Unix milliseconds.
    pub timestamp_ms: u64,
    /// The last error, empty unless `status` is an error.
    #[serde(default)]
    pub error: String,
    /// Pin attempts made so far for the current allocation.
    #[serde(default)]
    pub attempt_count: u32,
}

/// The status of one CID on every peer, keyed by cluster peer ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalPinInfo {
    /// The CID (its text in JSON).
    #[serde(with = "crate::text")]
    pub cid: Cid,
    /// The pin's name (empty when the CID is not in the pinset).
    pub name: String,
    /// Cluster peer IDs it is allocated to (empty = every peer).
    #[serde(with = "crate::text::seq")]
    pub allocations: Vec<PeerId>,
    /// User metadata.
    pub metadata: BTreeMap<String, String>,
    /// Submission time, Unix seconds.
    pub created: u64,
    /// Per-peer status.
    #[serde(with = "crate::text::keys")]
    pub peer_map: BTreeMap<PeerId, PinInfo>,
}

/// Options of a cluster pin request (`POST /pins/{cid}`, `cluster pin add`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PinOptions {
    /// Human-readable name.
    pub name: String,
    /// Recursive (default) or direct.
    pub mode: PinMode,
    /// Minimum replication; `None` = the cluster default, -1 = everywhere.
    pub replication_min: Option<i32>,
    /// Maximum replication; `None` = the cluster default, -1 = everywhere.
    pub replication_max: Option<i32>,
    /// Peers to allocate to first (cluster peer IDs).
    #[serde(with = "crate::text::seq")]
    pub user_allocations: Vec<PeerId>,
    /// Unix seconds after which the pin is removed.
    pub expire_at: Option<u64>,
    /// Free-form metadata.
    pub metadata: BTreeMap<String, String>,
}

/// A measurement a peer publishes about itself (IPFS Cluster's `Metric`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metric {
    /// Metric name: `freespace`, `ping`, or `tag:<name>`.
    pub name: String,
    /// Cluster peer ID of the peer it describes.
    #[serde(with = "crate::text")]
    pub peer: PeerId,
    /// The value as text (bytes for `freespace`).
    pub value: String,
    /// Allocation weight (bigger = preferred; free bytes for `freespace`).
    pub weight: i64,
    /// Unix nanoseconds after which the metric is stale (peer presumed down).
    pub expire_ns: u64,
    /// Unix nanoseconds when this peer received it.
    pub received_ns: u64,
}

impl Metric {
    /// Whether the metric is still fresh at `now_ns`.
    pub fn valid_at(&self, now_ns: u64) -> bool {
        now_ns < self.expire_ns
    }
}

/// What `/id` and `/peers` say about a cluster peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    /// Cluster peer ID.
    #[serde(with = "crate::text")]
    pub id: PeerId,
    /// Its cluster (not IPFS) listen addresses, with `/p2p/<id>`.
    pub addresses: Vec<String>,
    /// Cluster peer IDs of all members as this peer sees them.
    #[serde(with = "crate::text::seq")]
    pub cluster_peers: Vec<PeerId>,
    /// Their addresses.
    pub cluster_peers_addresses: Vec<String>,
    /// Ferrite version.
    pub version: String,
    /// Human name of the peer (`Cluster.PeerName`).
    pub peername: String,
    /// IPFS peer ID of the peer's node.
    pub ipfs_id: String,
    /// IPFS swarm addresses of the peer's node.
    pub ipfs_addresses: Vec<String>,
    /// Why the peer could not be asked, empty when it answered.
    pub error: String,
}

impl PeerInfo {
    /// What is known of a peer that could not be asked: its ID and why.
    pub fn unreachable(id: PeerId, error: String) -> PeerInfo {
        PeerInfo {
            id,
            error,
            ..PeerInfo::new(id)
        }
    }

    /// A peer with only its ID filled in.
    pub fn new(id: PeerId) -> PeerInfo {
        PeerInfo {
            id,
            addresses: Vec::new(),
            cluster_peers: Vec::new(),
            cluster_peers_addresses: Vec::new(),
            version: String::new(),
            peername: String::new(),
            ipfs_id: String::new(),
            ipfs_addresses: Vec::new(),
            error: String::new(),
        }
    }
}

/// Parses a cluster peer ID given to the API or found in the config; the
/// error names the bad value.
pub fn parse_peer_id(s: &str) -> Result<PeerId, ClusterError> {
    s.trim()
        .parse()
        .map_err(|e| ClusterError::Invalid(format!("invalid peer ID {s:?}: {e}")))
}

/// A peer ID that carries `name` (an identity multihash), for tests that
/// want readable peers; [`test_peer_name`] reads it back.
#[cfg(test)]
pub(crate) fn test_peer(name: &str) -> PeerId {
    let mh = libp2p::multihash::Multihash::wrap(0, name.as_bytes()).expect("short name");
    PeerId::from_multihash(mh).expect("identity multihash")
}

/// The name in a [`test_peer`].
#[cfg(test)]
pub(crate) fn test_peer_name(p: &PeerId) -> String {
    String::from_utf8_lossy(p.as_ref().digest()).into_owned()
}

/// Unix time now, in nanoseconds.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Unix time now, in milliseconds.
pub fn now_ms() -> u64 {
    now_ns() / 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    const CID: &str = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";

    fn info(peer: PeerId) -> PinInfo {
        PinInfo {
            cid: CID.parse().unwrap(),
            peer,
            peername: "a".into(),
            ipfs_peer_id: String::new(),
            ipfs_peer_addresses: Vec::new(),
            status: TrackerStatus::Pinned,
            timestamp_ms: 1,
            error: String::new(),
            attempt_count: 0,
        }
    }

    #[test]
    fn peer_ids_and_cids_serialize_as_text() {
        let (a, b) = (PeerId::random(), PeerId::random());
        let g = GlobalPinInfo {
            cid: CID.parse().unwrap(),
            name: String::new(),
            allocations: vec![a, b],
            metadata: BTreeMap::new(),
            created: 0,
            peer_map: [(a, info(a)), (b, info(b))].into_iter().collect(),
        };
        let v = serde_json::to_value(&g).unwrap();
        assert_eq!(v["cid"], CID);
        assert_eq!(
            v["allocations"],
            serde_json::json!([a.to_string(), b.to_string()])
        );
        assert_eq!(v["peer_map"][a.to_string()]["peer"], a.to_string());
        assert_eq!(v["peer_map"][b.to_string()]["cid"], CID);
        assert_eq!(serde_json::from_value::<GlobalPinInfo>(v).unwrap(), g);

        let p = PeerInfo {
            cluster_peers: vec![a, b],
            ..PeerInfo::new(a)
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["id"], a.to_string());
        assert_eq!(v["cluster_peers"][1], b.to_string());
        assert_eq!(serde_json::from_value::<PeerInfo>(v).unwrap(), p);

        let o = PinOptions {
            user_allocations: vec![b],
            ..PinOptions::default()
        };
        let v = serde_json::to_value(&o).unwrap();
        assert_eq!(v["user_allocations"], serde_json::json!([b.to_string()]));
        assert_eq!(serde_json::from_value::<PinOptions>(v).unwrap(), o);
    }

    #[test]
    fn peer_id_order_is_text_order() {
        // Maps keyed by PeerId (peer_map) list peers as the String keys did.
        let mut ids: Vec<PeerId> = (0..64)
            .map(|i| {
                let k = if i % 2 == 0 {
                    libp2p::identity::Keypair::generate_ed25519()
                } else {
                    libp2p::identity::Keypair::generate_secp256k1()
                };
                k.public().to_peer_id()
            })
            .collect();
        ids.sort();
        let texts: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let mut sorted = texts.clone();
        sorted.sort();
        assert_eq!(texts, sorted);
    }

    #[test]
    fn bad_peer_ids_are_named() {
        let e = parse_peer_id("p1").unwrap_err().to_string();
        assert!(e.starts_with("invalid peer ID \"p1\""), "{e}");
        let p = PeerId::random();
        assert_eq!(parse_peer_id(&format!(" {p} ")).unwrap(), p);
    }
}
