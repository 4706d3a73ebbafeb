//! Gateway CARs of hostile DAGs nested deeper than any thread stack.

mod common;

use ferrite_ipld::car::CarReader;
use ferrite_ipld::dagpb::{PbLink, PbNode};
use ferrite_ipld::{codecs, HashAlg};
use ferrite_node::{CarOptions, Cid, DagScope, IpfsPath};
use ferrite_unixfs::pb::{DataType, UnixFsData};

/// `dag-scope=entity` of a HAMT folder sends every shard node; a chain of
/// 50,000 shards, each the only sub-shard of the one above, used to take one
/// stack frame per shard and abort the process.
#[test]
fn entity_car_of_a_50000_deep_hamt_chain() {
    const DEPTH: usize = 50_000;
    let dir = tempfile::tempdir().unwrap();
    let node = common::node_at(dir.path());
    let mut data = UnixFsData::new(DataType::HamtShard);
    data.hash_type = Some(0x22);
    data.fanout = Some(256);
    data.data = Some(vec![1]);
    let data = data.encode();
    let mut chain: Vec<(Cid, Vec<u8>)> = Vec::with_capacity(DEPTH);
    for _ in 0..DEPTH {
        let links = chain
            .last()
            .map(|(c, b): &(Cid, Vec<u8>)| PbLink::new(*c, "00", b.len() as u64))
            .into_iter()
            .collect();
        let bytes = PbNode {
            links,
            data: Some(data.clone()),
        }
        .encode();
        chain.push((
            Cid::new_v1(codecs::DAG_PB, HashAlg::Sha2_256.digest(&bytes)),
            bytes,
        ));
    }
    let batch: Vec<(Cid, &[u8])> = chain.iter().map(|(c, d)| (*c, d.as_slice())).collect();
    node.block_store_batch(&batch).unwrap();
    let root = chain.last().unwrap().0;

    let car = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let opts = CarOptions {
                scope: DagScope::Entity,
                ..Default::default()
            };
            let plan = node
                .car_plan(&IpfsPath::parse(&format!("/ipfs/{root}")).unwrap(), &opts)
                .unwrap();
            let mut car = Vec::new();
            node.write_car(&plan, &opts, &mut car).unwrap();
            car
        })
        .unwrap()
        .join()
        .unwrap();
    let mut r = CarReader::new(car.as_slice()).unwrap();
    let mut got = Vec::new();
    while let Some((cid, _)) = r.next_block().unwrap() {
        got.push(cid);
    }
    let want: Vec<Cid> = chain.iter().rev().map(|(c, _)| *c).collect();
    assert!(got == want, "the CAR left the chain's order");
}
