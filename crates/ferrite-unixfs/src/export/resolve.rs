//! Path resolution through plain and HAMT-sharded directories, and `stat`.

use super::node::{load_node, Link, Meta, Node};
use super::{ExportError, Result};
use crate::hamt::{bucket_prefix, hash_bits, hash_name, prefix_len, HASH_MURMUR3, MAX_FANOUT};
use crate::pb::DataType;
use crate::BlockSource;
use ferrite_ipld::{codecs, Cid};

/// A UnixFS modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mtime {
    /// Seconds since the Unix epoch (may be negative).
    pub secs: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

/// What a block is, from a UnixFS point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A dag-pb UnixFS file (single node or a tree of chunks), including the
    /// legacy UnixFS `Raw` and `Metadata` node types.
    File,
    /// A raw-codec block: a file of one chunk.
    Raw,
    /// A plain UnixFS directory.
    Directory,
    /// A HAMT-sharded directory.
    HamtDirectory,
    /// A symbolic link.
    Symlink,
    /// Not UnixFS: another codec, or dag-pb without (valid) UnixFS data.
    Other {
        /// The block's multicodec.
        codec: u64,
    },
}

impl EntryKind {
    /// Whether this is a file (dag-pb or raw) whose bytes can be read.
    pub fn is_file(self) -> bool {
        matches!(self, EntryKind::File | EntryKind::Raw)
    }

    /// Whether this is a directory, plain or sharded.
    pub fn is_dir(self) -> bool {
        matches!(self, EntryKind::Directory | EntryKind::HamtDirectory)
    }
}

/// The result of [`stat`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The block that was examined.
    pub cid: Cid,
    /// Its kind.
    pub kind: EntryKind,
    /// File size in bytes for files, target length for symlinks, 0 otherwise.
    pub size: u64,
    /// Size of the encoded block itself.
    pub block_size: u64,
    /// Block size plus the Tsize of every link: the whole DAG's size as
    /// recorded in it (Kubo's `CumulativeSize`).
    pub cumulative_size: u64,
    /// Number of links (child blocks) of the node.
    pub child_blocks: usize,
    /// UnixFS permission bits, when stored.
    pub mode: Option<u32>,
    /// UnixFS modification time, when stored.
    pub mtime: Option<Mtime>,
    /// The target of a symlink.
    pub target: Option<String>,
}

/// Describes the node behind `cid`: its kind and sizes.
///
/// Reads one block (two for the legacy `Metadata` wrapper). A file's size is
/// the sum of its root's inline data and `blocksizes`, which is what reading
/// it yields; non-UnixFS blocks are reported as [`EntryKind::Other`].
pub fn stat<S: BlockSource + ?Sized>(src: &S, cid: &Cid) -> Result<Entry> {
    stat_inner(src, cid, true)
}

fn stat_inner<S: BlockSource + ?Sized>(src: &S, cid: &Cid, outer: bool) -> Result<Entry> {
    let node = load_node(src, cid)?;
    let mut e = Entry {
        cid: *cid,
        kind: EntryKind::Other { codec: cid.codec() },
        size: 0,
        block_size: 0,
        cumulative_size: 0,
        child_blocks: 0,
        mode: None,
        mtime: None,
        target: None,
    };
    match node {
        Node::Raw(b) => {
            e.kind = EntryKind::Raw;
            e.size = b.len() as u64;
            e.block_size = e.size;
            e.cumulative_size = e.size;
        }
        Node::Other { block_len, .. } => {
            e.block_size = block_len as u64;
            e.cumulative_size = e.block_size;
        }
        Node::PlainPb {
            links, block_len, ..
        } => fill_links(&mut e, &links, block_len),
        Node::UnixFs {
            links,
            meta,
            block_len,
        } => {
            fill_links(&mut e, &links, block_len);
            e.mode = meta.mode;
            e.mtime = meta.mtime.map(|(secs, nanos)| Mtime { secs, nanos });
            match meta.kind {
                DataType::File | DataType::Raw => {
                    e.kind = EntryKind::File;
                    e.size = file_size(cid, &meta, links.len())?;
                }
                DataType::Metadata => {
                    // legacy wrapper: the file it describes is its first link
                    let first = links
                        .first()
                        .filter(|_| outer)
                        .ok_or_else(|| ExportError::malformed(cid, "misplaced metadata node"))?;
                    let inner = stat_inner(src, &first.cid, false)?;
                    e.kind = EntryKind::File;
                    e.size = inner.size;
                }
                DataType::Directory => e.kind = EntryKind::Directory,
                DataType::HamtShard => {
                    shard_params(cid, &meta)?;
                    e.kind = EntryKind::HamtDirectory;
                }
                DataType::Symlink => {
                    e.kind = EntryKind::Symlink;
                    let target = meta.data.as_deref().unwrap_or_default();
                    e.size = target.len() as u64;
                    e.target = Some(String::from_utf8_lossy(target).into_owned());
                }
            }
        }
    }
    Ok(e)
}

fn fill_links(e: &mut Entry, links: &[Link], block_len: usize) {
    e.block_size = block_len as u64;
    e.child_blocks = links.len();
    e.cumulative_size = links.iter().fold(e.block_size, |acc, l| {
        acc.saturating_add(l.tsize.unwrap_or(0))
    });
}

/// The byte count a UnixFS file node stands for: inline data plus the
/// children's blocksizes (which must pair up with the links).
pub(crate) fn file_size(cid: &Cid, meta: &Meta, links: usize) -> Result<u64> {
    if meta.blocksizes.len() != links {
        return Err(ExportError::malformed(
            cid,
            format!("{} links but {} blocksizes", links, meta.blocksizes.len()),
        ));
    }
    let inline = meta.data.as_ref().map_or(0, |d| d.len() as u64);
    meta.blocksizes
        .iter()
        .try_fold(inline, |acc, &b| acc.checked_add(b))
        .ok_or_else(|| ExportError::malformed(cid, "blocksizes overflow"))
}

/// Walks `path` (segments separated by `/`; empty segments ignored) from
/// `root` through plain and HAMT directories and returns the CID it names.
///
/// Segments are matched literally (no `.`/`..` handling: clean the path
/// first). A missing segment, or one under a file or symlink, fails with
/// Kubo's `no link named "x" under <cid>`.
pub fn resolve<S: BlockSource + ?Sized>(src: &S, root: &Cid, path: &str) -> Result<Cid> {
    let mut cur = *root;
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        cur = lookup(src, &cur, seg)?;
    }
    Ok(cur)
}

/// Finds one entry of a directory.
fn lookup<S: BlockSource + ?Sized>(src: &S, dir: &Cid, name: &str) -> Result<Cid> {
    let no_link = || ExportError::NoLink {
        name: name.into(),
        cid: *dir,
    };
    // raw blocks have no links; skip fetching them
    if dir.codec() == codecs::RAW {
        return Err(no_link());
    }
    match load_node(src, dir)? {
        Node::UnixFs { links, meta, .. } => match meta.kind {
            DataType::Directory => links
                .iter()
                // duplicates are invalid; the spec says the first one wins
                .find(|l| l.name.as_deref() == Some(name))
                .map(|l| l.cid)
                .ok_or_else(no_link),
            DataType::HamtShard => hamt_find(src, dir, &meta, links, name)?.ok_or_else(no_link),
            _ => Err(no_link()),
        },
        _ => Err(no_link()),
    }
}

/// The shape of one HAMT shard node.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShardParams {
    /// Bits of the name hash consumed per level.
    pub bits: usize,
    /// Length of the hex bucket prefix on link names.
    pub prefix_len: usize,
    pub fanout: u64,
}

/// Checks a shard's hash function and fanout.
pub(crate) fn shard_params(cid: &Cid, meta: &Meta) -> Result<ShardParams> {
    if meta.hash_type != Some(HASH_MURMUR3) {
        return Err(ExportError::malformed(
            cid,
            format!(
                "unsupported HAMT hash function {:?} (only murmur3-x64-64)",
                meta.hash_type
            ),
        ));
    }
    let fanout = meta.fanout.unwrap_or(0);
    if !fanout.is_power_of_two() || !(2..=MAX_FANOUT).contains(&fanout) {
        return Err(ExportError::malformed(
            cid,
            format!("invalid HAMT fanout {fanout}"),
        ));
    }
    Ok(ShardParams {
        bits: fanout.trailing_zeros() as usize,
        prefix_len: prefix_len(fanout),
        fanout,
    })
}

/// Looks `name` up in a HAMT: each level consumes the next `log2(fanout)`
/// bits of the name's hash, whose bucket prefix selects either the entry
/// (`<prefix><name>`) or a sub-shard (`<prefix>` alone), as boxo does.
fn hamt_find<S: BlockSource + ?Sized>(
    src: &S,
    root: &Cid,
    root_meta: &Meta,
    root_links: Vec<Link>,
    name: &str,
) -> Result<Option<Cid>> {
    let hash = hash_name(name.as_bytes());
    let hash_len_bits = hash.len() * 8;
    let mut consumed = 0usize;
    let (mut cid, mut params, mut links) = (*root, shard_params(root, root_meta)?, root_links);
    loop {
        if consumed + params.bits > hash_len_bits {
            return Err(ExportError::malformed(&cid, "sharded directory too deep"));
        }
        let prefix = bucket_prefix(hash_bits(&hash, consumed, params.bits), params.fanout);
        consumed += params.bits;
        let mut sub = None;
        for l in &links {
            let lname = l.name.as_deref().unwrap_or("");
            let Some(head) = lname.get(..params.prefix_len) else {
                continue;
            };
            // the spec says uppercase; boxo finds children by bitfield and
            // so tolerates any case, and so do we
            if !head.eq_ignore_ascii_case(&prefix) {
                continue;
            }
            let rest = &lname[params.prefix_len..];
            if rest.is_empty() {
                sub = Some(l.cid);
            } else if rest == name {
                return Ok(Some(l.cid));
            }
        }
        let Some(next) = sub else {
            return Ok(None);
        };
        match load_node(src, &next)? {
            Node::UnixFs {
                links: l, meta: m, ..
            } if m.kind == DataType::HamtShard => {
                params = shard_params(&next, &m)?;
                links = l;
                cid = next;
            }
            _ => {
                return Err(ExportError::malformed(
                    &cid,
                    format!("HAMT bucket {prefix} links to {next}, which is not a shard"),
                ))
            }
        }
    }
}
