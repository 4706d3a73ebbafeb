//! Builds a repo for the GC benchmark: `PINS` pinned DAGs (a dag-pb folder
//! node with `CHILDREN` raw children each) plus as many unpinned blocks
//! again, so a GC has to keep half and remove half.
//!
//! ```text
//! FERRITE_PATH=REPO ferrite init --profile test
//! cargo run --release -p ferrite-store --example gc_populate -- REPO [PINS] [CHILDREN]
//! FERRITE_PATH=REPO /usr/bin/time ferrite repo gc -q
//! ```
//! Defaults: 100,000 pins × (1 + 4) blocks pinned + 500,000 garbage blocks
//! = 1,000,000 blocks.

use ferrite_ipld::dagpb::{PbLink, PbNode};
use ferrite_ipld::{codecs, Cid, HashAlg};
use ferrite_store::{Blockstore, Pin, PinMode, Repo};
use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(
        args.next()
            .expect("usage: gc_populate REPO [PINS] [CHILDREN]"),
    );
    let pins: u64 = args.next().map_or(100_000, |s| s.parse().unwrap());
    let children: u64 = args.next().map_or(4, |s| s.parse().unwrap());
    // The repo comes from `ferrite init`: the store does not write configs.
    let (repo, ()) = Repo::open(&path, |_| Ok(())).unwrap();
    let blocks = repo.blocks();
    let mut n = 0u64;
    let mut block = |i: u64| -> (Cid, Vec<u8>) {
        n += 1;
        let mut data = i.to_le_bytes().to_vec();
        data.resize(100, (i % 251) as u8);
        (
            Cid::new_v1(codecs::RAW, HashAlg::Sha2_256.digest(&data)),
            data,
        )
    };
    let mut next = 0u64;
    for batch in 0..pins.div_ceil(10_000) {
        let mut w = blocks.writer().unwrap();
        let mut roots = Vec::new();
        for _ in 0..10_000.min(pins - batch * 10_000) {
            let mut links = Vec::new();
            for _ in 0..children {
                let (c, d) = block(next);
                next += 1;
                w.put(&c, &d).unwrap();
                links.push(PbLink::new(c, format!("f{next}"), d.len() as u64));
            }
            let dir = PbNode {
                links,
                data: Some(vec![8, 1]),
            }
            .encode();
            let root = Cid::new_v0(HashAlg::Sha2_256.digest(&dir)).unwrap();
            w.put(&root, &dir).unwrap();
            roots.push(Pin {
                cid: root,
                mode: PinMode::Recursive,
                name: String::new(),
            });
            // garbage of the same volume
            for _ in 0..=children {
                let (c, d) = block(next);
                next += 1;
                w.put(&c, &d).unwrap();
            }
        }
        w.commit().unwrap();
        repo.pins().insert(&roots).unwrap();
    }
    let st = blocks.stat().unwrap();
    println!("{} blocks, {} pins", st.blocks, repo.pins().len().unwrap());
}
