//! Reading blocks that may have to come from the network.
//!
//! [`RepoSource`] is what the exporter reads through: the store, then
//! blocks received but not yet stored, then one Bitswap fetch. Reading a
//! large DAG one block at a time would pay a round trip per block, so
//! whole-DAG operations call [`Node::fetch_dag`] first (or beside the
//! reader, for `cat`), which keeps a window of wants in flight.
//!
//! A `cat` from the start of a file also gets a [`ReadAhead`]: the blocks
//! its prefetch receives (or reads) wait in memory until the reader asks for
//! them, and the prefetch pauses while the reader is far behind. So the
//! reader never reads back from disk what just arrived, and a slow client
//! does not make the node fetch the whole file into the page cache first.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::Duration;

use crate::repo::Repo;
use bytes::Bytes;
use ferrite_ipld::Cid;
use ferrite_store::Blockstore;
use ferrite_unixfs::BlockSource;

use crate::net::Network;
use crate::{Error, Node, Result};

/// Blocks asked for at once by one DAG fetch: enough to keep a fast peer
/// busy, few enough that the bytes in flight stay small (≤ 16 MiB of
/// 256 KiB chunks).
const WINDOW: usize = 64;

/// Received bytes not yet in the store above which a DAG fetch waits.
const MAX_UNSTORED_BYTES: usize = 16 << 20;

/// Bytes a [`ReadAhead`] holds for its reader before the prefetch waits.
const READ_AHEAD_BYTES: usize = 32 << 20;

/// How long a reader waits for its prefetch to bring a block before it
/// asks the network itself.
const READER_WAIT: Duration = Duration::from_secs(2);

/// The repo's blocks as an exporter source, fetching missing ones when the
/// node is online. Owning `Arc`s lets readers outlive the call that made
/// them (a `cat` stream handed to HTTP).
#[derive(Clone)]
pub(crate) struct RepoSource {
    pub(crate) repo: Arc<Repo>,
    pub(crate) net: Option<Network>,
    /// Where received, not yet stored blocks are (see `Node::received`).
    received: Option<Network>,
    /// Blocks a prefetch has ready for this reader.
    ahead: Option<Arc<ReadAhead>>,
}

impl RepoSource {
    fn local(&self, cid: &Cid) -> std::io::Result<Option<Bytes>> {
        let Some(ahead) = &self.ahead else {
            return self.here(cid);
        };
        // The prefetch walks the DAG in the order this reader reads it, so
        // the block is on its way: wait for it rather than fetching it a
        // second time, one round trip per block (and leaving the prefetch's
        // copy stranded in the read-ahead).
        let deadline = std::time::Instant::now() + READER_WAIT;
        loop {
            match ahead.take(cid) {
                Take::Block(b) => return Ok(Some(b)),
                // read before (a block repeated in the file), or the
                // prefetch has ended: not coming through the read-ahead
                Take::Passed => return self.here(cid),
                Take::NotYet => {}
            }
            // Already here (stored, or just received): the reader is ahead
            // of the prefetch, which will drop its copy.
            if let Some(b) = self.here(cid)? {
                ahead.pass(cid);
                return Ok(Some(b));
            }
            if !ahead.wait_put(deadline) {
                return self.here(cid);
            }
        }
    }

    /// The block from the store or from received blocks not yet stored.
    fn here(&self, cid: &Cid) -> std::io::Result<Option<Bytes>> {
        if let Some(b) = self.repo.blocks().get(cid)? {
            return Ok(Some(b));
        }
        Ok(self.received.as_ref().and_then(|n| n.pending_block(cid)))
    }
}

impl BlockSource for RepoSource {
    fn get(&self, cid: &Cid) -> std::io::Result<Option<Bytes>> {
        if let Some(b) = self.local(cid)? {
            return Ok(Some(b));
        }
        match &self.net {
            None => Ok(None),
            Some(n) => n
                .fetch_block(cid)
                .map(Some)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::TimedOut, e.to_string())),
        }
    }
}

impl Node {
    pub(crate) fn source(&self) -> RepoSource {
        RepoSource {
            repo: self.repo.clone(),
            net: self.net.clone(),
            received: self.received.clone(),
            ahead: None,
        }
    }

    /// Makes every block of the DAG under `root` local, fetching missing
    /// ones with up to 64 wants in flight, and waits until they are
    /// stored. Offline it does nothing (later reads report what is missing).
    /// `progress` gets the number of blocks fetched so far.
    pub fn fetch_dag(&self, root: &Cid, progress: &mut dyn FnMut(u64)) -> Result<()> {
        if self.net.is_none() {
            return Ok(());
        }
        fetch_dag(
            &self.source(),
            root,
            &AtomicBool::new(false),
            None,
            progress,
        )?;
        self.net.as_ref().map_or(Ok(()), |n| n.flush())
    }

    /// Starts fetching the DAG under `root` in the background, for a reader
    /// that will ask for its blocks in order; dropping the guard stops it.
    /// With `read_ahead` (a reader starting at the beginning) the returned
    /// source hands the reader the prefetched blocks from memory.
    pub(crate) fn prefetch(
        &self,
        root: &Cid,
        read_ahead: bool,
    ) -> (RepoSource, Option<PrefetchGuard>) {
        let mut reader_src = self.source();
        if self.net.is_none() {
            return (reader_src, None);
        }
        let src = self.source();
        let ahead = read_ahead.then(|| Arc::new(ReadAhead::default()));
        reader_src.ahead = ahead.clone();
        let root = *root;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let spawned = std::thread::Builder::new()
            .name("ferrite-prefetch".into())
            .spawn(move || {
                if let Err(e) = fetch_dag(&src, &root, &flag, ahead.as_deref(), &mut |_| {}) {
                    tracing::debug!("prefetch of {root} stopped: {e}");
                }
                if let Some(a) = ahead {
                    a.finish();
                }
            });
        match spawned {
            Ok(_) => (reader_src, Some(PrefetchGuard(stop))),
            Err(_) => (self.source(), None),
        }
    }
}

/// Blocks prefetched for one streaming reader, kept until it asks for them.
///
/// Each block carries its position in the prefetch's depth-first walk,
/// which is the order the reader visits them in: when the reader takes a
/// block, every earlier one is a block it skipped (a range read) and goes.
#[derive(Default)]
pub(crate) struct ReadAhead {
    state: Mutex<AheadState>,
    taken: Condvar,
    put: Condvar,
}

/// A block's place in a DAG walk: the child indexes from the root. Keys
/// sort in depth-first order.
type Pos = Vec<u32>;

#[derive(Default)]
struct AheadState {
    by_pos: BTreeMap<Pos, (Cid, Bytes)>,
    pos_of: HashMap<Cid, Pos>,
    bytes: usize,
    /// Blocks the reader has taken or skipped: the prefetch, which visits
    /// each block once, will not bring them again.
    passed: HashSet<Cid>,
    /// The prefetch has ended: nothing more will come.
    finished: bool,
}

impl AheadState {
    /// Drops the blocks before `pos`: the reader is past them.
    fn pass_before(&mut self, pos: &Pos) {
        let later = self.by_pos.split_off(pos);
        for (c, d) in std::mem::replace(&mut self.by_pos, later).into_values() {
            self.pos_of.remove(&c);
            self.bytes -= d.len();
            self.passed.insert(c);
        }
    }
}

/// What [`ReadAhead::take`] found.
enum Take {
    Block(Bytes),
    /// Taken or skipped before, or the prefetch has ended.
    Passed,
    /// The prefetch has not delivered it yet.
    NotYet,
}

impl ReadAhead {
    fn put(&self, pos: Pos, cid: Cid, data: Bytes) {
        let mut g = self.state.lock().unwrap();
        if g.passed.contains(&cid) {
            // The reader got it elsewhere, so it is past everything before.
            g.pass_before(&pos);
            self.taken.notify_all();
        } else {
            let st = &mut *g;
            if let std::collections::hash_map::Entry::Vacant(e) = st.pos_of.entry(cid) {
                e.insert(pos.clone());
                st.bytes += data.len();
                st.by_pos.insert(pos, (cid, data));
            }
        }
        self.put.notify_all();
    }

    /// Records that the reader got `cid` without the read-ahead.
    fn pass(&self, cid: &Cid) {
        self.state.lock().unwrap().passed.insert(*cid);
    }

    fn finish(&self) {
        self.state.lock().unwrap().finished = true;
        self.put.notify_all();
    }

    /// Waits for the next block the prefetch delivers; false once it has
    /// finished or `deadline` passed.
    fn wait_put(&self, deadline: std::time::Instant) -> bool {
        let g = self.state.lock().unwrap();
        let now = std::time::Instant::now();
        if g.finished || now >= deadline {
            return false;
        }
        let (g, _) = self.put.wait_timeout(g, deadline - now).unwrap();
        !g.finished
    }

    fn take(&self, cid: &Cid) -> Take {
        let mut g = self.state.lock().unwrap();
        let Some(pos) = g.pos_of.remove(cid) else {
            return if g.finished || g.passed.contains(cid) {
                Take::Passed
            } else {
                Take::NotYet
            };
        };
        g.pass_before(&pos);
        g.passed.insert(*cid);
        let Some((_, data)) = g.by_pos.remove(&pos) else {
            return Take::Passed;
        };
        g.bytes -= data.len();
        self.taken.notify_all();
        Take::Block(data)
    }

    fn over(&self, limit: usize) -> bool {
        self.state.lock().unwrap().bytes > limit
    }

    /// Waits until the reader has taken enough, or `stop` is set.
    fn wait_below(&self, limit: usize, stop: &AtomicBool) {
        let mut g = self.state.lock().unwrap();
        while g.bytes > limit && !stop.load(Ordering::Relaxed) {
            g = self
                .taken
                .wait_timeout(g, Duration::from_millis(100))
                .unwrap()
                .0;
        }
    }
}

/// Stops a background prefetch when dropped.
pub(crate) struct PrefetchGuard(Arc<AtomicBool>);

impl Drop for PrefetchGuard {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Walks the DAG under `root` depth-first, fetching what is missing; with
/// `ahead`, hands every block to the reader and keeps pace with it.
fn fetch_dag(
    src: &RepoSource,
    root: &Cid,
    stop: &AtomicBool,
    ahead: Option<&ReadAhead>,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    let Some(net) = &src.net else { return Ok(()) };
    let id = net.waiter_id();
    let (tx, rx) = mpsc::channel::<(Cid, Bytes)>();
    // Blocks to visit, keyed by their path from the root (child indexes):
    // the smallest key is the next block in depth-first order, which is the
    // order a reader reads a file in, even while the links of earlier
    // blocks are still arriving. (A stack fed as blocks arrived fetched
    // the children of later siblings first, and the reader, finding its
    // next block missing, fetched it alone, one round trip per block.)
    let mut todo: BTreeMap<Pos, Cid> = BTreeMap::from([(Pos::new(), *root)]);
    let mut seen: HashSet<Cid> = HashSet::new();
    // wanted block → its place in the walk
    let mut inflight: HashMap<Cid, Pos> = HashMap::new();
    let mut fetched = 0u64;
    let mut last_progress = std::time::Instant::now();
    let push_links =
        |todo: &mut BTreeMap<Pos, Cid>, pos: &Pos, cid: &Cid, data: &[u8]| -> Result<()> {
            let links = ferrite_ipld::codec::links(cid, data)
                .map_err(|e| Error::Invalid(format!("cannot read links of {cid}: {e}")))?;
            for (i, link) in links.into_iter().enumerate() {
                let mut child = pos.clone();
                child.push(i as u32);
                todo.insert(child, link);
            }
            Ok(())
        };
    let result = loop {
        if stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        // Blocks received but not yet on disk count against memory too.
        net.wait_pending_below(MAX_UNSTORED_BYTES);
        // A full read-ahead stops new wants, not the blocks already asked
        // for: the reader may be waiting for one of those.
        if let (Some(a), true) = (ahead, inflight.is_empty()) {
            a.wait_below(READ_AHEAD_BYTES, stop);
        }
        let mut batch = Vec::new();
        while inflight.len() + batch.len() < WINDOW {
            if ahead.is_some_and(|a| a.over(READ_AHEAD_BYTES)) {
                break;
            }
            let Some((pos, cid)) = todo.pop_first() else {
                break;
            };
            if !seen.insert(cid) {
                continue;
            }
            match src.local(&cid).map_err(Error::Io)? {
                Some(b) => {
                    push_links(&mut todo, &pos, &cid, &b)?;
                    if let Some(a) = ahead {
                        a.put(pos, cid, b);
                    }
                }
                None => batch.push((cid, pos)),
            }
        }
        let cids = batch.iter().map(|(cid, _)| *cid).collect();
        inflight.extend(batch);
        net.request(id, &tx, cids);
        if inflight.is_empty() && todo.is_empty() {
            break Ok(());
        }
        if inflight.is_empty() {
            continue;
        }
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok((cid, data)) => {
                last_progress = std::time::Instant::now();
                if let Some(pos) = inflight.remove(&cid) {
                    fetched += 1;
                    progress(fetched);
                    push_links(&mut todo, &pos, &cid, &data)?;
                    if let Some(a) = ahead {
                        a.put(pos, cid, data);
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if !net.is_running() {
                    break Err(Error::Invalid("the network has stopped".into()));
                }
                if last_progress.elapsed() > net.stall_timeout() {
                    let missing = inflight.keys().next().copied().unwrap_or(*root);
                    break Err(Error::Unavailable(format!(
                        "block {missing} was not found: no peer sent any of the {} missing blocks within {}s",
                        inflight.len(),
                        net.stall_timeout().as_secs()
                    )));
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                break Err(Error::Invalid("the network has stopped".into()))
            }
        }
    };
    net.cancel(id, inflight.into_keys().collect());
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_ipld::{codecs, HashAlg};

    fn block(n: u8) -> (Cid, Bytes) {
        let data = Bytes::from(vec![n; 1000]);
        (
            Cid::new_v1(codecs::RAW, HashAlg::Sha2_256.digest(&data)),
            data,
        )
    }

    #[test]
    fn positions_sort_depth_first() {
        // root, its first child, that child's children, then the second child
        let mut keys = vec![vec![1], vec![0, 1], vec![], vec![0], vec![0, 0], vec![1, 0]];
        keys.sort();
        let want: Vec<Pos> = vec![vec![], vec![0], vec![0, 0], vec![0, 1], vec![1], vec![1, 0]];
        assert_eq!(keys, want);
    }

    #[test]
    fn reader_takes_in_order_and_skipped_blocks_go() {
        let ra = ReadAhead::default();
        let (a, b, c) = (block(1), block(2), block(3));
        ra.put(vec![0], a.0, a.1.clone());
        ra.put(vec![1], b.0, b.1.clone());
        ra.put(vec![2], c.0, c.1.clone());
        assert_eq!(ra.state.lock().unwrap().bytes, 3000);
        // a range read skips `a`
        assert!(matches!(ra.take(&b.0), Take::Block(d) if d == b.1));
        assert!(matches!(ra.take(&a.0), Take::Passed));
        assert_eq!(ra.state.lock().unwrap().bytes, 1000);
        assert!(matches!(ra.take(&c.0), Take::Block(_)));
        assert_eq!(ra.state.lock().unwrap().bytes, 0);
        // a block repeated in the file is read from the store the second time
        assert!(matches!(ra.take(&b.0), Take::Passed));
        let d = block(4);
        assert!(matches!(ra.take(&d.0), Take::NotYet));
        ra.finish();
        assert!(matches!(ra.take(&d.0), Take::Passed));
    }

    #[test]
    fn a_block_the_reader_got_elsewhere_clears_what_came_before() {
        let ra = ReadAhead::default();
        let (a, b, c) = (block(1), block(2), block(3));
        ra.put(vec![0], a.0, a.1);
        ra.pass(&c.0); // the reader found `c` in the store
        ra.put(vec![1], b.0, b.1);
        ra.put(vec![2], c.0, c.1);
        let g = ra.state.lock().unwrap();
        assert_eq!(g.bytes, 0, "a and b are behind the reader, c it has");
        assert!(g.by_pos.is_empty() && g.pos_of.is_empty());
    }

    #[test]
    fn prefetch_waits_for_the_reader_and_wakes_it() {
        let ra = Arc::new(ReadAhead::default());
        let blocks: Vec<_> = (0..4u8).map(block).collect();
        let stop = AtomicBool::new(false);
        for (i, (cid, data)) in blocks.iter().enumerate() {
            ra.put(vec![i as u32], *cid, data.clone());
        }
        let reader = {
            let (ra, blocks) = (ra.clone(), blocks.clone());
            std::thread::spawn(move || {
                for (cid, _) in &blocks {
                    std::thread::sleep(Duration::from_millis(20));
                    assert!(matches!(ra.take(cid), Take::Block(_)));
                }
            })
        };
        let t = std::time::Instant::now();
        ra.wait_below(1500, &stop);
        assert!(
            t.elapsed() >= Duration::from_millis(40),
            "returned before the reader took"
        );
        assert!(ra.state.lock().unwrap().bytes <= 1500);
        reader.join().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_millis(50);
        assert!(
            ra.wait_put(deadline),
            "times out without a put, still running"
        );
        ra.finish();
        assert!(!ra.wait_put(std::time::Instant::now() + Duration::from_secs(5)));
    }
}
