//! The pin tracker over real (offline) nodes.

use std::path::Path;
use std::time::{Duration, Instant};

use ferrite_cluster::pinset::{ClusterPin, PinMode};
use ferrite_cluster::tracker::{LocalPeer, PinTracker, TrackerConfig};
use ferrite_cluster::types::TrackerStatus;
use ferrite_node::{BlockPutOptions, Cid, Node, PinLsType};

const WAIT: Duration = Duration::from_secs(20);
/// This peer's cluster peer ID.
const ME: &str = "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp";
/// Another cluster peer's.
const OTHER: &str = "12D3KooWHk4d8vbtoJ2Ax5ygxU4YgD9yJmjTjuEF5xXf7rUxJu3W";

fn new_node(dir: &Path) -> Node {
    let cfg = ferrite_config::Config::init(&["test"]).unwrap();
    ferrite_node::Node::init(dir, &cfg).unwrap();
    Node::open(dir).unwrap()
}

fn me() -> LocalPeer {
    LocalPeer {
        peer: ME.parse().unwrap(),
        peername: "peer-me".into(),
        ipfs_peer_id: "12D3KooWme".into(),
        ipfs_addresses: vec!["/ip4/127.0.0.1/tcp/4001".into()],
    }
}

fn fast_cfg() -> TrackerConfig {
    TrackerConfig {
        retry_base: Duration::from_millis(20),
        retry_max: Duration::from_millis(200),
        max_attempts: 3,
        ..TrackerConfig::default()
    }
}

struct Setup {
    _tmp: tempfile::TempDir,
    node: Node,
    tracker: PinTracker,
    tracker_dir: std::path::PathBuf,
}

fn setup(cfg: TrackerConfig) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let node = new_node(&tmp.path().join("ipfs"));
    let tracker_dir = tmp.path().join("cluster");
    let tracker = PinTracker::start(node.clone(), &tracker_dir, me(), cfg).unwrap();
    Setup {
        _tmp: tmp,
        node,
        tracker,
        tracker_dir,
    }
}

fn put(node: &Node, data: &[u8]) -> Cid {
    node.block_put(data, &BlockPutOptions::default()).unwrap()
}

fn raw_cid(data: &[u8]) -> Cid {
    Cid::new_v1(
        ferrite_ipld::codecs::RAW,
        ferrite_ipld::HashAlg::Sha2_256.digest(data),
    )
}

fn pinned_locally(node: &Node, cid: &Cid) -> Option<String> {
    node.pin_ls(&[], PinLsType::All)
        .unwrap()
        .into_iter()
        .find(|e| &e.cid == cid)
        .map(|e| e.kind)
}

fn pin_of(cid: &Cid) -> ClusterPin {
    ClusterPin::new(*cid)
}

async fn wait_status(t: &PinTracker, cid: &str, want: TrackerStatus) {
    let deadline = Instant::now() + WAIT;
    loop {
        let s = t.status(&cid.parse().unwrap());
        if s.status == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{cid}: wanted {want:?}, still {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pins_local_content_recursive_and_direct() {
    let s = setup(TrackerConfig::default());
    let a = put(&s.node, b"recursive content");
    let b = put(&s.node, b"direct content");
    let mut pa = pin_of(&a);
    pa.name = "my-pin".into();
    let mut pb = pin_of(&b);
    pb.mode = PinMode::Direct;
    s.tracker.track(&pa);
    s.tracker.track(&pb);
    wait_status(&s.tracker, &a.to_string(), TrackerStatus::Pinned).await;
    wait_status(&s.tracker, &b.to_string(), TrackerStatus::Pinned).await;

    assert_eq!(pinned_locally(&s.node, &a).as_deref(), Some("recursive"));
    assert_eq!(pinned_locally(&s.node, &b).as_deref(), Some("direct"));
    let ls = s.node.pin_ls(&[a.to_string()], PinLsType::All).unwrap();
    assert_eq!(ls[0].name, "my-pin");

    let info = s.tracker.status(&a);
    assert_eq!(info.peer.to_string(), ME);
    assert_eq!(info.peername, "peer-me");
    assert_eq!(info.ipfs_peer_id, "12D3KooWme");
    assert!(info.error.is_empty());
    assert!(info.timestamp_ms > 0);
    assert_eq!(s.tracker.status_all().len(), 2);
    assert_eq!(s.tracker.counts().get(&TrackerStatus::Pinned), Some(&2));
    // Unknown CIDs are unpinned.
    let unknown = raw_cid(b"never seen");
    assert_eq!(s.tracker.status(&unknown).status, TrackerStatus::Unpinned);
    s.tracker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allocated_elsewhere_is_remote() {
    let s = setup(TrackerConfig::default());
    let a = put(&s.node, b"remote content");
    let cid = a.to_string();
    let mut p = pin_of(&a);
    p.allocations = vec![OTHER.parse().unwrap()];
    s.tracker.track(&p);
    wait_status(&s.tracker, &cid, TrackerStatus::Remote).await;
    assert_eq!(pinned_locally(&s.node, &a), None);

    // Re-allocated to us: pinned; then away again: the cluster's pin goes.
    p.allocations = vec![OTHER.parse().unwrap(), ME.parse().unwrap()];
    s.tracker.track(&p);
    wait_status(&s.tracker, &cid, TrackerStatus::Pinned).await;
    assert!(pinned_locally(&s.node, &a).is_some());
    p.allocations = vec![OTHER.parse().unwrap()];
    s.tracker.track(&p);
    wait_status(&s.tracker, &cid, TrackerStatus::Remote).await;
    assert_eq!(pinned_locally(&s.node, &a), None);
    // Still part of the shared state, so still listed.
    assert_eq!(s.tracker.status_all().len(), 1);
    s.tracker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_pins_are_not_pinned() {
    let s = setup(TrackerConfig::default());
    let a = put(&s.node, b"expired content");
    let mut p = pin_of(&a);
    p.expire_at = Some(1);
    s.tracker.track(&p);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(s.tracker.status(&a).status, TrackerStatus::Unpinned);
    assert_eq!(pinned_locally(&s.node, &a), None);
    s.tracker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_content_errors_retries_and_recovers() {
    let s = setup(fast_cfg());
    let data = b"not here yet";
    let a = raw_cid(data);
    let cid = a.to_string();
    s.tracker.track(&pin_of(&a));

    // Offline: the block cannot be found, so pin_error with back-off retries
    // until max_attempts (3), then it stays there.
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        let info = s.tracker.status(&cid.parse().unwrap());
        if info.status == TrackerStatus::PinError && seen.last() != Some(&info.attempt_count) {
            assert!(
                info.error.contains("not found"),
                "error text: {}",
                info.error
            );
            seen.push(info.attempt_count);
        }
        if info.attempt_count >= 3 && info.status == TrackerStatus::PinError {
            break;
        }
        assert!(Instant::now() < deadline, "no retries: {info:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(seen.len() >= 2, "attempts seen: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let info = s.tracker.status(&cid.parse().unwrap());
    assert_eq!(info.status, TrackerStatus::PinError);
    assert_eq!(info.attempt_count, 3, "no automatic attempt after the max");
    assert_eq!(s.tracker.counts().get(&TrackerStatus::PinError), Some(&1));

    // The content shows up; recover pins it at once.
    assert_eq!(put(&s.node, data), a);
    let info = s.tracker.recover(&cid.parse().unwrap());
    assert_eq!(info.attempt_count, 0);
    assert!(
        matches!(
            info.status,
            TrackerStatus::PinQueued | TrackerStatus::Pinning | TrackerStatus::Pinned
        ),
        "{info:?}"
    );
    wait_status(&s.tracker, &cid, TrackerStatus::Pinned).await;
    assert!(pinned_locally(&s.node, &a).is_some());

    // recover_all on a failed CID.
    let b = raw_cid(b"also missing");
    s.tracker.track(&pin_of(&b));
    wait_status(&s.tracker, &b.to_string(), TrackerStatus::PinError).await;
    put(&s.node, b"also missing");
    let rec = s.tracker.recover_all();
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0].cid, b);
    wait_status(&s.tracker, &b.to_string(), TrackerStatus::Pinned).await;
    s.tracker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrack_removes_only_cluster_pins() {
    let s = setup(TrackerConfig::default());
    let ours = put(&s.node, b"cluster pin");
    let users = put(&s.node, b"user pin");
    s.node.pin_add(&[users.to_string()], true, "mine").unwrap();
    s.tracker.track(&pin_of(&ours));
    s.tracker.track(&pin_of(&users));
    wait_status(&s.tracker, &ours.to_string(), TrackerStatus::Pinned).await;
    wait_status(&s.tracker, &users.to_string(), TrackerStatus::Pinned).await;

    s.tracker.untrack(&ours);
    s.tracker.untrack(&users);
    wait_status(&s.tracker, &ours.to_string(), TrackerStatus::Unpinned).await;
    wait_status(&s.tracker, &users.to_string(), TrackerStatus::Unpinned).await;
    // Released entries leave the list.
    let deadline = Instant::now() + WAIT;
    while !s.tracker.status_all().is_empty() {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(pinned_locally(&s.node, &ours), None);
    assert_eq!(
        pinned_locally(&s.node, &users).as_deref(),
        Some("recursive")
    );
    let ls = s.node.pin_ls(&[users.to_string()], PinLsType::All).unwrap();
    assert_eq!(ls[0].name, "mine", "the user's pin is untouched");
    s.tracker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_then_sync_releases_stale_cluster_pins() {
    let s = setup(TrackerConfig::default());
    let x = put(&s.node, b"dropped while down");
    let y = put(&s.node, b"kept");
    s.tracker.sync(vec![pin_of(&x), pin_of(&y)]);
    wait_status(&s.tracker, &x.to_string(), TrackerStatus::Pinned).await;
    wait_status(&s.tracker, &y.to_string(), TrackerStatus::Pinned).await;
    s.tracker.shutdown().await;
    drop(s.tracker);

    let t = PinTracker::start(
        s.node.clone(),
        &s.tracker_dir,
        me(),
        TrackerConfig::default(),
    )
    .unwrap();
    t.sync(vec![pin_of(&y)]);
    wait_status(&t, &y.to_string(), TrackerStatus::Pinned).await;
    let deadline = Instant::now() + WAIT;
    while pinned_locally(&s.node, &x).is_some() {
        assert!(Instant::now() < deadline, "stale cluster pin not released");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    wait_status(&t, &x.to_string(), TrackerStatus::Unpinned).await;
    assert!(pinned_locally(&s.node, &y).is_some());
    assert_eq!(t.status_all().len(), 1);
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vanished_pin_is_repinned_by_the_check() {
    let s = setup(TrackerConfig {
        check_interval: Duration::from_millis(100),
        ..TrackerConfig::default()
    });
    let a = put(&s.node, b"will be removed by hand");
    let cid = a.to_string();
    s.tracker.track(&pin_of(&a));
    wait_status(&s.tracker, &cid, TrackerStatus::Pinned).await;
    s.node.pin_rm(std::slice::from_ref(&cid), true).unwrap();
    assert_eq!(pinned_locally(&s.node, &a), None);
    let deadline = Instant::now() + WAIT;
    while pinned_locally(&s.node, &a).is_none() {
        assert!(Instant::now() < deadline, "not re-pinned");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    wait_status(&s.tracker, &cid, TrackerStatus::Pinned).await;
    s.tracker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_keeps_tracked_pins() {
    let s = setup(TrackerConfig::default());
    // A multi-block file (4 leaves + root with 256 KiB chunks), unpinned.
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let opts = ferrite_node::AddOptions {
        import: s.node.import_defaults().unwrap(),
        pin: false,
        ..Default::default()
    };
    let added = s
        .node
        .add(
            ferrite_node::AddSource::Reader {
                reader: Box::new(std::io::Cursor::new(data)),
                name: None,
            },
            &opts,
            &mut |_| {},
        )
        .unwrap();
    let root = added.last().unwrap().cid;
    let mut blocks = Vec::new();
    s.node
        .dag_walk(&root, &mut |c, _| {
            blocks.push(*c);
            Ok(())
        })
        .unwrap();
    assert!(blocks.len() > 1);
    let loose = put(&s.node, b"garbage");

    s.tracker.track(&pin_of(&root));
    wait_status(&s.tracker, &root.to_string(), TrackerStatus::Pinned).await;
    let node = s.node.clone();
    tokio::task::spawn_blocking(move || node.gc().unwrap())
        .await
        .unwrap();
    for c in &blocks {
        assert!(s.node.has_block(c).unwrap(), "{c} collected");
    }
    assert!(!s.node.has_block(&loose).unwrap());
    s.tracker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_pins_are_pinned_quickly() {
    const N: usize = 2000;
    let s = setup(TrackerConfig::default());
    let mut cids = Vec::with_capacity(N);
    {
        let data: Vec<String> = (0..N).map(|i| format!("small block number {i}")).collect();
        let blocks: Vec<(Cid, &[u8])> = data
            .iter()
            .map(|d| (raw_cid(d.as_bytes()), d.as_bytes()))
            .collect();
        s.node.block_store_batch(&blocks).unwrap();
        cids.extend(blocks.iter().map(|(c, _)| *c));
    }
    let start = Instant::now();
    for (i, c) in cids.iter().enumerate() {
        let mut p = pin_of(c);
        p.name = format!("pin-{i}");
        s.tracker.track(&p);
    }
    let tracked = start.elapsed();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pinned = s
            .tracker
            .counts()
            .get(&TrackerStatus::Pinned)
            .copied()
            .unwrap_or(0);
        if pinned == N {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {pinned}/{N} pinned: {:?}",
            s.tracker.counts()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = start.elapsed();
    println!(
        "{N} pins tracked in {tracked:?}, all pinned after {took:?}: {:.0} pins/s",
        N as f64 / took.as_secs_f64()
    );
    let ls = s.node.pin_ls(&[], PinLsType::Recursive).unwrap();
    assert_eq!(ls.len(), N);

    // Unpinning them all works too.
    let start = Instant::now();
    s.tracker.sync(Vec::new());
    let deadline = Instant::now() + Duration::from_secs(120);
    while !s.tracker.status_all().is_empty() {
        assert!(Instant::now() < deadline, "{:?}", s.tracker.counts());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!("{N} pins released in {:?}", start.elapsed());
    assert!(s.node.pin_ls(&[], PinLsType::All).unwrap().is_empty());
    s.tracker.shutdown().await;
}

/// Two online nodes: the tracker of the second fetches over Bitswap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_node_fetches_missing_content() {
    const N: usize = 300;
    let tmp = tempfile::tempdir().unwrap();
    let a = new_node(&tmp.path().join("a"));
    let b = new_node(&tmp.path().join("b"));
    let start_net = |n: &Node| {
        let cfg = ferrite_node::net::NetConfig::from_node(n).unwrap();
        let net = ferrite_node::net::Network::start(n, cfg).unwrap();
        n.with_network(net)
    };
    let a = start_net(&a);
    let b = start_net(&b);
    let na = a.network().unwrap();
    let (listen, _) = na.listen_addrs().await.unwrap();
    let addr = listen
        .iter()
        .find(|m| m.to_string().contains("127.0.0.1") && m.to_string().contains("/tcp/"))
        .or(listen.first())
        .unwrap()
        .clone()
        .with(libp2p::multiaddr::Protocol::P2p(na.peer_id()));
    b.network().unwrap().connect(addr).await.unwrap();

    let mut cids = Vec::new();
    for i in 0..N {
        cids.push(put(&a, format!("remote block {i}").as_bytes()));
    }
    let t = PinTracker::start(b.clone(), &tmp.path().join("cluster-b"), me(), fast_cfg()).unwrap();
    let start = Instant::now();
    for c in &cids {
        t.track(&pin_of(c));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while t.counts().get(&TrackerStatus::Pinned).copied().unwrap_or(0) < N {
        assert!(Instant::now() < deadline, "{:?}", t.counts());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "{N} pins fetched over Bitswap and pinned in {:?}: {:.0} pins/s",
        start.elapsed(),
        N as f64 / start.elapsed().as_secs_f64()
    );
    assert_eq!(b.pin_ls(&[], PinLsType::Recursive).unwrap().len(), N);
    t.shutdown().await;
}
