//! Batched providing ("sweep" reproviding).
//!
//! [`Host::provide`](crate::Host::provide) announces many keys at once
//! without one DHT lookup per key:
//!
//! 1. The keys are sorted by their Kademlia key (SHA-256 of the key bytes,
//!    as kad's `KBucketKey` hashes them), i.e. walked through the key space.
//! 2. For the first key not yet served, ONE `get_closest_peers` lookup
//!    runs. Every following key whose [`ProvideConfig::replication`] (K =
//!    20) closest peers among the peers learned so far (the routing table
//!    when the batch started, plus all lookup results) are the same set as
//!    that lookup found is served by it. The others go back in the queue
//!    and get their own lookup later (with better knowledge). Peers that a
//!    lookup should have returned but did not are treated as unreachable
//!    for the rest of the batch. With at most K reachable DHT servers, one
//!    lookup serves every key.
//! 3. The `ADD_PROVIDER` messages for a peer are written as many
//!    length-prefixed `dht.pb.Message` frames on ONE outbound
//!    `/ipfs/kad/1.0.0` stream (both rust-libp2p's and go-libp2p-kad-dht's
//!    inbound handlers keep reading after an `ADD_PROVIDER`). A peer's
//!    queue is sent when it reaches [`ProvideConfig::max_keys_per_stream`],
//!    when its oldest key has waited [`ProvideConfig::flush_delay`], or
//!    when the batch has no lookups left. A peer that cannot be dialed or
//!    whose stream fails is skipped for the rest of the batch.
//!
//! At most [`ProvideConfig::max_lookups`] lookups and
//! [`ProvideConfig::max_streams`] sending streams are in flight, over all
//! batches. The sending is done by [`Behaviour`], a small behaviour that
//! only opens outbound kad streams (it never accepts inbound ones, kad
//! does). When a batch is done, [`Host::next_event`](crate::Host::next_event)
//! returns `SwarmEvent::Behaviour(BehaviourEvent::Provide(ProvideEvent::Finished(report)))`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::io;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{AsyncReadExt as _, AsyncWriteExt as _, FutureExt as _, StreamExt as _};
use libp2p::core::transport::PortUse;
use libp2p::core::upgrade::{DeniedUpgrade, ReadyUpgrade};
use libp2p::core::Endpoint;
use libp2p::kad::{self, KBucketKey, RecordKey};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::handler::{
    ConnectionEvent, DialUpgradeError, FullyNegotiatedOutbound, StreamUpgradeError,
};
use libp2p::swarm::{
    ConnectionDenied, ConnectionHandler, ConnectionHandlerEvent, ConnectionId, DialError,
    FromSwarm, NetworkBehaviour, NotifyHandler, SubstreamProtocol, THandler, THandlerOutEvent,
    ToSwarm,
};
use libp2p::{Multiaddr, PeerId, Stream, StreamProtocol};

use crate::providers::ProviderStore;

/// Limits of batched providing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvideConfig {
    /// Most `get_closest_peers` lookups in flight, over all batches.
    pub max_lookups: usize,
    /// Most `ADD_PROVIDER` streams in flight, over all batches.
    pub max_streams: usize,
    /// Most keys sent on one stream; a longer queue is sent in parts.
    pub max_keys_per_stream: usize,
    /// A peer's queued keys are sent at the latest this long after the
    /// first of them was queued, even if lookups are still running.
    pub flush_delay: Duration,
    /// Number of closest peers each key is announced to (K).
    pub replication: usize,
    /// How long a send may wait for a connection to its peer.
    pub connect_timeout: Duration,
    /// Time allowed to write a stream: this plus 1 ms per key.
    pub write_timeout: Duration,
}

impl Default for ProvideConfig {
    fn default() -> Self {
        Self {
            max_lookups: 8,
            max_streams: 32,
            max_keys_per_stream: 100_000,
            flush_delay: Duration::from_secs(30),
            replication: kad::K_VALUE.get(),
            connect_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
        }
    }
}

/// Identifies a batch passed to [`Host::provide`](crate::Host::provide).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProvideBatchId(pub u64);

impl fmt::Display for ProvideBatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "provide-batch-{}", self.0)
    }
}

/// What a finished provide batch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvideReport {
    /// The batch.
    pub id: ProvideBatchId,
    /// Distinct keys in the batch.
    pub keys: usize,
    /// Keys for which a lookup found peers to announce them to.
    pub keys_provided: usize,
    /// Keys for which no peer was found (no DHT peers known or reachable).
    pub keys_failed: usize,
    /// `get_closest_peers` lookups run.
    pub lookups: usize,
    /// Distinct peers that received all `ADD_PROVIDER` messages sent to them.
    pub peers: usize,
    /// Peers that could not be reached or whose stream failed (skipped).
    pub peers_failed: usize,
    /// `ADD_PROVIDER` messages written (key × peer), on streams that were
    /// written completely.
    pub records_sent: u64,
    /// Streams opened.
    pub streams: usize,
    /// Time from [`Host::provide`](crate::Host::provide) to completion.
    pub elapsed: Duration,
}

/// Identifies one stream of [`Behaviour`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SendId(u64);

/// How one `ADD_PROVIDER` stream ended.
#[derive(Debug)]
pub struct SendOutcome {
    /// The send.
    pub id: SendId,
    /// The peer.
    pub peer: PeerId,
    /// Number of keys on the stream.
    pub keys: usize,
    /// `Err` with a reason if the peer was not reached or the stream failed.
    pub result: Result<(), String>,
}

/// Events of [`Behaviour`].
#[derive(Debug)]
pub enum ProvideEvent {
    /// A batch passed to [`Host::provide`](crate::Host::provide) is done.
    /// Generated by the host, never by the behaviour itself.
    Finished(ProvideReport),
    /// One stream ended. The host consumes these:
    /// [`Host::next_event`](crate::Host::next_event) never returns them.
    StreamDone(SendOutcome),
    /// A stream asked for with [`Behaviour::open_raw`] is open (or could
    /// not be opened), for hand-made DHT requests (diagnostics, tests).
    RawStream {
        /// The request.
        id: SendId,
        /// The peer.
        peer: PeerId,
        /// The negotiated `/ipfs/kad/1.0.0` stream, or why there is none.
        stream: Result<Stream, String>,
    },
}

// ---------------------------------------------------------------------
// Wire format.

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_varint(out, u64::from(field << 3 | 2));
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// `dht.pb.Message.Peer { id, addrs }`, encoded.
pub fn encode_peer(peer: &PeerId, addrs: &[Multiaddr]) -> Vec<u8> {
    let mut out = Vec::new();
    put_bytes_field(&mut out, 1, &peer.to_bytes());
    for a in addrs {
        put_bytes_field(&mut out, 2, &a.to_vec());
    }
    out
}

/// Appends one length-prefixed `dht.pb.Message { type: ADD_PROVIDER, key,
/// providerPeers: [peer] }` frame, `peer` as [`encode_peer`] made it.
pub fn encode_add_provider(out: &mut Vec<u8>, key: &RecordKey, peer: &[u8]) {
    let mut msg = Vec::with_capacity(key.as_ref().len() + peer.len() + 8);
    // type = ADD_PROVIDER (2)
    put_varint(&mut msg, 1 << 3);
    put_varint(&mut msg, 2);
    put_bytes_field(&mut msg, 2, key.as_ref());
    put_bytes_field(&mut msg, 9, peer);
    put_varint(out, msg.len() as u64);
    out.extend_from_slice(&msg);
}

async fn write_stream(
    mut stream: Stream,
    peer_pb: Arc<Vec<u8>>,
    keys: Vec<RecordKey>,
) -> io::Result<()> {
    let mut buf = Vec::with_capacity(64 * 1024);
    for key in &keys {
        encode_add_provider(&mut buf, key, &peer_pb);
        if buf.len() >= 60 * 1024 {
            stream.write_all(&buf).await?;
            buf.clear();
        }
    }
    if !buf.is_empty() {
        stream.write_all(&buf).await?;
    }
    stream.close().await?;
    // Wait (briefly) for the remote to finish reading and close its side,
    // so the stream is not torn down under unread data.
    let mut scratch = [0u8; 256];
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(n) = stream.read(&mut scratch).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    Ok(())
}

// ---------------------------------------------------------------------
// The sending behaviour.

struct Job {
    id: SendId,
    peer: PeerId,
    addrs: Vec<Multiaddr>,
    peer_pb: Arc<Vec<u8>>,
    keys: Vec<RecordKey>,
    since: Instant,
    raw: bool,
}

/// Sends `ADD_PROVIDER` messages over outbound `/ipfs/kad/1.0.0` streams.
/// Part of the host's composed behaviour; driven by the host.
pub struct Behaviour {
    protocol: StreamProtocol,
    next_id: u64,
    connected: HashMap<PeerId, Vec<ConnectionId>>,
    /// Jobs waiting for a connection to their peer.
    waiting: HashMap<PeerId, Vec<Job>>,
    /// Jobs whose stream was requested from a connection handler.
    opening: HashMap<SendId, (ConnectionId, Job)>,
    writes: FuturesUnordered<BoxFuture<'static, SendOutcome>>,
    events: VecDeque<ToSwarm<ProvideEvent, HandlerIn>>,
    write_timeout: Duration,
}

impl Behaviour {
    /// A behaviour that opens streams with `protocol` (`/ipfs/kad/1.0.0`).
    pub fn new(protocol: StreamProtocol, write_timeout: Duration) -> Self {
        Self {
            protocol,
            next_id: 0,
            connected: HashMap::new(),
            waiting: HashMap::new(),
            opening: HashMap::new(),
            writes: FuturesUnordered::new(),
            events: VecDeque::new(),
            write_timeout,
        }
    }

    /// Sends one `ADD_PROVIDER` for each key to `peer` (dialing `addrs` if
    /// not connected), announcing `provider` at `provider_addrs`. The
    /// outcome comes as [`ProvideEvent::StreamDone`].
    pub fn send(
        &mut self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        provider: PeerId,
        provider_addrs: &[Multiaddr],
        keys: Vec<RecordKey>,
    ) -> SendId {
        let peer_pb = Arc::new(encode_peer(&provider, provider_addrs));
        self.send_encoded(peer, addrs, peer_pb, keys)
    }

    fn send_encoded(
        &mut self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        peer_pb: Arc<Vec<u8>>,
        keys: Vec<RecordKey>,
    ) -> SendId {
        let id = SendId(self.next_id);
        self.next_id += 1;
        let job = Job {
            id,
            peer,
            addrs,
            peer_pb,
            keys,
            since: Instant::now(),
            raw: false,
        };
        self.dispatch(job);
        id
    }

    /// Opens an outbound `/ipfs/kad/1.0.0` stream to `peer` (dialing
    /// `addrs` if needed) and hands it over as [`ProvideEvent::RawStream`].
    pub fn open_raw(&mut self, peer: PeerId, addrs: Vec<Multiaddr>) -> SendId {
        let id = SendId(self.next_id);
        self.next_id += 1;
        self.dispatch(Job {
            id,
            peer,
            addrs,
            peer_pb: Arc::new(Vec::new()),
            keys: Vec::new(),
            since: Instant::now(),
            raw: true,
        });
        id
    }

    fn dispatch(&mut self, job: Job) {
        let peer = job.peer;
        if let Some(conn) = self.connected.get(&peer).and_then(|c| c.last()) {
            self.open(*conn, job);
        } else {
            let first = !self.waiting.contains_key(&peer);
            let addrs = job.addrs.clone();
            self.waiting.entry(peer).or_default().push(job);
            if first {
                let opts = DialOpts::peer_id(peer)
                    .addresses(addrs)
                    .condition(PeerCondition::DisconnectedAndNotDialing)
                    .build();
                self.events.push_back(ToSwarm::Dial { opts });
            }
        }
    }

    fn open(&mut self, conn: ConnectionId, job: Job) {
        let id = job.id;
        self.events.push_back(ToSwarm::NotifyHandler {
            peer_id: job.peer,
            handler: NotifyHandler::One(conn),
            event: HandlerIn::Open(id),
        });
        self.opening.insert(id, (conn, job));
    }

    fn fail(&mut self, job: Job, reason: String) {
        if job.raw {
            self.events
                .push_back(ToSwarm::GenerateEvent(ProvideEvent::RawStream {
                    id: job.id,
                    peer: job.peer,
                    stream: Err(reason),
                }));
            return;
        }
        self.events
            .push_back(ToSwarm::GenerateEvent(ProvideEvent::StreamDone(
                SendOutcome {
                    id: job.id,
                    peer: job.peer,
                    keys: job.keys.len(),
                    result: Err(reason),
                },
            )));
    }

    /// Fails sends that waited longer than `timeout` for a connection.
    pub fn expire(&mut self, timeout: Duration) {
        let now = Instant::now();
        let stale: Vec<PeerId> = self
            .waiting
            .iter()
            .filter(|(_, jobs)| jobs.iter().any(|j| now - j.since > timeout))
            .map(|(p, _)| *p)
            .collect();
        for peer in stale {
            for job in self.waiting.remove(&peer).unwrap_or_default() {
                self.fail(job, "timed out waiting for a connection".into());
            }
        }
    }

    /// Sends in progress or waiting.
    pub fn in_flight(&self) -> usize {
        self.waiting.values().map(Vec::len).sum::<usize>() + self.opening.len() + self.writes.len()
    }
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = Handler;
    type ToSwarm = ProvideEvent;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(Handler::new(self.protocol.clone()))
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(Handler::new(self.protocol.clone()))
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(e) => {
                self.connected
                    .entry(e.peer_id)
                    .or_default()
                    .push(e.connection_id);
                for job in self.waiting.remove(&e.peer_id).unwrap_or_default() {
                    self.open(e.connection_id, job);
                }
            }
            FromSwarm::ConnectionClosed(e) => {
                if let Some(conns) = self.connected.get_mut(&e.peer_id) {
                    conns.retain(|c| *c != e.connection_id);
                    if conns.is_empty() {
                        self.connected.remove(&e.peer_id);
                    }
                }
                let lost: Vec<SendId> = self
                    .opening
                    .iter()
                    .filter(|(_, (c, _))| *c == e.connection_id)
                    .map(|(id, _)| *id)
                    .collect();
                for id in lost {
                    if let Some((_, job)) = self.opening.remove(&id) {
                        self.fail(job, "connection closed".into());
                    }
                }
            }
            FromSwarm::DialFailure(e) => {
                let Some(peer) = e.peer_id else { return };
                if matches!(e.error, DialError::DialPeerConditionFalse(_))
                    || self.connected.contains_key(&peer)
                {
                    // Someone else is dialing; wait for that connection.
                    return;
                }
                let reason = format!("dial failed: {}", e.error);
                for job in self.waiting.remove(&peer).unwrap_or_default() {
                    self.fail(job, reason.clone());
                }
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        _peer: PeerId,
        _conn: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {
            HandlerOut::Opened(id, stream) => {
                let Some((_, job)) = self.opening.remove(&id) else {
                    return;
                };
                if job.raw {
                    self.events
                        .push_back(ToSwarm::GenerateEvent(ProvideEvent::RawStream {
                            id,
                            peer: job.peer,
                            stream: Ok(stream),
                        }));
                    return;
                }
                let limit = self.write_timeout + Duration::from_millis(job.keys.len() as u64);
                let (peer, n) = (job.peer, job.keys.len());
                let fut = tokio::time::timeout(limit, write_stream(stream, job.peer_pb, job.keys));
                self.writes.push(
                    async move {
                        let result = match fut.await {
                            Ok(Ok(())) => Ok(()),
                            Ok(Err(e)) => Err(format!("write failed: {e}")),
                            Err(_) => Err("write timed out".into()),
                        };
                        SendOutcome {
                            id,
                            peer,
                            keys: n,
                            result,
                        }
                    }
                    .boxed(),
                );
            }
            HandlerOut::Failed(id, reason) => {
                if let Some((_, job)) = self.opening.remove(&id) {
                    self.fail(job, reason);
                }
            }
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<ToSwarm<ProvideEvent, HandlerIn>> {
        if let Some(e) = self.events.pop_front() {
            return Poll::Ready(e);
        }
        if let Poll::Ready(Some(outcome)) = self.writes.poll_next_unpin(cx) {
            return Poll::Ready(ToSwarm::GenerateEvent(ProvideEvent::StreamDone(outcome)));
        }
        Poll::Pending
    }
}

/// Commands to [`Handler`].
#[derive(Debug)]
pub enum HandlerIn {
    /// Open an outbound stream for this send.
    Open(SendId),
}

/// Events of [`Handler`].
#[derive(Debug)]
pub enum HandlerOut {
    /// The stream for this send is open and negotiated.
    Opened(SendId, Stream),
    /// The stream for this send could not be opened.
    Failed(SendId, String),
}

/// Connection handler of [`Behaviour`]: opens outbound kad streams only.
pub struct Handler {
    protocol: StreamProtocol,
    requested: VecDeque<SendId>,
    opening: usize,
    events: VecDeque<HandlerOut>,
}

impl Handler {
    fn new(protocol: StreamProtocol) -> Self {
        Self {
            protocol,
            requested: VecDeque::new(),
            opening: 0,
            events: VecDeque::new(),
        }
    }
}

impl ConnectionHandler for Handler {
    type FromBehaviour = HandlerIn;
    type ToBehaviour = HandlerOut;
    type InboundProtocol = DeniedUpgrade;
    type OutboundProtocol = ReadyUpgrade<StreamProtocol>;
    type InboundOpenInfo = ();
    type OutboundOpenInfo = SendId;

    fn listen_protocol(&self) -> SubstreamProtocol<DeniedUpgrade, ()> {
        SubstreamProtocol::new(DeniedUpgrade, ())
    }

    fn connection_keep_alive(&self) -> bool {
        !self.requested.is_empty() || self.opening > 0 || !self.events.is_empty()
    }

    fn poll(
        &mut self,
        _cx: &mut Context<'_>,
    ) -> Poll<ConnectionHandlerEvent<ReadyUpgrade<StreamProtocol>, SendId, HandlerOut>> {
        if let Some(e) = self.events.pop_front() {
            return Poll::Ready(ConnectionHandlerEvent::NotifyBehaviour(e));
        }
        if let Some(id) = self.requested.pop_front() {
            self.opening += 1;
            return Poll::Ready(ConnectionHandlerEvent::OutboundSubstreamRequest {
                protocol: SubstreamProtocol::new(ReadyUpgrade::new(self.protocol.clone()), id),
            });
        }
        Poll::Pending
    }

    fn on_behaviour_event(&mut self, event: HandlerIn) {
        match event {
            HandlerIn::Open(id) => self.requested.push_back(id),
        }
    }

    fn on_connection_event(
        &mut self,
        event: ConnectionEvent<DeniedUpgrade, ReadyUpgrade<StreamProtocol>, (), SendId>,
    ) {
        match event {
            ConnectionEvent::FullyNegotiatedOutbound(FullyNegotiatedOutbound {
                protocol: stream,
                info: id,
            }) => {
                self.opening = self.opening.saturating_sub(1);
                self.events.push_back(HandlerOut::Opened(id, stream));
            }
            ConnectionEvent::DialUpgradeError(DialUpgradeError { info: id, error }) => {
                self.opening = self.opening.saturating_sub(1);
                let reason = match error {
                    StreamUpgradeError::NegotiationFailed => {
                        "peer does not serve the DHT protocol".to_string()
                    }
                    e => format!("cannot open stream: {e}"),
                };
                self.events.push_back(HandlerOut::Failed(id, reason));
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------
// Peers known to a batch, with K-closest queries.

type Hash = [u8; 32];

fn hash_of(bytes: &[u8]) -> Hash {
    let mut h = [0u8; 32];
    h.copy_from_slice(bytes);
    h
}

fn key_hash(key: &RecordKey) -> Hash {
    hash_of(KBucketKey::new(key.clone()).hashed_bytes())
}

fn peer_hash(peer: &PeerId) -> Hash {
    hash_of(KBucketKey::from(*peer).hashed_bytes())
}

fn xor(a: &Hash, b: &Hash) -> Hash {
    let mut d = [0u8; 32];
    for i in 0..32 {
        d[i] = a[i] ^ b[i];
    }
    d
}

/// Compares the first `bits` bits of `a` and `b`.
fn prefix_cmp(a: &Hash, b: &Hash, bits: usize) -> std::cmp::Ordering {
    let full = bits / 8;
    match a[..full].cmp(&b[..full]) {
        std::cmp::Ordering::Equal => {}
        o => return o,
    }
    let rem = bits % 8;
    if rem == 0 {
        return std::cmp::Ordering::Equal;
    }
    let mask = 0xffu8 << (8 - rem);
    (a[full] & mask).cmp(&(b[full] & mask))
}

struct Known {
    id: PeerId,
    hash: Hash,
    addrs: Vec<Multiaddr>,
    dead: bool,
}

#[derive(Default)]
struct KnownPeers {
    peers: Vec<Known>,
    by_id: HashMap<PeerId, u32>,
    /// Alive peers, sorted by hash.
    sorted: Vec<u32>,
    dirty: bool,
}

impl KnownPeers {
    /// Adds (or revives) a peer; returns its index.
    fn add(&mut self, id: PeerId, addrs: Vec<Multiaddr>) -> u32 {
        if let Some(&i) = self.by_id.get(&id) {
            let p = &mut self.peers[i as usize];
            for a in addrs {
                if !p.addrs.contains(&a) {
                    p.addrs.push(a);
                }
            }
            if p.dead {
                p.dead = false;
                self.dirty = true;
            }
            return i;
        }
        let i = self.peers.len() as u32;
        self.peers.push(Known {
            id,
            hash: peer_hash(&id),
            addrs,
            dead: false,
        });
        self.by_id.insert(id, i);
        self.dirty = true;
        i
    }

    fn kill(&mut self, i: u32) {
        if !self.peers[i as usize].dead {
            self.peers[i as usize].dead = true;
            self.dirty = true;
        }
    }

    fn refresh(&mut self) {
        if !self.dirty {
            return;
        }
        let peers = &self.peers;
        self.sorted = (0..peers.len() as u32)
            .filter(|&i| !peers[i as usize].dead)
            .collect();
        self.sorted
            .sort_by(|a, b| peers[*a as usize].hash.cmp(&peers[*b as usize].hash));
        self.dirty = false;
    }

    fn alive(&self) -> usize {
        self.sorted.len()
    }

    /// The (at most) `k` alive peers closest to `target`, as indices in
    /// ascending order. Call [`KnownPeers::refresh`] first.
    fn closest(&self, target: &Hash, k: usize) -> Vec<u32> {
        let n = self.sorted.len();
        if n <= k {
            let mut all = self.sorted.clone();
            all.sort_unstable();
            return all;
        }
        let range = |bits: usize| {
            let lo = self.sorted.partition_point(|&i| {
                prefix_cmp(&self.peers[i as usize].hash, target, bits) == std::cmp::Ordering::Less
            });
            let hi = self.sorted.partition_point(|&i| {
                prefix_cmp(&self.peers[i as usize].hash, target, bits)
                    != std::cmp::Ordering::Greater
            });
            lo..hi
        };
        // Largest prefix length whose subtree still holds ≥ k peers: the k
        // closest peers (XOR metric) all lie inside it.
        let (mut ok, mut bad) = (0usize, 257usize);
        while bad - ok > 1 {
            let mid = (ok + bad) / 2;
            if range(mid).len() >= k {
                ok = mid;
            } else {
                bad = mid;
            }
        }
        let mut cand: Vec<(Hash, u32)> = self.sorted[range(ok)]
            .iter()
            .map(|&i| (xor(&self.peers[i as usize].hash, target), i))
            .collect();
        cand.sort_unstable();
        let mut out: Vec<u32> = cand.into_iter().take(k).map(|(_, i)| i).collect();
        out.sort_unstable();
        out
    }
}

// ---------------------------------------------------------------------
// The sweep coordinator (owned by the host).

struct Queue {
    keys: Vec<RecordKey>,
    since: Instant,
}

struct Batch {
    id: ProvideBatchId,
    started: Instant,
    keys: Vec<(Hash, RecordKey)>,
    next_fresh: usize,
    retry: VecDeque<u32>,
    lookups_in_flight: usize,
    known: KnownPeers,
    queues: HashMap<PeerId, Queue>,
    sending: HashSet<PeerId>,
    ok_peers: HashSet<PeerId>,
    failed_peers: HashSet<PeerId>,
    lookups: usize,
    keys_provided: usize,
    keys_failed: usize,
    records_sent: u64,
    streams: usize,
}

impl Batch {
    fn has_lookup_work(&self) -> bool {
        !self.retry.is_empty() || self.next_fresh < self.keys.len()
    }

    fn lookups_done(&self) -> bool {
        !self.has_lookup_work() && self.lookups_in_flight == 0
    }

    /// The keys (indices) the next lookup serves: its target first.
    fn claim(&mut self, k: usize) -> Vec<u32> {
        self.known.refresh();
        if let Some(t) = self.retry.pop_front() {
            let set = self.known.closest(&self.keys[t as usize].0, k);
            let mut claim = vec![t];
            while let Some(&n) = self.retry.front() {
                if self.known.closest(&self.keys[n as usize].0, k) != set {
                    break;
                }
                claim.push(n);
                self.retry.pop_front();
            }
            return claim;
        }
        let t = self.next_fresh;
        self.next_fresh += 1;
        let mut claim = vec![t as u32];
        if self.known.alive() <= k {
            // Every key has the same closest peers: all known ones.
            claim.extend(self.next_fresh as u32..self.keys.len() as u32);
            self.next_fresh = self.keys.len();
            return claim;
        }
        let set = self.known.closest(&self.keys[t].0, k);
        while self.next_fresh < self.keys.len()
            && self.known.closest(&self.keys[self.next_fresh].0, k) == set
        {
            claim.push(self.next_fresh as u32);
            self.next_fresh += 1;
        }
        claim
    }

    fn serve(&mut self, key: u32, peers: &[u32]) {
        self.keys_provided += 1;
        let key = &self.keys[key as usize].1;
        for &p in peers {
            let id = self.known.peers[p as usize].id;
            if self.failed_peers.contains(&id) {
                continue;
            }
            self.queues
                .entry(id)
                .or_insert_with(|| Queue {
                    keys: Vec::new(),
                    since: Instant::now(),
                })
                .keys
                .push(key.clone());
        }
    }

    fn report(&self) -> ProvideReport {
        ProvideReport {
            id: self.id,
            keys: self.keys.len(),
            keys_provided: self.keys_provided,
            keys_failed: self.keys_failed,
            lookups: self.lookups,
            peers: self.ok_peers.len(),
            peers_failed: self.failed_peers.len(),
            records_sent: self.records_sent,
            streams: self.streams,
            elapsed: self.started.elapsed(),
        }
    }
}

struct Claim {
    batch: ProvideBatchId,
    keys: Vec<u32>,
}

/// Coordinates provide batches: lookups through kad, sends through
/// [`Behaviour`]. Owned and driven by the host.
pub(crate) struct Sweeper {
    config: ProvideConfig,
    next_id: u64,
    batches: Vec<Batch>,
    queries: HashMap<kad::QueryId, Claim>,
    sends: HashMap<SendId, (ProvideBatchId, PeerId)>,
    lookups_in_flight: usize,
    streams_in_flight: usize,
    rr: usize,
    total_lookups: u64,
}

impl Sweeper {
    pub(crate) fn new(config: ProvideConfig) -> Self {
        Self {
            config,
            next_id: 0,
            batches: Vec::new(),
            queries: HashMap::new(),
            sends: HashMap::new(),
            lookups_in_flight: 0,
            streams_in_flight: 0,
            rr: 0,
            total_lookups: 0,
        }
    }

    pub(crate) fn config(&self) -> &ProvideConfig {
        &self.config
    }

    pub(crate) fn total_lookups(&self) -> u64 {
        self.total_lookups
    }

    pub(crate) fn active_batches(&self) -> usize {
        self.batches.len()
    }

    pub(crate) fn owns(&self, q: &kad::QueryId) -> bool {
        self.queries.contains_key(q)
    }

    /// Adds a batch; `peers` are the routing table's entries.
    pub(crate) fn add(
        &mut self,
        keys: Vec<RecordKey>,
        peers: Vec<(PeerId, Vec<Multiaddr>)>,
    ) -> ProvideBatchId {
        let id = ProvideBatchId(self.next_id);
        self.next_id += 1;
        let mut keys: Vec<(Hash, RecordKey)> =
            keys.into_iter().map(|k| (key_hash(&k), k)).collect();
        keys.sort_unstable_by_key(|k| k.0);
        keys.dedup_by(|a, b| a.1 == b.1);
        let mut known = KnownPeers::default();
        for (p, addrs) in peers {
            known.add(p, addrs);
        }
        self.batches.push(Batch {
            id,
            started: Instant::now(),
            keys,
            next_fresh: 0,
            retry: VecDeque::new(),
            lookups_in_flight: 0,
            known,
            queues: HashMap::new(),
            sending: HashSet::new(),
            ok_peers: HashSet::new(),
            failed_peers: HashSet::new(),
            lookups: 0,
            keys_provided: 0,
            keys_failed: 0,
            records_sent: 0,
            streams: 0,
        });
        id
    }

    /// A lookup finished with these peers.
    pub(crate) fn on_lookup(&mut self, q: kad::QueryId, peers: Vec<kad::PeerInfo>, local: &PeerId) {
        let Some(claim) = self.queries.remove(&q) else {
            return;
        };
        self.lookups_in_flight -= 1;
        let k = self.config.replication;
        let Some(batch) = self.batches.iter_mut().find(|b| b.id == claim.batch) else {
            return;
        };
        batch.lookups_in_flight -= 1;
        let mut found: Vec<u32> = peers
            .into_iter()
            .filter(|p| p.peer_id != *local)
            .map(|p| batch.known.add(p.peer_id, p.addrs))
            .collect();
        found.sort_unstable();
        found.dedup();
        if found.is_empty() {
            batch.keys_failed += claim.keys.len();
            tracing::debug!(batch = %batch.id, keys = claim.keys.len(), "provide: lookup found no peers");
            return;
        }
        // Known peers the lookup should have returned but did not are
        // unreachable: forget them for this batch.
        let target = batch.keys[claim.keys[0] as usize].0;
        let farthest = found
            .iter()
            .map(|&i| xor(&batch.known.peers[i as usize].hash, &target))
            .max()
            .unwrap_or([0xff; 32]);
        let full = found.len() >= k;
        for i in 0..batch.known.peers.len() as u32 {
            let p = &batch.known.peers[i as usize];
            if p.dead || found.binary_search(&i).is_ok() {
                continue;
            }
            if !full || xor(&p.hash, &target) < farthest {
                batch.known.kill(i);
            }
        }
        batch.known.refresh();
        for (n, &key) in claim.keys.iter().enumerate() {
            if n == 0 || batch.known.closest(&batch.keys[key as usize].0, k) == found {
                batch.serve(key, &found);
            } else {
                batch.retry.push_back(key);
            }
        }
    }

    /// A stream ended.
    pub(crate) fn on_sent(&mut self, outcome: SendOutcome) -> bool {
        let Some((bid, peer)) = self.sends.remove(&outcome.id) else {
            return false;
        };
        self.streams_in_flight -= 1;
        let Some(batch) = self.batches.iter_mut().find(|b| b.id == bid) else {
            return true;
        };
        batch.sending.remove(&peer);
        match outcome.result {
            Ok(()) => {
                batch.records_sent += outcome.keys as u64;
                batch.ok_peers.insert(peer);
            }
            Err(reason) => {
                tracing::debug!(%peer, batch = %bid, "provide: peer skipped: {reason}");
                batch.ok_peers.remove(&peer);
                batch.failed_peers.insert(peer);
                batch.queues.remove(&peer);
            }
        }
        true
    }

    /// Starts what the limits allow; returns finished batches.
    pub(crate) fn pump(
        &mut self,
        kad: &mut kad::Behaviour<ProviderStore>,
        sender: &mut Behaviour,
        local: PeerId,
        provider_addrs: &[Multiaddr],
    ) -> Vec<ProvideReport> {
        let k = self.config.replication;
        // Lookups, round robin over batches.
        while self.lookups_in_flight < self.config.max_lookups && !self.batches.is_empty() {
            let n = self.batches.len();
            let Some(pos) = (0..n)
                .map(|i| (self.rr + i) % n)
                .find(|&i| self.batches[i].has_lookup_work())
            else {
                break;
            };
            self.rr = pos + 1;
            let batch = &mut self.batches[pos];
            let keys = batch.claim(k);
            let target = batch.keys[keys[0] as usize].1.to_vec();
            let q = kad.get_closest_peers(target);
            batch.lookups += 1;
            batch.lookups_in_flight += 1;
            self.lookups_in_flight += 1;
            self.total_lookups += 1;
            self.queries.insert(
                q,
                Claim {
                    batch: batch.id,
                    keys,
                },
            );
        }
        // Streams.
        let mut peer_pb: Option<Arc<Vec<u8>>> = None;
        let now = Instant::now();
        'batches: for batch in &mut self.batches {
            if self.streams_in_flight >= self.config.max_streams {
                break;
            }
            let done = batch.lookups_done();
            let ready: Vec<PeerId> = batch
                .queues
                .iter()
                .filter(|(p, q)| {
                    !batch.sending.contains(*p)
                        && (done
                            || q.keys.len() >= self.config.max_keys_per_stream
                            || now - q.since >= self.config.flush_delay)
                })
                .map(|(p, _)| *p)
                .collect();
            for peer in ready {
                if self.streams_in_flight >= self.config.max_streams {
                    break 'batches;
                }
                let Some(q) = batch.queues.get_mut(&peer) else {
                    continue;
                };
                let keys = if q.keys.len() > self.config.max_keys_per_stream {
                    let rest = q.keys.split_off(self.config.max_keys_per_stream);
                    let keys = std::mem::replace(&mut q.keys, rest);
                    q.since = now;
                    keys
                } else {
                    batch
                        .queues
                        .remove(&peer)
                        .map(|q| q.keys)
                        .unwrap_or_default()
                };
                let addrs = batch
                    .known
                    .by_id
                    .get(&peer)
                    .map(|&i| batch.known.peers[i as usize].addrs.clone())
                    .unwrap_or_default();
                let pb = peer_pb
                    .get_or_insert_with(|| Arc::new(encode_peer(&local, provider_addrs)))
                    .clone();
                let id = sender.send_encoded(peer, addrs, pb, keys);
                self.sends.insert(id, (batch.id, peer));
                batch.sending.insert(peer);
                batch.streams += 1;
                self.streams_in_flight += 1;
            }
        }
        // Finished batches.
        let mut finished = Vec::new();
        self.batches.retain(|b| {
            let over = b.lookups_done() && b.queues.is_empty() && b.sending.is_empty();
            if over {
                finished.push(b.report());
            }
            !over
        });
        finished
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_matches_brute_force() {
        let mut known = KnownPeers::default();
        let peers: Vec<PeerId> = (0..300).map(|_| PeerId::random()).collect();
        for p in &peers {
            known.add(*p, Vec::new());
        }
        known.refresh();
        for _ in 0..200 {
            let key = RecordKey::new(&rand::random::<[u8; 32]>());
            let target = key_hash(&key);
            let mut brute: Vec<(Hash, u32)> = (0..peers.len() as u32)
                .map(|i| (xor(&known.peers[i as usize].hash, &target), i))
                .collect();
            brute.sort_unstable();
            let mut want: Vec<u32> = brute.iter().take(20).map(|(_, i)| *i).collect();
            want.sort_unstable();
            assert_eq!(known.closest(&target, 20), want);
            // Same order as kad's distance.
            let kd = KBucketKey::new(key.clone());
            let a = KBucketKey::from(peers[brute[0].1 as usize]);
            let b = KBucketKey::from(peers[brute[1].1 as usize]);
            assert!(kd.distance(&a) <= kd.distance(&b));
        }
    }

    #[test]
    fn add_provider_frame_layout() {
        let peer = PeerId::random();
        let pb = encode_peer(&peer, &["/ip4/127.0.0.1/tcp/1".parse().unwrap()]);
        let mut out = Vec::new();
        encode_add_provider(&mut out, &RecordKey::new(&[7u8; 3]), &pb);
        let len = out[0] as usize;
        assert_eq!(len, out.len() - 1);
        assert_eq!(&out[1..4], &[0x08, 0x02, 0x12]);
        assert_eq!(&out[4..8], &[3, 7, 7, 7]);
        assert_eq!(out[8], 0x4a);
    }
}
