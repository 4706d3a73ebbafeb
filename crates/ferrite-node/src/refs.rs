//! `refs` and `refs local`.

use crate::{Error, IpfsPath, Node, Result};
use ferrite_ipld::Cid;
use ferrite_store::Blockstore;
use std::collections::HashSet;

/// Options of `refs`.
#[derive(Debug, Clone, Default)]
pub struct RefsOptions {
    /// Descend into children.
    pub recursive: bool,
    /// Print each ref once.
    pub unique: bool,
    /// Only descend this many levels (negative: unlimited).
    pub max_depth: Option<i64>,
}

/// One edge `src -> dst` found by `refs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ref {
    /// The block that links.
    pub src: Cid,
    /// The linked block.
    pub dst: Cid,
    /// The link's name (dag-pb), empty otherwise.
    pub name: String,
}

impl Node {
    /// `refs`: calls `emit` for each link under the given paths, in Kubo's
    /// depth-first order.
    pub fn refs(
        &self,
        paths: &[String],
        opts: &RefsOptions,
        emit: &mut dyn FnMut(Ref) -> Result<()>,
    ) -> Result<()> {
        let max_depth = match (opts.recursive, opts.max_depth) {
            (_, Some(d)) if d >= 0 => d,
            (true, _) => i64::MAX,
            (false, _) => 1,
        };
        let mut seen: HashSet<Cid> = HashSet::new();
        for p in paths {
            let root = self.resolve(&IpfsPath::parse(p)?)?;
            if max_depth == i64::MAX {
                // The whole DAG will be read: fetch it with a window of wants.
                self.fetch_dag(&root, &mut |_| {})?;
            }
            self.refs_walk(&root, max_depth, opts.unique, &mut seen, emit)?;
        }
        Ok(())
    }

    /// Emits the edges below `root` depth first, each followed by the edges
    /// under its target (Kubo's order). Iterative: a DAG from outside can
    /// nest deeper than any thread stack.
    fn refs_walk(
        &self,
        root: &Cid,
        max_depth: i64,
        unique: bool,
        seen: &mut HashSet<Cid>,
        emit: &mut dyn FnMut(Ref) -> Result<()>,
    ) -> Result<()> {
        if max_depth < 1 {
            return Ok(());
        }
        // One frame per level: the block and its links not yet emitted. The
        // stack's length is the depth of the edges its top frame yields.
        let links = named_links(root, &self.block_get(root)?)?;
        let mut stack = vec![(*root, links.into_iter())];
        while let Some((src, links)) = stack.last_mut() {
            let src = *src;
            let Some((dst, name)) = links.next() else {
                stack.pop();
                continue;
            };
            if unique && !seen.insert(dst) {
                continue;
            }
            emit(Ref { src, dst, name })?;
            if (stack.len() as i64) < max_depth {
                let links = named_links(&dst, &self.block_get(&dst)?)?;
                stack.push((dst, links.into_iter()));
            }
        }
        Ok(())
    }

    /// `refs local`: every stored block, as CIDv1 raw (the store keeps
    /// multihashes, not codecs).
    pub fn refs_local(&self, emit: &mut dyn FnMut(Cid) -> bool) -> Result<()> {
        self.repo
            .blocks()
            .for_each(&mut |mh, _| emit(Cid::new_v1(ferrite_ipld::codecs::RAW, *mh)))?;
        Ok(())
    }
}

fn named_links(cid: &Cid, data: &[u8]) -> Result<Vec<(Cid, String)>> {
    if cid.codec() == ferrite_ipld::codecs::DAG_PB {
        let node = ferrite_ipld::dagpb::PbNode::decode(data)?;
        return Ok(node
            .links
            .into_iter()
            .map(|l| (l.cid, l.name.unwrap_or_default()))
            .collect());
    }
    Ok(ferrite_ipld::codec::links(cid, data)
        .map_err(Error::from)?
        .into_iter()
        .map(|c| (c, String::new()))
        .collect())
}
