//! Storing fetched blocks off the swarm task.
//!
//! Every verified block goes to [`Pending`]: readers can use it at once,
//! and a writer thread commits blocks to the store in batches (one fsync
//! per batch instead of per block), then forgets them.

use std::collections::HashMap;
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::repo::Repo;
use bytes::Bytes;
use ferrite_ipld::Cid;
use ferrite_store::Blockstore;

use crate::{Error, Result};

/// Commit at least this often while blocks keep coming.
const BATCH_BYTES: usize = 8 << 20;

/// How long a batch waits for more blocks before it is committed anyway.
/// Blocks arrive about as fast as one fsync takes, so committing whatever
/// is queued meant one fsync per block and a writer that only just kept up
/// (0.65 s of a 1.1 s 256 MiB transfer went to one- and two-block commits).
const LINGER: Duration = Duration::from_millis(20);

enum Msg {
    Block(Cid, Bytes),
    Flush(mpsc::Sender<std::result::Result<(), String>>),
}

/// Blocks received and not yet committed, plus the writer's queue.
#[derive(Default)]
pub(crate) struct Pending {
    map: Mutex<Blocks>,
    /// Signalled whenever the writer has stored a batch.
    drained: Condvar,
    tx: Mutex<Option<mpsc::Sender<Msg>>>,
}

#[derive(Default)]
struct Blocks {
    map: HashMap<Cid, Bytes>,
    bytes: usize,
}

impl Pending {
    /// Starts the writer thread over `repo`.
    pub(crate) fn start(self: &Arc<Self>, repo: Arc<Repo>) {
        let (tx, rx) = mpsc::channel();
        *self.tx.lock().unwrap() = Some(tx);
        let me = self.clone();
        std::thread::Builder::new()
            .name("ferrite-block-writer".into())
            .spawn(move || me.run(repo, rx))
            .expect("spawn block writer");
    }

    /// A block not yet in the store.
    pub(crate) fn get(&self, cid: &Cid) -> Option<Bytes> {
        self.map.lock().unwrap().map.get(cid).cloned()
    }

    /// Waits (at most `max_wait`) until fewer than `limit` bytes wait for
    /// the writer, so a fast peer cannot fill memory faster than the disk
    /// takes it.
    pub(crate) fn wait_below(&self, limit: usize, max_wait: Duration) {
        let deadline = Instant::now() + max_wait;
        let mut g = self.map.lock().unwrap();
        while g.bytes > limit {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            g = self.drained.wait_timeout(g, deadline - now).unwrap().0;
        }
    }

    /// Queues a verified block for the store.
    pub(crate) fn put(&self, cid: Cid, data: Bytes) {
        {
            let mut g = self.map.lock().unwrap();
            if let Some(old) = g.map.insert(cid, data.clone()) {
                g.bytes -= old.len();
            }
            g.bytes += data.len();
        }
        if let Some(tx) = &*self.tx.lock().unwrap() {
            let _ = tx.send(Msg::Block(cid, data));
        }
    }

    /// Blocks until everything queued so far is committed.
    pub(crate) fn flush(&self) -> Result<()> {
        let (tx, rx) = mpsc::channel();
        let sent = match &*self.tx.lock().unwrap() {
            Some(w) => w.send(Msg::Flush(tx)).is_ok(),
            None => return Ok(()),
        };
        if !sent {
            return Err(Error::Invalid("the block writer has stopped".into()));
        }
        rx.recv()
            .map_err(|_| Error::Invalid("the block writer has stopped".into()))?
            .map_err(|e| Error::Invalid(format!("storing fetched blocks failed: {e}")))
    }

    fn run(&self, repo: Arc<Repo>, rx: mpsc::Receiver<Msg>) {
        let mut last_error: Option<String> = None;
        while let Ok(first) = rx.recv() {
            let mut batch = Vec::new();
            let mut flushes = Vec::new();
            let mut bytes = 0;
            let deadline = Instant::now() + LINGER;
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Block(cid, data) => {
                        bytes += data.len();
                        batch.push((cid, data));
                    }
                    // Someone waits for everything so far: commit now.
                    Msg::Flush(reply) => {
                        flushes.push(reply);
                        break;
                    }
                }
                if bytes < BATCH_BYTES {
                    let wait = deadline.saturating_duration_since(Instant::now());
                    next = rx.recv_timeout(wait).ok();
                }
            }
            if !batch.is_empty() {
                if let Err(e) = commit(&repo, &batch) {
                    tracing::error!("storing {} fetched blocks failed: {e}", batch.len());
                    last_error = Some(e.to_string());
                }
                let mut g = self.map.lock().unwrap();
                for (cid, _) in &batch {
                    if let Some(old) = g.map.remove(cid) {
                        g.bytes -= old.len();
                    }
                }
                self.drained.notify_all();
            }
            for f in flushes {
                let _ = f.send(match last_error.take() {
                    Some(e) => Err(e),
                    None => Ok(()),
                });
            }
        }
    }
}

fn commit(repo: &Repo, batch: &[(Cid, Bytes)]) -> ferrite_store::Result<()> {
    let mut w = repo.blocks().writer()?;
    w.streaming();
    for (cid, data) in batch {
        w.put(cid, data)?;
    }
    w.commit()
}
