//! [`Cluster`]: one cluster peer as the daemon runs it — Raft over the
//! PSK-protected cluster host, the pin tracker, the allocator and the
//! background duties (metrics, re-allocation, expiry). The REST API, the
//! Pinning Service API and the CLI only talk to this.
//!
//! Tests start a single-peer cluster over an offline node with
//! [`Cluster::start`] and [`ClusterOptions::for_tests`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use crate::allocator::{self, Candidate};
use crate::config::ClusterSection;
use crate::host::{ClusterHost, HostConfig, Inbound};
use crate::network::{RpcFuture, RpcRequest, RpcResponse, Transport, TransportError};
use crate::node::{ClusterConfig, ClusterError, ClusterNode};
use crate::pinset::{ClusterPin, Command};
use crate::store::StateChange;
use crate::tracker::{LocalPeer, PinTracker, TrackerConfig};
use crate::types::{
    now_ms, now_ns, GlobalPinInfo, Metric, PeerInfo, PinInfo, PinOptions, TrackerStatus,
};
use crate::NodeId;

/// Version string reported by `/id` and `/version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Deadline of peer-to-peer queries (status, id, metrics).
const PEER_QUERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Per-attempt deadline of a Raft RPC; openraft applies its own TTL on top.
const RAFT_RPC_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything [`Cluster::start`] needs besides the node.
#[derive(Clone)]
pub struct ClusterOptions {
    /// The `Cluster` config section.
    pub section: ClusterSection,
    /// Where Raft and the tracker keep their files (`<repo>/cluster`).
    pub dir: PathBuf,
    /// The cluster host's identity (the node's own key: one peer ID for both).
    pub keypair: libp2p::identity::Keypair,
    /// Raft timing.
    pub raft: ClusterConfig,
    /// Pin tracker tunables (the config's `PinTracker` values are applied on top).
    pub tracker: TrackerConfig,
}

impl ClusterOptions {
    /// Options from the node's config: `Ok(None)` when no cluster is configured.
    pub fn from_node(node: &ferrite_node::Node) -> Result<Option<ClusterOptions>, ClusterError> {
        let cfg = node.config();
        let Some(section) = ClusterSection::from_config(&cfg)? else {
            return Ok(None);
        };
        let keypair = cfg
            .identity()
            .and_then(|i| i.keypair())
            .map_err(|e| ClusterError::Config(e.to_string()))?;
        let tracker = TrackerConfig {
            concurrency: section.pin_tracker.concurrency.max(1),
            max_attempts: section.pin_tracker.max_attempts,
            ..TrackerConfig::default()
        };
        Ok(Some(ClusterOptions {
            section,
            dir: node.repo_path().join("cluster"),
            keypair,
            raft: ClusterConfig::default(),
            tracker,
        }))
    }

    /// A single-peer cluster on 127.0.0.1 with a random port and fast timers.
    pub fn for_tests(dir: &Path, secret: [u8; 32]) -> ClusterOptions {
        let mut section = ClusterSection::new(&secret, "test");
        section.listen_multiaddress = vec!["/ip4/127.0.0.1/tcp/0".into()];
        section.monitor_ping_interval = "500ms".into();
        section.reallocate_after = "2s".into();
        let tracker = TrackerConfig {
            retry_base: Duration::from_millis(100),
            ..TrackerConfig::default()
        };
        ClusterOptions {
            section,
            dir: dir.to_path_buf(),
            keypair: libp2p::identity::Keypair::generate_ed25519(),
            raft: ClusterConfig::default(),
            tracker,
        }
    }
}

/// The Raft id of a cluster peer: derived from its peer ID, so every peer
/// computes the same mapping without coordination.
pub fn node_id(peer: &PeerId) -> NodeId {
    let bytes = peer.to_bytes();
    let mut tail = [0u8; 8];
    tail.copy_from_slice(&bytes[bytes.len() - 8..]);
    // Keep it positive in signed views (JSON consumers, logs).
    u64::from_be_bytes(tail) & (u64::MAX >> 1)
}

/// Messages between cluster peers (JSON inside the host's frames).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum PeerRequest {
    Raft(RpcRequest),
    /// Add the sender as a voter (asked of any member; forwarded to the leader).
    Join {
        addr: String,
    },
    Id,
    /// Local statuses of these CIDs (`None`: all).
    Status {
        cids: Option<Vec<String>>,
    },
    /// Recover these CIDs locally (`None`: every CID in error).
    Recover {
        cid: Option<String>,
    },
    Metrics(Vec<Metric>),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum PeerResponse {
    Raft(RpcResponse),
    Id(PeerInfo),
    Status(Vec<PinInfo>),
    Ok,
    Error(String),
}

/// A running cluster peer. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    peer: PeerId,
    peer_str: String,
    section: ClusterSection,
    allocate_by: Vec<String>,
    ping_interval: Duration,
    reallocate_after: Duration,
    node: ferrite_node::Node,
    host: ClusterHost,
    raft: ClusterNode,
    tracker: PinTracker,
    local: LocalPeer,
    /// Latest metrics per peer and name.
    metrics: Mutex<HashMap<String, BTreeMap<String, Metric>>>,
    /// When this process started (ns): peers never heard from count as seen
    /// then, so a fresh leader waits before re-allocating.
    started_ns: u64,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// openraft's transport over the cluster host.
struct HostTransport {
    host: ClusterHost,
}

impl Transport for HostTransport {
    fn call<'a>(&'a self, target: NodeId, addr: &'a str, req: RpcRequest) -> RpcFuture<'a> {
        Box::pin(async move {
            let (peer, addrs) = parse_node_addr(addr)
                .ok_or_else(|| TransportError::Other(format!("bad peer address {addr:?}")))?;
            let body = serde_json::to_vec(&PeerRequest::Raft(req))
                .map_err(|e| TransportError::Other(e.to_string()))?;
            let reply = self
                .host
                .call(peer, addrs, body, RAFT_RPC_TIMEOUT)
                .await
                .map_err(|e| match e {
                    TransportError::Unreachable(_, m) => TransportError::Unreachable(target, m),
                    TransportError::Timeout(_) => TransportError::Timeout(target),
                    other => other,
                })?;
            match serde_json::from_slice(&reply) {
                Ok(PeerResponse::Raft(r)) => Ok(r),
                Ok(PeerResponse::Error(e)) => Ok(RpcResponse::Error(e)),
                Ok(other) => Err(TransportError::Other(format!("unexpected reply {other:?}"))),
                Err(e) => Err(TransportError::Other(format!("bad reply: {e}"))),
            }
        })
    }
}

/// A membership address record: the peer's multiaddrs with `/p2p/<id>`,
/// space separated.
fn parse_node_addr(addr: &str) -> Option<(PeerId, Vec<Multiaddr>)> {
    let mut peer = None;
    let mut addrs = Vec::new();
    for a in addr.split_whitespace() {
        let mut ma: Multiaddr = a.parse().ok()?;
        if let Some(Protocol::P2p(p)) = ma.pop() {
            peer = Some(p);
            addrs.push(ma);
        }
    }
    Some((peer?, addrs))
}

/// The peer ID in a membership address record.
pub fn peer_of(addr: &str) -> Option<String> {
    parse_node_addr(addr).map(|(p, _)| p.to_string())
}

fn with_p2p(addrs: &[Multiaddr], peer: &PeerId) -> Vec<String> {
    addrs
        .iter()
        .map(|a| a.clone().with(Protocol::P2p(*peer)).to_string())
        .collect()
}

impl Cluster {
    /// Starts the cluster host, Raft, the tracker and the background duties.
    /// A peer without Raft state initializes a new cluster when it has no
    /// `Bootstrap` peers, and joins through them otherwise (in the
    /// background, retrying until a member accepts it).
    pub async fn start(
        node: ferrite_node::Node,
        opts: ClusterOptions,
    ) -> Result<Cluster, ClusterError> {
        let section = opts.section.clone();
        section.validate()?;
        std::fs::create_dir_all(&opts.dir)
            .map_err(|e| ClusterError::Storage(format!("{}: {e}", opts.dir.display())))?;
        let listen = section
            .listen_multiaddress
            .iter()
            .map(|a| a.parse::<Multiaddr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ClusterError::Config(format!("Cluster.ListenMultiaddress: {e}")))?;
        let (host, inbound) = ClusterHost::start(HostConfig {
            keypair: opts.keypair.clone(),
            secret: section.secret_bytes()?,
            listen,
            request_timeout: Duration::from_secs(60),
        })
        .await
        .map_err(|e| ClusterError::Config(format!("cluster host: {e}")))?;
        let peer = host.peer_id();
        let (ipfs_peer_id, ipfs_addresses) = match node.network() {
            Some(n) => {
                let announced = n.listen_addrs().await.map(|(_, a)| a).unwrap_or_default();
                (n.peer_id().to_string(), with_p2p(&announced, &n.peer_id()))
            }
            None => (node.config().peer_id().unwrap_or_default(), Vec::new()),
        };
        let local = LocalPeer {
            peer: peer.to_string(),
            peername: section.peer_name.clone(),
            ipfs_peer_id,
            ipfs_addresses,
        };
        let tracker = PinTracker::start(node.clone(), &opts.dir, local.clone(), opts.tracker)?;
        let (changes_tx, changes_rx) = tokio::sync::mpsc::unbounded_channel();
        let transport = Arc::new(HostTransport { host: host.clone() });
        let raft = ClusterNode::start_with_changes(
            node_id(&peer),
            &opts.dir,
            transport,
            opts.raft.clone(),
            changes_tx,
        )
        .await?;
        let inner = Arc::new(Inner {
            peer,
            peer_str: peer.to_string(),
            allocate_by: section.allocate_by.clone(),
            ping_interval: section.ping_interval()?,
            reallocate_after: section.reallocate_after()?,
            section,
            node,
            host,
            raft,
            tracker,
            local,
            metrics: Mutex::new(HashMap::new()),
            started_ns: now_ns(),
            tasks: Mutex::new(Vec::new()),
        });
        let cluster = Cluster { inner };
        let tasks = vec![
            tokio::spawn(cluster.clone().serve_inbound(inbound)),
            tokio::spawn(cluster.clone().follow_changes(changes_rx)),
            tokio::spawn(cluster.clone().publish_metrics()),
            tokio::spawn(cluster.clone().leader_duties()),
            tokio::spawn(cluster.clone().connect_swarms()),
        ];
        cluster.lock_tasks().extend(tasks);
        cluster.bootstrap().await?;
        Ok(cluster)
    }

    fn lock_tasks(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_metrics(&self) -> std::sync::MutexGuard<'_, HashMap<String, BTreeMap<String, Metric>>> {
        self.inner.metrics.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This peer's membership address record.
    async fn own_addr(&self) -> String {
        with_p2p(&self.inner.host.listen_addrs().await, &self.inner.peer).join(" ")
    }

    async fn bootstrap(&self) -> Result<(), ClusterError> {
        let m = self.inner.raft.metrics();
        if !m.nodes.is_empty() || m.last_log_index.is_some() {
            return Ok(()); // restarted member: Raft resumes from disk
        }
        let addr = self.own_addr().await;
        if self.inner.section.bootstrap.is_empty() {
            let mut members = BTreeMap::new();
            members.insert(node_id(&self.inner.peer), crate::RaftPeer { addr });
            self.inner.raft.initialize(members).await?;
            // Return a formed cluster: right after `initialize` the metrics
            // may not list the membership yet, and /peers would be empty.
            self.inner
                .raft
                .wait_for_leader(Duration::from_secs(10))
                .await?;
            return Ok(());
        }
        let me = self.clone();
        let task = tokio::spawn(async move { me.join_loop(addr).await });
        self.lock_tasks().push(task);
        Ok(())
    }

    async fn join_loop(self, addr: String) {
        let mut delay = Duration::from_millis(200);
        loop {
            for b in &self.inner.section.bootstrap {
                match self.try_join(b, &addr).await {
                    Ok(()) => {
                        tracing::info!("joined the cluster through {b}");
                        return;
                    }
                    Err(e) => tracing::warn!("cannot join the cluster through {b}: {e}"),
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(10));
        }
    }

    async fn try_join(&self, bootstrap: &str, addr: &str) -> Result<(), ClusterError> {
        let ma: Multiaddr = bootstrap
            .parse()
            .map_err(|e| ClusterError::Config(format!("bad bootstrap address: {e}")))?;
        let target = self.inner.host.connect(ma).await?;
        match self
            .ask(
                target,
                Vec::new(),
                &PeerRequest::Join { addr: addr.into() },
                Duration::from_secs(60),
            )
            .await?
        {
            PeerResponse::Ok => Ok(()),
            PeerResponse::Error(e) => Err(ClusterError::Raft(e)),
            other => Err(ClusterError::Raft(format!("unexpected reply {other:?}"))),
        }
    }

    async fn ask(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        req: &PeerRequest,
        timeout: Duration,
    ) -> Result<PeerResponse, ClusterError> {
        let body = serde_json::to_vec(req).map_err(|e| ClusterError::Raft(e.to_string()))?;
        let reply = self.inner.host.call(peer, addrs, body, timeout).await?;
        serde_json::from_slice(&reply).map_err(|e| ClusterError::Raft(format!("bad reply: {e}")))
    }

    async fn serve_inbound(self, mut inbound: tokio::sync::mpsc::Receiver<Inbound>) {
        while let Some(req) = inbound.recv().await {
            let me = self.clone();
            tokio::spawn(async move {
                let resp = match serde_json::from_slice::<PeerRequest>(&req.request) {
                    Ok(r) => me.handle(req.from, r).await,
                    Err(e) => PeerResponse::Error(format!("bad request: {e}")),
                };
                let bytes = serde_json::to_vec(&resp).unwrap_or_default();
                let _ = req.reply.send(bytes);
            });
        }
    }

    async fn handle(&self, from: PeerId, req: PeerRequest) -> PeerResponse {
        match req {
            PeerRequest::Raft(r) => PeerResponse::Raft(self.inner.raft.handle_rpc(r).await),
            PeerRequest::Join { addr } => {
                // The record must name the peer that asked: the PSK only
                // proves membership, not which member it is.
                if peer_of(&addr) != Some(from.to_string()) {
                    return PeerResponse::Error("join address does not match the peer".into());
                }
                let id = node_id(&from);
                if self.inner.raft.metrics().voters.contains(&id) {
                    return PeerResponse::Ok;
                }
                match self.inner.raft.add_voter(id, addr).await {
                    Ok(()) => PeerResponse::Ok,
                    Err(e) => PeerResponse::Error(e.to_string()),
                }
            }
            PeerRequest::Id => PeerResponse::Id(self.id().await),
            PeerRequest::Status { cids } => PeerResponse::Status(match cids {
                Some(c) => c.iter().map(|c| self.inner.tracker.status(c)).collect(),
                None => self.inner.tracker.status_all(),
            }),
            PeerRequest::Recover { cid } => PeerResponse::Status(match cid {
                Some(c) => vec![self.inner.tracker.recover(&c)],
                None => self.inner.tracker.recover_all(),
            }),
            PeerRequest::Metrics(ms) => {
                // Only a peer's own metrics are accepted from it.
                let from = from.to_string();
                self.store_metrics(ms.into_iter().filter(|m| m.peer == from).collect());
                PeerResponse::Ok
            }
        }
    }

    fn store_metrics(&self, ms: Vec<Metric>) {
        let now = now_ns();
        let mut all = self.lock_metrics();
        for mut m in ms {
            m.received_ns = now;
            all.entry(m.peer.clone())
                .or_default()
                .insert(m.name.clone(), m);
        }
    }

    /// Feeds applied pinset changes to the tracker.
    async fn follow_changes(self, mut rx: tokio::sync::mpsc::UnboundedReceiver<StateChange>) {
        match self.inner.raft.pins().await {
            Ok(pins) => self.inner.tracker.sync(pins),
            Err(e) => tracing::error!("cannot read the pinset: {e}"),
        }
        while let Some(c) = rx.recv().await {
            match c {
                StateChange::Pinned(p) => self.inner.tracker.track(&p),
                StateChange::Unpinned(cid) => self.inner.tracker.untrack(&cid),
                StateChange::Reset => match self.inner.raft.pins().await {
                    Ok(pins) => self.inner.tracker.sync(pins),
                    Err(e) => tracing::error!("cannot read the pinset: {e}"),
                },
            }
        }
    }

    fn own_metrics(&self) -> Vec<Metric> {
        let now = now_ns();
        let expire = now + 2 * self.inner.ping_interval.as_nanos() as u64;
        let free = match self.inner.node.repo_stat() {
            Ok(s) => s.storage_max.saturating_sub(s.repo_size),
            Err(_) => 0,
        };
        let metric = |name: String, value: String, weight: i64| Metric {
            name,
            peer: self.inner.peer_str.clone(),
            value,
            weight,
            expire_ns: expire,
            received_ns: now,
        };
        let mut out = vec![
            metric(
                "freespace".into(),
                free.to_string(),
                free.min(i64::MAX as u64) as i64,
            ),
            metric("ping".into(), String::new(), 0),
        ];
        for (k, v) in &self.inner.section.tags {
            out.push(metric(format!("tag:{k}"), v.clone(), 0));
        }
        out
    }

    /// Sends this peer's metrics to every member each ping interval; they
    /// double as the liveness signal re-allocation relies on.
    async fn publish_metrics(self) {
        let mut tick = tokio::time::interval(self.inner.ping_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let ms = self.own_metrics();
            self.store_metrics(ms.clone());
            let me = &self;
            let sends = self
                .members()
                .into_iter()
                .filter(|(p, _)| *p != me.inner.peer)
                .map(|(p, addrs)| {
                    let req = PeerRequest::Metrics(ms.clone());
                    async move {
                        if let Err(e) = me.ask(p, addrs, &req, me.inner.ping_interval).await {
                            tracing::debug!("metrics to {p}: {e}");
                        }
                    }
                });
            join_all(sends).await;
        }
    }

    /// Keeps this node's IPFS host connected to the other peers' IPFS
    /// hosts (what IPFS Cluster's `ConnectSwarms` does), so Bitswap finds
    /// cluster content at once instead of through a DHT search.
    async fn connect_swarms(self) {
        let Some(net) = self.inner.node.network().cloned() else {
            return;
        };
        let mut delay = Duration::from_secs(1);
        loop {
            tokio::time::sleep(delay).await;
            delay = Duration::from_secs(30);
            let connected: BTreeSet<String> = match net.peers().await {
                Ok(p) => p.into_iter().map(|p| p.peer.to_string()).collect(),
                Err(_) => continue,
            };
            for info in self.peers().await {
                if info.id == self.inner.peer_str
                    || !info.error.is_empty()
                    || connected.contains(&info.ipfs_id)
                {
                    continue;
                }
                for a in &info.ipfs_addresses {
                    let Ok(ma) = a.parse::<Multiaddr>() else {
                        continue;
                    };
                    match net.connect(ma).await {
                        Ok(_) => break,
                        Err(e) => tracing::debug!("ipfs connect to {a}: {e}"),
                    }
                }
            }
        }
    }

    /// Members with their addresses, from the Raft membership.
    fn members(&self) -> Vec<(PeerId, Vec<Multiaddr>)> {
        self.inner
            .raft
            .metrics()
            .nodes
            .values()
            .filter_map(|n| parse_node_addr(&n.addr))
            .collect()
    }

    /// Healthy peers (fresh metrics) that allocation can use.
    fn candidates(&self) -> Vec<Candidate> {
        let now = now_ns();
        let members: BTreeSet<String> = self
            .members()
            .into_iter()
            .map(|(p, _)| p.to_string())
            .collect();
        let all = self.lock_metrics();
        members
            .into_iter()
            .filter_map(|p| {
                let ms = all.get(&p)?;
                let free = ms.get("freespace").filter(|m| m.valid_at(now))?;
                let tags = ms
                    .values()
                    .filter_map(|m| {
                        Some((m.name.strip_prefix("tag:")?.to_string(), m.value.clone()))
                    })
                    .collect();
                Some(Candidate {
                    peer: p,
                    freespace: free.weight.max(0) as u64,
                    tags,
                })
            })
            .collect()
    }

    /// How long `peer` has been without a valid metric (zero when healthy).
    fn down_for(&self, peer: &str, now: u64) -> Duration {
        let all = self.lock_metrics();
        let expired_at = match all.get(peer).and_then(|m| m.get("ping")) {
            Some(m) if m.valid_at(now) => return Duration::ZERO,
            Some(m) => m.expire_ns,
            None => self.inner.started_ns,
        };
        Duration::from_nanos(now.saturating_sub(expired_at))
    }

    /// On the leader: removes expired pins and moves pins away from peers
    /// that have been down longer than `ReallocateAfter` (or left).
    async fn leader_duties(self) {
        let period = self.inner.ping_interval.max(Duration::from_millis(200));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let m = self.inner.raft.metrics();
            if m.leader != Some(m.id) {
                continue;
            }
            if let Err(e) = self.leader_round().await {
                tracing::warn!("cluster maintenance: {e}");
            }
        }
    }

    async fn leader_round(&self) -> Result<(), ClusterError> {
        let pins = self.inner.raft.pins().await?;
        let now = now_ns();
        let now_s = now / 1_000_000_000;
        let members: BTreeSet<String> = self
            .members()
            .into_iter()
            .map(|(p, _)| p.to_string())
            .collect();
        let mut cmds = Vec::new();
        let mut candidates = None;
        for pin in pins {
            if pin.expire_at.is_some_and(|t| t <= now_s) {
                cmds.push(Command::Unpin { cid: pin.cid });
                continue;
            }
            if pin.allocations.is_empty() {
                continue;
            }
            let lost = pin.allocations.iter().any(|p| {
                !members.contains(p) || self.down_for(p, now) >= self.inner.reallocate_after
            });
            if !lost {
                continue;
            }
            let cands = candidates.get_or_insert_with(|| self.candidates());
            let keep: Vec<String> = pin
                .allocations
                .iter()
                .filter(|p| cands.iter().any(|c| &c.peer == *p))
                .cloned()
                .collect();
            let req = allocator::Request {
                rmin: pin.replication_min,
                rmax: pin.replication_max,
                current: &keep,
                user_allocations: &[],
            };
            match allocator::allocate(&req, cands, &self.inner.allocate_by) {
                Ok(a) if a != pin.allocations => {
                    tracing::info!(cid = %pin.cid, "re-allocating to {a:?}");
                    cmds.push(Command::Pin(ClusterPin {
                        allocations: a,
                        ..pin
                    }));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(cid = %pin.cid, "cannot re-allocate: {e}"),
            }
        }
        for chunk in cmds.chunks(500) {
            self.inner
                .raft
                .submit(Command::Batch(chunk.to_vec()))
                .await?;
        }
        Ok(())
    }

    /// Stops the background work, the tracker, Raft and the cluster host.
    pub async fn shutdown(&self) {
        for t in self.lock_tasks().drain(..) {
            t.abort();
        }
        self.inner.tracker.shutdown().await;
        if let Err(e) = self.inner.raft.shutdown().await {
            tracing::warn!("raft shutdown: {e}");
        }
        self.inner.host.shutdown().await;
    }

    /// This peer's cluster peer ID.
    pub fn peer_id(&self) -> String {
        self.inner.peer_str.clone()
    }

    /// The local IPFS node (for `/add`).
    pub fn node(&self) -> &ferrite_node::Node {
        &self.inner.node
    }

    /// The underlying Raft peer (status, tests).
    pub fn raft(&self) -> &ClusterNode {
        &self.inner.raft
    }

    /// How many CIDs this peer's tracker has in each status (`pinned`, …).
    pub fn tracker_counts(&self) -> BTreeMap<String, usize> {
        self.inner
            .tracker
            .counts()
            .into_iter()
            .map(|(k, v)| (k.as_str().to_string(), v))
            .collect()
    }

    /// The cluster settings in force.
    pub fn settings(&self) -> &ClusterSection {
        &self.inner.section
    }

    /// `/id`: this peer.
    pub async fn id(&self) -> PeerInfo {
        let members = self.members();
        PeerInfo {
            id: self.inner.peer_str.clone(),
            addresses: with_p2p(&self.inner.host.listen_addrs().await, &self.inner.peer),
            cluster_peers: members.iter().map(|(p, _)| p.to_string()).collect(),
            cluster_peers_addresses: members.iter().flat_map(|(p, a)| with_p2p(a, p)).collect(),
            version: VERSION.into(),
            peername: self.inner.local.peername.clone(),
            ipfs_id: self.inner.local.ipfs_peer_id.clone(),
            ipfs_addresses: self.inner.local.ipfs_addresses.clone(),
            error: String::new(),
        }
    }

    /// `/peers`: every member, asked over the cluster host (unreachable ones
    /// carry `error`).
    pub async fn peers(&self) -> Vec<PeerInfo> {
        let asks = self.members().into_iter().map(|(p, addrs)| async move {
            if p == self.inner.peer {
                return self.id().await;
            }
            match self
                .ask(p, addrs, &PeerRequest::Id, PEER_QUERY_TIMEOUT)
                .await
            {
                Ok(PeerResponse::Id(info)) => info,
                Ok(other) => PeerInfo {
                    id: p.to_string(),
                    error: format!("unexpected reply {other:?}"),
                    ..Default::default()
                },
                Err(e) => PeerInfo {
                    id: p.to_string(),
                    error: e.to_string(),
                    ..Default::default()
                },
            }
        });
        join_all(asks).await
    }

    /// `DELETE /peers/{id}`: removes a member from the cluster; its pins
    /// are re-allocated by the leader.
    pub async fn peer_rm(&self, peer: &str) -> Result<(), ClusterError> {
        let p: PeerId = peer
            .parse()
            .map_err(|e| ClusterError::Invalid(format!("invalid peer ID {peer:?}: {e}")))?;
        let id = node_id(&p);
        if !self.inner.raft.metrics().nodes.contains_key(&id) {
            return Err(ClusterError::NotFound(format!(
                "{peer} is not a cluster peer"
            )));
        }
        self.inner.raft.remove_peer(id).await
    }

    /// Fails at once on a peer that is not (yet) in a cluster, instead of
    /// letting a write wait out the submit timeout.
    fn ensure_member(&self) -> Result<(), ClusterError> {
        if self.inner.raft.metrics().nodes.is_empty() {
            return Err(ClusterError::Raft(
                "this peer is not a cluster member yet: it is still trying to join through \
                 Cluster.Bootstrap (see the daemon log)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Pins `cid` cluster-wide: allocates, commits through Raft, returns the
    /// pin as committed.
    pub async fn pin(&self, cid: &str, opts: PinOptions) -> Result<ClusterPin, ClusterError> {
        let cid = parse_cid(cid)?;
        self.ensure_member()?;
        let s = &self.inner.section;
        let rmin = opts.replication_min.unwrap_or(s.replication_factor_min);
        let rmax = opts
            .replication_max
            .unwrap_or(if opts.replication_min.is_some() && rmin > 0 {
                rmin.max(s.replication_factor_max)
            } else {
                s.replication_factor_max
            });
        let rmax = if rmin == -1 { -1 } else { rmax };
        if rmin == 0 || rmax == 0 || rmin < -1 || rmax < -1 || (rmax != -1 && rmin > rmax) {
            return Err(ClusterError::Invalid(format!(
                "bad replication factors: min {rmin}, max {rmax} (need 1 <= min <= max, or -1 for everywhere)"
            )));
        }
        let existing = self.inner.raft.pin(&cid)?;
        let current = existing
            .as_ref()
            .filter(|p| p.replication_min == rmin && p.replication_max == rmax)
            .map(|p| p.allocations.clone())
            .unwrap_or_default();
        let allocations = allocator::allocate(
            &allocator::Request {
                rmin,
                rmax,
                current: &current,
                user_allocations: &opts.user_allocations,
            },
            &self.candidates(),
            &self.inner.allocate_by,
        )?;
        let pin = ClusterPin {
            cid,
            name: opts.name,
            mode: opts.mode,
            replication_min: rmin,
            replication_max: rmax,
            allocations,
            expire_at: opts.expire_at,
            metadata: opts.metadata,
            timestamp: now_ms() / 1000,
        };
        self.inner.raft.submit(Command::Pin(pin.clone())).await?;
        Ok(pin)
    }

    /// Removes `cid` from the pinset; `NotFound` when it is not there.
    pub async fn unpin(&self, cid: &str) -> Result<ClusterPin, ClusterError> {
        let cid = parse_cid(cid)?;
        self.ensure_member()?;
        let pin =
            self.inner.raft.pin(&cid)?.ok_or_else(|| {
                ClusterError::NotFound(format!("{cid} is not pinned in the cluster"))
            })?;
        self.inner.raft.submit(Command::Unpin { cid }).await?;
        Ok(pin)
    }

    /// `/allocations`: the whole pinset from the local state.
    pub async fn allocations(&self) -> Result<Vec<ClusterPin>, ClusterError> {
        self.inner.raft.pins().await
    }

    /// `/allocations/{cid}`.
    pub fn allocation(&self, cid: &str) -> Result<Option<ClusterPin>, ClusterError> {
        self.inner.raft.pin(&parse_cid(cid)?)
    }

    fn global(&self, cid: &str, pin: Option<&ClusterPin>) -> GlobalPinInfo {
        GlobalPinInfo {
            cid: cid.to_string(),
            name: pin.map(|p| p.name.clone()).unwrap_or_default(),
            allocations: pin.map(|p| p.allocations.clone()).unwrap_or_default(),
            metadata: pin.map(|p| p.metadata.clone()).unwrap_or_default(),
            created: pin.map(|p| p.timestamp).unwrap_or_default(),
            peer_map: BTreeMap::new(),
        }
    }

    /// Statuses from every member (or only this peer): `query` is sent to
    /// the others; unreachable peers yield `cluster_error` for `cids`.
    async fn gather(&self, local: bool, query: PeerRequest, cids: &[String]) -> Vec<PinInfo> {
        let local_answer = |q: &PeerRequest| match q {
            PeerRequest::Status { cids: Some(c) } => {
                c.iter().map(|c| self.inner.tracker.status(c)).collect()
            }
            PeerRequest::Recover { cid: Some(c) } => vec![self.inner.tracker.recover(c)],
            PeerRequest::Recover { cid: None } => self.inner.tracker.recover_all(),
            _ => self.inner.tracker.status_all(),
        };
        if local {
            return local_answer(&query);
        }
        let members = self.members();
        let query = &query;
        let asks = members.into_iter().map(|(p, addrs)| async move {
            if p == self.inner.peer {
                return local_answer(query);
            }
            let err = match self.ask(p, addrs, query, PEER_QUERY_TIMEOUT).await {
                Ok(PeerResponse::Status(s)) => return s,
                Ok(other) => format!("unexpected reply {other:?}"),
                Err(e) => e.to_string(),
            };
            cids.iter()
                .map(|c| PinInfo {
                    cid: c.clone(),
                    peer: p.to_string(),
                    peername: String::new(),
                    ipfs_peer_id: String::new(),
                    ipfs_peer_addresses: Vec::new(),
                    status: TrackerStatus::ClusterError,
                    timestamp_ms: now_ms(),
                    error: err.clone(),
                    attempt_count: 0,
                })
                .collect()
        });
        join_all(asks).await.into_iter().flatten().collect()
    }

    async fn group(&self, infos: Vec<PinInfo>) -> Result<Vec<GlobalPinInfo>, ClusterError> {
        // Many CIDs: one scan of the pinset beats a lookup per CID.
        let all: Option<HashMap<String, ClusterPin>> = if infos.len() > 256 {
            let pins = self.inner.raft.pins().await?;
            Some(pins.into_iter().map(|p| (p.cid.clone(), p)).collect())
        } else {
            None
        };
        let mut out: BTreeMap<String, GlobalPinInfo> = BTreeMap::new();
        for i in infos {
            let g = match out.get_mut(&i.cid) {
                Some(g) => g,
                None => {
                    let pin = match &all {
                        Some(m) => m.get(&i.cid).cloned(),
                        None => self.inner.raft.pin(&i.cid)?,
                    };
                    out.entry(i.cid.clone())
                        .or_insert_with(|| self.global(&i.cid, pin.as_ref()))
                }
            };
            g.peer_map.insert(i.peer.clone(), i);
        }
        Ok(out.into_values().collect())
    }

    /// `/pins/{cid}`: status on every peer (`local`: this peer only).
    pub async fn status(&self, cid: &str, local: bool) -> Result<GlobalPinInfo, ClusterError> {
        let cid = parse_cid(cid)?;
        let query = PeerRequest::Status {
            cids: Some(vec![cid.clone()]),
        };
        self.one_cid(cid, local, query).await
    }

    /// Runs a one-CID query on the peers and assembles its global status.
    async fn one_cid(
        &self,
        cid: String,
        local: bool,
        query: PeerRequest,
    ) -> Result<GlobalPinInfo, ClusterError> {
        let cids = [cid.clone()];
        let infos = self.gather(local, query, &cids).await;
        let pin = self.inner.raft.pin(&cid)?;
        let mut g = self.global(&cid, pin.as_ref());
        for i in infos.into_iter().filter(|i| i.cid == cid) {
            g.peer_map.insert(i.peer.clone(), i);
        }
        Ok(g)
    }

    /// `/pins`: status of every tracked CID, optionally only those whose
    /// status on some peer is in `filter` and only `cids`.
    pub async fn status_all(
        &self,
        local: bool,
        filter: &[TrackerStatus],
        cids: &[String],
    ) -> Result<Vec<GlobalPinInfo>, ClusterError> {
        let query = if cids.is_empty() {
            PeerRequest::Status { cids: None }
        } else {
            let cids = cids
                .iter()
                .map(|c| parse_cid(c))
                .collect::<Result<Vec<_>, _>>()?;
            PeerRequest::Status { cids: Some(cids) }
        };
        let infos = self.gather(local, query, cids).await;
        let mut all = self.group(infos).await?;
        if !filter.is_empty() {
            all.retain(|g| g.peer_map.values().any(|i| filter.contains(&i.status)));
        }
        Ok(all)
    }

    /// `/pins/{cid}/recover`: retries a failed pin/unpin now, then reports.
    pub async fn recover(&self, cid: &str, local: bool) -> Result<GlobalPinInfo, ClusterError> {
        let cid = parse_cid(cid)?;
        let query = PeerRequest::Recover {
            cid: Some(cid.clone()),
        };
        self.one_cid(cid, local, query).await
    }

    /// `/pins/recover`: recovers every CID in an error state.
    pub async fn recover_all(&self, local: bool) -> Result<Vec<GlobalPinInfo>, ClusterError> {
        let infos = self
            .gather(local, PeerRequest::Recover { cid: None }, &[])
            .await;
        self.group(infos).await
    }

    /// `/monitor/metrics`: names of the metrics peers publish.
    pub fn metric_names(&self) -> Vec<String> {
        let all = self.lock_metrics();
        let names: BTreeSet<String> = all.values().flat_map(|m| m.keys().cloned()).collect();
        names.into_iter().collect()
    }

    /// `/monitor/metrics/{name}`: the latest metric of that name from each peer.
    pub fn metrics(&self, name: &str) -> Vec<Metric> {
        let all = self.lock_metrics();
        let mut out: Vec<Metric> = all.values().filter_map(|m| m.get(name).cloned()).collect();
        out.sort_by(|a, b| a.peer.cmp(&b.peer));
        out
    }

    /// `/health/graph`-style view: peer ID -> peers it is connected to
    /// (this peer's view only).
    pub async fn connection_graph(&self) -> BTreeMap<String, Vec<String>> {
        let peers = self.inner.host.connected_peers().await;
        let mut g = BTreeMap::new();
        g.insert(
            self.inner.peer_str.clone(),
            peers.iter().map(|p| p.to_string()).collect(),
        );
        g
    }
}

/// Parses and normalizes a CID (or `/ipfs/<cid>`): the pinset is keyed by
/// the canonical text, so the same content is one entry however it is named.
fn parse_cid(s: &str) -> Result<String, ClusterError> {
    let t = s.trim().trim_start_matches("/ipfs/");
    let t = t.split('/').next().unwrap_or(t);
    t.parse::<ferrite_ipld::Cid>()
        .map(|c| c.to_string())
        .map_err(|e| ClusterError::Invalid(format!("invalid CID {s:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_are_stable_and_distinct() {
        let a = PeerId::random();
        let b = PeerId::random();
        assert_eq!(node_id(&a), node_id(&a));
        assert_ne!(node_id(&a), node_id(&b));
    }

    #[test]
    fn node_addr_records_round_trip() {
        let p = PeerId::random();
        let addrs: Vec<Multiaddr> = vec![
            "/ip4/127.0.0.1/tcp/9096".parse().unwrap(),
            "/ip4/10.0.0.1/tcp/9096".parse().unwrap(),
        ];
        let rec = with_p2p(&addrs, &p).join(" ");
        let (peer, back) = parse_node_addr(&rec).unwrap();
        assert_eq!(peer, p);
        assert_eq!(back, addrs);
        assert_eq!(peer_of(&rec), Some(p.to_string()));
        assert!(parse_node_addr("nonsense").is_none());
    }

    #[test]
    fn cids_are_normalized() {
        let v0 = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";
        assert_eq!(parse_cid(v0).unwrap(), v0);
        assert_eq!(parse_cid(&format!("/ipfs/{v0}/a/b")).unwrap(), v0);
        let e = parse_cid("nope").unwrap_err().to_string();
        assert!(e.contains("invalid CID"), "{e}");
    }
}
