//! A minimal Bitswap node for interop checks against Kubo (loopback only).
//!
//! ```text
//! bitswap_probe fetch /ip4/127.0.0.1/tcp/N/p2p/PEER CID
//!     dial PEER, fetch CID and, for dag-pb blocks, every block it links to;
//!     print one line per block and a summary, exit 0 when all arrived verified
//! bitswap_probe serve FILE
//!     listen on 127.0.0.1, serve FILE imported as UnixFS with Kubo's defaults
//!     (CIDv0, 256 KiB chunks); print "ready MULTIADDR/p2p/PEER ROOT-CID", run
//!     until stdin closes, then print the ledgers
//! ```

use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrite_bitswap::{Behaviour, BlockStore, Cid, Config, Event};
use ferrite_ipld::{codecs, dagpb::PbNode};
use futures::StreamExt;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{identify, Multiaddr, PeerId};

#[derive(Default)]
struct MemStore(Mutex<HashMap<Cid, Bytes>>);

impl BlockStore for MemStore {
    fn get(&self, cid: &Cid) -> Option<Bytes> {
        self.0.lock().unwrap().get(cid).cloned()
    }
}

/// Kubo learns our protocols through identify, so run it beside Bitswap.
#[derive(NetworkBehaviour)]
struct Probe {
    bitswap: Behaviour,
    identify: identify::Behaviour,
}

fn is_loopback(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| match p {
        libp2p::multiaddr::Protocol::Ip4(ip) => ip.is_loopback(),
        libp2p::multiaddr::Protocol::Ip6(ip) => ip.is_loopback(),
        _ => false,
    })
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let store = Arc::new(MemStore::default());
    let s = store.clone();
    let mut swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default().nodelay(true),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .expect("tcp transport")
        .with_behaviour(|key| Probe {
            bitswap: Behaviour::new(s, Config::default()),
            identify: identify::Behaviour::new(identify::Config::new(
                "ipfs/0.1.0".into(),
                key.public(),
            )),
        })
        .expect("behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();

    match args.first().map(String::as_str) {
        Some("fetch") if args.len() == 3 => {
            let addr: Multiaddr = args[1].parse().expect("multiaddr");
            assert!(is_loopback(&addr), "loopback addresses only");
            let peer = match addr.iter().last() {
                Some(libp2p::multiaddr::Protocol::P2p(p)) => p,
                _ => panic!("the address must end in /p2p/PEER"),
            };
            let root: Cid = Cid::try_from(args[2].as_str()).expect("cid");
            swarm.dial(addr).expect("dial");
            fetch(&mut swarm, peer, root).await;
        }
        Some("serve") if args.len() == 2 => {
            let file = std::fs::File::open(&args[1]).expect("open file");
            let mut blocks: HashMap<Cid, Bytes> = HashMap::new();
            let root = ferrite_unixfs::import::import_file(
                std::io::BufReader::new(file),
                &Default::default(),
                &mut blocks,
                &mut |_| {},
            )
            .expect("import")
            .cid;
            store.0.lock().unwrap().extend(blocks);
            swarm
                .listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap())
                .unwrap();
            serve(&mut swarm, root).await;
        }
        _ => {
            eprintln!("usage: bitswap_probe fetch MULTIADDR/p2p/PEER CID | serve FILE");
            std::process::exit(2);
        }
    }
}

async fn fetch(swarm: &mut libp2p::Swarm<Probe>, peer: PeerId, root: Cid) {
    let start = Instant::now();
    let mut pending: HashSet<Cid> = HashSet::from([root]);
    swarm.behaviour_mut().bitswap.want(root, &[peer]);
    let (mut blocks, mut bytes) = (0usize, 0usize);
    while !pending.is_empty() {
        let ev = tokio::time::timeout(Duration::from_secs(60), swarm.select_next_some())
            .await
            .expect("no progress in 60 s");
        match ev {
            SwarmEvent::Behaviour(ProbeEvent::Bitswap(Event::BlockReceived {
                cid,
                data,
                from,
            })) => {
                assert!(pending.remove(&cid), "unexpected {cid}");
                blocks += 1;
                bytes += data.len();
                println!("block {cid} {} bytes from {from}", data.len());
                if cid.codec() == codecs::DAG_PB {
                    for link in PbNode::links_of(&data).expect("dag-pb") {
                        if pending.insert(link) {
                            swarm.behaviour_mut().bitswap.want(link, &[peer]);
                        }
                    }
                }
            }
            SwarmEvent::Behaviour(ProbeEvent::Bitswap(e)) => println!("event {e:?}"),
            SwarmEvent::ConnectionClosed { cause, .. } => panic!("connection closed: {cause:?}"),
            _ => {}
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "fetched {blocks} blocks, {bytes} bytes in {secs:.2} s ({:.1} MiB/s)",
        bytes as f64 / (1 << 20) as f64 / secs
    );
}

async fn serve(swarm: &mut libp2p::Swarm<Probe>, cid: Cid) {
    // stdin closing ends the probe.
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        for _ in std::io::stdin().lock().lines() {}
        let _ = tx.send(());
    });
    loop {
        tokio::select! {
            ev = swarm.select_next_some() => match ev {
                SwarmEvent::NewListenAddr { address, .. } => {
                    println!("ready {address}/p2p/{} {cid}", swarm.local_peer_id());
                }
                SwarmEvent::Behaviour(ProbeEvent::Bitswap(e)) => println!("event {e:?}"),
                SwarmEvent::ConnectionEstablished { peer_id, .. } => println!("connected {peer_id}"),
                _ => {}
            },
            _ = &mut rx => break,
        }
    }
    let peers: Vec<PeerId> = swarm.connected_peers().copied().collect();
    for p in peers {
        if let Some(l) = swarm.behaviour().bitswap.ledger(&p) {
            println!("ledger {p} {l:?}");
        }
    }
}
