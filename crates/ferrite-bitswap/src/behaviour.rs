//! The swarm-wide half of Bitswap: our wantlist, the peers' wantlists, the
//! per-peer ledgers and the fair send queue.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use libp2p::core::transport::PortUse;
use libp2p::core::Endpoint;
use libp2p::swarm::{
    CloseConnection, ConnectionClosed, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour,
    NotifyHandler, THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};

use crate::handler::{Handler, HandlerIn, HandlerOut};
use crate::message::{Block, FrameBudget, Message, Presence, PresenceType, WantEntry, WantType};
use crate::{Cid, Version};

/// Where the server side reads blocks from.
///
/// Called from the swarm's poll loop, so implementations should be quick
/// (an in-memory index or a local database read).
pub trait BlockStore: Send + Sync + 'static {
    /// The block's bytes, if we have it.
    fn get(&self, cid: &Cid) -> Option<Bytes>;
    /// Whether we have the block (answers want-have).
    fn has(&self, cid: &Cid) -> bool {
        self.get(cid).is_some()
    }
}

/// Tuning of [`Behaviour`]; build it with `Config::default().with_…`.
#[derive(Debug, Clone)]
pub struct Config {
    versions: Vec<Version>,
    message_target_bytes: usize,
    max_queued_bytes_per_peer: usize,
    max_peer_wantlist: usize,
    disconnect_bad_peers: bool,
    max_inbound_frame_bytes: usize,
    max_queued_bytes_total: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            versions: Version::ALL.to_vec(),
            message_target_bytes: 1 << 20,
            max_queued_bytes_per_peer: 4 << 20,
            max_peer_wantlist: 8192,
            disconnect_bad_peers: true,
            max_inbound_frame_bytes: 32 << 20,
            max_queued_bytes_total: 64 << 20,
        }
    }
}

impl Config {
    /// The versions we speak, best first (default: all three).
    pub fn with_versions(mut self, versions: &[Version]) -> Self {
        self.versions = versions.to_vec();
        self
    }

    /// Block bytes we pack into one message before starting another
    /// (default 1 MiB; a single block may exceed it, up to 2 MiB).
    pub fn with_message_target_bytes(mut self, n: usize) -> Self {
        self.message_target_bytes = n.max(1);
        self
    }

    /// Block bytes handed to a peer's connection but not yet written, above
    /// which we stop serving that peer until writes complete (default 4 MiB).
    /// This bounds memory per peer regardless of its wantlist.
    pub fn with_max_queued_bytes_per_peer(mut self, n: usize) -> Self {
        self.max_queued_bytes_per_peer = n.max(1);
        self
    }

    /// Block bytes handed to connections but not yet written, summed over
    /// all peers, above which a peer gets a new message only once everything
    /// queued for it is written (default 64 MiB). Without it, peers that
    /// want much and never read could each hold
    /// [`with_max_queued_bytes_per_peer`](Self::with_max_queued_bytes_per_peer);
    /// with it, one message each beyond the total.
    pub fn with_max_queued_bytes_total(mut self, n: usize) -> Self {
        self.max_queued_bytes_total = n;
        self
    }

    /// Entries of a peer's wantlist we keep; further wants are ignored
    /// (default 8192).
    pub fn with_max_peer_wantlist(mut self, n: usize) -> Self {
        self.max_peer_wantlist = n;
        self
    }

    /// Whether to close the connections of a peer that sends a block we
    /// never asked for, i.e. bytes that do not hash to any wanted CID
    /// (default true).
    pub fn with_disconnect_bad_peers(mut self, yes: bool) -> Self {
        self.disconnect_bad_peers = yes;
        self
    }

    /// Memory for large inbound frames being read, across all connections
    /// (default 32 MiB). A frame over
    /// [`SMALL_FRAME`](crate::message::SMALL_FRAME) that does not fit is
    /// refused and its stream dropped, so peers announcing 4 MiB frames they
    /// never finish cannot make us hold 4 MiB per stream.
    pub fn with_max_inbound_frame_bytes(mut self, n: usize) -> Self {
        self.max_inbound_frame_bytes = n;
        self
    }
}

/// What [`Behaviour`] reports.
#[derive(Debug, Clone)]
pub enum Event {
    /// A wanted block arrived and its bytes hash to `cid`.
    BlockReceived {
        /// The block's CID.
        cid: Cid,
        /// The verified bytes.
        data: Bytes,
        /// The peer that sent it.
        from: PeerId,
    },
    /// A peer has a block we asked about.
    Have {
        /// The block.
        cid: Cid,
        /// The peer that has it.
        from: PeerId,
    },
    /// A peer does not have a block we asked for.
    DontHave {
        /// The block.
        cid: Cid,
        /// The peer that lacks it.
        from: PeerId,
    },
    /// A peer sent a block whose bytes hash to a CID we never asked for
    /// (a corrupted or forged block). It is not emitted; the peer is
    /// disconnected unless [`Config::with_disconnect_bad_peers`] says not to.
    BadBlock {
        /// The offending peer.
        from: PeerId,
        /// The CID the bytes actually hash to.
        cid: Cid,
    },
    /// A peer sent a frame we could not decode (malformed protobuf, oversized
    /// message or block, a hash function we cannot verify). The stream is
    /// dropped.
    BadMessage {
        /// The offending peer.
        from: PeerId,
        /// What was wrong.
        reason: String,
    },
}

/// Traffic exchanged with one peer while it is connected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Block bytes written to the peer.
    pub bytes_sent: u64,
    /// Block bytes received from the peer.
    pub bytes_received: u64,
    /// Blocks written to the peer.
    pub blocks_sent: u64,
    /// Blocks received from the peer.
    pub blocks_received: u64,
}

/// One entry of a peer's wantlist.
struct PeerWant {
    want_type: WantType,
    send_dont_have: bool,
    /// True while the CID sits in the peer's task queue.
    queued: bool,
}

#[derive(Default)]
struct PeerState {
    connections: Vec<ConnectionId>,
    /// Block bytes handed to each connection and not yet written.
    queued: HashMap<ConnectionId, usize>,
    wants: HashMap<Cid, PeerWant>,
    tasks: VecDeque<Cid>,
    in_ring: bool,
    ledger: Ledger,
}

impl PeerState {
    fn queued_bytes(&self) -> usize {
        self.queued.values().sum()
    }
}

/// One of our wants.
struct Want {
    want_type: WantType,
    /// `None`: ask every peer, including those that connect later.
    peers: Option<HashSet<PeerId>>,
    /// Peers we have sent the want to (they get a cancel when it is done).
    sent_to: HashSet<PeerId>,
}

/// CIDs we recently stopped wanting, so late duplicates are not mistaken for
/// forged blocks.
const RECENT_CAP: usize = 65536;

/// Bitswap as a [`NetworkBehaviour`]; see the crate documentation.
pub struct Behaviour {
    config: Config,
    frame_budget: FrameBudget,
    store: Arc<dyn BlockStore>,
    peers: HashMap<PeerId, PeerState>,
    /// Block bytes handed to handlers and not yet written, over all peers
    /// (the sum of every `PeerState::queued`, kept rather than summed per
    /// message).
    queued_total: usize,
    /// Peers with tasks, served one message per turn.
    ring: VecDeque<PeerId>,
    wants: HashMap<Cid, Want>,
    recent: HashSet<Cid>,
    recent_order: VecDeque<Cid>,
    /// Wantlist changes not yet handed to a handler.
    outbox: HashMap<PeerId, Message>,
    events: VecDeque<ToSwarm<Event, HandlerIn>>,
    waker: Option<Waker>,
}

impl Behaviour {
    /// A Bitswap node serving blocks from `store`.
    pub fn new(store: Arc<dyn BlockStore>, config: Config) -> Self {
        Behaviour {
            frame_budget: FrameBudget::new(config.max_inbound_frame_bytes),
            config,
            store,
            peers: HashMap::new(),
            queued_total: 0,
            ring: VecDeque::new(),
            wants: HashMap::new(),
            recent: HashSet::new(),
            recent_order: VecDeque::new(),
            outbox: HashMap::new(),
            events: VecDeque::new(),
            waker: None,
        }
    }

    /// Asks `peers` for the block `cid`; an empty slice asks every connected
    /// peer and every peer that connects later. The block is reported as
    /// [`Event::BlockReceived`] once, after which the want is cancelled
    /// everywhere.
    pub fn want(&mut self, cid: Cid, peers: &[PeerId]) {
        self.add_want(cid, peers, WantType::Block);
    }

    /// Asks `peers` (empty: everyone, as for [`Behaviour::want`]) whether they
    /// have `cid`; answers arrive as [`Event::Have`] / [`Event::DontHave`].
    /// Peers below 1.2.0 cannot answer that, so they are sent a want-block.
    /// A want-have stays active until [`Behaviour::cancel`] or the block
    /// arrives.
    pub fn want_have(&mut self, cid: Cid, peers: &[PeerId]) {
        self.add_want(cid, peers, WantType::Have);
    }

    fn add_want(&mut self, cid: Cid, peers: &[PeerId], want_type: WantType) {
        let want = self.wants.entry(cid).or_insert_with(|| Want {
            want_type,
            peers: Some(HashSet::new()),
            sent_to: HashSet::new(),
        });
        if want_type == WantType::Block && want.want_type == WantType::Have {
            // Upgrade: peers that only got a want-have need the want-block.
            want.want_type = WantType::Block;
            want.sent_to.clear();
        }
        if peers.is_empty() {
            want.peers = None;
        } else if let Some(set) = &mut want.peers {
            set.extend(peers.iter().copied());
        }
        let targets: Vec<PeerId> = match &want.peers {
            None => self.peers.keys().copied().collect(),
            Some(set) => set
                .iter()
                .filter(|p| self.peers.contains_key(p))
                .copied()
                .collect(),
        };
        for p in targets {
            self.send_want(cid, p);
        }
        self.wake();
    }

    /// Queues our want of `cid` for `peer` unless it already has it.
    fn send_want(&mut self, cid: Cid, peer: PeerId) {
        let Some(want) = self.wants.get_mut(&cid) else {
            return;
        };
        if !want.sent_to.insert(peer) {
            return;
        }
        let entry = WantEntry {
            cid,
            priority: 1,
            cancel: false,
            want_type: want.want_type,
            send_dont_have: true,
        };
        self.outbox.entry(peer).or_default().wantlist.push(entry);
    }

    /// Stops wanting `cid` and tells every peer we asked.
    pub fn cancel(&mut self, cid: &Cid) {
        if let Some(want) = self.wants.remove(cid) {
            self.remember(*cid);
            for p in want.sent_to {
                self.send_cancel(*cid, p);
            }
            self.wake();
        }
    }

    fn send_cancel(&mut self, cid: Cid, peer: PeerId) {
        if !self.peers.contains_key(&peer) {
            return;
        }
        let msg = self.outbox.entry(peer).or_default();
        // A want not yet sent is simply withdrawn.
        let before = msg.wantlist.len();
        msg.wantlist.retain(|e| e.cid != cid);
        if msg.wantlist.len() == before {
            msg.wantlist.push(WantEntry {
                cid,
                priority: 0,
                cancel: true,
                want_type: WantType::Block,
                send_dont_have: false,
            });
        }
    }

    fn remember(&mut self, cid: Cid) {
        if self.recent.insert(cid) {
            self.recent_order.push_back(cid);
            if self.recent_order.len() > RECENT_CAP {
                if let Some(old) = self.recent_order.pop_front() {
                    self.recent.remove(&old);
                }
            }
        }
    }

    /// The CIDs we currently want.
    pub fn wantlist(&self) -> Vec<Cid> {
        self.wants.keys().copied().collect()
    }

    /// The CIDs `peer` currently wants from us.
    pub fn peer_wantlist(&self, peer: &PeerId) -> Vec<Cid> {
        self.peers
            .get(peer)
            .map(|s| s.wants.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Traffic with `peer` since it connected.
    pub fn ledger(&self, peer: &PeerId) -> Option<&Ledger> {
        self.peers.get(peer).map(|s| &s.ledger)
    }

    /// Tells the server side that `cids` are now in the store, so peers that
    /// wanted them (and were told DONT_HAVE or nothing) get them.
    pub fn notify_new_blocks(&mut self, cids: &[Cid]) {
        let mut woke = false;
        for (peer, state) in &mut self.peers {
            for cid in cids {
                if let Some(w) = state.wants.get_mut(cid) {
                    if !w.queued {
                        w.queued = true;
                        state.tasks.push_back(*cid);
                    }
                }
            }
            if !state.tasks.is_empty() && !state.in_ring {
                state.in_ring = true;
                self.ring.push_back(*peer);
                woke = true;
            }
        }
        if woke {
            self.wake();
        }
    }

    /// Sends a hand-built message to `peer` as is (no wantlist bookkeeping).
    /// For tools and tests; normal use goes through [`Behaviour::want`].
    pub fn send_message(&mut self, peer: PeerId, message: Message) {
        if let Some(conn) = self.peers.get(&peer).and_then(|s| s.connections.first()) {
            self.events.push_back(ToSwarm::NotifyHandler {
                peer_id: peer,
                handler: NotifyHandler::One(*conn),
                event: HandlerIn::Send(message),
            });
            self.wake();
        }
    }

    fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    fn on_message(&mut self, from: PeerId, msg: Message) {
        let Message {
            wantlist,
            full,
            blocks,
            presences,
            ..
        } = msg;
        for block in blocks {
            self.on_block(from, block);
        }
        for Presence { cid, kind } in presences {
            if self.wants.contains_key(&cid) {
                self.events.push_back(ToSwarm::GenerateEvent(match kind {
                    PresenceType::Have => Event::Have { cid, from },
                    PresenceType::DontHave => Event::DontHave { cid, from },
                }));
            }
        }
        if !wantlist.is_empty() || full {
            self.on_wantlist(from, wantlist, full);
        }
    }

    fn on_block(&mut self, from: PeerId, mut block: Block) {
        if let Some(state) = self.peers.get_mut(&from) {
            state.ledger.bytes_received += block.data.len() as u64;
            state.ledger.blocks_received += 1;
        }
        // The CID was computed from the bytes: a block is genuine exactly
        // when that CID is one we asked for. A 1.0.0 block comes without
        // prefix and decodes as CIDv0, so match it by multihash (the part
        // the bytes prove) against CIDv1 wants too.
        if block.cid.version() == ferrite_ipld::cid::Version::V0
            && !self.wants.contains_key(&block.cid)
        {
            if let Some(c) = self.wants.keys().find(|c| c.hash() == block.cid.hash()) {
                block.cid = *c;
            }
        }
        if let Some(want) = self.wants.remove(&block.cid) {
            self.remember(block.cid);
            for p in want.sent_to {
                if p != from {
                    self.send_cancel(block.cid, p);
                }
            }
            // The sender removes the want itself once it has sent the block.
            self.events
                .push_back(ToSwarm::GenerateEvent(Event::BlockReceived {
                    cid: block.cid,
                    data: block.data,
                    from,
                }));
        } else if !self.recent.contains(&block.cid) {
            tracing::debug!(%from, cid = %block.cid, "unrequested block");
            self.events
                .push_back(ToSwarm::GenerateEvent(Event::BadBlock {
                    from,
                    cid: block.cid,
                }));
            if self.config.disconnect_bad_peers {
                self.events.push_back(ToSwarm::CloseConnection {
                    peer_id: from,
                    connection: CloseConnection::All,
                });
            }
        }
    }

    fn on_wantlist(&mut self, from: PeerId, entries: Vec<WantEntry>, full: bool) {
        let max = self.config.max_peer_wantlist;
        let Some(state) = self.peers.get_mut(&from) else {
            return;
        };
        if full {
            state.wants.clear();
        }
        for e in entries {
            if e.cancel {
                state.wants.remove(&e.cid);
                continue;
            }
            let room = state.wants.len() < max;
            match state.wants.get_mut(&e.cid) {
                Some(w) => {
                    // A want-block supersedes a want-have, never the reverse.
                    if e.want_type == WantType::Block {
                        w.want_type = WantType::Block;
                    }
                    w.send_dont_have |= e.send_dont_have;
                    if !w.queued {
                        w.queued = true;
                        state.tasks.push_back(e.cid);
                    }
                }
                None if room => {
                    state.wants.insert(
                        e.cid,
                        PeerWant {
                            want_type: e.want_type,
                            send_dont_have: e.send_dont_have,
                            queued: true,
                        },
                    );
                    state.tasks.push_back(e.cid);
                }
                None => tracing::debug!(%from, "peer wantlist full; ignoring want"),
            }
        }
        // Cancelled entries leave stale tasks behind; drop them cheaply.
        let PeerState { tasks, wants, .. } = state;
        tasks.retain(|c| wants.contains_key(c));
        if !state.tasks.is_empty() && !state.in_ring {
            state.in_ring = true;
            self.ring.push_back(from);
        }
    }

    /// Builds at most one message for the next peer in the ring that has
    /// room; returns false when no peer could be served.
    fn serve_one(&mut self) -> bool {
        let mut turns = self.ring.len();
        while turns > 0 {
            turns -= 1;
            let Some(peer) = self.ring.pop_front() else {
                return false;
            };
            let Some(state) = self.peers.get_mut(&peer) else {
                continue;
            };
            let Some(&conn) = state.connections.first() else {
                state.in_ring = false;
                continue;
            };
            let queued = state.queued_bytes();
            if state.tasks.is_empty()
                || queued >= self.config.max_queued_bytes_per_peer
                || (queued > 0 && self.queued_total >= self.config.max_queued_bytes_total)
            {
                // Re-entered by a new want or when queued bytes are written.
                state.in_ring = false;
                continue;
            }
            let mut msg = Message::default();
            let mut bytes = 0usize;
            while bytes < self.config.message_target_bytes && msg.presences.len() < 4096 {
                let Some(cid) = state.tasks.pop_front() else {
                    break;
                };
                let Some(w) = state.wants.get_mut(&cid) else {
                    continue;
                };
                w.queued = false;
                match w.want_type {
                    WantType::Have => {
                        if self.store.has(&cid) {
                            msg.presences.push(Presence {
                                cid,
                                kind: PresenceType::Have,
                            });
                            state.wants.remove(&cid);
                        } else if w.send_dont_have {
                            msg.presences.push(Presence {
                                cid,
                                kind: PresenceType::DontHave,
                            });
                        }
                    }
                    WantType::Block => match self.store.get(&cid) {
                        Some(data) => {
                            bytes += data.len();
                            msg.blocks.push(Block { cid, data });
                            state.wants.remove(&cid);
                        }
                        None if w.send_dont_have => msg.presences.push(Presence {
                            cid,
                            kind: PresenceType::DontHave,
                        }),
                        None => {}
                    },
                }
            }
            if !state.tasks.is_empty() {
                self.ring.push_back(peer);
            } else {
                state.in_ring = false;
            }
            if msg.is_empty() {
                continue;
            }
            *state.queued.entry(conn).or_default() += bytes;
            self.queued_total += bytes;
            self.events.push_back(ToSwarm::NotifyHandler {
                peer_id: peer,
                handler: NotifyHandler::One(conn),
                event: HandlerIn::Send(msg),
            });
            return true;
        }
        false
    }

    fn on_written(&mut self, peer: PeerId, conn: ConnectionId, block_bytes: usize, blocks: usize) {
        let Some(state) = self.peers.get_mut(&peer) else {
            return;
        };
        if let Some(q) = state.queued.get_mut(&conn) {
            let done = block_bytes.min(*q);
            *q -= done;
            self.queued_total -= done;
        }
        state.ledger.bytes_sent += if blocks > 0 { block_bytes as u64 } else { 0 };
        state.ledger.blocks_sent += blocks as u64;
        if !state.tasks.is_empty() && !state.in_ring {
            state.in_ring = true;
            self.ring.push_back(peer);
        }
    }

    fn on_connected(&mut self, peer: PeerId, conn: ConnectionId, first: bool) {
        self.peers.entry(peer).or_default().connections.push(conn);
        if !first {
            return;
        }
        let cids: Vec<Cid> = self
            .wants
            .iter()
            .filter(|(_, w)| w.peers.as_ref().is_none_or(|s| s.contains(&peer)))
            .map(|(c, _)| *c)
            .collect();
        for cid in cids {
            self.send_want(cid, peer);
        }
    }

    fn on_disconnected(&mut self, peer: PeerId, conn: ConnectionId, remaining: usize) {
        if remaining == 0 {
            if let Some(state) = self.peers.remove(&peer) {
                self.queued_total -= state.queued_bytes();
            }
            self.outbox.remove(&peer);
            for w in self.wants.values_mut() {
                w.sent_to.remove(&peer);
            }
        } else if let Some(state) = self.peers.get_mut(&peer) {
            state.connections.retain(|c| *c != conn);
            // Messages queued on the closed connection are gone.
            self.queued_total -= state.queued.remove(&conn).unwrap_or(0);
        }
    }
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = Handler;
    type ToSwarm = Event;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(Handler::new(
            self.config.versions.clone(),
            self.frame_budget.clone(),
        ))
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(Handler::new(
            self.config.versions.clone(),
            self.frame_budget.clone(),
        ))
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(e) => {
                self.on_connected(e.peer_id, e.connection_id, e.other_established == 0);
                self.wake();
            }
            FromSwarm::ConnectionClosed(ConnectionClosed {
                peer_id,
                connection_id,
                remaining_established,
                ..
            }) => self.on_disconnected(peer_id, connection_id, remaining_established),
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        peer: PeerId,
        conn: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {
            HandlerOut::Received(m) => self.on_message(peer, m),
            HandlerOut::BadMessage(reason) => {
                tracing::debug!(%peer, "bad bitswap message: {reason}");
                self.events
                    .push_back(ToSwarm::GenerateEvent(Event::BadMessage {
                        from: peer,
                        reason,
                    }));
            }
            HandlerOut::Sent {
                block_bytes,
                blocks,
            } => self.on_written(peer, conn, block_bytes, blocks),
            HandlerOut::Dropped { block_bytes } => self.on_written(peer, conn, block_bytes, 0),
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<ToSwarm<Event, THandlerInEvent<Self>>> {
        if let Some(ev) = self.events.pop_front() {
            return Poll::Ready(ev);
        }
        for (peer, msg) in std::mem::take(&mut self.outbox) {
            if msg.is_empty() {
                continue;
            }
            if let Some(conn) = self.peers.get(&peer).and_then(|s| s.connections.first()) {
                self.events.push_back(ToSwarm::NotifyHandler {
                    peer_id: peer,
                    handler: NotifyHandler::One(*conn),
                    event: HandlerIn::Send(msg),
                });
            }
        }
        self.serve_one();
        if let Some(ev) = self.events.pop_front() {
            return Poll::Ready(ev);
        }
        self.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_ipld::{codecs, HashAlg};
    use std::sync::Mutex;

    #[derive(Default)]
    struct Store(Mutex<HashMap<Cid, Bytes>>);
    impl BlockStore for Store {
        fn get(&self, cid: &Cid) -> Option<Bytes> {
            self.0.lock().unwrap().get(cid).cloned()
        }
    }

    fn want(cid: Cid) -> WantEntry {
        WantEntry {
            cid,
            priority: 1,
            cancel: false,
            want_type: WantType::Block,
            send_dont_have: true,
        }
    }

    /// Serves everything queued; returns (peer, blocks) per message.
    fn drain(b: &mut Behaviour) -> Vec<(PeerId, usize)> {
        let mut out = Vec::new();
        while b.serve_one() {}
        for ev in b.events.drain(..) {
            if let ToSwarm::NotifyHandler {
                peer_id,
                event: HandlerIn::Send(m),
                ..
            } = ev
            {
                out.push((peer_id, m.blocks.len()));
            }
        }
        out
    }

    fn setup(config: Config) -> (Behaviour, Vec<Cid>, PeerId, PeerId) {
        let store = Arc::new(Store::default());
        let cids: Vec<Cid> = (0..10u8)
            .map(|i| {
                let data = vec![i; 1000];
                let cid = Cid::new_v1(codecs::RAW, HashAlg::Sha2_256.digest(&data));
                store.0.lock().unwrap().insert(cid, data.into());
                cid
            })
            .collect();
        let mut b = Behaviour::new(store, config);
        let (p1, p2) = (PeerId::random(), PeerId::random());
        b.on_connected(p1, ConnectionId::new_unchecked(1), true);
        b.on_connected(p2, ConnectionId::new_unchecked(2), true);
        (b, cids, p1, p2)
    }

    #[test]
    fn peers_take_turns() {
        // One block per message so each turn is visible.
        let (mut b, cids, p1, p2) = setup(Config::default().with_message_target_bytes(1));
        b.on_wantlist(p1, cids.iter().map(|c| want(*c)).collect(), false);
        b.on_wantlist(p2, cids.iter().map(|c| want(*c)).collect(), false);
        let order: Vec<PeerId> = drain(&mut b).into_iter().map(|(p, _)| p).collect();
        assert_eq!(order.len(), 20);
        for pair in order.chunks(2) {
            assert_ne!(
                pair[0], pair[1],
                "a peer was served twice in a row: {order:?}"
            );
        }
    }

    #[test]
    fn queued_bytes_per_peer_are_capped() {
        let (mut b, cids, p1, _) = setup(
            Config::default()
                .with_message_target_bytes(1)
                .with_max_queued_bytes_per_peer(2500),
        );
        b.on_wantlist(p1, cids.iter().map(|c| want(*c)).collect(), false);
        // 1000-byte blocks: the third message crosses the cap, then we wait.
        assert_eq!(drain(&mut b).len(), 3);
        assert_eq!(b.peers[&p1].tasks.len(), 7);
        // A completed write frees room for the next message.
        b.on_written(p1, ConnectionId::new_unchecked(1), 1000, 1);
        assert_eq!(drain(&mut b).len(), 1);
        assert_eq!(b.ledger(&p1).unwrap().blocks_sent, 1);
    }

    #[test]
    fn queued_bytes_over_all_peers_are_capped() {
        // Two peers that never finish a write: beyond the total, each keeps
        // one message, and a peer with nothing queued is still served.
        let (mut b, cids, p1, p2) = setup(
            Config::default()
                .with_message_target_bytes(1)
                .with_max_queued_bytes_total(2500),
        );
        b.on_wantlist(p1, cids.iter().map(|c| want(*c)).collect(), false);
        let sent = drain(&mut b);
        assert_eq!(sent, vec![(p1, 1); 3], "p1 fills the total");
        b.on_wantlist(p2, cids.iter().map(|c| want(*c)).collect(), false);
        assert_eq!(drain(&mut b), vec![(p2, 1)], "p2 gets one message, p1 none");
        assert_eq!(drain(&mut b), vec![]);
        // Writes completing make room again.
        for _ in 0..3 {
            b.on_written(p1, ConnectionId::new_unchecked(1), 1000, 1);
        }
        b.on_written(p2, ConnectionId::new_unchecked(2), 1000, 1);
        assert_eq!(drain(&mut b).len(), 3);
        let sum: usize = b.peers.values().map(PeerState::queued_bytes).sum();
        assert_eq!(b.queued_total, sum);
        // A peer that goes takes its queued bytes out of the total.
        b.on_disconnected(p1, ConnectionId::new_unchecked(1), 0);
        let sum: usize = b.peers.values().map(PeerState::queued_bytes).sum();
        assert_eq!(b.queued_total, sum);
    }

    #[test]
    fn cancel_and_full_wantlist() {
        let (mut b, cids, p1, _) = setup(Config::default());
        b.on_wantlist(p1, cids[..5].iter().map(|c| want(*c)).collect(), false);
        let mut cancel = want(cids[0]);
        cancel.cancel = true;
        b.on_wantlist(p1, vec![cancel], false);
        assert_eq!(b.peer_wantlist(&p1).len(), 4);
        // A full wantlist replaces what was there.
        b.on_wantlist(p1, vec![want(cids[9])], true);
        assert_eq!(b.peer_wantlist(&p1), vec![cids[9]]);
        let sent = drain(&mut b);
        assert_eq!(sent, vec![(p1, 1)]);
    }
}
