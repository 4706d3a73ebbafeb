//! What `Reprovider.Strategy` announces: `all` every block, `pinned` every
//! block under a pin, `roots` the pinned roots only.

mod common;

use common::{add, node_at};
use ferrite_node::net::reprovide_keys;
use std::collections::HashSet;

#[test]
fn strategies_select_all_pinned_or_root_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let node = node_at(dir.path());
    // 3 chunks + a root, pinned; 2 chunks + a root, not pinned.
    let pinned = add(&node, vec![1u8; 3 * 262_144], true);
    let loose = add(&node, vec![2u8; 2 * 262_144 - 10], false);
    let mh = |cids: Vec<ferrite_node::Cid>| -> HashSet<Vec<u8>> {
        cids.iter().map(|c| c.hash().to_bytes()).collect()
    };
    let all = mh(reprovide_keys(&node, "all").unwrap());
    let pinned_set = mh(reprovide_keys(&node, "pinned").unwrap());
    let roots = mh(reprovide_keys(&node, "roots").unwrap());
    let root_of = |c: &ferrite_node::Cid| c.hash().to_bytes();
    // Identical chunks are one block: the pinned file is 1 chunk + root,
    // the loose one 2 distinct chunks + root.
    assert_eq!(pinned_set.len(), 2, "{pinned_set:?}");
    assert!(pinned_set.contains(&root_of(&pinned)));
    assert!(!pinned_set.contains(&root_of(&loose)));
    assert_eq!(roots, HashSet::from([root_of(&pinned)]));
    assert!(all.is_superset(&pinned_set));
    assert!(all.contains(&root_of(&loose)));
    assert_eq!(all.len(), 5, "{all:?}");
}
