//! Bitswap between real libp2p swarms over TCP on 127.0.0.1 (noise + yamux).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrite_bitswap::message::{Block, Message};
use ferrite_bitswap::{Behaviour, BlockStore, Cid, Config, Event, Version};
use ferrite_ipld::{codecs, HashAlg, Multihash};
use futures::StreamExt;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm};
use rand::{Rng, SeedableRng};

#[derive(Default)]
struct MemStore(Mutex<HashMap<Cid, Bytes>>);

impl BlockStore for MemStore {
    fn get(&self, cid: &Cid) -> Option<Bytes> {
        self.0.lock().unwrap().get(cid).cloned()
    }
}

impl MemStore {
    fn put(&self, data: &[u8], codec: u64) -> Cid {
        let cid = Cid::new_v1(codec, HashAlg::Sha2_256.digest(data));
        self.0
            .lock()
            .unwrap()
            .insert(cid, Bytes::copy_from_slice(data));
        cid
    }

    fn put_v0(&self, data: &[u8]) -> Cid {
        let cid = Cid::new_v0(HashAlg::Sha2_256.digest(data)).unwrap();
        self.0
            .lock()
            .unwrap()
            .insert(cid, Bytes::copy_from_slice(data));
        cid
    }
}

struct Node {
    swarm: Swarm<Behaviour>,
    store: Arc<MemStore>,
    id: PeerId,
}

fn node(config: Config) -> Node {
    let store = Arc::new(MemStore::default());
    let s = store.clone();
    let swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default().nodelay(true),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|_| Behaviour::new(s, config))
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(30)))
        .build();
    let id = *swarm.local_peer_id();
    Node { swarm, store, id }
}

/// Polls every swarm until `f` returns true for an event (or panics after
/// 60 s).
async fn run_until(nodes: &mut [&mut Node], mut f: impl FnMut(usize, SwarmEvent<Event>) -> bool) {
    let deadline = tokio::time::sleep(Duration::from_secs(60));
    tokio::pin!(deadline);
    loop {
        let futs = nodes
            .iter_mut()
            .map(|n| n.swarm.select_next_some())
            .collect::<Vec<_>>();
        tokio::select! {
            (ev, i, _) = futures::future::select_all(futs) => {
                if f(i, ev) {
                    return;
                }
            }
            _ = &mut deadline => panic!("timed out"),
        }
    }
}

/// Connects `b` to `a` and waits until both see the connection.
async fn connect(a: &mut Node, b: &mut Node) {
    a.swarm
        .listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .unwrap();
    let mut addr: Option<Multiaddr> = None;
    run_until(&mut [&mut *a], |_, ev| {
        if let SwarmEvent::NewListenAddr { address, .. } = ev {
            addr = Some(address);
            return true;
        }
        false
    })
    .await;
    b.swarm.dial(addr.unwrap()).unwrap();
    let mut up = [false, false];
    run_until(&mut [&mut *a, &mut *b], |i, ev| {
        if let SwarmEvent::ConnectionEstablished { .. } = ev {
            up[i] = true;
        }
        up == [true, true]
    })
    .await;
}

fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut v = vec![0u8; n];
    rng.fill(&mut v[..]);
    v
}

#[tokio::test]
async fn fetch_a_block() {
    let (mut a, mut b) = (node(Config::default()), node(Config::default()));
    connect(&mut a, &mut b).await;
    let data = random_bytes(100_000, 1);
    let cid = a.store.put(&data, codecs::RAW);
    b.swarm.behaviour_mut().want(cid, &[a.id]);
    let mut got = None;
    run_until(&mut [&mut a, &mut b], |i, ev| {
        if let SwarmEvent::Behaviour(Event::BlockReceived { cid: c, data, from }) = ev {
            assert_eq!(i, 1);
            got = Some((c, data, from));
            return true;
        }
        false
    })
    .await;
    let (c, d, from) = got.unwrap();
    assert_eq!((c, &d[..], from), (cid, &data[..], a.id));
    assert!(b.swarm.behaviour().wantlist().is_empty());
    assert_eq!(
        b.swarm.behaviour().ledger(&a.id).unwrap().bytes_received,
        100_000
    );
    // The sender's ledger counts the block once the write completed, and
    // the want is gone from its copy of our wantlist.
    let b_id = b.id;
    eventually(&mut [&mut a, &mut b], |n| {
        n[0].swarm
            .behaviour()
            .ledger(&b_id)
            .is_some_and(|l| l.bytes_sent == 100_000 && l.blocks_sent == 1)
    })
    .await;
    assert!(a.swarm.behaviour().peer_wantlist(&b_id).is_empty());
}

/// Waits (driving the swarms) until `check` holds.
async fn eventually(nodes: &mut [&mut Node], mut check: impl FnMut(&[&mut Node]) -> bool) {
    let start = Instant::now();
    while !check(nodes) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "condition never held"
        );
        let futs = nodes
            .iter_mut()
            .map(|n| n.swarm.select_next_some())
            .collect::<Vec<_>>();
        let _ = tokio::time::timeout(Duration::from_millis(50), futures::future::select_all(futs))
            .await;
    }
}

fn events(ev: SwarmEvent<Event>) -> Option<Event> {
    match ev {
        SwarmEvent::Behaviour(e) => Some(e),
        _ => None,
    }
}

#[tokio::test]
async fn want_have_gets_have_and_dont_have() {
    let (mut a, mut b) = (node(Config::default()), node(Config::default()));
    connect(&mut a, &mut b).await;
    let present = a.store.put(b"present", codecs::RAW);
    let absent = Cid::new_v1(codecs::RAW, HashAlg::Sha2_256.digest(b"absent"));
    b.swarm.behaviour_mut().want_have(present, &[a.id]);
    b.swarm.behaviour_mut().want_have(absent, &[a.id]);
    let a_id = a.id;
    let mut seen = HashSet::new();
    run_until(&mut [&mut a, &mut b], |_, ev| {
        match events(ev) {
            Some(Event::Have { cid, from }) => {
                assert_eq!((cid, from), (present, a_id));
                seen.insert("have");
            }
            Some(Event::DontHave { cid, from }) => {
                assert_eq!((cid, from), (absent, a_id));
                seen.insert("dont-have");
            }
            Some(e) => panic!("unexpected {e:?}"),
            None => {}
        }
        seen.len() == 2
    })
    .await;
    // A want-have answered HAVE can be followed by the want-block.
    b.swarm.behaviour_mut().want(present, &[a.id]);
    run_until(
        &mut [&mut a, &mut b],
        |_, ev| matches!(events(ev), Some(Event::BlockReceived { cid, .. }) if cid == present),
    )
    .await;
}

#[tokio::test]
async fn dont_have_then_block_arrives_later() {
    let (mut a, mut b) = (node(Config::default()), node(Config::default()));
    connect(&mut a, &mut b).await;
    let data = b"late block".to_vec();
    let cid = Cid::new_v1(codecs::RAW, HashAlg::Sha2_256.digest(&data));
    b.swarm.behaviour_mut().want(cid, &[a.id]);
    run_until(
        &mut [&mut a, &mut b],
        |_, ev| matches!(events(ev), Some(Event::DontHave { cid: c, .. }) if c == cid),
    )
    .await;
    // The server keeps the want-block, and serves it once the block shows up.
    assert_eq!(a.swarm.behaviour().peer_wantlist(&b.id), vec![cid]);
    a.store.put(&data, codecs::RAW);
    a.swarm.behaviour_mut().notify_new_blocks(&[cid]);
    run_until(
        &mut [&mut a, &mut b],
        |_, ev| matches!(events(ev), Some(Event::BlockReceived { cid: c, .. }) if c == cid),
    )
    .await;
}

#[tokio::test]
async fn cancel_removes_the_want() {
    let (mut a, mut b) = (node(Config::default()), node(Config::default()));
    connect(&mut a, &mut b).await;
    let data = b"cancelled".to_vec();
    let cid = Cid::new_v1(codecs::RAW, HashAlg::Sha2_256.digest(&data));
    b.swarm.behaviour_mut().want(cid, &[a.id]);
    let b_id = b.id;
    eventually(&mut [&mut a, &mut b], |n| {
        n[0].swarm.behaviour().peer_wantlist(&b_id) == vec![cid]
    })
    .await;
    b.swarm.behaviour_mut().cancel(&cid);
    assert!(b.swarm.behaviour().wantlist().is_empty());
    eventually(&mut [&mut a, &mut b], |n| {
        n[0].swarm.behaviour().peer_wantlist(&b_id).is_empty()
    })
    .await;
    // The block arriving at A later is not sent: nobody wants it any more.
    a.store.put(&data, codecs::RAW);
    a.swarm.behaviour_mut().notify_new_blocks(&[cid]);
    let quiet = tokio::time::timeout(
        Duration::from_millis(500),
        run_until(&mut [&mut a, &mut b], |_, ev| {
            matches!(events(ev), Some(Event::BlockReceived { .. }))
        }),
    )
    .await;
    assert!(quiet.is_err(), "cancelled block was delivered");
    assert_eq!(
        b.swarm.behaviour().ledger(&a.id).unwrap().blocks_received,
        0
    );
}

#[tokio::test]
async fn forged_block_is_reported_and_not_emitted() {
    let (mut victim, mut mallory) = (node(Config::default()), node(Config::default()));
    connect(&mut victim, &mut mallory).await;
    let cid = Cid::new_v1(codecs::RAW, HashAlg::Sha2_256.digest(b"genuine"));
    victim.swarm.behaviour_mut().want(cid, &[mallory.id]);
    // Mallory answers with other bytes under the wanted CID's prefix.
    let forged = Message {
        blocks: vec![Block {
            cid,
            data: Bytes::from_static(b"forged!"),
        }],
        ..Default::default()
    };
    mallory
        .swarm
        .behaviour_mut()
        .send_message(victim.id, forged);
    let mallory_id = mallory.id;
    let (mut bad, mut closed) = (false, false);
    run_until(&mut [&mut victim, &mut mallory], |i, ev| {
        match ev {
            SwarmEvent::Behaviour(Event::BlockReceived { .. }) => panic!("forged block emitted"),
            SwarmEvent::Behaviour(Event::BadBlock { from, cid: c }) => {
                assert_eq!(i, 0);
                assert_eq!(from, mallory_id);
                assert_ne!(c, cid);
                bad = true;
            }
            SwarmEvent::ConnectionClosed { .. } if i == 0 => closed = true,
            _ => {}
        }
        bad && closed
    })
    .await;
    // The want survives for an honest peer.
    assert_eq!(victim.swarm.behaviour().wantlist(), vec![cid]);
}

#[tokio::test]
async fn unverifiable_block_is_a_bad_message() {
    let (mut victim, mut mallory) = (node(Config::default()), node(Config::default()));
    connect(&mut victim, &mut mallory).await;
    // sha1 (0x11) is a hash we cannot check: the block must not be trusted.
    let sha1 = Multihash::wrap(0x11, &[0u8; 20]).unwrap();
    let msg = Message {
        blocks: vec![Block {
            cid: Cid::new_v1(codecs::RAW, sha1),
            data: Bytes::from_static(b"x"),
        }],
        ..Default::default()
    };
    mallory.swarm.behaviour_mut().send_message(victim.id, msg);
    run_until(&mut [&mut victim, &mut mallory], |i, ev| match events(ev) {
        Some(Event::BadMessage { from, reason }) => {
            assert_eq!(i, 0);
            assert!(reason.contains("unverifiable"), "{reason}");
            let _ = from;
            true
        }
        Some(Event::BlockReceived { .. }) => panic!("unverified block emitted"),
        _ => false,
    })
    .await;
}

async fn fetch_between(server_versions: &[Version], client_versions: &[Version], v0: bool) {
    let mut a = node(Config::default().with_versions(server_versions));
    let mut b = node(Config::default().with_versions(client_versions));
    connect(&mut a, &mut b).await;
    let data = random_bytes(5000, 7);
    let cid = if v0 {
        a.store.put_v0(&data)
    } else {
        a.store.put(&data, codecs::RAW)
    };
    b.swarm.behaviour_mut().want(cid, &[a.id]);
    run_until(&mut [&mut a, &mut b], |_, ev| match events(ev) {
        Some(Event::BlockReceived {
            cid: c, data: d, ..
        }) => {
            assert_eq!((c, &d[..]), (cid, &data[..]));
            true
        }
        Some(e @ (Event::BadBlock { .. } | Event::BadMessage { .. })) => panic!("{e:?}"),
        _ => false,
    })
    .await;
}

#[tokio::test]
async fn server_speaking_only_1_0_0() {
    fetch_between(&[Version::V1_0_0], &Version::ALL, true).await;
}

#[tokio::test]
async fn client_speaking_only_1_0_0() {
    fetch_between(&Version::ALL, &[Version::V1_0_0], true).await;
}

#[tokio::test]
async fn version_1_0_0_serves_cidv1_sha256_blocks() {
    // No prefix on the wire: the client matches the bytes' sha2-256 digest.
    fetch_between(&[Version::V1_0_0], &Version::ALL, false).await;
    fetch_between(&Version::ALL, &[Version::V1_0_0], false).await;
}

#[tokio::test]
async fn version_1_1_0_carries_cidv1() {
    fetch_between(&[Version::V1_1_0], &Version::ALL, false).await;
    fetch_between(&Version::ALL, &[Version::V1_1_0, Version::V1_0_0], false).await;
}

#[tokio::test]
async fn broadcast_want_reaches_peers_connecting_later() {
    let (mut a, mut b) = (node(Config::default()), node(Config::default()));
    let cid = a.store.put(b"broadcast", codecs::RAW);
    // No peers yet: the want waits for whoever connects.
    b.swarm.behaviour_mut().want(cid, &[]);
    connect(&mut a, &mut b).await;
    run_until(
        &mut [&mut a, &mut b],
        |_, ev| matches!(events(ev), Some(Event::BlockReceived { cid: c, .. }) if c == cid),
    )
    .await;
}

#[tokio::test]
async fn one_server_two_clients() {
    // Small per-peer queue so the two clients must take turns.
    let mut s = node(
        Config::default()
            .with_max_queued_bytes_per_peer(512 << 10)
            .with_message_target_bytes(256 << 10),
    );
    let (mut c1, mut c2) = (node(Config::default()), node(Config::default()));
    connect(&mut s, &mut c1).await;
    // Reuse the listener: dial the same address from c2.
    let addr = s.swarm.listeners().next().unwrap().clone();
    c2.swarm.dial(addr).unwrap();
    let mut up = 0;
    run_until(&mut [&mut s, &mut c2], |_, ev| {
        if let SwarmEvent::ConnectionEstablished { .. } = ev {
            up += 1;
        }
        up == 2
    })
    .await;
    let cids: Vec<Cid> = (0..40)
        .map(|i| s.store.put(&random_bytes(64 << 10, 100 + i), codecs::RAW))
        .collect();
    for cid in &cids {
        c1.swarm.behaviour_mut().want(*cid, &[s.id]);
        c2.swarm.behaviour_mut().want(*cid, &[s.id]);
    }
    // Both clients get every block (the scheduler's turn order is checked
    // deterministically in the behaviour's unit tests).
    let mut got = [0usize; 3];
    run_until(&mut [&mut s, &mut c1, &mut c2], |i, ev| {
        if let Some(Event::BlockReceived { .. }) = events(ev) {
            got[i] += 1;
        }
        got[1] == cids.len() && got[2] == cids.len()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_blocks_of_256_kib() {
    const N: usize = 1000;
    const SIZE: usize = 256 << 10;
    let (mut a, mut b) = (node(Config::default()), node(Config::default()));
    connect(&mut a, &mut b).await;
    let mut cids = Vec::with_capacity(N);
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let mut buf = vec![0u8; SIZE];
    for _ in 0..N {
        rng.fill(&mut buf[..]);
        cids.push(a.store.put(&buf, codecs::RAW));
    }
    let expected: HashSet<Cid> = cids.iter().copied().collect();
    // The server runs on its own task, as it would in a node.
    let mut server = a.swarm;
    let server_task = tokio::spawn(async move {
        loop {
            let _ = server.select_next_some().await;
        }
    });
    let start = Instant::now();
    for cid in &cids {
        b.swarm.behaviour_mut().want(*cid, &[a.id]);
    }
    let mut received = HashSet::new();
    let mut bytes = 0usize;
    let deadline = Instant::now() + Duration::from_secs(120);
    while received.len() < N {
        assert!(Instant::now() < deadline, "only {} blocks", received.len());
        let ev = tokio::time::timeout(Duration::from_secs(30), b.swarm.select_next_some())
            .await
            .expect("stalled");
        match ev {
            SwarmEvent::Behaviour(Event::BlockReceived { cid, data, .. }) => {
                assert!(expected.contains(&cid));
                assert_eq!(data.len(), SIZE);
                bytes += data.len();
                assert!(received.insert(cid), "duplicate block");
            }
            SwarmEvent::Behaviour(e @ (Event::BadBlock { .. } | Event::BadMessage { .. })) => {
                panic!("{e:?}")
            }
            _ => {}
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "bitswap over TCP loopback: {N} blocks of {} KiB = {:.0} MiB in {secs:.2} s = {:.1} MiB/s",
        SIZE >> 10,
        bytes as f64 / (1 << 20) as f64,
        bytes as f64 / (1 << 20) as f64 / secs
    );
    assert!(b.swarm.behaviour().wantlist().is_empty());
    server_task.abort();
}

/// The next event of any of `nodes`.
async fn next_event(nodes: &mut [&mut Node]) -> (usize, SwarmEvent<Event>) {
    let futs = nodes
        .iter_mut()
        .map(|n| n.swarm.select_next_some())
        .collect::<Vec<_>>();
    let (ev, i, _) =
        tokio::time::timeout(Duration::from_secs(30), futures::future::select_all(futs))
            .await
            .expect("no event in 30 s");
    (i, ev)
}

#[tokio::test]
async fn session_splits_wants_and_routes_around_dont_have() {
    let mut c = node(Config::default());
    let (mut p1, mut p2) = (node(Config::default()), node(Config::default()));
    connect(&mut p1, &mut c).await;
    connect(&mut p2, &mut c).await;
    // p2 has every block, p1 only the even ones.
    let cids: Vec<Cid> = (0..30)
        .map(|i| {
            let data = random_bytes(16 << 10, 1000 + i);
            if i % 2 == 0 {
                p1.store.put(&data, codecs::RAW);
            }
            p2.store.put(&data, codecs::RAW)
        })
        .collect();
    let mut session = ferrite_bitswap::Session::new(&[p1.id, p2.id], 4);
    for cid in &cids {
        session.want(*cid);
    }
    session.dispatch(c.swarm.behaviour_mut());
    let mut got = HashSet::new();
    let mut from = HashMap::<PeerId, usize>::new();
    while !session.is_done() {
        let (i, ev) = next_event(&mut [&mut c, &mut p1, &mut p2]).await;
        let Some(ev) = events(ev) else { continue };
        if i != 0 {
            continue;
        }
        if let Event::BlockReceived { cid, from: f, .. } = &ev {
            got.insert(*cid);
            *from.entry(*f).or_default() += 1;
        }
        if let ferrite_bitswap::SessionUpdate::Failed(cid) =
            session.on_event(c.swarm.behaviour_mut(), &ev)
        {
            panic!("{cid} failed although p2 has it");
        }
    }
    assert_eq!(got.len(), cids.len());
    assert!(session.failed().is_empty());
    // Both providers did part of the work.
    assert!(from.get(&p1.id).copied().unwrap_or(0) > 0, "{from:?}");
    assert!(from.get(&p2.id).copied().unwrap_or(0) > 0, "{from:?}");
}

#[tokio::test]
async fn session_gives_up_when_every_provider_refuses() {
    let (mut c, mut p1) = (node(Config::default()), node(Config::default()));
    connect(&mut p1, &mut c).await;
    let missing = Cid::new_v1(codecs::RAW, HashAlg::Sha2_256.digest(b"nobody has this"));
    let mut session = ferrite_bitswap::Session::new(&[p1.id], 4);
    session.want(missing);
    session.dispatch(c.swarm.behaviour_mut());
    loop {
        let (i, ev) = next_event(&mut [&mut c, &mut p1]).await;
        let Some(ev) = events(ev) else { continue };
        if i == 0
            && session.on_event(c.swarm.behaviour_mut(), &ev)
                == ferrite_bitswap::SessionUpdate::Failed(missing)
        {
            break;
        }
    }
    assert!(session.is_done());
    assert_eq!(session.failed(), &[missing]);
    // The behaviour no longer wants it.
    assert!(c.swarm.behaviour().wantlist().is_empty());
}
