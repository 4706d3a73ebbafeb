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
//! * [`network`]: the [`Transport`] trait ([`host`] implements it), the
//!   openraft network adapter over it, and [`MemRouter`] for tests.
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
pub mod network;
pub mod node;
pub mod pinset;
pub mod store;
pub mod time;
pub mod tracker;
pub mod types;

pub use cluster::{Cluster, ClusterOptions};
pub use config::ClusterSection;
pub use network::{MemRouter, RpcRequest, RpcResponse, Transport, TransportError};
pub use node::{ClusterConfig, ClusterError, ClusterMetrics, ClusterNode, Membership};
pub use openraft::ServerState;
pub use pinset::{ClusterPin, Command, PinMode, Response};

/// Raft peer id. IPFS peer IDs map to these out of band (the lead's job).
pub type NodeId = u64;

/// Per-peer address record stored in the membership (`addr` is whatever the
/// transport understands, e.g. a multiaddr or a peer ID).
pub type Node = openraft::BasicNode;

openraft::declare_raft_types!(
    /// The openraft type configuration of the cluster.
    pub TypeConfig:
        D = Command,
        R = Response,
        NodeId = NodeId,
        Node = Node,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
);
