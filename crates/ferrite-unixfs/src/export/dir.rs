//! Directory listings: plain directories and HAMT shards of any depth.

use super::node::{codec_label, load_node, Link, Node};
use super::resolve::{shard_params, Mtime};
use super::{ExportError, Result};
use crate::pb::DataType;
use crate::BlockSource;
use ferrite_ipld::{codecs, Cid};

/// HAMT levels a listing follows: a 64-bit hash gives at most 64 levels
/// (fanout 2), so anything deeper is a cycle or a forgery.
const MAX_HAMT_LEVELS: usize = 64;

/// Multihash code of identity CIDs.
const IDENTITY: u64 = 0x00;

/// The type of a listed entry, as `ipfs ls` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirEntryKind {
    /// A file (dag-pb or raw).
    File,
    /// A directory, plain or sharded.
    Directory,
    /// A symbolic link.
    Symlink,
    /// Not resolved, or not UnixFS.
    Unknown,
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// Entry name (for HAMT entries, without the bucket prefix).
    pub name: String,
    /// The entry's CID.
    pub cid: Cid,
    /// The link's Tsize: cumulative size of the entry's DAG (0 if absent).
    pub size: u64,
    /// The entry's type; [`DirEntryKind::Unknown`] when not resolved.
    pub kind: DirEntryKind,
    /// File size in bytes, for resolved files.
    pub file_size: Option<u64>,
    /// Symlink target, for resolved symlinks.
    pub target: Option<String>,
    /// UnixFS permission bits, when resolved and stored.
    pub mode: Option<u32>,
    /// UnixFS modification time, when resolved and stored.
    pub mtime: Option<Mtime>,
}

/// Lists the directory at `cid`, every child resolved (type, file size) and
/// sorted by name (bytewise), as `ipfs ls` prints it.
///
/// HAMT directories are listed across all their levels, names stripped of
/// bucket prefixes. Like Kubo, a non-directory dag-pb node lists its raw
/// links (names empty for file chunks) and a raw block lists nothing.
pub fn ls<S: BlockSource + ?Sized>(src: &S, cid: &Cid) -> Result<Vec<DirEntry>> {
    let mut out = ls_iter(src, cid, true)?.collect::<Result<Vec<_>>>()?;
    // stable, so same-named links (file chunks) keep their order
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Lists the directory at `cid` lazily, in DAG order (link order; HAMT
/// buckets depth first), fetching one HAMT shard at a time: the streaming
/// form for large folders (`ipfs ls --stream`).
///
/// With `resolve`, each child's block is fetched to fill in its kind, file
/// size, mode and mtime; without it only names, CIDs and Tsizes are given
/// (raw-codec children are still known to be files).
pub fn ls_iter<S: BlockSource>(src: S, cid: &Cid, resolve: bool) -> Result<DirIter<S>> {
    if cid.codec() == codecs::RAW {
        return Ok(DirIter {
            src,
            resolve,
            state: State::Links(Vec::new().into_iter()),
        });
    }
    let node = load_node(&src, cid)?;
    DirIter::from_node(src, cid, node, resolve)
}

enum State {
    /// Links of a plain directory (or any other dag-pb node).
    Links(std::vec::IntoIter<Link>),
    /// One level per shard on the path being walked.
    Hamt(Vec<Shard>),
    /// Ended, or failed (iteration stops after the first error).
    Done,
}

struct Shard {
    cid: Cid,
    prefix_len: usize,
    links: std::vec::IntoIter<Link>,
}

/// Iterator over a directory's entries; see [`ls_iter`].
pub struct DirIter<S: BlockSource> {
    src: S,
    resolve: bool,
    state: State,
}

impl<S: BlockSource> DirIter<S> {
    /// Starts listing an already decoded node.
    pub(crate) fn from_node(src: S, cid: &Cid, node: Node, resolve: bool) -> Result<Self> {
        let state = match node {
            Node::Raw(_) => State::Links(Vec::new().into_iter()),
            Node::UnixFs { links, meta, .. } if meta.kind == DataType::HamtShard => {
                let p = shard_params(cid, &meta)?;
                State::Hamt(vec![Shard {
                    cid: *cid,
                    prefix_len: p.prefix_len,
                    links: links.into_iter(),
                }])
            }
            Node::UnixFs { links, .. } | Node::PlainPb { links, .. } => {
                State::Links(links.into_iter())
            }
            Node::Other { codec, .. } => {
                return Err(ExportError::not_unixfs(
                    cid,
                    format!("{} has no UnixFS listing", codec_label(codec)),
                ))
            }
        };
        Ok(DirIter {
            src,
            resolve,
            state,
        })
    }

    /// The next (name, link) of the listing, entering sub-shards as needed.
    fn next_link(&mut self) -> Result<Option<(String, Link)>> {
        loop {
            match &mut self.state {
                State::Done => return Ok(None),
                State::Links(it) => {
                    return Ok(it
                        .next()
                        .map(|mut l| (l.name.take().unwrap_or_default(), l)))
                }
                State::Hamt(stack) => {
                    let Some(top) = stack.last_mut() else {
                        return Ok(None);
                    };
                    let Some(mut link) = top.links.next() else {
                        stack.pop();
                        continue;
                    };
                    let name = link.name.take().unwrap_or_default();
                    let (plen, parent) = (top.prefix_len, top.cid);
                    if name.len() < plen || !name.is_char_boundary(plen) {
                        return Err(ExportError::malformed(
                            &parent,
                            format!("invalid HAMT link name {name:?}"),
                        ));
                    }
                    if name.len() > plen {
                        return Ok(Some((name[plen..].to_string(), link)));
                    }
                    // a bare prefix: a sub-shard
                    if stack.len() >= MAX_HAMT_LEVELS {
                        return Err(ExportError::TooDeep(stack[0].cid));
                    }
                    let shard = match load_node(&self.src, &link.cid)? {
                        Node::UnixFs { links, meta, .. } if meta.kind == DataType::HamtShard => {
                            Shard {
                                cid: link.cid,
                                prefix_len: shard_params(&link.cid, &meta)?.prefix_len,
                                links: links.into_iter(),
                            }
                        }
                        _ => {
                            return Err(ExportError::malformed(
                                &parent,
                                format!("HAMT bucket {name} links to a non-shard {}", link.cid),
                            ))
                        }
                    };
                    stack.push(shard);
                }
            }
        }
    }

    fn entry(&self, name: String, link: Link) -> Result<DirEntry> {
        let mut e = DirEntry {
            name,
            cid: link.cid,
            size: link.tsize.unwrap_or(0),
            kind: DirEntryKind::Unknown,
            file_size: None,
            target: None,
            mode: None,
            mtime: None,
        };
        if link.cid.codec() == codecs::RAW {
            // a raw block is a file whose Tsize is its length; no fetch needed
            e.kind = DirEntryKind::File;
            e.file_size = if link.cid.hash().code() == IDENTITY {
                Some(link.cid.hash().digest().len() as u64)
            } else {
                link.tsize
            };
            return Ok(e);
        }
        if !self.resolve {
            return Ok(e);
        }
        if let Node::UnixFs { links, meta, .. } = load_node(&self.src, &link.cid)? {
            e.mode = meta.mode;
            e.mtime = meta.mtime.map(|(secs, nanos)| Mtime { secs, nanos });
            match meta.kind {
                DataType::File | DataType::Raw | DataType::Metadata => {
                    e.kind = DirEntryKind::File;
                    // the recorded filesize, as Kubo shows; else what the node holds
                    e.file_size = Some(meta.filesize.unwrap_or_else(|| {
                        let inline = meta.data.as_ref().map_or(0, |d| d.len() as u64);
                        let kids = meta.blocksizes.iter().take(links.len());
                        kids.fold(inline, |a, &b| a.saturating_add(b))
                    }));
                }
                DataType::Directory | DataType::HamtShard => e.kind = DirEntryKind::Directory,
                DataType::Symlink => {
                    e.kind = DirEntryKind::Symlink;
                    let t = meta.data.as_deref().unwrap_or_default();
                    e.target = Some(String::from_utf8_lossy(t).into_owned());
                }
            }
        }
        Ok(e)
    }
}

impl<S: BlockSource> std::fmt::Debug for DirIter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            State::Links(it) => format!("{} links left", it.len()),
            State::Hamt(stack) => format!("HAMT, {} levels deep", stack.len()),
            State::Done => "done".to_string(),
        };
        f.debug_struct("DirIter")
            .field("resolve", &self.resolve)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl<S: BlockSource> Iterator for DirIter<S> {
    type Item = Result<DirEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        let step = self
            .next_link()
            .and_then(|l| l.map(|(name, link)| self.entry(name, link)).transpose());
        if !matches!(step, Ok(Some(_))) {
            self.state = State::Done;
        }
        step.transpose()
    }
}
