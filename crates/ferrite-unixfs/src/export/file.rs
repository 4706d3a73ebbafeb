//! Streaming reads of UnixFS files of any layout (balanced, trickle, raw or
//! dag-pb leaves, inline data on inner nodes).
//!
//! The reader keeps one frame per tree level (the child list of each node on
//! the path to the current leaf) plus the current leaf's bytes, so memory is
//! O(depth) blocks whatever the file size. Seeking uses `blocksizes` to skip
//! whole subtrees without fetching them. Leaves are handed out as slices of
//! the block (`Bytes`), so [`FileReader::next_chunk`] copies nothing.

use super::node::{codec_label, load_node, Node};
use super::resolve::{file_size, Mtime};
use super::{ExportError, Result, MAX_DEPTH};
use crate::pb::DataType;
use crate::BlockSource;
use bytes::{Buf, Bytes};
use ferrite_ipld::Cid;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// The children still to visit of one file node.
struct Frame {
    /// Child CIDs with the byte count each one must produce.
    children: Vec<(Cid, u64)>,
    /// Index of the next child to enter.
    next: usize,
}

/// A streaming reader over a UnixFS file (dag-pb file tree or raw block),
/// optionally limited to a byte range (`cat --offset/--length`).
///
/// Implements [`Read`] and [`Seek`]; [`FileReader::next_chunk`] is the
/// zero-copy way to consume it. Any [`BlockSource`] works, including `&T`
/// and `Arc<T>`, so the reader can borrow or own its source.
pub struct FileReader<S: BlockSource> {
    src: S,
    root: Cid,
    size: u64,
    mode: Option<u32>,
    mtime: Option<Mtime>,
    /// Absolute offset of the next byte handed out.
    pos: u64,
    /// Absolute offset where reading stops (end of the range).
    end: u64,
    /// Unread bytes of the current leaf (or inline data), starting at `pos`.
    chunk: Bytes,
    stack: Vec<Frame>,
    /// Set after an error or a seek: the walk state must be rebuilt from the
    /// root at `pos` before the next read, so a failed fetch can be retried.
    stale: bool,
}

impl<S: BlockSource> FileReader<S> {
    /// Opens the whole file at `cid`.
    ///
    /// Fails with [`ExportError::IsDir`] for directories,
    /// [`ExportError::IsSymlink`] for symlinks and
    /// [`ExportError::NotUnixFs`] for anything that is not UnixFS.
    pub fn new(src: S, cid: &Cid) -> Result<Self> {
        Self::with_range(src, cid, 0, None)
    }

    /// Opens the file at `cid` for reading `length` bytes (all, if `None`)
    /// from `offset`. An offset at or past the end gives an empty reader, as
    /// `ipfs cat --offset` does.
    pub fn with_range(src: S, cid: &Cid, offset: u64, length: Option<u64>) -> Result<Self> {
        let node = load_node(&src, cid)?;
        Self::from_node(src, cid, node, offset, length)
    }

    /// Like [`FileReader::with_range`] for a root block already decoded, so
    /// exporters that classified it first do not fetch it twice.
    pub(crate) fn from_node(
        src: S,
        cid: &Cid,
        node: Node,
        offset: u64,
        length: Option<u64>,
    ) -> Result<Self> {
        let (node, root) = unwrap_root(&src, *cid, node)?;
        let (size, mode, mtime) = match &node {
            Node::Raw(b) => (b.len() as u64, None, None),
            Node::UnixFs { links, meta, .. } => (
                file_size(&root, meta, links.len())?,
                meta.mode,
                meta.mtime.map(|(secs, nanos)| Mtime { secs, nanos }),
            ),
            _ => unreachable!("unwrap_root only returns files"),
        };
        let start = offset.min(size);
        let end = length.map_or(size, |l| start.saturating_add(l).min(size));
        let mut r = FileReader {
            src,
            root,
            size,
            mode,
            mtime,
            pos: start,
            end,
            chunk: Bytes::new(),
            stack: Vec::new(),
            stale: false,
        };
        if start < end {
            r.descend(root, node, start, None)?;
        }
        Ok(r)
    }

    /// Total size of the file (not of the range).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes left before the end of the range.
    pub fn remaining(&self) -> u64 {
        self.end.saturating_sub(self.pos)
    }

    /// Current offset in the file.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// UnixFS permission bits stored on the file's root, if any.
    pub fn mode(&self) -> Option<u32> {
        self.mode
    }

    /// UnixFS modification time stored on the file's root, if any.
    pub fn mtime(&self) -> Option<Mtime> {
        self.mtime
    }

    /// The next run of file bytes (a slice of a block, not a copy), or
    /// `None` at the end of the range.
    pub fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        if !self.fill()? {
            return Ok(None);
        }
        let n = (self.chunk.len() as u64).min(self.remaining()) as usize;
        self.pos += n as u64;
        Ok(Some(self.chunk.split_to(n)))
    }

    /// Writes the rest of the range to `out`, calling `progress` with the
    /// byte count of each write. Returns the number of bytes written.
    pub fn copy_to<W: Write + ?Sized>(
        &mut self,
        out: &mut W,
        mut progress: impl FnMut(u64),
    ) -> Result<u64> {
        let mut total = 0u64;
        while let Some(chunk) = self.next_chunk()? {
            out.write_all(&chunk)?;
            total += chunk.len() as u64;
            progress(chunk.len() as u64);
        }
        Ok(total)
    }

    /// Makes `self.chunk` non-empty, walking to the next leaf as needed.
    /// Returns false at the end of the range.
    fn fill(&mut self) -> Result<bool> {
        if self.pos >= self.end {
            return Ok(false);
        }
        if self.stale {
            self.reposition()?;
        }
        while self.chunk.is_empty() {
            let Some(top) = self.stack.last_mut() else {
                // only reachable if blocksizes lied in a way the checks missed
                return Err(ExportError::malformed(
                    &self.root,
                    format!("file data ended {} bytes early", self.remaining()),
                ));
            };
            let Some(&(cid, size)) = top.children.get(top.next) else {
                self.stack.pop();
                continue;
            };
            top.next += 1;
            if size == 0 {
                continue; // nothing to read there; don't fetch it
            }
            let step = load_node(&self.src, &cid).and_then(|n| self.descend(cid, n, 0, Some(size)));
            if let Err(e) = step {
                self.stale = true;
                return Err(e);
            }
        }
        Ok(true)
    }

    /// Rebuilds the walk state for `self.pos` from the root.
    fn reposition(&mut self) -> Result<()> {
        self.stack.clear();
        self.chunk = Bytes::new();
        if self.pos < self.end {
            // `root` is past any metadata wrapper, so it is the file itself
            let node = load_node(&self.src, &self.root)?;
            self.descend(self.root, node, self.pos, None)?;
        }
        self.stale = false;
        Ok(())
    }

    /// Enters `node` (whose content starts `skip` bytes before the current
    /// position), going down through children until the position falls in
    /// inline data or a leaf. `expected` is the parent's blocksize for it.
    fn descend(
        &mut self,
        mut cid: Cid,
        mut node: Node,
        mut skip: u64,
        mut expected: Option<u64>,
    ) -> Result<()> {
        loop {
            if self.stack.len() >= MAX_DEPTH {
                return Err(ExportError::TooDeep(self.root));
            }
            let (links, meta) = match node {
                Node::Raw(b) => {
                    check_size(&cid, expected, b.len() as u64)?;
                    self.chunk = b.slice((skip as usize).min(b.len())..);
                    return Ok(());
                }
                Node::UnixFs { links, meta, .. }
                    if matches!(meta.kind, DataType::File | DataType::Raw) =>
                {
                    (links, meta)
                }
                Node::UnixFs { meta, .. } => {
                    return Err(ExportError::malformed(
                        &cid,
                        format!("{:?} node inside a file", meta.kind),
                    ))
                }
                _ => {
                    return Err(ExportError::malformed(
                        &cid,
                        "non-UnixFS node inside a file",
                    ))
                }
            };
            check_size(&cid, expected, file_size(&cid, &meta, links.len())?)?;
            let data = meta.data.unwrap_or_default();
            let mut first = 0;
            if skip < data.len() as u64 {
                self.chunk = data.slice(skip as usize..);
            } else {
                skip -= data.len() as u64;
                self.chunk = Bytes::new();
                while first < meta.blocksizes.len() && skip >= meta.blocksizes[first] {
                    skip -= meta.blocksizes[first];
                    first += 1;
                }
            }
            if links.is_empty() {
                return Ok(());
            }
            let children: Vec<(Cid, u64)> = links
                .iter()
                .map(|l| l.cid)
                .zip(meta.blocksizes.iter().copied())
                .collect();
            if !self.chunk.is_empty() || first == children.len() {
                self.stack.push(Frame {
                    children,
                    next: first,
                });
                return Ok(());
            }
            let (child, size) = children[first];
            self.stack.push(Frame {
                children,
                next: first + 1,
            });
            node = load_node(&self.src, &child)?;
            cid = child;
            expected = Some(size);
        }
    }
}

impl<S: BlockSource> std::fmt::Debug for FileReader<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileReader")
            .field("root", &self.root)
            .field("size", &self.size)
            .field("pos", &self.pos)
            .field("end", &self.end)
            .field("depth", &self.stack.len())
            .finish_non_exhaustive()
    }
}

/// Looks through the legacy `Metadata` wrapper of a file's root and maps
/// non-files to the errors `cat` reports.
fn unwrap_root<S: BlockSource + ?Sized>(
    src: &S,
    mut cid: Cid,
    mut node: Node,
) -> Result<(Node, Cid)> {
    if let Node::UnixFs { links, meta, .. } = &node {
        if meta.kind == DataType::Metadata {
            let first = links
                .first()
                .ok_or_else(|| ExportError::malformed(&cid, "metadata node without link"))?;
            cid = first.cid;
            node = load_node(src, &cid)?;
        }
    }
    match &node {
        Node::Raw(_) => {}
        Node::UnixFs { meta, .. } => match meta.kind {
            DataType::File | DataType::Raw => {}
            DataType::Directory | DataType::HamtShard => return Err(ExportError::IsDir(cid)),
            DataType::Symlink => return Err(ExportError::IsSymlink(cid)),
            DataType::Metadata => return Err(ExportError::malformed(&cid, "nested metadata node")),
        },
        Node::PlainPb { reason, .. } => return Err(ExportError::not_unixfs(&cid, reason.clone())),
        Node::Other { codec, .. } => {
            return Err(ExportError::not_unixfs(&cid, codec_label(*codec)))
        }
    }
    Ok((node, cid))
}

/// A child must hold exactly the bytes its parent's blocksize promises,
/// otherwise offsets computed from blocksizes would point at wrong data.
fn check_size(cid: &Cid, expected: Option<u64>, actual: u64) -> Result<()> {
    match expected {
        Some(e) if e != actual => Err(ExportError::malformed(
            cid,
            format!("parent's blocksize is {e} but the node holds {actual} bytes"),
        )),
        _ => Ok(()),
    }
}

impl<S: BlockSource> Read for FileReader<S> {
    /// Fills as much of `buf` as the range allows, crossing leaves as needed.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match self.fill() {
                Ok(true) => {}
                Ok(false) => break,
                // report the bytes already copied; the error recurs next call
                Err(_) if n > 0 => break,
                Err(e) => return Err(e.into()),
            }
            let take =
                ((buf.len() - n).min(self.chunk.len()) as u64).min(self.remaining()) as usize;
            buf[n..n + take].copy_from_slice(&self.chunk[..take]);
            self.chunk.advance(take);
            self.pos += take as u64;
            n += take;
        }
        Ok(n)
    }
}

impl<S: BlockSource> Seek for FileReader<S> {
    /// Positions are offsets in the whole file; reads still stop at the end
    /// of the range the reader was opened with.
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before start"))?;
        if target != self.pos {
            self.pos = target;
            self.stale = true;
        }
        Ok(self.pos)
    }
}
