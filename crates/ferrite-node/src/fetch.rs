//! Reading blocks that may have to come from the network.
//!
//! [`RepoSource`] is what the exporter reads through: the store, then
//! blocks received but not yet stored, then one Bitswap fetch. Reading a
//! large DAG one block at a time would pay a round trip per block, so
//! whole-DAG operations call [`Node::fetch_dag`] first (or beside the
//! reader, for `cat`), which keeps a window of wants in flight.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use bytes::Bytes;
use ferrite_ipld::Cid;
use ferrite_store::{Blockstore, Repo};
use ferrite_unixfs::BlockSource;

use crate::net::{Network, FETCH_STALL_TIMEOUT};
use crate::{Error, Node, Result};

/// Blocks asked for at once by one DAG fetch: enough to keep a fast peer
/// busy, few enough that the bytes in flight stay small (≤ 16 MiB of
/// 256 KiB chunks).
const WINDOW: usize = 64;

/// Received bytes not yet in the store above which a DAG fetch waits.
const MAX_UNSTORED_BYTES: usize = 16 << 20;

/// The repo's blocks as an exporter source, fetching missing ones when the
/// node is online. Owning `Arc`s lets readers outlive the call that made
/// them (a `cat` stream handed to HTTP).
#[derive(Clone)]
pub(crate) struct RepoSource {
    pub(crate) repo: Arc<Repo>,
    pub(crate) net: Option<Network>,
}

impl RepoSource {
    fn local(&self, cid: &Cid) -> std::io::Result<Option<Bytes>> {
        if let Some(b) = self.repo.blocks().get(cid)? {
            return Ok(Some(b));
        }
        Ok(self.net.as_ref().and_then(|n| n.pending_block(cid)))
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
        }
    }

    /// Makes every block of the DAG under `root` local, fetching missing
    /// ones with up to [`WINDOW`] wants in flight, and waits until they are
    /// stored. Offline it does nothing (later reads report what is missing).
    /// `progress` gets the number of blocks fetched so far.
    pub fn fetch_dag(&self, root: &Cid, progress: &mut dyn FnMut(u64)) -> Result<()> {
        if self.net.is_none() {
            return Ok(());
        }
        fetch_dag(&self.source(), root, &AtomicBool::new(false), progress)?;
        self.net.as_ref().map_or(Ok(()), |n| n.flush())
    }

    /// Starts fetching the DAG under `root` in the background, for a reader
    /// that will ask for its blocks in order; dropping the guard stops it.
    pub(crate) fn prefetch(&self, root: &Cid) -> Option<PrefetchGuard> {
        self.net.as_ref()?;
        let src = self.source();
        let root = *root;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("ferrite-prefetch".into())
            .spawn(move || {
                if let Err(e) = fetch_dag(&src, &root, &flag, &mut |_| {}) {
                    tracing::debug!("prefetch of {root} stopped: {e}");
                }
            })
            .ok()?;
        Some(PrefetchGuard(stop))
    }
}

/// Stops a background prefetch when dropped.
pub(crate) struct PrefetchGuard(Arc<AtomicBool>);

impl Drop for PrefetchGuard {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn fetch_dag(
    src: &RepoSource,
    root: &Cid,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    let Some(net) = &src.net else { return Ok(()) };
    let id = net.waiter_id();
    let (tx, rx) = mpsc::channel::<(Cid, Bytes)>();
    let mut stack = vec![*root];
    let mut seen: HashSet<Cid> = HashSet::new();
    let mut inflight: HashSet<Cid> = HashSet::new();
    let mut fetched = 0u64;
    let mut last_progress = std::time::Instant::now();
    let push_links = |stack: &mut Vec<Cid>, cid: &Cid, data: &[u8]| -> Result<()> {
        let links = ferrite_ipld::codec::links(cid, data)
            .map_err(|e| Error::Invalid(format!("cannot read links of {cid}: {e}")))?;
        // Reversed, so the stack pops them in order and a reader that
        // follows the DAG finds its next blocks already here.
        stack.extend(links.into_iter().rev());
        Ok(())
    };
    let result = loop {
        if stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        // Blocks received but not yet on disk count against memory too.
        net.wait_pending_below(MAX_UNSTORED_BYTES);
        let mut batch = Vec::new();
        while inflight.len() + batch.len() < WINDOW {
            let Some(cid) = stack.pop() else { break };
            if !seen.insert(cid) {
                continue;
            }
            match src.local(&cid).map_err(Error::Io)? {
                Some(b) => push_links(&mut stack, &cid, &b)?,
                None => batch.push(cid),
            }
        }
        inflight.extend(batch.iter().copied());
        net.request(id, &tx, batch);
        if inflight.is_empty() && stack.is_empty() {
            break Ok(());
        }
        if inflight.is_empty() {
            continue;
        }
        match rx.recv_timeout(std::time::Duration::from_millis(500)) {
            Ok((cid, data)) => {
                last_progress = std::time::Instant::now();
                if inflight.remove(&cid) {
                    fetched += 1;
                    progress(fetched);
                    push_links(&mut stack, &cid, &data)?;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if !net.is_running() {
                    break Err(Error::Invalid("the network has stopped".into()));
                }
                if last_progress.elapsed() > FETCH_STALL_TIMEOUT {
                    let missing = inflight.iter().next().copied().unwrap_or(*root);
                    break Err(Error::Invalid(format!(
                        "block {missing} was not found: no peer sent any of the {} missing blocks within {}s",
                        inflight.len(),
                        FETCH_STALL_TIMEOUT.as_secs()
                    )));
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                break Err(Error::Invalid("the network has stopped".into()))
            }
        }
    };
    net.cancel(id, inflight.into_iter().collect());
    result
}
