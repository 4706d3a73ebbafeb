//! Monitoring: the metrics each peer publishes (free space, tags, and
//! `ping`, the liveness signal), the latest ones heard from the others, and
//! from them the healthy peers allocation may use.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use libp2p::PeerId;

use super::rpc::PeerRequest;
use super::Cluster;
use crate::allocator::Candidate;
use crate::types::{now_ns, Metric};

impl Cluster {
    fn lock_metrics(&self) -> std::sync::MutexGuard<'_, HashMap<PeerId, BTreeMap<String, Metric>>> {
        self.inner.metrics.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn store_metrics(&self, ms: Vec<Metric>) {
        let now = now_ns();
        let mut all = self.lock_metrics();
        for mut m in ms {
            m.received_ns = now;
            all.entry(m.peer).or_default().insert(m.name.clone(), m);
        }
    }

    fn own_metrics(&self) -> Vec<Metric> {
        let now = now_ns();
        let expire = now + 2 * self.inner.ping_interval.as_nanos() as u64;
        let free = match self.inner.ipfs.repo_stat() {
            Ok(s) => s.storage_max.saturating_sub(s.repo_size),
            Err(_) => 0,
        };
        let metric = |name: String, value: String, weight: i64| Metric {
            name,
            peer: self.inner.peer,
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
    pub(super) async fn publish_metrics(self) {
        let mut tick = tokio::time::interval(self.inner.ping_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Peers a send to is still in flight: one slow or unreachable peer
        // (a send waits up to a ping interval) must not delay the metrics
        // to the others, which would let them expire there (their TTL is
        // two intervals), so each send runs on its own and a peer gets the
        // next one only once the previous one is done.
        let in_flight: Arc<Mutex<HashSet<PeerId>>> = Arc::default();
        loop {
            tick.tick().await;
            let ms = self.own_metrics();
            self.store_metrics(ms.clone());
            for (p, addrs) in self.members() {
                if p == self.inner.peer
                    || !in_flight
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(p)
                {
                    continue;
                }
                let me = self.clone();
                let in_flight = in_flight.clone();
                let req = PeerRequest::Metrics(ms.clone());
                tokio::spawn(async move {
                    if let Err(e) = me.ask(p, addrs, &req, me.inner.ping_interval).await {
                        tracing::debug!("metrics to {p}: {e}");
                    }
                    in_flight
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&p);
                });
            }
        }
    }

    /// Whether waiting could make `need` candidates available: members this
    /// peer has no valid metrics from yet (just joined, or not heard from
    /// since this peer started) and has not failed to reach.
    pub(super) fn might_become_candidates(&self, have: usize, need: usize) -> bool {
        let now = now_ns();
        let unreachable = self.inner.host.unreachable();
        let all = self.lock_metrics();
        let waiting = self
            .members()
            .into_iter()
            .filter(|(p, _)| !unreachable.contains(p))
            .filter(|(p, _)| {
                !all.get(p)
                    .and_then(|m| m.get("freespace"))
                    .is_some_and(|m| m.valid_at(now))
            })
            .count();
        have + waiting >= need
    }

    /// Healthy peers that allocation can use: members whose metrics are
    /// valid and were received within three ping intervals (by this peer's
    /// clock), and whose last request from here did not fail (the host's
    /// [`unreachable`](crate::host::ClusterHost::unreachable) peers).
    pub(super) fn candidates(&self) -> Vec<Candidate> {
        let now = now_ns();
        let fresh_after = now.saturating_sub(3 * self.inner.ping_interval.as_nanos() as u64);
        let members: BTreeSet<PeerId> = self.members().into_iter().map(|(p, _)| p).collect();
        let unreachable = self.inner.host.unreachable();
        let all = self.lock_metrics();
        members
            .into_iter()
            .filter(|p| !unreachable.contains(p))
            .filter_map(|p| {
                let ms = all.get(&p)?;
                let free = ms
                    .get("freespace")
                    .filter(|m| m.valid_at(now) && m.received_ns >= fresh_after)?;
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
    pub(super) fn down_for(&self, peer: &PeerId, now: u64) -> Duration {
        let all = self.lock_metrics();
        let expired_at = match all.get(peer).and_then(|m| m.get("ping")) {
            Some(m) if m.valid_at(now) => return Duration::ZERO,
            Some(m) => m.expire_ns,
            None => self.inner.started_ns,
        };
        Duration::from_nanos(now.saturating_sub(expired_at))
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
        out.sort_by_key(|m| m.peer);
        out
    }

    /// `/health/graph`-style view: peer ID -> peers it is connected to
    /// (this peer's view only).
    pub async fn connection_graph(&self) -> BTreeMap<String, Vec<String>> {
        let peers = self.inner.host.connected_peers().await;
        let mut g = BTreeMap::new();
        g.insert(
            self.inner.peer.to_string(),
            peers.iter().map(|p| p.to_string()).collect(),
        );
        g
    }
}
