//! DAGs and blocks nested deeper than any thread stack (issue 14): walking
//! them answers or fails with a clean error, and never takes the daemon down.

mod common;
use common::daemon::Node;
use common::*;
use ferrite_ipld::car::CarWriter;
use ferrite_ipld::dagpb::{PbLink, PbNode};
use ferrite_ipld::{codecs, Cid, HashAlg};

/// A CAR of `depth` nested UnixFS folders, each holding only the next one
/// (named `d`); returns the CAR and the folders' CIDs from the root down.
fn nested_folders(depth: usize) -> (Vec<u8>, Vec<Cid>) {
    // UnixFS Data { Type: Directory }
    const DIRECTORY: [u8; 2] = [0x08, 0x01];
    let mut blocks: Vec<(Cid, Vec<u8>)> = Vec::with_capacity(depth);
    for _ in 0..depth {
        let links = blocks
            .last()
            .map(|(c, d): &(Cid, Vec<u8>)| PbLink::new(*c, "d", d.len() as u64))
            .into_iter()
            .collect();
        let bytes = PbNode {
            links,
            data: Some(DIRECTORY.to_vec()),
        }
        .encode();
        let cid = Cid::new_v1(codecs::DAG_PB, HashAlg::Sha2_256.digest(&bytes));
        blocks.push((cid, bytes));
    }
    blocks.reverse();
    let mut car = CarWriter::new(Vec::new(), &[blocks[0].0]).unwrap();
    for (cid, data) in &blocks {
        car.write_block(cid, data).unwrap();
    }
    (
        car.finish().unwrap(),
        blocks.into_iter().map(|(c, _)| c).collect(),
    )
}

fn lines(cids: &[Cid]) -> String {
    cids.iter().map(|c| format!("{c}\n")).collect()
}

#[test]
fn refs_of_a_5000_deep_dag_leave_the_daemon_running() {
    let (car, cids) = nested_folders(5_001);
    let mut node = Node::new();
    let path = node.env.write("deep.car", &car);
    let out = node.env.ok(&["dag", "import", s(&path)]);
    assert!(
        out.contains(&format!("Pinned root\t{}\tsuccess", cids[0])),
        "{out}"
    );

    let root = cids[0].to_string();
    assert_eq!(node.env.ok(&["refs", "-r", &root]), lines(&cids[1..]));
    assert_eq!(node.env.ok(&["refs", "-r", "-u", &root]), lines(&cids[1..]));
    assert_eq!(
        node.env.ok(&["refs", "-r", "--max-depth=2", &root]),
        lines(&cids[1..3])
    );

    // Blocks nested far deeper than any limit are refused, not walked.
    let deep_json = "[".repeat(500_000) + &"]".repeat(500_000);
    let json = node.env.write("deep.json", deep_json.as_bytes());
    let err = node.env.fails(&["dag", "put", s(&json)]);
    assert!(err.contains("nesting"), "{err}");
    let mut deep_cbor = vec![0x81; 500_000];
    deep_cbor.push(0x80);
    let cbor = node.env.write("deep.cbor", &deep_cbor);
    let err = node
        .env
        .fails(&["block", "put", "--cid-codec", "dag-cbor", s(&cbor)]);
    assert!(err.contains("nesting"), "{err}");

    assert!(node.running(), "daemon died: {}", node.stderr());
    assert!(!node.id().is_empty());
    assert!(node.json("version")["Version"].is_string());
    assert!(node.env.ok(&["version"]).starts_with("ferrite version"));
}

#[test]
fn refs_of_a_50000_deep_dag_offline() {
    let (car, cids) = nested_folders(50_001);
    let env = Env::new();
    let path = env.write("deep.car", &car);
    env.ok(&["dag", "import", s(&path)]);
    let out = env.ok(&["refs", "-r", &cids[0].to_string()]);
    assert!(out == lines(&cids[1..]), "refs -r left the chain's order");
}
