//! Ferrite's cluster peer: a replicated pinset with IPFS Cluster's
//! semantics, built on openraft 0.9 (storage-v2) with a single redb file per
//! peer for the Raft log, vote and state machine.
//!
//! * [`cluster`]: [`Cluster`], the running peer the daemon starts (membership,
//!   metrics, leader duties, the pin API).
//! * [`host`]: the PSK-protected libp2p host the peers talk over (Raft RPCs,
//!   metrics, forwarded writes).
//! * [`pinset`]: the replicated state and its deterministic commands.
//! * [`store`]: [`openraft::storage::RaftLogStorage`] and
//!   [`openraft::storage::RaftStateMachine`] over `<dir>/raft.redb`.
//! * [`network`]: the [`Transport`] trait ([`host`] implements it) and the
//!   openraft network adapter over it; with the `test-util` feature,
//!   `mem_router` implements it in-process for tests.
//! * [`node`]: [`ClusterNode`], the Raft wrapper.
//! * [`tracker`], [`allocator`]: local pinning of the allocations, and the
//!   choice of peers for each pin.
//! * [`api`]: IPFS Cluster's REST API and the Pinning Service API.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::io::Cursor;

pub mod allocator;
pub mod api;
pub mod cluster;
pub mod config;
pub mod host;
#[cfg(feature = "test-util")]
pub mod mem_router;
pub mod network;
pub mod node;
pub mod pinset;
pub mod store;
mod text;
pub mod time;
pub mod tracker;
pub mod types;

pub use cluster::{Cluster, ClusterOptions};
pub use config::ClusterSection;
#[cfg(feature = "test-util")]
pub use mem_router::MemRouter;
pub use network::{RpcRequest, RpcResponse, Transport, TransportError};
pub use node::{ClusterConfig, ClusterError, ClusterMetrics, ClusterNode};
pub use openraft::ServerState;
pub use pinset::{ClusterPin, Command, PinMode, Response};

/// Raft peer id. IPFS peer IDs map to these out of band (the lead's job).
pub type NodeId = u64;

/// A Raft member's address record, stored in the membership (`addr` is
/// whatever the transport understands: for the libp2p host, the peer's
/// multiaddrs ending in `/p2p/<peer ID>`). Not to be confused with
/// `ferrite_node::Node`, the IPFS node.
pub type RaftPeer = openraft::BasicNode;

/// A membership change as a delta against the leader's current config, so
/// two changes issued at once (peers joining together) cannot undo each other.
pub type MembershipChange = openraft::ChangeMembers<NodeId, RaftPeer>;

openraft::declare_raft_types!(
    /// The openraft type configuration of the cluster.
    pub TypeConfig:
        D = Command,
        R = Response,
        NodeId = NodeId,
        Node = RaftPeer,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
);
