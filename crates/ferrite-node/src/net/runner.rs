//! The swarm task: owns the host, answers [`Cmd`]s, routes wants.
//!
//! Wants go first to a peer that has recently sent us blocks (the least
//! loaded one), so one fetch does not ask every connected peer for every
//! block. A DONT_HAVE moves the want to the next such peer; when none is
//! left, or none exists yet, the want is broadcast to every peer (and to
//! peers that connect later), and a broadcast want still unanswered after
//! a second starts a DHT provider search whose results are dialled.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::repo::Repo;
use bytes::Bytes;
use ferrite_bitswap as bitswap;
use ferrite_ipld::Cid;
use ferrite_p2p::libp2p::multiaddr::Protocol;
use ferrite_p2p::libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use ferrite_p2p::libp2p::swarm::{ConnectionId, SwarmEvent};
use ferrite_p2p::libp2p::{identify, identity, kad, ping, Multiaddr, PeerId};
use ferrite_p2p::{BehaviourEvent, Host, HostBuilder};
use ferrite_store::Blockstore;
use tokio::sync::{mpsc, oneshot};

use super::{
    BitswapStats, Cmd, Counters, Listening, NetConfig, PeerInfo, Pending, Provider, Waiter,
};
use crate::{Error, Result};

/// A want broadcast this long without an answer starts a DHT search.
const PROVIDER_SEARCH_DELAY: Duration = Duration::from_secs(1);
/// A want sent to one peer that stays unanswered this long is broadcast.
const SINGLE_PEER_PATIENCE: Duration = Duration::from_secs(3);
/// At most this many DHT provider searches for wants run at once.
const MAX_WANT_SEARCHES: usize = 4;
/// The same want is searched for again after this long.
const SEARCH_AGAIN_AFTER: Duration = Duration::from_secs(30);

/// How long start-up waits for the listeners to report their addresses.
const LISTEN_WAIT: Duration = Duration::from_secs(5);

/// Peers from the peerstore dialled at start.
const SAVED_PEERS_TO_DIAL: usize = 16;

type Reply<T> = oneshot::Sender<std::result::Result<T, String>>;

/// The server side reads blocks from the repo, and from blocks still on
/// their way to it.
struct StoreAdapter {
    repo: Arc<Repo>,
    pending: Arc<Pending>,
}

impl bitswap::BlockStore for StoreAdapter {
    fn get(&self, cid: &Cid) -> Option<Bytes> {
        self.pending
            .get(cid)
            .or_else(|| self.repo.blocks().get(cid).ok().flatten())
    }
    fn has(&self, cid: &Cid) -> bool {
        self.pending.get(cid).is_some() || self.repo.blocks().has(cid).unwrap_or(false)
    }
}

struct Want {
    waiters: Vec<Waiter>,
    assigned: Option<PeerId>,
    tried: HashSet<PeerId>,
    broadcast: bool,
    sent_at: Instant,
    searched_at: Option<Instant>,
}

enum Query {
    FindProviders {
        tx: mpsc::Sender<Provider>,
        max: usize,
        seen: HashSet<PeerId>,
    },
    WantProviders,
    FindPeer(PeerId, Reply<Vec<Multiaddr>>),
}

struct Conn {
    id: ConnectionId,
    addr: Multiaddr,
    outbound: bool,
}

struct Runner {
    host: Host<bitswap::Behaviour>,
    rx: mpsc::UnboundedReceiver<Cmd>,
    repo: Arc<Repo>,
    pending: Arc<Pending>,
    counters: Arc<Counters>,
    config: NetConfig,
    wants: HashMap<Cid, Want>,
    /// Peers that sent us blocks, with the number of wants assigned to them.
    useful: HashMap<PeerId, usize>,
    conns: HashMap<PeerId, Vec<Conn>>,
    rtt: HashMap<PeerId, Duration>,
    connects: HashMap<PeerId, Vec<Reply<PeerId>>>,
    queries: HashMap<kad::QueryId, Query>,
    provides: HashMap<ferrite_p2p::ProvideBatchId, Reply<usize>>,
    want_searches: usize,
    bootstrap_peers: Vec<(PeerId, Multiaddr)>,
    /// Ledger totals of peers that have disconnected.
    sent_closed: (u64, u64),
    /// Last seen ledger of each connected peer.
    sent_seen: HashMap<PeerId, (u64, u64)>,
    messages_received: u64,
}

pub(super) fn spawn(
    repo: Arc<Repo>,
    keypair: identity::Keypair,
    config: NetConfig,
    rx: mpsc::UnboundedReceiver<Cmd>,
    pending: Arc<Pending>,
    counters: Arc<Counters>,
    listening: tokio::sync::watch::Sender<Option<Arc<Listening>>>,
) -> Result<ferrite_p2p::BandwidthCounters> {
    pending.start(repo.clone());
    let store = Arc::new(StoreAdapter {
        repo: repo.clone(),
        pending: pending.clone(),
    });
    let bitswap = bitswap::Behaviour::new(store, bitswap::Config::default());
    let mut host = HostBuilder::new(keypair, config.host.clone())
        .build_with(bitswap)
        .map_err(|e| Error::Invalid(format!("cannot start the network: {e}")))?;
    if config.routing_none {
        host.behaviour_mut().kad.set_mode(Some(kad::Mode::Client));
    }
    let bootstrap_peers = bootstrap_peers(&mut host, &config.bootstrap);
    let mut runner = Runner {
        host,
        rx,
        repo,
        pending,
        counters,
        config,
        wants: HashMap::new(),
        useful: HashMap::new(),
        conns: HashMap::new(),
        rtt: HashMap::new(),
        connects: HashMap::new(),
        queries: HashMap::new(),
        provides: HashMap::new(),
        want_searches: 0,
        bootstrap_peers,
        sent_closed: (0, 0),
        sent_seen: HashMap::new(),
        messages_received: 0,
    };
    runner.dial_bootstrap();
    // Reconnect to peers known from the last run (the peerstore), so a
    // restarted node finds its network again without bootstrap entries.
    for p in runner.host.known_peers(SAVED_PEERS_TO_DIAL) {
        let opts = DialOpts::peer_id(p.peer)
            .addresses(p.addrs)
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .build();
        let _ = runner.host.swarm_mut().dial(opts);
    }
    let bandwidth = runner.host.bandwidth();
    tokio::spawn(async move {
        let addrs = runner.host.wait_listening(LISTEN_WAIT).await;
        let skipped = runner.host.skipped_listen_addrs().to_vec();
        let _ = listening.send(Some(Arc::new(Listening { addrs, skipped })));
        runner.run().await
    });
    Ok(bandwidth)
}

/// The `(peer, address)` pairs of `Bootstrap`, each peer known to the DHT
/// and protected from the connection manager.
fn bootstrap_peers(
    host: &mut Host<bitswap::Behaviour>,
    addrs: &[Multiaddr],
) -> Vec<(PeerId, Multiaddr)> {
    let mut out = Vec::new();
    for addr in addrs {
        match split_p2p(addr) {
            Some((peer, base)) => {
                host.behaviour_mut().kad.add_address(&peer, base.clone());
                host.protect(peer);
                out.push((peer, base));
            }
            None => tracing::warn!("Bootstrap address {addr} has no /p2p/ part; skipped"),
        }
    }
    out
}

/// `(peer, address without /p2p/)` of an address ending in `/p2p/<peer>`.
pub(crate) fn split_p2p(addr: &Multiaddr) -> Option<(PeerId, Multiaddr)> {
    let mut base = addr.clone();
    match base.pop() {
        Some(Protocol::P2p(peer)) => Some((peer, base)),
        _ => None,
    }
}

fn is_unspecified(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| match p {
        Protocol::Ip4(ip) => ip.is_unspecified(),
        Protocol::Ip6(ip) => ip.is_unspecified(),
        _ => false,
    })
}

impl Runner {
    async fn run(&mut self) {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut slow_tick = tokio::time::interval(Duration::from_secs(30));
        slow_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = self.host.next_event() => self.on_swarm_event(event),
                cmd = self.rx.recv() => match cmd {
                    Some(Cmd::Shutdown(done)) => {
                        self.shutdown();
                        let _ = done.send(());
                        return;
                    }
                    Some(cmd) => self.on_cmd(cmd),
                    None => {
                        self.shutdown();
                        return;
                    }
                },
                _ = tick.tick() => self.on_tick(),
                _ = slow_tick.tick() => self.dial_bootstrap(),
            }
        }
    }

    fn shutdown(&mut self) {
        let store = self.repo.path().join("peerstore.json");
        if let Err(e) = self.host.save_peerstore(&store) {
            tracing::warn!("cannot save {}: {e}", store.display());
        }
        let peers: Vec<PeerId> = self.host.swarm().connected_peers().copied().collect();
        for p in peers {
            let _ = self.host.swarm_mut().disconnect_peer_id(p);
        }
        if let Err(e) = self.pending.flush() {
            tracing::error!("{e}");
        }
    }

    fn dial_bootstrap(&mut self) {
        for (peer, addr) in self.bootstrap_peers.clone() {
            if self.host.swarm().is_connected(&peer) {
                continue;
            }
            let opts = DialOpts::peer_id(peer)
                .addresses(vec![addr])
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            if let Err(e) = self.host.swarm_mut().dial(opts) {
                tracing::debug!("bootstrap dial {peer}: {e}");
            }
        }
    }

    // ------------------------------------------------------------------
    // Commands

    fn on_cmd(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Request { cids, waiter } => self.request(cids, waiter),
            Cmd::Cancel { waiter, cids } => {
                for cid in cids {
                    let Some(w) = self.wants.get_mut(&cid) else {
                        continue;
                    };
                    w.waiters.retain(|x| x.id != waiter);
                    if w.waiters.is_empty() {
                        self.drop_want(&cid);
                        self.host.behaviour_mut().extra.cancel(&cid);
                    }
                }
            }
            Cmd::Connect(addr, reply) => self.connect(addr, reply),
            Cmd::Disconnect(addr, reply) => {
                let r = match addr_peer(&addr) {
                    None => Err(format!("{addr}: address has no /p2p/<peer-id> part")),
                    Some(peer) => {
                        self.host.unprotect(&peer);
                        match self.host.swarm_mut().disconnect_peer_id(peer) {
                            Ok(()) => Ok(peer),
                            Err(()) => Err(format!("{peer} is not connected")),
                        }
                    }
                };
                let _ = reply.send(r);
            }
            Cmd::Peers(reply) => {
                let mut out = Vec::new();
                for (peer, conns) in &self.conns {
                    if let Some(c) = conns.first() {
                        out.push(PeerInfo {
                            peer: *peer,
                            addr: c.addr.clone(),
                            outbound: c.outbound,
                            latency: self.rtt.get(peer).copied(),
                        });
                    }
                }
                out.sort_by_key(|p| p.peer.to_base58());
                let _ = reply.send(out);
            }
            Cmd::KnownAddrs(reply) => {
                // Each address once, without `/p2p/<peer>` (the DHT keeps
                // some with it, dialled addresses come without), sorted.
                let mut map: HashMap<PeerId, Vec<Multiaddr>> = HashMap::new();
                let mut add = |peer: PeerId, a: &Multiaddr| {
                    let a = ferrite_p2p::strip_p2p(a);
                    let v = map.entry(peer).or_default();
                    if !v.contains(&a) {
                        v.push(a);
                    }
                };
                for bucket in self.host.behaviour_mut().kad.kbuckets() {
                    for e in bucket.iter() {
                        for a in e.node.value.iter() {
                            add(*e.node.key.preimage(), a);
                        }
                    }
                }
                for (peer, conns) in &self.conns {
                    for c in conns.iter().filter(|c| c.outbound) {
                        add(*peer, &c.addr);
                    }
                }
                for v in map.values_mut() {
                    v.sort_by_key(|a| a.to_string());
                }
                let _ = reply.send(map);
            }
            Cmd::ListenAddrs(reply) => {
                let mut listen: Vec<Multiaddr> = self.host.swarm().listeners().cloned().collect();
                // Announce, AppendAnnounce and NoAnnounce are applied by
                // the host.
                let mut announced = self.host.announced_addrs();
                listen.sort_by_key(|a| a.to_string());
                announced.sort_by_key(|a| a.to_string());
                let _ = reply.send((listen, announced));
            }
            Cmd::FindProviders(cid, max, tx) => {
                if self.config.routing_none {
                    return; // dropping tx ends the stream empty
                }
                let id = self
                    .host
                    .behaviour_mut()
                    .kad
                    .get_providers(kad::RecordKey::new(&cid.hash().to_bytes()));
                self.counters.lookups.fetch_add(1, Ordering::Relaxed);
                self.queries.insert(
                    id,
                    Query::FindProviders {
                        tx,
                        max,
                        seen: HashSet::new(),
                    },
                );
            }
            Cmd::FindPeer(peer, reply) => {
                if let Some(conns) = self.conns.get(&peer) {
                    let _ = reply.send(Ok(conns.iter().map(|c| c.addr.clone()).collect()));
                    return;
                }
                if self.config.routing_none {
                    let _ = reply.send(Err("routing is disabled (Routing.Type none)".into()));
                    return;
                }
                let id = self.host.behaviour_mut().kad.get_closest_peers(peer);
                self.counters.lookups.fetch_add(1, Ordering::Relaxed);
                self.queries.insert(id, Query::FindPeer(peer, reply));
            }
            Cmd::Provide(cids, reply) => self.provide(cids, reply),
            Cmd::SetBootstrap(addrs) => {
                let fresh = bootstrap_peers(&mut self.host, &addrs);
                for (peer, _) in &self.bootstrap_peers {
                    if !fresh.iter().any(|(p, _)| p == peer) {
                        self.host.unprotect(peer);
                    }
                }
                self.bootstrap_peers = fresh;
                self.dial_bootstrap();
            }
            Cmd::Stats(reply) => {
                self.sample_ledgers();
                let (blocks_sent, data_sent) = self
                    .sent_seen
                    .values()
                    .fold(self.sent_closed, |a, b| (a.0 + b.0, a.1 + b.1));
                let c = &self.counters;
                let mut peers: Vec<PeerId> = self.conns.keys().copied().collect();
                peers.sort_by_key(|p| p.to_base58());
                let _ = reply.send(BitswapStats {
                    blocks_received: c.blocks_received.load(Ordering::Relaxed),
                    data_received: c.data_received.load(Ordering::Relaxed),
                    dup_blks_received: c.dup_blocks.load(Ordering::Relaxed),
                    dup_data_received: c.dup_data.load(Ordering::Relaxed),
                    blocks_sent,
                    data_sent,
                    messages_received: self.messages_received,
                    wantlist: self.host.behaviour_mut().extra.wantlist(),
                    peers,
                });
            }
            Cmd::Shutdown(_) => unreachable!("handled in run"),
        }
    }

    fn connect(&mut self, addr: Multiaddr, reply: Reply<PeerId>) {
        let Some((peer, base)) = split_p2p(&addr) else {
            let _ = reply.send(Err(format!(
                "invalid peer address {addr}: it must end in /p2p/<peer-id>"
            )));
            return;
        };
        if peer == self.host.local_peer_id() {
            let _ = reply.send(Err("cannot connect to self".into()));
            return;
        }
        // Explicitly connected peers are kept, as in Kubo.
        self.host.protect(peer);
        if self.host.swarm().is_connected(&peer) {
            let _ = reply.send(Ok(peer));
            return;
        }
        let opts = DialOpts::peer_id(peer)
            .addresses(vec![base])
            .condition(PeerCondition::Always)
            .build();
        match self.host.swarm_mut().dial(opts) {
            Ok(()) => self.connects.entry(peer).or_default().push(reply),
            Err(e) => {
                let _ = reply.send(Err(format!("failure: {e}")));
            }
        }
    }

    fn request(&mut self, cids: Vec<Cid>, waiter: Waiter) {
        for cid in cids {
            if let Some(w) = self.wants.get_mut(&cid) {
                w.waiters.push(Waiter {
                    id: waiter.id,
                    tx: waiter.tx.clone(),
                });
                continue;
            }
            // Arrived (or was stored) since the requester looked.
            if let Some(b) = self
                .pending
                .get(&cid)
                .or_else(|| self.repo.blocks().get(&cid).ok().flatten())
            {
                let _ = waiter.tx.send((cid, b));
                continue;
            }
            self.wants.insert(
                cid,
                Want {
                    waiters: vec![Waiter {
                        id: waiter.id,
                        tx: waiter.tx.clone(),
                    }],
                    assigned: None,
                    tried: HashSet::new(),
                    broadcast: false,
                    sent_at: Instant::now(),
                    searched_at: None,
                },
            );
            self.dispatch(cid);
        }
    }

    /// Sends the want for `cid` to the least loaded useful peer not yet
    /// tried, or to everyone.
    fn dispatch(&mut self, cid: Cid) {
        let Some(w) = self.wants.get_mut(&cid) else {
            return;
        };
        if w.broadcast {
            return;
        }
        let next = self
            .useful
            .iter()
            .filter(|(p, _)| !w.tried.contains(p))
            .min_by_key(|(_, load)| **load)
            .map(|(p, _)| *p);
        w.sent_at = Instant::now();
        match next {
            Some(p) => {
                w.assigned = Some(p);
                w.tried.insert(p);
                *self.useful.get_mut(&p).expect("useful peer") += 1;
                self.host.behaviour_mut().extra.want(cid, &[p]);
            }
            None => {
                w.assigned = None;
                w.broadcast = true;
                self.host.behaviour_mut().extra.want(cid, &[]);
            }
        }
    }

    /// Forgets a want's bookkeeping (not the Bitswap want itself).
    fn drop_want(&mut self, cid: &Cid) -> Option<Want> {
        let w = self.wants.remove(cid)?;
        if let Some(p) = w.assigned {
            if let Some(l) = self.useful.get_mut(&p) {
                *l = l.saturating_sub(1);
            }
        }
        Some(w)
    }

    fn provide(&mut self, cids: Vec<Cid>, reply: Option<Reply<usize>>) {
        if self.config.routing_none || !self.config.provide || cids.is_empty() {
            if let Some(r) = reply {
                let _ = r.send(if self.config.routing_none {
                    Err("routing is disabled (Routing.Type none)".into())
                } else {
                    Ok(0)
                });
            }
            return;
        }
        let keys = cids
            .iter()
            .map(|c| kad::RecordKey::new(&c.hash().to_bytes()))
            .collect();
        self.counters
            .provide_keys_queued
            .fetch_add(cids.len() as u64, Ordering::Relaxed);
        let id = self.host.provide(keys);
        if let Some(r) = reply {
            self.provides.insert(id, r);
        }
    }

    // ------------------------------------------------------------------
    // Swarm events

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent<bitswap::Behaviour>>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Extra(e)) => self.on_bitswap(e),
            SwarmEvent::Behaviour(BehaviourEvent::Kad(e)) => self.on_kad(e),
            SwarmEvent::Behaviour(BehaviourEvent::Provide(
                ferrite_p2p::ProvideEvent::Finished(report),
            )) => {
                tracing::debug!(?report, "provide batch done");
                let c = &self.counters;
                c.provide_keys_done
                    .fetch_add(report.keys_provided as u64, Ordering::Relaxed);
                c.provide_keys_failed
                    .fetch_add(report.keys_failed as u64, Ordering::Relaxed);
                c.provide_lookups
                    .fetch_add(report.lookups as u64, Ordering::Relaxed);
                if let Some(r) = self.provides.remove(&report.id) {
                    let _ = r.send(Ok(report.peers));
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                let kad_proto = ferrite_p2p::config::KAD_PROTOCOL;
                if info.protocols.iter().any(|p| p.as_ref() == kad_proto) {
                    for a in info.listen_addrs {
                        if !is_unspecified(&a) {
                            self.host.behaviour_mut().kad.add_address(&peer_id, a);
                        }
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                peer,
                result: Ok(rtt),
                ..
            })) => {
                self.rtt.insert(peer, rtt);
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                // The host announces it (unless Addresses.Announce or
                // NoAnnounce say otherwise), which also puts the DHT in
                // server mode without waiting for reachability probes.
                // The addresses at start-up are reported by
                // `Network::listening`; this is a later one (a new
                // interface) or part of that first burst.
                tracing::info!("swarm listening on {address}");
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } => {
                let (addr, outbound) = match &endpoint {
                    ferrite_p2p::libp2p::core::ConnectedPoint::Dialer { address, .. } => {
                        let mut a = address.clone();
                        if matches!(a.iter().last(), Some(Protocol::P2p(_))) {
                            a.pop();
                        }
                        (a, true)
                    }
                    ferrite_p2p::libp2p::core::ConnectedPoint::Listener {
                        send_back_addr, ..
                    } => (send_back_addr.clone(), false),
                };
                self.conns.entry(peer_id).or_default().push(Conn {
                    id: connection_id,
                    addr,
                    outbound,
                });
                for r in self.connects.remove(&peer_id).unwrap_or_default() {
                    let _ = r.send(Ok(peer_id));
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                ..
            } => {
                if let Some(v) = self.conns.get_mut(&peer_id) {
                    v.retain(|c| c.id != connection_id);
                }
                if num_established == 0 {
                    self.conns.remove(&peer_id);
                    self.rtt.remove(&peer_id);
                    if let Some((b, d)) = self.sent_seen.remove(&peer_id) {
                        self.sent_closed.0 += b;
                        self.sent_closed.1 += d;
                    }
                    self.peer_gone(peer_id);
                }
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer),
                error,
                ..
            } => {
                if self.host.swarm().is_connected(&peer) {
                    return;
                }
                let msg = if ferrite_p2p::is_pnet_mismatch(&error) {
                    format!("failure: {} ({error})", ferrite_p2p::PNET_MISMATCH_MESSAGE)
                } else {
                    format!("failure: {error}")
                };
                for r in self.connects.remove(&peer).unwrap_or_default() {
                    let _ = r.send(Err(msg.clone()));
                }
            }
            _ => {}
        }
    }

    /// A peer left: its assigned wants go elsewhere.
    fn peer_gone(&mut self, peer: PeerId) {
        self.useful.remove(&peer);
        let orphaned: Vec<Cid> = self
            .wants
            .iter()
            .filter(|(_, w)| w.assigned == Some(peer))
            .map(|(c, _)| *c)
            .collect();
        for cid in orphaned {
            if let Some(w) = self.wants.get_mut(&cid) {
                w.assigned = None;
            }
            self.dispatch(cid);
        }
    }

    fn on_bitswap(&mut self, event: bitswap::Event) {
        match event {
            bitswap::Event::BlockReceived { cid, data, from } => {
                self.messages_received += 1;
                let c = self.counters.clone();
                c.blocks_received.fetch_add(1, Ordering::Relaxed);
                c.data_received
                    .fetch_add(data.len() as u64, Ordering::Relaxed);
                // A peer that delivers becomes a first choice for later wants.
                self.useful.entry(from).or_insert(0);
                let Some(w) = self.drop_want(&cid) else {
                    c.dup_blocks.fetch_add(1, Ordering::Relaxed);
                    c.dup_data.fetch_add(data.len() as u64, Ordering::Relaxed);
                    return;
                };
                self.pending.put(cid, data.clone());
                self.host.behaviour_mut().extra.notify_new_blocks(&[cid]);
                for waiter in w.waiters {
                    let _ = waiter.tx.send((cid, data.clone()));
                }
            }
            bitswap::Event::DontHave { cid, from } => {
                self.messages_received += 1;
                let Some(w) = self.wants.get_mut(&cid) else {
                    return;
                };
                if w.assigned == Some(from) {
                    w.assigned = None;
                    if let Some(l) = self.useful.get_mut(&from) {
                        *l = l.saturating_sub(1);
                    }
                    self.dispatch(cid);
                }
            }
            bitswap::Event::Have { cid, from } => {
                self.messages_received += 1;
                if self.wants.contains_key(&cid) {
                    self.host.behaviour_mut().extra.want(cid, &[from]);
                }
            }
            bitswap::Event::BadBlock { from, cid } => {
                tracing::warn!(
                    "peer {from} sent a block we did not ask for (hashes to {cid}); dropped"
                );
                self.useful.remove(&from);
            }
            bitswap::Event::BadMessage { from, reason } => {
                tracing::debug!("bad bitswap message from {from}: {reason}");
            }
        }
    }

    fn on_kad(&mut self, event: kad::Event) {
        let kad::Event::OutboundQueryProgressed {
            id, result, step, ..
        } = event
        else {
            return;
        };
        let last = step.last;
        match result {
            kad::QueryResult::GetProviders(Ok(kad::GetProvidersOk::FoundProviders {
                providers,
                ..
            })) => {
                let me = self.host.local_peer_id();
                let mut finish = false;
                let mut to_dial = Vec::new();
                match self.queries.get_mut(&id) {
                    Some(Query::FindProviders { tx, max, seen }) => {
                        for p in providers {
                            if !seen.insert(p) {
                                continue;
                            }
                            let addrs = if p == me {
                                self.host.swarm().external_addresses().cloned().collect()
                            } else {
                                known_addrs(&mut self.host, &p)
                            };
                            if tx.try_send(Provider { peer: p, addrs }).is_err() {
                                finish = true;
                            }
                            if seen.len() >= *max {
                                finish = true;
                            }
                        }
                    }
                    Some(Query::WantProviders) => {
                        to_dial.extend(providers.into_iter().filter(|p| *p != me));
                    }
                    _ => {}
                }
                for p in to_dial {
                    if !self.host.swarm().is_connected(&p) {
                        let opts = DialOpts::peer_id(p)
                            .condition(PeerCondition::DisconnectedAndNotDialing)
                            .build();
                        let _ = self.host.swarm_mut().dial(opts);
                    }
                }
                if finish {
                    if let Some(mut q) = self.host.behaviour_mut().kad.query_mut(&id) {
                        q.finish();
                    }
                }
            }
            kad::QueryResult::GetClosestPeers(r) => {
                if let Some(Query::FindPeer(peer, _)) = self.queries.get(&id) {
                    let peer = *peer;
                    let found = match &r {
                        Ok(ok) => ok.peers.iter().find(|p| p.peer_id == peer).cloned(),
                        Err(kad::GetClosestPeersError::Timeout { peers, .. }) => {
                            peers.iter().find(|p| p.peer_id == peer).cloned()
                        }
                    };
                    if let Some(info) = found.filter(|i| !i.addrs.is_empty()) {
                        if let Some(Query::FindPeer(_, reply)) = self.queries.remove(&id) {
                            let _ = reply.send(Ok(info.addrs));
                        }
                    }
                }
            }
            _ => {}
        }
        if last {
            if let Some(q) = self.queries.remove(&id) {
                match q {
                    Query::WantProviders => self.want_searches -= 1,
                    Query::FindPeer(peer, reply) => {
                        let addrs = known_addrs(&mut self.host, &peer);
                        let _ = reply.send(if addrs.is_empty() {
                            Err("routing: not found".into())
                        } else {
                            Ok(addrs)
                        });
                    }
                    _ => {}
                }
            }
        }
    }

    // ------------------------------------------------------------------
    // Timers

    fn on_tick(&mut self) {
        let now = Instant::now();
        let mut broadcast = Vec::new();
        let mut search = Vec::new();
        for (cid, w) in &self.wants {
            if !w.broadcast {
                if now.duration_since(w.sent_at) > SINGLE_PEER_PATIENCE {
                    broadcast.push(*cid);
                }
            } else if now.duration_since(w.sent_at) > PROVIDER_SEARCH_DELAY
                && w.searched_at
                    .is_none_or(|t| now.duration_since(t) > SEARCH_AGAIN_AFTER)
            {
                search.push(*cid);
            }
        }
        for cid in broadcast {
            if let Some(w) = self.wants.get_mut(&cid) {
                w.broadcast = true;
                w.sent_at = now;
            }
            self.host.behaviour_mut().extra.want(cid, &[]);
        }
        if !self.config.routing_none {
            for cid in search {
                if self.want_searches >= MAX_WANT_SEARCHES {
                    break;
                }
                if let Some(w) = self.wants.get_mut(&cid) {
                    w.searched_at = Some(now);
                }
                let id = self
                    .host
                    .behaviour_mut()
                    .kad
                    .get_providers(kad::RecordKey::new(&cid.hash().to_bytes()));
                self.queries.insert(id, Query::WantProviders);
                self.want_searches += 1;
            }
        }
    }

    fn sample_ledgers(&mut self) {
        let peers: Vec<PeerId> = self.conns.keys().copied().collect();
        for p in peers {
            if let Some(l) = self.host.behaviour_mut().extra.ledger(&p) {
                self.sent_seen.insert(p, (l.blocks_sent, l.bytes_sent));
            }
        }
    }
}

fn addr_peer(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        Protocol::P2p(peer) => Some(peer),
        _ => None,
    })
}

fn known_addrs(host: &mut Host<bitswap::Behaviour>, peer: &PeerId) -> Vec<Multiaddr> {
    let mut out = Vec::new();
    for bucket in host.behaviour_mut().kad.kbuckets() {
        for e in bucket.iter() {
            if e.node.key.preimage() == peer {
                out.extend(e.node.value.iter().cloned());
            }
        }
    }
    out
}
