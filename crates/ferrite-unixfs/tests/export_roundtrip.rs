//! Import → export round trips: whatever the importer makes (every layout
//! and leaf option, plain and HAMT folders) reads back unchanged.

mod export_support;

use bytes::Bytes;
use export_support::data;
use ferrite_ipld::Cid;
use ferrite_unixfs::chunker::ChunkerSpec;
use ferrite_unixfs::export::{ls, resolve, stat, write_tar, write_to_path, EntryKind, FileReader};
use ferrite_unixfs::import::{import_file, import_path, AddOptions, ImportOptions};
use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::Path;

fn import(bytes: &[u8], opts: &ImportOptions) -> (Cid, HashMap<Cid, Bytes>) {
    let mut blocks = HashMap::new();
    let imported = import_file(bytes, opts, &mut blocks, &mut |_| {}).unwrap();
    (imported.cid, blocks)
}

fn read(blocks: &HashMap<Cid, Bytes>, cid: &Cid, off: u64, len: Option<u64>) -> Vec<u8> {
    let mut out = Vec::new();
    FileReader::with_range(blocks, cid, off, len)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn files_of_every_layout_read_back() {
    let input = data(300_000, 42);
    let small = |n| ChunkerSpec::Size(n);
    let cases: Vec<(&str, ImportOptions)> = vec![
        ("default", ImportOptions::default()),
        (
            "small chunks, 3 levels",
            ImportOptions {
                chunker: small(1000),
                max_links: 7,
                ..Default::default()
            },
        ),
        (
            "cidv1 raw leaves",
            ImportOptions {
                cid_version: Some(1),
                chunker: small(4096),
                ..Default::default()
            },
        ),
        (
            "trickle",
            ImportOptions {
                trickle: true,
                chunker: small(1000),
                ..Default::default()
            },
        ),
        (
            "trickle raw leaves",
            ImportOptions {
                trickle: true,
                raw_leaves: Some(true),
                chunker: small(777),
                max_links: 5,
                ..Default::default()
            },
        ),
        (
            "rabin",
            ImportOptions {
                chunker: ChunkerSpec::parse("rabin-512-1024-2048").unwrap(),
                ..Default::default()
            },
        ),
        ("v1 2025", ImportOptions::unixfs_v1_2025()),
    ];
    for (name, opts) in cases {
        let (cid, blocks) = import(&input, &opts);
        assert_eq!(read(&blocks, &cid, 0, None), input, "{name}");
        for (off, len) in [
            (0, Some(1)),
            (999, Some(3)),
            (150_001, Some(60_000)),
            (299_999, None),
        ] {
            let s = off as usize;
            let e = len.map_or(input.len(), |l| s + l as usize);
            assert_eq!(read(&blocks, &cid, off, len), &input[s..e], "{name} @{off}");
        }
        let st = stat(&blocks, &cid).unwrap();
        assert!(st.kind.is_file(), "{name}");
        assert_eq!(st.size, input.len() as u64, "{name}");
    }
}

#[test]
fn tiny_and_inline_files() {
    for bytes in [&b""[..], b"x", b"hello world\n"] {
        for opts in [
            ImportOptions::default(),
            ImportOptions {
                inline: true,
                ..Default::default()
            },
            ImportOptions {
                trickle: true,
                ..Default::default()
            },
        ] {
            let (cid, blocks) = import(bytes, &opts);
            assert_eq!(read(&blocks, &cid, 0, None), bytes);
        }
    }
}

fn make_tree(root: &Path) {
    fs::create_dir_all(root.join("sub/deeper")).unwrap();
    fs::write(root.join("a.txt"), b"alpha\n").unwrap();
    fs::write(root.join("sub/big.bin"), data(600_000, 7)).unwrap();
    fs::write(root.join("sub/deeper/empty"), b"").unwrap();
    std::os::unix::fs::symlink("../a.txt", root.join("sub/link")).unwrap();
    fs::create_dir(root.join("many")).unwrap();
    for i in 0..400 {
        fs::write(root.join(format!("many/entry-{i:04}.txt")), format!("{i}")).unwrap();
    }
}

fn same_tree(a: &Path, b: &Path) {
    let mut names: Vec<_> = fs::read_dir(a)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    let mut other: Vec<_> = fs::read_dir(b)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    other.sort();
    assert_eq!(names, other, "{}", a.display());
    for n in names {
        let (pa, pb) = (a.join(&n), b.join(&n));
        let ma = fs::symlink_metadata(&pa).unwrap();
        let mb = fs::symlink_metadata(&pb).unwrap();
        assert_eq!(ma.file_type(), mb.file_type(), "{}", pa.display());
        if ma.file_type().is_symlink() {
            assert_eq!(fs::read_link(&pa).unwrap(), fs::read_link(&pb).unwrap());
        } else if ma.is_dir() {
            same_tree(&pa, &pb);
        } else {
            assert_eq!(
                fs::read(&pa).unwrap(),
                fs::read(&pb).unwrap(),
                "{}",
                pa.display()
            );
        }
    }
}

#[test]
fn folders_plain_and_sharded_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("tree");
    make_tree(&src);
    for (name, import) in [
        ("plain", ImportOptions::default()),
        (
            // a low threshold shards `many` (and possibly more) into HAMTs
            "sharded",
            ImportOptions {
                hamt_threshold: 1000,
                cid_version: Some(1),
                ..Default::default()
            },
        ),
    ] {
        let opts = AddOptions {
            import,
            recursive: true,
            ..Default::default()
        };
        let mut blocks = HashMap::new();
        let root = import_path(&src, &opts, &mut blocks, &mut |_| {}).unwrap();
        let many = resolve(&blocks, &root.cid, "many").unwrap();
        let kind = stat(&blocks, &many).unwrap().kind;
        let want_kind = if name == "sharded" {
            EntryKind::HamtDirectory
        } else {
            EntryKind::Directory
        };
        assert_eq!(kind, want_kind);
        let listed = ls(&blocks, &many).unwrap();
        assert_eq!(listed.len(), 400);
        assert_eq!(listed[17].name, "entry-0017.txt");
        let f = resolve(&blocks, &root.cid, "many/entry-0399.txt").unwrap();
        assert_eq!(read(&blocks, &f, 0, None), b"399");

        let out = tmp.path().join(format!("out-{name}"));
        let n = write_to_path(&blocks, &root.cid, &out, |_| {}).unwrap();
        assert!(n > 600_000);
        same_tree(&src, &out);

        let mut tar_bytes = Vec::new();
        write_tar(&blocks, &root.cid, "tree", &mut tar_bytes, |_| {}).unwrap();
        let unpacked = tmp.path().join(format!("tar-{name}"));
        tar::Archive::new(&tar_bytes[..]).unpack(&unpacked).unwrap();
        same_tree(&src, &unpacked.join("tree"));
    }
}
