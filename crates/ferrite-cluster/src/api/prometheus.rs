//! The cluster's Prometheus figures, served with the node's at
//! `/debug/metrics/prometheus`, under IPFS Cluster's names
//! (`ipfscluster_pins`, `ipfscluster_peers`, `ipfscluster_pins_pin_queued`,
//! `…_pinning`, `…_pin_error`) plus the Raft state IPFS Cluster's CRDT mode
//! does not have (`ipfscluster_raft_*`). Every figure is a counter the
//! tracker or Raft keeps, or one B-tree length: a scrape costs the same
//! with 100,000 pins as with ten.

use std::future::Future;
use std::pin::Pin;

use ferrite_http::metrics::{Sample, Source};

use crate::Cluster;

/// The cluster as a metrics source.
pub struct ClusterSource(pub Cluster);

impl Source for ClusterSource {
    fn samples(&self) -> Pin<Box<dyn Future<Output = Vec<Sample>> + Send + '_>> {
        Box::pin(async move { samples(&self.0) })
    }
}

fn samples(c: &Cluster) -> Vec<Sample> {
    let m = c.raft().metrics();
    let mut out = Vec::new();
    if let Ok(n) = c.raft().pin_count() {
        out.push(Sample::gauge(
            "ipfscluster_pins",
            "Total number of cluster pins",
            n as f64,
        ));
    }
    out.push(Sample::gauge(
        "ipfscluster_peers",
        "Number of cluster peers (Raft voters and learners)",
        (m.voters.len() + m.learners.len()) as f64,
    ));
    let counts = c.tracker_counts();
    let count = |s: &str| counts.get(s).copied().unwrap_or(0) as f64;
    out.extend([
        Sample::gauge(
            "ipfscluster_pins_pin_queued",
            "Pins of this peer queued for pinning",
            count("pin_queued"),
        ),
        Sample::gauge(
            "ipfscluster_pins_pinning",
            "Pins of this peer being pinned",
            count("pinning"),
        ),
        Sample::gauge(
            "ipfscluster_pins_pin_error",
            "Pins of this peer in error",
            count("pin_error"),
        ),
    ]);
    for (status, n) in &counts {
        out.push(
            Sample::gauge(
                "ipfscluster_tracker_pins",
                "Pins this peer's tracker holds, by status",
                *n as f64,
            )
            .label("status", status.clone()),
        );
    }
    let leader = m.leader.is_some_and(|l| l == m.id);
    out.extend([
        Sample::gauge(
            "ipfscluster_raft_leader",
            "1 when this peer is the Raft leader",
            if leader { 1.0 } else { 0.0 },
        ),
        Sample::gauge("ipfscluster_raft_term", "Current Raft term", m.term as f64),
        Sample::gauge(
            "ipfscluster_raft_last_log_index",
            "Index of the last Raft log entry",
            m.last_log_index.unwrap_or(0) as f64,
        ),
        Sample::gauge(
            "ipfscluster_raft_applied_index",
            "Index of the last Raft log entry applied to the pinset",
            m.last_applied.unwrap_or(0) as f64,
        ),
    ]);
    out
}
