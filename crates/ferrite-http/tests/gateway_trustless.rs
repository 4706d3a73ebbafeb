//! Trustless gateway over real HTTP: raw blocks, CAR streams (dag-scope,
//! entity-bytes, dups, order), format negotiation (406/400), tar and codec
//! responses.

#[path = "gateway_support/mod.rs"]
mod gateway_support;
#[path = "raw_support/mod.rs"]
mod raw_support;

use ferrite_ipld::car::CarReader;
use ferrite_ipld::dagpb::PbNode;
use ferrite_ipld::{codecs, Cid};
use ferrite_node::IpfsPath;
use gateway_support::{random_bytes, Gw, Resp};
use raw_support::{read_raw, Raw};
use std::collections::HashSet;

const CAR_N: &str = "application/vnd.ipld.car; version=1; order=dfs; dups=n";

/// Parses a CAR body: roots and blocks, every block checked against its CID.
fn car_blocks(r: &Resp) -> (Vec<Cid>, Vec<(Cid, Vec<u8>)>) {
    assert_eq!(r.status, 200, "{}", r.text());
    let mut car = CarReader::new(&r.body[..]).unwrap();
    let roots = car.roots().to_vec();
    let mut blocks = Vec::new();
    while let Some((cid, data)) = car.next_block().unwrap() {
        assert!(
            ferrite_ipld::verify(&cid, &data).unwrap(),
            "{cid} does not verify"
        );
        blocks.push((cid, data.to_vec()));
    }
    (roots, blocks)
}

fn cids(blocks: &[(Cid, Vec<u8>)]) -> Vec<Cid> {
    blocks.iter().map(|b| b.0).collect()
}

/// Every block of the DAG under `root`, in `dag export` order.
fn export_order(gw: &Gw, root: &Cid) -> Vec<Cid> {
    let mut out = Vec::new();
    gw.node.dag_export(root, &mut out).unwrap();
    let mut car = CarReader::new(&out[..]).unwrap();
    let mut v = Vec::new();
    while let Some((c, _)) = car.next_block().unwrap() {
        v.push(c);
    }
    v
}

fn resolve(gw: &Gw, p: &str) -> Cid {
    gw.node.resolve(&IpfsPath::parse(p).unwrap()).unwrap()
}

/// A folder: `sub/big.bin` (3 MiB, 12 leaves), `sub/hello.txt`, two
/// identical files `dup1`/`dup2`, and `empty`.
fn fixture(gw: &Gw) -> (Cid, Vec<u8>, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("root");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    let big = random_bytes(3 << 20, 5);
    std::fs::write(d.join("sub/big.bin"), &big).unwrap();
    std::fs::write(d.join("sub/hello.txt"), b"hello world\n").unwrap();
    let dup = random_bytes(600_000, 9); // 3 leaves, both files the same
    std::fs::write(d.join("dup1"), &dup).unwrap();
    std::fs::write(d.join("dup2"), &dup).unwrap();
    std::fs::write(d.join("empty"), b"").unwrap();
    let root = gw.add_dir(&d);
    (root, big, tmp)
}

#[test]
fn raw_blocks() {
    let gw = Gw::start();
    let (root, _, _t) = fixture(&gw);
    for (path, headers) in [
        (format!("/ipfs/{root}?format=raw"), vec![]),
        (
            format!("/ipfs/{root}"),
            vec![("Accept", "application/vnd.ipld.raw")],
        ),
    ] {
        let r = gw.get(&path, &headers);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/vnd.ipld.raw"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(
            r.header("content-disposition"),
            Some(format!("attachment; filename=\"{root}.bin\"").as_str())
        );
        assert_eq!(r.header("etag"), Some(format!("\"{root}.raw\"").as_str()));
        assert_eq!(
            r.header("cache-control"),
            Some("public, max-age=29030400, immutable")
        );
        assert!(ferrite_ipld::verify(&root, &r.body).unwrap());
        assert_eq!(r.body, gw.node.block_get(&root).unwrap());
        let mut h = headers.clone();
        h.push(("If-None-Match", r.header("etag").unwrap()));
        assert_eq!(gw.get(&path, &h).status, 304);
    }
    // Accept without ?format gets a Content-Location naming the variant
    let r = gw.get(
        &format!("/ipfs/{root}"),
        &[("Accept", "application/vnd.ipld.raw")],
    );
    assert_eq!(
        r.header("content-location"),
        Some(format!("/ipfs/{root}?format=raw").as_str())
    );
    // a path: the block it ends at
    let hello = resolve(&gw, &format!("/ipfs/{root}/sub/hello.txt"));
    let r = gw.get(&format!("/ipfs/{root}/sub/hello.txt?format=raw"), &[]);
    assert_eq!(r.body, gw.node.block_get(&hello).unwrap());
    let h = gw.head(&format!("/ipfs/{root}?format=raw"), &[]);
    assert_eq!(h.status, 200);
    assert_eq!(
        h.header("content-length"),
        Some(gw.node.block_get(&root).unwrap().len().to_string().as_str())
    );
}

#[test]
fn car_whole_dag() {
    let gw = Gw::start();
    let (root, _, _t) = fixture(&gw);
    for (path, headers) in [
        (format!("/ipfs/{root}?format=car"), vec![]),
        (
            format!("/ipfs/{root}"),
            vec![("Accept", "application/vnd.ipld.car")],
        ),
        (
            format!("/ipfs/{root}"),
            vec![(
                "Accept",
                "application/vnd.ipld.car; version=1; order=dfs; dups=n",
            )],
        ),
    ] {
        let r = gw.get(&path, &headers);
        assert_eq!(r.header("content-type"), Some(CAR_N));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("accept-ranges"), Some("none"));
        assert_eq!(
            r.header("content-disposition"),
            Some(format!("attachment; filename=\"{root}.car\"").as_str())
        );
        let etag = r.header("etag").unwrap().to_string();
        assert!(etag.starts_with(&format!("W/\"{root}.car.")), "{etag}");
        let (roots, blocks) = car_blocks(&r);
        assert_eq!(roots, vec![root]);
        // depth first, each block once: exactly `dag export`
        assert_eq!(cids(&blocks), export_order(&gw, &root));
        let mut h = headers.clone();
        h.push(("If-None-Match", &etag));
        assert_eq!(gw.get(&path, &h).status, 304);
    }
    // scope and options change the ETag
    let a = gw.get(&format!("/ipfs/{root}?format=car"), &[]);
    let b = gw.get(&format!("/ipfs/{root}?format=car&dag-scope=block"), &[]);
    let c = gw.get(&format!("/ipfs/{root}?format=car&car-dups=y"), &[]);
    assert_ne!(a.header("etag"), b.header("etag"));
    assert_ne!(a.header("etag"), c.header("etag"));
    // HEAD: headers only
    let h = gw.head(&format!("/ipfs/{root}?format=car"), &[]);
    assert_eq!((h.status, h.header("content-type")), (200, Some(CAR_N)));
    assert_ne!(h.header("content-length"), Some("0"));
}

#[test]
fn car_scopes_on_paths() {
    let gw = Gw::start();
    let (root, big, _t) = fixture(&gw);
    let sub = resolve(&gw, &format!("/ipfs/{root}/sub"));
    let file = resolve(&gw, &format!("/ipfs/{root}/sub/big.bin"));
    let file_blocks = export_order(&gw, &file);
    assert_eq!(file_blocks.len(), 13);

    // block: the path's blocks and the terminal one
    let r = gw.get(
        &format!("/ipfs/{root}/sub/big.bin?format=car&dag-scope=block"),
        &[],
    );
    assert_eq!(
        r.header("content-disposition"),
        Some(format!("attachment; filename=\"{root}_big.bin.car\"").as_str())
    );
    let (roots, blocks) = car_blocks(&r);
    assert_eq!(roots, vec![root]);
    assert_eq!(cids(&blocks), vec![root, sub, file]);

    // entity of a file: the path, then the whole file
    let r = gw.get(
        &format!("/ipfs/{root}/sub/big.bin?format=car&dag-scope=entity"),
        &[],
    );
    let (_, blocks) = car_blocks(&r);
    let mut want = vec![root, sub];
    want.extend(&file_blocks);
    assert_eq!(cids(&blocks), want);
    // the file's bytes come back from its leaves
    let mut bytes = Vec::new();
    for (cid, data) in &blocks[3..] {
        if cid.codec() == codecs::RAW {
            bytes.extend_from_slice(data);
        } else {
            let pb = PbNode::decode(data).unwrap();
            let ufs = ferrite_unixfs::pb::UnixFsData::decode(pb.data.as_deref().unwrap()).unwrap();
            bytes.extend_from_slice(ufs.data.as_deref().unwrap_or_default());
        }
    }
    assert!(bytes == big);

    // entity of a folder: its own node only
    let r = gw.get(
        &format!("/ipfs/{root}/sub?format=car&dag-scope=entity"),
        &[],
    );
    let (_, blocks) = car_blocks(&r);
    assert_eq!(cids(&blocks), vec![root, sub]);

    // all below a path
    let r = gw.get(&format!("/ipfs/{root}/sub?format=car&dag-scope=all"), &[]);
    let (_, blocks) = car_blocks(&r);
    let mut want = vec![root];
    want.extend(export_order(&gw, &sub));
    assert_eq!(cids(&blocks), want);

    // missing paths and roots: 404 before any CAR byte
    let r = gw.get(&format!("/ipfs/{root}/sub/nope?format=car"), &[]);
    assert_eq!(r.status, 404);
    let r = gw.get(
        "/ipfs/bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi?format=car",
        &[],
    );
    assert_eq!(r.status, 404);
}

#[test]
fn car_entity_bytes() {
    let gw = Gw::start();
    let (root, big, _t) = fixture(&gw);
    let file = resolve(&gw, &format!("/ipfs/{root}/sub/big.bin"));
    let root_block = gw.node.block_get(&file).unwrap();
    let leaves: Vec<Cid> = PbNode::decode(&root_block)
        .unwrap()
        .links
        .iter()
        .map(|l| l.cid)
        .collect();
    assert_eq!(leaves.len(), 12);
    const CHUNK: i64 = 262_144;
    let size = big.len() as i64;
    let path = format!("/ipfs/{file}?format=car&dag-scope=entity&entity-bytes=");
    let check = |range: &str, first: usize, last: usize| {
        let r = gw.get(&format!("{path}{range}"), &[]);
        let (_, blocks) = car_blocks(&r);
        let mut want = vec![file];
        want.extend(&leaves[first..=last]);
        assert_eq!(cids(&blocks), want, "{range}");
    };
    check("0:0", 0, 0);
    check("0:*", 0, 11);
    check(&format!("{}:{}", CHUNK - 1, CHUNK), 0, 1);
    check(&format!("{}:{}", CHUNK, 3 * CHUNK - 1), 1, 2);
    check(&format!("{}:*", 5 * CHUNK + 10), 5, 11);
    check("-1:*", 11, 11);
    check(&format!("-{}:*", size + 9999), 0, 11);
    check(&format!("-9999999:-{}", size - CHUNK + 1), 0, 0);
    check(&format!("10:-{}", size - 2 * CHUNK + 1), 0, 1);
    check(&format!("10:-{}", size - 2 * CHUNK), 0, 2);
    check(&format!("{}:{}", 2 * CHUNK, size + 100_000), 2, 11);
    // entity-bytes alone implies dag-scope=entity
    let r = gw.get(&format!("/ipfs/{file}?format=car&entity-bytes=0:0"), &[]);
    assert_eq!(cids(&car_blocks(&r).1), vec![file, leaves[0]]);
    // on a folder it is ignored (scope entity)
    let sub = resolve(&gw, &format!("/ipfs/{root}/sub"));
    let r = gw.get(
        &format!("/ipfs/{root}/sub?format=car&entity-bytes=0:10"),
        &[],
    );
    assert_eq!(cids(&car_blocks(&r).1), vec![root, sub]);
    // an empty file: its root only
    let empty = resolve(&gw, &format!("/ipfs/{root}/empty"));
    let r = gw.get(&format!("/ipfs/{empty}?format=car&entity-bytes=0:*"), &[]);
    assert_eq!(cids(&car_blocks(&r).1), vec![empty]);
    // outside the file, or malformed: 400
    for bad in [
        format!("{size}:*"),
        format!("{}:{}", size + 1, size + 5),
        "5:1".into(),
        "x:1".into(),
        "1".into(),
        "-1:-5".into(),
    ] {
        let r = gw.get(&format!("{path}{bad}"), &[]);
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }
}

#[test]
fn car_dups() {
    let gw = Gw::start();
    let (root, _, _t) = fixture(&gw);
    let dup1 = resolve(&gw, &format!("/ipfs/{root}/dup1"));
    let dup_blocks = export_order(&gw, &dup1); // 1 root + 3 leaves
    assert_eq!(dup_blocks.len(), 4);

    let n = gw.get(&format!("/ipfs/{root}?format=car"), &[]);
    let (_, nb) = car_blocks(&n);
    let ncids = cids(&nb);
    assert_eq!(
        ncids.iter().collect::<HashSet<_>>().len(),
        ncids.len(),
        "dups=n repeats a block"
    );

    for (path, headers) in [
        (format!("/ipfs/{root}?format=car&car-dups=y"), vec![]),
        (
            format!("/ipfs/{root}"),
            vec![("Accept", "application/vnd.ipld.car; dups=y")],
        ),
        (
            format!("/ipfs/{root}?format=car"),
            vec![(
                "Accept",
                "application/vnd.ipld.car; version=1; order=dfs; dups=y",
            )],
        ),
    ] {
        let r = gw.get(&path, &headers);
        assert_eq!(
            r.header("content-type"),
            Some("application/vnd.ipld.car; version=1; order=dfs; dups=y")
        );
        let (_, yb) = car_blocks(&r);
        let ycids = cids(&yb);
        // dup1 and dup2 are the same DAG: its 4 blocks come twice
        for c in &dup_blocks {
            assert_eq!(ycids.iter().filter(|x| *x == c).count(), 2, "{c}");
        }
        assert_eq!(ycids.len(), ncids.len() + 4);
    }
    // ?car-dups wins over Accept
    let r = gw.get(
        &format!("/ipfs/{root}?format=car&car-dups=n"),
        &[("Accept", "application/vnd.ipld.car; dups=y")],
    );
    assert_eq!(r.header("content-type"), Some(CAR_N));
    // order=unk is honoured (any order will do) and announced
    let r = gw.get(
        &format!("/ipfs/{root}"),
        &[("Accept", "application/vnd.ipld.car; order=unk")],
    );
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.ipld.car; version=1; order=unk; dups=n")
    );
}

#[test]
fn hamt_car_entity() {
    let gw = Gw::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("big");
    std::fs::create_dir(&dir).unwrap();
    for i in 0..5000 {
        std::fs::write(
            dir.join(format!("{i:05}-{}", "h".repeat(54))),
            format!("{i}"),
        )
        .unwrap();
    }
    let root = gw.add_dir(&dir);
    let r = gw.get(&format!("/ipfs/{root}?format=car&dag-scope=entity"), &[]);
    let (_, blocks) = car_blocks(&r);
    assert!(blocks.len() > 1, "a HAMT of 5000 long names has sub-shards");
    for (cid, data) in &blocks {
        assert_eq!(cid.codec(), codecs::DAG_PB);
        let pb = PbNode::decode(data).unwrap();
        let ufs = ferrite_unixfs::pb::UnixFsData::decode(pb.data.as_deref().unwrap()).unwrap();
        assert_eq!(
            ufs.kind,
            ferrite_unixfs::pb::DataType::HamtShard,
            "{cid} is not a shard"
        );
    }
    // a file through the shard: the path's shards, then the file
    let name = format!("04321-{}", "h".repeat(54));
    let file = resolve(&gw, &format!("/ipfs/{root}/{name}"));
    let r = gw.get(
        &format!("/ipfs/{root}/{name}?format=car&dag-scope=block"),
        &[],
    );
    let (_, blocks) = car_blocks(&r);
    let c = cids(&blocks);
    assert_eq!(c[0], root);
    assert_eq!(*c.last().unwrap(), file);
    assert!(c.len() >= 2);
}

#[test]
fn negotiation_errors() {
    let gw = Gw::start();
    let (root, _, _t) = fixture(&gw);
    let p = format!("/ipfs/{root}");
    let status = |path: &str, h: &[(&str, &str)]| gw.get(path, h).status;
    // unsupported response types and CAR variants: 406
    assert_eq!(
        status(&p, &[("Accept", "application/vnd.ipld.car; version=2")]),
        406
    );
    assert_eq!(
        status(&p, &[("Accept", "application/vnd.ipld.car; order=foo")]),
        406
    );
    assert_eq!(
        status(&p, &[("Accept", "application/vnd.ipld.car; dups=maybe")]),
        406
    );
    assert_eq!(status(&p, &[("Accept", "application/vnd.ipld.foo")]), 406);
    // a later acceptable alternative is used
    let r = gw.get(
        &p,
        &[("Accept", "application/vnd.ipld.car; order=foo, application/vnd.ipld.car; order=dfs; dups=y; q=0.5")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.ipld.car; version=1; order=dfs; dups=y")
    );
    // q decides
    let r = gw.get(
        &p,
        &[(
            "Accept",
            "application/vnd.ipld.car; q=0.2, application/vnd.ipld.raw",
        )],
    );
    assert_eq!(r.header("content-type"), Some("application/vnd.ipld.raw"));
    // a concrete type wins over a wildcard of the same q
    let r = gw.get(&p, &[("Accept", "*/*, application/vnd.ipld.raw")]);
    assert_eq!(r.header("content-type"), Some("application/vnd.ipld.raw"));
    // ?format wins over Accept
    let r = gw.get(
        &format!("{p}?format=raw"),
        &[("Accept", "application/vnd.ipld.car")],
    );
    assert_eq!(r.header("content-type"), Some("application/vnd.ipld.raw"));
    // codec mismatch: 406 (no conversion)
    assert_eq!(status(&format!("{p}?format=dag-json"), &[]), 406);
    assert_eq!(status(&format!("{p}?format=dag-cbor"), &[]), 406);
    assert_eq!(
        status(&p, &[("Accept", "application/vnd.ipld.dag-json")]),
        406
    );
    // generic JSON clients still get UnixFS content
    let hello = format!("{p}/sub/hello.txt");
    let r = gw.get(&hello, &[("Accept", "application/json, text/plain, */*")]);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"hello world\n"[..]));
    // bad parameters: 400
    for q in [
        "format=foo",
        "format=car&dag-scope=bogus",
        "format=car&car-dups=maybe",
        "format=car&car-version=2",
        "format=car&car-order=bfs",
        "format=car&entity-bytes=abc",
        "format=ipns-record",
    ] {
        assert_eq!(status(&format!("{p}?{q}"), &[]), 400, "{q}");
    }
    // browsers' Accept: the deserialized response
    let r = gw.get(
        &format!("{p}/"),
        &[(
            "Accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        )],
    );
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
}

#[test]
fn identity_probe() {
    let gw = Gw::start();
    let r = gw.get("/ipfs/bafkqaaa?format=raw", &[]);
    assert_eq!((r.status, r.body.len()), (200, 0));
    let r = gw.get("/ipfs/bafkqaaa", &[("Accept", "application/vnd.ipld.car")]);
    let (roots, blocks) = car_blocks(&r);
    assert_eq!(roots[0].to_string(), "bafkqaaa");
    assert!(blocks.is_empty(), "identity blocks are never sent");
    let r = gw.get("/ipfs/bafkqaaa", &[]);
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert_eq!(gw.head("/ipfs/bafkqaaa?format=raw", &[]).status, 200);
}

#[test]
fn tar_and_codecs() {
    let gw = Gw::start();
    let (root, _, _t) = fixture(&gw);
    let r = gw.get(&format!("/ipfs/{root}/sub?format=tar"), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/x-tar"));
    assert_eq!(r.header("etag").map(|e| e.starts_with("W/\"")), Some(true));
    assert_eq!(r.body.len() % 512, 0);
    assert!(r.body.len() > 3 << 20);
    assert!(r.body.windows(9).any(|w| w == b"hello.txt"));

    // a dag-cbor document
    let doc = format!("{{\"name\":\"x\",\"link\":{{\"/\":\"{root}\"}}}}");
    let cbor = gw
        .node
        .dag_put(
            doc.as_bytes(),
            &ferrite_ipld::dag::PutOptions::default(),
            true,
        )
        .unwrap();
    let block = gw.node.block_get(&cbor).unwrap();
    let r = gw.get(&format!("/ipfs/{cbor}"), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.ipld.dag-cbor")
    );
    assert_eq!(
        r.header("etag"),
        Some(format!("\"{cbor}.dag-cbor\"").as_str())
    );
    assert_eq!(r.body, block);
    let r = gw.get(&format!("/ipfs/{cbor}?format=dag-cbor"), &[]);
    assert_eq!(r.body, block);
    assert_eq!(
        gw.get(&format!("/ipfs/{cbor}?format=dag-json"), &[]).status,
        406
    );
    assert_eq!(gw.get(&format!("/ipfs/{cbor}?format=tar"), &[]).status, 406);
    // its CAR (all) follows the link into the folder
    let r = gw.get(&format!("/ipfs/{cbor}?format=car"), &[]);
    let (_, blocks) = car_blocks(&r);
    let mut want = vec![cbor];
    want.extend(export_order(&gw, &root));
    assert_eq!(cids(&blocks), want);
    let r = gw.get(&format!("/ipfs/{cbor}?format=car&dag-scope=entity"), &[]);
    assert_eq!(cids(&car_blocks(&r).1), vec![cbor]);

    // paths through its link into UnixFS
    let r = gw.get(&format!("/ipfs/{cbor}/link/sub/hello.txt"), &[]);
    assert_eq!((r.status, r.text().as_str()), (200, "hello world\n"));
    let sub = resolve(&gw, &format!("/ipfs/{root}/sub"));
    let hello = resolve(&gw, &format!("/ipfs/{root}/sub/hello.txt"));
    let r = gw.get(
        &format!("/ipfs/{cbor}/link/sub/hello.txt?format=car&dag-scope=block"),
        &[],
    );
    let (roots, blocks) = car_blocks(&r);
    assert_eq!(roots, vec![cbor]);
    assert_eq!(cids(&blocks), vec![cbor, root, sub, hello]);
    // a path ending inside the document is not served (501)
    assert_eq!(gw.get(&format!("/ipfs/{cbor}/name"), &[]).status, 501);
    assert_eq!(gw.get(&format!("/ipfs/{cbor}/nope"), &[]).status, 404);
}

/// Reads a raw response until the server closes the connection.
fn read_to_close(s: &mut std::net::TcpStream) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

#[test]
fn missing_child_blocks() {
    let gw = Gw::start();
    let big = random_bytes(3 << 20, 21);
    let small = random_bytes(600_000, 22);
    let big_cid = gw.add_bytes(&big);
    let small_cid = gw.add_bytes(&small);
    // drop the last leaf of each file (leaves are not pinned themselves)
    for cid in [big_cid, small_cid] {
        let root = gw.node.block_get(&cid).unwrap();
        let last = PbNode::decode(&root).unwrap().links.last().unwrap().cid;
        let rm = gw.node.block_rm(&[last], false).unwrap();
        assert!(rm[0].error.is_none(), "{:?}", rm[0].error);
    }
    // a small file is read before the headers: a plain 404
    let r = gw.get(&format!("/ipfs/{small_cid}"), &[]);
    assert_eq!(r.status, 404, "{}", r.text());
    // a streamed file: 200 with its length, then the connection ends early
    let mut s = gw.raw(&format!(
        "GET /ipfs/{big_cid} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    ));
    let head = Gw::raw_head(&mut s);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.contains(&format!("content-length: {}", 3 << 20)),
        "{head}"
    );
    let body = read_to_close(&mut s);
    assert!(
        body.len() < 3 << 20 && body.len() >= 2 << 20,
        "{}",
        body.len()
    );
    assert_eq!(&body[..], &big[..body.len()]);
    // a CAR: 200, the blocks up to the gap, and the error as a trailer for
    // clients that accept trailers
    let mut s = gw.raw(&format!(
        "GET /ipfs/{big_cid}?format=car HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n\r\n"
    ));
    let head = Gw::raw_head(&mut s);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let rest = String::from_utf8_lossy(&read_to_close(&mut s)).to_ascii_lowercase();
    assert!(
        rest.contains("x-stream-error:"),
        "no X-Stream-Error trailer"
    );
    assert!(
        rest.contains("not found"),
        "trailer does not say what is missing"
    );
    // the root itself is still there for a block request
    let r = gw.get(&format!("/ipfs/{big_cid}?format=raw"), &[]);
    assert_eq!(r.status, 200);
}

/// A GET as curl or a browser sends it: no `TE: trailers`.
fn get_raw(gw: &Gw, path: &str, extra: &str) -> Raw {
    read_raw(gw.raw(&format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n"
    )))
}

#[test]
fn a_stream_that_cannot_complete_is_aborted() {
    let gw = Gw::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    std::fs::create_dir(&dir).unwrap();
    let big = random_bytes(3 << 20, 31);
    std::fs::write(dir.join("a.txt"), b"first\n").unwrap();
    std::fs::write(dir.join("big.bin"), &big).unwrap();
    let root = gw.add_dir(&dir);
    let file = gw.add_bytes(&big);
    // a leaf in the middle of the file: the answers start, then hit the gap
    let links = PbNode::decode(&gw.node.block_get(&file).unwrap())
        .unwrap()
        .links;
    let gap = links[links.len() / 2].cid;
    let rm = gw.node.block_rm(&[gap], false).unwrap();
    assert!(rm[0].error.is_none(), "{:?}", rm[0].error);

    for path in [
        format!("/ipfs/{root}?format=tar"),
        format!("/ipfs/{file}?format=car"),
        format!("/ipfs/{root}/big.bin?format=car&dag-scope=entity"),
        format!("/ipfs/{file}"),
        format!("/ipfs/{root}/big.bin"),
    ] {
        let r = get_raw(&gw, &path, "");
        assert_eq!(r.status(), 200, "{path}: {}", r.head);
        assert!(!r.complete, "{path}: the truncated answer ended cleanly");
        assert!(r.body.len() < big.len(), "{path}: {}", r.body.len());
    }
    // the bytes before the gap arrive (hyper flushes before the abort; all
    // of them unless the client lags, so only most are required)
    let r = get_raw(&gw, &format!("/ipfs/{file}"), "");
    assert!(r.body.len() >= 1 << 20, "{}", r.body.len());
    assert_eq!(&r.body[..], &big[..r.body.len()]);

    // a client that reads trailers gets the cause and a clean end
    let r = get_raw(&gw, &format!("/ipfs/{root}?format=tar"), "TE: trailers\r\n");
    assert!(r.complete, "{r:?}");
    assert!(
        r.trailers.to_ascii_lowercase().contains("x-stream-error:")
            && r.trailers.contains(&gap.to_string()),
        "{}",
        r.trailers
    );
    // but not on an answer with a Content-Length, which cannot carry it
    let r = get_raw(&gw, &format!("/ipfs/{file}"), "TE: trailers\r\n");
    assert!(!r.complete && r.trailers.is_empty(), "{}", r.head);
}
