//! A hostile peer: libp2p clients that speak Ferrite's protocols badly on
//! purpose (issue 14). Used by `tests/hostile.rs` and by the
//! `hostile_peer` example; every attack dials one target multiaddr (which
//! must be loopback) and returns a one-line summary of what it did.
#![allow(dead_code, unreachable_pub)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrite_bitswap::message::{write_frame, Block, WantEntry, MAX_MESSAGE_SIZE};
use ferrite_bitswap::{BlockStore, Cid, Message, Version, WantType};
use ferrite_ipld::{codecs, dagpb::PbNode, HashAlg};
use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::core::transport::PortUse;
use libp2p::core::upgrade::{InboundUpgrade, OutboundUpgrade, UpgradeInfo};
use libp2p::core::Endpoint;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::handler::{
    ConnectionEvent, DialUpgradeError, FullyNegotiatedInbound, FullyNegotiatedOutbound,
};
use libp2p::swarm::{
    ConnectionDenied, ConnectionHandler, ConnectionHandlerEvent, ConnectionId, FromSwarm,
    NetworkBehaviour, NotifyHandler, Stream, StreamProtocol, SubstreamProtocol, SwarmEvent,
    THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{kad, Multiaddr, PeerId, Swarm};
use tokio::sync::{mpsc, oneshot};

/// The protocol every raw Bitswap attack speaks.
pub const BITSWAP: &str = "/ipfs/bitswap/1.2.0";
/// The IPFS DHT protocol.
pub const KAD: &str = "/ipfs/kad/1.0.0";

/// The node under attack.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: Multiaddr,
    pub peer: PeerId,
}

impl Target {
    /// Parses `/ip4/127.0.0.1/tcp/N/p2p/PEER`; only loopback addresses.
    pub fn parse(s: &str) -> Result<Target, String> {
        let addr: Multiaddr = s.parse().map_err(|e| format!("{s}: {e}"))?;
        let loopback = addr.iter().any(|p| match p {
            libp2p::multiaddr::Protocol::Ip4(ip) => ip.is_loopback(),
            libp2p::multiaddr::Protocol::Ip6(ip) => ip.is_loopback(),
            _ => false,
        });
        if !loopback {
            return Err(format!("{s}: loopback addresses only"));
        }
        match addr.iter().last() {
            Some(libp2p::multiaddr::Protocol::P2p(peer)) => Ok(Target { addr, peer }),
            _ => Err(format!("{s}: the address must end in /p2p/PEER")),
        }
    }
}

// ---------------------------------------------------------------------------
// Raw streams: a behaviour that opens outbound streams of any protocol on
// request and hands them out, and accepts inbound streams of the protocols
// it is told to (handing those out too, for the slow reader to never read).

/// Negotiates any of the given protocols.
#[derive(Debug, Clone)]
pub struct Protos(Vec<StreamProtocol>);

impl UpgradeInfo for Protos {
    type Info = StreamProtocol;
    type InfoIter = std::vec::IntoIter<StreamProtocol>;
    fn protocol_info(&self) -> Self::InfoIter {
        self.0.clone().into_iter()
    }
}

impl InboundUpgrade<Stream> for Protos {
    type Output = Stream;
    type Error = std::convert::Infallible;
    type Future = futures::future::Ready<Result<Stream, Self::Error>>;
    fn upgrade_inbound(self, s: Stream, _: StreamProtocol) -> Self::Future {
        futures::future::ready(Ok(s))
    }
}

impl OutboundUpgrade<Stream> for Protos {
    type Output = Stream;
    type Error = std::convert::Infallible;
    type Future = futures::future::Ready<Result<Stream, Self::Error>>;
    fn upgrade_outbound(self, s: Stream, _: StreamProtocol) -> Self::Future {
        futures::future::ready(Ok(s))
    }
}

type Opened = oneshot::Sender<Result<Stream, String>>;
type InboundTx = mpsc::UnboundedSender<(PeerId, Stream)>;

#[derive(Debug)]
pub enum RawOut {
    Opened(u64, Stream),
    Failed(u64, String),
    Inbound(Stream),
}

pub struct RawHandler {
    inbound: Vec<StreamProtocol>,
    requests: VecDeque<(u64, StreamProtocol)>,
    events: VecDeque<RawOut>,
}

impl ConnectionHandler for RawHandler {
    type FromBehaviour = (u64, StreamProtocol);
    type ToBehaviour = RawOut;
    type InboundProtocol = Protos;
    type OutboundProtocol = Protos;
    type InboundOpenInfo = ();
    type OutboundOpenInfo = u64;

    fn listen_protocol(&self) -> SubstreamProtocol<Protos, ()> {
        SubstreamProtocol::new(Protos(self.inbound.clone()), ())
    }

    fn on_behaviour_event(&mut self, req: (u64, StreamProtocol)) {
        self.requests.push_back(req);
    }

    fn on_connection_event(&mut self, event: ConnectionEvent<'_, Protos, Protos, (), u64>) {
        match event {
            ConnectionEvent::FullyNegotiatedInbound(FullyNegotiatedInbound {
                protocol, ..
            }) => self.events.push_back(RawOut::Inbound(protocol)),
            ConnectionEvent::FullyNegotiatedOutbound(FullyNegotiatedOutbound {
                protocol,
                info,
            }) => self.events.push_back(RawOut::Opened(info, protocol)),
            ConnectionEvent::DialUpgradeError(DialUpgradeError { info, error }) => self
                .events
                .push_back(RawOut::Failed(info, format!("{error:?}"))),
            _ => {}
        }
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ConnectionHandlerEvent<Protos, u64, RawOut>> {
        if let Some(e) = self.events.pop_front() {
            return Poll::Ready(ConnectionHandlerEvent::NotifyBehaviour(e));
        }
        if let Some((id, p)) = self.requests.pop_front() {
            return Poll::Ready(ConnectionHandlerEvent::OutboundSubstreamRequest {
                protocol: SubstreamProtocol::new(Protos(vec![p]), id)
                    .with_timeout(Duration::from_secs(10)),
            });
        }
        Poll::Pending
    }
}

/// Opens raw streams on request; see [`Raw::open`].
#[derive(Default)]
pub struct Raw {
    inbound: Vec<StreamProtocol>,
    next: u64,
    waiting: HashMap<u64, Opened>,
    pending: VecDeque<ToSwarm<(), (u64, StreamProtocol)>>,
    inbound_tx: Option<InboundTx>,
}

impl Raw {
    /// Opens a stream of `proto` on connection `conn` to `peer`.
    pub fn open(
        &mut self,
        peer: PeerId,
        conn: ConnectionId,
        proto: &'static str,
    ) -> oneshot::Receiver<Result<Stream, String>> {
        let (tx, rx) = oneshot::channel();
        self.next += 1;
        self.waiting.insert(self.next, tx);
        self.pending.push_back(ToSwarm::NotifyHandler {
            peer_id: peer,
            handler: NotifyHandler::One(conn),
            event: (self.next, StreamProtocol::new(proto)),
        });
        rx
    }
}

impl NetworkBehaviour for Raw {
    type ConnectionHandler = RawHandler;
    type ToSwarm = ();

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.handler())
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.handler())
    }

    fn on_swarm_event(&mut self, _: FromSwarm) {}

    fn on_connection_handler_event(
        &mut self,
        peer: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {
            RawOut::Opened(id, s) => {
                if let Some(tx) = self.waiting.remove(&id) {
                    let _ = tx.send(Ok(s));
                }
            }
            RawOut::Failed(id, e) => {
                if let Some(tx) = self.waiting.remove(&id) {
                    let _ = tx.send(Err(e));
                }
            }
            RawOut::Inbound(s) => {
                if let Some(tx) = &self.inbound_tx {
                    let _ = tx.send((peer, s));
                }
            }
        }
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<(), THandlerInEvent<Self>>> {
        match self.pending.pop_front() {
            Some(e) => Poll::Ready(e),
            None => Poll::Pending,
        }
    }
}

impl Raw {
    fn handler(&self) -> RawHandler {
        RawHandler {
            inbound: self.inbound.clone(),
            requests: VecDeque::new(),
            events: VecDeque::new(),
        }
    }
}

// ---------------------------------------------------------------------------
// The hostile swarm and a task that drives it.

/// Blocks in memory; with `forge` set, `get` answers garbage of the same
/// length instead (so our own Bitswap server sends blocks whose bytes do not
/// hash to their CID).
#[derive(Default)]
pub struct MemStore {
    blocks: Mutex<HashMap<Cid, Bytes>>,
    pub forge: AtomicBool,
}

impl BlockStore for MemStore {
    fn get(&self, cid: &Cid) -> Option<Bytes> {
        let b = self.blocks.lock().unwrap().get(cid).cloned()?;
        if self.forge.load(Ordering::SeqCst) {
            return Some(Bytes::from(random_bytes(b.len())));
        }
        Some(b)
    }
}

#[derive(NetworkBehaviour)]
pub struct Hostile {
    pub bitswap: Toggle<ferrite_bitswap::Behaviour>,
    pub kad: Toggle<kad::Behaviour<kad::store::MemoryStore>>,
    pub raw: Raw,
}

/// What a hostile swarm runs besides raw streams.
#[derive(Default)]
pub struct Parts {
    /// Our Bitswap behaviour, serving from this store.
    pub bitswap: Option<Arc<MemStore>>,
    /// Kademlia in client mode.
    pub kad: bool,
    /// Inbound protocols the raw behaviour accepts, handed out through this
    /// channel.
    pub raw_inbound: Option<(Vec<&'static str>, InboundTx)>,
}

pub fn swarm(parts: Parts) -> Swarm<Hostile> {
    libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default().nodelay(true),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .expect("tcp transport")
        .with_behaviour(|key| {
            let id = key.public().to_peer_id();
            let bitswap = parts
                .bitswap
                .map(|s| ferrite_bitswap::Behaviour::new(s, ferrite_bitswap::Config::default()));
            let kad = parts.kad.then(|| {
                let store = kad::store::MemoryStore::with_config(
                    id,
                    kad::store::MemoryStoreConfig {
                        max_records: 1_000_000,
                        max_provided_keys: 1_000_000,
                        ..Default::default()
                    },
                );
                let mut k = kad::Behaviour::with_config(
                    id,
                    store,
                    kad::Config::new(StreamProtocol::new(KAD)),
                );
                k.set_mode(Some(kad::Mode::Client));
                k
            });
            let mut raw = Raw::default();
            if let Some((protos, tx)) = parts.raw_inbound {
                raw.inbound = protos.into_iter().map(StreamProtocol::new).collect();
                raw.inbound_tx = Some(tx);
            }
            Hostile {
                bitswap: bitswap.into(),
                kad: kad.into(),
                raw,
            }
        })
        .expect("behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
        .build()
}

type Cmd = Box<dyn FnOnce(&mut Swarm<Hostile>) + Send>;

/// A hostile swarm running on its own task, commanded through closures.
pub struct Ctl {
    cmds: mpsc::UnboundedSender<Cmd>,
    pub events: mpsc::UnboundedReceiver<SwarmEvent<HostileEvent>>,
    pub id: PeerId,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Ctl {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Ctl {
    pub fn spawn(parts: Parts) -> Ctl {
        let mut swarm = swarm(parts);
        let id = *swarm.local_peer_id();
        let (cmds, mut rx) = mpsc::unbounded_channel::<Cmd>();
        let (tx, events) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    c = rx.recv() => match c {
                        Some(f) => f(&mut swarm),
                        None => break,
                    },
                    ev = swarm.select_next_some() => {
                        let _ = tx.send(ev);
                    }
                }
            }
        });
        Ctl {
            cmds,
            events,
            id,
            task,
        }
    }

    /// Runs `f` on the swarm and returns its result.
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Swarm<Hostile>) -> R + Send + 'static,
    ) -> R {
        let (tx, rx) = oneshot::channel();
        let _ = self.cmds.send(Box::new(move |s| {
            let _ = tx.send(f(s));
        }));
        rx.await.expect("swarm task gone")
    }

    /// Starts a new connection to `t` (even when one exists).
    pub async fn dial(&self, t: &Target) -> ConnectionId {
        let opts = DialOpts::peer_id(t.peer)
            .addresses(vec![t.addr.clone()])
            .condition(PeerCondition::Always)
            .build();
        let id = opts.connection_id();
        self.call(move |s| {
            let _ = s.dial(opts);
        })
        .await;
        id
    }

    /// Dials `t` and waits (10 s) for the connection, dropping other events.
    pub async fn connect(&mut self, t: &Target) -> Result<ConnectionId, String> {
        let id = self.dial(t).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Err(_) => return Err("connecting timed out".into()),
                Ok(None) => return Err("swarm gone".into()),
                Ok(Some(SwarmEvent::ConnectionEstablished { connection_id, .. }))
                    if connection_id == id =>
                {
                    return Ok(id)
                }
                Ok(Some(SwarmEvent::OutgoingConnectionError {
                    connection_id,
                    error,
                    ..
                })) if connection_id == id => return Err(error.to_string()),
                Ok(Some(_)) => {}
            }
        }
    }

    /// Opens a raw stream of `proto` on `conn`.
    pub async fn open(
        &self,
        peer: PeerId,
        conn: ConnectionId,
        proto: &'static str,
    ) -> Result<Stream, String> {
        let rx = self
            .call(move |s| s.behaviour_mut().raw.open(peer, conn, proto))
            .await;
        rx.await.map_err(|_| "connection gone".to_string())?
    }

    /// Drops queued events (so the channel does not grow).
    pub fn drain(&mut self) -> usize {
        let mut n = 0;
        while self.events.try_recv().is_ok() {
            n += 1;
        }
        n
    }
}

pub fn random_bytes(n: usize) -> Vec<u8> {
    use rand::RngCore;
    let mut v = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut v);
    v
}

/// The raw-codec CID of `data`.
pub fn raw_cid(data: &[u8]) -> Cid {
    Cid::new_v1(codecs::RAW, HashAlg::Sha2_256.digest(data))
}

fn want(cid: Cid, want_type: WantType) -> WantEntry {
    WantEntry {
        cid,
        priority: 1,
        cancel: false,
        want_type,
        send_dont_have: true,
    }
}

fn frame(m: &Message) -> Vec<u8> {
    m.encode(Version::V1_2_0)
}

// ---------------------------------------------------------------------------
// The honest peer.

/// An honest fetch: a fresh Bitswap client dials `t` and fetches `root` and
/// every block it links to. Returns the time taken and the CIDs fetched.
pub async fn fetch(t: &Target, root: Cid) -> Result<(Duration, Vec<Cid>), String> {
    let start = Instant::now();
    let mut ctl = Ctl::spawn(Parts {
        bitswap: Some(Arc::new(MemStore::default())),
        ..Default::default()
    });
    ctl.connect(t).await?;
    let peer = t.peer;
    let mut pending: HashSet<Cid> = HashSet::from([root]);
    let mut got = Vec::new();
    ctl.call(move |s| {
        if let Some(b) = s.behaviour_mut().bitswap.as_mut() {
            b.want(root, &[peer])
        }
    })
    .await;
    while !pending.is_empty() {
        let ev = tokio::time::timeout(Duration::from_secs(30), ctl.events.recv())
            .await
            .map_err(|_| format!("no block for 30 s ({} fetched)", got.len()))?
            .ok_or("swarm gone")?;
        match ev {
            SwarmEvent::Behaviour(HostileEvent::Bitswap(
                ferrite_bitswap::Event::BlockReceived { cid, data, .. },
            )) => {
                if !pending.remove(&cid) {
                    continue;
                }
                got.push(cid);
                if cid.codec() == codecs::DAG_PB {
                    let links = PbNode::links_of(&data).map_err(|e| e.to_string())?;
                    let new: Vec<Cid> = links.into_iter().filter(|l| pending.insert(*l)).collect();
                    ctl.call(move |s| {
                        if let Some(b) = s.behaviour_mut().bitswap.as_mut() {
                            for l in new {
                                b.want(l, &[peer]);
                            }
                        }
                    })
                    .await;
                }
            }
            SwarmEvent::ConnectionClosed { cause, .. } => {
                return Err(format!("connection closed: {cause:?}"))
            }
            _ => {}
        }
    }
    Ok((start.elapsed(), got))
}

// ---------------------------------------------------------------------------
// The attacks. Each runs for about `dur` and returns a summary.

/// Bitswap frames whose length prefix exceeds MAX_MESSAGE_SIZE: a bare
/// header claiming MAX+1 bytes and a real 5 MiB frame; and (the expensive
/// one) frames of exactly MAX bytes whose last byte never comes, on more
/// streams than a connection may hold, from a new peer each round (at most
/// `peers`), all kept open.
pub async fn oversized(t: &Target, peers: usize, dur: Duration) -> String {
    let end = Instant::now() + dur;
    let (mut refused, mut opened, mut failed, mut held) = (0usize, 0usize, 0usize, 0usize);
    let mut keep = Vec::new();
    let mut ctls = Vec::new();
    let almost = vec![7u8; MAX_MESSAGE_SIZE - 1];
    let five = vec![7u8; 5 << 20];
    while Instant::now() < end {
        let mut ctl = Ctl::spawn(Parts::default());
        let Ok(conn) = ctl.connect(t).await else {
            failed += 1;
            continue;
        };
        // 1. A header claiming MAX+1 bytes, then 5 MiB for real.
        for claim in [MAX_MESSAGE_SIZE + 1, 5 << 20] {
            let Ok(mut s) = ctl.open(t.peer, conn, BITSWAP).await else {
                failed += 1;
                continue;
            };
            opened += 1;
            let mut head = Vec::new();
            ferrite_ipld::proto::put_varint(&mut head, claim as u64);
            let body: &[u8] = if claim == 5 << 20 { &five } else { &[] };
            let r = tokio::time::timeout(Duration::from_secs(2), async {
                s.write_all(&head).await?;
                s.write_all(body).await?;
                s.flush().await?;
                let mut b = [0u8; 1];
                s.read(&mut b).await
            })
            .await;
            match r {
                Ok(Ok(0)) | Ok(Err(_)) => refused += 1,
                _ => {}
            }
        }
        // 2. Frames of MAX bytes with the last byte withheld, on 10 streams
        // (the node keeps 8 per connection), kept open.
        if ctls.len() < peers {
            for _ in 0..10 {
                let Ok(mut s) = ctl.open(t.peer, conn, BITSWAP).await else {
                    failed += 1;
                    continue;
                };
                opened += 1;
                let mut head = Vec::new();
                ferrite_ipld::proto::put_varint(&mut head, MAX_MESSAGE_SIZE as u64);
                let ok = tokio::time::timeout(Duration::from_secs(1), async {
                    s.write_all(&head).await?;
                    s.write_all(&almost).await?;
                    s.flush().await
                })
                .await;
                if matches!(ok, Ok(Ok(()))) {
                    held += 1;
                }
                keep.push(s);
            }
            ctl.drain();
            ctls.push(ctl);
        }
    }
    drop(keep);
    format!(
        "{opened} streams opened, {refused} oversized frames refused, \
         {held} unfinished 4 MiB frames written on {} peers, {failed} failures",
        ctls.len()
    )
}

/// 100,000 wants (random CIDs, want-have with send-dont-have, so the node
/// must answer) in frames under MAX_MESSAGE_SIZE, again and again.
pub async fn wantlist(t: &Target, dur: Duration) -> String {
    let end = Instant::now() + dur;
    let mut ctl = Ctl::spawn(Parts {
        bitswap: Some(Arc::new(MemStore::default())),
        ..Default::default()
    });
    if let Err(e) = ctl.connect(t).await {
        return format!("connect failed: {e}");
    }
    let (mut rounds, mut frames) = (0usize, 0usize);
    let peer = t.peer;
    while Instant::now() < end {
        let cids: Vec<Cid> = (0..100_000)
            .map(|i| raw_cid(&[&rounds.to_le_bytes()[..], &(i as u64).to_le_bytes()].concat()))
            .collect();
        let msgs: Vec<Message> = cids
            .chunks(25_000)
            .enumerate()
            .map(|(i, c)| Message {
                wantlist: c.iter().map(|c| want(*c, WantType::Have)).collect(),
                full: i == 0,
                ..Default::default()
            })
            .collect();
        for m in &msgs {
            assert!(
                frame(m).len() < MAX_MESSAGE_SIZE,
                "a want frame over the limit"
            );
        }
        frames += msgs.len();
        ctl.call(move |s| {
            if let Some(b) = s.behaviour_mut().bitswap.as_mut() {
                for m in msgs {
                    b.send_message(peer, m);
                }
            }
        })
        .await;
        rounds += 1;
        // Our behaviour drops the node's DONT_HAVEs (we never wanted
        // those CIDs); just keep the event channel short.
        tokio::time::sleep(Duration::from_millis(300)).await;
        ctl.drain();
    }
    format!("{rounds} rounds of 100000 wants in {frames} frames")
}

/// Blocks the node never asked for, then blocks whose bytes do not hash to
/// the CID the node wants (`wanted`, which the test makes the node want
/// by catting it), reconnecting after each disconnect; finally the genuine
/// block, which the node must then accept.
pub async fn badblocks(t: &Target, wanted: Cid, genuine: Bytes, dur: Duration) -> String {
    let end = Instant::now() + dur;
    let store = Arc::new(MemStore::default());
    store.blocks.lock().unwrap().insert(wanted, genuine);
    store.forge.store(true, Ordering::SeqCst);
    let mut ctl = Ctl::spawn(Parts {
        bitswap: Some(store.clone()),
        ..Default::default()
    });
    let (mut unsolicited, mut disconnects, mut connects) = (0usize, 0usize, 0usize);
    let peer = t.peer;
    loop {
        let last = Instant::now() >= end;
        if last {
            store.forge.store(false, Ordering::SeqCst);
        }
        if ctl.connect(t).await.is_err() {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        connects += 1;
        if !last {
            // An unsolicited block with a correct CID, and one with garbage
            // claiming to be the wanted block (our store forges it too when
            // the node asks).
            let junk = random_bytes(1000);
            let m = Message {
                blocks: vec![
                    Block {
                        cid: raw_cid(&junk),
                        data: junk.into(),
                    },
                    Block {
                        cid: wanted,
                        data: random_bytes(1000).into(),
                    },
                ],
                ..Default::default()
            };
            unsolicited += 2;
            ctl.call(move |s| {
                if let Some(b) = s.behaviour_mut().bitswap.as_mut() {
                    b.send_message(peer, m)
                }
            })
            .await;
        }
        // Wait for the node to close on us (or, at the end, to take the
        // genuine block and stop wanting it).
        let wait = Instant::now() + Duration::from_secs(2);
        let mut closed = false;
        while let Ok(Some(ev)) = tokio::time::timeout_at(wait.into(), ctl.events.recv()).await {
            if let SwarmEvent::ConnectionClosed {
                num_established: 0, ..
            } = ev
            {
                closed = true;
                break;
            }
        }
        if closed {
            disconnects += 1;
        }
        if last {
            break;
        }
    }
    format!(
        "{unsolicited} bad blocks pushed over {connects} connections, \
         {disconnects} disconnects by the node"
    )
}

/// Peers that want every block of `cids` (the 4 MiB file) again and again
/// and never read the stream the node answers on.
pub async fn slowreader(t: &Target, cids: Vec<Cid>, peers: usize, dur: Duration) -> String {
    let end = Instant::now() + dur;
    let mut ctls = Vec::new();
    let mut held = Vec::new();
    let mut rxs = Vec::new();
    let mut outs = Vec::new();
    for _ in 0..peers {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut ctl = Ctl::spawn(Parts {
            raw_inbound: Some((
                vec![BITSWAP, "/ipfs/bitswap/1.1.0", "/ipfs/bitswap/1.0.0"],
                tx,
            )),
            ..Default::default()
        });
        let Ok(conn) = ctl.connect(t).await else {
            continue;
        };
        if let Ok(s) = ctl.open(t.peer, conn, BITSWAP).await {
            outs.push(s);
        }
        ctls.push(ctl);
        rxs.push(rx);
    }
    let m = Message {
        wantlist: cids.iter().map(|c| want(*c, WantType::Block)).collect(),
        full: true,
        ..Default::default()
    };
    let body = frame(&m);
    let mut sent = 0usize;
    while Instant::now() < end {
        for s in outs.iter_mut() {
            if tokio::time::timeout(Duration::from_millis(200), write_frame(s, &body))
                .await
                .is_ok_and(|r| r.is_ok())
            {
                sent += 1;
            }
        }
        for rx in rxs.iter_mut() {
            while let Ok(s) = rx.try_recv() {
                held.push(s);
            }
        }
        for c in ctls.iter_mut() {
            c.drain();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    format!(
        "{} slow peers sent {sent} full wantlists of {} blocks; \
         holding {} unread streams",
        ctls.len(),
        cids.len(),
        held.len()
    )
}

/// Hundreds of Bitswap streams per connection, each sending a small want
/// and staying open.
pub async fn streamflood(t: &Target, conns: usize, per_conn: usize, dur: Duration) -> String {
    let end = Instant::now() + dur;
    let (mut opened, mut failed) = (0usize, 0usize);
    let mut keep = Vec::new();
    let mut ctls = Vec::new();
    let body = frame(&Message {
        wantlist: vec![want(raw_cid(b"flood"), WantType::Have)],
        ..Default::default()
    });
    for _ in 0..conns {
        let mut ctl = Ctl::spawn(Parts::default());
        let Ok(conn) = ctl.connect(t).await else {
            failed += 1;
            continue;
        };
        let opens: Vec<_> = (0..per_conn)
            .map(|_| ctl.open(t.peer, conn, BITSWAP))
            .collect();
        for r in futures::future::join_all(opens).await {
            match r {
                Ok(mut s) => {
                    opened += 1;
                    let _ = tokio::time::timeout(
                        Duration::from_millis(100),
                        write_frame(&mut s, &body),
                    )
                    .await;
                    keep.push(s);
                }
                Err(_) => failed += 1,
            }
        }
        ctl.drain();
        ctls.push(ctl);
    }
    tokio::time::sleep_until(end.into()).await;
    format!(
        "{opened} bitswap streams opened on {} connections, {failed} refused",
        ctls.len()
    )
}

/// `n` connections opened and closed again, `parallel` at a time.
pub async fn churn(t: &Target, n: usize, parallel: usize, limit: Duration) -> String {
    let end = Instant::now() + limit;
    let mut ctl = Ctl::spawn(Parts::default());
    let (mut started, mut established, mut failed, mut live) = (0usize, 0usize, 0usize, 0usize);
    while Instant::now() < end && (started < n || live > 0) {
        while started < n && live < parallel {
            ctl.dial(t).await;
            started += 1;
            live += 1;
        }
        let Ok(Some(ev)) = tokio::time::timeout_at(end.into(), ctl.events.recv()).await else {
            break;
        };
        match ev {
            SwarmEvent::ConnectionEstablished { connection_id, .. } => {
                established += 1;
                ctl.call(move |s| s.close_connection(connection_id)).await;
            }
            SwarmEvent::ConnectionClosed { .. } => live -= 1,
            SwarmEvent::OutgoingConnectionError { .. } => {
                failed += 1;
                live -= 1;
            }
            _ => {}
        }
    }
    format!("{started} dials, {established} connections established and closed, {failed} failed")
}

/// PUT_VALUE records (8 KiB values under random keys) and ADD_PROVIDER
/// records for random keys, `parallel` queries in flight.
pub async fn dhtspam(t: &Target, parallel: usize, dur: Duration) -> String {
    let end = Instant::now() + dur;
    let mut ctl = Ctl::spawn(Parts {
        kad: true,
        ..Default::default()
    });
    let (peer, addr) = (t.peer, t.addr.clone());
    ctl.call(move |s| {
        if let Some(k) = s.behaviour_mut().kad.as_mut() {
            k.add_address(&peer, addr);
        }
    })
    .await;
    let (mut puts, mut puts_ok, mut provs, mut provs_ok) = (0usize, 0usize, 0usize, 0usize);
    let mut live = 0usize;
    let mut first_err = None;
    while Instant::now() < end {
        while live < parallel {
            let provide = (puts + provs) % 2 == 1;
            let key = kad::RecordKey::new(&random_bytes(32));
            ctl.call(move |s| {
                let k = s.behaviour_mut().kad.as_mut().unwrap();
                if provide {
                    let _ = k.start_providing(key);
                } else {
                    // `/ipns/` is a namespace the node keeps (within a
                    // byte budget); other keys are refused outright.
                    let mut name = b"/ipns/".to_vec();
                    name.extend_from_slice(key.as_ref());
                    let rec = kad::Record::new(name, random_bytes(8 << 10));
                    k.put_record_to(rec, std::iter::once(peer), kad::Quorum::One);
                }
            })
            .await;
            if provide {
                provs += 1
            } else {
                puts += 1
            }
            live += 1;
        }
        let Ok(Some(ev)) = tokio::time::timeout_at(end.into(), ctl.events.recv()).await else {
            break;
        };
        if let SwarmEvent::Behaviour(HostileEvent::Kad(kad::Event::OutboundQueryProgressed {
            result,
            step,
            ..
        })) = ev
        {
            if !step.last {
                continue;
            }
            live = live.saturating_sub(1);
            match result {
                kad::QueryResult::PutRecord(Ok(_)) => puts_ok += 1,
                kad::QueryResult::StartProviding(Ok(_)) => provs_ok += 1,
                kad::QueryResult::PutRecord(Err(e)) => {
                    first_err.get_or_insert(format!("{e:?}"));
                }
                kad::QueryResult::StartProviding(Err(e)) => {
                    first_err.get_or_insert(format!("{e:?}"));
                }
                _ => {}
            }
        }
    }
    let mut s = format!(
        "{puts} PUT_VALUE ({puts_ok} stored), {provs} ADD_PROVIDER queries ({provs_ok} completed)"
    );
    if let Some(e) = first_err {
        s += &format!("; first error: {}", &e[..e.len().min(200)]);
    }
    s
}
