//! Reading UnixFS back: path resolution, `cat`, `get`, `ls`.

use crate::{Error, IpfsPath, Node, Result};
use bytes::Bytes;
use ferrite_ipld::Cid;
use ferrite_store::{Blockstore, Repo};
use ferrite_unixfs::export::{self, ExportError};
use ferrite_unixfs::BlockSource;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

/// The repo's blocks as an exporter source. Owning an `Arc` lets readers
/// outlive the call that made them (a `cat` stream handed to HTTP).
#[derive(Clone)]
pub(crate) struct RepoSource(pub(crate) Arc<Repo>);

impl BlockSource for RepoSource {
    fn get(&self, cid: &Cid) -> std::io::Result<Option<Bytes>> {
        Ok(self.0.blocks().get(cid)?)
    }
}

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
                _ => Error::Io(io),
            },
            other => Error::Invalid(other.to_string()),
        }
    }
}

/// One `ls` row.
pub type LsEntry = export::DirEntry;

impl Node {
    pub(crate) fn source(&self) -> RepoSource {
        RepoSource(self.repo.clone())
    }

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
        let reader = export::FileReader::with_range(src, &cid, offset, length)?;
        let size = entry.size;
        let len = length.map_or(size.saturating_sub(offset), |l| {
            l.min(size.saturating_sub(offset))
        });
        Ok((len, Box::new(reader)))
    }

    /// Size information about the node at `path` (for progress bars and `ls`).
    pub fn stat(&self, path: &IpfsPath) -> Result<export::Entry> {
        let cid = self.resolve(path)?;
        Ok(export::stat(&self.source(), &cid)?)
    }

    /// `get`: writes the file or folder at `path` to `out`.
    pub fn get(&self, path: &IpfsPath, out: &Path, progress: &mut dyn FnMut(u64)) -> Result<()> {
        let cid = self.resolve(path)?;
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
        export::write_tar(&self.source(), &cid, name, out, progress)?;
        Ok(())
    }

    /// `ls`: the entries of the folder at `path` (a file lists its blocks).
    pub fn ls(&self, path: &IpfsPath) -> Result<Vec<LsEntry>> {
        let cid = self.resolve(path)?;
        Ok(export::ls(&self.source(), &cid)?)
    }
}
