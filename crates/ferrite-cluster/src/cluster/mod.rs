//! [`Cluster`]: one cluster peer as the daemon runs it — Raft over the
//! PSK-protected cluster host, the pin tracker, the allocator and the
//! background duties (metrics, re-allocation, expiry). The REST API, the
//! Pinning Service API and the CLI only talk to this.
//!
//! Its duties live in submodules, each adding methods to [`Cluster`]:
//! `membership` (address records, bootstrap and joins, `/id`, `/peers`),
//! `monitoring` (metrics and peer health), `leader` (expiry and
//! re-allocation), `pins` (the pin API) and `rpc` (messages between peers).
//!
//! Tests start a single-peer cluster over an offline node with
//! [`Cluster::start`] and [`ClusterOptions::for_tests`].

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use libp2p::{Multiaddr, PeerId};
use tokio::task::JoinHandle;

use crate::config::ClusterSection;
use crate::host::{ClusterHost, ClusterHostConfig};
use crate::node::{ClusterConfig, ClusterError, ClusterNode};
use crate::tracker::{LocalPeer, PinTracker, TrackerConfig};
use crate::types::{now_ns, Metric};
use crate::NodeId;

mod leader;
mod membership;
mod monitoring;
mod pins;
mod rpc;

pub use membership::peer_of;
use membership::with_p2p;
use rpc::HostTransport;

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

/// A running cluster peer. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    peer: PeerId,
    section: ClusterSection,
    allocate_by: Vec<String>,
    ping_interval: Duration,
    reallocate_after: Duration,
    ipfs: ferrite_node::Node,
    host: ClusterHost,
    raft: ClusterNode,
    tracker: PinTracker,
    local: LocalPeer,
    /// Latest metrics per peer and name.
    metrics: Mutex<HashMap<PeerId, BTreeMap<String, Metric>>>,
    /// When this process started (ns): peers never heard from count as seen
    /// then, so a fresh leader waits before re-allocating.
    started_ns: u64,
    tasks: Mutex<Vec<JoinHandle<()>>>,
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
        let (host, inbound) = ClusterHost::start(ClusterHostConfig {
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
            peer,
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
            allocate_by: section.allocate_by.clone(),
            ping_interval: section.ping_interval()?,
            reallocate_after: section.reallocate_after()?,
            section,
            ipfs: node,
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
    pub fn peer_id(&self) -> PeerId {
        self.inner.peer
    }

    /// The local IPFS node (for `/add`).
    pub fn ipfs_node(&self) -> &ferrite_node::Node {
        &self.inner.ipfs
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
}
