//! Directories: plain dag-pb UnixFS directories, or HAMT shards once Kubo
//! would shard them (boxo `unixfs/io/directory.go` + `unixfs/hamt`).
//!
//! Kubo builds folders incrementally in MFS, switching between plain and
//! sharded as entries are added; since entries are only ever added during an
//! import, the outcome depends only on the final set of entries, so the
//! decision is taken once, on that set.

use super::{HamtSizeEstimation, ImportError, ImportOptions, Writer};
use crate::hamt::{bucket_prefix, hash_bits, hash_name, HASH_MURMUR3};
use crate::pb::{DataType, UnixFsData};
use crate::BlockSink;
use bytes::Bytes;
use ferrite_ipld::dagpb::{PbLink, PbNode};
use ferrite_ipld::proto::varint_len;
use ferrite_ipld::{codecs, Cid};
use std::collections::BTreeMap;

/// A directory entry: what a link to it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirEntry {
    /// The entry's root CID.
    pub cid: Cid,
    /// Its cumulative size (Kubo's "Size" of the entry).
    pub tsize: u64,
}

/// A finished directory node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltDir {
    /// Its CID.
    pub cid: Cid,
    /// Cumulative size (the directory block(s) plus all entries).
    pub size: u64,
    /// Whether it was written as a HAMT.
    pub sharded: bool,
    /// Entry names in link order: sorted for plain directories, HAMT walk
    /// order for shards (the order Kubo lists them in).
    pub order: Vec<String>,
}

/// One flat directory being assembled. Names are unique; inserting an
/// existing name replaces the entry (as MFS does).
#[derive(Debug, Clone, Default)]
pub struct Directory {
    entries: BTreeMap<String, DirEntry>,
}

impl Directory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces an entry; returns the replaced one.
    pub fn insert(&mut self, name: impl Into<String>, entry: DirEntry) -> Option<DirEntry> {
        self.entries.insert(name.into(), entry)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether Kubo would make this directory a HAMT.
    pub fn would_shard(&self, opts: &ImportOptions) -> bool {
        if opts.hamt_threshold == 0 {
            // boxo: a zero threshold disables sharding altogether.
            return false;
        }
        if opts.dir_max_links > 0 && self.entries.len() > opts.dir_max_links {
            return true;
        }
        let estimate: usize = match opts.hamt_estimation {
            HamtSizeEstimation::Disabled => return false,
            HamtSizeEstimation::Links => self
                .entries
                .iter()
                .map(|(name, e)| name.len() + e.cid.encoded_len())
                .sum(),
            HamtSizeEstimation::Block => {
                // PBNode.Data = {Type: Directory}: tag + len + 2 bytes.
                4 + self
                    .entries
                    .iter()
                    .map(|(name, e)| link_serialized_size(name, &e.cid, e.tsize))
                    .sum::<usize>()
            }
        };
        estimate > opts.hamt_threshold
            || (opts.hamt_shard_at_threshold && estimate == opts.hamt_threshold)
    }

    /// Writes the directory (and any HAMT shards) to `sink`.
    pub fn build(
        &self,
        opts: &ImportOptions,
        sink: &mut dyn BlockSink,
    ) -> Result<BuiltDir, ImportError> {
        let mut w = Writer::new(sink, opts.settings()?);
        if self.would_shard(opts) {
            let mut items: Vec<HamtItem> = self
                .entries
                .iter()
                .map(|(name, e)| HamtItem {
                    hash: hash_name(name.as_bytes()),
                    name,
                    entry: *e,
                })
                .collect();
            let mut order = Vec::with_capacity(items.len());
            let (cid, size) = build_shard(&mut w, &mut items, 0, opts.hamt_fanout, &mut order)?;
            return Ok(BuiltDir {
                cid,
                size,
                sharded: true,
                order,
            });
        }
        let mut below = 0;
        let links = self
            .entries
            .iter()
            .map(|(name, e)| {
                below += e.tsize;
                PbLink::new(e.cid, name.clone(), e.tsize)
            })
            .collect();
        let block = PbNode {
            links,
            data: Some(UnixFsData::new(DataType::Directory).encode()),
        }
        .encode();
        let size = block.len() as u64 + below;
        let cid = w.put(codecs::DAG_PB, Bytes::from(block))?;
        Ok(BuiltDir {
            cid,
            size,
            sharded: false,
            order: self.entries.keys().cloned().collect(),
        })
    }
}

/// Bytes a link adds to a dag-pb node (boxo `linkSerializedSize`).
fn link_serialized_size(name: &str, cid: &Cid, tsize: u64) -> usize {
    let c = cid.encoded_len();
    let n = name.len();
    let inner = 1 + varint_len(c as u64) + c + 1 + varint_len(n as u64) + n + 1 + varint_len(tsize);
    1 + varint_len(inner as u64) + inner
}

struct HamtItem<'a> {
    hash: [u8; 8],
    name: &'a str,
    entry: DirEntry,
}

/// Writes one shard holding `items` (which all share the first `consumed`
/// hash bits) and returns its CID and cumulative size. A bucket with one
/// entry links the entry under `PREFIX + name`; a bucket with more links a
/// child shard under `PREFIX` — the shape boxo's insertions converge to.
fn build_shard(
    w: &mut Writer<'_>,
    items: &mut [HamtItem<'_>],
    consumed: usize,
    fanout: u64,
    order: &mut Vec<String>,
) -> Result<(Cid, u64), ImportError> {
    let bits = fanout.trailing_zeros() as usize;
    if consumed + bits > 64 {
        return Err(ImportError::Unsupported(
            "sharded directory too deep".into(),
        ));
    }
    items.sort_by_key(|it| (hash_bits(&it.hash, consumed, bits), it.name));
    let mut bitfield = vec![0u8; (fanout / 8) as usize];
    let mut links = Vec::new();
    let mut below = 0u64;
    let mut start = 0;
    while start < items.len() {
        let idx = hash_bits(&items[start].hash, consumed, bits);
        let mut end = start + 1;
        while end < items.len() && hash_bits(&items[end].hash, consumed, bits) == idx {
            end += 1;
        }
        // go-bitfield numbers bits from the end of the byte slice.
        let len = bitfield.len();
        bitfield[len - 1 - idx / 8] |= 1 << (idx % 8);
        let prefix = bucket_prefix(idx, fanout);
        let link = if end - start == 1 {
            let it = &items[start];
            order.push(it.name.to_owned());
            PbLink::new(it.entry.cid, format!("{prefix}{}", it.name), it.entry.tsize)
        } else {
            let (cid, size) =
                build_shard(w, &mut items[start..end], consumed + bits, fanout, order)?;
            PbLink::new(cid, prefix, size)
        };
        below += link.tsize.unwrap_or(0);
        links.push(link);
        start = end;
    }
    let mut data = UnixFsData::new(DataType::HamtShard);
    // go-bitfield's Bytes() drops leading zero bytes.
    let first = bitfield
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(bitfield.len());
    if first < bitfield.len() {
        data.data = Some(bitfield[first..].to_vec());
    }
    data.hash_type = Some(HASH_MURMUR3);
    data.fanout = Some(fanout);
    let block = PbNode {
        links,
        data: Some(data.encode()),
    }
    .encode();
    let size = block.len() as u64 + below;
    let cid = w.put(codecs::DAG_PB, Bytes::from(block))?;
    Ok((cid, size))
}

/// A tree of directories addressed by slash-separated paths, built bottom-up
/// into UnixFS directories (how `ipfs add` assembles its MFS root).
#[derive(Debug, Clone, Default)]
pub struct DirTree {
    root: TreeDir,
}

#[derive(Debug, Clone, Default)]
struct TreeDir {
    children: BTreeMap<String, TreeNode>,
}

#[derive(Debug, Clone)]
enum TreeNode {
    Entry(DirEntry),
    Dir(TreeDir),
}

/// Splits a relative path into components, dropping empty and `.` ones.
///
/// Paths may nest [`MAX_DEPTH`](crate::export::MAX_DEPTH) deep, as deep as
/// the exporter reads: the tree is built, reported and dropped by recursion,
/// and paths can come from a remote `add` (Kubo has no limit; Go's stacks
/// grow).
fn components(path: &str) -> Result<Vec<&str>, ImportError> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(ImportError::Unsupported(format!(
            "invalid path {path:?}: '..' is not allowed"
        )));
    }
    if parts.len() > crate::export::MAX_DEPTH {
        return Err(ImportError::Unsupported(format!(
            "path nested deeper than {} directories",
            crate::export::MAX_DEPTH
        )));
    }
    Ok(parts)
}

impl TreeDir {
    /// The directory at `parts`, created (with parents) if missing.
    fn dir_mut(&mut self, parts: &[&str], full: &str) -> Result<&mut TreeDir, ImportError> {
        let mut cur = self;
        for part in parts {
            let node = cur
                .children
                .entry((*part).to_owned())
                .or_insert_with(|| TreeNode::Dir(TreeDir::default()));
            cur = match node {
                TreeNode::Dir(d) => d,
                TreeNode::Entry(_) => {
                    return Err(ImportError::Unsupported(format!(
                        "cannot create directory {full:?}: {part:?} is not a directory"
                    )))
                }
            };
        }
        Ok(cur)
    }
}

impl DirTree {
    /// An empty tree (its root is an empty directory).
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates a directory and its parents (`mkdir -p`); existing ones are
    /// kept.
    pub fn mkdir(&mut self, path: &str) -> Result<(), ImportError> {
        let parts = components(path)?;
        self.root.dir_mut(&parts, path).map(|_| ())
    }

    /// Puts an entry (file, symlink or already built directory) at `path`,
    /// creating parent directories and replacing whatever was there.
    pub fn put(&mut self, path: &str, entry: DirEntry) -> Result<(), ImportError> {
        let parts = components(path)?;
        let Some((name, parents)) = parts.split_last() else {
            return Err(ImportError::Unsupported(format!(
                "cannot put an entry at the root path {path:?}"
            )));
        };
        let dir = self.root.dir_mut(parents, path)?;
        dir.children
            .insert((*name).to_owned(), TreeNode::Entry(entry));
        Ok(())
    }

    /// Builds every directory bottom-up and writes them to `sink`.
    ///
    /// `on_dir(path, cid, size)` is called for each directory of the tree in
    /// Kubo's `added` order — children before parents, siblings in link
    /// order — ending with the root at path `""`.
    pub fn finish(
        self,
        opts: &ImportOptions,
        sink: &mut dyn BlockSink,
        on_dir: &mut dyn FnMut(&str, &Cid, u64),
    ) -> Result<BuiltDir, ImportError> {
        let built = build_tree(self.root, opts, sink)?;
        let mut path = String::new();
        report(&built, &mut path, on_dir);
        Ok(built.dir)
    }
}

struct BuiltTree {
    dir: BuiltDir,
    subdirs: BTreeMap<String, BuiltTree>,
}

fn build_tree(
    dir: TreeDir,
    opts: &ImportOptions,
    sink: &mut dyn BlockSink,
) -> Result<BuiltTree, ImportError> {
    let mut flat = Directory::new();
    let mut subdirs = BTreeMap::new();
    for (name, node) in dir.children {
        let entry = match node {
            TreeNode::Entry(e) => e,
            TreeNode::Dir(d) => {
                let sub = build_tree(d, opts, sink)?;
                let e = DirEntry {
                    cid: sub.dir.cid,
                    tsize: sub.dir.size,
                };
                subdirs.insert(name.clone(), sub);
                e
            }
        };
        flat.insert(name, entry);
    }
    Ok(BuiltTree {
        dir: flat.build(opts, sink)?,
        subdirs,
    })
}

/// Post-order walk in link order (kubo `Adder.outputDirs`).
fn report(t: &BuiltTree, path: &mut String, on_dir: &mut dyn FnMut(&str, &Cid, u64)) {
    for name in &t.dir.order {
        if let Some(sub) = t.subdirs.get(name) {
            let len = path.len();
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(name);
            report(sub, path, on_dir);
            path.truncate(len);
        }
    }
    on_dir(path, &t.dir.cid, t.dir.size);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_ipld::HashAlg;
    use std::collections::HashMap;

    #[test]
    fn paths_deeper_than_the_exporter_reads_are_refused() {
        let ok = ["d"; crate::export::MAX_DEPTH].join("/");
        let mut t = DirTree::new();
        t.mkdir(&ok).unwrap();
        let mut dirs = 0;
        t.finish(
            &ImportOptions::default(),
            &mut HashMap::new(),
            &mut |_, _, _| dirs += 1,
        )
        .unwrap();
        assert_eq!(dirs, crate::export::MAX_DEPTH + 1);

        // Built, reported or dropped, this tree used to overflow the stack.
        let deep = ["d"; 50_000].join("/");
        let mut t = DirTree::new();
        let e = t.mkdir(&deep).unwrap_err().to_string();
        assert_eq!(e, "path nested deeper than 1024 directories");
        let entry = DirEntry {
            cid: Directory::new()
                .build(&ImportOptions::default(), &mut HashMap::new())
                .unwrap()
                .cid,
            tsize: 4,
        };
        assert!(t.put(&deep, entry).is_err());
    }

    #[test]
    fn empty_directory_has_kubo_cid() {
        let mut store = HashMap::new();
        let d = Directory::new()
            .build(&ImportOptions::default(), &mut store)
            .unwrap();
        assert_eq!(
            d.cid.to_string(),
            "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"
        );
        assert_eq!(d.size, 4);
        assert!(!d.sharded);
    }

    #[test]
    fn link_size_matches_boxo_examples() {
        // From kubo test/cli/cid_profiles_test.go TestProtobufHelpers.
        let v0 = Cid::new_v0(HashAlg::Sha2_256.digest(b"x")).unwrap();
        let v1 = Cid::new_v1(codecs::DAG_PB, HashAlg::Sha2_256.digest(b"x"));
        let long = "a".repeat(255);
        assert_eq!(link_serialized_size(&long, &v0, 0), 299);
        assert_eq!(link_serialized_size(&long, &v1, 0), 301);
        assert_eq!(link_serialized_size("0123456789", &v1, 0), 54);
        assert_eq!(link_serialized_size(&long, &v1, 34359738367), 305);
    }

    #[test]
    fn tree_reports_dirs_post_order() {
        let file = DirEntry {
            cid: Cid::new_v0(HashAlg::Sha2_256.digest(b"f")).unwrap(),
            tsize: 10,
        };
        let mut t = DirTree::new();
        t.put("b/x/f", file).unwrap();
        t.put("a/f", file).unwrap();
        t.mkdir("c").unwrap();
        t.put("top", file).unwrap();
        assert!(t.put("top/f", file).is_err());
        let mut seen = Vec::new();
        t.finish(
            &ImportOptions::default(),
            &mut HashMap::new(),
            &mut |p, _, _| seen.push(p.to_owned()),
        )
        .unwrap();
        assert_eq!(seen, ["a", "b/x", "b", "c", ""]);
    }
}
