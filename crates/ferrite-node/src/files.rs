//! Reading UnixFS back: path resolution, `cat`, `get`, `ls`.

use crate::{Error, IpfsPath, Node, Result};
use ferrite_ipld::Cid;
use ferrite_store::Blockstore;
use ferrite_unixfs::export::{self, ExportError};
use std::io::{Read, Write};
use std::path::Path;

/// Files smaller than this are read without a read-ahead (a few blocks).
const READ_AHEAD_MIN: u64 = 1 << 20;

impl From<ExportError> for Error {
    fn from(e: ExportError) -> Self {
        match e {
            ExportError::NotFound(c) => Error::NotFound(c),
            ExportError::NoLink { .. } => Error::NoLink(e.to_string()),
            ExportError::Io(io) => match io
                .get_ref()
                .and_then(|i| i.downcast_ref::<ferrite_store::Error>())
            {
                Some(ferrite_store::Error::NotFound(c)) => Error::NotFound(*c),
                _ => io.into(),
            },
            other => Error::Invalid(other.to_string()),
        }
    }
}

/// One `ls` row.
pub type LsEntry = export::DirEntry;

impl Node {
    /// Resolves a path to the CID it names.
    pub fn resolve(&self, path: &IpfsPath) -> Result<Cid> {
        if path.segments.is_empty() {
            return Ok(path.root);
        }
        Ok(export::resolve(
            &self.source(),
            &path.root,
            &path.sub_path(),
        )?)
    }

    /// `cat`: a streaming reader of the file at `path`, from `offset`, at most
    /// `length` bytes.
    pub fn cat(
        &self,
        path: &IpfsPath,
        offset: u64,
        length: Option<u64>,
    ) -> Result<(u64, Box<dyn Read + Send>)> {
        let cid = self.resolve(path)?;
        let src = self.source();
        let entry = export::stat(&src, &cid)?;
        if entry.kind.is_dir() {
            return Err(Error::Invalid("this dag node is a directory".into()));
        }
        let size = entry.size;
        let len = length.map_or(size.saturating_sub(offset), |l| {
            l.min(size.saturating_sub(offset))
        });
        // Online, the rest of the file is fetched ahead of the reader; for a
        // large file that is not here, into memory the reader takes from.
        let read_ahead = offset == 0 && len > READ_AHEAD_MIN && !self.looks_local(&cid);
        let (src, guard) = self.prefetch(&cid, read_ahead);
        let reader = export::FileReader::with_range(src, &cid, offset, length)?;
        Ok((len, Box::new(Prefetched(reader, guard))))
    }

    /// Whether the blocks of the file at `root` seem to be here: its root
    /// and its first and last children are. (A reader of a local file
    /// reads the store faster itself than through a read-ahead.)
    fn looks_local(&self, root: &Cid) -> bool {
        let Ok(Some(data)) = self.repo.blocks().get(root) else {
            return false;
        };
        let Ok(links) = ferrite_ipld::codec::links(root, &data) else {
            return false;
        };
        let here = |c: Option<&Cid>| c.is_none_or(|c| self.repo.blocks().has(c).unwrap_or(false));
        here(links.first()) && here(links.last())
    }

    /// Size information about the node at `path` (for progress bars and `ls`).
    pub fn stat(&self, path: &IpfsPath) -> Result<export::Entry> {
        let cid = self.resolve(path)?;
        Ok(export::stat(&self.source(), &cid)?)
    }

    /// `get`: writes the file or folder at `path` to `out`.
    pub fn get(&self, path: &IpfsPath, out: &Path, progress: &mut dyn FnMut(u64)) -> Result<()> {
        let cid = self.resolve(path)?;
        self.fetch_dag(&cid, &mut |_| {})?;
        export::write_to_path(&self.source(), &cid, out, progress)?;
        Ok(())
    }

    /// `get -a`: writes a tar archive of the file or folder at `path`.
    pub fn get_tar(
        &self,
        path: &IpfsPath,
        name: &str,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let cid = self.resolve(path)?;
        self.fetch_dag(&cid, &mut |_| {})?;
        export::write_tar(&self.source(), &cid, name, out, progress)?;
        Ok(())
    }

    /// `ls`: the entries of the folder at `path` (a file lists its blocks).
    pub fn ls(&self, path: &IpfsPath) -> Result<Vec<LsEntry>> {
        let cid = self.resolve(path)?;
        Ok(export::ls(&self.source(), &cid)?)
    }
}

/// A reader that keeps its background prefetch alive.
struct Prefetched<R>(R, #[allow(dead_code)] Option<crate::fetch::PrefetchGuard>);

impl<R: Read> Read for Prefetched<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}
