//! `write_to_path` (ipfs get -o) and `write_tar` (ipfs get -a).

mod export_support;

use export_support::{data, Child, Dag};
use ferrite_unixfs::export::{write_tar, write_to_path, ExportError};
use ferrite_unixfs::pb::DataType;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// /big.bin, /empty, /sub/small.txt, /sub/link -> ../big.bin,
/// /hamt/{file-000..file-299}, /emptydir
fn tree(dag: &mut Dag) -> (Child, Vec<u8>) {
    let big = data(10_000, 1);
    let big_c = dag.balanced(&big, 1000, 3);
    let empty = dag.balanced(b"", 10, 2);
    let small = dag.leaf(b"small\n");
    let link = dag.symlink("../big.bin");
    let sub = dag.dir(&[("link", link), ("small.txt", small)]);
    let names: Vec<String> = (0..300).map(|i| format!("file-{i:03}")).collect();
    let files: Vec<Child> = names.iter().map(|n| dag.raw(n.as_bytes())).collect();
    let entries: Vec<(&str, Child)> = names.iter().map(String::as_str).zip(files).collect();
    let hamt = dag.hamt(&entries, 256);
    let emptydir = dag.dir(&[]);
    let root = dag.dir(&[
        ("big.bin", big_c),
        ("empty", empty),
        ("emptydir", emptydir),
        ("hamt", hamt),
        ("sub", sub),
    ]);
    (root, big)
}

fn check_tree(out: &Path, big: &[u8]) {
    assert_eq!(fs::read(out.join("big.bin")).unwrap(), big);
    assert_eq!(fs::read(out.join("empty")).unwrap(), b"");
    assert_eq!(fs::read(out.join("sub/small.txt")).unwrap(), b"small\n");
    let link = out.join("sub/link");
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read_link(&link).unwrap(), Path::new("../big.bin"));
    assert_eq!(fs::read_dir(out.join("hamt")).unwrap().count(), 300);
    assert_eq!(fs::read(out.join("hamt/file-123")).unwrap(), b"file-123");
    assert!(out.join("emptydir").is_dir());
}

#[test]
fn writes_a_tree_with_hamt_and_symlinks() {
    let mut dag = Dag::new();
    let (root, big) = tree(&mut dag);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("a/b/out");
    let mut progress = 0;
    let n = write_to_path(&dag.blocks, &root.cid, &out, |k| progress += k).unwrap();
    let want = 10_000
        + 6
        + (0..300)
            .map(|i| format!("file-{i:03}").len() as u64)
            .sum::<u64>();
    assert_eq!((n, progress), (want, want));
    check_tree(&out, &big);
    // writing again merges into the existing folder and replaces files
    write_to_path(&dag.blocks, &root.cid, &out, |_| {}).unwrap();
    check_tree(&out, &big);
}

#[test]
fn writes_single_files_and_symlinks() {
    let mut dag = Dag::v1_raw();
    let f = dag.balanced(&data(5000, 2), 512, 4);
    let l = dag.symlink("/etc/passwd");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("file");
    fs::write(&out, b"old contents that are longer than nothing").unwrap();
    write_to_path(&dag.blocks, &f.cid, &out, |_| {}).unwrap();
    assert_eq!(fs::read(&out).unwrap(), data(5000, 2));
    // a symlink in the way is replaced, not followed
    let victim = tmp.path().join("victim");
    fs::write(&victim, b"keep").unwrap();
    let trap = tmp.path().join("trap");
    std::os::unix::fs::symlink(&victim, &trap).unwrap();
    write_to_path(&dag.blocks, &f.cid, &trap, |_| {}).unwrap();
    assert_eq!(fs::read(&victim).unwrap(), b"keep");
    assert!(fs::symlink_metadata(&trap).unwrap().is_file());
    // symlink roots are created as stored (never followed)
    let lpath = tmp.path().join("link");
    write_to_path(&dag.blocks, &l.cid, &lpath, |_| {}).unwrap();
    assert_eq!(fs::read_link(&lpath).unwrap(), Path::new("/etc/passwd"));
}

#[test]
fn unsafe_names_are_refused() {
    for bad in ["..", ".", "", "a/b", "../../escape", "nul\0byte"] {
        let mut dag = Dag::new();
        let f = dag.leaf(b"pwned");
        let ok = dag.leaf(b"fine");
        let inner = dag.dir(&[(bad, f)]);
        let root = dag.dir(&[("ok", ok), ("inner", inner)]);
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("x/y/out");
        let err = write_to_path(&dag.blocks, &root.cid, &out, |_| {}).unwrap_err();
        assert!(
            matches!(&err, ExportError::UnsafeName { name, cid } if &**name == bad && *cid == inner.cid),
            "{bad:?}: {err}"
        );
        let escaped = ["escape", "x/escape", "x/y/b", "x/pwned"];
        for e in escaped {
            assert!(!tmp.path().join(e).exists(), "{bad:?} wrote {e}");
        }
        let mut tar = Vec::new();
        let err = write_tar(&dag.blocks, &root.cid, "root", &mut tar, |_| {}).unwrap_err();
        assert!(
            matches!(err, ExportError::UnsafeName { .. }),
            "{bad:?}: {err}"
        );
    }
    // and a bad root name for tar
    let mut dag = Dag::new();
    let f = dag.leaf(b"x");
    for bad in ["", "..", "a/b"] {
        assert!(matches!(
            write_tar(&dag.blocks, &f.cid, bad, Vec::new(), |_| {}),
            Err(ExportError::UnsafeName { .. })
        ));
    }
}

#[test]
fn symlink_then_folder_of_same_name_cannot_escape() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let mut dag = Dag::new();
    let evil = dag.leaf(b"evil");
    let link = dag.symlink(outside.to_str().unwrap());
    let sub = dag.dir(&[("evil.txt", evil)]);
    // duplicate names: the symlink comes first, then a folder wanting to
    // write through it
    let root = dag.dir(&[("a", link), ("a", sub)]);
    let err = write_to_path(&dag.blocks, &root.cid, &tmp.path().join("out"), |_| {});
    assert!(err.is_err());
    assert!(!outside.join("evil.txt").exists());
}

#[test]
fn modes_and_mtimes_are_applied() {
    let mut dag = Dag::new();
    let f = dag.file_node_meta(
        Some(b"#!/bin/sh\n"),
        &[],
        DataType::File,
        Some(0o4755),
        Some(1_234_567_890),
    );
    let d = dag.dir_meta(&[("run.sh", f)], Some(0o700), Some(1_000_000_000));
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("d");
    write_to_path(&dag.blocks, &d.cid, &out, |_| {}).unwrap();
    let fm = fs::metadata(out.join("run.sh")).unwrap();
    assert_eq!(fm.permissions().mode() & 0o7777, 0o755, "setuid dropped");
    let secs = |m: &fs::Metadata| {
        m.modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    assert_eq!(secs(&fm), 1_234_567_890);
    let dm = fs::metadata(&out).unwrap();
    assert_eq!(dm.permissions().mode() & 0o7777, 0o700);
    assert_eq!(secs(&dm), 1_000_000_000);
}

/// (path, type, mode, body, link target) of one archive entry.
type TarEntry = (String, tar::EntryType, u32, Vec<u8>, Option<String>);

fn entries(tar_bytes: &[u8]) -> Vec<TarEntry> {
    let mut a = tar::Archive::new(tar_bytes);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            let kind = e.header().entry_type();
            let mode = e.header().mode().unwrap();
            let link = e
                .link_name()
                .unwrap()
                .map(|l| l.to_string_lossy().into_owned());
            let mut body = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut body).unwrap();
            (path, kind, mode, body, link)
        })
        .collect()
}

#[test]
fn tar_of_a_tree() {
    let mut dag = Dag::new();
    let (root, big) = tree(&mut dag);
    let mut out = Vec::new();
    let mut progress = 0;
    let n = write_tar(&dag.blocks, &root.cid, "root", &mut out, |k| progress += k).unwrap();
    assert_eq!(n, progress);
    assert_eq!(out.len() % 512, 0);
    assert!(out[out.len() - 1024..].iter().all(|&b| b == 0));
    let es = entries(&out);
    assert_eq!(es.len(), 1 + 1 + 1 + 1 + 1 + 300 + 1 + 2);
    assert_eq!(es[0].0, "root");
    assert_eq!(es[0].1, tar::EntryType::Directory);
    assert_eq!(es[0].2, 0o755);
    assert_eq!(es[1].0, "root/big.bin");
    assert_eq!(es[1].2, 0o644);
    assert_eq!(es[1].3, big);
    assert_eq!(es[2].0, "root/empty");
    assert!(es[2].3.is_empty());
    let link = es.iter().find(|e| e.0 == "root/sub/link").unwrap();
    assert_eq!(link.1, tar::EntryType::Symlink);
    assert_eq!(link.2, 0o777);
    assert_eq!(link.4.as_deref(), Some("../big.bin"));
    let hamt_files = es.iter().filter(|e| e.0.starts_with("root/hamt/")).count();
    assert_eq!(hamt_files, 300);
    let f = es.iter().find(|e| e.0 == "root/hamt/file-042").unwrap();
    assert_eq!(f.3, b"file-042");

    // the archive extracts with a standard reader
    let tmp = tempfile::tempdir().unwrap();
    tar::Archive::new(&out[..]).unpack(tmp.path()).unwrap();
    check_tree(&tmp.path().join("root"), &big);
}

#[test]
fn tar_of_a_single_file() {
    let mut dag = Dag::v1_raw();
    let f = dag.raw(b"just me");
    let mut out = Vec::new();
    write_tar(&dag.blocks, &f.cid, "me.txt", &mut out, |_| {}).unwrap();
    let es = entries(&out);
    assert_eq!(es.len(), 1);
    assert_eq!(
        (es[0].0.as_str(), &es[0].3[..]),
        ("me.txt", &b"just me"[..])
    );
    // Go-style USTAR header: magic, octal fields, no trailing slash
    assert_eq!(&out[257..263], b"ustar\0");
    assert_eq!(&out[100..108], b"0000644\0");
    assert_eq!(&out[108..116], b"0000000\0");
}

#[test]
fn tar_long_and_unicode_names() {
    let mut dag = Dag::new();
    let f = dag.leaf(b"deep");
    let long_name = "n".repeat(150);
    let mut c = dag.dir(&[(long_name.as_str(), f)]);
    let seg = "d".repeat(60);
    for _ in 0..3 {
        c = dag.dir(&[(seg.as_str(), c)]);
    }
    let unicode = dag.leaf(b"utf8");
    let long_target = format!("/{}", "t".repeat(200));
    let link = dag.symlink(&long_target);
    let root = dag.dir(&[("deep", c), ("źółw.txt", unicode), ("longlink", link)]);
    let mut out = Vec::new();
    write_tar(&dag.blocks, &root.cid, "r", &mut out, |_| {}).unwrap();
    let es = entries(&out);
    let deep = format!("r/deep/{seg}/{seg}/{seg}/{long_name}");
    let e = es.iter().find(|e| e.0 == deep).expect("long path");
    assert_eq!(e.3, b"deep");
    // a 2-level path over 100 bytes that splits into USTAR prefix + name
    assert!(es.iter().any(|e| e.0 == format!("r/deep/{seg}/{seg}")));
    assert!(es.iter().any(|e| e.0 == "r/źółw.txt" && e.3 == b"utf8"));
    let l = es.iter().find(|e| e.0 == "r/longlink").unwrap();
    assert_eq!(l.4.as_deref(), Some(long_target.as_str()));
}

#[test]
fn tar_stored_mode_and_mtime() {
    let mut dag = Dag::new();
    let f = dag.file_node_meta(
        Some(b"x"),
        &[],
        DataType::File,
        Some(0o600),
        Some(1_500_000_000),
    );
    let mut out = Vec::new();
    write_tar(&dag.blocks, &f.cid, "f", &mut out, |_| {}).unwrap();
    let mut a = tar::Archive::new(&out[..]);
    let e = a.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(e.header().mode().unwrap(), 0o600);
    assert_eq!(e.header().mtime().unwrap(), 1_500_000_000);
}

#[test]
fn missing_blocks_fail_the_export() {
    let mut dag = Dag::new();
    let (root, _) = tree(&mut dag);
    let sub = ferrite_unixfs::export::resolve(&dag.blocks, &root.cid, "sub/small.txt").unwrap();
    dag.blocks.remove(&sub);
    let tmp = tempfile::tempdir().unwrap();
    match write_to_path(&dag.blocks, &root.cid, &tmp.path().join("o"), |_| {}) {
        Err(ExportError::NotFound(c)) => assert_eq!(c, sub),
        other => panic!("{other:?}"),
    }
    match write_tar(&dag.blocks, &root.cid, "o", std::io::sink(), |_| {}) {
        Err(ExportError::NotFound(c)) => assert_eq!(c, sub),
        other => panic!("{other:?}"),
    }
}
