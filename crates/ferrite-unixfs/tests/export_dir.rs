//! Path resolution, stat and listings over plain and HAMT directories.

mod export_support;

use export_support::{data, Child, Dag};
use ferrite_ipld::dagpb::{PbLink, PbNode};
use ferrite_ipld::{codecs, Cid};
use ferrite_unixfs::export::{
    ls, ls_iter, resolve, stat, DirEntryKind, EntryKind, ExportError, FileReader,
};
use ferrite_unixfs::pb::{DataType, UnixFsData};
use std::io::Read;

fn cat(dag: &Dag, cid: &Cid) -> Vec<u8> {
    let mut out = Vec::new();
    FileReader::new(&dag.blocks, cid)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// A tree: /a.txt, /sub/b.bin (multi-block), /sub/deeper/c, /link -> sub
fn tree(dag: &mut Dag) -> (Child, Child, Child) {
    let a = dag.leaf(b"file a\n");
    let b = dag.balanced(&data(500, 1), 100, 2);
    let c = dag.raw(b"ccc");
    let deeper = dag.dir(&[("c", c)]);
    let sub = dag.dir(&[("b.bin", b), ("deeper", deeper)]);
    let link = dag.symlink("sub");
    let root = dag.dir(&[("a.txt", a), ("link", link), ("sub", sub)]);
    (root, sub, b)
}

#[test]
fn resolve_through_plain_directories() {
    let mut dag = Dag::new();
    let (root, sub, b) = tree(&mut dag);
    assert_eq!(resolve(&dag.blocks, &root.cid, "").unwrap(), root.cid);
    assert_eq!(resolve(&dag.blocks, &root.cid, "/sub/").unwrap(), sub.cid);
    assert_eq!(
        resolve(&dag.blocks, &root.cid, "sub//b.bin").unwrap(),
        b.cid
    );
    let c = resolve(&dag.blocks, &root.cid, "sub/deeper/c").unwrap();
    assert_eq!(cat(&dag, &c), b"ccc");

    let err = resolve(&dag.blocks, &root.cid, "sub/nope").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("no link named \"nope\" under {}", sub.cid)
    );
    // nothing lives under a file, a raw block or a symlink
    for p in ["a.txt/x", "sub/deeper/c/x", "link/b.bin"] {
        assert!(
            matches!(
                resolve(&dag.blocks, &root.cid, p),
                Err(ExportError::NoLink { .. })
            ),
            "{p}"
        );
    }
}

#[test]
fn first_duplicate_wins() {
    let mut dag = Dag::new();
    let one = dag.raw(b"1");
    let two = dag.raw(b"2");
    let d = dag.dir(&[("x", one), ("x", two)]);
    assert_eq!(resolve(&dag.blocks, &d.cid, "x").unwrap(), one.cid);
}

fn many(dag: &mut Dag, n: usize) -> Vec<(String, Child)> {
    (0..n)
        .map(|i| {
            let name = format!("file-{i:05}.txt");
            let c = dag.raw(name.as_bytes());
            (name, c)
        })
        .collect()
}

fn refs(v: &[(String, Child)]) -> Vec<(&str, Child)> {
    v.iter().map(|(n, c)| (n.as_str(), *c)).collect()
}

#[test]
fn hamt_fanout_256_multi_level() {
    let mut dag = Dag::v1_raw();
    let entries = many(&mut dag, 3000);
    let h = dag.hamt(&refs(&entries), 256);
    // with 3000 names in 256 buckets, some buckets must hold sub-shards
    let root = PbNode::decode(&dag.blocks[&h.cid]).unwrap();
    assert!(root
        .links
        .iter()
        .any(|l| l.name.as_deref().unwrap().len() == 2));

    for (name, c) in entries.iter().step_by(7) {
        assert_eq!(resolve(&dag.blocks, &h.cid, name).unwrap(), c.cid, "{name}");
    }
    let err = resolve(&dag.blocks, &h.cid, "file-99999.txt").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("no link named \"file-99999.txt\" under {}", h.cid)
    );

    let listed = ls(&dag.blocks, &h.cid).unwrap();
    assert_eq!(listed.len(), 3000);
    let names: Vec<&str> = listed.iter().map(|e| e.name.as_str()).collect();
    let mut want: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    want.sort();
    assert_eq!(names, want);
    assert!(listed.iter().all(|e| e.kind == DirEntryKind::File));
    assert_eq!(listed[0].file_size, Some(14));

    let s = stat(&dag.blocks, &h.cid).unwrap();
    assert_eq!(s.kind, EntryKind::HamtDirectory);
    assert!(s.kind.is_dir());
    assert_eq!(s.cumulative_size, h.tsize);
}

#[test]
fn hamt_small_fanout_deep_and_nested_paths() {
    let mut dag = Dag::new();
    let entries = many(&mut dag, 200);
    let inner = dag.hamt(&refs(&entries), 4); // 2 bits per level: many levels
    let top_entries = [("inner", inner), ("readme", dag.leaf(b"hi"))];
    let top = dag.hamt(&top_entries, 16);
    let root = dag.dir(&[("top", top)]);
    let path = format!("top/inner/{}", entries[123].0);
    let cid = resolve(&dag.blocks, &root.cid, &path).unwrap();
    assert_eq!(cat(&dag, &cid), entries[123].0.as_bytes());
    assert_eq!(
        resolve(&dag.blocks, &root.cid, "top/readme").unwrap(),
        top_entries[1].1.cid
    );

    // streaming listing: DAG order, everything exactly once
    let mut seen: Vec<String> = ls_iter(&dag.blocks, &inner.cid, false)
        .unwrap()
        .map(|e| e.unwrap().name)
        .collect();
    seen.sort();
    let mut want: Vec<String> = entries.iter().map(|(n, _)| n.clone()).collect();
    want.sort();
    assert_eq!(seen, want);

    let top_ls = ls(&dag.blocks, &top.cid).unwrap();
    assert_eq!(top_ls[0].name, "inner");
    assert_eq!(top_ls[0].kind, DirEntryKind::Directory);
    assert_eq!(top_ls[1].kind, DirEntryKind::File);
    assert_eq!(top_ls[1].file_size, Some(2));
}

#[test]
fn ls_plain_directory_is_sorted_and_resolved() {
    let mut dag = Dag::new();
    let f = dag.balanced(&data(300, 2), 100, 4);
    let r = dag.raw(b"raw!");
    let l = dag.symlink("../elsewhere");
    let d = dag.dir(&[]);
    let root = dag.dir(&[("zeta", f), ("alpha", r), ("Beta", l), ("dir", d)]);
    let listed = ls(&dag.blocks, &root.cid).unwrap();
    let names: Vec<&str> = listed.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["Beta", "alpha", "dir", "zeta"]);
    assert_eq!(listed[0].kind, DirEntryKind::Symlink);
    assert_eq!(listed[0].target.as_deref(), Some("../elsewhere"));
    assert_eq!(listed[1].kind, DirEntryKind::File);
    assert_eq!(listed[1].file_size, Some(4));
    assert_eq!(listed[2].kind, DirEntryKind::Directory);
    assert_eq!(listed[2].file_size, None);
    assert_eq!(listed[3].file_size, Some(300));
    assert_eq!(listed[3].size, f.tsize);

    // unresolved: kinds unknown except raw blocks, and no child is fetched
    let mut only_root = std::collections::HashMap::new();
    only_root.insert(root.cid, dag.blocks[&root.cid].clone());
    let quick: Vec<_> = ls_iter(&only_root, &root.cid, false)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(quick[0].name, "zeta");
    assert_eq!(quick[0].kind, DirEntryKind::Unknown);
    assert_eq!(quick[1].kind, DirEntryKind::File);
    // resolving needs the children: the missing one is reported
    match ls(&only_root, &root.cid) {
        Err(ExportError::NotFound(c)) => assert_eq!(c, f.cid),
        other => panic!("{other:?}"),
    }
}

#[test]
fn ls_of_a_file_lists_its_chunks_like_kubo() {
    let mut dag = Dag::new();
    let f = dag.balanced(&data(300, 3), 100, 4);
    let listed = ls(&dag.blocks, &f.cid).unwrap();
    assert_eq!(listed.len(), 3);
    assert!(listed
        .iter()
        .all(|e| e.name.is_empty() && e.file_size == Some(100)));
    let raw = dag.raw(b"x");
    assert!(ls(&dag.blocks, &raw.cid).unwrap().is_empty());
    let cbor = dag.store(codecs::DAG_CBOR, vec![0xa0]);
    assert!(matches!(
        ls(&dag.blocks, &cbor),
        Err(ExportError::NotUnixFs { .. })
    ));
}

#[test]
fn stat_kinds() {
    let mut dag = Dag::new();
    let (root, _, b) = tree(&mut dag);
    let s = stat(&dag.blocks, &root.cid).unwrap();
    assert_eq!(s.kind, EntryKind::Directory);
    assert_eq!(s.child_blocks, 3);
    assert_eq!(s.cumulative_size, root.tsize);
    assert_eq!(stat(&dag.blocks, &b.cid).unwrap().size, 500);
    let link = resolve(&dag.blocks, &root.cid, "link").unwrap();
    let s = stat(&dag.blocks, &link).unwrap();
    assert_eq!(s.kind, EntryKind::Symlink);
    assert_eq!(s.target.as_deref(), Some("sub"));
    assert_eq!(s.size, 3);
    let raw = dag.raw(b"four");
    let s = stat(&dag.blocks, &raw.cid).unwrap();
    assert_eq!((s.kind, s.size), (EntryKind::Raw, 4));
    assert!(s.kind.is_file());
    let cbor = dag.store(codecs::DAG_CBOR, vec![0xa0]);
    assert_eq!(
        stat(&dag.blocks, &cbor).unwrap().kind,
        EntryKind::Other {
            codec: codecs::DAG_CBOR
        }
    );
    let plain = dag.put_pb(&PbNode::default());
    assert_eq!(
        stat(&dag.blocks, &plain.cid).unwrap().kind,
        EntryKind::Other {
            codec: codecs::DAG_PB
        }
    );
}

#[test]
fn stat_reports_mode_and_mtime() {
    let mut dag = Dag::new();
    let f = dag.file_node_meta(
        Some(b"x"),
        &[],
        DataType::File,
        Some(0o755),
        Some(1_600_000_000),
    );
    let s = stat(&dag.blocks, &f.cid).unwrap();
    assert_eq!(s.mode, Some(0o755));
    assert_eq!(s.mtime.unwrap().secs, 1_600_000_000);
    let d = dag.dir(&[("f", f)]);
    let e = &ls(&dag.blocks, &d.cid).unwrap()[0];
    assert_eq!(e.mode, Some(0o755));
    assert_eq!(e.mtime.unwrap().secs, 1_600_000_000);
}

fn shard_data(fanout: u64, hash: u64) -> Vec<u8> {
    let mut d = UnixFsData::new(DataType::HamtShard);
    d.fanout = Some(fanout);
    d.hash_type = Some(hash);
    d.encode()
}

#[test]
fn malformed_shards_are_errors() {
    let mut dag = Dag::new();
    let f = dag.raw(b"x");
    for (fanout, hash) in [(256, 0x11), (3, 0x22), (0, 0x22), (4096, 0x22)] {
        let s = dag.put_pb(&PbNode {
            links: vec![PbLink::new(f.cid, "00x", 1)],
            data: Some(shard_data(fanout, hash)),
        });
        assert!(matches!(
            resolve(&dag.blocks, &s.cid, "x"),
            Err(ExportError::Malformed { .. })
        ));
        assert!(ls(&dag.blocks, &s.cid).is_err());
    }
    // a link name shorter than the bucket prefix
    let short = dag.put_pb(&PbNode {
        links: vec![PbLink::new(f.cid, "0", 1)],
        data: Some(shard_data(256, 0x22)),
    });
    assert!(matches!(
        ls(&dag.blocks, &short.cid),
        Err(ExportError::Malformed { .. })
    ));
    // a bucket pointing at a non-shard
    let bad = dag.put_pb(&PbNode {
        links: vec![PbLink::new(f.cid, "0A", 1)],
        data: Some(shard_data(256, 0x22)),
    });
    assert!(matches!(
        ls(&dag.blocks, &bad.cid),
        Err(ExportError::Malformed { .. })
    ));
    // a shard that links to itself through identity-free recursion: every
    // bucket is a sub-shard of a sub-shard…; the 64-bit hash runs out
    let mut node = dag.put_pb(&PbNode {
        links: vec![],
        data: Some(shard_data(2, 0x22)),
    });
    for _ in 0..70 {
        node = dag.put_pb(&PbNode {
            links: vec![PbLink::new(node.cid, "0", 1), PbLink::new(node.cid, "1", 1)],
            data: Some(shard_data(2, 0x22)),
        });
    }
    assert!(matches!(
        resolve(&dag.blocks, &node.cid, "anything"),
        Err(ExportError::Malformed { .. })
    ));
    assert!(matches!(
        ls_iter(&dag.blocks, &node.cid, false)
            .unwrap()
            .last()
            .unwrap(),
        Err(ExportError::TooDeep(_))
    ));
}
