//! `refs`: Kubo's depth-first order, and DAGs deeper than any thread stack.

mod common;

use ferrite_ipld::dagpb::{PbLink, PbNode};
use ferrite_ipld::{codecs, HashAlg};
use ferrite_node::{Cid, Node, RefsOptions};

/// Stores a dag-pb node linking to `links` (named by position) and returns
/// its CID and bytes.
fn pb(links: &[Cid]) -> (Cid, Vec<u8>) {
    let node = PbNode {
        links: links
            .iter()
            .enumerate()
            .map(|(i, c)| PbLink::new(*c, format!("l{i}"), 1))
            .collect(),
        data: None,
    };
    let bytes = node.encode();
    (
        Cid::new_v1(codecs::DAG_PB, HashAlg::Sha2_256.digest(&bytes)),
        bytes,
    )
}

fn store(node: &Node, blocks: &[(Cid, Vec<u8>)]) {
    let batch: Vec<(Cid, &[u8])> = blocks.iter().map(|(c, d)| (*c, d.as_slice())).collect();
    node.block_store_batch(&batch).unwrap();
}

/// The `dst` of every ref under `root`.
fn refs(node: &Node, root: &Cid, opts: &RefsOptions) -> Vec<Cid> {
    let mut out = Vec::new();
    node.refs(&[root.to_string()], opts, &mut |r| {
        out.push(r.dst);
        Ok(())
    })
    .unwrap();
    out
}

fn opts(unique: bool, max_depth: Option<i64>) -> RefsOptions {
    RefsOptions {
        recursive: true,
        unique,
        max_depth,
    }
}

#[test]
fn refs_follow_kubo_order_unique_and_max_depth() {
    let dir = tempfile::tempdir().unwrap();
    let node = common::node_at(dir.path());
    // root -> [a, b]; a -> [c, leaf]; b -> [c]; c -> [leaf]
    let leaf = pb(&[]);
    let c = pb(&[leaf.0]);
    let a = pb(&[c.0, leaf.0]);
    let b = pb(&[c.0]);
    let root = pb(&[a.0, b.0]);
    store(
        &node,
        &[leaf.clone(), c.clone(), a.clone(), b.clone(), root.clone()],
    );
    let (leaf, c, a, b, root) = (leaf.0, c.0, a.0, b.0, root.0);

    assert_eq!(
        refs(&node, &root, &opts(false, None)),
        [a, c, leaf, leaf, b, c, leaf]
    );
    assert_eq!(refs(&node, &root, &opts(true, None)), [a, c, leaf, b]);
    assert_eq!(refs(&node, &root, &opts(false, Some(1))), [a, b]);
    assert_eq!(
        refs(&node, &root, &opts(false, Some(2))),
        [a, c, leaf, b, c]
    );
    assert_eq!(refs(&node, &root, &opts(false, Some(0))), []);
    let one = RefsOptions::default();
    assert_eq!(refs(&node, &root, &one), [a, b]);
}

/// 50,000 nested nodes: the walk must not grow the thread's stack with the
/// depth (it used to recurse once per level and abort the process).
#[test]
fn refs_walk_a_50000_deep_chain() {
    const DEPTH: usize = 50_000;
    let dir = tempfile::tempdir().unwrap();
    let node = common::node_at(dir.path());
    let mut chain = vec![pb(&[])];
    for _ in 0..DEPTH {
        let below = chain.last().unwrap().0;
        chain.push(pb(&[below]));
    }
    store(&node, &chain);
    let root = chain.last().unwrap().0;
    // From the root down: every node but the root, deepest last.
    let want: Vec<Cid> = chain.iter().rev().skip(1).map(|(c, _)| *c).collect();

    // A small stack, like a runtime worker's, so the test does not depend
    // on how big the test harness makes its threads.
    let got = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let all = refs(&node, &root, &opts(false, None));
            let unique = refs(&node, &root, &opts(true, None));
            let bounded = refs(&node, &root, &opts(false, Some(3)));
            (all, unique, bounded)
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(got.0.len(), DEPTH);
    assert!(got.0 == want, "refs -r left the chain's order");
    assert!(got.1 == want, "refs -r -u left the chain's order");
    assert_eq!(got.2, want[..3]);
}
