//! GC racing every write path of the node: add, dag import, block put,
//! dag put and the cluster tracker's batch pinning. Each path takes the GC
//! guard itself, so whatever it reports pinned must be complete afterwards.

mod common;

use common::{add, node_at};
use ferrite_node::{BlockPutOptions, Cid, DagImportOptions, Node, Pin, PinMode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ROUNDS: usize = 40;

/// One write path: round number to the CID it pinned, if it pinned one.
type WritePath = Box<dyn Fn(&Node, usize) -> Option<Cid> + Send>;

fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as u8
        })
        .collect()
}

#[test]
fn gc_never_sweeps_what_a_write_path_pins() {
    let dir = tempfile::tempdir().unwrap();
    let node = node_at(&dir.path().join("node"));
    // CARs of multi-block files, made on another node.
    let cars: Vec<Vec<u8>> = {
        let other = node_at(&dir.path().join("other"));
        (0..ROUNDS)
            .map(|i| {
                let root = add(&other, bytes(1000 + i as u64, 700_000), false);
                let mut car = Vec::new();
                other.dag_export(&root, &mut car).unwrap();
                car
            })
            .collect()
    };
    let pinned: Arc<Mutex<Vec<(&'static str, Cid)>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let gc = {
        let (node, done) = (node.clone(), done.clone());
        std::thread::spawn(move || {
            let mut runs = 0u32;
            while !done.load(Ordering::Relaxed) {
                node.gc().unwrap();
                runs += 1;
                // GC takes the guard exclusively; back to back it would
                // starve the writers (the lock prefers a waiting GC).
                std::thread::sleep(Duration::from_millis(1));
            }
            runs
        })
    };
    let mut writers = Vec::new();
    let spawn = |name: &'static str, f: WritePath| {
        let (node, pinned) = (node.clone(), pinned.clone());
        std::thread::spawn(move || {
            for i in 0..ROUNDS {
                if let Some(cid) = f(&node, i) {
                    pinned.lock().unwrap().push((name, cid));
                }
            }
        })
    };
    writers.push(spawn(
        "add",
        Box::new(|n, i| Some(add(n, bytes(i as u64, 600_000), true))),
    ));
    writers.push(spawn(
        "dag import",
        Box::new(move |n, i| {
            let r = n
                .dag_import(
                    &mut vec![std::io::Cursor::new(cars[i].clone())].into_iter(),
                    DagImportOptions::default(),
                )
                .unwrap();
            assert_eq!(r.roots.len(), 1);
            r.roots[0].1.as_ref().unwrap();
            Some(r.roots[0].0)
        }),
    ));
    writers.push(spawn(
        "block put",
        Box::new(|n, i| {
            let opts = BlockPutOptions {
                pin: true,
                ..Default::default()
            };
            Some(n.block_put(&bytes(5000 + i as u64, 10_000), &opts).unwrap())
        }),
    ));
    writers.push(spawn(
        "dag put",
        Box::new(|n, i| {
            let doc = format!("{{\"round\": {i}, \"note\": \"gc race\"}}");
            Some(
                n.dag_put(doc.as_bytes(), &Default::default(), true)
                    .unwrap(),
            )
        }),
    ));
    writers.push(spawn(
        "cluster pin",
        Box::new(|n, i| {
            // As the tracker: content arrives unpinned (fetched), then a
            // batch checks it and pins it while GC waits. Content GC took
            // before the batch is simply not pinned, and the tracker fetches
            // again (GC runs back to back here, so most tries lose: retrying
            // makes sure the path is exercised); what the batch finds
            // complete must stay.
            (0..10).find_map(|_| {
                let root = add(n, bytes(9000 + i as u64, 500_000), false);
                n.pin_batch(|b| {
                    if b.missing(&root, true).unwrap().is_some() {
                        return None;
                    }
                    b.insert(&[Pin {
                        cid: root,
                        mode: PinMode::Recursive,
                        name: format!("cluster-{i}"),
                    }])
                    .unwrap();
                    Some(root)
                })
            })
        }),
    ));
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let runs = gc.join().unwrap();
    assert!(runs >= 10, "GC ran only {runs} times");
    node.gc().unwrap();
    let pinned = pinned.lock().unwrap();
    for path in ["add", "dag import", "block put", "dag put"] {
        assert_eq!(
            pinned.iter().filter(|(p, _)| *p == path).count(),
            ROUNDS,
            "{path}"
        );
    }
    assert!(pinned.iter().any(|(p, _)| *p == "cluster pin"));
    for (path, cid) in pinned.iter() {
        assert!(
            node.pin_get(cid).unwrap().is_some(),
            "{path}: {cid} lost its pin"
        );
        node.dag_walk(cid, &mut |_, _| Ok(()))
            .unwrap_or_else(|e| panic!("{path}: {cid} incomplete after GC: {e}"));
    }
    // Unpinned content is collected, so GC really ran over these writes.
    let loose = add(&node, bytes(77, 1000), false);
    node.gc().unwrap();
    assert!(!node.has_block(&loose).unwrap());
}
