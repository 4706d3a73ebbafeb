//! What `Reprovider.Strategy` announces: `all` every block, `pinned` every
//! block under a pin, `roots` the pinned roots only.

use ferrite_node::net::reprovide_keys;
use ferrite_node::{AddOptions, AddSource, Node};
use ferrite_store::config::Config;
use ferrite_store::Repo;
use std::collections::HashSet;

fn add(node: &Node, data: Vec<u8>, pin: bool) -> String {
    let opts = AddOptions {
        import: node.import_defaults().unwrap(),
        pin,
        ..Default::default()
    };
    let added = node
        .add(
            AddSource::Reader {
                reader: Box::new(std::io::Cursor::new(data)),
                name: None,
            },
            &opts,
            &mut |_| {},
        )
        .unwrap();
    added.last().unwrap().cid.to_string()
}

#[test]
fn strategies_select_all_pinned_or_root_blocks() {
    let dir = tempfile::tempdir().unwrap();
    Repo::init(dir.path(), &Config::init(&["test"]).unwrap()).unwrap();
    let node = Node::open(dir.path()).unwrap();
    // 3 chunks + a root, pinned; 2 chunks + a root, not pinned.
    let pinned = add(&node, vec![1u8; 3 * 262_144], true);
    let loose = add(&node, vec![2u8; 2 * 262_144 - 10], false);
    let mh = |cids: Vec<ferrite_node::Cid>| -> HashSet<Vec<u8>> {
        cids.iter().map(|c| c.hash().to_bytes()).collect()
    };
    let all = mh(reprovide_keys(node.repo(), "all").unwrap());
    let pinned_set = mh(reprovide_keys(node.repo(), "pinned").unwrap());
    let roots = mh(reprovide_keys(node.repo(), "roots").unwrap());
    let root_of = |s: &str| ferrite_node::Cid::try_from(s).unwrap().hash().to_bytes();
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
