//! The DHT on 127.0.0.1: persistent provider records, batched providing in
//! a 10-node network, restarts, the peerstore.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ferrite_p2p::libp2p::futures::{AsyncReadExt as _, AsyncWriteExt as _};
use ferrite_p2p::libp2p::identity::Keypair;
use ferrite_p2p::libp2p::kad::store::RecordStore;
use ferrite_p2p::libp2p::kad::{self, ProviderRecord, RecordKey};
use ferrite_p2p::libp2p::swarm::{dummy, SwarmEvent};
use ferrite_p2p::libp2p::{Multiaddr, PeerId};
use ferrite_p2p::{
    load_peers, save_peers, BehaviourEvent, Host, HostBuilder, HostConfig, LocalProviders,
    PeerAddrs, ProvideEvent, ProvideReport, ProviderStore, ProviderStoreConfig,
};
use tokio::sync::{mpsc, oneshot};

type H = Host<dummy::Behaviour>;
type Cmd = Box<dyn FnOnce(&mut H) + Send>;

/// Events a node task forwards to the test.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum Ev {
    Listen(Multiaddr),
    Kad(kad::Event),
    Finished(ProvideReport),
    Raw(PeerId, Result<ferrite_p2p::libp2p::Stream, String>),
}

struct Node {
    id: PeerId,
    addr: Multiaddr,
    tx: mpsc::UnboundedSender<Cmd>,
    rx: mpsc::UnboundedReceiver<Ev>,
    task: tokio::task::JoinHandle<()>,
}

impl Node {
    async fn start(config: HostConfig, keypair: Keypair) -> Node {
        let mut host = HostBuilder::new(keypair, config).build().unwrap();
        let id = host.local_peer_id();
        let (tx, mut cmd_rx) = mpsc::unbounded_channel::<Cmd>();
        let (ev_tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    cmd = cmd_rx.recv() => match cmd {
                        Some(f) => f(&mut host),
                        None => return,
                    },
                    ev = host.next_event() => {
                        let fwd = match ev {
                            SwarmEvent::NewListenAddr { address, .. } => Some(Ev::Listen(address)),
                            SwarmEvent::Behaviour(BehaviourEvent::Kad(
                                e @ kad::Event::OutboundQueryProgressed { .. },
                            )) => Some(Ev::Kad(e)),
                            SwarmEvent::Behaviour(BehaviourEvent::Provide(
                                ProvideEvent::Finished(r),
                            )) => Some(Ev::Finished(r)),
                            SwarmEvent::Behaviour(BehaviourEvent::Provide(
                                ProvideEvent::RawStream { peer, stream, .. },
                            )) => Some(Ev::Raw(peer, stream)),
                            _ => None,
                        };
                        if let Some(e) = fwd {
                            let _ = ev_tx.send(e);
                        }
                    }
                }
            }
        });
        let mut node = Node {
            id,
            addr: "/ip4/127.0.0.1/tcp/1".parse().unwrap(),
            tx,
            rx,
            task,
        };
        node.addr = node
            .wait(10, |e| match e {
                Ev::Listen(a) => Some(a),
                _ => None,
            })
            .await;
        node
    }

    /// Runs `f` on the node's task and returns its result.
    async fn call<T: Send + 'static>(&self, f: impl FnOnce(&mut H) -> T + Send + 'static) -> T {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Box::new(move |h: &mut H| {
                let _ = tx.send(f(h));
            }))
            .unwrap_or_else(|_| panic!("node stopped"));
        rx.await.expect("node stopped")
    }

    async fn wait<T>(&mut self, secs: u64, mut f: impl FnMut(Ev) -> Option<T>) -> T {
        tokio::time::timeout(Duration::from_secs(secs), async {
            loop {
                let e = self.rx.recv().await.expect("node stopped");
                if let Some(t) = f(e) {
                    return t;
                }
            }
        })
        .await
        .expect("timed out waiting for a node event")
    }

    async fn stop(self) {
        drop(self.tx);
        let _ = self.task.await;
    }
}

fn config() -> HostConfig {
    common::config(None)
}

fn random_key() -> RecordKey {
    // A sha2-256 multihash of nothing in particular.
    let mut k = vec![0x12, 0x20];
    k.extend_from_slice(&rand::random::<[u8; 32]>());
    RecordKey::new(&k)
}

/// Bootstraps `node` through `to` and waits for the bootstrap to end.
async fn bootstrap(node: &mut Node, to: &Node) {
    let (peer, addr) = (to.id, to.addr.clone());
    let q = node
        .call(move |h| {
            h.behaviour_mut().kad.add_address(&peer, addr);
            h.behaviour_mut().kad.bootstrap().unwrap()
        })
        .await;
    node.wait(30, |e| match e {
        Ev::Kad(kad::Event::OutboundQueryProgressed {
            id,
            result: kad::QueryResult::Bootstrap(_),
            step,
            ..
        }) if id == q && step.last => Some(()),
        _ => None,
    })
    .await;
}

/// Runs kad `get_providers` on `node` and returns the providers found.
async fn get_providers(node: &mut Node, key: RecordKey) -> Vec<PeerId> {
    let q = node
        .call(move |h| h.behaviour_mut().kad.get_providers(key))
        .await;
    let mut found = Vec::new();
    node.wait(30, |e| match e {
        Ev::Kad(kad::Event::OutboundQueryProgressed {
            id, result, step, ..
        }) if id == q => {
            if let kad::QueryResult::GetProviders(Ok(kad::GetProvidersOk::FoundProviders {
                providers,
                ..
            })) = result
            {
                found.extend(providers);
            }
            step.last.then_some(())
        }
        _ => None,
    })
    .await;
    found.sort();
    found.dedup();
    found
}

// --- A raw GET_PROVIDERS client, to see what goes over the wire. --------

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn read_varint(b: &mut &[u8]) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = b[0];
        *b = &b[1..];
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            break;
        }
    }
    v
}

/// Protobuf fields of one message: (field, wire type, varint or bytes).
fn fields(mut b: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let tag = read_varint(&mut b);
        match tag & 7 {
            0 => {
                let v = read_varint(&mut b);
                out.push((tag >> 3, v.to_le_bytes().to_vec()));
            }
            2 => {
                let len = read_varint(&mut b) as usize;
                out.push((tag >> 3, b[..len].to_vec()));
                b = &b[len..];
            }
            t => panic!("unexpected wire type {t}"),
        }
    }
    out
}

/// Sends GET_PROVIDERS for `key` from `from` to `to` on a raw stream and
/// returns the provider peers with their addresses.
async fn raw_get_providers(
    from: &mut Node,
    to: &Node,
    key: &RecordKey,
) -> Vec<(PeerId, Vec<Multiaddr>)> {
    let (peer, addr) = (to.id, to.addr.clone());
    from.call(move |h| h.behaviour_mut().provide.open_raw(peer, vec![addr]))
        .await;
    let mut stream = from
        .wait(20, |e| match e {
            Ev::Raw(p, s) if p == peer => Some(s),
            _ => None,
        })
        .await
        .expect("raw stream");
    let mut msg = vec![0x08, 3]; // type = GET_PROVIDERS
    msg.push(0x12);
    varint(&mut msg, key.as_ref().len() as u64);
    msg.extend_from_slice(key.as_ref());
    let mut frame = Vec::new();
    varint(&mut frame, msg.len() as u64);
    frame.extend_from_slice(&msg);
    stream.write_all(&frame).await.unwrap();
    stream.flush().await.unwrap();
    // Read one length-prefixed response.
    let mut len_bytes = Vec::new();
    loop {
        let mut b = [0u8; 1];
        stream.read_exact(&mut b).await.unwrap();
        len_bytes.push(b[0]);
        if b[0] < 0x80 {
            break;
        }
    }
    let len = read_varint(&mut len_bytes.as_slice()) as usize;
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await.unwrap();
    fields(&body)
        .into_iter()
        .filter(|(f, _)| *f == 9)
        .map(|(_, peer)| {
            let pf = fields(&peer);
            let id = PeerId::from_bytes(&pf.iter().find(|(f, _)| *f == 1).unwrap().1).unwrap();
            let addrs = pf
                .iter()
                .filter(|(f, _)| *f == 2)
                .map(|(_, a)| Multiaddr::try_from(a.clone()).unwrap())
                .collect();
            (id, addrs)
        })
        .collect()
}

// --- Tests ---------------------------------------------------------------

fn record(key: &RecordKey, provider: PeerId, ttl: Duration) -> ProviderRecord {
    ProviderRecord {
        key: key.clone(),
        provider,
        expires: Some(Instant::now() + ttl),
        addresses: vec!["/ip4/127.0.0.1/tcp/4001".parse().unwrap()],
    }
}

#[test]
fn provider_records_persist_across_reopen_and_expire() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("providers.redb");
    let local = PeerId::random();
    let remote = PeerId::random();
    let keys: Vec<RecordKey> = (0..5000).map(|_| random_key()).collect();
    let short = random_key();
    {
        let mut store = ProviderStore::open(&path, local, ProviderStoreConfig::default()).unwrap();
        for k in &keys {
            store
                .add_provider(record(k, remote, Duration::from_secs(48 * 3600)))
                .unwrap();
        }
        store
            .add_provider(record(&short, remote, Duration::from_millis(1500)))
            .unwrap();
        // Our own records are not persisted (we reprovide ourselves).
        store
            .add_provider(record(&keys[0], local, Duration::from_secs(3600)))
            .unwrap();
        assert_eq!(store.providers(&keys[0]).len(), 2);
        assert_eq!(store.provider_record_count(), 5001);
    }
    let mut store = ProviderStore::open(&path, local, ProviderStoreConfig::default()).unwrap();
    assert_eq!(
        store.provider_record_count(),
        5001,
        "more than 1024 keys kept"
    );
    for k in keys.iter().step_by(97) {
        let p = store.providers(k);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].provider, remote);
        assert_eq!(p[0].addresses.len(), 1);
        let left = p[0].expires.unwrap() - Instant::now();
        assert!(left > Duration::from_secs(47 * 3600), "{left:?}");
    }
    assert_eq!(store.providers(&short).len(), 1);
    std::thread::sleep(Duration::from_millis(1600));
    assert!(store.providers(&short).is_empty(), "expired on read");
    assert_eq!(store.sweep_expired().unwrap(), 1);
    assert_eq!(store.provider_record_count(), 5000);
    drop(store);
    // Expired at open too.
    {
        let mut store = ProviderStore::open(&path, local, ProviderStoreConfig::default()).unwrap();
        store
            .add_provider(record(&short, remote, Duration::from_millis(200)))
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let store = ProviderStore::open(&path, local, ProviderStoreConfig::default()).unwrap();
    assert_eq!(store.provider_record_count(), 5000);
    // Removal and the local predicate.
    let mut store = store;
    store.remove_provider(&keys[1], &remote);
    assert!(store.providers(&keys[1]).is_empty());
    let wanted = keys[2].clone();
    store.set_local_provider(Some(LocalProviders::new(move |k| *k == wanted)));
    let p = store.providers(&keys[2]);
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].provider, local);
    assert!(p[0].addresses.is_empty(), "kad fills in our addresses");
    assert_eq!(store.provided().count(), 0);
}

#[test]
fn in_memory_store_has_no_small_cap() {
    let mut store = ProviderStore::in_memory(PeerId::random());
    let remote = PeerId::random();
    for _ in 0..20_000 {
        store
            .add_provider(record(&random_key(), remote, Duration::from_secs(60)))
            .unwrap();
    }
    assert_eq!(store.all_provider_records().len(), 20_000);
}

/// Starts `n` server nodes, each bootstrapped through the previous one.
async fn network(n: usize) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    for i in 0..n {
        let mut node = Node::start(config(), Keypair::generate_ed25519()).await;
        if i > 0 {
            bootstrap(&mut node, &nodes[i - 1]).await;
        }
        nodes.push(node);
    }
    // A second round so early nodes know the later ones too.
    for i in 0..n {
        let (head, tail) = nodes.split_at_mut(i);
        let to = if i == 0 { &tail[1] } else { &head[i - 1] };
        let (peer, addr) = (to.id, to.addr.clone());
        let node = &mut tail[0];
        let q = node
            .call(move |h| {
                h.behaviour_mut().kad.add_address(&peer, addr);
                h.behaviour_mut().kad.bootstrap().unwrap()
            })
            .await;
        node.wait(30, |e| match e {
            Ev::Kad(kad::Event::OutboundQueryProgressed {
                id,
                result: kad::QueryResult::Bootstrap(_),
                step,
                ..
            }) if id == q && step.last => Some(()),
            _ => None,
        })
        .await;
    }
    nodes
}

async fn provide(node: &mut Node, keys: Vec<RecordKey>) -> ProvideReport {
    let id = node.call(move |h| h.provide(keys)).await;
    node.wait(600, |e| match e {
        Ev::Finished(r) if r.id == id => Some(r),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_nodes_provide_100k_keys_in_batches() {
    let n_keys: usize = std::env::var("FERRITE_PROVIDE_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let mut nodes = network(10).await;
    let keys: Vec<RecordKey> = (0..n_keys).map(|_| random_key()).collect();
    let a = nodes.len() - 1;
    let a_id = nodes[a].id;
    let a_addr = nodes[a].addr.clone();
    let started = Instant::now();
    let report = provide(&mut nodes[a], keys.clone()).await;
    let elapsed = started.elapsed();
    println!(
        "PROVIDE keys={} lookups={} peers={} peers_failed={} records_sent={} streams={} elapsed_ms={} (report {:?})",
        report.keys,
        report.lookups,
        report.peers,
        report.peers_failed,
        report.records_sent,
        report.streams,
        elapsed.as_millis(),
        report.elapsed
    );
    assert_eq!(report.keys, n_keys);
    assert_eq!(report.keys_failed, 0);
    assert_eq!(report.keys_provided, n_keys);
    assert!(report.lookups <= 3, "{} lookups", report.lookups);
    assert_eq!(report.peers, 9);
    assert_eq!(report.records_sent, 9 * n_keys as u64);
    assert!(elapsed < Duration::from_secs(300), "{elapsed:?}");

    // Every other node stored the records (with A's address) once it has
    // processed the stream; wait for the last one.
    for node in &nodes[..a] {
        let probe = keys[n_keys - 1].clone();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let p = probe.clone();
            let recs = node
                .call(move |h| h.behaviour_mut().kad.store_mut().providers(&p))
                .await;
            if let Some(r) = recs.iter().find(|r| r.provider == a_id) {
                assert!(r.addresses.contains(&a_addr), "{:?}", r.addresses);
                break;
            }
            assert!(Instant::now() < deadline, "record not stored");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let counts: Vec<u64> = {
        let mut v = Vec::new();
        for node in &nodes[..a] {
            v.push(
                node.call(|h| h.behaviour_mut().kad.store_mut().provider_record_count())
                    .await,
            );
        }
        v
    };
    assert!(counts.iter().all(|c| *c == n_keys as u64), "{counts:?}");

    // kad's get_providers from other nodes finds A; over the wire, a
    // GET_PROVIDERS answer carries A's address.
    for (i, key) in keys.iter().step_by(n_keys / 10).take(10).enumerate() {
        let found = get_providers(&mut nodes[i % a], key.clone()).await;
        assert!(found.contains(&a_id), "key {i}: {found:?}");
    }
    let (first, rest) = nodes.split_at_mut(1);
    let answer = raw_get_providers(&mut first[0], &rest[0], &keys[7]).await;
    assert!(
        answer
            .iter()
            .any(|(p, addrs)| *p == a_id && addrs.contains(&a_addr)),
        "{answer:?}"
    );

    // A second batch reuses nothing but is just as cheap.
    let more: Vec<RecordKey> = (0..1000).map(|_| random_key()).collect();
    let r2 = provide(&mut nodes[a], more).await;
    assert!(r2.lookups <= 3, "{r2:?}");
    for n in nodes {
        n.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_predicate_answers_get_providers_with_our_addresses() {
    let mut cfg = config();
    let ours = random_key();
    let o = ours.clone();
    cfg.local_provider = Some(LocalProviders::new(move |k| *k == o));
    let server = Node::start(cfg, Keypair::generate_ed25519()).await;
    let mut client = Node::start(config(), Keypair::generate_ed25519()).await;
    let answer = raw_get_providers(&mut client, &server, &ours).await;
    assert_eq!(answer.len(), 1, "{answer:?}");
    assert_eq!(answer[0].0, server.id);
    assert!(answer[0].1.contains(&server.addr), "{answer:?}");
    let none = raw_get_providers(&mut client, &server, &random_key()).await;
    assert!(none.is_empty());
    client.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_node_keeps_provider_records() {
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = dir.path().join("providers.redb");
    let keypair = Keypair::generate_ed25519();
    let mut cfg = config();
    cfg.provider_db = Some(db.clone());
    cfg.peerstore = Some(dir.path().join("peers.json"));
    let b = Node::start(cfg.clone(), keypair.clone()).await;
    let mut a = Node::start(config(), Keypair::generate_ed25519()).await;
    bootstrap(&mut a, &b).await;
    let keys: Vec<RecordKey> = (0..2000).map(|_| random_key()).collect();
    let report = provide(&mut a, keys.clone()).await;
    assert_eq!(report.lookups, 1, "{report:?}");
    assert_eq!(report.records_sent, 2000);
    let a_id = a.id;
    let last = keys[1999].clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let k = last.clone();
        let n = b
            .call(move |h| h.behaviour_mut().kad.store_mut().providers(&k).len())
            .await;
        if n == 1 {
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.stop().await;

    // Same identity, same database, new port.
    let b = Node::start(cfg, keypair).await;
    // It remembers A from the peerstore.
    let known = b
        .call(move |h| h.known_peers(100).iter().any(|p| p.peer == a_id && p.dht))
        .await;
    assert!(known, "A not loaded from the peerstore");
    let mut c = Node::start(config(), Keypair::generate_ed25519()).await;
    for k in [&keys[0], &keys[999], &keys[1999]] {
        let answer = raw_get_providers(&mut c, &b, k).await;
        assert!(
            answer
                .iter()
                .any(|(p, addrs)| *p == a_id && !addrs.is_empty()),
            "{answer:?}"
        );
    }
    c.stop().await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn peerstore_roundtrip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("peers.json");
    assert!(
        load_peers(&path).unwrap().is_empty(),
        "missing file is empty"
    );
    let peers: Vec<PeerAddrs> = (0..1200)
        .map(|i| PeerAddrs {
            peer: PeerId::random(),
            addrs: vec![format!("/ip4/127.0.0.1/tcp/{}", 1000 + i).parse().unwrap()],
            dht: i % 2 == 0,
        })
        .collect();
    save_peers(&path, &peers).unwrap();
    let back = load_peers(&path).unwrap();
    assert_eq!(back.len(), 1000, "capped");
    assert_eq!(back[..], peers[..1000]);
    // A host loads the DHT peers into its routing table.
    let mut host = HostBuilder::new(Keypair::generate_ed25519(), config())
        .build()
        .unwrap();
    assert_eq!(host.load_peerstore(&path).unwrap(), 1000);
    let known = host.known_peers(2000);
    let dht: HashMap<PeerId, bool> = known.iter().map(|p| (p.peer, p.dht)).collect();
    assert!(dht.len() >= 100, "{}", dht.len());
    assert!(peers[..1000]
        .iter()
        .filter(|p| !p.dht)
        .all(|p| dht.get(&p.peer) == Some(&false)));
    let saved = host.save_peerstore(&path).unwrap();
    assert_eq!(load_peers(&path).unwrap().len(), saved);
}
