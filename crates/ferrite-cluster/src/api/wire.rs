//! The REST API's JSON shapes, defined once: the server serializes them and
//! `ferrite cluster` decodes its answers into them, so a missing or renamed
//! field is a decode error on the client, not an empty string.
//!
//! Names and fields are IPFS Cluster 1.x's (`api.Pin`, `api.GlobalPinInfo`,
//! `api.ID`, `api.Metric`, `api.AddedOutput`), which `ipfs-cluster-ctl` and
//! `@nftstorage/ipfs-cluster` read. Times are RFC 3339 text, as Go writes
//! them (Go's zero time for "never").

use std::collections::BTreeMap;

use ferrite_ipld::Cid;
use libp2p::PeerId;
use serde::{Deserialize, Serialize};

use crate::pinset::{ClusterPin, PinMode};
use crate::time::{rfc3339_ms, rfc3339_or_zero, rfc3339_secs};
use crate::types::{self, TrackerStatus};

/// Go's zero time: IPFS Cluster's `expire_at` of a pin that never expires.
pub const NEVER: &str = "0001-01-01T00:00:00Z";

/// A pinset entry (`api.Pin`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// The pinned CID.
    #[serde(with = "crate::text")]
    pub cid: Cid,
    /// IPFS Cluster's pin type; always 2 (a data pin).
    #[serde(rename = "type")]
    pub pin_type: u8,
    /// Cluster peers holding it (empty = every peer).
    #[serde(with = "crate::text::seq")]
    pub allocations: Vec<PeerId>,
    /// -1 for a recursive pin, 0 for a direct one.
    pub max_depth: i32,
    /// Sharding's reference CID; never set.
    pub reference: Option<String>,
    /// Minimum replication (-1 = every peer).
    pub replication_factor_min: i32,
    /// Maximum replication (-1 = every peer).
    pub replication_factor_max: i32,
    /// The pin's name.
    pub name: String,
    /// Recursive or direct.
    pub mode: PinMode,
    /// Sharding's shard size; always 0.
    pub shard_size: u64,
    /// The allocations the user asked for; not kept, always null.
    #[serde(with = "crate::text::opt_seq")]
    pub user_allocations: Option<Vec<PeerId>>,
    /// When the pin is removed, [`NEVER`] for never.
    pub expire_at: String,
    /// User metadata (null when there is none).
    pub metadata: Option<BTreeMap<String, String>>,
    /// The pin this one updated; never set.
    pub pin_update: Option<String>,
    /// Peers to fetch from first; never set.
    pub origins: Vec<String>,
    /// When the pin was submitted.
    pub timestamp: String,
}

impl From<&ClusterPin> for Pin {
    fn from(p: &ClusterPin) -> Self {
        Pin {
            cid: p.cid,
            pin_type: 2,
            allocations: p.allocations.clone(),
            max_depth: if p.mode == PinMode::Direct { 0 } else { -1 },
            reference: None,
            replication_factor_min: p.replication_min,
            replication_factor_max: p.replication_max,
            name: p.name.clone(),
            mode: p.mode,
            shard_size: 0,
            user_allocations: None,
            expire_at: rfc3339_or_zero(p.expire_at),
            metadata: metadata(&p.metadata),
            pin_update: None,
            origins: Vec::new(),
            timestamp: rfc3339_secs(p.timestamp),
        }
    }
}

/// The status of one CID on every peer (`api.GlobalPinInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalPinInfo {
    /// The CID.
    #[serde(with = "crate::text")]
    pub cid: Cid,
    /// The pin's name (empty when the CID is not in the pinset).
    pub name: String,
    /// Cluster peers it is allocated to (empty = every peer).
    #[serde(with = "crate::text::seq")]
    pub allocations: Vec<PeerId>,
    /// Peers to fetch from first; never set.
    pub origins: Vec<String>,
    /// When the pin was submitted.
    pub created: String,
    /// User metadata (null when there is none).
    pub metadata: Option<BTreeMap<String, String>>,
    /// The status on each peer, keyed by cluster peer ID.
    #[serde(with = "crate::text::keys")]
    pub peer_map: BTreeMap<PeerId, PinInfo>,
}

/// The status of one CID on one peer (`api.PinInfoShort`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinInfo {
    /// The peer's name.
    pub peername: String,
    /// Its IPFS peer ID.
    pub ipfs_peer_id: String,
    /// Its IPFS swarm addresses.
    pub ipfs_peer_addresses: Vec<String>,
    /// The status.
    pub status: TrackerStatus,
    /// When the status last changed.
    pub timestamp: String,
    /// The last error, empty unless `status` is an error.
    pub error: String,
    /// Pin attempts made so far.
    pub attempt_count: u32,
    /// IPFS Cluster's priority queue flag; always false.
    pub priority_pin: bool,
}

impl From<&types::GlobalPinInfo> for GlobalPinInfo {
    fn from(g: &types::GlobalPinInfo) -> Self {
        let peer_map = g.peer_map.iter().map(|(peer, i)| {
            let info = PinInfo {
                peername: i.peername.clone(),
                ipfs_peer_id: i.ipfs_peer_id.clone(),
                ipfs_peer_addresses: i.ipfs_peer_addresses.clone(),
                status: i.status,
                timestamp: rfc3339_ms(i.timestamp_ms),
                error: i.error.clone(),
                attempt_count: i.attempt_count,
                priority_pin: false,
            };
            (*peer, info)
        });
        GlobalPinInfo {
            cid: g.cid,
            name: g.name.clone(),
            allocations: g.allocations.clone(),
            origins: Vec::new(),
            created: rfc3339_secs(g.created),
            metadata: metadata(&g.metadata),
            peer_map: peer_map.collect(),
        }
    }
}

/// What a peer says about itself (`api.ID`), from `/id` and `/peers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Id {
    /// Cluster peer ID.
    #[serde(with = "crate::text")]
    pub id: PeerId,
    /// Its cluster listen addresses, with `/p2p/<id>`.
    pub addresses: Vec<String>,
    /// Every member as this peer sees them.
    #[serde(with = "crate::text::seq")]
    pub cluster_peers: Vec<PeerId>,
    /// Their addresses.
    pub cluster_peers_addresses: Vec<String>,
    /// Ferrite's version.
    pub version: String,
    /// Source commit; empty.
    pub commit: String,
    /// [`super::rest::RPC_PROTOCOL_VERSION`].
    pub rpc_protocol_version: String,
    /// Why the peer could not be asked, empty when it answered.
    pub error: String,
    /// The peer's name.
    pub peername: String,
    /// The peer's IPFS node.
    pub ipfs: IpfsId,
}

/// The IPFS node of a cluster peer (`api.IPFSID`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpfsId {
    /// IPFS peer ID.
    pub id: String,
    /// Swarm addresses.
    pub addresses: Vec<String>,
    /// Why the node could not be asked; empty.
    pub error: String,
}

impl From<&types::PeerInfo> for Id {
    fn from(p: &types::PeerInfo) -> Self {
        Id {
            id: p.id,
            addresses: p.addresses.clone(),
            cluster_peers: p.cluster_peers.clone(),
            cluster_peers_addresses: p.cluster_peers_addresses.clone(),
            version: p.version.clone(),
            commit: String::new(),
            rpc_protocol_version: super::rest::RPC_PROTOCOL_VERSION.into(),
            error: p.error.clone(),
            peername: p.peername.clone(),
            ipfs: IpfsId {
                id: p.ipfs_id.clone(),
                addresses: p.ipfs_addresses.clone(),
                error: String::new(),
            },
        }
    }
}

/// A peer's measurement (`api.Metric`; times in Unix nanoseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metric {
    /// `freespace`, `ping` or `tag:<name>`.
    pub name: String,
    /// The peer it describes.
    #[serde(with = "crate::text")]
    pub peer: PeerId,
    /// The value as text.
    pub value: String,
    /// When it goes stale.
    pub expire: u64,
    /// Whether it was fresh when answered.
    pub valid: bool,
    /// Allocation weight.
    pub weight: i64,
    /// IPFS Cluster's partitioning flag; always false.
    pub partitionable: bool,
    /// When this peer received it.
    pub received_at: u64,
}

impl Metric {
    /// `m` as seen at `now_ns`.
    pub fn new(m: &types::Metric, now_ns: u64) -> Self {
        Metric {
            name: m.name.clone(),
            peer: m.peer,
            value: m.value.clone(),
            expire: m.expire_ns,
            valid: m.valid_at(now_ns),
            weight: m.weight,
            partitionable: false,
            received_at: m.received_ns,
        }
    }
}

/// One entry `POST /add` added (`api.AddedOutput`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Added {
    /// Path of the entry (`""` for a wrapping folder).
    pub name: String,
    /// The entry's CID.
    pub cid: String,
    /// Cumulative size.
    pub size: u64,
    /// Where the cluster allocated it (root entries only).
    pub allocations: Vec<String>,
}

/// This peer's view of the consensus (`GET /raft`, Ferrite's addition).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftStatus {
    /// This peer.
    #[serde(with = "crate::text")]
    pub peer: PeerId,
    /// `leader`, `follower`, `candidate` or `learner`.
    pub state: String,
    /// The leader's cluster peer ID, when one is known.
    pub leader: Option<String>,
    /// The current term.
    pub term: u64,
    /// The last log entry's index.
    pub last_log_index: Option<u64>,
    /// The last entry applied to the pinset.
    pub last_applied: Option<u64>,
    /// Cluster peer IDs of the voters.
    pub voters: Vec<String>,
    /// Cluster peer IDs of the learners (joining peers catching up).
    pub learners: Vec<String>,
    /// How many CIDs the local tracker holds in each status.
    pub tracker: BTreeMap<String, usize>,
}

/// An error answer: `code` is the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Error {
    /// The HTTP status.
    pub code: u16,
    /// What went wrong.
    pub message: String,
}

fn metadata(m: &BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!m.is_empty()).then(|| m.clone())
}
