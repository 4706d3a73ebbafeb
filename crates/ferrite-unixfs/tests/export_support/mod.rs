//! Hand-built UnixFS DAGs and a tiny CAR reader for the exporter tests.
//! Independent of the importer on purpose: the exporter must read layouts
//! we describe here explicitly (and Kubo's, via the CAR fixtures).
#![allow(dead_code)]

use bytes::Bytes;
use ferrite_ipld::dagpb::{PbLink, PbNode};
use ferrite_ipld::{codecs, Cid, HashAlg};
use ferrite_unixfs::hamt::{bucket_prefix, hash_bits, hash_name};
use ferrite_unixfs::pb::{DataType, UnixFsData};
use std::collections::{BTreeMap, HashMap, HashSet};

/// A node as its parent links to it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Child {
    pub cid: Cid,
    /// Cumulative DAG size (for the parent's Tsize).
    pub tsize: u64,
    /// File bytes under it (for the parent's blocksizes).
    pub size: u64,
}

/// An in-memory block map plus the settings used to build nodes.
pub(crate) struct Dag {
    pub blocks: HashMap<Cid, Bytes>,
    /// CIDv1 for dag-pb nodes (v0 otherwise).
    pub v1: bool,
    /// Raw-codec leaves instead of dag-pb File leaves.
    pub raw_leaves: bool,
    /// Blocks up to this size get identity CIDs (0 = never).
    pub inline_limit: usize,
}

impl Default for Dag {
    fn default() -> Self {
        Self::new()
    }
}

impl Dag {
    /// Kubo's defaults: CIDv0, dag-pb leaves.
    pub(crate) fn new() -> Self {
        Dag {
            blocks: HashMap::new(),
            v1: false,
            raw_leaves: false,
            inline_limit: 0,
        }
    }

    /// CIDv1 with raw leaves.
    pub(crate) fn v1_raw() -> Self {
        Dag {
            v1: true,
            raw_leaves: true,
            ..Self::new()
        }
    }

    pub(crate) fn store(&mut self, codec: u64, bytes: Vec<u8>) -> Cid {
        if bytes.len() <= self.inline_limit {
            // identity: never stored, the CID carries the block
            return Cid::new_v1(codec, HashAlg::Identity.digest(&bytes));
        }
        let mh = HashAlg::Sha2_256.digest(&bytes);
        let cid = if codec == codecs::DAG_PB && !self.v1 {
            Cid::new_v0(mh).unwrap()
        } else {
            Cid::new_v1(codec, mh)
        };
        self.blocks.insert(cid, Bytes::from(bytes));
        cid
    }

    pub(crate) fn put_pb(&mut self, node: &PbNode) -> Child {
        let bytes = node.encode();
        let tsize =
            bytes.len() as u64 + node.links.iter().map(|l| l.tsize.unwrap_or(0)).sum::<u64>();
        let cid = self.store(codecs::DAG_PB, bytes);
        Child {
            cid,
            tsize,
            size: 0,
        }
    }

    pub(crate) fn raw(&mut self, data: &[u8]) -> Child {
        let cid = self.store(codecs::RAW, data.to_vec());
        Child {
            cid,
            tsize: data.len() as u64,
            size: data.len() as u64,
        }
    }

    /// A dag-pb leaf of the given UnixFS type (File, or Raw as trickle uses).
    pub(crate) fn pb_leaf(&mut self, data: &[u8], kind: DataType) -> Child {
        let mut d = UnixFsData::new(kind);
        if !data.is_empty() {
            d.data = Some(data.to_vec());
        }
        d.filesize = Some(data.len() as u64);
        let mut c = self.put_pb(&PbNode {
            links: vec![],
            data: Some(d.encode()),
        });
        c.size = data.len() as u64;
        c
    }

    pub(crate) fn leaf(&mut self, data: &[u8]) -> Child {
        if self.raw_leaves {
            self.raw(data)
        } else {
            self.pb_leaf(data, DataType::File)
        }
    }

    /// A file node with optional inline data followed by `kids`.
    pub(crate) fn file_node(
        &mut self,
        inline: Option<&[u8]>,
        kids: &[Child],
        kind: DataType,
    ) -> Child {
        self.file_node_meta(inline, kids, kind, None, None)
    }

    pub(crate) fn file_node_meta(
        &mut self,
        inline: Option<&[u8]>,
        kids: &[Child],
        kind: DataType,
        mode: Option<u32>,
        mtime: Option<i64>,
    ) -> Child {
        let mut d = UnixFsData::new(kind);
        d.data = inline.map(|b| b.to_vec());
        let inline_len = inline.map_or(0, |b| b.len() as u64);
        let size = inline_len + kids.iter().map(|k| k.size).sum::<u64>();
        d.filesize = Some(size);
        d.blocksizes = kids.iter().map(|k| k.size).collect();
        d.mode = mode;
        d.mtime = mtime.map(|s| (s, 0));
        let links = kids
            .iter()
            .map(|k| PbLink::new(k.cid, "", k.tsize))
            .collect();
        let mut c = self.put_pb(&PbNode {
            links,
            data: Some(d.encode()),
        });
        c.size = size;
        c
    }

    /// Balanced layout: chunks of `chunk` bytes, `width` links per node.
    pub(crate) fn balanced(&mut self, data: &[u8], chunk: usize, width: usize) -> Child {
        if data.is_empty() {
            return self.file_node(None, &[], DataType::File);
        }
        let mut level: Vec<Child> = data.chunks(chunk).map(|c| self.leaf(c)).collect();
        while level.len() > 1 {
            level = level
                .chunks(width)
                .map(|g| self.file_node(None, g, DataType::File))
                .collect();
        }
        level[0]
    }

    /// Trickle-shaped layout: each node holds up to `direct` leaves, then
    /// `repeat` subtrees of each depth 1, 2, … (leaves are UnixFS Raw nodes
    /// unless raw leaves are on, as Kubo's trickle importer makes them).
    pub(crate) fn trickle(
        &mut self,
        data: &[u8],
        chunk: usize,
        direct: usize,
        repeat: usize,
    ) -> Child {
        let mut chunks = data.chunks(chunk).peekable();
        let mut kids = Vec::new();
        self.trickle_fill(&mut chunks, &mut kids, direct, repeat, usize::MAX);
        self.file_node(None, &kids, DataType::File)
    }

    fn trickle_leaf(&mut self, c: &[u8]) -> Child {
        if self.raw_leaves {
            self.raw(c)
        } else {
            self.pb_leaf(c, DataType::Raw)
        }
    }

    fn trickle_fill<'a>(
        &mut self,
        chunks: &mut std::iter::Peekable<std::slice::Chunks<'a, u8>>,
        kids: &mut Vec<Child>,
        direct: usize,
        repeat: usize,
        max_depth: usize,
    ) {
        for _ in 0..direct {
            let Some(c) = chunks.next() else { return };
            let leaf = self.trickle_leaf(c);
            kids.push(leaf);
        }
        let mut depth = 1;
        while depth < max_depth && chunks.peek().is_some() {
            for _ in 0..repeat {
                if chunks.peek().is_none() {
                    return;
                }
                let mut sub = Vec::new();
                self.trickle_fill(chunks, &mut sub, direct, repeat, depth);
                let node = self.file_node(None, &sub, DataType::File);
                kids.push(node);
            }
            depth += 1;
        }
    }

    /// A plain directory with links in the given order.
    pub(crate) fn dir(&mut self, entries: &[(&str, Child)]) -> Child {
        self.dir_meta(entries, None, None)
    }

    pub(crate) fn dir_meta(
        &mut self,
        entries: &[(&str, Child)],
        mode: Option<u32>,
        mtime: Option<i64>,
    ) -> Child {
        let mut d = UnixFsData::new(DataType::Directory);
        d.mode = mode;
        d.mtime = mtime.map(|s| (s, 0));
        let links = entries
            .iter()
            .map(|(n, c)| PbLink::new(c.cid, *n, c.tsize))
            .collect();
        self.put_pb(&PbNode {
            links,
            data: Some(d.encode()),
        })
    }

    pub(crate) fn symlink(&mut self, target: &str) -> Child {
        let mut d = UnixFsData::new(DataType::Symlink);
        d.data = Some(target.as_bytes().to_vec());
        self.put_pb(&PbNode {
            links: vec![],
            data: Some(d.encode()),
        })
    }

    /// A HAMT directory built the way boxo shapes one: a bucket with one
    /// entry holds it directly, a bucket with several gets a sub-shard.
    pub(crate) fn hamt(&mut self, entries: &[(&str, Child)], fanout: u64) -> Child {
        let hashed: Vec<([u8; 8], String, Child)> = entries
            .iter()
            .map(|(n, c)| (hash_name(n.as_bytes()), n.to_string(), *c))
            .collect();
        self.hamt_level(&hashed, fanout, 0)
    }

    fn hamt_level(
        &mut self,
        entries: &[([u8; 8], String, Child)],
        fanout: u64,
        depth: usize,
    ) -> Child {
        let bits = fanout.trailing_zeros() as usize;
        let mut buckets: BTreeMap<usize, Vec<([u8; 8], String, Child)>> = BTreeMap::new();
        for e in entries {
            buckets
                .entry(hash_bits(&e.0, depth * bits, bits))
                .or_default()
                .push(e.clone());
        }
        let mut bitfield = vec![0u8; (fanout as usize).div_ceil(8)];
        let mut links = Vec::new();
        for (idx, mut group) in buckets {
            let blen = bitfield.len();
            bitfield[blen - 1 - idx / 8] |= 1 << (idx % 8);
            let prefix = bucket_prefix(idx, fanout);
            if group.len() == 1 {
                let (_, name, c) = group.pop().unwrap();
                links.push(PbLink::new(c.cid, format!("{prefix}{name}"), c.tsize));
            } else {
                let sub = self.hamt_level(&group, fanout, depth + 1);
                links.push(PbLink::new(sub.cid, prefix, sub.tsize));
            }
        }
        let mut d = UnixFsData::new(DataType::HamtShard);
        d.data = Some(bitfield);
        d.hash_type = Some(0x22);
        d.fanout = Some(fanout);
        self.put_pb(&PbNode {
            links,
            data: Some(d.encode()),
        })
    }
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
pub(crate) fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn varint(buf: &mut &[u8]) -> u64 {
    let mut v = 0u64;
    for i in 0.. {
        let b = buf[0];
        *buf = &buf[1..];
        v |= ((b & 0x7f) as u64) << (7 * i);
        if b & 0x80 == 0 {
            break;
        }
    }
    v
}

/// Reads a CAR v1 file's blocks; returns them with the root, found as the
/// one block no other block links to (the fixtures have a single root).
pub(crate) fn load_car(name: &str) -> (Cid, HashMap<Cid, Bytes>) {
    let path = format!(
        "{}/tests/export_fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut buf = &bytes[..];
    let header_len = varint(&mut buf) as usize;
    buf = &buf[header_len..];
    let mut blocks = HashMap::new();
    while !buf.is_empty() {
        let len = varint(&mut buf) as usize;
        let mut section = &buf[..len];
        buf = &buf[len..];
        let cid = Cid::read_bytes(&mut section).expect("cid");
        blocks.insert(cid, Bytes::copy_from_slice(section));
    }
    let mut linked = HashSet::new();
    for (cid, b) in &blocks {
        if cid.codec() == codecs::DAG_PB {
            linked.extend(PbNode::links_of(b).unwrap());
        }
    }
    let roots: Vec<Cid> = blocks
        .keys()
        .filter(|c| !linked.contains(*c))
        .copied()
        .collect();
    assert_eq!(roots.len(), 1, "{name}: roots {roots:?}");
    (roots[0], blocks)
}
