//! What the HTTP gateway needs beyond the CLI's API: path resolution that
//! reports every logical root (`X-Ipfs-Roots`) and the blocks it read, and
//! trustless CAR exports shaped by `dag-scope`, `entity-bytes` (IPIP-402) and
//! `dups` (IPIP-412), always in depth-first order.
//!
//! A CAR export is split in two so the gateway can answer 404/400 before it
//! commits to a 200: [`Node::car_plan`] resolves the path and checks the
//! terminal block exists, [`Node::write_car`] then streams the CAR.

use crate::fetch::RepoSource;
use crate::{Error, IpfsPath, Node, Result};
use bytes::Bytes;
use ferrite_ipld::car::CarWriter;
use ferrite_ipld::dagpb::PbNode;
use ferrite_ipld::{codecs, Cid};
use ferrite_store::Blockstore;
use ferrite_unixfs::export;
use ferrite_unixfs::pb::{DataType, UnixFsData};
use ferrite_unixfs::BlockSource;
use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Multihash code of identity CIDs: their block is their digest.
const IDENTITY: u64 = 0x00;

/// `dag-scope`: which blocks below the end of the path a CAR carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DagScope {
    /// Only the terminal block.
    Block,
    /// What is needed to read the terminal entity: a whole file, a folder's
    /// own node (every shard of a HAMT folder), one block otherwise.
    Entity,
    /// The whole DAG under the terminal block.
    #[default]
    All,
}

impl DagScope {
    /// The query-parameter spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DagScope::Block => "block",
            DagScope::Entity => "entity",
            DagScope::All => "all",
        }
    }
}

/// `entity-bytes=from:to` (inclusive; negative counts from the end; `to`
/// `None` is `*`, the end of the entity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityBytes {
    /// First byte; negative: that many bytes before the end.
    pub from: i64,
    /// Last byte (inclusive); negative: relative to the end; `None`: `*`.
    pub to: Option<i64>,
}

impl EntityBytes {
    /// Parses `from:to` as IPIP-402 defines it.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || Error::Invalid(format!("invalid entity-bytes {s:?}: expected from:to"));
        let (f, t) = s.split_once(':').ok_or_else(bad)?;
        let from: i64 = f.parse().map_err(|_| bad())?;
        let to = match t {
            "*" => None,
            t => Some(t.parse::<i64>().map_err(|_| bad())?),
        };
        if let Some(to) = to {
            // ranges whose order is known without the size must be ordered
            if (from >= 0 && to >= 0 || from < 0 && to < 0) && from > to {
                return Err(Error::Invalid(format!(
                    "invalid entity-bytes {s:?}: from is after to"
                )));
            }
        }
        Ok(EntityBytes { from, to })
    }

    /// The inclusive byte range within an entity of `size` bytes, or `None`
    /// when nothing of it is inside the entity.
    pub fn resolve(&self, size: u64) -> Option<(u64, u64)> {
        let size_i = i64::try_from(size).unwrap_or(i64::MAX);
        let from = if self.from < 0 {
            (size_i + self.from).max(0)
        } else {
            self.from
        };
        let to = match self.to {
            None => size_i - 1,
            Some(t) if t < 0 => size_i + t,
            Some(t) => t.min(size_i - 1),
        };
        (size > 0 && from < size_i && from <= to).then_some((from as u64, to as u64))
    }
}

/// Options of a gateway CAR export.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CarOptions {
    /// `dag-scope`.
    pub scope: DagScope,
    /// `entity-bytes` (implies [`DagScope::Entity`]).
    pub entity_bytes: Option<EntityBytes>,
    /// `dups=y`: send a block every time the walk meets it.
    pub dups: bool,
}

/// A resolved CAR request: what [`Node::write_car`] streams.
#[derive(Debug, Clone)]
pub struct CarPlan {
    /// The CID of the path's root (the CAR header's root).
    pub root: Cid,
    /// The block the path ends at.
    pub terminal: Cid,
    /// Blocks read to walk the path (folders, HAMT shards), in order.
    pub path_blocks: Vec<(Cid, Bytes)>,
    /// The byte range of the terminal file to cover, when `entity-bytes`
    /// applies: `Some(None)` for an empty file (only its root is sent).
    pub file_range: Option<Option<(u64, u64)>>,
}

/// A path resolved for a deserialized response.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The CID the path ends at.
    pub cid: Cid,
    /// One CID per logical root: the path's root, then one per segment
    /// (only the root and the end when the path crosses non-UnixFS blocks).
    pub roots: Vec<Cid>,
    /// Segments left inside the last block (a path into a DAG-CBOR value
    /// that is not a link); empty when the path ends at a block.
    pub remainder: Vec<String>,
}

/// A block source that remembers every block it hands out, in order.
struct Recording<'a> {
    inner: &'a RepoSource,
    seen: Mutex<Vec<(Cid, Bytes)>>,
}

impl BlockSource for Recording<'_> {
    fn get(&self, cid: &Cid) -> std::io::Result<Option<Bytes>> {
        let b = self.inner.get(cid)?;
        if let Some(b) = &b {
            self.seen
                .lock()
                .expect("not poisoned")
                .push((*cid, b.clone()));
        }
        Ok(b)
    }
}

impl Node {
    /// Resolves `path` one segment at a time, keeping each segment's CID.
    /// Paths through DAG-CBOR/DAG-JSON links (which UnixFS cannot walk)
    /// are resolved with the IPLD resolver instead.
    pub fn resolve_roots(&self, path: &IpfsPath) -> Result<Resolved> {
        let src = self.source();
        let mut roots = Vec::with_capacity(path.segments.len() + 1);
        let mut cur = path.root;
        roots.push(cur);
        for seg in &path.segments {
            match export::resolve(&src, &cur, seg) {
                Ok(c) => cur = c,
                Err(e) => {
                    let e = Error::from(e);
                    return match self.ipld_resolve(path, &mut |_, _| {}) {
                        Some((cid, remainder)) => Ok(Resolved {
                            cid,
                            roots: vec![path.root, cid],
                            remainder,
                        }),
                        None => Err(e),
                    };
                }
            }
            roots.push(cur);
        }
        Ok(Resolved {
            cid: cur,
            roots,
            remainder: Vec::new(),
        })
    }

    /// The IPLD resolver's answer for `path` (UnixFS names in dag-pb, plain
    /// keys elsewhere), if it has one; `seen` gets every block it loads.
    fn ipld_resolve(
        &self,
        path: &IpfsPath,
        seen: &mut dyn FnMut(&Cid, &Bytes),
    ) -> Option<(Cid, Vec<String>)> {
        let dag_path = ferrite_ipld::dag::DagPath {
            mode: ferrite_ipld::dag::PathMode::UnixFs,
            root: path.root,
            segments: path.segments.clone(),
        };
        let r = ferrite_ipld::dag::resolve(&dag_path, |c: &Cid| {
            let b = self
                .repo
                .blocks()
                .get(c)
                .map_err(|e| ferrite_ipld::Error::Io(std::io::Error::other(e)))?;
            if let Some(b) = &b {
                seen(c, b);
            }
            Ok(b)
        })
        .ok()?;
        Some((r.cid, r.remainder))
    }

    /// Whether the block is available without fetching (the store counts
    /// identity CIDs as present).
    pub fn has_block(&self, cid: &Cid) -> Result<bool> {
        Ok(self.repo.blocks().has(cid)?)
    }

    /// The store as an exporter source that owns its repo handle, for
    /// readers and listings that outlive the call (HTTP bodies).
    pub fn block_source(&self) -> Arc<dyn BlockSource + Send + Sync> {
        Arc::new(self.source())
    }

    /// Resolves a CAR request: walks the path (recording its blocks), checks
    /// that the terminal block is here and works out the `entity-bytes`
    /// range. Fails before anything is written, so the caller can still
    /// answer 404 or 400.
    pub fn car_plan(&self, path: &IpfsPath, opts: &CarOptions) -> Result<CarPlan> {
        let src = self.source();
        let rec = Recording {
            inner: &src,
            seen: Mutex::new(Vec::new()),
        };
        let (terminal, path_blocks) = match export::resolve(&rec, &path.root, &path.sub_path()) {
            Ok(t) => (t, rec.seen.into_inner().expect("not poisoned")),
            Err(e) => {
                // maybe a path through DAG-CBOR links
                let mut blocks = Vec::new();
                match self.ipld_resolve(path, &mut |c, b| blocks.push((*c, b.clone()))) {
                    Some((t, rem)) if rem.is_empty() => {
                        // the terminal block goes out by its scope
                        if blocks.last().is_some_and(|(c, _)| *c == t) {
                            blocks.pop();
                        }
                        (t, blocks)
                    }
                    Some((t, rem)) => {
                        return Err(Error::Invalid(format!(
                            "path {path} ends inside block {t} at {:?}, not at a block",
                            rem.join("/")
                        )))
                    }
                    None => return Err(e.into()),
                }
            }
        };
        if !self.has_block(&terminal)? {
            return Err(Error::NotFound(terminal));
        }
        let mut file_range = None;
        if let Some(eb) = opts.entity_bytes {
            let entry = export::stat(&src, &terminal)?;
            if entry.kind.is_file() {
                let range = eb.resolve(entry.size);
                if range.is_none() && entry.size > 0 {
                    // known up front: IPIP-402 asks for a 400
                    return Err(Error::Invalid(format!(
                        "entity-bytes {}:{} is outside the {} bytes of {terminal}",
                        eb.from,
                        eb.to.map_or("*".to_string(), |t| t.to_string()),
                        entry.size
                    )));
                }
                file_range = Some(range);
            }
        }
        Ok(CarPlan {
            root: path.root,
            terminal,
            path_blocks,
            file_range,
        })
    }

    /// Streams the CARv1 for `plan`: the path's blocks, then the terminal
    /// entity per `opts`, depth first, identity blocks left out. Returns the
    /// bytes written. A block that goes missing mid-way is an error (the
    /// response is then already under way: the caller reports it as a
    /// trailer).
    pub fn write_car(&self, plan: &CarPlan, opts: &CarOptions, out: &mut dyn Write) -> Result<u64> {
        let mut car = CarWriter::new(out, &[plan.root])?;
        let mut w = Walk {
            node: self,
            car: &mut car,
            seen: HashSet::new(),
            dups: opts.dups,
        };
        for (cid, data) in &plan.path_blocks {
            w.emit(cid, data)?;
        }
        let scope = if opts.entity_bytes.is_some() {
            DagScope::Entity
        } else {
            opts.scope
        };
        match (scope, plan.file_range) {
            (DagScope::Block, _) | (_, Some(None)) => {
                let data = self.block_get(&plan.terminal)?;
                w.emit(&plan.terminal, &data)?;
            }
            (DagScope::Entity, Some(Some((from, to)))) => w.file_range(&plan.terminal, from, to)?,
            (DagScope::Entity, None) => w.entity(&plan.terminal)?,
            (DagScope::All, _) => w.all(&plan.terminal)?,
        }
        let n = car.bytes_written();
        car.finish()?;
        Ok(n)
    }
}

struct Walk<'a, 'w> {
    node: &'a Node,
    car: &'a mut CarWriter<&'w mut dyn Write>,
    seen: HashSet<Cid>,
    dups: bool,
}

impl Walk<'_, '_> {
    /// Writes a block unless it is an identity block or (without dups) was
    /// already sent. Returns whether it was new.
    fn emit(&mut self, cid: &Cid, data: &[u8]) -> Result<bool> {
        let new = self.seen.insert(*cid);
        if cid.hash().code() != IDENTITY && (new || self.dups) {
            self.car.write_block(cid, data)?;
        }
        Ok(new)
    }

    /// `dag-scope=all`: every block reachable from `root`, depth first.
    fn all(&mut self, root: &Cid) -> Result<()> {
        let mut stack = vec![*root];
        while let Some(cid) = stack.pop() {
            if !self.dups && self.seen.contains(&cid) {
                continue;
            }
            let data = self.node.block_get(&cid)?;
            self.emit(&cid, &data)?;
            if cid.codec() != codecs::RAW {
                let links = ferrite_ipld::codec::links(&cid, &data)?;
                stack.extend(links.into_iter().rev());
            }
        }
        Ok(())
    }

    /// `dag-scope=entity` without a byte range. Iterative, as every walk
    /// here: a hostile DAG (say a chain of HAMT shards) can nest deeper
    /// than the stack.
    fn entity(&mut self, root: &Cid) -> Result<()> {
        let mut stack = vec![*root];
        while let Some(cid) = stack.pop() {
            let data = self.node.block_get(&cid)?;
            self.emit(&cid, &data)?;
            let Some((pb, ufs)) = unixfs(&cid, &data) else {
                continue;
            };
            match ufs.kind {
                DataType::File | DataType::Raw | DataType::Metadata => {
                    for l in &pb.links {
                        self.all(&l.cid)?;
                    }
                }
                DataType::HamtShard => {
                    // the shard nodes (links named by a bare bucket prefix),
                    // not the entries
                    let plen = ufs
                        .fanout
                        .filter(|f| f.is_power_of_two() && *f >= 2)
                        .map(ferrite_unixfs::hamt::prefix_len)
                        .ok_or_else(|| Error::Invalid(format!("{cid}: HAMT without a fanout")))?;
                    let shards = pb.links.iter().rev();
                    stack.extend(
                        shards
                            .filter(|l| l.name.as_deref().is_some_and(|n| n.len() == plen))
                            .map(|l| l.cid),
                    );
                }
                DataType::Directory | DataType::Symlink => {}
            }
        }
        Ok(())
    }

    /// The blocks of the file at `root` needed to read bytes `from..=to`,
    /// depth first.
    fn file_range(&mut self, root: &Cid, from: u64, to: u64) -> Result<()> {
        // (block, the file offset it starts at, its depth)
        let mut stack = vec![(*root, 0u64, 0usize)];
        while let Some((cid, base, depth)) = stack.pop() {
            if depth > export::MAX_DEPTH {
                return Err(Error::Invalid(format!("{cid}: file nested too deeply")));
            }
            let data = self.node.block_get(&cid)?;
            self.emit(&cid, &data)?;
            let Some((pb, ufs)) = unixfs(&cid, &data) else {
                continue;
            };
            if ufs.kind == DataType::Metadata {
                // legacy wrapper: the file is its first link
                if let Some(l) = pb.links.first() {
                    stack.push((l.cid, base, depth + 1));
                }
                continue;
            }
            let mut children = Vec::new();
            // Sizes come from the block: saturate, a hostile one must not wrap.
            let mut off = base.saturating_add(ufs.data.as_ref().map_or(0, |d| d.len() as u64));
            for (l, &size) in pb.links.iter().zip(&ufs.blocksizes) {
                let end = off.saturating_add(size); // exclusive
                if size > 0 && off <= to && end > from {
                    children.push((l.cid, off, depth + 1));
                }
                off = end;
                if off > to {
                    break;
                }
            }
            // reversed so the first child is read first
            stack.extend(children.into_iter().rev());
        }
        Ok(())
    }
}

/// The dag-pb node and its UnixFS data, if `data` is a UnixFS node.
fn unixfs(cid: &Cid, data: &[u8]) -> Option<(PbNode, UnixFsData)> {
    if cid.codec() != codecs::DAG_PB {
        return None;
    }
    let pb = PbNode::decode(data).ok()?;
    let ufs = UnixFsData::decode(pb.data.as_deref()?).ok()?;
    Some((pb, ufs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_bytes_ranges() {
        let r = |s: &str, size| EntityBytes::parse(s).unwrap().resolve(size);
        assert_eq!(r("0:*", 1026), Some((0, 1025)));
        assert_eq!(r("0:0", 1026), Some((0, 0)));
        assert_eq!(r("-9999:*", 1026), Some((0, 1025)));
        assert_eq!(r("-9999:-3", 1026), Some((0, 1023)));
        assert_eq!(r("-2:*", 1026), Some((1024, 1025)));
        assert_eq!(r("499:-1000", 1026), None);
        assert_eq!(r("10:-1000", 1026), Some((10, 26)));
        assert_eq!(r("2000:*", 1026), None);
        assert_eq!(r("0:*", 0), None);
        assert_eq!(r("5:99999", 10), Some((5, 9)));
        assert!(EntityBytes::parse("5:1").is_err());
        assert!(EntityBytes::parse("-1:-5").is_err());
        assert!(EntityBytes::parse("a:1").is_err());
        assert!(EntityBytes::parse("1").is_err());
    }
}
