//! The pin tracker: turns the replicated pinset into local pins on this
//! peer's IPFS node, like IPFS Cluster's stateless pin tracker.
//!
//! [`PinTracker::track`] / [`PinTracker::untrack`] only record what is wanted
//! in an in-memory map and wake a dispatcher task (they run on the Raft apply
//! path, thousands per second). The dispatcher hands work to at most
//! `concurrency` jobs on the blocking pool:
//!
//! * **pin jobs** take up to [`MAX_BATCH`] queued CIDs, check the local pin
//!   store (already pinned: done, nothing fetched), verify each DAG is
//!   complete locally and commit all good ones in one pin-store transaction;
//!   a bad CID fails alone.
//! * **fetch jobs** (online node only) fetch one CID whose blocks are missing,
//!   then send it back to a pin job, so a stalled fetch never holds up other
//!   CIDs and fetched pins still get batched commits.
//! * **release jobs** remove the local pins the cluster made.
//!
//! `<dir>/tracker.redb` records which local pins the cluster created
//! ("managed"): only those are ever removed, so a pin the user made by hand
//! survives an unpin, and managed pins left over from before a restart are
//! released by the first [`PinTracker::sync`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ferrite_ipld::Cid;
use ferrite_node::Node;
use ferrite_node::{Pin, PinBatch, PinMode as StorePinMode};
use libp2p::PeerId;
use redb::{Database, ReadableTable, TableDefinition};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinHandle;

use crate::node::ClusterError;
use crate::pinset::{ClusterPin, PinMode};
use crate::types::{now_ms, PinInfo, TrackerStatus};

/// CID text → 1: local pins this tracker created.
const MANAGED: TableDefinition<&str, u8> = TableDefinition::new("managed");

/// Most CIDs one pin or release job handles (one pin-store commit each).
pub const MAX_BATCH: usize = 128;

/// Tuning of the [`PinTracker`].
#[derive(Debug, Clone)]
pub struct TrackerConfig {
    /// Pin/unpin jobs running at once (default 16).
    pub concurrency: usize,
    /// Back-off after the first failure (default 2 s), doubled per failure.
    pub retry_base: Duration,
    /// Cap of the back-off (default 5 min).
    pub retry_max: Duration,
    /// Automatic attempts before a CID stays in `pin_error`/`unpin_error`
    /// until [`PinTracker::recover`] (default 8; 0 = retry forever).
    pub max_attempts: u32,
    /// How often pinned CIDs are checked to still be pinned locally
    /// (default 60 s).
    pub check_interval: Duration,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            concurrency: 16,
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(300),
            max_attempts: 8,
            check_interval: Duration::from_secs(60),
        }
    }
}

/// Who "we" are, to fill [`PinInfo`]'s peer fields.
#[derive(Debug, Clone)]
pub struct LocalPeer {
    /// Cluster peer ID (what `ClusterPin::allocations` lists).
    pub peer: PeerId,
    /// Human name of this peer.
    pub peername: String,
    /// Peer ID of the local IPFS node.
    pub ipfs_peer_id: String,
    /// Swarm addresses of the local IPFS node.
    pub ipfs_addresses: Vec<String>,
}

/// The local pin tracker of one cluster peer. Cheap to clone; the workers
/// stop on [`PinTracker::shutdown`] or when the last clone is dropped.
#[derive(Clone)]
pub struct PinTracker {
    inner: Arc<Inner>,
    _alive: Arc<StopOnDrop>,
}

/// Signals the workers to stop once no [`PinTracker`] handle is left
/// (the tasks themselves hold `Inner`, not this).
struct StopOnDrop(Arc<watch::Sender<bool>>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(true);
    }
}

struct Inner {
    node: Node,
    db: Database,
    me: LocalPeer,
    cfg: TrackerConfig,
    state: Mutex<State>,
    /// Wakes the dispatcher: new work or a finished job.
    wake: Notify,
    /// Bounds running jobs to `cfg.concurrency`.
    slots: Arc<Semaphore>,
    stop: Arc<watch::Sender<bool>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// What the shared state asks of this peer for one CID.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Want {
    /// Keep it pinned locally.
    Pin { recursive: bool, name: String },
    /// Do not keep a cluster pin; once released the status is `done`
    /// (`remote`, or `unpinned` for expired or removed pins).
    Release { done: TrackerStatus },
}

/// Where a pin stands with respect to fetching missing blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fetch {
    /// Not tried yet: check the local store first.
    No,
    /// Blocks are missing: a fetch job must run.
    Needed,
    /// Fetched: a pin job commits it (missing blocks are then an error).
    Done,
}

struct Entry {
    want: Want,
    /// Whether the CID is in the shared state (false: being unpinned, the
    /// entry goes away once released).
    in_state: bool,
    /// Bumped whenever `want` changes, so results of a job started for an
    /// older want are not mistaken for the current one.
    version: u64,
    status: TrackerStatus,
    error: String,
    attempts: u32,
    timestamp_ms: u64,
    /// A job is running for it.
    busy: bool,
    /// Token of its pending queue item (0 = not queued); stale items whose
    /// token differs are skipped.
    token: u64,
    fetch: Fetch,
}

impl Entry {
    fn new() -> Entry {
        Entry {
            want: Want::Release {
                done: TrackerStatus::Unpinned,
            },
            in_state: false,
            version: 0,
            status: TrackerStatus::Unpinned,
            error: String::new(),
            attempts: 0,
            timestamp_ms: now_ms(),
            busy: false,
            token: 0,
            fetch: Fetch::No,
        }
    }

    fn set_status(&mut self, s: TrackerStatus) {
        if self.status != s {
            self.status = s;
            self.timestamp_ms = now_ms();
        }
    }
}

#[derive(Default)]
struct State {
    entries: HashMap<Cid, Entry>,
    /// Mirror of the `managed` table.
    managed: HashSet<Cid>,
    /// Work to do now, one queue per [`Kind`]: (cid, token).
    ready: [VecDeque<(Cid, u64)>; 3],
    /// Kind whose queue is served first next time.
    turn: usize,
    /// Back-off retries: (due, cid, token).
    delayed: BinaryHeap<Reverse<(Instant, Cid, u64)>>,
    next_token: u64,
}

/// Kind of work a queued CID needs (also its queue index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pin = 0,
    Fetch = 1,
    Release = 2,
}

const KINDS: [Kind; 3] = [Kind::Pin, Kind::Fetch, Kind::Release];

struct PinItem {
    cid: Cid,
    version: u64,
    recursive: bool,
    name: String,
    managed: bool,
    fetched: bool,
}

struct ReleaseItem {
    cid: Cid,
    version: u64,
}

enum Job {
    Pin(Vec<PinItem>),
    Fetch(PinItem),
    Release(Vec<ReleaseItem>),
}

/// Outcome of one CID of a job.
enum Outcome {
    /// Pinned locally; `newly_managed` when this job created the pin.
    Pinned { newly_managed: bool },
    /// Blocks missing locally, the node is online: fetch them.
    NeedFetch,
    /// The fetch finished: commit the pin.
    Fetched,
    /// The cluster's local pin is gone.
    Released,
    /// The operation failed with this message.
    Failed(String),
}

impl State {
    fn enqueue(&mut self, cid: &Cid, at: Option<Instant>) {
        let Some(e) = self.entries.get_mut(cid) else {
            return;
        };
        // Never reused, even across removed and re-created entries.
        self.next_token += 1;
        let token = self.next_token;
        e.token = token;
        match at {
            Some(t) if t > Instant::now() => self.delayed.push(Reverse((t, *cid, token))),
            _ => {
                if let Some(k) = self.item_kind(cid, token) {
                    self.ready[k as usize].push_back((*cid, token));
                }
            }
        }
    }

    /// Decides the next step of an idle entry from its want.
    fn plan(&mut self, cid: &Cid) {
        let managed = self.managed.contains(cid);
        let Some(e) = self.entries.get_mut(cid) else {
            return;
        };
        if e.busy {
            return; // re-planned when the job finishes
        }
        match e.want.clone() {
            Want::Pin { .. } => {
                if e.status != TrackerStatus::UnexpectedlyUnpinned {
                    e.set_status(TrackerStatus::PinQueued);
                }
                self.enqueue(cid, None);
            }
            Want::Release { done } => {
                if managed {
                    e.set_status(TrackerStatus::UnpinQueued);
                    self.enqueue(cid, None);
                } else if e.in_state {
                    e.token = 0;
                    e.error.clear();
                    e.set_status(done);
                } else {
                    self.entries.remove(cid);
                }
            }
        }
    }

    /// Records a new want (no-op when unchanged).
    fn set_want(&mut self, cid: &Cid, want: Want, in_state: bool) {
        let e = self.entries.entry(*cid).or_insert_with(Entry::new);
        if e.version > 0 && e.want == want && e.in_state == in_state {
            return;
        }
        e.want = want;
        e.in_state = in_state;
        e.version += 1;
        e.attempts = 0;
        e.error.clear();
        e.fetch = Fetch::No;
        if e.status == TrackerStatus::UnexpectedlyUnpinned {
            e.set_status(TrackerStatus::PinQueued);
        }
        self.plan(cid);
    }

    fn track(&mut self, pin: &ClusterPin, me: &PeerId) {
        let now_s = now_ms() / 1000;
        let want = if pin.expire_at.is_some_and(|t| t <= now_s) {
            Want::Release {
                done: TrackerStatus::Unpinned,
            }
        } else if pin.allocations.is_empty() || pin.allocations.contains(me) {
            Want::Pin {
                recursive: pin.mode == PinMode::Recursive,
                name: pin.name.clone(),
            }
        } else {
            Want::Release {
                done: TrackerStatus::Remote,
            }
        };
        self.set_want(&pin.cid, want, true);
    }

    fn untrack(&mut self, cid: &Cid) {
        if self.entries.contains_key(cid) || self.managed.contains(cid) {
            let want = Want::Release {
                done: TrackerStatus::Unpinned,
            };
            self.set_want(cid, want, false);
        }
    }

    fn kind_of(&self, cid: &Cid, e: &Entry) -> Option<Kind> {
        match e.want {
            Want::Pin { .. } if e.fetch == Fetch::Needed => Some(Kind::Fetch),
            Want::Pin { .. } => Some(Kind::Pin),
            Want::Release { .. } if self.managed.contains(cid) => Some(Kind::Release),
            Want::Release { .. } => None,
        }
    }

    /// The current kind of work of a queue item, `None` when it is stale.
    fn item_kind(&self, cid: &Cid, token: u64) -> Option<Kind> {
        let e = self.entries.get(cid)?;
        if e.busy || e.token != token {
            return None;
        }
        self.kind_of(cid, e)
    }

    /// Takes the next job off the queues (kinds in turn, so fetches cannot
    /// starve commits or releases), marking its entries busy.
    fn next_job(&mut self, concurrency: usize) -> Option<Job> {
        let now = Instant::now();
        while let Some(Reverse((t, _, _))) = self.delayed.peek() {
            if *t > now {
                break;
            }
            let Some(Reverse((_, cid, token))) = self.delayed.pop() else {
                break;
            };
            if let Some(k) = self.item_kind(&cid, token) {
                self.ready[k as usize].push_back((cid, token));
            }
        }
        for step in 0..KINDS.len() {
            let k = KINDS[(self.turn + step) % KINDS.len()];
            if let Some(job) = self.take(k, concurrency) {
                self.turn = (k as usize + 1) % KINDS.len();
                return Some(job);
            }
        }
        None
    }

    /// Builds a job of kind `k` from its queue.
    fn take(&mut self, k: Kind, concurrency: usize) -> Option<Job> {
        // Big backlogs make big batches (one commit for many pins), a
        // trickle goes out one by one without waiting. Fetches go alone so a
        // stalled one holds up nothing else.
        let limit = match k {
            Kind::Fetch => 1,
            _ => (self.ready[k as usize].len() / concurrency.max(1)).clamp(1, MAX_BATCH),
        };
        let mut pins = Vec::new();
        let mut releases = Vec::new();
        while pins.len() + releases.len() < limit {
            let Some((cid, token)) = self.ready[k as usize].pop_front() else {
                break;
            };
            match self.item_kind(&cid, token) {
                None => continue,
                Some(cur) if cur != k => {
                    // Its need changed since it was queued: move it.
                    self.ready[cur as usize].push_back((cid, token));
                    continue;
                }
                Some(_) => {}
            }
            let managed = self.managed.contains(&cid);
            let Some(e) = self.entries.get_mut(&cid) else {
                continue;
            };
            e.busy = true;
            e.token = 0;
            match e.want.clone() {
                Want::Pin { recursive, name } => {
                    e.set_status(TrackerStatus::Pinning);
                    pins.push(PinItem {
                        recursive,
                        name,
                        managed,
                        fetched: e.fetch == Fetch::Done,
                        version: e.version,
                        cid,
                    });
                }
                Want::Release { .. } => {
                    e.set_status(TrackerStatus::Unpinning);
                    releases.push(ReleaseItem {
                        version: e.version,
                        cid,
                    });
                }
            }
        }
        match k {
            _ if pins.is_empty() && releases.is_empty() => None,
            Kind::Pin => Some(Job::Pin(pins)),
            Kind::Fetch => pins.pop().map(Job::Fetch),
            Kind::Release => Some(Job::Release(releases)),
        }
    }

    /// Applies the outcome of one CID of a finished job.
    fn complete(&mut self, cid: &Cid, version: u64, outcome: Outcome, cfg: &TrackerConfig) {
        // The world changed whatever the entry wants now: keep the managed
        // set true to the pin store.
        match outcome {
            Outcome::Pinned {
                newly_managed: true,
            } => {
                self.managed.insert(*cid);
            }
            Outcome::Released => {
                self.managed.remove(cid);
            }
            _ => {}
        }
        let Some(e) = self.entries.get_mut(cid) else {
            return;
        };
        e.busy = false;
        if e.version != version {
            e.fetch = Fetch::No;
            self.plan(cid);
            return;
        }
        let failed = |e: &mut Entry, msg: String, status| {
            e.fetch = Fetch::No;
            e.attempts = e.attempts.saturating_add(1);
            e.error = msg;
            e.status = status;
            e.timestamp_ms = now_ms();
            if cfg.max_attempts == 0 || e.attempts < cfg.max_attempts {
                let shift = (e.attempts - 1).min(20);
                let delay = cfg.retry_base.saturating_mul(1 << shift).min(cfg.retry_max);
                Some(Instant::now() + delay)
            } else {
                None
            }
        };
        match outcome {
            Outcome::Pinned { .. } => {
                e.fetch = Fetch::No;
                e.error.clear();
                e.set_status(TrackerStatus::Pinned);
            }
            Outcome::NeedFetch => {
                e.fetch = Fetch::Needed;
                self.enqueue(cid, None);
            }
            Outcome::Fetched => {
                e.fetch = Fetch::Done;
                self.enqueue(cid, None);
            }
            Outcome::Released => {
                e.error.clear();
                self.plan(cid);
            }
            Outcome::Failed(msg) => {
                let status = match e.want {
                    Want::Pin { .. } => TrackerStatus::PinError,
                    Want::Release { .. } => TrackerStatus::UnpinError,
                };
                if let Some(at) = failed(e, msg, status) {
                    self.enqueue(cid, Some(at));
                }
            }
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn info(&self, cid: &Cid, e: Option<&Entry>) -> PinInfo {
        PinInfo {
            cid: *cid,
            peer: self.me.peer,
            peername: self.me.peername.clone(),
            ipfs_peer_id: self.me.ipfs_peer_id.clone(),
            ipfs_peer_addresses: self.me.ipfs_addresses.clone(),
            status: e.map_or(TrackerStatus::Unpinned, |e| e.status),
            timestamp_ms: e.map_or_else(now_ms, |e| e.timestamp_ms),
            error: e.map(|e| e.error.clone()).unwrap_or_default(),
            attempt_count: e.map_or(0, |e| e.attempts),
        }
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Records (or forgets) CIDs as pinned by the cluster, in one transaction.
    fn set_managed(&self, cids: &[Cid], managed: bool) -> Result<(), String> {
        let tx = self.db.begin_write().map_err(db_err)?;
        {
            let mut t = tx.open_table(MANAGED).map_err(db_err)?;
            for c in cids {
                let key = c.to_string();
                if managed {
                    t.insert(key.as_str(), 1u8).map_err(db_err)?;
                } else {
                    t.remove(key.as_str()).map_err(db_err)?;
                }
            }
        }
        tx.commit().map_err(db_err)
    }

    /// Pin job: fast path for existing pins, local completeness check,
    /// then one managed-table and one pin-store commit for all good CIDs.
    fn run_pins(&self, items: &[PinItem]) -> Vec<Outcome> {
        // GC waits until the pins are stored, so checked blocks stay.
        self.node.pin_batch(|batch| self.run_pins_in(batch, items))
    }

    fn run_pins_in(&self, batch: &PinBatch<'_>, items: &[PinItem]) -> Vec<Outcome> {
        let online = self.node.network().is_some();
        let mut out: Vec<Option<Outcome>> = Vec::with_capacity(items.len());
        let mut commit: Vec<(usize, Cid, bool)> = Vec::new();
        for (i, it) in items.iter().enumerate() {
            let cid = it.cid;
            let existing = match batch.get(&cid) {
                Ok(p) => p,
                Err(e) => {
                    out.push(Some(Outcome::Failed(e.to_string())));
                    continue;
                }
            };
            if let Some(p) = &existing {
                if p.mode == StorePinMode::Recursive || !it.recursive {
                    // Already pinned well enough: nothing to fetch. Only a
                    // renamed cluster pin is written again (the user's own
                    // pins keep their names).
                    if it.managed && p.name != it.name {
                        commit.push((i, cid, true));
                        out.push(None);
                    } else {
                        out.push(Some(Outcome::Pinned {
                            newly_managed: false,
                        }));
                    }
                    continue;
                }
            }
            match batch.missing(&cid, it.recursive) {
                Ok(None) => {
                    // A pin the user made (here: a direct one being upgraded)
                    // stays theirs, so it is never removed by the cluster.
                    let mark = existing.is_none() || it.managed;
                    commit.push((i, cid, mark));
                    out.push(None);
                }
                Ok(Some(_)) if online && !it.fetched => out.push(Some(Outcome::NeedFetch)),
                Ok(Some(m)) => out.push(Some(Outcome::Failed(
                    ferrite_node::Error::NotFound(m).to_string(),
                ))),
                Err(e) => out.push(Some(Outcome::Failed(e.to_string()))),
            }
        }
        if !commit.is_empty() {
            let result = self.commit_pins(batch, items, &commit);
            for (i, _, mark) in &commit {
                out[*i] = Some(match &result {
                    Ok(()) => Outcome::Pinned {
                        newly_managed: *mark && !items[*i].managed,
                    },
                    Err(e) => Outcome::Failed(e.clone()),
                });
            }
            if result.is_ok() {
                if let Some(net) = self.node.network() {
                    net.provide_later(commit.iter().map(|(_, c, _)| *c).collect());
                }
            }
        }
        out.into_iter()
            .map(|o| o.unwrap_or_else(|| Outcome::Failed("internal: no outcome".into())))
            .collect()
    }

    fn commit_pins(
        &self,
        batch: &PinBatch<'_>,
        items: &[PinItem],
        commit: &[(usize, Cid, bool)],
    ) -> Result<(), String> {
        // Managed first: a crash in between leaves a mark without a pin
        // (harmless: releasing a missing pin succeeds), never a cluster pin
        // that would look like the user's.
        let marks: Vec<Cid> = commit
            .iter()
            .filter(|(i, _, mark)| *mark && !items[*i].managed)
            .map(|(_, cid, _)| *cid)
            .collect();
        if !marks.is_empty() {
            self.set_managed(&marks, true)?;
        }
        let pins: Vec<Pin> = commit
            .iter()
            .map(|(i, cid, _)| Pin {
                cid: *cid,
                mode: if items[*i].recursive {
                    StorePinMode::Recursive
                } else {
                    StorePinMode::Direct
                },
                name: items[*i].name.clone(),
            })
            .collect();
        batch.insert(&pins).map_err(|e| e.to_string())
    }

    /// Fetch job: brings the missing blocks of one CID over Bitswap.
    fn run_fetch(&self, it: &PinItem) -> Outcome {
        let cid = it.cid;
        let r = if it.recursive {
            self.node.fetch_dag(&cid, &mut |_| {})
        } else {
            self.node
                .block_get(&cid)
                .and_then(|_| match self.node.network() {
                    Some(n) => n.flush(),
                    None => Ok(()),
                })
        };
        match r {
            Ok(()) => Outcome::Fetched,
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }

    /// Release job: removes the cluster's local pins, then their marks.
    fn run_releases(&self, items: &[ReleaseItem]) -> Vec<Outcome> {
        let mut out = Vec::with_capacity(items.len());
        let mut done = Vec::new();
        for (i, it) in items.iter().enumerate() {
            match self.node.pin_remove(&it.cid) {
                Ok(_) => {
                    done.push(i);
                    out.push(Outcome::Released);
                }
                Err(e) => out.push(Outcome::Failed(e.to_string())),
            }
        }
        if !done.is_empty() {
            let cids: Vec<Cid> = done.iter().map(|i| items[*i].cid).collect();
            if let Err(e) = self.set_managed(&cids, false) {
                for i in done {
                    out[i] = Outcome::Failed(e.clone());
                }
            }
        }
        out
    }

    /// Runs `job` on the blocking pool and records its outcomes.
    async fn run_job(self: Arc<Self>, job: Job) {
        let keys: Vec<(Cid, u64)> = match &job {
            Job::Pin(items) => items.iter().map(|i| (i.cid, i.version)).collect(),
            Job::Fetch(it) => vec![(it.cid, it.version)],
            Job::Release(items) => items.iter().map(|i| (i.cid, i.version)).collect(),
        };
        let me = self.clone();
        let res = tokio::task::spawn_blocking(move || match job {
            Job::Pin(items) => me.run_pins(&items),
            Job::Fetch(it) => vec![me.run_fetch(&it)],
            Job::Release(items) => me.run_releases(&items),
        })
        .await;
        let outcomes = match res {
            Ok(o) if o.len() == keys.len() => o,
            Ok(_) => keys
                .iter()
                .map(|_| Outcome::Failed("internal: outcome count mismatch".into()))
                .collect(),
            Err(e) => keys
                .iter()
                .map(|_| Outcome::Failed(format!("pin operation panicked: {e}")))
                .collect(),
        };
        {
            let mut st = self.lock();
            for ((cid, version), o) in keys.iter().zip(outcomes) {
                st.complete(cid, *version, o, &self.cfg);
            }
        }
        self.wake.notify_one();
    }

    /// Hands queued work to jobs while slots are free.
    async fn dispatch(self: Arc<Self>) {
        let mut stop = self.stop.subscribe();
        loop {
            if self.stopped() {
                return;
            }
            loop {
                let Ok(permit) = self.slots.clone().try_acquire_owned() else {
                    break;
                };
                let job = self.lock().next_job(self.cfg.concurrency);
                let Some(job) = job else {
                    break;
                };
                let me = self.clone();
                tokio::spawn(async move {
                    me.run_job(job).await;
                    drop(permit);
                });
            }
            let next = self
                .lock()
                .delayed
                .peek()
                .map(|Reverse((t, _, _))| *t)
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep_until(next.into()) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Periodically re-pins CIDs whose local pin disappeared.
    async fn check_loop(self: Arc<Self>) {
        let mut stop = self.stop.subscribe();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.cfg.check_interval) => {}
                _ = stop.changed() => {}
            }
            if self.stopped() {
                return;
            }
            self.check_once().await;
        }
    }

    async fn check_once(self: &Arc<Self>) {
        let pinned: Vec<(Cid, u64)> = self
            .lock()
            .entries
            .iter()
            .filter(|(_, e)| e.status == TrackerStatus::Pinned && !e.busy)
            .map(|(c, e)| (*c, e.version))
            .collect();
        if pinned.is_empty() {
            return;
        }
        let me = self.clone();
        let missing = tokio::task::spawn_blocking(move || {
            pinned
                .into_iter()
                .filter(|(cid, _)| matches!(me.node.pin_get(cid), Ok(None)))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        if missing.is_empty() {
            return;
        }
        {
            let mut st = self.lock();
            for (cid, version) in missing {
                let Some(e) = st.entries.get_mut(&cid) else {
                    continue;
                };
                if e.busy || e.version != version || e.status != TrackerStatus::Pinned {
                    continue;
                }
                tracing::warn!("cluster pin {cid} vanished from the local pin store, re-pinning");
                e.attempts = 0;
                e.fetch = Fetch::No;
                e.set_status(TrackerStatus::UnexpectedlyUnpinned);
                st.enqueue(&cid, None);
            }
        }
        self.wake.notify_one();
    }
}

fn open_db(path: &Path) -> Result<Database, ClusterError> {
    // A tracker stopped in this process may still have a job finishing
    // with the file open: wait for it briefly.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Database::create(path) {
            Ok(db) => return Ok(db),
            Err(redb::DatabaseError::DatabaseAlreadyOpen) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => return Err(ClusterError::Storage(format!("{}: {e}", path.display()))),
        }
    }
}

/// Words a redb error for statuses and [`ClusterError::Storage`].
fn db_err(e: impl Into<redb::Error>) -> String {
    format!("tracker database: {}", e.into())
}

/// The `managed` table; a row that is not a CID (never written by this
/// tracker) is skipped with a warning.
fn load_managed(db: &Database) -> Result<HashSet<Cid>, String> {
    let tx = db.begin_write().map_err(db_err)?;
    tx.open_table(MANAGED).map_err(db_err)?;
    tx.commit().map_err(db_err)?;
    let rt = db.begin_read().map_err(db_err)?;
    let t = rt.open_table(MANAGED).map_err(db_err)?;
    let mut out = HashSet::new();
    for row in t.iter().map_err(db_err)? {
        let (k, _) = row.map_err(db_err)?;
        match Cid::try_from(k.value()) {
            Ok(cid) => {
                out.insert(cid);
            }
            Err(e) => tracing::warn!("tracker database: skipping {:?}: {e}", k.value()),
        }
    }
    Ok(out)
}

impl PinTracker {
    /// Opens `<dir>/tracker.redb` (which local pins the cluster created, so
    /// unpinning never removes a pin the user made by hand) and spawns the
    /// workers on the current tokio runtime (panics outside one).
    pub fn start(
        node: Node,
        dir: &Path,
        me: LocalPeer,
        cfg: TrackerConfig,
    ) -> Result<PinTracker, ClusterError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| ClusterError::Storage(format!("{}: {e}", dir.display())))?;
        let db = open_db(&dir.join("tracker.redb"))?;
        let managed = load_managed(&db).map_err(ClusterError::Storage)?;
        let cfg = TrackerConfig {
            concurrency: cfg.concurrency.max(1),
            ..cfg
        };
        let (stop, _) = watch::channel(false);
        let stop = Arc::new(stop);
        let inner = Arc::new(Inner {
            node,
            db,
            me,
            slots: Arc::new(Semaphore::new(cfg.concurrency)),
            cfg,
            state: Mutex::new(State {
                managed,
                ..State::default()
            }),
            wake: Notify::new(),
            stop: stop.clone(),
            tasks: Mutex::new(Vec::new()),
        });
        let handles = vec![
            tokio::spawn(inner.clone().dispatch()),
            tokio::spawn(inner.clone().check_loop()),
        ];
        *inner.tasks.lock().unwrap_or_else(|p| p.into_inner()) = handles;
        Ok(PinTracker {
            inner,
            _alive: Arc::new(StopOnDrop(stop)),
        })
    }

    /// The pin (new or changed) is now in the shared state: pin it locally
    /// if `allocations` is empty or names this peer, otherwise make sure the
    /// cluster's local pin is released (status `remote`). Expired pins are
    /// not pinned. Cheap: only records the wish and wakes the workers.
    pub fn track(&self, pin: &ClusterPin) {
        self.inner.lock().track(pin, &self.inner.me.peer);
        self.inner.wake.notify_one();
    }

    /// The CID left the shared state: release the cluster's local pin (if
    /// the cluster made it). Cheap, like [`PinTracker::track`].
    pub fn untrack(&self, cid: &Cid) {
        self.inner.lock().untrack(cid);
        self.inner.wake.notify_one();
    }

    /// The complete shared state (start-up, after a snapshot install): tracks
    /// all of `pins` and untracks every CID known or managed that is not in it.
    pub fn sync(&self, pins: Vec<ClusterPin>) {
        {
            let mut st = self.inner.lock();
            let keep: HashSet<Cid> = pins.iter().map(|p| p.cid).collect();
            for p in &pins {
                st.track(p, &self.inner.me.peer);
            }
            let gone: Vec<Cid> = st
                .entries
                .keys()
                .chain(st.managed.iter())
                .filter(|c| !keep.contains(*c))
                .copied()
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            for c in gone {
                st.untrack(&c);
            }
        }
        self.inner.wake.notify_one();
    }

    /// Local status of one CID (an unknown CID is `unpinned`).
    pub fn status(&self, cid: &Cid) -> PinInfo {
        let st = self.inner.lock();
        self.inner.info(cid, st.entries.get(cid))
    }

    /// Local status of every CID in the shared state plus those still being
    /// unpinned, sorted by CID.
    pub fn status_all(&self) -> Vec<PinInfo> {
        let st = self.inner.lock();
        let mut out: Vec<PinInfo> = st
            .entries
            .iter()
            .map(|(c, e)| self.inner.info(c, Some(e)))
            .collect();
        drop(st);
        // By CID text, the order the API has always listed them in.
        out.sort_by_cached_key(|i| i.cid.to_string());
        out
    }

    /// Retries a CID in `pin_error`, `unpin_error` or `unexpectedly_unpinned`
    /// now (attempts start again from 0); returns its status right after
    /// queuing. Other states are returned unchanged.
    pub fn recover(&self, cid: &Cid) -> PinInfo {
        let info = {
            let mut st = self.inner.lock();
            if let Some(e) = st.entries.get_mut(cid) {
                let retry = matches!(
                    e.status,
                    TrackerStatus::PinError
                        | TrackerStatus::UnpinError
                        | TrackerStatus::UnexpectedlyUnpinned
                );
                if retry && !e.busy {
                    e.attempts = 0;
                    e.error.clear();
                    e.fetch = Fetch::No;
                    st.plan(cid);
                }
            }
            self.inner.info(cid, st.entries.get(cid))
        };
        self.inner.wake.notify_one();
        info
    }

    /// [`PinTracker::recover`] for every CID in an error state; returns their
    /// statuses after queuing.
    pub fn recover_all(&self) -> Vec<PinInfo> {
        let failed: Vec<Cid> = {
            let st = self.inner.lock();
            st.entries
                .iter()
                .filter(|(_, e)| e.status.is_error())
                .map(|(c, _)| *c)
                .collect()
        };
        let mut out: Vec<PinInfo> = failed.iter().map(|c| self.recover(c)).collect();
        // By CID text, the order the API has always listed them in.
        out.sort_by_cached_key(|i| i.cid.to_string());
        out
    }

    /// How many CIDs are in each status (statuses with none are absent).
    /// A `HashMap` because [`TrackerStatus`] is not `Ord`.
    pub fn counts(&self) -> HashMap<TrackerStatus, usize> {
        let st = self.inner.lock();
        let mut out = HashMap::new();
        for e in st.entries.values() {
            *out.entry(e.status).or_insert(0) += 1;
        }
        out
    }

    /// Runs the "is every pinned CID still pinned locally" check now, instead
    /// of waiting for `check_interval`.
    pub async fn check_now(&self) {
        self.inner.check_once().await;
    }

    /// Stops the workers; in-flight pin operations are abandoned (a blocking
    /// call already running finishes on its own and only updates the status
    /// map; nothing new starts).
    pub async fn shutdown(&self) {
        let _ = self.inner.stop.send(true);
        let handles =
            std::mem::take(&mut *self.inner.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for h in handles {
            let _ = h.await;
        }
    }
}
