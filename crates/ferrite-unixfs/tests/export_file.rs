//! FileReader over every file layout: raw and dag-pb leaves, balanced and
//! trickle trees, inline data on inner nodes, identity CIDs, ranges, seeks
//! and malformed input.

mod export_support;

use bytes::Bytes;
use export_support::{data, Child, Dag};
use ferrite_ipld::dagpb::{PbLink, PbNode};
use ferrite_ipld::{codecs, Cid, HashAlg};
use ferrite_unixfs::export::{stat, EntryKind, ExportError, FileReader};
use ferrite_unixfs::pb::{DataType, UnixFsData};
use std::io::{Read, Seek, SeekFrom};

fn read_all(dag: &Dag, cid: &Cid) -> Vec<u8> {
    let mut out = Vec::new();
    FileReader::new(&dag.blocks, cid)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn read_range(dag: &Dag, cid: &Cid, off: u64, len: Option<u64>) -> Vec<u8> {
    let mut r = FileReader::with_range(&dag.blocks, cid, off, len).unwrap();
    let mut out = Vec::new();
    while let Some(c) = r.next_chunk().unwrap() {
        out.extend_from_slice(&c);
    }
    assert_eq!(r.remaining(), 0);
    out
}

/// Every (offset, length) pair, including past-the-end ones.
fn check_all_ranges(dag: &Dag, cid: &Cid, want: &[u8]) {
    let n = want.len() as u64;
    for off in 0..=n + 2 {
        for len in [None, Some(0), Some(1), Some(2), Some(5), Some(n)] {
            let s = (off.min(n)) as usize;
            let e = len.map_or(n, |l| (off + l).min(n)) as usize;
            let e = e.max(s);
            assert_eq!(
                read_range(dag, cid, off, len),
                &want[s..e],
                "offset {off} length {len:?}"
            );
        }
    }
}

#[test]
fn single_raw_block() {
    let mut dag = Dag::v1_raw();
    let c = dag.raw(b"hello world");
    assert_eq!(read_all(&dag, &c.cid), b"hello world");
    let r = FileReader::new(&dag.blocks, &c.cid).unwrap();
    assert_eq!(r.size(), 11);
    check_all_ranges(&dag, &c.cid, b"hello world");
}

#[test]
fn single_dag_pb_leaf_matches_kubo_cid() {
    let mut dag = Dag::new();
    let c = dag.leaf(b"hello world\n");
    assert_eq!(
        c.cid.to_string(),
        "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
    );
    assert_eq!(read_all(&dag, &c.cid), b"hello world\n");
}

#[test]
fn empty_file() {
    let mut dag = Dag::new();
    let c = dag.balanced(b"", 4, 4);
    assert_eq!(
        c.cid.to_string(),
        "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
    );
    assert_eq!(read_all(&dag, &c.cid), b"");
    assert_eq!(stat(&dag.blocks, &c.cid).unwrap().size, 0);
    check_all_ranges(&dag, &c.cid, b"");
}

#[test]
fn balanced_three_levels_dag_pb_leaves_cidv0() {
    let mut dag = Dag::new();
    let want = data(7 * 4 * 4 * 3 + 5, 1); // 3 levels with width 4, ragged end
    let c = dag.balanced(&want, 7, 4);
    assert_eq!(c.cid.version(), ferrite_ipld::cid::Version::V0);
    assert_eq!(read_all(&dag, &c.cid), want);
    check_all_ranges(&dag, &c.cid, &want);
    let s = stat(&dag.blocks, &c.cid).unwrap();
    assert_eq!(s.kind, EntryKind::File);
    assert_eq!(s.size, want.len() as u64);
    assert_eq!(s.cumulative_size, c.tsize);
}

#[test]
fn balanced_raw_leaves_cidv1() {
    let mut dag = Dag::v1_raw();
    let want = data(1000, 2);
    let c = dag.balanced(&want, 10, 8);
    assert_eq!(c.cid.codec(), codecs::DAG_PB);
    assert_eq!(read_all(&dag, &c.cid), want);
    check_all_ranges(&dag, &c.cid, &want);
}

#[test]
fn trickle_with_unixfs_raw_leaves() {
    let mut dag = Dag::new();
    let want = data(3000, 3);
    let c = dag.trickle(&want, 11, 4, 2);
    // make sure the shape really is trickle: leaves and subtrees side by side
    let root = PbNode::decode(&dag.blocks[&c.cid]).unwrap();
    assert!(root.links.len() > 4);
    assert_eq!(read_all(&dag, &c.cid), want);
    check_all_ranges(&dag, &c.cid, &want);
}

#[test]
fn trickle_with_raw_leaves() {
    let mut dag = Dag::v1_raw();
    let want = data(777, 4);
    let c = dag.trickle(&want, 5, 3, 3);
    assert_eq!(read_all(&dag, &c.cid), want);
    check_all_ranges(&dag, &c.cid, &want);
}

#[test]
fn inline_data_on_inner_nodes_comes_first() {
    let mut dag = Dag::new();
    let a = dag.leaf(b"-leafA-");
    let inner = dag.file_node(Some(b"[inner]"), &[a], DataType::File);
    let b = dag.raw(b"-rawB-");
    let root = dag.file_node(Some(b"<root>"), &[inner, b], DataType::File);
    let want = b"<root>[inner]-leafA--rawB-";
    assert_eq!(read_all(&dag, &root.cid), want);
    check_all_ranges(&dag, &root.cid, want);
}

#[test]
fn identity_cids_are_read_from_the_cid() {
    let mut dag = Dag::v1_raw();
    dag.inline_limit = 40;
    let small = dag.raw(b"tiny");
    assert_eq!(small.cid.hash().code(), 0);
    let big = dag.raw(&data(100, 5));
    let root = dag.file_node(None, &[small, big], DataType::File);
    let mut want = b"tiny".to_vec();
    want.extend(data(100, 5));
    assert!(!dag.blocks.contains_key(&small.cid));
    assert_eq!(read_all(&dag, &root.cid), want);

    // an identity dag-pb root with an empty source
    let mut d2 = Dag::new();
    d2.inline_limit = 64;
    d2.v1 = true;
    let leaf = d2.pb_leaf(b"inline!", DataType::File);
    assert_eq!(leaf.cid.hash().code(), 0);
    let empty = std::collections::HashMap::<Cid, Bytes>::new();
    let mut out = String::new();
    FileReader::new(&empty, &leaf.cid)
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, "inline!");
}

#[test]
fn read_with_odd_buffer_sizes_and_seek() {
    let mut dag = Dag::new();
    let want = data(5000, 6);
    let c = dag.balanced(&want, 64, 5);
    for bufsize in [1usize, 3, 63, 64, 65, 1000, 10_000] {
        let mut r = FileReader::new(&dag.blocks, &c.cid).unwrap();
        let mut out = Vec::new();
        let mut buf = vec![0; bufsize];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(out, want, "buffer size {bufsize}");
    }
    let mut r = FileReader::new(&dag.blocks, &c.cid).unwrap();
    let mut buf = [0u8; 100];
    for pos in [4000u64, 10, 4999, 0, 64, 320, 321] {
        r.seek(SeekFrom::Start(pos)).unwrap();
        let n = r.read(&mut buf).unwrap();
        let end = (pos as usize + 100).min(want.len());
        assert_eq!(&buf[..n], &want[pos as usize..end], "seek to {pos}");
    }
    assert_eq!(r.seek(SeekFrom::End(-10)).unwrap(), 4990);
    assert_eq!(r.seek(SeekFrom::Current(5)).unwrap(), 4995);
    assert_eq!(r.read(&mut buf).unwrap(), 5);
    assert!(r.seek(SeekFrom::Current(-10_000)).is_err());
    r.seek(SeekFrom::Start(9999)).unwrap();
    assert_eq!(r.read(&mut buf).unwrap(), 0);
}

#[test]
fn chunks_are_slices_of_blocks() {
    let mut dag = Dag::v1_raw();
    let want = data(4096, 7);
    let c = dag.balanced(&want, 1024, 4);
    let mut r = FileReader::new(&dag.blocks, &c.cid).unwrap();
    let mut n = 0;
    while let Some(chunk) = r.next_chunk().unwrap() {
        assert_eq!(chunk.len(), 1024);
        let owner = dag.blocks.values().any(|b| b.as_ptr() == chunk.as_ptr());
        assert!(owner, "chunk was copied");
        n += 1;
    }
    assert_eq!(n, 4);
}

#[test]
fn missing_block_names_the_cid_and_is_retried() {
    let mut dag = Dag::new();
    let want = data(300, 8);
    let c = dag.balanced(&want, 100, 4);
    let root = PbNode::decode(&dag.blocks[&c.cid]).unwrap();
    let second = root.links[1].cid;
    let removed = dag.blocks.remove(&second).unwrap();

    let src = std::cell::RefCell::new(dag.blocks.clone());
    struct Shared<'a>(&'a std::cell::RefCell<std::collections::HashMap<Cid, Bytes>>);
    impl ferrite_unixfs::BlockSource for Shared<'_> {
        fn get(&self, cid: &Cid) -> std::io::Result<Option<Bytes>> {
            Ok(self.0.borrow().get(cid).cloned())
        }
    }
    let mut r = FileReader::new(Shared(&src), &c.cid).unwrap();
    let first = r.next_chunk().unwrap().unwrap();
    assert_eq!(&first[..], &want[..100]);
    match r.next_chunk() {
        Err(ExportError::NotFound(cid)) => assert_eq!(cid, second),
        other => panic!("{other:?}"),
    }
    // via Read the error keeps its kind and message
    let err = FileReader::with_range(Shared(&src), &c.cid, 150, None)
        .map(|_| ())
        .unwrap_err();
    assert!(err.to_string().contains(&second.to_string()), "{err}");
    // once the block shows up, the same reader carries on where it stopped
    src.borrow_mut().insert(second, removed);
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, &want[100..]);
}

fn put(dag: &mut Dag, node: PbNode) -> Cid {
    dag.put_pb(&node).cid
}

fn file_data(sizes: &[u64], filesize: u64, inline: Option<&[u8]>) -> Vec<u8> {
    let mut d = UnixFsData::new(DataType::File);
    d.blocksizes = sizes.to_vec();
    d.filesize = Some(filesize);
    d.data = inline.map(|b| b.to_vec());
    d.encode()
}

#[test]
fn malformed_files_are_errors() {
    let mut dag = Dag::v1_raw();
    let leaf = dag.raw(b"12345");

    // blocksizes that lie about the child
    let lying = put(
        &mut dag,
        PbNode {
            links: vec![PbLink::new(leaf.cid, "", 5)],
            data: Some(file_data(&[6], 6, None)),
        },
    );
    let err = FileReader::new(&dag.blocks, &lying).unwrap_err();
    assert!(matches!(err, ExportError::Malformed { .. }), "{err}");

    // links and blocksizes of different lengths
    let mismatch = put(
        &mut dag,
        PbNode {
            links: vec![PbLink::new(leaf.cid, "", 5), PbLink::new(leaf.cid, "", 5)],
            data: Some(file_data(&[5], 10, None)),
        },
    );
    assert!(matches!(
        FileReader::new(&dag.blocks, &mismatch),
        Err(ExportError::Malformed { .. })
    ));
    assert!(matches!(
        stat(&dag.blocks, &mismatch),
        Err(ExportError::Malformed { .. })
    ));

    // a directory inside a file
    let dir = dag.dir(&[]);
    let bad_child = put(
        &mut dag,
        PbNode {
            links: vec![PbLink::new(dir.cid, "", 4)],
            data: Some(file_data(&[0], 0, None)),
        },
    );
    let bad_child2 = put(
        &mut dag,
        PbNode {
            links: vec![PbLink::new(bad_child, "", 4), PbLink::new(dir.cid, "", 4)],
            data: Some(file_data(&[0, 3], 3, None)),
        },
    );
    let mut out = Vec::new();
    let err = FileReader::new(&dag.blocks, &bad_child2)
        .and_then(|mut r| r.copy_to(&mut out, |_| {}))
        .unwrap_err();
    assert!(matches!(err, ExportError::Malformed { .. }), "{err}");
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::ErrorKind::InvalidData
    );

    // garbage blocks under a dag-pb CID
    for junk in [
        &[0xffu8][..],
        &[0x0a, 0x05, 0x08],
        &[0x0a, 0x02, 0x08, 0x63],
    ] {
        let cid = dag.store(codecs::DAG_PB, junk.to_vec());
        assert!(FileReader::new(&dag.blocks, &cid).is_err());
        let _ = stat(&dag.blocks, &cid);
    }
}

#[test]
fn non_files_are_refused_with_kubo_errors() {
    let mut dag = Dag::new();
    let dir = dag.dir(&[]);
    let err = FileReader::new(&dag.blocks, &dir.cid).err().unwrap();
    assert_eq!(err.to_string(), "this dag node is a directory");
    let link = dag.symlink("target");
    assert!(matches!(
        FileReader::new(&dag.blocks, &link.cid),
        Err(ExportError::IsSymlink(_))
    ));
    let cbor = dag.store(codecs::DAG_CBOR, vec![0xa0]);
    assert!(matches!(
        FileReader::new(&dag.blocks, &cbor),
        Err(ExportError::NotUnixFs { .. })
    ));
    let no_data = put(&mut dag, PbNode::default());
    assert!(matches!(
        FileReader::new(&dag.blocks, &no_data),
        Err(ExportError::NotUnixFs { .. })
    ));
    let missing = Cid::new_v1(codecs::RAW, HashAlg::Sha2_256.digest(b"nowhere"));
    match FileReader::new(&dag.blocks, &missing) {
        Err(ExportError::NotFound(c)) => assert_eq!(c, missing),
        _ => panic!(),
    }
}

#[test]
fn endless_nesting_is_cut_off() {
    let mut dag = Dag::v1_raw();
    let mut c: Child = dag.raw(b"x");
    for _ in 0..1500 {
        c = dag.file_node(None, &[c], DataType::File);
    }
    let mut out = Vec::new();
    let err = FileReader::new(&dag.blocks, &c.cid)
        .and_then(|mut r| r.copy_to(&mut out, |_| {}))
        .unwrap_err();
    assert!(matches!(err, ExportError::TooDeep(_)), "{err}");
}

#[test]
fn metadata_wrapper_is_read_through() {
    let mut dag = Dag::new();
    let want = data(50, 9);
    let f = dag.balanced(&want, 20, 2);
    let mut d = UnixFsData::new(DataType::Metadata);
    d.data = Some(b"mime".to_vec());
    let meta = put(
        &mut dag,
        PbNode {
            links: vec![PbLink::new(f.cid, "", f.tsize)],
            data: Some(d.encode()),
        },
    );
    assert_eq!(read_all(&dag, &meta), want);
    assert_eq!(stat(&dag.blocks, &meta).unwrap().size, 50);
}

#[test]
fn copy_to_reports_progress() {
    let mut dag = Dag::new();
    let want = data(10_000, 10);
    let c = dag.balanced(&want, 1000, 3);
    let mut r = FileReader::with_range(&dag.blocks, &c.cid, 1500, Some(6000)).unwrap();
    let mut out = Vec::new();
    let mut seen = 0;
    let n = r.copy_to(&mut out, |k| seen += k).unwrap();
    assert_eq!((n, seen), (6000, 6000));
    assert_eq!(out, &want[1500..7500]);
}

/// `cargo test --release -p ferrite-unixfs --test export_file -- --ignored`
#[test]
#[ignore = "throughput check; meaningful only with --release"]
fn throughput_at_least_1_gb_per_s() {
    for (name, mut dag) in [("raw leaves", Dag::v1_raw()), ("dag-pb leaves", Dag::new())] {
        let want = data(256 << 20, 11);
        let c = dag.balanced(&want, 256 * 1024, 174);
        drop(want);
        for (how, mut buf) in [
            ("next_chunk", Vec::new()),
            ("read 1 MiB", vec![0u8; 1 << 20]),
        ] {
            let t = std::time::Instant::now();
            let mut r = FileReader::new(&dag.blocks, &c.cid).unwrap();
            let mut total = 0usize;
            if buf.is_empty() {
                while let Some(chunk) = r.next_chunk().unwrap() {
                    total += std::hint::black_box(chunk).len();
                }
            } else {
                loop {
                    let n = r.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    total += std::hint::black_box(&buf[..n]).len();
                }
            }
            let rate = total as f64 / t.elapsed().as_secs_f64() / 1e9;
            println!("{name}, {how}: {rate:.2} GB/s");
            assert_eq!(total, 256 << 20);
            assert!(rate >= 1.0, "{name}, {how}: {rate:.2} GB/s");
        }
    }
}
