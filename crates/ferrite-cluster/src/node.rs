//! [`ClusterNode`]: one peer of the replicated pinset.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrite_ipld::Cid;
use openraft::error::{ChangeMembershipError, ClientWriteError, InitializeError, RaftError};
use openraft::raft::ClientWriteResponse;
use openraft::{ChangeMembers, Raft, ServerState, SnapshotPolicy};
use tokio::time::Instant;

use crate::network::{
    NetworkFactory, RpcRequest, RpcResponse, Transport, TransportError, WriteResult,
};
use crate::pinset::{ClusterPin, Command, Response};
use crate::store::{self, PinsetReader, StateChange};
use crate::{MembershipChange, NodeId, RaftPeer, TypeConfig};

/// Tunables; defaults suit a LAN / loopback.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Raft cluster name (peers with different names should not be mixed).
    pub cluster_name: String,
    /// Leader heartbeat period.
    pub heartbeat_interval: Duration,
    /// Lower bound of the randomized election timeout.
    pub election_timeout_min: Duration,
    /// Upper bound of the randomized election timeout.
    pub election_timeout_max: Duration,
    /// Overall deadline for [`ClusterNode::submit`] and membership changes,
    /// including leader discovery and forwarding.
    pub submit_timeout: Duration,
    /// Build a snapshot after this many applied entries since the last one.
    pub snapshot_every: u64,
    /// Entries kept in the log behind the last snapshot (for lagging peers).
    pub keep_logs: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            cluster_name: "ferrite".into(),
            heartbeat_interval: Duration::from_millis(150),
            election_timeout_min: Duration::from_millis(600),
            election_timeout_max: Duration::from_millis(1200),
            submit_timeout: Duration::from_secs(10),
            snapshot_every: 5000,
            keep_logs: 1000,
        }
    }
}

impl ClusterConfig {
    fn to_raft(&self) -> Result<openraft::Config, ClusterError> {
        let ms = |d: Duration| d.as_millis() as u64;
        openraft::Config {
            cluster_name: self.cluster_name.clone(),
            heartbeat_interval: ms(self.heartbeat_interval),
            election_timeout_min: ms(self.election_timeout_min),
            election_timeout_max: ms(self.election_timeout_max),
            snapshot_policy: SnapshotPolicy::LogsSinceLast(self.snapshot_every),
            max_in_snapshot_log_to_keep: self.keep_logs,
            ..Default::default()
        }
        .validate()
        .map_err(|e| ClusterError::Config(e.to_string()))
    }
}

/// Errors of [`ClusterNode`] operations.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Opening or reading the redb file failed.
    #[error("storage: {0}")]
    Storage(String),
    /// openraft rejected the operation (includes fatal errors).
    #[error("raft: {0}")]
    Raft(String),
    /// No answer before the deadline; a write may still commit later.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// Reaching another peer failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// Invalid [`ClusterConfig`].
    #[error("config: {0}")]
    Config(String),
    /// The node was shut down.
    #[error("node is shut down")]
    Shutdown,
    /// Bad input from a caller (unparsable CID, unknown peer, bad option).
    #[error("{0}")]
    Invalid(String),
    /// The CID or peer is not in the cluster.
    #[error("{0}")]
    NotFound(String),
    /// The local IPFS node failed (add, pin, block store).
    #[error("ipfs: {0}")]
    Ipfs(String),
}

/// Snapshot of Raft status for monitoring and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterMetrics {
    /// This node's id.
    pub id: NodeId,
    /// Leader, follower, candidate or learner.
    pub state: ServerState,
    /// The leader as far as this node knows.
    pub leader: Option<NodeId>,
    /// Current Raft term.
    pub term: u64,
    /// Index of the last log entry.
    pub last_log_index: Option<u64>,
    /// Index of the last applied entry.
    pub last_applied: Option<u64>,
    /// Voting members (of the last config when a joint change is in progress).
    pub voters: BTreeSet<NodeId>,
    /// Non-voting members.
    pub learners: BTreeSet<NodeId>,
    /// All members with their addresses.
    pub nodes: BTreeMap<NodeId, RaftPeer>,
}

struct Inner {
    id: NodeId,
    raft: Raft<TypeConfig>,
    transport: Arc<dyn Transport>,
    reader: Mutex<Option<PinsetReader>>,
    config: ClusterConfig,
}

/// One peer of the replicated pinset. Cheap to clone.
#[derive(Clone)]
pub struct ClusterNode {
    inner: Arc<Inner>,
}

/// A leader-only operation that followers forward.
#[derive(Clone)]
enum Op {
    Write(Command),
    AddLearner(NodeId, RaftPeer),
    ChangeMembership(MembershipChange),
}

impl ClusterNode {
    /// Opens (or creates) the node's state under `dir` and starts Raft. A
    /// fresh node waits for [`initialize`](Self::initialize) or to be added
    /// by a leader; a restarted node resumes from disk.
    pub async fn start(
        node_id: NodeId,
        dir: impl AsRef<Path>,
        transport: Arc<dyn Transport>,
        config: ClusterConfig,
    ) -> Result<Self, ClusterError> {
        Self::start_inner(node_id, dir.as_ref(), transport, config, None).await
    }

    /// Like [`start`](Self::start), and every change applied to the pinset
    /// from now on is sent to `changes` (see [`StateChange`]).
    pub async fn start_with_changes(
        node_id: NodeId,
        dir: impl AsRef<Path>,
        transport: Arc<dyn Transport>,
        config: ClusterConfig,
        changes: tokio::sync::mpsc::UnboundedSender<StateChange>,
    ) -> Result<Self, ClusterError> {
        Self::start_inner(node_id, dir.as_ref(), transport, config, Some(changes)).await
    }

    async fn start_inner(
        node_id: NodeId,
        dir: &Path,
        transport: Arc<dyn Transport>,
        config: ClusterConfig,
        changes: Option<tokio::sync::mpsc::UnboundedSender<StateChange>>,
    ) -> Result<Self, ClusterError> {
        let raft_config = Arc::new(config.to_raft()?);
        let db = Arc::new(open_db_retry(dir).await?);
        let (log_store, state_machine) = match changes {
            Some(tx) => store::new_storage_with_changes(db.clone(), tx),
            None => store::new_storage(db.clone()),
        };
        let network = NetworkFactory::new(transport.clone());
        let raft = Raft::new(node_id, raft_config, network, log_store, state_machine)
            .await
            .map_err(|e| ClusterError::Raft(e.to_string()))?;
        Ok(ClusterNode {
            inner: Arc::new(Inner {
                id: node_id,
                raft,
                transport,
                reader: Mutex::new(Some(PinsetReader::new(db))),
                config,
            }),
        })
    }

    /// This node's Raft id.
    pub fn id(&self) -> NodeId {
        self.inner.id
    }

    /// The underlying openraft handle, for anything not wrapped here.
    pub fn raft(&self) -> &Raft<TypeConfig> {
        &self.inner.raft
    }

    /// Whether this node has Raft state (a vote or log entries): a
    /// restarted member. Unlike the metrics, which are published
    /// asynchronously, this asks the Raft core for the state it loaded.
    pub async fn is_initialized(&self) -> Result<bool, ClusterError> {
        self.inner
            .raft
            .is_initialized()
            .await
            .map_err(|e| ClusterError::Raft(e.to_string()))
    }

    /// Bootstraps a brand-new cluster with `members` as voters. Call it on one
    /// node only; it is a no-op on a node that already has state.
    pub async fn initialize(
        &self,
        members: BTreeMap<NodeId, RaftPeer>,
    ) -> Result<(), ClusterError> {
        match self.inner.raft.initialize(members).await {
            Ok(()) | Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
            Err(e) => Err(ClusterError::Raft(e.to_string())),
        }
    }

    /// Replicates `cmd` and returns its result once committed and applied on
    /// the leader. Works on any member: followers forward to the leader.
    ///
    /// Forwarded writes are retried when the leader changes or is
    /// unreachable, so a command can be applied twice; pin/unpin are
    /// idempotent, which makes that harmless. On [`ClusterError::Timeout`]
    /// the outcome is unknown.
    pub async fn submit(&self, cmd: Command) -> Result<Response, ClusterError> {
        Ok(self.leader_op(Op::Write(cmd)).await?.data)
    }

    /// Adds `id` as a non-voting member and waits until it has caught up.
    pub async fn add_learner(
        &self,
        id: NodeId,
        addr: impl Into<String>,
    ) -> Result<(), ClusterError> {
        self.leader_op(Op::AddLearner(id, RaftPeer { addr: addr.into() }))
            .await?;
        Ok(())
    }

    /// Replaces the voter set with `voters` (each must already be a member,
    /// e.g. added with [`add_learner`](Self::add_learner)). Nodes dropped
    /// from the voters are removed from the cluster entirely.
    pub async fn change_membership(&self, voters: BTreeSet<NodeId>) -> Result<(), ClusterError> {
        self.leader_op(Op::ChangeMembership(ChangeMembers::ReplaceAllVoters(
            voters,
        )))
        .await?;
        Ok(())
    }

    /// Adds `id` as a learner, then promotes it to voter. Safe to call for
    /// several peers at once: each promotion adds one voter to whatever the
    /// voter set is by then.
    pub async fn add_voter(&self, id: NodeId, addr: impl Into<String>) -> Result<(), ClusterError> {
        self.add_learner(id, addr).await?;
        self.leader_op(Op::ChangeMembership(ChangeMembers::AddVoterIds(
            BTreeSet::from([id]),
        )))
        .await?;
        Ok(())
    }

    /// Removes `id` from the cluster (voter or learner).
    pub async fn remove_peer(&self, id: NodeId) -> Result<(), ClusterError> {
        let ids = BTreeSet::from([id]);
        if self.metrics().voters.contains(&id) {
            self.leader_op(Op::ChangeMembership(ChangeMembers::RemoveVoters(ids)))
                .await?;
        } else {
            self.leader_op(Op::ChangeMembership(ChangeMembers::RemoveNodes(ids)))
                .await?;
        }
        Ok(())
    }

    /// All pins in the locally applied state, ordered by CID text. May lag
    /// the leader by a few entries.
    pub async fn pins(&self) -> Result<Vec<ClusterPin>, ClusterError> {
        let reader = self.reader()?;
        tokio::task::spawn_blocking(move || reader.list())
            .await
            .map_err(|e| ClusterError::Storage(e.to_string()))?
            .map_err(ClusterError::Storage)
    }

    /// One pin from the locally applied state (a single B-tree lookup).
    pub fn pin(&self, cid: &Cid) -> Result<Option<ClusterPin>, ClusterError> {
        self.reader()?.get(cid).map_err(ClusterError::Storage)
    }

    /// Number of pins in the locally applied state.
    pub fn pin_count(&self) -> Result<u64, ClusterError> {
        self.reader()?.count().map_err(ClusterError::Storage)
    }

    fn reader(&self) -> Result<PinsetReader, ClusterError> {
        let guard = self.inner.reader.lock().unwrap_or_else(|e| e.into_inner());
        guard.clone().ok_or(ClusterError::Shutdown)
    }

    /// Current Raft status of this node.
    pub fn metrics(&self) -> ClusterMetrics {
        let m = self.inner.raft.metrics().borrow().clone();
        let membership = m.membership_config.membership();
        ClusterMetrics {
            id: m.id,
            state: m.state,
            leader: m.current_leader,
            term: m.current_term,
            last_log_index: m.last_log_index,
            last_applied: m.last_applied.map(|l| l.index),
            voters: membership.voter_ids().collect(),
            learners: membership.learner_ids().collect(),
            nodes: membership.nodes().map(|(id, n)| (*id, n.clone())).collect(),
        }
    }

    /// Waits until this node knows a leader and returns its id.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Result<NodeId, ClusterError> {
        let m = self
            .inner
            .raft
            .wait(Some(timeout))
            .metrics(|m| m.current_leader.is_some(), "leader known")
            .await
            .map_err(|_| ClusterError::Timeout(timeout))?;
        m.current_leader.ok_or(ClusterError::Timeout(timeout))
    }

    /// Waits until this node has applied the log up to `index`.
    pub async fn wait_applied(&self, index: u64, timeout: Duration) -> Result<(), ClusterError> {
        self.inner
            .raft
            .wait(Some(timeout))
            .applied_index_at_least(Some(index), "applied")
            .await
            .map_err(|_| ClusterError::Timeout(timeout))?;
        Ok(())
    }

    /// Stops Raft, makes all applied state durable and releases the redb
    /// file (once other clones stop using it), so the same directory can be
    /// reopened by [`start`](Self::start).
    pub async fn shutdown(&self) -> Result<(), ClusterError> {
        let res = self.inner.raft.shutdown().await;
        let reader = self
            .inner
            .reader
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(r) = reader {
            tokio::task::spawn_blocking(move || r.flush())
                .await
                .map_err(|e| ClusterError::Storage(e.to_string()))?
                .map_err(ClusterError::Storage)?;
        }
        res.map_err(|e| ClusterError::Raft(e.to_string()))
    }

    /// Serves one RPC from another peer; transports call this on the
    /// receiving side. Forwarded writes are executed only if this node is
    /// the leader (no onward forwarding, so no loops).
    pub async fn handle_rpc(&self, req: RpcRequest) -> RpcResponse {
        let raft = &self.inner.raft;
        match req {
            RpcRequest::AppendEntries(r) => {
                RpcResponse::AppendEntries(raft.append_entries(r).await)
            }
            RpcRequest::Vote(r) => RpcResponse::Vote(raft.vote(r).await),
            RpcRequest::InstallSnapshot(r) => {
                RpcResponse::InstallSnapshot(raft.install_snapshot(r).await)
            }
            RpcRequest::ClientWrite(cmd) => self.serve_write(Op::Write(cmd)).await,
            RpcRequest::AddLearner { id, node } => self.serve_write(Op::AddLearner(id, node)).await,
            RpcRequest::ChangeMembership { change } => {
                self.serve_write(Op::ChangeMembership(change)).await
            }
        }
    }

    async fn serve_write(&self, op: Op) -> RpcResponse {
        // Bound the work a remote caller can leave behind (e.g. a leader that
        // lost its quorum never commits).
        let t = self.inner.config.submit_timeout;
        match tokio::time::timeout(t, self.local_op(op)).await {
            Ok(r) => RpcResponse::Write(r),
            Err(_) => RpcResponse::Error(format!("write timed out after {t:?}")),
        }
    }

    async fn local_op(&self, op: Op) -> WriteResult {
        let raft = &self.inner.raft;
        match op {
            Op::Write(cmd) => raft.client_write(cmd).await,
            Op::AddLearner(id, node) => raft.add_learner(id, node, true).await,
            // `retain: false`: a voter removed from the set leaves the cluster.
            Op::ChangeMembership(change) => raft.change_membership(change, false).await,
        }
    }

    fn to_rpc(op: Op) -> RpcRequest {
        match op {
            Op::Write(cmd) => RpcRequest::ClientWrite(cmd),
            Op::AddLearner(id, node) => RpcRequest::AddLearner { id, node },
            Op::ChangeMembership(change) => RpcRequest::ChangeMembership { change },
        }
    }

    /// Runs `op` on the leader: locally if we are it, else forwarded, retrying
    /// across elections until `submit_timeout`.
    async fn leader_op(&self, op: Op) -> Result<ClientWriteResponse<TypeConfig>, ClusterError> {
        let t = self.inner.config.submit_timeout;
        let deadline = Instant::now() + t;
        match tokio::time::timeout_at(deadline, self.leader_op_loop(op)).await {
            Ok(r) => r,
            Err(_) => Err(ClusterError::Timeout(t)),
        }
    }

    async fn leader_op_loop(
        &self,
        op: Op,
    ) -> Result<ClientWriteResponse<TypeConfig>, ClusterError> {
        let mut backoff = Duration::from_millis(20);
        loop {
            let fwd = match self.local_op(op.clone()).await {
                Ok(r) => return Ok(r),
                Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => f,
                // Another membership change is being committed: wait for it.
                Err(RaftError::APIError(ClientWriteError::ChangeMembershipError(
                    ChangeMembershipError::InProgress(_),
                ))) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                    continue;
                }
                Err(RaftError::APIError(e)) => return Err(ClusterError::Raft(e.to_string())),
                Err(RaftError::Fatal(openraft::error::Fatal::Stopped)) => {
                    return Err(ClusterError::Shutdown)
                }
                Err(RaftError::Fatal(e)) => return Err(ClusterError::Raft(e.to_string())),
            };
            if let (Some(leader), Some(node)) = (fwd.leader_id, fwd.leader_node) {
                if leader != self.inner.id {
                    let req = Self::to_rpc(op.clone());
                    // A leader cut off by a partition never answers: give up on
                    // it as soon as we learn of another leader, and after a few
                    // election timeouts anyway, then ask again.
                    let mut metrics = self.inner.raft.metrics();
                    let moved_on = metrics.wait_for(|m| {
                        m.current_leader.is_some() && m.current_leader != Some(leader)
                    });
                    let attempt = self.inner.config.election_timeout_max * 3;
                    let call = tokio::time::timeout(
                        attempt,
                        self.inner.transport.call(leader, &node.addr, req),
                    );
                    let answer = tokio::select! {
                        r = call => r.unwrap_or(Err(TransportError::Timeout(leader))),
                        _ = moved_on => {
                            tracing::debug!(leader, "leader changed while forwarding; retrying");
                            continue;
                        }
                    };
                    match answer {
                        Ok(RpcResponse::Write(Ok(r))) => return Ok(r),
                        // The leader moved on, or another membership change
                        // is being committed there: ask again.
                        Ok(RpcResponse::Write(Err(RaftError::APIError(
                            ClientWriteError::ForwardToLeader(_)
                            | ClientWriteError::ChangeMembershipError(
                                ChangeMembershipError::InProgress(_),
                            ),
                        )))) => {}
                        Ok(RpcResponse::Write(Err(e))) => {
                            return Err(ClusterError::Raft(e.to_string()))
                        }
                        Ok(RpcResponse::Error(e)) => {
                            tracing::debug!(leader, "forwarded write failed: {e}")
                        }
                        Ok(other) => {
                            return Err(ClusterError::Raft(format!(
                                "unexpected response {other:?}"
                            )))
                        }
                        Err(e) => tracing::debug!(leader, "forwarding failed: {e}"),
                    }
                }
            }
            // No (reachable) leader yet: give the election time to finish.
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(500));
        }
    }
}

/// Opens the database, waiting briefly while a just-shut-down instance in
/// this process still holds the file lock.
#[allow(clippy::result_large_err)] // see store.rs: redb's error, cold path
async fn open_db_retry(dir: &Path) -> Result<redb::Database, ClusterError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let d = dir.to_path_buf();
        let res = tokio::task::spawn_blocking(move || store::open_db(&d))
            .await
            .map_err(|e| ClusterError::Storage(e.to_string()))?;
        match res {
            Ok(db) => return Ok(db),
            Err(redb::Error::DatabaseAlreadyOpen) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => return Err(ClusterError::Storage(e.to_string())),
        }
    }
}
