//! Reading UnixFS DAGs back: path resolution, `stat`, streaming file reads,
//! directory listings (plain and HAMT-sharded), and writing a tree to disk or
//! to a tar archive, as `ipfs cat`, `ls`, `get` and `get -a` do.
//!
//! Everything reads through a [`BlockSource`]. Identity CIDs (multihash code
//! 0x00) carry their block inline and are never asked of the source. The
//! source is trusted to return the block that matches a CID (the store
//! verifies on write); the exporter does not re-hash, which keeps reads fast.
//!
//! Malformed or hostile DAGs produce errors, never panics: nesting depth is
//! bounded ([`MAX_DEPTH`]), names that could escape an output directory are
//! refused, and sizes are checked against what the nodes really hold.

mod dir;
mod file;
mod node;
mod resolve;
mod tar;
mod write;

pub use dir::{ls, ls_iter, DirEntry, DirEntryKind, DirIter};
pub use file::FileReader;
pub use resolve::{resolve, stat, Entry, EntryKind, Mtime};
pub use tar::write_tar;
pub use write::write_to_path;

use crate::BlockSource;
use bytes::Bytes;
use ferrite_ipld::Cid;
use std::sync::Arc;

/// How deep any walk may go (file trees, folder nesting, HAMT levels) before
/// the DAG is treated as hostile; real DAGs stay far below it.
pub const MAX_DEPTH: usize = 1024;

/// Multihash code of the identity "hash": the digest is the block itself.
const IDENTITY: u64 = 0x00;

/// Errors of the exporter.
///
/// Text fields are `Box<str>` to keep the error small (a CID alone is 96
/// bytes) so `Result`s stay cheap to move.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A block needed for the operation is not in the source.
    #[error("block {0} not found")]
    NotFound(Cid),
    /// A path segment does not exist (Kubo's wording).
    #[error("no link named {name:?} under {cid}")]
    NoLink {
        /// The segment that was looked up.
        name: Box<str>,
        /// The node it was looked up in.
        cid: Cid,
    },
    /// A directory was given where a file was expected (Kubo's wording).
    #[error("this dag node is a directory")]
    IsDir(Cid),
    /// A symlink was given where a file was expected.
    #[error("cannot read symlink {0} as a file")]
    IsSymlink(Cid),
    /// The block is not UnixFS: another codec, or dag-pb without UnixFS data.
    #[error("{cid} is not a UnixFS node: {reason}")]
    NotUnixFs {
        /// The block.
        cid: Cid,
        /// What it is instead.
        reason: Box<str>,
    },
    /// A node that violates the UnixFS or dag-pb format.
    #[error("malformed node {cid}: {reason}")]
    Malformed {
        /// The offending block.
        cid: Cid,
        /// What is wrong with it.
        reason: Box<str>,
    },
    /// A directory entry whose name could escape the output folder (`/`,
    /// `..`, `.`, NUL or empty); only refused when writing to disk or tar.
    #[error("refusing unsafe entry name {name:?} in directory {cid}")]
    UnsafeName {
        /// The entry name as found in the DAG.
        name: Box<str>,
        /// The directory holding it.
        cid: Cid,
    },
    /// The DAG nests deeper than [`MAX_DEPTH`].
    #[error("DAG under {0} is nested too deeply")]
    TooDeep(Cid),
    /// Reading a block or writing output failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Result with [`ExportError`].
pub type Result<T, E = ExportError> = std::result::Result<T, E>;

impl ExportError {
    pub(crate) fn malformed(cid: &Cid, reason: impl Into<String>) -> Self {
        ExportError::Malformed {
            cid: *cid,
            reason: reason.into().into_boxed_str(),
        }
    }

    pub(crate) fn not_unixfs(cid: &Cid, reason: impl Into<String>) -> Self {
        ExportError::NotUnixFs {
            cid: *cid,
            reason: reason.into().into_boxed_str(),
        }
    }
}

impl From<ExportError> for std::io::Error {
    /// Keeps the original error reachable through `get_ref`/`into_inner`, so
    /// callers of `Read` can still tell a missing block from bad data.
    fn from(e: ExportError) -> Self {
        use std::io::ErrorKind;
        let kind = match &e {
            ExportError::Io(io) => return std::io::Error::new(io.kind(), e),
            ExportError::NotFound(_) | ExportError::NoLink { .. } => ErrorKind::NotFound,
            ExportError::IsDir(_) => ErrorKind::IsADirectory,
            _ => ErrorKind::InvalidData,
        };
        std::io::Error::new(kind, e)
    }
}

// Lets the streaming types own their source: pass `&store` for a borrowed
// reader or an `Arc` for one that outlives the caller (HTTP responses).
impl<T: BlockSource + ?Sized> BlockSource for &T {
    fn get(&self, cid: &Cid) -> std::io::Result<Option<Bytes>> {
        (**self).get(cid)
    }
}

impl<T: BlockSource + ?Sized> BlockSource for Arc<T> {
    fn get(&self, cid: &Cid) -> std::io::Result<Option<Bytes>> {
        (**self).get(cid)
    }
}

impl<T: BlockSource + ?Sized> BlockSource for Box<T> {
    fn get(&self, cid: &Cid) -> std::io::Result<Option<Bytes>> {
        (**self).get(cid)
    }
}

/// The bytes of a block: from the CID itself for identity hashes, else from
/// the source, with a missing block reported by CID.
pub(crate) fn load_block<S: BlockSource + ?Sized>(src: &S, cid: &Cid) -> Result<Bytes> {
    if cid.hash().code() == IDENTITY {
        return Ok(Bytes::copy_from_slice(cid.hash().digest()));
    }
    src.get(cid)?.ok_or(ExportError::NotFound(*cid))
}
