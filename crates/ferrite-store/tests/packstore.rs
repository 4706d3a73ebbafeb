//! Block store behaviour: round trips, dedup by multihash, crash recovery,
//! deletion, compaction and GC.

use ferrite_ipld::{codecs, Cid, HashAlg};
use ferrite_store::dag::walk;
use ferrite_store::pins::{Pin, PinMode, Pins};
use ferrite_store::{gc, Blockstore, PackStore};

fn raw(data: &[u8]) -> Cid {
    Cid::new_v1(codecs::RAW, HashAlg::Sha2_256.digest(data))
}

fn block(i: u32, size: usize) -> Vec<u8> {
    let mut v = vec![0u8; size];
    for (j, b) in v.iter_mut().enumerate() {
        *b = (i as usize * 31 + j * 7) as u8;
    }
    v[..4].copy_from_slice(&i.to_le_bytes());
    v
}

#[test]
fn put_get_and_multihash_addressing() {
    let dir = tempfile::tempdir().unwrap();
    let s = PackStore::open(dir.path()).unwrap();
    let data = b"hello world".to_vec();
    let v1 = raw(&data);
    let mut w = s.writer().unwrap();
    w.put(&v1, &data).unwrap();
    assert!(!s.has(&v1).unwrap(), "not visible before commit");
    w.commit().unwrap();
    assert_eq!(s.get(&v1).unwrap().unwrap(), &data[..]);
    // Same multihash under another codec/version is the same stored block.
    let v0ish = Cid::new_v1(codecs::DAG_PB, *v1.hash());
    assert!(s.has(&v0ish).unwrap());
    assert_eq!(s.size(&v1).unwrap(), Some(11));
    assert_eq!(s.stat().unwrap().blocks, 1);
}

#[test]
fn uncommitted_writes_vanish_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let kept = block(1, 300_000);
    let lost = block(2, 300_000);
    {
        let s = PackStore::open(dir.path()).unwrap();
        let mut w = s.writer().unwrap();
        w.put(&raw(&kept), &kept).unwrap();
        w.commit().unwrap();
        let mut w = s.writer().unwrap();
        w.put(&raw(&lost), &lost).unwrap();
        // a crash: the writer never commits and never runs its Drop
        std::mem::forget(w);
    }
    let s = PackStore::open(dir.path()).unwrap();
    assert_eq!(s.get(&raw(&kept)).unwrap().unwrap(), &kept[..]);
    assert!(s.get(&raw(&lost)).unwrap().is_none());
    let pack_bytes: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pack"))
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert!(
        pack_bytes < 310_000,
        "uncommitted tail truncated: {pack_bytes}"
    );
    // and the store keeps working after recovery
    let mut w = s.writer().unwrap();
    w.put(&raw(&lost), &lost).unwrap();
    w.commit().unwrap();
    assert!(s.verify_all(&mut |_| {}).unwrap().is_empty());
}

#[test]
fn delete_and_compact_reclaim_space_and_keep_live_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let s = PackStore::open(dir.path()).unwrap();
    let blocks: Vec<Vec<u8>> = (0..40).map(|i| block(i, 100_000)).collect();
    let mut w = s.writer().unwrap();
    for b in &blocks {
        w.put(&raw(b), b).unwrap();
    }
    w.commit().unwrap();
    let doomed: Vec<_> = blocks[..30].iter().map(|b| *raw(b).hash()).collect();
    assert_eq!(s.delete(&doomed).unwrap(), 30);
    // The active pack is never compacted; start a new one by reopening with
    // a full pack is impractical here, so check accounting instead.
    let st = s.stat().unwrap();
    assert_eq!(st.blocks, 10);
    assert!(st.block_bytes < 1_100_000, "{st:?}");
    for b in &blocks[30..] {
        assert_eq!(s.get(&raw(b)).unwrap().unwrap(), &b[..]);
    }
}

#[test]
fn gc_keeps_pinned_dags_and_removes_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let s = PackStore::open(&dir.path().join("blocks")).unwrap();
    let pins = Pins::open(&dir.path().join("pins.redb")).unwrap();
    // a tiny dag-pb parent with two raw children
    let a = block(1, 1000);
    let b = block(2, 1000);
    let orphan = block(3, 1000);
    let parent = ferrite_ipld::dagpb::PbNode {
        links: vec![
            ferrite_ipld::dagpb::PbLink::new(raw(&a), "a", 1000),
            ferrite_ipld::dagpb::PbLink::new(raw(&b), "b", 1000),
        ],
        data: Some(vec![8, 1]),
    }
    .encode();
    let pcid = Cid::new_v0(HashAlg::Sha2_256.digest(&parent)).unwrap();
    let mut w = s.writer().unwrap();
    for d in [&a, &b, &orphan] {
        w.put(&raw(d), d).unwrap();
    }
    w.put(&pcid, &parent).unwrap();
    w.commit().unwrap();
    pins.pin(&s, &pcid, PinMode::Recursive, "").unwrap();

    let mut seen = 0;
    walk(&s, &pcid, &mut |_, _| {
        seen += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, 3);
    assert_eq!(pins.indirect(&s).unwrap().len(), 2);

    let report = gc::collect(&s, &pins, &[]).unwrap();
    assert_eq!(report.removed, vec![*raw(&orphan).hash()]);
    assert!(s.has(&pcid).unwrap() && s.has(&raw(&a)).unwrap() && s.has(&raw(&b)).unwrap());
    assert!(!s.has(&raw(&orphan)).unwrap());

    // unpinning makes everything collectable
    pins.unpin(&pcid, true).unwrap();
    assert!(pins.unpin(&pcid, true).is_err());
    let report = gc::collect(&s, &pins, &[]).unwrap();
    assert_eq!(report.removed.len(), 3);
    assert_eq!(s.stat().unwrap().blocks, 0);
}

#[test]
fn recursive_pin_of_incomplete_dag_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = PackStore::open(&dir.path().join("blocks")).unwrap();
    let pins = Pins::open(&dir.path().join("pins.redb")).unwrap();
    let missing = raw(b"not stored");
    let parent = ferrite_ipld::dagpb::PbNode {
        links: vec![ferrite_ipld::dagpb::PbLink::new(missing, "x", 10)],
        data: Some(vec![8, 1]),
    }
    .encode();
    let pcid = Cid::new_v0(HashAlg::Sha2_256.digest(&parent)).unwrap();
    let mut w = s.writer().unwrap();
    w.put(&pcid, &parent).unwrap();
    w.commit().unwrap();
    let err = pins.pin(&s, &pcid, PinMode::Recursive, "").unwrap_err();
    assert!(err.to_string().contains(&missing.to_string()), "{err}");
    assert!(pins.get(&pcid).unwrap().is_none());
    pins.insert(&[Pin {
        cid: pcid,
        mode: PinMode::Direct,
        name: String::new(),
    }])
    .unwrap();
    assert_eq!(pins.get(&pcid).unwrap().unwrap().mode, PinMode::Direct);
}

#[test]
fn streamed_blocks_stay_readable_after_the_page_cache_drops_them() {
    streamed_blocks_round_trip(tempfile::tempdir().unwrap());
}

#[test]
fn streamed_blocks_fall_back_to_plain_writes_where_uncached_ones_are_refused() {
    // tmpfs refuses RWF_DONTCACHE (EOPNOTSUPP).
    let shm = std::path::Path::new("/dev/shm");
    if !shm.is_dir() {
        eprintln!("no /dev/shm: skipped");
        return;
    }
    streamed_blocks_round_trip(tempfile::tempdir_in(shm).unwrap());
}

fn streamed_blocks_round_trip(dir: tempfile::TempDir) {
    // 80 MiB in 8 MiB streaming batches: written uncached where the kernel
    // can; elsewhere the first 16 MiB fall more than the 64 MiB window
    // behind the end and are evicted from the page cache.
    let s = PackStore::open(dir.path()).unwrap();
    let blocks: Vec<(Cid, Vec<u8>)> = (0..320u32)
        .map(|i| {
            let b = block(i, 256 << 10);
            (raw(&b), b)
        })
        .collect();
    for batch in blocks.chunks(32) {
        let mut w = s.writer().unwrap();
        w.streaming();
        for (cid, data) in batch {
            w.put(cid, data).unwrap();
        }
        w.commit().unwrap();
    }
    for (cid, data) in &blocks {
        assert_eq!(s.get(cid).unwrap().unwrap(), &data[..]);
    }
    drop(s);
    let s = PackStore::open(dir.path()).unwrap();
    assert_eq!(s.stat().unwrap().blocks, 320);
    assert_eq!(s.get(&blocks[0].0).unwrap().unwrap(), &blocks[0].1[..]);
}

fn pack_and_index_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pack" || x == "redb"))
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum()
}

#[test]
fn compaction_keeps_disk_use_within_a_quarter_of_live_data() {
    // Rounds of 8 MiB in; a third of the previous round out. Every pack
    // stays about a third dead, which a "more than half dead" rule never
    // compacts (disk use then approaches 1.5 × live).
    let dir = tempfile::tempdir().unwrap();
    let s = PackStore::open(dir.path()).unwrap();
    let mut kept: Vec<(Cid, Vec<u8>)> = Vec::new();
    let mut last: Vec<(Cid, Vec<u8>)> = Vec::new();
    for round in 0..12u32 {
        let batch: Vec<(Cid, Vec<u8>)> = (0..32)
            .map(|j| {
                let b = block(round * 1000 + j, 256 << 10);
                (raw(&b), b)
            })
            .collect();
        let mut w = s.writer().unwrap();
        for (c, d) in &batch {
            w.put(c, d).unwrap();
        }
        w.commit().unwrap();
        let (gone, stay): (Vec<_>, Vec<_>) = std::mem::replace(&mut last, batch)
            .into_iter()
            .enumerate()
            .partition(|(i, _)| i % 3 == 0);
        let gone: Vec<_> = gone.iter().map(|(_, (c, _))| *c.hash()).collect();
        s.delete(&gone).unwrap();
        kept.extend(stay.into_iter().map(|(_, b)| b));
        s.compact().unwrap();
        let st = s.stat().unwrap();
        let disk = pack_and_index_bytes(dir.path());
        assert_eq!(st.disk_bytes, disk);
        assert!(st.dead_bytes <= st.block_bytes / 5, "round {round}: {st:?}");
        assert!(
            disk as f64 <= 1.25 * st.block_bytes as f64 + (2 << 20) as f64,
            "round {round}: {disk} on disk for {st:?}"
        );
    }
    for (c, d) in kept.iter().chain(&last) {
        assert_eq!(s.get(c).unwrap().unwrap(), &d[..]);
    }
    assert!(s.verify_all(&mut |_| {}).unwrap().is_empty());
}

#[test]
fn compaction_shrinks_the_index_after_mass_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let s = PackStore::open(dir.path()).unwrap();
    let blocks: Vec<Vec<u8>> = (0..60_000).map(|i| block(i, 40)).collect();
    let mut w = s.writer().unwrap();
    for b in &blocks {
        w.put(&raw(b), b).unwrap();
    }
    w.commit().unwrap();
    let index = dir.path().join("index.redb");
    let full = std::fs::metadata(&index).unwrap().len();
    let doomed: Vec<_> = blocks[1000..].iter().map(|b| *raw(b).hash()).collect();
    s.delete(&doomed).unwrap();
    s.compact().unwrap();
    let after = std::fs::metadata(&index).unwrap().len();
    assert!(after * 2 < full, "index {full} -> {after} bytes");
    for b in &blocks[..1000] {
        assert_eq!(s.get(&raw(b)).unwrap().unwrap(), &b[..]);
    }
    drop(s);
    let s = PackStore::open(dir.path()).unwrap();
    assert_eq!(s.stat().unwrap().blocks, 1000);
}
