//! The libp2p host cluster peers talk over, separate from the IPFS host.
//!
//! Like IPFS Cluster, the cluster runs its own libp2p host whose
//! private-network key is the 32-byte cluster secret: TCP → pnet (PSK =
//! secret) → Noise → Yamux. A peer without the secret cannot finish the
//! handshake, so it never reaches the Raft RPCs.
//!
//! The host moves opaque byte messages: [`ClusterHost::call`] sends a
//! request and returns the reply; requests from other peers arrive as
//! [`Inbound`]s on the channel [`ClusterHost::start`] returns. Each
//! request/response pair uses its own Yamux stream
//! (`/ferrite/cluster/rpc/1.0.0`, one length-prefixed frame each way), so
//! many requests to one peer run concurrently.
//!
//! One tokio task owns the [`Swarm`]; [`ClusterHost`] handles talk to it
//! over a command channel and never block it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::stream::FuturesUnordered;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, FutureExt as _, StreamExt as _};
use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::{Boxed, ListenerId};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundFailure, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{DialError, ListenError, SwarmEvent};
use libp2p::{identity, ping};
use libp2p::{Multiaddr, PeerId, StreamProtocol, Swarm};
use tokio::sync::{mpsc, oneshot};

use ferrite_p2p::{handshake_failure, SwarmKey, TransportBuilder};

use crate::network::TransportError;

/// The request/response protocol of cluster RPCs.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/ferrite/cluster/rpc/1.0.0");

/// Largest request or response frame: Raft snapshots travel in one frame.
pub const MAX_FRAME: usize = 64 << 20;

/// The error text (and WARN log) when a handshake fails in a way a
/// different cluster secret explains.
pub const SECRET_MISMATCH_MESSAGE: &str = "cluster secret mismatch or peer not in this cluster";

/// Default for [`ClusterHostConfig::request_timeout`].
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Outbound requests in flight per peer; more wait in the host task. Keeps
/// both sides well under Yamux's 512 streams per connection (exceeding it
/// on the receiving side resets the whole connection).
const MAX_IN_FLIGHT_PER_PEER: usize = 128;
/// request-response's per-connection stream budget (inbound + outbound):
/// our outbound limit plus the peer's, with room to spare.
const MAX_STREAMS_PER_CONNECTION: usize = 400;
/// Raft keeps connections busy; an idle one is still worth keeping.
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(3600);
/// How long `start` waits for the listeners to report their addresses.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);
/// Frames up to this size go out in one write (header + body copied into
/// a stack buffer) instead of two Yamux frames.
const SMALL_FRAME: usize = 4096;
/// Minimum interval between two secret-mismatch WARNs about one peer/IP.
const MISMATCH_WARN_INTERVAL: Duration = Duration::from_secs(60);
/// Capacity of the inbound request channel.
const INBOUND_CHANNEL: usize = 1024;
/// Capacity of the command channel.
const COMMAND_CHANNEL: usize = 4096;
/// Addresses remembered per peer for redials.
const MAX_ADDRS_PER_PEER: usize = 8;

/// How to start a [`ClusterHost`].
#[derive(Clone)]
pub struct ClusterHostConfig {
    /// The host's identity (its peer ID is the cluster peer ID).
    pub keypair: identity::Keypair,
    /// The cluster secret, used as the private-network pre-shared key.
    pub secret: [u8; 32],
    /// Addresses to listen on, e.g. `/ip4/127.0.0.1/tcp/0`.
    pub listen: Vec<Multiaddr>,
    /// Upper bound for one request (dial, handshake and answer included);
    /// [`ClusterHost::call`] timeouts above it are capped by it.
    pub request_timeout: Duration,
}

impl fmt::Debug for ClusterHostConfig {
    // The secret stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterHostConfig")
            .field("peer_id", &self.keypair.public().to_peer_id())
            .field("listen", &self.listen)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

/// A request from another cluster peer; answer it through `reply`
/// (dropping `reply` closes the peer's stream without an answer).
#[derive(Debug)]
pub struct Inbound {
    /// The (authenticated) sender.
    pub from: PeerId,
    /// The request bytes.
    pub request: Vec<u8>,
    /// Where the response bytes go.
    pub reply: oneshot::Sender<Vec<u8>>,
}

/// Why [`ClusterHost::start`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterHostError {
    /// The transport could not be built (e.g. unusable key for Noise).
    #[error("cannot build the cluster transport: {0}")]
    Transport(String),
    /// A listen address could not be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: Multiaddr,
        /// What went wrong.
        reason: String,
    },
    /// The host task ended during start-up.
    #[error("cluster host stopped during start-up")]
    Stopped,
}

/// Handle to a running cluster host; cheap to clone.
#[derive(Clone)]
pub struct ClusterHost {
    peer_id: PeerId,
    commands: mpsc::Sender<Command>,
    request_timeout: Duration,
    /// Peers whose last request from here failed (no connection, no answer
    /// in time) and that have not been heard from since. Every caller (Raft
    /// RPCs, metrics, allocation probes) sees, and logs, the same state:
    /// one WARN when a peer becomes unreachable, one INFO when it is back.
    down: Arc<Mutex<HashSet<PeerId>>>,
}

impl fmt::Debug for ClusterHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterHost")
            .field("peer_id", &self.peer_id)
            .finish_non_exhaustive()
    }
}

type CallReply = oneshot::Sender<Result<Vec<u8>, TransportError>>;
type ConnectReply = oneshot::Sender<Result<PeerId, TransportError>>;

enum Command {
    Call {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        request: Vec<u8>,
        reply: CallReply,
    },
    Connect {
        addr: Multiaddr,
        reply: ConnectReply,
    },
    ListenAddrs(oneshot::Sender<Vec<Multiaddr>>),
    Peers(oneshot::Sender<Vec<PeerId>>),
    Shutdown(oneshot::Sender<()>),
}

fn stopped() -> TransportError {
    TransportError::Other("cluster host is shut down".into())
}

impl ClusterHost {
    /// Starts the swarm task; returns the handle and the stream of inbound requests.
    ///
    /// Returns once every listener has bound, so [`listen_addrs`](Self::listen_addrs)
    /// reports real ports right away.
    pub async fn start(
        cfg: ClusterHostConfig,
    ) -> Result<(ClusterHost, mpsc::Receiver<Inbound>), ClusterHostError> {
        let peer_id = cfg.keypair.public().to_peer_id();
        let request_timeout = cfg.request_timeout.max(Duration::from_millis(1));
        let transport = build_transport(&cfg.keypair, cfg.secret, request_timeout)?;
        let rpc = request_response::Behaviour::with_codec(
            FrameCodec,
            [(PROTOCOL, ProtocolSupport::Full)],
            request_response::Config::default()
                .with_request_timeout(request_timeout)
                .with_max_concurrent_streams(MAX_STREAMS_PER_CONNECTION),
        );
        let ping = ping::Behaviour::new(
            ping::Config::new()
                .with_interval(Duration::from_secs(10))
                .with_timeout(Duration::from_secs(20)),
        );
        let mut swarm = Swarm::new(
            transport,
            Behaviour { rpc, ping },
            peer_id,
            libp2p::swarm::Config::with_tokio_executor()
                .with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT),
        );
        let mut waiting = HashMap::new();
        for addr in cfg.listen {
            let id = swarm
                .listen_on(addr.clone())
                .map_err(|e| ClusterHostError::Listen {
                    addr: addr.clone(),
                    reason: e.to_string(),
                })?;
            waiting.insert(id, addr);
        }

        let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_CHANNEL);
        let (inbound_tx, inbound_rx) = mpsc::channel(INBOUND_CHANNEL);
        let (ready_tx, ready_rx) = oneshot::channel();
        let mut task = Task::new(swarm);
        if waiting.is_empty() {
            let _ = ready_tx.send(Ok(()));
        } else {
            task.startup = Some((waiting, ready_tx));
        }
        tokio::spawn(task.run(cmd_rx, inbound_tx));

        let host = ClusterHost {
            peer_id,
            commands: cmd_tx,
            request_timeout,
            down: Arc::default(),
        };
        let ready = match tokio::time::timeout(LISTEN_TIMEOUT, ready_rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(ClusterHostError::Stopped),
            Err(_) => Err(ClusterHostError::Listen {
                addr: Multiaddr::empty(),
                reason: "no listen address reported in time".into(),
            }),
        };
        if let Err(e) = ready {
            host.shutdown().await;
            return Err(e);
        }
        Ok((host, inbound_rx))
    }

    /// This host's peer ID.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// Bound listen addresses (port 0 resolved), without /p2p suffix.
    pub async fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.ask(Command::ListenAddrs).await.unwrap_or_default()
    }

    /// Sends `request` to `peer` (dialing `addrs` if not connected; addrs may be empty when already connected or known) and returns its reply bytes.
    ///
    /// Fails with [`TransportError::Timeout`] after `timeout` (capped by
    /// [`ClusterHostConfig::request_timeout`]) and with
    /// [`TransportError::Unreachable`] when the peer cannot be dialled or the
    /// connection drops; the node ID in these errors is 0, for the caller to
    /// fill in.
    pub async fn call(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        request: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, TransportError> {
        if request.len() > MAX_FRAME {
            return Err(TransportError::Other(format!(
                "request of {} bytes exceeds the {MAX_FRAME}-byte frame limit",
                request.len()
            )));
        }
        let (tx, rx) = oneshot::channel();
        let cmd = Command::Call {
            peer,
            addrs,
            request,
            reply: tx,
        };
        let exchange = async {
            self.commands.send(cmd).await.map_err(|_| stopped())?;
            rx.await.map_err(|_| stopped())?
        };
        let r = match tokio::time::timeout(timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(TransportError::Timeout(0)),
        };
        match &r {
            Ok(_) => self.heard_from(&peer),
            Err(e @ (TransportError::Unreachable(..) | TransportError::Timeout(_))) => {
                if peer != self.peer_id && self.lock_down().insert(peer) {
                    tracing::warn!("cluster peer {peer} is unreachable: {e}");
                }
            }
            Err(_) => {}
        }
        r
    }

    /// `peer` answered or sent a request: it is reachable.
    pub fn heard_from(&self, peer: &PeerId) {
        let mut down = self.lock_down();
        if !down.is_empty() && down.remove(peer) {
            tracing::info!("cluster peer {peer} is reachable again");
        }
    }

    /// Peers whose last request from here failed and that have not been
    /// heard from since.
    pub fn unreachable(&self) -> HashSet<PeerId> {
        self.lock_down().clone()
    }

    fn lock_down(&self) -> MutexGuard<'_, HashSet<PeerId>> {
        self.down.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Dials a multiaddr ending in `/p2p/<id>`; returns the peer id once connected.
    pub async fn connect(&self, addr: Multiaddr) -> Result<PeerId, TransportError> {
        let (tx, rx) = oneshot::channel();
        let exchange = async {
            self.commands
                .send(Command::Connect { addr, reply: tx })
                .await
                .map_err(|_| stopped())?;
            rx.await.map_err(|_| stopped())?
        };
        match tokio::time::timeout(self.request_timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(TransportError::Timeout(0)),
        }
    }

    /// Currently connected peers.
    pub async fn connected_peers(&self) -> Vec<PeerId> {
        self.ask(Command::Peers).await.unwrap_or_default()
    }

    /// Stops the swarm task (idempotent). Returns once the swarm, its
    /// listeners and connections are gone.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    async fn ask<T>(&self, cmd: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(cmd(tx)).await.ok()?;
        rx.await.ok()
    }
}

// ---------------------------------------------------------------------------
// Transport

/// Sent by both sides right after the pnet nonces, encrypted (see
/// [`TransportBuilder::with_key_check`]): plain pnet has no MAC, so without
/// it a wrong secret can hang the dial until the handshake timeout instead
/// of failing at once. Only Ferrite cluster peers speak to this host, so
/// the extra 16 bytes cost no compatibility.
const PSK_CHECK: &[u8; 16] = b"ferrite-cluster\n";

/// TCP → pnet(secret) → Noise → Yamux, with [`PSK_CHECK`]; handshake
/// failures read [`SECRET_MISMATCH_MESSAGE`].
fn build_transport(
    keypair: &identity::Keypair,
    secret: [u8; 32],
    timeout: Duration,
) -> Result<Boxed<(PeerId, StreamMuxerBox)>, ClusterHostError> {
    // The TCP connect has its own limit so that the overall one firing
    // means "connected, but the handshake stalled".
    TransportBuilder::new(keypair.clone())
        .with_swarm_key(SwarmKey::from_bytes(secret))
        .with_key_check(PSK_CHECK)
        .with_mismatch_message(SECRET_MISMATCH_MESSAGE)
        .with_timeouts(timeout, timeout * 2)
        .build()
        .map_err(|e| ClusterHostError::Transport(e.to_string()))
}

// ---------------------------------------------------------------------------
// Codec: one frame per direction, a big-endian u32 length then the bytes.

#[derive(Clone, Copy, Default)]
struct FrameCodec;

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the {MAX_FRAME}-byte limit"),
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, data: &[u8]) -> io::Result<()> {
    if data.len() > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "frame of {} bytes exceeds the {MAX_FRAME}-byte limit",
                data.len()
            ),
        ));
    }
    let header = (data.len() as u32).to_be_bytes();
    if data.len() + 4 <= SMALL_FRAME {
        let mut buf = [0u8; SMALL_FRAME];
        buf[..4].copy_from_slice(&header);
        buf[4..4 + data.len()].copy_from_slice(data);
        io.write_all(&buf[..4 + data.len()]).await
    } else {
        io.write_all(&header).await?;
        io.write_all(data).await
    }
}

impl request_response::Codec for FrameCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Vec<u8>> {
        read_frame(io).await
    }

    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Vec<u8>> {
        read_frame(io).await
    }

    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> io::Result<()> {
        write_frame(io, &req).await
    }

    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Vec<u8>,
    ) -> io::Result<()> {
        write_frame(io, &res).await
    }
}

// ---------------------------------------------------------------------------
// Behaviour and the swarm task

mod composed {
    // The derive's `BehaviourEvent` (variants `Rpc`, `Ping`) is private to
    // this module's parent and needs no docs.
    #![allow(missing_docs)]

    use libp2p::swarm::NetworkBehaviour;
    use libp2p::{ping, request_response};

    #[derive(NetworkBehaviour)]
    pub(super) struct Behaviour {
        pub(super) rpc: request_response::Behaviour<super::FrameCodec>,
        pub(super) ping: ping::Behaviour,
    }
}

use composed::{Behaviour, BehaviourEvent};

type RpcEvent = request_response::Event<Vec<u8>, Vec<u8>>;

/// Listeners still to report an address, and whom to tell when all have.
type Startup = (
    HashMap<ListenerId, Multiaddr>,
    oneshot::Sender<Result<(), ClusterHostError>>,
);

/// Per-peer outbound bookkeeping.
#[derive(Default)]
struct PeerCalls {
    in_flight: usize,
    queued: VecDeque<(Vec<u8>, CallReply)>,
}

struct Task {
    swarm: Swarm<Behaviour>,
    /// Sent requests awaiting their answer.
    pending: HashMap<OutboundRequestId, (PeerId, CallReply)>,
    calls: HashMap<PeerId, PeerCalls>,
    /// `connect` callers waiting for a connection.
    connects: HashMap<PeerId, Vec<ConnectReply>>,
    /// The error of the last failed dial per peer: request-response only
    /// says "DialFailure", the swarm event (which comes first) says why.
    dial_errors: HashMap<PeerId, TransportError>,
    /// Addresses callers gave us, for later redials (request-response
    /// forgets an address after one failed dial).
    addrs: HashMap<PeerId, Vec<Multiaddr>>,
    /// When we last warned about a secret mismatch, per peer / remote IP.
    warned: HashMap<String, Instant>,
    /// Listeners still to report an address, and whom to tell.
    startup: Option<Startup>,
}

impl Task {
    fn new(swarm: Swarm<Behaviour>) -> Self {
        Task {
            swarm,
            pending: HashMap::new(),
            calls: HashMap::new(),
            connects: HashMap::new(),
            dial_errors: HashMap::new(),
            addrs: HashMap::new(),
            warned: HashMap::new(),
            startup: None,
        }
    }

    async fn run(mut self, mut commands: mpsc::Receiver<Command>, inbound: mpsc::Sender<Inbound>) {
        // Inbound requests the bounded channel had no room for, in order.
        let mut overflow: VecDeque<Inbound> = VecDeque::new();
        // Answers the application has yet to give; each yields the
        // request-response channel back with the reply.
        let mut replies = FuturesUnordered::new();
        let mut ack = None;
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => match event {
                    SwarmEvent::Behaviour(BehaviourEvent::Rpc(RpcEvent::Message {
                        peer,
                        message: request_response::Message::Request { request, channel, .. },
                        ..
                    })) => {
                        let (tx, rx) = oneshot::channel();
                        let req = Inbound { from: peer, request, reply: tx };
                        if overflow.is_empty() {
                            match inbound.try_send(req) {
                                Ok(()) => {}
                                Err(mpsc::error::TrySendError::Full(req)) => overflow.push_back(req),
                                // Nobody listens: dropping `req` drops the channel.
                                Err(mpsc::error::TrySendError::Closed(_)) => {}
                            }
                        } else {
                            overflow.push_back(req);
                        }
                        replies.push(rx.map(move |r| (channel, r.ok())));
                    }
                    other => self.on_event(other),
                },
                cmd = commands.recv() => match cmd {
                    None => break,
                    Some(Command::Shutdown(done)) => {
                        ack = Some(done);
                        break;
                    }
                    Some(cmd) => self.on_command(cmd),
                },
                Some((channel, reply)) = replies.next(), if !replies.is_empty() => {
                    if let Some(reply) = reply {
                        // Fails only if the stream is gone; request-response
                        // reports that as an InboundFailure.
                        let _ = self.swarm.behaviour_mut().rpc.send_response(channel, reply);
                    }
                }
                permit = inbound.reserve(), if !overflow.is_empty() => match permit {
                    Ok(permit) => {
                        if let Some(req) = overflow.pop_front() {
                            permit.send(req);
                        }
                    }
                    Err(_) => overflow.clear(),
                },
            }
        }
        // Dropping the swarm closes listeners and connections; pending
        // callers see their reply channel close ("shut down").
        drop(self);
        if let Some(ack) = ack {
            let _ = ack.send(());
        }
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Call {
                peer,
                addrs,
                request,
                reply,
            } => self.call(peer, addrs, request, reply),
            Command::Connect { addr, reply } => self.connect(addr, reply),
            Command::ListenAddrs(reply) => {
                let _ = reply.send(self.swarm.listeners().cloned().collect());
            }
            Command::Peers(reply) => {
                let _ = reply.send(self.swarm.connected_peers().copied().collect());
            }
            Command::Shutdown(_) => unreachable!("handled by the loop"),
        }
    }

    fn remember(&mut self, peer: PeerId, addrs: Vec<Multiaddr>) {
        if addrs.is_empty() {
            return;
        }
        let known = self.addrs.entry(peer).or_default();
        for mut addr in addrs {
            if matches!(addr.iter().last(), Some(Protocol::P2p(p)) if p == peer) {
                addr.pop();
            }
            if !known.contains(&addr) {
                if known.len() >= MAX_ADDRS_PER_PEER {
                    known.remove(0);
                }
                known.push(addr);
            }
        }
    }

    fn call(&mut self, peer: PeerId, addrs: Vec<Multiaddr>, request: Vec<u8>, reply: CallReply) {
        if peer == *self.swarm.local_peer_id() {
            let _ = reply.send(Err(TransportError::Other("cannot call self".into())));
            return;
        }
        self.remember(peer, addrs);
        let calls = self.calls.entry(peer).or_default();
        if calls.in_flight >= MAX_IN_FLIGHT_PER_PEER {
            calls.queued.push_back((request, reply));
        } else {
            self.send(peer, request, reply);
        }
    }

    fn send(&mut self, peer: PeerId, request: Vec<u8>, reply: CallReply) {
        // Addresses only matter for a dial; skip the clone when connected.
        let addrs = if self.swarm.is_connected(&peer) {
            Vec::new()
        } else {
            self.addrs.get(&peer).cloned().unwrap_or_default()
        };
        let id = self
            .swarm
            .behaviour_mut()
            .rpc
            .send_request_with_addresses(&peer, request, addrs);
        self.pending.insert(id, (peer, reply));
        self.calls.entry(peer).or_default().in_flight += 1;
    }

    /// Completes a sent request and lets queued ones through.
    fn finish(
        &mut self,
        id: OutboundRequestId,
        result: Result<Vec<u8>, TransportError>,
        dial_failed: bool,
    ) {
        let Some((peer, reply)) = self.pending.remove(&id) else {
            return;
        };
        let connected = self.swarm.is_connected(&peer);
        if let Some(calls) = self.calls.get_mut(&peer) {
            calls.in_flight = calls.in_flight.saturating_sub(1);
            if let (true, false, Err(e)) = (dial_failed, connected, &result) {
                // The queued ones would have gone over the dial that just failed.
                for (_, reply) in calls.queued.drain(..) {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
        let _ = reply.send(result);
        self.pump(peer);
    }

    /// Sends queued calls for `peer` while under the in-flight limit.
    fn pump(&mut self, peer: PeerId) {
        loop {
            let Some(calls) = self.calls.get_mut(&peer) else {
                return;
            };
            if calls.in_flight >= MAX_IN_FLIGHT_PER_PEER {
                return;
            }
            let Some((request, reply)) = calls.queued.pop_front() else {
                if calls.in_flight == 0 {
                    self.calls.remove(&peer);
                }
                return;
            };
            if !reply.is_closed() {
                self.send(peer, request, reply);
            }
        }
    }

    fn connect(&mut self, addr: Multiaddr, reply: ConnectReply) {
        let Some(Protocol::P2p(peer)) = addr.iter().last() else {
            let _ = reply.send(Err(TransportError::Other(format!(
                "{addr}: address must end in /p2p/<peer id>"
            ))));
            return;
        };
        if peer == *self.swarm.local_peer_id() {
            let _ = reply.send(Err(TransportError::Other("cannot connect to self".into())));
            return;
        }
        let mut bare = addr.clone();
        bare.pop();
        self.remember(peer, vec![bare.clone()]);
        if self.swarm.is_connected(&peer) {
            let _ = reply.send(Ok(peer));
            return;
        }
        let opts = DialOpts::peer_id(peer)
            .addresses(vec![bare])
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .build();
        match self.swarm.dial(opts) {
            // A dial already under way settles this one too.
            Ok(()) | Err(DialError::DialPeerConditionFalse(_)) => {
                let waiting = self.connects.entry(peer).or_default();
                waiting.retain(|r| !r.is_closed());
                waiting.push(reply);
            }
            Err(e) => {
                let err = self.dial_error(Some(peer), &e);
                let _ = reply.send(Err(err));
            }
        }
    }

    /// Maps a dial error, warning (rate-limited) about secret mismatches.
    fn dial_error(&mut self, peer: Option<PeerId>, err: &DialError) -> TransportError {
        if let DialError::Transport(errors) = err {
            if let Some((addr, failure)) = errors
                .iter()
                .find_map(|(a, e)| handshake_failure(e).map(|f| (a, f)))
            {
                let key = peer.map_or_else(|| addr.to_string(), |p| p.to_string());
                let msg = format!("{failure}, dialing {addr}");
                self.warn_mismatch(key, &msg);
                return TransportError::Unreachable(0, msg);
            }
            let msg = errors
                .iter()
                .map(|(a, e)| format!("{a}: {}", error_chain(e)))
                .collect::<Vec<_>>()
                .join("; ");
            return TransportError::Unreachable(0, format!("dial failed: {msg}"));
        }
        TransportError::Unreachable(0, format!("dial failed: {err}"))
    }

    fn warn_mismatch(&mut self, key: String, msg: &str) {
        let now = Instant::now();
        if self.warned.len() > 1024 {
            self.warned
                .retain(|_, t| now.duration_since(*t) < MISMATCH_WARN_INTERVAL);
        }
        match self.warned.get(&key) {
            Some(t) if now.duration_since(*t) < MISMATCH_WARN_INTERVAL => {
                tracing::debug!("{msg}");
            }
            _ => {
                tracing::warn!("{msg}");
                self.warned.insert(key, now);
            }
        }
    }

    fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Rpc(ev)) => self.on_rpc(ev),
            // A dead connection would swallow requests until their timeout;
            // closing it makes the next call redial.
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                peer,
                connection,
                result: Err(e),
            })) if !matches!(e, ping::Failure::Unsupported) => {
                tracing::debug!(%peer, "cluster ping failed ({e}), closing connection");
                self.swarm.close_connection(connection);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(_)) => {}
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => {
                self.dial_errors.remove(&peer_id);
                if endpoint.is_dialer() {
                    let addr = endpoint.get_remote_address().clone();
                    self.remember(peer_id, vec![addr]);
                }
                for reply in self.connects.remove(&peer_id).unwrap_or_default() {
                    let _ = reply.send(Ok(peer_id));
                }
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                let err = self.dial_error(peer_id, &error);
                tracing::debug!(?peer_id, "cluster dial failed: {err}");
                if let Some(peer) = peer_id {
                    if !self.swarm.is_connected(&peer) {
                        for reply in self.connects.remove(&peer).unwrap_or_default() {
                            let _ = reply.send(Err(err.clone()));
                        }
                    }
                    self.dial_errors.insert(peer, err);
                }
            }
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                ..
            } => {
                if let ListenError::Transport(e) = &error {
                    if let Some(failure) = handshake_failure(e) {
                        let ip = send_back_addr
                            .iter()
                            .find(|p| matches!(p, Protocol::Ip4(_) | Protocol::Ip6(_)))
                            .map_or_else(|| send_back_addr.to_string(), |p| p.to_string());
                        let msg = format!("{failure}, incoming from {send_back_addr}");
                        self.warn_mismatch(ip, &msg);
                        return;
                    }
                }
                tracing::debug!(
                    "cluster incoming connection from {send_back_addr} failed: {error}"
                );
            }
            SwarmEvent::NewListenAddr {
                listener_id,
                address,
            } => {
                tracing::debug!("cluster host listening on {address}");
                if let Some((waiting, _)) = &mut self.startup {
                    waiting.remove(&listener_id);
                    if waiting.is_empty() {
                        if let Some((_, ready)) = self.startup.take() {
                            let _ = ready.send(Ok(()));
                        }
                    }
                }
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                ..
            } => {
                let failed = self
                    .startup
                    .as_ref()
                    .and_then(|(w, _)| w.get(&listener_id).cloned());
                if let Some(addr) = failed {
                    if let Some((_, ready)) = self.startup.take() {
                        let reason = match reason {
                            Ok(()) => "listener closed".to_string(),
                            Err(e) => e.to_string(),
                        };
                        let _ = ready.send(Err(ClusterHostError::Listen { addr, reason }));
                    }
                } else if let Err(e) = reason {
                    tracing::warn!("cluster listener closed: {e}");
                }
            }
            SwarmEvent::ListenerError { error, .. } => {
                tracing::warn!("cluster listener error: {error}");
            }
            _ => {}
        }
    }

    fn on_rpc(&mut self, event: RpcEvent) {
        match event {
            RpcEvent::Message {
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => self.finish(request_id, Ok(response), false),
            // Requests are handled in `run`, which owns the reply futures.
            RpcEvent::Message { .. } => {}
            RpcEvent::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                let dial_failed = matches!(error, OutboundFailure::DialFailure);
                let err = match error {
                    OutboundFailure::DialFailure => {
                        self.dial_errors.get(&peer).cloned().unwrap_or_else(|| {
                            TransportError::Unreachable(
                                0,
                                "dial failed (no known or reachable address)".into(),
                            )
                        })
                    }
                    OutboundFailure::Timeout => TransportError::Timeout(0),
                    OutboundFailure::ConnectionClosed => {
                        TransportError::Unreachable(0, "connection closed".into())
                    }
                    OutboundFailure::UnsupportedProtocols => {
                        TransportError::Other(format!("peer {peer} does not speak {PROTOCOL}"))
                    }
                    OutboundFailure::Io(e) => {
                        TransportError::Other(format!("rpc stream failed: {e}"))
                    }
                };
                self.finish(request_id, Err(err), dial_failed);
            }
            RpcEvent::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, "cluster inbound request failed: {error}");
            }
            RpcEvent::ResponseSent { .. } => {}
        }
    }
}

/// An error and its sources, for messages that must say why.
fn error_chain(e: &dyn StdError) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(src) = cur {
        let text = src.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = src.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 32] = [7; 32];

    struct Peer {
        host: ClusterHost,
        /// Listen address with the /p2p suffix.
        addr: Multiaddr,
    }

    async fn start(secret: [u8; 32]) -> (Peer, mpsc::Receiver<Inbound>) {
        start_with(secret, DEFAULT_REQUEST_TIMEOUT).await
    }

    async fn start_with(secret: [u8; 32], timeout: Duration) -> (Peer, mpsc::Receiver<Inbound>) {
        let cfg = ClusterHostConfig {
            keypair: identity::Keypair::generate_ed25519(),
            secret,
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
            request_timeout: timeout,
        };
        let (host, inbound) = ClusterHost::start(cfg).await.expect("start");
        let addrs = host.listen_addrs().await;
        assert_eq!(addrs.len(), 1, "{addrs:?}");
        assert!(
            !addrs[0].iter().any(|p| matches!(p, Protocol::Tcp(0))),
            "port 0 not resolved: {addrs:?}"
        );
        let addr = addrs[0].clone().with(Protocol::P2p(host.peer_id()));
        (Peer { host, addr }, inbound)
    }

    /// Answers every request with `prefix ++ request`; returns how many it saw.
    fn echo(
        mut inbound: mpsc::Receiver<Inbound>,
        prefix: &'static [u8],
    ) -> tokio::task::JoinHandle<usize> {
        tokio::spawn(async move {
            let mut seen = 0;
            while let Some(req) = inbound.recv().await {
                seen += 1;
                let mut out = Vec::with_capacity(prefix.len() + req.request.len());
                out.extend_from_slice(prefix);
                out.extend_from_slice(&req.request);
                let _ = req.reply.send(out);
            }
            seen
        })
    }

    fn bare(addr: &Multiaddr) -> Multiaddr {
        let mut a = addr.clone();
        a.pop();
        a
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn host_same_secret_calls_both_ways_and_concurrently() {
        let (a, a_in) = start(SECRET).await;
        let (b, b_in) = start(SECRET).await;
        let _ea = echo(a_in, b"a:");
        let _eb = echo(b_in, b"b:");
        let t = Duration::from_secs(5);

        let reply = a
            .host
            .call(b.host.peer_id(), vec![bare(&b.addr)], b"hello".to_vec(), t)
            .await
            .expect("A -> B");
        assert_eq!(reply, b"b:hello");
        assert_eq!(a.host.connected_peers().await, vec![b.host.peer_id()]);

        // B knows A through the connection A opened: no addresses needed.
        let reply = b
            .host
            .call(a.host.peer_id(), Vec::new(), b"hi".to_vec(), t)
            .await
            .expect("B -> A");
        assert_eq!(reply, b"a:hi");

        // Empty request and response bodies are fine.
        let reply = a
            .host
            .call(b.host.peer_id(), Vec::new(), Vec::new(), t)
            .await;
        assert_eq!(reply.unwrap(), b"b:");

        // 200 concurrent calls (more than the per-peer in-flight limit).
        let calls = (0..200u32).map(|i| {
            let host = a.host.clone();
            let peer = b.host.peer_id();
            async move {
                let req = format!("req-{i}").into_bytes();
                let reply = host.call(peer, Vec::new(), req, t).await;
                (i, reply)
            }
        });
        for (i, reply) in futures::future::join_all(calls).await {
            assert_eq!(
                reply.expect("concurrent call"),
                format!("b:req-{i}").into_bytes()
            );
        }
        a.host.shutdown().await;
        b.host.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn host_connect_reports_peer() {
        let (a, _a_in) = start(SECRET).await;
        let (b, _b_in) = start(SECRET).await;
        let id = a.host.connect(b.addr.clone()).await.expect("connect");
        assert_eq!(id, b.host.peer_id());
        assert!(a.host.connected_peers().await.contains(&id));
        // Again while connected: immediate success.
        assert_eq!(a.host.connect(b.addr.clone()).await.unwrap(), id);
        // No /p2p suffix: refused up front.
        let err = a.host.connect(bare(&b.addr)).await.unwrap_err();
        assert!(matches!(err, TransportError::Other(_)), "{err:?}");
        a.host.shutdown().await;
        a.host.shutdown().await; // idempotent
        b.host.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn host_different_secret_is_rejected() {
        let (a, _a_in) = start(SECRET).await;
        let (b, mut b_in) = start([9; 32]).await;

        let started = Instant::now();
        let err = a.host.connect(b.addr.clone()).await.unwrap_err();
        assert!(
            err.to_string().contains("cluster secret mismatch"),
            "connect: {err}"
        );
        let err = a
            .host
            .call(
                b.host.peer_id(),
                vec![bare(&b.addr)],
                b"secret stuff".to_vec(),
                Duration::from_secs(5),
            )
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("cluster secret mismatch"),
            "call: {err}"
        );
        // The other direction fails the same way.
        let err = b
            .host
            .call(
                a.host.peer_id(),
                vec![bare(&a.addr)],
                b"x".to_vec(),
                Duration::from_secs(5),
            )
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("cluster secret mismatch"),
            "call B -> A: {err}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(a.host.connected_peers().await.is_empty());
        assert!(b.host.connected_peers().await.is_empty());
        assert!(matches!(
            b_in.try_recv(),
            Err(mpsc::error::TryRecvError::Empty)
        ));
        a.host.shutdown().await;
        b.host.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn host_large_roundtrip() {
        // Debug builds encrypt slowly (ferrite-p2p's cipher is unoptimized
        // there); leave room on a busy 2-core machine.
        let t = Duration::from_secs(18);
        let (a, _a_in) = start_with(SECRET, t).await;
        let (b, b_in) = start_with(SECRET, t).await;
        let _eb = echo(b_in, b"big:");
        let started = Instant::now();
        let request: Vec<u8> = (0..20u32 << 20).map(|i| (i % 251) as u8).collect();
        let reply = a
            .host
            .call(b.host.peer_id(), vec![bare(&b.addr)], request.clone(), t)
            .await
            .expect("20 MiB call");
        eprintln!("20 MiB roundtrip took {:?}", started.elapsed());
        assert_eq!(reply.len(), request.len() + 4);
        assert_eq!(&reply[..4], b"big:");
        assert!(reply[4..] == request[..]);

        // Over the limit: refused locally.
        let err = a
            .host
            .call(
                b.host.peer_id(),
                Vec::new(),
                vec![0; MAX_FRAME + 1],
                Duration::from_secs(1),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, TransportError::Other(_)), "{err:?}");
        a.host.shutdown().await;
        b.host.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn host_stopped_peer_fails_fast() {
        let (a, _a_in) = start(SECRET).await;
        let (b, b_in) = start(SECRET).await;
        let _eb = echo(b_in, b"");
        let peer = b.host.peer_id();
        let t = Duration::from_secs(3);
        a.host
            .call(peer, vec![bare(&b.addr)], b"ping".to_vec(), t)
            .await
            .expect("call while up");

        b.host.shutdown().await;
        for _ in 0..3 {
            let started = Instant::now();
            let err = a
                .host
                .call(peer, Vec::new(), b"ping".to_vec(), t)
                .await
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    TransportError::Unreachable(..) | TransportError::Timeout(_)
                ),
                "{err:?}"
            );
            assert!(started.elapsed() < t + Duration::from_millis(500));
        }
        // A handle to a stopped host fails too, without hanging.
        let err = b
            .host
            .call(a.host.peer_id(), Vec::new(), Vec::new(), t)
            .await
            .unwrap_err();
        assert!(matches!(err, TransportError::Other(_)), "{err:?}");
        assert!(b.host.listen_addrs().await.is_empty());
        a.host.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn host_dropped_reply_is_an_error() {
        let (a, _a_in) = start(SECRET).await;
        let (b, mut b_in) = start(SECRET).await;
        tokio::spawn(async move {
            while let Some(req) = b_in.recv().await {
                drop(req.reply);
            }
        });
        let err = a
            .host
            .call(
                b.host.peer_id(),
                vec![bare(&b.addr)],
                b"?".to_vec(),
                Duration::from_secs(5),
            )
            .await
            .unwrap_err();
        assert!(!matches!(err, TransportError::Timeout(_)), "{err:?}");
        a.host.shutdown().await;
        b.host.shutdown().await;
    }
}
