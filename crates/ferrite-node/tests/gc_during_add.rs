//! GC running while an add is under way in the same process (as in the
//! daemon) must never delete the add's blocks.

use ferrite_config::Config;
use ferrite_node::{AddOptions, AddSource, Node};
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Yields deterministic bytes slowly, so GCs get to run mid-add.
struct SlowReader {
    left: usize,
    state: u64,
}

impl Read for SlowReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(2));
        let n = buf.len().min(self.left).min(64 * 1024);
        for b in &mut buf[..n] {
            self.state = self
                .state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *b = (self.state >> 56) as u8;
        }
        self.left -= n;
        Ok(n)
    }
}

#[test]
fn gc_during_add_keeps_the_adds_blocks() {
    let dir = tempfile::tempdir().unwrap();
    Node::init(dir.path(), &Config::init(&["test"]).unwrap()).unwrap();
    let node = Node::open(dir.path()).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let gcs = {
        let node = node.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            let mut runs = 0;
            while !done.load(Ordering::Relaxed) {
                node.gc().unwrap();
                runs += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            runs
        })
    };
    // GCs must be running before and after the add's blocks exist.
    std::thread::sleep(Duration::from_millis(20));
    let opts = AddOptions {
        import: node.import_defaults().unwrap(),
        pin: true,
        ..Default::default()
    };
    let added = node
        .add(
            AddSource::Reader {
                reader: Box::new(SlowReader {
                    left: 6 << 20,
                    state: 42,
                }),
                name: None,
            },
            &opts,
            &mut |_| {},
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(30));
    done.store(true, Ordering::Relaxed);
    let runs = gcs.join().unwrap();
    assert!(runs >= 2, "GC ran {runs} times");
    let root = added.last().unwrap().cid;
    let verify = node.pin_verify().unwrap();
    assert_eq!(verify.len(), 1);
    assert_eq!(verify[0].cid, root);
    assert!(verify[0].bad_nodes.is_empty(), "{:?}", verify[0].bad_nodes);
}
