//! Throughput numbers; run with
//! `cargo test --release -p ferrite-cluster --test bench -- --ignored --nocapture`.

mod common;

use std::time::Instant;

use common::*;
use ferrite_cluster::MemRouter;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn bench_submit_and_list() {
    for (label, router) in [
        ("json wire", MemRouter::new()),
        ("no wire codec", MemRouter::without_wire_format()),
    ] {
        let c = TestCluster::bootstrap_with(router, test_config(), &[1, 2, 3]).await;
        let leader = c.leader().await;

        // Sequential: one batch of 100 in flight at a time.
        let t = Instant::now();
        for cmd in batches(0, 10_000, 100) {
            c.node(leader).submit(cmd).await.unwrap();
        }
        let seq = t.elapsed();
        c.converge(leader, &[1, 2, 3]).await;
        let all = t.elapsed();
        println!("[{label}] 10,000 pins, batches of 100, sequential via leader: {seq:?} (all 3 applied: {all:?})");

        // Pipelined: 8 submitters, lets openraft group entries per fsync.
        let t = Instant::now();
        let mut tasks = Vec::new();
        for (i, cmd) in batches(10_000, 10_000, 100).into_iter().enumerate() {
            let n = c.node(leader).clone();
            tasks.push((i, cmd, n));
        }
        let mut handles = Vec::new();
        for lane in 0..8 {
            let mine: Vec<_> = tasks
                .iter()
                .filter(|(i, _, _)| i % 8 == lane)
                .map(|(_, c, n)| (c.clone(), n.clone()))
                .collect();
            handles.push(tokio::spawn(async move {
                for (cmd, n) in mine {
                    n.submit(cmd).await.unwrap();
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        println!(
            "[{label}] 10,000 pins, batches of 100, 8 in flight via leader: {:?}",
            t.elapsed()
        );

        if label == "no wire codec" {
            // Fill to 100,000 with larger entries, then time a full listing.
            let t = Instant::now();
            for cmd in batches(20_000, 80_000, 1000) {
                c.node(leader).submit(cmd).await.unwrap();
            }
            println!(
                "[{label}] 80,000 more pins in batches of 1000: {:?}",
                t.elapsed()
            );
            for id in [1, 2, 3] {
                c.converge(leader, &[id]).await;
                let t = Instant::now();
                let pins = c.node(id).pins().await.unwrap();
                assert_eq!(pins.len(), 100_000);
                println!("node {id}: list 100,000 pins: {:?}", t.elapsed());
            }
            let t = Instant::now();
            for i in (0..100_000).step_by(100) {
                assert!(c.node(leader).pin(&pin(i).cid).unwrap().is_some());
            }
            println!("1,000 point lookups: {:?}", t.elapsed());
        }
    }
}
