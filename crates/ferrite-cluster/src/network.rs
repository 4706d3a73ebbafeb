//! Raft RPCs over a pluggable [`Transport`].
//!
//! The production transport is the PSK-protected libp2p host
//! ([`crate::host`]): it moves serde-serializable [`RpcRequest`]s to the
//! target peer, hands them to [`ClusterNode::handle_rpc`] there and brings
//! the [`RpcResponse`] back. [`MemRouter`] does the same in-process for tests.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::error::{
    ClientWriteError, InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError,
    Unreachable,
};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, ClientWriteResponse, InstallSnapshotRequest,
    InstallSnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{RaftNetwork, RaftNetworkFactory};
use serde::{Deserialize, Serialize};

use crate::node::ClusterNode;
use crate::pinset::Command;
use crate::{Node, NodeId, TypeConfig};

/// A request from one cluster peer to another.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RpcRequest {
    /// Raft log replication / heartbeat.
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    /// Raft leader election.
    Vote(VoteRequest<NodeId>),
    /// One chunk of a snapshot for a lagging peer.
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// A pinset command forwarded by a follower to the leader.
    ClientWrite(Command),
    /// Add a non-voting member, forwarded to the leader.
    AddLearner {
        /// Raft id of the new member.
        id: NodeId,
        /// Its address record.
        node: Node,
    },
    /// A membership change, forwarded to the leader.
    ChangeMembership {
        /// The change, relative to the leader's membership.
        change: crate::node::Membership,
    },
}

/// Result of a forwarded write (`ClientWrite`, `AddLearner`, `ChangeMembership`).
pub type WriteResult =
    Result<ClientWriteResponse<TypeConfig>, RaftError<NodeId, ClientWriteError<NodeId, Node>>>;

/// The answer to an [`RpcRequest`]; variants mirror the request.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RpcResponse {
    /// Answer to [`RpcRequest::AppendEntries`].
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    /// Answer to [`RpcRequest::Vote`].
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    /// Answer to [`RpcRequest::InstallSnapshot`].
    InstallSnapshot(
        Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>,
    ),
    /// Answer to any forwarded write.
    Write(WriteResult),
    /// The receiver could not serve the request (shut down, timed out, ...).
    Error(String),
}

/// Why an RPC did not produce a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum TransportError {
    /// The peer cannot be reached (not connected, dead, partitioned).
    #[error("peer {0} unreachable: {1}")]
    Unreachable(NodeId, String),
    /// No answer in time.
    #[error("rpc to peer {0} timed out")]
    Timeout(NodeId),
    /// Anything else (codec errors, protocol violations).
    #[error("transport error: {0}")]
    Other(String),
}

/// Boxed future returned by [`Transport::call`] (boxed so the transport can
/// be used as `Arc<dyn Transport>`).
pub type RpcFuture<'a> =
    Pin<Box<dyn Future<Output = Result<RpcResponse, TransportError>> + Send + 'a>>;

/// Carries Raft RPCs to other peers. Implement this over libp2p; the remote
/// side must answer with `ClusterNode::handle_rpc(req)`.
pub trait Transport: Send + Sync + 'static {
    /// Sends `req` to peer `target` (reachable at `addr`, the `Node::addr` from
    /// the membership) and waits for its response.
    fn call<'a>(&'a self, target: NodeId, addr: &'a str, req: RpcRequest) -> RpcFuture<'a>;
}

/// openraft's network factory over a [`Transport`].
pub struct NetworkFactory {
    transport: Arc<dyn Transport>,
}

impl NetworkFactory {
    /// Wraps `transport`.
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        NetworkFactory { transport }
    }
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = NetworkClient;

    async fn new_client(&mut self, target: NodeId, node: &Node) -> NetworkClient {
        NetworkClient {
            transport: self.transport.clone(),
            target,
            addr: node.addr.clone(),
        }
    }
}

/// openraft's per-target network client.
pub struct NetworkClient {
    transport: Arc<dyn Transport>,
    target: NodeId,
    addr: String,
}

impl NetworkClient {
    async fn send<E: std::error::Error>(
        &self,
        req: RpcRequest,
        ttl: Duration,
    ) -> Result<RpcResponse, RPCError<NodeId, Node, E>> {
        let call = self.transport.call(self.target, &self.addr, req);
        match tokio::time::timeout(ttl, call).await {
            Ok(Ok(resp)) => Ok(resp),
            // Unreachable makes openraft back off instead of retrying hot.
            Ok(Err(e @ TransportError::Unreachable(..))) => {
                Err(RPCError::Unreachable(Unreachable::new(&e)))
            }
            Ok(Err(e)) => Err(RPCError::Network(NetworkError::new(&e))),
            Err(_) => Err(RPCError::Network(NetworkError::new(
                &TransportError::Timeout(self.target),
            ))),
        }
    }

    fn unexpected<E: std::error::Error>(&self, resp: RpcResponse) -> RPCError<NodeId, Node, E> {
        let e = TransportError::Other(format!(
            "unexpected response from {}: {resp:?}",
            self.target
        ));
        RPCError::Network(NetworkError::new(&e))
    }
}

impl RaftNetwork<TypeConfig> for NetworkClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, Node, RaftError<NodeId>>> {
        match self
            .send(RpcRequest::AppendEntries(rpc), option.hard_ttl())
            .await?
        {
            RpcResponse::AppendEntries(r) => {
                r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            other => Err(self.unexpected(other)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, Node, RaftError<NodeId, InstallSnapshotError>>,
    > {
        match self
            .send(RpcRequest::InstallSnapshot(rpc), option.hard_ttl())
            .await?
        {
            RpcResponse::InstallSnapshot(r) => {
                r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            other => Err(self.unexpected(other)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, Node, RaftError<NodeId>>> {
        match self.send(RpcRequest::Vote(rpc), option.hard_ttl()).await? {
            RpcResponse::Vote(r) => {
                r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            other => Err(self.unexpected(other)),
        }
    }
}

#[derive(Default)]
struct RouterState {
    nodes: HashMap<NodeId, ClusterNode>,
    dead: HashSet<NodeId>,
    /// Ordered pairs (from, to) whose messages are dropped.
    blocked: HashSet<(NodeId, NodeId)>,
}

/// In-process "network" for tests: routes RPCs straight to registered
/// [`ClusterNode`]s, and can kill nodes or partition them.
#[derive(Clone)]
pub struct MemRouter {
    state: Arc<Mutex<RouterState>>,
    wire: bool,
}

impl Default for MemRouter {
    fn default() -> Self {
        Self::new()
    }
}

impl MemRouter {
    /// A router that round-trips every request and response through JSON, so
    /// tests exercise the same serialization a real transport needs.
    pub fn new() -> Self {
        MemRouter {
            state: Arc::default(),
            wire: true,
        }
    }

    /// Like [`MemRouter::new`] but passes values directly (no JSON cost).
    pub fn without_wire_format() -> Self {
        MemRouter {
            state: Arc::default(),
            wire: false,
        }
    }

    /// The transport for node `from`; messages it sends are subject to
    /// partitions involving `from`.
    pub fn transport(&self, from: NodeId) -> Arc<dyn Transport> {
        Arc::new(MemTransport {
            from,
            router: self.clone(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RouterState> {
        // A panicking test thread must not cascade into every other node.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes `node` reachable (also revives a killed id).
    pub fn register(&self, node: ClusterNode) {
        let mut st = self.lock();
        st.dead.remove(&node.id());
        st.nodes.insert(node.id(), node);
    }

    /// Drops the router's handle of `id` and blackholes it in both directions.
    pub fn kill(&self, id: NodeId) {
        let mut st = self.lock();
        st.nodes.remove(&id);
        st.dead.insert(id);
    }

    /// Splits the nodes into groups; messages between different groups are
    /// dropped. Nodes not listed can talk to everyone.
    pub fn partition(&self, groups: &[&[NodeId]]) {
        let mut st = self.lock();
        st.blocked.clear();
        for (i, a) in groups.iter().enumerate() {
            for (j, b) in groups.iter().enumerate() {
                if i != j {
                    for &x in a.iter() {
                        for &y in b.iter() {
                            st.blocked.insert((x, y));
                        }
                    }
                }
            }
        }
    }

    /// Removes all partitions.
    pub fn heal(&self) {
        self.lock().blocked.clear();
    }

    fn route(&self, from: NodeId, to: NodeId) -> Result<ClusterNode, TransportError> {
        let st = self.lock();
        if st.dead.contains(&from) || st.dead.contains(&to) || st.blocked.contains(&(from, to)) {
            return Err(TransportError::Unreachable(to, "blocked".into()));
        }
        st.nodes
            .get(&to)
            .cloned()
            .ok_or_else(|| TransportError::Unreachable(to, "not registered".into()))
    }
}

struct MemTransport {
    from: NodeId,
    router: MemRouter,
}

fn roundtrip<T: Serialize + serde::de::DeserializeOwned>(v: T) -> Result<T, TransportError> {
    let bytes = serde_json::to_vec(&v).map_err(|e| TransportError::Other(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| TransportError::Other(e.to_string()))
}

impl Transport for MemTransport {
    fn call<'a>(&'a self, target: NodeId, _addr: &'a str, req: RpcRequest) -> RpcFuture<'a> {
        Box::pin(async move {
            let node = self.router.route(self.from, target)?;
            let req = if self.router.wire {
                roundtrip(req)?
            } else {
                req
            };
            let resp = node.handle_rpc(req).await;
            // The partition may have appeared while the call was in flight.
            self.router.route(target, self.from)?;
            if self.router.wire {
                roundtrip(resp)
            } else {
                Ok(resp)
            }
        })
    }
}
