//! The default block store: append-only pack files plus a redb index.
//!
//! Why this design (measured in docs/perf-log.md, "Block store engine"): UnixFS blocks
//! are written once, read often and deleted in bulk by GC. Appending them to a
//! few large pack files writes every byte exactly once (an LSM such as fjall
//! writes values twice, journal then table; one file per block, like Kubo's
//! flatfs, pays a create + fsync per block, which is what makes Kubo slow on
//! many small files). The index is a redb B-tree mapping multihash →
//! (pack, offset, length): small, transactional and crash-safe.
//!
//! Crash safety: a commit first fsyncs the pack bytes, then commits the index
//! entries together with the pack's new committed length. On open every pack
//! is truncated to its committed length, so bytes appended by a writer that
//! never committed disappear, and an index entry can only point at durable
//! bytes. A failed write (a full disk) truncates the active pack back to its
//! committed length at once, so the space comes back without a restart.
//! Deleting only removes index entries and counts the bytes as dead;
//! [`Blockstore::compact`] later copies live blocks out of the deadest packs
//! (see `DEAD_SHARE_OF_LIVE`) and removes those files, committing the new
//! locations before deleting.
//!
//! Record layout in a pack: `u32 LE data length | u8 multihash length |
//! multihash | data`. The index alone is authoritative; the self-describing
//! records let `repo verify` check each block against its own hash.

use crate::blockstore::{identity_bytes, BlockWriter, Blockstore, StoreStat};
use crate::{Error, Result};
use bytes::Bytes;
use ferrite_ipld::{Cid, Multihash};
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

/// multihash bytes → (pack id, offset of the data, data length)
const BLOCKS: TableDefinition<&[u8], (u32, u64, u32)> = TableDefinition::new("blocks");
/// pack id → (committed length, dead bytes)
const PACKS: TableDefinition<u32, (u64, u64)> = TableDefinition::new("packs");

/// A pack grows to this size before a new one is started.
const PACK_TARGET: u64 = 512 << 20;
/// Appends are buffered up to this size before they go to the file.
const WRITE_BUFFER: usize = 4 << 20;
/// Streamed bytes (see [`BlockWriter::streaming`]) stay in the page cache
/// until this far behind the end of the pack.
const STREAM_CACHE_WINDOW: u64 = 64 << 20;

/// Where a block's bytes are.
#[derive(Debug, Clone, Copy)]
struct Loc {
    pack: u32,
    offset: u64,
    len: u32,
}

struct Active {
    id: u32,
    /// Opened without `O_APPEND`: every write names its offset, so bytes a
    /// failed write left past `len` are simply overwritten later.
    file: File,
    /// Length of the pack including `buf`.
    len: u64,
    /// Length covered by an index commit (durable and recorded).
    committed: u64,
    buf: Vec<u8>,
    /// `buf` holds streamed bytes (see [`BlockWriter::streaming`]).
    buf_streamed: bool,
    /// The file system refused `RWF_DONTCACHE`: plain writes from then on.
    no_dontcache: bool,
    /// File offset up to which writeback has been started.
    kicked: u64,
    /// Bytes of abandoned batches in the uncommitted tail: added to the
    /// pack's dead bytes by the next commit, forgotten by a rollback.
    pending_dead: u64,
    /// Every rollback as `(pack, length it went back to)`; a batch started
    /// before the n-th rollback checks `cuts[n]` to see what it lost.
    cuts: Vec<(u32, u64)>,
}

/// Writeback is started every this many bytes (see [`Active::kick`]).
const WRITEBACK_STEP: u64 = 8 << 20;

impl Active {
    fn new(id: u32, file: File, len: u64) -> Self {
        Active {
            id,
            file,
            len,
            committed: len,
            buf: Vec::with_capacity(WRITE_BUFFER),
            buf_streamed: false,
            no_dontcache: false,
            kicked: len,
            pending_dead: 0,
            cuts: Vec::new(),
        }
    }

    /// Switches to a new, empty pack.
    fn start(&mut self, id: u32, file: File) {
        self.id = id;
        self.file = file;
        self.len = 0;
        self.committed = 0;
        self.kicked = 0;
        self.pending_dead = 0;
        self.buf.clear();
        self.buf_streamed = false;
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let at = self.len - self.buf.len() as u64;
            write_pack(
                &self.file,
                at,
                &self.buf,
                self.buf_streamed,
                &mut self.no_dontcache,
            )?;
            self.buf.clear();
        }
        self.buf_streamed = false;
        self.kick();
        Ok(())
    }

    /// Forgets everything appended since the last commit, after a failed
    /// write (typically ENOSPC): truncating at once gives the space back,
    /// so the next add can succeed without a restart. Batches that had
    /// bytes in the cut tail fail on their next put or commit.
    fn rollback(&mut self) {
        self.buf.clear();
        self.buf_streamed = false;
        self.len = self.committed;
        self.kicked = self.kicked.min(self.committed);
        self.pending_dead = 0;
        // Best effort: writes go to explicit offsets and `open` truncates
        // to the committed length anyway.
        if let Err(e) = self.file.set_len(self.committed) {
            tracing::warn!("could not truncate pack {}: {e}", self.id);
        }
        self.cuts.push((self.id, self.committed));
    }

    /// Records the pack's length and dead bytes in the committing
    /// transaction's `packs` table.
    fn record(&self, packs: &mut redb::Table<u32, (u64, u64)>) -> Result<()> {
        let dead = packs.get(self.id)?.map_or(0, |v| v.value().1);
        packs.insert(self.id, (self.len, dead + self.pending_dead))?;
        Ok(())
    }

    /// After the transaction of [`Active::record`] committed.
    fn committed(&mut self) {
        self.committed = self.len;
        self.pending_dead = 0;
    }

    /// Whether `entries`, appended before rollback number `since`, lost
    /// bytes to a rollback. Later cuts cannot reach them: each cut is at or
    /// past the committed length the first one left.
    fn lost(&self, since: usize, entries: &[(Vec<u8>, Loc)]) -> bool {
        entries.iter().any(|(_, l)| self.cut(since, l))
    }

    /// Whether rollback number `since` cut the bytes at `loc`.
    fn cut(&self, since: usize, loc: &Loc) -> bool {
        self.cuts
            .get(since)
            .is_some_and(|&(p, at)| loc.pack == p && loc.offset >= at)
    }

    /// Asks the kernel to start writing what we appended so far, without
    /// waiting. The commit's fsync then only waits for the tail, so disk
    /// writes overlap with chunking and hashing instead of following them.
    fn kick(&mut self) {
        let written = self.len - self.buf.len() as u64;
        if written < self.kicked + WRITEBACK_STEP {
            return;
        }
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: a valid open fd and a range inside the file; the call
            // only schedules writeback and touches no memory of ours.
            unsafe {
                libc::sync_file_range(
                    self.file.as_raw_fd(),
                    self.kicked as libc::off64_t,
                    (written - self.kicked) as libc::off64_t,
                    libc::SYNC_FILE_RANGE_WRITE,
                );
            }
        }
        self.kicked = written;
    }
}

/// Pack files plus a redb index. See the module docs for the design.
pub struct PackStore {
    dir: PathBuf,
    /// Locked for writing only by [`PackStore::compact_index`]. Nothing
    /// holds a write transaction while it takes this lock again.
    db: RwLock<Database>,
    active: Mutex<Active>,
    readers: RwLock<HashMap<u32, Arc<File>>>,
    /// Serialises compaction against itself.
    compacting: Mutex<()>,
    /// Committed streamed byte ranges `(pack, start, end)` still in the
    /// page cache.
    streamed: Mutex<Vec<(u32, u64, u64)>>,
}

fn pack_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("{id:08}.pack"))
}

fn open_pack(dir: &Path, id: u32) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(pack_path(dir, id))
}

impl PackStore {
    /// Opens (or creates) a store in `dir`, repairing the tail of packs that a
    /// crash left with uncommitted bytes.
    pub fn open(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir)?;
        let db = Database::create(dir.join("index.redb"))?;
        let tx = db.begin_write()?;
        let mut packs: Vec<(u32, u64)> = Vec::new();
        {
            tx.open_table(BLOCKS)?;
            let t = tx.open_table(PACKS)?;
            for row in t.iter()? {
                let (id, v) = row?;
                packs.push((id.value(), v.value().0));
            }
        }
        let packs: Vec<(u32, u64)> = packs;
        tx.commit()?;

        // Drop what no commit covers: uncommitted appends, and packs created
        // but never committed.
        let known: HashSet<u32> = packs.iter().map(|p| p.0).collect();
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            let id = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".pack"))
                .and_then(|n| n.parse::<u32>().ok());
            if let Some(id) = id {
                if !known.contains(&id) {
                    fs::remove_file(&path)?;
                }
            }
        }
        for &(id, committed) in &packs {
            let f = OpenOptions::new().write(true).open(pack_path(dir, id))?;
            if f.metadata()?.len() > committed {
                f.set_len(committed)?;
                f.sync_all()?;
            }
        }

        let (id, len) = match packs.iter().max_by_key(|p| p.0) {
            Some(&(id, len)) if len < PACK_TARGET => (id, len),
            Some(&(id, _)) => (id + 1, 0),
            None => (1, 0),
        };
        let file = open_pack(dir, id)?;
        sync_dir(dir)?;
        Ok(PackStore {
            dir: dir.to_path_buf(),
            db: RwLock::new(db),
            active: Mutex::new(Active::new(id, file, len)),
            readers: RwLock::new(HashMap::new()),
            compacting: Mutex::new(()),
            streamed: Mutex::new(Vec::new()),
        })
    }

    fn db(&self) -> RwLockReadGuard<'_, Database> {
        self.db.read().unwrap()
    }

    fn reader(&self, pack: u32) -> Result<Arc<File>> {
        if let Some(f) = self.readers.read().unwrap().get(&pack) {
            return Ok(f.clone());
        }
        let f = Arc::new(File::open(pack_path(&self.dir, pack))?);
        self.readers.write().unwrap().insert(pack, f.clone());
        Ok(f)
    }

    fn locate(&self, mh: &Multihash) -> Result<Option<Loc>> {
        let rt = self.db().begin_read()?;
        let t = rt.open_table(BLOCKS)?;
        let key = mh.to_bytes();
        Ok(t.get(key.as_slice())?.map(|v| {
            let (pack, offset, len) = v.value();
            Loc { pack, offset, len }
        }))
    }

    fn read_loc(&self, loc: Loc) -> Result<Bytes> {
        let file = self.reader(loc.pack)?;
        let mut buf = vec![0u8; loc.len as usize];
        file.read_exact_at(&mut buf, loc.offset)?;
        Ok(Bytes::from(buf))
    }

    /// Appends one record to the active pack; returns where its data went.
    /// A failed write rolls the pack back to its last commit.
    fn append(&self, active: &mut Active, mh: &[u8], data: &[u8], streamed: bool) -> Result<Loc> {
        let len =
            u32::try_from(data.len()).map_err(|_| Error::Repo("block larger than 4 GiB".into()))?;
        let r = self.append_record(active, mh, data, len, streamed);
        rollback_on_io_error(active, &r);
        r
    }

    fn append_record(
        &self,
        active: &mut Active,
        mh: &[u8],
        data: &[u8],
        len: u32,
        streamed: bool,
    ) -> Result<Loc> {
        if active.len >= PACK_TARGET {
            self.rotate(active)?;
        }
        let header = 5 + mh.len() as u64;
        if active.buf.len() + data.len() > WRITE_BUFFER {
            active.flush()?;
        }
        active.buf.extend_from_slice(&len.to_le_bytes());
        active.buf.push(mh.len() as u8);
        active.buf.extend_from_slice(mh);
        active.buf_streamed |= streamed;
        active.len += header;
        let loc = Loc {
            pack: active.id,
            offset: active.len,
            len,
        };
        if data.len() >= WRITE_BUFFER / 2 {
            active.flush()?;
            let at = active.len;
            write_pack(&active.file, at, data, streamed, &mut active.no_dontcache)?;
            active.len += data.len() as u64;
            active.kick();
        } else {
            active.buf.extend_from_slice(data);
            active.len += data.len() as u64;
        }
        Ok(loc)
    }

    /// Starts a new pack. The old one is synced first: its committed length
    /// is recorded by the next commit, which must find its bytes durable.
    fn rotate(&self, active: &mut Active) -> Result<()> {
        active.flush()?;
        active.file.sync_data()?;
        let id = active.id + 1;
        let file = open_pack(&self.dir, id)?;
        sync_dir(&self.dir)?;
        // Record the finished pack's length right away so it is never
        // mistaken for an uncommitted one.
        let tx = self.db().begin_write()?;
        {
            let mut packs = tx.open_table(PACKS)?;
            active.record(&mut packs)?;
            packs.insert(id, (0, 0))?;
        }
        tx.commit()?;
        active.start(id, file);
        Ok(())
    }

    /// Flushes and fsyncs the active pack, then commits `entries` (appended
    /// since rollback number `since`) and the pack's committed length in one
    /// index transaction. A failed write rolls the pack back.
    fn commit_entries(&self, since: usize, entries: &[(Vec<u8>, Loc)]) -> Result<()> {
        let mut active = self.active.lock().unwrap();
        if active.lost(since, entries) {
            return Err(rolled_back());
        }
        let r = self.commit_locked(&mut active, entries);
        rollback_on_io_error(&mut active, &r);
        r
    }

    fn commit_locked(&self, active: &mut Active, entries: &[(Vec<u8>, Loc)]) -> Result<()> {
        active.flush()?;
        active.file.sync_data()?;
        let tx = self.db().begin_write()?;
        {
            let mut blocks = tx.open_table(BLOCKS)?;
            let mut packs = tx.open_table(PACKS)?;
            let mut dup: HashMap<u32, u64> = HashMap::new();
            for (mh, loc) in entries {
                // Another writer may have stored the same block meanwhile: keep
                // the first copy and count ours as dead.
                if blocks.get(mh.as_slice())?.is_some() {
                    *dup.entry(loc.pack).or_default() += record_len(mh.len(), loc.len);
                    continue;
                }
                blocks.insert(mh.as_slice(), (loc.pack, loc.offset, loc.len))?;
            }
            active.record(&mut packs)?;
            for (pack, bytes) in dup {
                let (len, dead) = packs.get(pack)?.map_or((0, 0), |v| v.value());
                packs.insert(pack, (len, dead + bytes))?;
            }
        }
        tx.commit()?;
        active.committed();
        Ok(())
    }

    /// Where uncached writes are refused (see [`write_pack`]), evicts
    /// committed streamed bytes from the page cache once they are
    /// [`STREAM_CACHE_WINDOW`] behind the end of the pack.
    ///
    /// Why: a node fetching gigabytes for its pins would otherwise push the
    /// data it serves out of the page cache; and on virtual machines whose
    /// free memory goes back to the host, every page cache page never used
    /// before costs a host fault, while evicted pages are reused at once (a
    /// 256 MiB ferrite → ferrite transfer: 1.09–1.28 s without eviction,
    /// 0.88–0.95 s with it; docs/perf-log.md). The price: reading such a file
    /// again soon reads the disk.
    fn evict_streamed(&self, entries: &[(Vec<u8>, Loc)]) {
        let (head_pack, head) = {
            let a = self.active.lock().unwrap();
            if !a.no_dontcache {
                // Written uncached: the kernel drops the pages itself.
                return;
            }
            (a.id, a.len)
        };
        let mut ranges = self.streamed.lock().unwrap();
        for (mh, loc) in entries {
            let end = loc.offset + loc.len as u64;
            let start = end - record_len(mh.len(), loc.len);
            match ranges.last_mut() {
                Some(r) if r.0 == loc.pack && r.2 == start => r.2 = end,
                _ => ranges.push((loc.pack, start, end)),
            }
        }
        ranges.retain_mut(|(pack, start, end)| {
            let limit = if *pack == head_pack {
                head.saturating_sub(STREAM_CACHE_WINDOW)
            } else {
                u64::MAX
            };
            let until = (*end).min(limit);
            if until <= *start {
                return true;
            }
            if let Ok(f) = self.reader(*pack) {
                drop_cached(&f, *start, until - *start);
            }
            *start = until;
            until < *end
        });
    }

    /// Reads every stored block and checks it against its multihash; returns
    /// the CIDs (as raw CIDv1) of blocks that fail.
    pub fn verify_all(&self, progress: &mut dyn FnMut(u64)) -> Result<Vec<Multihash>> {
        let mut bad = Vec::new();
        let rt = self.db().begin_read()?;
        let t = rt.open_table(BLOCKS)?;
        let mut n = 0;
        for row in t.iter()? {
            let (k, v) = row?;
            let mh = Multihash::from_bytes(k.value())
                .map_err(|e| Error::Repo(format!("corrupt index key: {e}")))?;
            let (pack, offset, len) = v.value();
            let ok = match self.read_loc(Loc { pack, offset, len }) {
                Ok(data) => ferrite_ipld::HashAlg::from_code(mh.code())
                    .map(|a| a.digest(&data) == mh)
                    .unwrap_or(false),
                Err(_) => false,
            };
            if !ok {
                bad.push(mh);
            }
            n += 1;
            progress(n);
        }
        Ok(bad)
    }
}

/// Rolls the active pack back after a failed write to it. Index errors do
/// not: a failed commit may still have landed, and its entries must keep
/// their bytes (redb then refuses all work until reopened anyway).
fn rollback_on_io_error<T>(active: &mut Active, r: &Result<T>) {
    if let Err(Error::Io(_)) = r {
        active.rollback();
    }
}

fn rolled_back() -> Error {
    Error::Repo("a failed write to the block store rolled back this batch; try again".into())
}

fn record_len(mh_len: usize, data_len: u32) -> u64 {
    5 + mh_len as u64 + data_len as u64
}

/// Appends `data` to a pack. Streamed data is written with `RWF_DONTCACHE`
/// (Linux 6.14+), which drops its pages from the page cache once written
/// back, unless the kernel or file system refused it before (`refused`,
/// set on the first refusal; the data is then written normally).
///
/// Why, for streamed bytes: on a VM whose free memory goes back to the
/// host, filling fresh page cache pages runs at 350–500 MB/s here, against
/// 1.4–1.7 GB/s for the recycled pages of uncached writes (and a fetch
/// that fills the page cache pushes out the data the node serves).
fn write_pack(
    file: &File,
    mut at: u64,
    data: &[u8],
    streamed: bool,
    refused: &mut bool,
) -> std::io::Result<()> {
    #[cfg(test)]
    let data = tests::budget(file, at, data)?;
    #[cfg(target_os = "linux")]
    if streamed && !*refused {
        use std::os::fd::AsRawFd;
        let mut rest = data;
        while !rest.is_empty() {
            let iov = libc::iovec {
                iov_base: rest.as_ptr() as *mut libc::c_void,
                iov_len: rest.len(),
            };
            // SAFETY: `iov` points at `rest`, alive for the call.
            let n = unsafe {
                libc::pwritev2(
                    file.as_raw_fd(),
                    &iov,
                    1,
                    at as libc::off_t,
                    libc::RWF_DONTCACHE,
                )
            };
            if n >= 0 {
                rest = &rest[n as usize..];
                at += n as u64;
                continue;
            }
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => {}
                // Older kernels and file systems without uncached writes.
                Some(libc::EOPNOTSUPP | libc::EINVAL) => {
                    *refused = true;
                    return file.write_all_at(rest, at);
                }
                _ => return Err(e),
            }
        }
        return Ok(());
    }
    let _ = (streamed, refused);
    file.write_all_at(data, at)
}

/// Asks the kernel to drop the (clean) cached pages of a file range.
fn drop_cached(f: &File, offset: u64, len: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a valid open fd; the call only changes the page cache.
        unsafe {
            libc::posix_fadvise(
                f.as_raw_fd(),
                offset as libc::off_t,
                len as libc::off_t,
                libc::POSIX_FADV_DONTNEED,
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (f, offset, len);
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Blockstore for PackStore {
    fn get(&self, cid: &Cid) -> Result<Option<Bytes>> {
        if let Some(b) = identity_bytes(cid) {
            return Ok(Some(b));
        }
        match self.locate(cid.hash())? {
            Some(loc) => Ok(Some(self.read_loc(loc)?)),
            None => Ok(None),
        }
    }

    fn has(&self, cid: &Cid) -> Result<bool> {
        Ok(identity_bytes(cid).is_some() || self.locate(cid.hash())?.is_some())
    }

    fn size(&self, cid: &Cid) -> Result<Option<u64>> {
        if let Some(b) = identity_bytes(cid) {
            return Ok(Some(b.len() as u64));
        }
        Ok(self.locate(cid.hash())?.map(|l| l.len as u64))
    }

    fn writer(&self) -> Result<Box<dyn BlockWriter + '_>> {
        Ok(Box::new(PackWriter {
            store: self,
            entries: Vec::new(),
            seen: HashSet::new(),
            since: 0,
            done: false,
            streaming: false,
        }))
    }

    fn delete(&self, hashes: &[Multihash]) -> Result<u64> {
        let tx = self.db().begin_write()?;
        let mut n = 0;
        {
            let mut blocks = tx.open_table(BLOCKS)?;
            let mut dead: HashMap<u32, u64> = HashMap::new();
            for mh in hashes {
                let key = mh.to_bytes();
                if let Some(v) = blocks.remove(key.as_slice())? {
                    let (pack, _, len) = v.value();
                    *dead.entry(pack).or_default() += record_len(key.len(), len);
                    n += 1;
                }
            }
            let mut packs = tx.open_table(PACKS)?;
            for (pack, bytes) in dead {
                let (len, d) = packs.get(pack)?.map_or((0, 0), |v| v.value());
                packs.insert(pack, (len, d + bytes))?;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    fn for_each(&self, f: &mut dyn FnMut(&Multihash, u64) -> bool) -> Result<()> {
        let rt = self.db().begin_read()?;
        let t = rt.open_table(BLOCKS)?;
        for row in t.iter()? {
            let (k, v) = row?;
            let mh = Multihash::from_bytes(k.value())
                .map_err(|e| Error::Repo(format!("corrupt index key: {e}")))?;
            if !f(&mh, v.value().2 as u64) {
                break;
            }
        }
        Ok(())
    }

    fn stat(&self) -> Result<StoreStat> {
        let rt = self.db().begin_read()?;
        let packs = rt.open_table(PACKS)?;
        let mut s = StoreStat {
            blocks: rt.open_table(BLOCKS)?.len()?,
            ..Default::default()
        };
        for row in packs.iter()? {
            let (_, v) = row?;
            let (len, dead) = v.value();
            s.block_bytes += len.saturating_sub(dead);
            s.dead_bytes += dead.min(len);
        }
        drop(packs);
        drop(rt);
        // What the files really take, uncommitted tails included.
        for entry in fs::read_dir(&self.dir)? {
            let path = entry?.path();
            let ext = path.extension().and_then(|x| x.to_str());
            if matches!(ext, Some("pack" | "redb")) {
                s.disk_bytes += fs::metadata(&path).map_or(0, |m| m.len());
            }
        }
        Ok(s)
    }

    fn compact(&self) -> Result<u64> {
        let _one = self.compacting.lock().unwrap();
        let mut freed = 0;
        for victim in self.victims()? {
            freed += self.compact_pack(victim)?;
        }
        sync_dir(&self.dir)?;
        self.compact_index();
        Ok(freed)
    }
}

/// Reclaim policy: packs go in order of dead share until the dead bytes
/// left are at most `1 / DEAD_SHARE_OF_LIVE` of the live ones, so disk use
/// stays within 1.2 × live (plus the index). Highest share first frees the
/// most per byte copied; a victim is then at least 1/6 dead, so reclaiming
/// a byte copies at most 5. Packs more than half dead go whatever the total
/// (cheap: at most one byte copied per byte freed).
const DEAD_SHARE_OF_LIVE: u64 = 5;

impl PackStore {
    /// The packs `compact` rewrites, by the reclaim policy above.
    fn victims(&self) -> Result<Vec<u32>> {
        let mut packs: Vec<(u32, u64, u64)> = Vec::new();
        {
            let rt = self.db().begin_read()?;
            for row in rt.open_table(PACKS)?.iter()? {
                let (id, v) = row?;
                let (len, dead) = v.value();
                packs.push((id.value(), len, dead.min(len)));
            }
        }
        let live: u64 = packs.iter().map(|p| p.1 - p.2).sum();
        let mut dead: u64 = packs.iter().map(|p| p.2).sum();
        // dead / len, descending, compared without floats
        packs.sort_by(|a, b| (b.2 as u128 * a.1 as u128).cmp(&(a.2 as u128 * b.1 as u128)));
        let mut victims = Vec::new();
        for (id, len, d) in packs {
            if d == 0 || (d * 2 <= len && dead * DEAD_SHARE_OF_LIVE <= live) {
                break;
            }
            victims.push(id);
            dead -= d;
        }
        Ok(victims)
    }

    /// Copies the live blocks of pack `victim` to the active pack, commits
    /// their new places and deletes the pack; returns the bytes freed.
    fn compact_pack(&self, victim: u32) -> Result<u64> {
        {
            // The active pack is retired first; its live blocks then go to
            // the new one.
            let mut active = self.active.lock().unwrap();
            if active.id == victim {
                let r = self.rotate(&mut active);
                rollback_on_io_error(&mut active, &r);
                r?;
            }
        }
        // Live blocks of the victim: scan the index (packs are large and
        // few, so one pass per victim is cheap next to the copying).
        let live: Vec<(Vec<u8>, Loc)> = {
            let rt = self.db().begin_read()?;
            let t = rt.open_table(BLOCKS)?;
            let mut v = Vec::new();
            for row in t.iter()? {
                let (k, val) = row?;
                let (pack, offset, len) = val.value();
                if pack == victim {
                    v.push((k.value().to_vec(), Loc { pack, offset, len }));
                }
            }
            v
        };
        let since = self.active.lock().unwrap().cuts.len();
        let mut moved = Vec::with_capacity(live.len());
        for (mh, loc) in &live {
            let data = self.read_loc(*loc)?;
            let mut active = self.active.lock().unwrap();
            let new = self.append(&mut active, mh, &data, false)?;
            moved.push((mh.clone(), new));
        }
        {
            let mut active = self.active.lock().unwrap();
            if active.lost(since, &moved) {
                return Err(rolled_back());
            }
            let r = self.commit_moved(&mut active, victim, &moved);
            rollback_on_io_error(&mut active, &r);
            r?;
        }
        self.readers.write().unwrap().remove(&victim);
        let path = pack_path(&self.dir, victim);
        let len = fs::metadata(&path)?.len();
        fs::remove_file(path)?;
        Ok(len)
    }

    fn commit_moved(
        &self,
        active: &mut Active,
        victim: u32,
        moved: &[(Vec<u8>, Loc)],
    ) -> Result<()> {
        active.flush()?;
        active.file.sync_data()?;
        let tx = self.db().begin_write()?;
        {
            let mut blocks = tx.open_table(BLOCKS)?;
            for (mh, loc) in moved {
                // Skip blocks deleted while we copied them.
                if blocks.get(mh.as_slice())?.is_some() {
                    blocks.insert(mh.as_slice(), (loc.pack, loc.offset, loc.len))?;
                }
            }
            let mut packs = tx.open_table(PACKS)?;
            packs.remove(victim)?;
            active.record(&mut packs)?;
        }
        tx.commit()?;
        active.committed();
        Ok(())
    }

    /// Gives the index's free pages back to the file system once they are
    /// most of the file (redb reuses freed pages but never shrinks the file
    /// by itself). Best effort: skipped while a read is in flight.
    fn compact_index(&self) {
        let path = self.dir.join("index.redb");
        let Ok(file_len) = fs::metadata(&path).map(|m| m.len()) else {
            return;
        };
        let used = (|| -> Result<u64> {
            let tx = self.db().begin_write()?;
            let st = tx.stats()?;
            tx.abort()?;
            Ok(st.allocated_pages() * st.page_size() as u64)
        })();
        match used {
            Ok(used) if file_len > 2 * used + INDEX_SLACK => {}
            _ => return,
        }
        let mut db = self.db.write().unwrap();
        match db.compact() {
            Ok(_) => tracing::debug!(
                "index compacted: {file_len} -> {} bytes",
                fs::metadata(&path).map_or(0, |m| m.len())
            ),
            Err(e) => tracing::debug!("index not compacted: {e}"),
        }
    }
}

/// Free index space below this is not worth a compaction.
const INDEX_SLACK: u64 = 1 << 20;

/// A batch of appends that becomes visible on commit.
struct PackWriter<'a> {
    store: &'a PackStore,
    entries: Vec<(Vec<u8>, Loc)>,
    seen: HashSet<Vec<u8>>,
    /// Rollbacks before this batch's first append (see [`Active::lost`]).
    since: usize,
    done: bool,
    streaming: bool,
}

impl BlockWriter for PackWriter<'_> {
    fn put(&mut self, cid: &Cid, data: &[u8]) -> Result<()> {
        if cid.hash().code() == 0x00 {
            return Ok(());
        }
        let mh = cid.hash().to_bytes();
        if self.seen.contains(&mh) || self.store.locate(cid.hash())?.is_some() {
            return Ok(());
        }
        let loc = {
            let mut active = self.store.active.lock().unwrap();
            if self.entries.is_empty() {
                self.since = active.cuts.len();
            } else if active.lost(self.since, &self.entries) {
                return Err(rolled_back());
            }
            self.store.append(&mut active, &mh, data, self.streaming)?
        };
        self.seen.insert(mh.clone());
        self.entries.push((mh, loc));
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        self.done = true;
        self.store.commit_entries(self.since, &self.entries)?;
        if self.streaming {
            self.store.evict_streamed(&self.entries);
        }
        Ok(())
    }

    fn streaming(&mut self) {
        self.streaming = true;
    }
}

impl Drop for PackWriter<'_> {
    fn drop(&mut self) {
        if self.done || self.entries.is_empty() {
            return;
        }
        // Abandoned batch: its bytes stay in the pack unreferenced; count them
        // as dead so compaction reclaims them. Bytes a rollback cut are gone.
        let mut dead: HashMap<u32, u64> = HashMap::new();
        {
            let mut active = self.store.active.lock().unwrap();
            for (mh, loc) in &self.entries {
                let n = record_len(mh.len(), loc.len);
                if active.cut(self.since, loc) {
                    continue;
                } else if loc.pack == active.id && loc.offset >= active.committed {
                    active.pending_dead += n;
                } else {
                    *dead.entry(loc.pack).or_default() += n;
                }
            }
        }
        if dead.is_empty() {
            return;
        }
        let r: Result<()> = (|| {
            let tx = self.store.db().begin_write()?;
            {
                let mut packs = tx.open_table(PACKS)?;
                for (pack, bytes) in dead {
                    let (len, d) = packs.get(pack)?.map_or((0, 0), |v| v.value());
                    packs.insert(pack, (len, d + bytes))?;
                }
            }
            tx.commit()?;
            Ok(())
        })();
        if let Err(e) = r {
            tracing::warn!("could not record abandoned block batch: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_ipld::{codecs, HashAlg};
    use std::cell::Cell;

    thread_local! {
        /// Bytes this thread may still write to packs; `None`: no limit.
        static BUDGET: Cell<Option<u64>> = const { Cell::new(None) };
    }

    /// A full disk: writes what the budget allows, then fails with ENOSPC.
    pub(super) fn budget<'a>(file: &File, at: u64, data: &'a [u8]) -> std::io::Result<&'a [u8]> {
        let Some(left) = BUDGET.get() else {
            return Ok(data);
        };
        if data.len() as u64 <= left {
            BUDGET.set(Some(left - data.len() as u64));
            return Ok(data);
        }
        file.write_all_at(&data[..left as usize], at)?;
        BUDGET.set(Some(0));
        Err(std::io::Error::from_raw_os_error(libc::ENOSPC))
    }

    fn block(i: u32, size: usize) -> (Cid, Vec<u8>) {
        let mut v: Vec<u8> = (0..size).map(|j| (j * 7 + i as usize * 31) as u8).collect();
        v[..4].copy_from_slice(&i.to_le_bytes());
        (Cid::new_v1(codecs::RAW, HashAlg::Sha2_256.digest(&v)), v)
    }

    fn pack_bytes(dir: &Path) -> u64 {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "pack"))
            .map(|p| fs::metadata(p).unwrap().len())
            .sum()
    }

    #[test]
    fn a_failed_write_rolls_back_and_the_store_recovers_without_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let s = PackStore::open(dir.path()).unwrap();
        let (kept, data) = block(0, 300_000);
        let mut w = s.writer().unwrap();
        w.put(&kept, &data).unwrap();
        w.commit().unwrap();
        let committed = pack_bytes(dir.path());

        // Another batch is in flight (its bytes still buffered) when the
        // disk fills up under a big one.
        let (other, other_data) = block(1, 1000);
        let mut bystander = s.writer().unwrap();
        bystander.put(&other, &other_data).unwrap();
        BUDGET.set(Some(1 << 20));
        let mut w = s.writer().unwrap();
        let err = (0..40)
            .map(|i| block(10 + i, 256 << 10))
            .find_map(|(c, d)| w.put(&c, &d).err())
            .expect("the disk fills up");
        assert!(err.to_string().contains("No space left"), "{err}");
        BUDGET.set(None);
        drop(w);
        assert_eq!(pack_bytes(dir.path()), committed, "tail truncated at once");
        // The bystander's bytes went with the tail: it must not commit them.
        let err = bystander.commit().unwrap_err();
        assert!(err.to_string().contains("rolled back"), "{err}");
        assert!(!s.has(&other).unwrap());
        assert_eq!(
            s.stat().unwrap().dead_bytes,
            0,
            "nothing cut counts as dead"
        );

        // Space is back: the same store takes the same data.
        let mut w = s.writer().unwrap();
        let blocks: Vec<_> = (0..40).map(|i| block(10 + i, 256 << 10)).collect();
        for (c, d) in &blocks {
            w.put(c, d).unwrap();
        }
        w.put(&other, &other_data).unwrap();
        w.commit().unwrap();
        assert!(s.verify_all(&mut |_| {}).unwrap().is_empty());
        let st = s.stat().unwrap();
        assert_eq!(st.blocks, 42);
        assert_eq!(st.dead_bytes, 0);
        assert_eq!(st.block_bytes, pack_bytes(dir.path()));
        drop(s);
        let s = PackStore::open(dir.path()).unwrap();
        for (c, d) in &blocks {
            assert_eq!(s.get(c).unwrap().unwrap(), &d[..]);
        }
        assert!(s.verify_all(&mut |_| {}).unwrap().is_empty());
    }

    #[test]
    fn a_failed_commit_fsync_path_rolls_back_too() {
        // A write that fails while flushing at commit time.
        let dir = tempfile::tempdir().unwrap();
        let s = PackStore::open(dir.path()).unwrap();
        let mut w = s.writer().unwrap();
        let (c, d) = block(1, 100_000);
        w.put(&c, &d).unwrap();
        BUDGET.set(Some(10));
        assert!(w.commit().is_err());
        BUDGET.set(None);
        assert_eq!(pack_bytes(dir.path()), 0);
        assert!(!s.has(&c).unwrap());
        let mut w = s.writer().unwrap();
        w.put(&c, &d).unwrap();
        w.commit().unwrap();
        assert_eq!(s.get(&c).unwrap().unwrap(), &d[..]);
        assert_eq!(s.stat().unwrap().dead_bytes, 0);
    }
}
