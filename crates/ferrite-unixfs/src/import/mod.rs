//! The UnixFS importer: files, directories and whole file-system trees into
//! blocks and CIDs that are byte-for-byte those of Kubo (`ipfs add`).
//!
//! - [`import_file`]: one byte stream → balanced or trickle DAG ([`file`](mod@file)).
//! - [`Directory`] / [`DirTree`]: folders as plain dag-pb directories or HAMT
//!   shards, switching where Kubo switches ([`dir`]).
//! - [`add`] / [`import_path`]: a file-system walker with Kubo's `added`
//!   output order, hidden-file rule, symlinks and wrapping ([`walk`]).
//!
//! Every block goes through a [`BlockSink`] as soon as it is
//! made; blocks with identity CIDs (`--inline`, `--hash=identity`) are not
//! stored, as Kubo's identity blockstore does not store them either.

pub mod dir;
pub mod file;
pub mod walk;

pub use dir::{BuiltDir, DirEntry, DirTree, Directory};
pub use file::{import_file, Imported};
pub use walk::{add, import_path, import_symlink, AddEvent, AddInput, AddOptions, AddedRoot};

use crate::chunker::{ChunkerError, ChunkerSpec};
use crate::BlockSink;
use bytes::Bytes;
use ferrite_ipld::{codecs, Cid, HashAlg};
use std::io;
use std::path::PathBuf;

/// Kubo's default number of links per internal file node:
/// 8 KiB / (34 + 8 + 5) bytes per link (boxo `DefaultLinksPerBlock`).
pub const DEFAULT_MAX_LINKS: usize = 174;
/// Kubo's default `--inline-limit`.
pub const DEFAULT_INLINE_LIMIT: usize = 32;
/// Largest identity digest a Ferrite CID can hold.
pub const MAX_INLINE_LIMIT: usize = 64;
/// Kubo's default HAMT sharding threshold (`Import.UnixFSHAMTDirectorySizeThreshold`).
pub const DEFAULT_HAMT_THRESHOLD: usize = crate::hamt::SHARDING_THRESHOLD;

/// How a directory's size is estimated when deciding whether it becomes a
/// HAMT (`Import.UnixFSHAMTDirectorySizeEstimation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HamtSizeEstimation {
    /// Sum over links of name length + CID byte length (Kubo's default,
    /// `links`).
    #[default]
    Links,
    /// The exact serialized size of the plain directory block (`block`,
    /// used by the unixfs-v1-2025 profile).
    Block,
    /// Never by size; only [`ImportOptions::dir_max_links`] can shard.
    Disabled,
}

/// Import settings, mirroring `ipfs add` flags and `Import.*` config.
/// [`Default`] is Kubo's default (the unixfs-v0-2015 profile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// `--cid-version`; `None` = not given (0, or 1 when `hash` is not
    /// sha2-256, as in Kubo).
    pub cid_version: Option<u8>,
    /// `--raw-leaves`; `None` = not given: raw leaves iff the CID version is 1.
    pub raw_leaves: Option<bool>,
    /// `--chunker`.
    pub chunker: ChunkerSpec,
    /// `--trickle`: trickle layout instead of balanced.
    pub trickle: bool,
    /// `--hash`.
    pub hash: HashAlg,
    /// `--inline`: blocks of at most `inline_limit` bytes get identity CIDs.
    pub inline: bool,
    /// `--inline-limit` (at most [`MAX_INLINE_LIMIT`]).
    pub inline_limit: usize,
    /// Links per internal file node (`Import.UnixFSFileMaxLinks`).
    pub max_links: usize,
    /// Directory size above which it becomes a HAMT; 0 never shards by size.
    pub hamt_threshold: usize,
    /// How the directory size is estimated.
    pub hamt_estimation: HamtSizeEstimation,
    /// Whether a directory whose estimate *equals* the threshold is sharded.
    /// `true` is boxo up to v0.36 (Kubo up to 0.39, including the v0.22
    /// reference: `size >= threshold`); `false` is IPIP-499 / Kubo ≥ 0.40
    /// (`size > threshold`).
    pub hamt_shard_at_threshold: bool,
    /// HAMT fanout (`Import.UnixFSHAMTDirectoryMaxFanout`): a power of two,
    /// multiple of 8, at most 1024.
    pub hamt_fanout: u64,
    /// Links above which a directory is sharded regardless of size
    /// (`Import.UnixFSDirectoryMaxLinks`); 0 = no limit.
    pub dir_max_links: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            cid_version: None,
            raw_leaves: None,
            chunker: ChunkerSpec::default(),
            trickle: false,
            hash: HashAlg::Sha2_256,
            inline: false,
            inline_limit: DEFAULT_INLINE_LIMIT,
            max_links: DEFAULT_MAX_LINKS,
            hamt_threshold: DEFAULT_HAMT_THRESHOLD,
            hamt_estimation: HamtSizeEstimation::Links,
            hamt_shard_at_threshold: true,
            hamt_fanout: crate::hamt::DEFAULT_FANOUT,
            dir_max_links: 0,
        }
    }
}

impl ImportOptions {
    /// The `unixfs-v1-2025` profile (IPIP-499): CIDv1, raw leaves, 1 MiB
    /// chunks, 1024 links per node, block-size HAMT estimate with `>`.
    pub fn unixfs_v1_2025() -> Self {
        ImportOptions {
            cid_version: Some(1),
            raw_leaves: Some(true),
            chunker: ChunkerSpec::Size(1024 * 1024),
            max_links: 1024,
            hamt_estimation: HamtSizeEstimation::Block,
            hamt_shard_at_threshold: false,
            ..Self::default()
        }
    }

    /// The CID version blocks will get after Kubo's rules.
    pub fn effective_cid_version(&self) -> u8 {
        match self.cid_version {
            Some(v) => v,
            None if self.hash != HashAlg::Sha2_256 => 1,
            None => 0,
        }
    }

    /// Whether leaves will be raw blocks after Kubo's rules.
    pub fn effective_raw_leaves(&self) -> bool {
        self.raw_leaves.unwrap_or(self.effective_cid_version() == 1)
    }

    /// Checks the options as Kubo does (CID version, hash, links, inline
    /// limit, fanout), so callers can refuse a command before reading input.
    pub fn validate(&self) -> Result<(), ImportError> {
        self.settings().map(|_| ())
    }

    /// Checks the options as Kubo does and fixes the derived settings.
    pub(crate) fn settings(&self) -> Result<Settings, ImportError> {
        let bad = |m: String| Err(ImportError::Options(m));
        let version = self.effective_cid_version();
        match (self.cid_version, self.hash) {
            (Some(v), _) if v > 1 => return bad(format!("unknown CID version: {v}")),
            (Some(0), h) if h != HashAlg::Sha2_256 => {
                return bad("CIDv0 only supports sha2-256".into())
            }
            _ => {}
        }
        if self.max_links < 2 {
            // One link per node would never finish a tree.
            return bad(format!(
                "max links per file node must be at least 2, got {}",
                self.max_links
            ));
        }
        if self.inline && self.inline_limit > MAX_INLINE_LIMIT {
            return bad(format!(
                "inline-limit {} exceeds maximum allowed size of {MAX_INLINE_LIMIT} bytes",
                self.inline_limit
            ));
        }
        let f = self.hamt_fanout;
        if !(8..=1024).contains(&f) || !f.is_power_of_two() {
            return bad(format!(
                "HAMT fanout must be a power of 2, between 8 and 1024 (got {f})"
            ));
        }
        Ok(Settings {
            v1: version == 1,
            raw_leaves: self.effective_raw_leaves(),
            hash: self.hash,
            inline_limit: self.inline.then_some(self.inline_limit),
            max_links: self.max_links,
        })
    }
}

/// Options after Kubo's defaulting rules, as the writers use them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub v1: bool,
    pub raw_leaves: bool,
    pub hash: HashAlg,
    pub inline_limit: Option<usize>,
    pub max_links: usize,
}

/// Errors of the importer.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Invalid `--chunker`.
    #[error(transparent)]
    Chunker(#[from] ChunkerError),
    /// Options Kubo would refuse.
    #[error("{0}")]
    Options(String),
    /// A file-system operation on `path` failed.
    #[error("{op} {}: {source}", path.display())]
    Path {
        /// What was attempted ("open", "read", "readlink", …).
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Input that cannot be imported (special files, non-UTF-8 names, …).
    #[error("{0}")]
    Unsupported(String),
    /// Reading the input or writing a block failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Hashes blocks and hands them to the sink: the only place where CIDs are
/// made, so every block is hashed exactly once.
pub(crate) struct Writer<'a> {
    sink: &'a mut dyn BlockSink,
    pub s: Settings,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(sink: &'a mut dyn BlockSink, s: Settings) -> Self {
        Writer { sink, s }
    }

    /// Stores `data` as a block of `codec` and returns its CID.
    pub(crate) fn put(&mut self, codec: u64, data: Bytes) -> io::Result<Cid> {
        let identity = self.s.hash == HashAlg::Identity
            || self.s.inline_limit.is_some_and(|limit| data.len() <= limit);
        if identity {
            // Identity CIDs are always v1 (go-cid's InlineBuilder) and carry
            // the block itself; nothing is stored.
            if data.len() > MAX_INLINE_LIMIT {
                return Err(io::Error::other(format!(
                    "identity hash of a {}-byte block exceeds the {MAX_INLINE_LIMIT}-byte limit",
                    data.len()
                )));
            }
            return Ok(Cid::new_v1(codec, HashAlg::Identity.digest(&data)));
        }
        let mh = self.s.hash.digest(&data);
        // Raw blocks are CIDv1 even under CIDv0 (go-cid's WithCodec).
        let cid = if !self.s.v1 && codec == codecs::DAG_PB {
            Cid::new_v0(mh).map_err(io::Error::other)?
        } else {
            Cid::new_v1(codec, mh)
        };
        self.sink.put(&cid, data)?;
        Ok(cid)
    }
}
