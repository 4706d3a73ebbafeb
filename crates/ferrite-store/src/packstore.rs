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
//! bytes. Deleting only removes index entries and counts the bytes as dead;
//! [`Blockstore::compact`] later copies live blocks out of mostly-dead packs
//! and removes those files, committing the new locations before deleting.
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
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

/// multihash bytes → (pack id, offset of the data, data length)
const BLOCKS: TableDefinition<&[u8], (u32, u64, u32)> = TableDefinition::new("blocks");
/// pack id → (committed length, dead bytes)
const PACKS: TableDefinition<u32, (u64, u64)> = TableDefinition::new("packs");

/// A pack grows to this size before a new one is started.
const PACK_TARGET: u64 = 512 << 20;
/// Appends are buffered up to this size before they go to the file.
const WRITE_BUFFER: usize = 4 << 20;
/// A pack whose dead share exceeds this is rewritten by `compact`.
const COMPACT_DEAD_RATIO: f64 = 0.5;
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
    file: File,
    /// Length of the file including `buf`.
    len: u64,
    buf: Vec<u8>,
    /// `buf` holds streamed bytes (see [`BlockWriter::streaming`]).
    buf_streamed: bool,
    /// The file system refused `RWF_DONTCACHE`: plain writes from then on.
    no_dontcache: bool,
    /// File offset up to which writeback has been started.
    kicked: u64,
}

/// Writeback is started every this many bytes (see [`Active::kick`]).
const WRITEBACK_STEP: u64 = 8 << 20;

impl Active {
    fn new(id: u32, file: File, len: u64) -> Self {
        Active {
            id,
            file,
            len,
            buf: Vec::with_capacity(WRITE_BUFFER),
            buf_streamed: false,
            no_dontcache: false,
            kicked: len,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            write_pack(
                &mut self.file,
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
    db: Database,
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
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(pack_path(dir, id))?;
        sync_dir(dir)?;
        Ok(PackStore {
            dir: dir.to_path_buf(),
            db,
            active: Mutex::new(Active::new(id, file, len)),
            readers: RwLock::new(HashMap::new()),
            compacting: Mutex::new(()),
            streamed: Mutex::new(Vec::new()),
        })
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
        let rt = self.db.begin_read()?;
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
    fn append(&self, active: &mut Active, mh: &[u8], data: &[u8], streamed: bool) -> Result<Loc> {
        if active.len >= PACK_TARGET {
            self.rotate(active)?;
        }
        let header = 5 + mh.len() as u64;
        let loc = Loc {
            pack: active.id,
            offset: active.len + header,
            len: u32::try_from(data.len())
                .map_err(|_| Error::Repo("block larger than 4 GiB".into()))?,
        };
        if active.buf.len() + data.len() > WRITE_BUFFER {
            active.flush()?;
        }
        active.buf.extend_from_slice(&loc.len.to_le_bytes());
        active.buf.push(mh.len() as u8);
        active.buf.extend_from_slice(mh);
        active.buf_streamed |= streamed;
        if data.len() >= WRITE_BUFFER / 2 {
            active.flush()?;
            write_pack(&mut active.file, data, streamed, &mut active.no_dontcache)?;
            active.len += header + data.len() as u64;
            active.kick();
            return Ok(loc);
        } else {
            active.buf.extend_from_slice(data);
        }
        active.len += header + data.len() as u64;
        Ok(loc)
    }

    /// Starts a new pack. The old one is synced first: its committed length
    /// is recorded by the next commit, which must find its bytes durable.
    fn rotate(&self, active: &mut Active) -> Result<()> {
        active.flush()?;
        active.file.sync_data()?;
        let id = active.id + 1;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(pack_path(&self.dir, id))?;
        sync_dir(&self.dir)?;
        // Record the finished pack's length right away so it is never
        // mistaken for an uncommitted one.
        let tx = self.db.begin_write()?;
        {
            let mut packs = tx.open_table(PACKS)?;
            let dead = packs.get(active.id)?.map_or(0, |v| v.value().1);
            packs.insert(active.id, (active.len, dead))?;
            packs.insert(id, (0, 0))?;
        }
        tx.commit()?;
        *active = Active::new(id, file, 0);
        Ok(())
    }

    /// Flushes and fsyncs the active pack, then commits `entries` and the
    /// pack's committed length in one index transaction.
    fn commit_entries(&self, entries: &[(Vec<u8>, Loc)]) -> Result<()> {
        let mut active = self.active.lock().unwrap();
        active.flush()?;
        active.file.sync_data()?;
        let tx = self.db.begin_write()?;
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
            let cur = packs.get(active.id)?.map_or((0, 0), |v| v.value());
            packs.insert(active.id, (active.len, cur.1))?;
            for (pack, bytes) in dup {
                let (len, dead) = packs.get(pack)?.map_or((0, 0), |v| v.value());
                packs.insert(pack, (len, dead + bytes))?;
            }
        }
        tx.commit()?;
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
        let rt = self.db.begin_read()?;
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
    file: &mut File,
    data: &[u8],
    streamed: bool,
    refused: &mut bool,
) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    if streamed && !*refused {
        use std::os::fd::AsRawFd;
        let mut rest = data;
        while !rest.is_empty() {
            let iov = libc::iovec {
                iov_base: rest.as_ptr() as *mut libc::c_void,
                iov_len: rest.len(),
            };
            // SAFETY: `iov` points at `rest`, alive for the call; offset -1
            // writes at (and advances) the file position, here the end
            // because packs are opened for appending.
            let n = unsafe { libc::pwritev2(file.as_raw_fd(), &iov, 1, -1, libc::RWF_DONTCACHE) };
            if n >= 0 {
                rest = &rest[n as usize..];
                continue;
            }
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => {}
                // Older kernels and file systems without uncached writes.
                Some(libc::EOPNOTSUPP | libc::EINVAL) => {
                    *refused = true;
                    return file.write_all(rest);
                }
                _ => return Err(e),
            }
        }
        return Ok(());
    }
    let _ = (streamed, refused);
    file.write_all(data)
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
            done: false,
            streaming: false,
        }))
    }

    fn delete(&self, hashes: &[Multihash]) -> Result<u64> {
        let tx = self.db.begin_write()?;
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
        let rt = self.db.begin_read()?;
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
        let rt = self.db.begin_read()?;
        let packs = rt.open_table(PACKS)?;
        let mut s = StoreStat {
            blocks: rt.open_table(BLOCKS)?.len()?,
            ..Default::default()
        };
        for row in packs.iter()? {
            let (_, v) = row?;
            let (len, dead) = v.value();
            s.disk_bytes += len;
            s.block_bytes += len.saturating_sub(dead);
        }
        s.disk_bytes += fs::metadata(self.dir.join("index.redb"))?.len();
        Ok(s)
    }

    fn compact(&self) -> Result<u64> {
        let _one = self.compacting.lock().unwrap();
        let active_id = {
            // A mostly dead active pack (typical right after GC) is retired
            // so that it can be compacted like any other.
            let mut active = self.active.lock().unwrap();
            let dead = {
                let rt = self.db.begin_read()?;
                let packs = rt.open_table(PACKS)?;
                let v = packs.get(active.id)?.map_or(0, |v| v.value().1);
                v
            };
            if active.len > 0 && dead as f64 / active.len as f64 > COMPACT_DEAD_RATIO {
                self.rotate(&mut active)?;
            }
            active.id
        };
        let victims: Vec<(u32, u64)> = {
            let rt = self.db.begin_read()?;
            let packs = rt.open_table(PACKS)?;
            let mut v = Vec::new();
            for row in packs.iter()? {
                let (id, val) = row?;
                let (len, dead) = val.value();
                let id = id.value();
                if id != active_id && len > 0 && dead as f64 / len as f64 > COMPACT_DEAD_RATIO {
                    v.push((id, len));
                }
            }
            v
        };
        let mut freed = 0;
        for (victim, len) in victims {
            // Live blocks of the victim: scan the index (packs are large and
            // few, so one pass per victim is cheap next to the copying).
            let live: Vec<(Vec<u8>, Loc)> = {
                let rt = self.db.begin_read()?;
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
            let mut moved = Vec::with_capacity(live.len());
            for (mh, loc) in &live {
                let data = self.read_loc(*loc)?;
                let mut active = self.active.lock().unwrap();
                let new = self.append(&mut active, mh, &data, false)?;
                moved.push((mh.clone(), new));
            }
            {
                let mut active = self.active.lock().unwrap();
                active.flush()?;
                active.file.sync_data()?;
                let tx = self.db.begin_write()?;
                {
                    let mut blocks = tx.open_table(BLOCKS)?;
                    for (mh, loc) in &moved {
                        // Skip blocks deleted while we copied them.
                        if blocks.get(mh.as_slice())?.is_some() {
                            blocks.insert(mh.as_slice(), (loc.pack, loc.offset, loc.len))?;
                        }
                    }
                    let mut packs = tx.open_table(PACKS)?;
                    packs.remove(victim)?;
                    let cur = packs.get(active.id)?.map_or((0, 0), |v| v.value());
                    packs.insert(active.id, (active.len, cur.1))?;
                }
                tx.commit()?;
            }
            self.readers.write().unwrap().remove(&victim);
            fs::remove_file(pack_path(&self.dir, victim))?;
            freed += len;
        }
        sync_dir(&self.dir)?;
        Ok(freed)
    }
}

/// A batch of appends that becomes visible on commit.
struct PackWriter<'a> {
    store: &'a PackStore,
    entries: Vec<(Vec<u8>, Loc)>,
    seen: HashSet<Vec<u8>>,
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
            self.store.append(&mut active, &mh, data, self.streaming)?
        };
        self.seen.insert(mh.clone());
        self.entries.push((mh, loc));
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        self.done = true;
        self.store.commit_entries(&self.entries)?;
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
        // as dead so compaction reclaims them.
        let mut dead: HashMap<u32, u64> = HashMap::new();
        for (mh, loc) in &self.entries {
            *dead.entry(loc.pack).or_default() += record_len(mh.len(), loc.len);
        }
        let r: Result<()> = (|| {
            let tx = self.store.db.begin_write()?;
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
