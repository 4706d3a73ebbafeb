//! Helpers shared by the node's integration tests.
#![allow(dead_code)]

use ferrite_config::Config;
use ferrite_node::{AddOptions, AddSource, Cid, Node};

/// A fresh repo at `dir` (`test` profile), opened.
pub(crate) fn node_at(dir: &std::path::Path) -> Node {
    Node::init(dir, &Config::init(&["test"]).unwrap()).unwrap();
    Node::open(dir).unwrap()
}

/// Adds `data` as one file with the repo's import settings; returns its root.
pub(crate) fn add(node: &Node, data: Vec<u8>, pin: bool) -> Cid {
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
    added.last().unwrap().cid
}
