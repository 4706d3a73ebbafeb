//! Shared harness: N in-process nodes over a `MemRouter`, each with its own
//! redb directory.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use ferrite_cluster::{
    ClusterConfig, ClusterNode, ClusterPin, Command, MemRouter, NodeId, RaftPeer, ServerState,
};
use ferrite_ipld::{Cid, Multihash};

pub(crate) const WAIT: Duration = Duration::from_secs(20);

pub(crate) struct TestCluster {
    pub router: MemRouter,
    pub dir: tempfile::TempDir,
    pub nodes: BTreeMap<NodeId, ClusterNode>,
    pub config: ClusterConfig,
}

pub(crate) fn addr(id: NodeId) -> String {
    format!("mem://{id}")
}

pub(crate) fn test_config() -> ClusterConfig {
    ClusterConfig {
        heartbeat_interval: Duration::from_millis(100),
        election_timeout_min: Duration::from_millis(500),
        election_timeout_max: Duration::from_millis(1000),
        submit_timeout: Duration::from_secs(10),
        ..Default::default()
    }
}

impl TestCluster {
    pub(crate) fn new(router: MemRouter, config: ClusterConfig) -> Self {
        TestCluster {
            router,
            dir: tempfile::tempdir().unwrap(),
            nodes: BTreeMap::new(),
            config,
        }
    }

    pub(crate) fn node_dir(&self, id: NodeId) -> PathBuf {
        self.dir.path().join(format!("node-{id}"))
    }

    /// Starts (or restarts) node `id` from its directory and registers it.
    pub(crate) async fn start(&mut self, id: NodeId) -> ClusterNode {
        let node = ClusterNode::start(
            id,
            self.node_dir(id),
            self.router.transport(id),
            self.config.clone(),
        )
        .await
        .unwrap();
        self.router.register(node.clone());
        self.nodes.insert(id, node.clone());
        node
    }

    /// Starts `ids` and bootstraps them as one cluster.
    pub(crate) async fn bootstrap(ids: &[NodeId]) -> Self {
        Self::bootstrap_with(MemRouter::new(), test_config(), ids).await
    }

    pub(crate) async fn bootstrap_with(
        router: MemRouter,
        config: ClusterConfig,
        ids: &[NodeId],
    ) -> Self {
        let mut c = TestCluster::new(router, config);
        for &id in ids {
            c.start(id).await;
        }
        let members: BTreeMap<NodeId, RaftPeer> = ids
            .iter()
            .map(|&id| (id, RaftPeer { addr: addr(id) }))
            .collect();
        c.nodes[&ids[0]].initialize(members).await.unwrap();
        c.leader().await;
        c
    }

    /// Stops node `id` and makes it unreachable.
    pub(crate) async fn stop(&mut self, id: NodeId) {
        self.router.kill(id);
        let node = self.nodes.remove(&id).unwrap();
        node.shutdown().await.unwrap();
    }

    pub(crate) fn node(&self, id: NodeId) -> &ClusterNode {
        &self.nodes[&id]
    }

    /// Waits until all running nodes (or those in `among`) agree on one
    /// leader that is among them, and returns it.
    pub(crate) async fn leader_among(&self, among: &[NodeId]) -> NodeId {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let leaders: BTreeSet<Option<NodeId>> = among
                .iter()
                .map(|id| self.nodes[id].metrics().leader)
                .collect();
            if leaders.len() == 1 {
                if let Some(Some(l)) = leaders.first() {
                    if among.contains(l) && self.nodes[l].metrics().state == ServerState::Leader {
                        return *l;
                    }
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no agreed leader among {among:?}: {leaders:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) async fn leader(&self) -> NodeId {
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        self.leader_among(&ids).await
    }

    /// Waits until every node in `ids` has applied the leader's whole log
    /// and returns their (identical) pinsets. Uses the log index, not the
    /// leader's applied metric, which may be published after the client
    /// already got its answer.
    pub(crate) async fn converge(&self, leader: NodeId, ids: &[NodeId]) -> Vec<ClusterPin> {
        let target = self.nodes[&leader].metrics().last_log_index.unwrap();
        let mut first: Option<Vec<ClusterPin>> = None;
        for id in ids.iter().chain(std::iter::once(&leader)) {
            let n = &self.nodes[id];
            n.wait_applied(target, WAIT).await.unwrap();
            let pins = n.pins().await.unwrap();
            match &first {
                None => first = Some(pins),
                Some(f) => assert!(
                    f == &pins,
                    "node {id} diverges: {} vs {} pins",
                    pins.len(),
                    f.len()
                ),
            }
        }
        first.unwrap_or_default()
    }
}

/// A distinct, valid CID per `i` (an identity multihash of `i`).
pub(crate) fn test_cid(i: usize) -> Cid {
    let digest = Multihash::wrap(0x00, &(i as u64).to_be_bytes()).expect("8-byte identity digest");
    Cid::new_v1(0x55, digest)
}

pub(crate) fn pin(i: usize) -> ClusterPin {
    let mut p = ClusterPin::new(test_cid(i));
    p.name = format!("pin {i}");
    p.timestamp = 1_700_000_000 + i as u64;
    p.metadata.insert("source".into(), "test".into());
    p
}

/// `count` pins starting at `start`, `per` per log entry.
pub(crate) fn batches(start: usize, count: usize, per: usize) -> Vec<Command> {
    (start..start + count)
        .collect::<Vec<_>>()
        .chunks(per)
        .map(|c| Command::Batch(c.iter().map(|&i| Command::Pin(pin(i))).collect()))
        .collect()
}

pub(crate) fn cids(pins: &[ClusterPin]) -> BTreeSet<String> {
    pins.iter().map(|p| p.cid.to_string()).collect()
}
