//! Raft RPCs over a pluggable [`Transport`].
//!
//! The production transport is the PSK-protected libp2p host
//! ([`crate::host`]): it moves serde-serializable [`RpcRequest`]s to the
//! target peer, hands them to `ClusterNode::handle_rpc` there and brings
//! the [`RpcResponse`] back. With the `test-util` feature, `MemRouter`
//! does the same in-process for tests.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
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

use crate::pinset::Command;
use crate::{MembershipChange, NodeId, RaftPeer, TypeConfig};

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
        node: RaftPeer,
    },
    /// A membership change, forwarded to the leader.
    ChangeMembership {
        /// The change, relative to the leader's membership.
        change: MembershipChange,
    },
}

/// Result of a forwarded write (`ClientWrite`, `AddLearner`, `ChangeMembership`).
pub type WriteResult =
    Result<ClientWriteResponse<TypeConfig>, RaftError<NodeId, ClientWriteError<NodeId, RaftPeer>>>;

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
/// side must answer with [`ClusterNode::handle_rpc`](crate::ClusterNode::handle_rpc).
pub trait Transport: Send + Sync + 'static {
    /// Sends `req` to peer `target` (reachable at `addr`, the `RaftPeer::addr` from
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

    async fn new_client(&mut self, target: NodeId, node: &RaftPeer) -> NetworkClient {
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
    ) -> Result<RpcResponse, RPCError<NodeId, RaftPeer, E>> {
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

    fn unexpected<E: std::error::Error>(&self, resp: RpcResponse) -> RPCError<NodeId, RaftPeer, E> {
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
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, RaftPeer, RaftError<NodeId>>> {
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
        RPCError<NodeId, RaftPeer, RaftError<NodeId, InstallSnapshotError>>,
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
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, RaftPeer, RaftError<NodeId>>> {
        match self.send(RpcRequest::Vote(rpc), option.hard_ttl()).await? {
            RpcResponse::Vote(r) => {
                r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            other => Err(self.unexpected(other)),
        }
    }
}
