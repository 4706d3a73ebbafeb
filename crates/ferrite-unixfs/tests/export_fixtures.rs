//! The exporter against real DAGs made by Kubo (CAR fixtures from boxo and
//! gateway-conformance): HAMT hashing and bucket order, modes and mtimes,
//! symlinks, UTF-8 paths, traversal attempts and a missing block.

mod export_support;

use export_support::load_car;
use ferrite_ipld::dagpb::PbNode;
use ferrite_ipld::parse_cid;
use ferrite_unixfs::export::{
    ls, resolve, stat, write_tar, write_to_path, DirEntryKind, EntryKind, ExportError, FileReader,
};
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;

fn cat<S: ferrite_unixfs::BlockSource>(src: S, cid: &ferrite_ipld::Cid) -> Vec<u8> {
    let mut out = Vec::new();
    FileReader::new(src, cid)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn multilayer_hamt_from_boxo() {
    let (root, blocks) = load_car("directory-with-multilayer-hamt-and-multiblock-files.car");
    let hamt = resolve(&blocks, &root, "hamtDir").unwrap();
    assert_eq!(
        hamt.to_string(),
        "bafybeignui4g7l6cvqyy4t6vnbl2fjtego4ejmpcia77jhhwnksmm4bejm"
    );
    // the fixture's names are chosen to collide in the first level, so the
    // lookups below must follow sub-shards with the right hash bits
    let top = PbNode::decode(&blocks[&hamt]).unwrap();
    assert!(top
        .links
        .iter()
        .any(|l| l.name.as_deref().unwrap().len() == 2));
    let want = [
        (
            "exampleA",
            "bafybeigcisqd7m5nf3qmuvjdbakl5bdnh4ocrmacaqkpuh77qjvggmt2sa",
        ),
        (
            "exampleB",
            "bafybeid3trcauvcp7fxaai23gkz3qexmlfxnnejgwm57hdvre472dafvha",
        ),
        (
            "exampleC-hamt-collide-exampleA-seed-52",
            "bafkreidqhbqn5htm5qejxpb3hps7dookudo3nncfn6al6niqibi5lq6fee",
        ),
        (
            "exampleD-hamt-collide-exampleB-seed-364",
            "bafkreih2grj7p2bo5yk2guqazxfjzapv6hpm3mwrinv6s3cyayd72ke5he",
        ),
    ];
    for (name, cid) in want {
        let got = resolve(&blocks, &root, &format!("hamtDir/{name}")).unwrap();
        assert_eq!(got.to_string(), cid, "{name}");
    }
    let listed = ls(&blocks, &hamt).unwrap();
    let names: Vec<&str> = listed.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, want.map(|w| w.0));
    assert_eq!(stat(&blocks, &hamt).unwrap().kind, EntryKind::HamtDirectory);

    let a = resolve(&blocks, &root, "basicDir/exampleA").unwrap();
    assert_eq!(cat(&blocks, &a).len(), 1026);
    assert!(matches!(
        resolve(&blocks, &root, "hamtDir/exampleE"),
        Err(ExportError::NoLink { .. })
    ));
}

#[test]
fn kubo_hamt_of_1000_files_spec_vector() {
    let (root, blocks) = load_car("single-layer-hamt-with-multi-block-files.car");
    // UnixFS spec vector: "470.txt" sits in bucket 00, then 6E below it
    let top = PbNode::decode(&blocks[&root]).unwrap();
    let sub = top
        .links
        .iter()
        .find(|l| l.name.as_deref() == Some("00"))
        .unwrap()
        .cid;
    let sub_node = PbNode::decode(&blocks[&sub]).unwrap();
    let leaf = sub_node
        .links
        .iter()
        .find(|l| l.name.as_deref() == Some("6E470.txt"))
        .unwrap();
    assert_eq!(resolve(&blocks, &root, "470.txt").unwrap(), leaf.cid);

    let listed = ls(&blocks, &root).unwrap();
    assert_eq!(listed.len(), 1000);
    for e in &listed {
        assert_eq!(
            resolve(&blocks, &root, &e.name).unwrap(),
            e.cid,
            "{}",
            e.name
        );
    }
    let mut want: Vec<String> = (1..=1000).map(|i| format!("{i}.txt")).collect();
    want.sort();
    let names: Vec<&str> = listed.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, want);
    assert!(listed.iter().all(|e| e.kind == DirEntryKind::File));
}

#[test]
fn modes_mtimes_and_symlinks_from_kubo() {
    let (root, blocks) = load_car("unixfs-dir-with-mode-mtime.car");
    let s = stat(&blocks, &root).unwrap();
    assert_eq!(s.mode, Some(0o700));
    assert_eq!(s.mtime.unwrap().secs, 1_655_158_632);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    write_to_path(&blocks, &root, &out, |_| {}).unwrap();
    let m = fs::metadata(out.join("dir3/file2")).unwrap();
    assert_eq!(m.permissions().mode() & 0o777, 0o644);
    let secs = m
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(secs, 1_655_158_692);
    assert_eq!(
        fs::read_link(out.join("dir2/sub1/link1")).unwrap(),
        std::path::Path::new("../sub2/file3")
    );
    assert_eq!(
        fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o700
    );

    let mut tar_bytes = Vec::new();
    write_tar(&blocks, &root, "r", &mut tar_bytes, |_| {}).unwrap();
    let mut a = tar::Archive::new(&tar_bytes[..]);
    let first = a.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(first.header().mode().unwrap(), 0o700);
    assert_eq!(first.header().mtime().unwrap(), 1_655_158_632);
}

#[test]
fn symlink_fixture() {
    let (root, blocks) = load_car("symlink.car");
    let bar = resolve(&blocks, &root, "bar").unwrap();
    let s = stat(&blocks, &bar).unwrap();
    assert_eq!(
        (s.kind, s.target.as_deref()),
        (EntryKind::Symlink, Some("foo"))
    );
    assert!(matches!(
        FileReader::new(&blocks, &bar),
        Err(ExportError::IsSymlink(_))
    ));
    let tmp = tempfile::tempdir().unwrap();
    write_to_path(&blocks, &root, &tmp.path().join("d"), |_| {}).unwrap();
    // the link resolves inside the output, to the sibling file
    assert_eq!(
        fs::read(tmp.path().join("d/bar")).unwrap(),
        fs::read(tmp.path().join("d/foo")).unwrap()
    );
}

#[test]
fn utf8_paths() {
    let (root, blocks) = load_car("utf8-paths.car");
    let f = resolve(&blocks, &root, "ą/ę/file-źł.txt").unwrap();
    assert_eq!(
        f,
        parse_cid("bafkreialihlqnf5uwo4byh4n3cmwlntwqzxxs2fg5vanqdi3d7tb2l5xkm").unwrap()
    );
    assert_eq!(cat(&blocks, &f), b"I am a txt file on path with utf8\n");
    let mut tar_bytes = Vec::new();
    write_tar(&blocks, &root, &root.to_string(), &mut tar_bytes, |_| {}).unwrap();
    let want = format!("{root}/ą/ę/file-źł.txt");
    let mut a = tar::Archive::new(&tar_bytes[..]);
    let mut found = false;
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_str() == Some(want.as_str()) {
            let mut s = String::new();
            e.read_to_string(&mut s).unwrap();
            assert_eq!(s, "I am a txt file on path with utf8\n");
            found = true;
        }
    }
    assert!(found);
}

#[test]
fn traversal_fixtures_are_refused() {
    // Kubo's own "outside root" fixture: an entry named "../foo"
    let (root, blocks) = load_car("outside-root.car");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x/out");
    let err = write_to_path(&blocks, &root, &out, |_| {}).unwrap_err();
    assert!(
        matches!(&err, ExportError::UnsafeName { name, .. } if &**name == "../foo"),
        "{err}"
    );
    assert!(!tmp.path().join("x/foo").exists());
    assert!(matches!(
        write_tar(&blocks, &root, "r", Vec::new(), |_| {}),
        Err(ExportError::UnsafeName { .. })
    ));
    // "foobar/directory/../file" stays inside the root and Kubo accepts it;
    // we refuse every `..` name from a DAG, which is stricter but safe
    let (root, blocks) = load_car("inside-root.car");
    assert!(matches!(
        write_to_path(&blocks, &root, &tmp.path().join("in"), |_| {}),
        Err(ExportError::UnsafeName { .. })
    ));
}

#[test]
fn missing_middle_block() {
    let (root, blocks) = load_car("file-3k-and-3-blocks-missing-block.car");
    let links = PbNode::decode(&blocks[&root]).unwrap().links;
    let missing = links[1].cid;
    assert!(!blocks.contains_key(&missing));
    assert_eq!(stat(&blocks, &root).unwrap().size, 3072);
    let mut r = FileReader::new(&blocks, &root).unwrap();
    assert_eq!(r.next_chunk().unwrap().unwrap().len(), 1024);
    match r.next_chunk() {
        Err(ExportError::NotFound(c)) => assert_eq!(c, missing),
        other => panic!("{other:?}"),
    }
    // ranges that avoid the missing block never ask for it
    let mut tail = Vec::new();
    FileReader::with_range(&blocks, &root, 2048, None)
        .unwrap()
        .read_to_end(&mut tail)
        .unwrap();
    assert_eq!(tail.len(), 1024);
    let mut head = Vec::new();
    FileReader::with_range(&blocks, &root, 0, Some(1024))
        .unwrap()
        .read_to_end(&mut head)
        .unwrap();
    assert_eq!(head.len(), 1024);
}

#[test]
fn multiblock_file_in_dir() {
    let (root, blocks) = load_car("dir-with-files.car");
    let f = resolve(&blocks, &root, "multiblock.txt").unwrap();
    let all = cat(&blocks, &f);
    assert_eq!(all.len(), 1026);
    assert!(all.starts_with(b"Lorem ipsum dolor sit amet"));
    let mut part = Vec::new();
    FileReader::with_range(&blocks, &f, 250, Some(300))
        .unwrap()
        .read_to_end(&mut part)
        .unwrap();
    assert_eq!(part, &all[250..550]);
    let h = resolve(&blocks, &root, "hello.txt").unwrap();
    assert_eq!(cat(&blocks, &h), b"hello world\n");
}
