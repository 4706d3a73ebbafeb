//! The pin API: pin, unpin, allocations, status and recover (cluster-wide
//! or on this peer only), and feeding committed pinset changes to the
//! tracker.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use ferrite_ipld::Cid;
use futures::future::join_all;

use super::rpc::{PeerRequest, PeerResponse};
use super::{Cluster, PEER_QUERY_TIMEOUT};
use crate::allocator;
use crate::node::ClusterError;
use crate::pinset::{ClusterPin, Command};
use crate::store::StateChange;
use crate::types::{now_ms, GlobalPinInfo, PinInfo, PinOptions, TrackerStatus};

impl Cluster {
    /// Feeds applied pinset changes to the tracker.
    pub(super) async fn follow_changes(
        self,
        mut rx: tokio::sync::mpsc::UnboundedReceiver<StateChange>,
    ) {
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
        let allocations = self
            .allocate_live(&allocator::Request {
                rmin,
                rmax,
                current: &current,
                user_allocations: &opts.user_allocations,
            })
            .await?;
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

    /// Allocates among the candidates, making sure the peers chosen are
    /// alive: a chosen peer this host is not connected to (a peer killed a
    /// moment ago still has valid metrics, but its connections are gone) is
    /// dialed first; if that fails it stops being a candidate and the
    /// allocation is made again without it.
    async fn allocate_live(
        &self,
        req: &allocator::Request<'_>,
    ) -> Result<Vec<libp2p::PeerId>, ClusterError> {
        let probe_timeout = self.inner.ping_interval.min(Duration::from_secs(2));
        for _ in 0..3 {
            let allocations = self.allocate_waiting(req).await?;
            if allocations.is_empty() {
                return Ok(allocations);
            }
            let connected = self.inner.host.connected_peers().await;
            let addrs: HashMap<_, _> = self.members().into_iter().collect();
            let probe = PeerRequest::Metrics(Vec::new());
            let unknown: Vec<_> = allocations
                .iter()
                .filter(|p| **p != self.inner.peer && !connected.contains(p))
                .map(|p| (*p, addrs.get(p).cloned().unwrap_or_default()))
                .collect();
            if unknown.is_empty() {
                return Ok(allocations);
            }
            let probes = unknown
                .into_iter()
                .map(|(p, a)| self.ask(p, a, &probe, probe_timeout));
            // A failed probe marks the peer unreachable (in the host's `call`).
            let failed = join_all(probes).await.iter().any(|r| r.is_err());
            if !failed {
                return Ok(allocations);
            }
        }
        allocator::allocate(req, &self.candidates(), &self.inner.allocate_by)
    }

    /// Allocates among the candidates; when there are too few only because
    /// members' metrics have not arrived yet (a peer that just joined, or
    /// this one just started), waits for them up to two ping intervals
    /// instead of failing at once.
    async fn allocate_waiting(
        &self,
        req: &allocator::Request<'_>,
    ) -> Result<Vec<libp2p::PeerId>, ClusterError> {
        let deadline = tokio::time::Instant::now() + 2 * self.inner.ping_interval;
        loop {
            let candidates = self.candidates();
            let result = allocator::allocate(req, &candidates, &self.inner.allocate_by);
            let need = req.rmin.max(1) as usize;
            match result {
                Err(e)
                    if tokio::time::Instant::now() < deadline
                        && self.might_become_candidates(candidates.len(), need) =>
                {
                    tracing::debug!("waiting for members' metrics: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => return other,
            }
        }
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

    fn global(&self, cid: Cid, pin: Option<&ClusterPin>) -> GlobalPinInfo {
        GlobalPinInfo {
            cid,
            name: pin.map(|p| p.name.clone()).unwrap_or_default(),
            allocations: pin.map(|p| p.allocations.clone()).unwrap_or_default(),
            metadata: pin.map(|p| p.metadata.clone()).unwrap_or_default(),
            created: pin.map(|p| p.timestamp).unwrap_or_default(),
            peer_map: BTreeMap::new(),
        }
    }

    /// Statuses from every member (or only this peer): `query` is sent to
    /// the others; unreachable peers yield `cluster_error` for `cids`.
    async fn gather(&self, local: bool, query: PeerRequest, cids: &[Cid]) -> Vec<PinInfo> {
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
                    cid: *c,
                    peer: p,
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
        let all: Option<HashMap<Cid, ClusterPin>> = if infos.len() > 256 {
            let pins = self.inner.raft.pins().await?;
            Some(pins.into_iter().map(|p| (p.cid, p)).collect())
        } else {
            None
        };
        let mut out: HashMap<Cid, GlobalPinInfo> = HashMap::new();
        for i in infos {
            let g = match out.get_mut(&i.cid) {
                Some(g) => g,
                None => {
                    let pin = match &all {
                        Some(m) => m.get(&i.cid).cloned(),
                        None => self.inner.raft.pin(&i.cid)?,
                    };
                    out.entry(i.cid)
                        .or_insert_with(|| self.global(i.cid, pin.as_ref()))
                }
            };
            g.peer_map.insert(i.peer, i);
        }
        let mut out: Vec<GlobalPinInfo> = out.into_values().collect();
        // By CID text, the order the API has always listed them in.
        out.sort_by_cached_key(|g| g.cid.to_string());
        Ok(out)
    }

    /// `/pins/{cid}`: status on every peer (`local`: this peer only).
    pub async fn status(&self, cid: &str, local: bool) -> Result<GlobalPinInfo, ClusterError> {
        let cid = parse_cid(cid)?;
        let query = PeerRequest::Status {
            cids: Some(vec![cid]),
        };
        self.one_cid(cid, local, query).await
    }

    /// Runs a one-CID query on the peers and assembles its global status.
    async fn one_cid(
        &self,
        cid: Cid,
        local: bool,
        query: PeerRequest,
    ) -> Result<GlobalPinInfo, ClusterError> {
        let pin = self.inner.raft.pin(&cid)?;
        let infos = self.gather(local, query, &[cid]).await;
        let mut g = self.global(cid, pin.as_ref());
        for i in infos.into_iter().filter(|i| i.cid == cid) {
            g.peer_map.insert(i.peer, i);
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
        let cids = cids
            .iter()
            .map(|c| parse_cid(c))
            .collect::<Result<Vec<_>, _>>()?;
        let query = PeerRequest::Status {
            cids: (!cids.is_empty()).then(|| cids.clone()),
        };
        let infos = self.gather(local, query, &cids).await;
        let mut all = self.group(infos).await?;
        if !filter.is_empty() {
            all.retain(|g| g.peer_map.values().any(|i| filter.contains(&i.status)));
        }
        Ok(all)
    }

    /// `/pins/{cid}/recover`: retries a failed pin/unpin now, then reports.
    pub async fn recover(&self, cid: &str, local: bool) -> Result<GlobalPinInfo, ClusterError> {
        let cid = parse_cid(cid)?;
        let query = PeerRequest::Recover { cid: Some(cid) };
        self.one_cid(cid, local, query).await
    }

    /// `/pins/recover`: recovers every CID in an error state.
    pub async fn recover_all(&self, local: bool) -> Result<Vec<GlobalPinInfo>, ClusterError> {
        let infos = self
            .gather(local, PeerRequest::Recover { cid: None }, &[])
            .await;
        self.group(infos).await
    }
}

/// Parses a CID (or `/ipfs/<cid>[/path]`) given to the API.
pub(super) fn parse_cid(s: &str) -> Result<Cid, ClusterError> {
    let t = s.trim().trim_start_matches("/ipfs/");
    let t = t.split('/').next().unwrap_or(t);
    t.parse::<Cid>()
        .map_err(|e| ClusterError::Invalid(format!("invalid CID {s:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cids_are_normalized() {
        let v0 = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";
        assert_eq!(parse_cid(v0).unwrap().to_string(), v0);
        assert_eq!(
            parse_cid(&format!("/ipfs/{v0}/a/b")).unwrap().to_string(),
            v0
        );
        let e = parse_cid("nope").unwrap_err().to_string();
        assert!(e.contains("invalid CID"), "{e}");
    }
}
