//! The libp2p host: transports, security, behaviours and connection limits.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::{Boxed, ListenerId, Transport as _};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{dummy, DialError, ListenError, NetworkBehaviour, SwarmEvent};
use libp2p::{connection_limits, identify, identity, kad, memory_connection_limits, noise, ping};
use libp2p::{Multiaddr, PeerId, StreamProtocol, Swarm, TransportError};

use crate::addr_filter::{self, AddrFilters, FilteredTransport, NoAnnounce};
use crate::bandwidth::{BandwidthCounters, CountingMuxer};
use crate::config::{
    agent_version, HostConfig, KadMode, DEFAULT_MEMORY_FRACTION, KAD_PROTOCOL, PROTOCOL_VERSION,
};
use crate::connmgr::ConnManager;
use crate::peerstore::{self, PeerAddrs, MAX_ADDRS_PER_PEER, MAX_PEERS};
use crate::providers::{LocalProviders, ProviderStore, ProviderStoreError};
use crate::reprovide::{self, ProvideBatchId, ProvideEvent, Sweeper};
use crate::transport::{
    handshake_failure, HandshakeFailure, TransportBuilder, PNET_MISMATCH_MESSAGE,
};

/// The environment variable that makes a private network mandatory.
pub const FORCE_PNET_ENV: &str = "LIBP2P_FORCE_PNET";

pub use composed::{Behaviour, BehaviourEvent};

mod composed {
    // The derive's generated `BehaviourEvent` has one undocumented variant
    // per field (`AddrFilter`, `ConnLimits`, `MemoryLimits`, `Identify`,
    // `Ping`, `Kad`, `Provide`, `Extra`), each wrapping that behaviour's
    // event (the first three never emit any).
    #![allow(missing_docs)]

    use libp2p::swarm::NetworkBehaviour;
    use libp2p::{connection_limits, identify, kad, memory_connection_limits, ping};

    use crate::addr_filter;
    use crate::providers::ProviderStore;
    use crate::reprovide;

    /// The behaviours every Ferrite host runs, plus `extra` (Bitswap, later).
    ///
    /// The three limiting behaviours come first so that a refused
    /// connection is refused before the others set anything up for it.
    #[derive(NetworkBehaviour)]
    pub struct Behaviour<B: NetworkBehaviour> {
        /// `Swarm.AddrFilters`: refuses filtered remote addresses.
        pub addr_filter: addr_filter::Behaviour,
        /// The hard cap on established connections
        /// ([`crate::HostConfig::max_connections`]); protected peers bypass it.
        pub conn_limits: connection_limits::Behaviour,
        /// Refuses new connections while the process uses too much memory
        /// ([`crate::HostConfig::max_memory_bytes`]).
        pub memory_limits: memory_connection_limits::Behaviour,
        /// Exchanges addresses, protocols and agent versions.
        pub identify: identify::Behaviour,
        /// Keeps connections alive and measures round trips.
        pub ping: ping::Behaviour,
        /// The IPFS DHT (`/ipfs/kad/1.0.0`), provider records in a
        /// [`ProviderStore`].
        pub kad: kad::Behaviour<ProviderStore>,
        /// Sends batched `ADD_PROVIDER` messages ([`crate::Host::provide`]).
        /// Only [`reprovide::ProvideEvent::Finished`] reaches callers of
        /// [`crate::Host::next_event`].
        pub provide: reprovide::Behaviour,
        /// A caller-supplied behaviour; [`libp2p::swarm::dummy::Behaviour`] when none.
        pub extra: B,
    }
}

/// Why a host could not be built or started.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// `LIBP2P_FORCE_PNET=1` is set but no swarm key was given.
    #[error("private network was not configured but is enforced by the environment")]
    PrivateNetworkForced,
    /// A QUIC/WebTransport/WebRTC address was configured with a swarm key.
    #[error("{addr}: QUIC, WebTransport and WebRTC do not support private networks; remove this address or the swarm key")]
    TransportNotPrivate {
        /// The offending listen address.
        addr: Multiaddr,
    },
    /// `low_water` exceeds `high_water`.
    #[error("connection manager: LowWater ({low}) must not exceed HighWater ({high})")]
    BadConnLimits {
        /// LowWater.
        low: usize,
        /// HighWater.
        high: usize,
    },
    /// An `AddrFilters` or `NoAnnounce` range is malformed.
    #[error("{field}: invalid address range {entry}: {reason}")]
    BadAddrRange {
        /// The setting (`Swarm.AddrFilters`, `Addresses.NoAnnounce`).
        field: &'static str,
        /// The bad entry.
        entry: Multiaddr,
        /// What is wrong with it.
        reason: String,
    },
    /// `connect_timeout` is not below `handshake_timeout`.
    #[error("the TCP connect timeout must be shorter than the handshake timeout")]
    BadTimeouts,
    /// The Noise configuration could not be made from the identity.
    #[error("noise: {0}")]
    Noise(#[from] noise::Error),
    /// The provider database could not be opened.
    #[error(transparent)]
    ProviderStore(#[from] ProviderStoreError),
    /// None of the configured listen addresses could be served.
    #[error("cannot listen on any configured address: {}", list_skipped(.skipped))]
    NoListenAddr {
        /// Each address and why it was skipped.
        skipped: Vec<SkippedListenAddr>,
    },
    /// Listening on an address failed.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: Multiaddr,
        /// The underlying error.
        source: TransportError<io::Error>,
    },
}

/// A configured listen address the host does not listen on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedListenAddr {
    /// The address.
    pub addr: Multiaddr,
    /// Why, in words (e.g. "WebRTC Direct is not supported").
    pub reason: String,
}

impl fmt::Display for SkippedListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.addr, self.reason)
    }
}

fn list_skipped(skipped: &[SkippedListenAddr]) -> String {
    let parts: Vec<String> = skipped.iter().map(ToString::to_string).collect();
    parts.join(", ")
}

/// Why `listen_on(addr)` failed, naming the transport when the host has
/// none for it.
fn listen_failure(addr: &Multiaddr, err: &TransportError<io::Error>) -> String {
    match err {
        TransportError::MultiaddrNotSupported(_) => match unsupported_transport(addr) {
            Some(name) => format!("{name} is not supported"),
            None => "no transport for this address".into(),
        },
        TransportError::Other(e) => e.to_string(),
    }
}

/// The name of a transport in `addr` that this host never runs.
fn unsupported_transport(addr: &Multiaddr) -> Option<&'static str> {
    addr.iter().find_map(|p| match p {
        Protocol::WebRTCDirect | Protocol::WebRTC => Some("WebRTC Direct"),
        Protocol::WebTransport => Some("WebTransport"),
        Protocol::Ws(_) | Protocol::Wss(_) => Some("WebSocket"),
        Protocol::Quic => Some("QUIC draft-29 (/quic; use /quic-v1)"),
        _ => None,
    })
}

/// Builds a [`Host`].
///
/// ```no_run
/// # async fn f() -> Result<(), ferrite_p2p::HostError> {
/// use ferrite_p2p::{HostBuilder, HostConfig};
/// let config = HostConfig {
///     listen_addrs: vec!["/ip4/127.0.0.1/tcp/4001".parse().unwrap()],
///     ..HostConfig::default()
/// };
/// let host = HostBuilder::new(libp2p::identity::Keypair::generate_ed25519(), config).build()?;
/// # Ok(()) }
/// ```
pub struct HostBuilder {
    keypair: identity::Keypair,
    config: HostConfig,
}

impl HostBuilder {
    /// A builder for a host with this identity (any key type: Ed25519,
    /// RSA, secp256k1, ECDSA) and settings.
    pub fn new(keypair: identity::Keypair, config: HostConfig) -> Self {
        Self { keypair, config }
    }

    /// Builds a host with only the standard behaviours. Must run inside a
    /// Tokio runtime.
    pub fn build(self) -> Result<Host<dummy::Behaviour>, HostError> {
        self.build_with(dummy::Behaviour)
    }

    /// Builds a host that also runs `extra`, and starts listening. Must run
    /// inside a Tokio runtime.
    pub fn build_with<B: NetworkBehaviour>(self, extra: B) -> Result<Host<B>, HostError> {
        let HostBuilder { keypair, config } = self;
        let force = std::env::var(FORCE_PNET_ENV).is_ok_and(|v| v == "1");
        if force && config.swarm_key.is_none() {
            return Err(HostError::PrivateNetworkForced);
        }
        if config.swarm_key.is_some() {
            if let Some(addr) = config.listen_addrs.iter().find(|a| !privatizable(a)) {
                return Err(HostError::TransportNotPrivate { addr: addr.clone() });
            }
        }
        let limits = &config.conn_mgr;
        if limits.low_water > limits.high_water {
            return Err(HostError::BadConnLimits {
                low: limits.low_water,
                high: limits.high_water,
            });
        }

        if config.connect_timeout >= config.handshake_timeout {
            return Err(HostError::BadTimeouts);
        }
        let addr_filters = Arc::new(AddrFilters::new(&config.addr_filters).map_err(
            |(entry, reason)| HostError::BadAddrRange {
                field: "Swarm.AddrFilters",
                entry,
                reason,
            },
        )?);
        let no_announce = NoAnnounce::new(&config.no_announce).map_err(|(entry, reason)| {
            HostError::BadAddrRange {
                field: "Addresses.NoAnnounce",
                entry,
                reason,
            }
        })?;
        let bandwidth = BandwidthCounters::default();
        let transport =
            build_transport(&keypair, &config, bandwidth.clone(), addr_filters.clone())?;
        let peer_id = keypair.public().to_peer_id();
        // Identify sends only our external addresses, which the host keeps
        // equal to `announced_addrs` (so `NoAnnounce` holds there too).
        let identify = identify::Behaviour::new(
            identify::Config::new(PROTOCOL_VERSION.to_string(), keypair.public())
                .with_agent_version(agent_version())
                .with_hide_listen_addrs(true),
        );
        let mut store = match &config.provider_db {
            Some(path) => ProviderStore::open(path, peer_id, config.provider_store.clone())?,
            None => ProviderStore::in_memory_with_config(peer_id, config.provider_store.clone()),
        };
        store.set_local_provider(config.local_provider.clone());
        let mut kad_config = kad::Config::new(StreamProtocol::new(KAD_PROTOCOL));
        // We reprovide our own keys in batches (`Host::provide`), and Kubo
        // does not re-replicate other peers' records.
        kad_config
            .set_provider_publication_interval(None)
            .set_replication_interval(None);
        let mut kad = kad::Behaviour::with_config(peer_id, store, kad_config);
        kad.set_mode(match config.kad_mode {
            KadMode::Client => Some(kad::Mode::Client),
            KadMode::Server => Some(kad::Mode::Server),
            KadMode::Auto => None,
        });
        let max_connections = config
            .max_connections
            .unwrap_or_else(|| config.conn_mgr.high_water.saturating_mul(2))
            .max(1);
        let conn_limits = connection_limits::Behaviour::new(
            connection_limits::ConnectionLimits::default()
                .with_max_established(Some(u32::try_from(max_connections).unwrap_or(u32::MAX))),
        );
        let memory_limits = match config.max_memory_bytes {
            Some(bytes) => memory_connection_limits::Behaviour::with_max_bytes(bytes),
            None => {
                memory_connection_limits::Behaviour::with_max_percentage(DEFAULT_MEMORY_FRACTION)
            }
        };
        tracing::debug!(
            max_connections,
            max_memory_bytes = memory_limits.max_allowed_bytes(),
            "connection limits"
        );
        let behaviour = Behaviour {
            addr_filter: addr_filter::Behaviour::new(addr_filters.clone()),
            conn_limits,
            memory_limits,
            identify,
            ping: ping::Behaviour::new(ping::Config::new()),
            kad,
            provide: reprovide::Behaviour::new(
                StreamProtocol::new(KAD_PROTOCOL),
                config.provide.write_timeout,
            ),
            extra,
        };
        let mut swarm = Swarm::new(
            transport,
            behaviour,
            peer_id,
            libp2p::swarm::Config::with_tokio_executor()
                .with_idle_connection_timeout(config.idle_connection_timeout),
        );
        // As go-libp2p: an address this host cannot serve (a transport it
        // does not run, a port in use) is skipped and reported, so a config
        // copied from Kubo still starts; only listening on nothing fails.
        let mut listeners = Vec::new();
        let mut skipped = Vec::new();
        for addr in &config.listen_addrs {
            match swarm.listen_on(addr.clone()) {
                Ok(id) => listeners.push((id, addr.clone())),
                Err(e) => skipped.push(SkippedListenAddr {
                    addr: addr.clone(),
                    reason: listen_failure(addr, &e),
                }),
            }
        }
        if listeners.is_empty() && !skipped.is_empty() {
            return Err(HostError::NoListenAddr { skipped });
        }
        if let Some(key) = &config.swarm_key {
            tracing::info!(
                fingerprint = %key.fingerprint(),
                "Swarm is limited to private network of peers with the swarm key"
            );
        }
        let mut trim_tick = tokio::time::interval(config.conn_mgr.check_interval);
        trim_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut maint_tick = tokio::time::interval(MAINTENANCE_INTERVAL);
        maint_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut host = Host {
            swarm,
            conn_mgr: ConnManager::new(config.conn_mgr.clone()),
            trim_tick,
            maint_tick,
            private_network: config.swarm_key.is_some(),
            sweeper: Sweeper::new(config.provide.clone()),
            pending_events: VecDeque::new(),
            listen_addrs: Vec::new(),
            listeners,
            skipped_listen_addrs: skipped,
            announce_addrs: None,
            announce: config.announce.clone(),
            append_announce: config.append_announce.clone(),
            no_announce,
            addr_filters,
            bandwidth,
            peer_addrs: HashMap::new(),
            peerstore: config.peerstore.clone(),
            peerstore_interval: config.peerstore_interval,
            peerstore_saved: Instant::now(),
        };
        for a in host.static_announce() {
            host.swarm.add_external_address(a);
        }
        if let Some(path) = &config.peerstore {
            match host.load_peerstore(path) {
                Ok(n) => tracing::debug!(peers = n, "peerstore loaded"),
                Err(e) => tracing::warn!("cannot load peerstore {}: {e}", path.display()),
            }
        }
        Ok(host)
    }
}

/// A running libp2p node. Drive it by calling [`Host::next_event`] in a
/// loop: that also applies connection limits and reports handshake
/// failures in plain words.
pub struct Host<B: NetworkBehaviour> {
    swarm: Swarm<Behaviour<B>>,
    conn_mgr: ConnManager,
    trim_tick: tokio::time::Interval,
    maint_tick: tokio::time::Interval,
    private_network: bool,
    sweeper: Sweeper,
    pending_events: VecDeque<SwarmEvent<BehaviourEvent<B>>>,
    /// Our actual listen addresses (from `NewListenAddr`).
    listen_addrs: Vec<Multiaddr>,
    /// The configured listeners that started, with their address.
    listeners: Vec<(ListenerId, Multiaddr)>,
    /// Configured listen addresses that could not be served.
    skipped_listen_addrs: Vec<SkippedListenAddr>,
    /// Overrides the addresses put in provider records.
    announce_addrs: Option<Vec<Multiaddr>>,
    /// `Addresses.Announce`.
    announce: Vec<Multiaddr>,
    /// `Addresses.AppendAnnounce`.
    append_announce: Vec<Multiaddr>,
    /// `Addresses.NoAnnounce`.
    no_announce: NoAnnounce,
    /// `Swarm.AddrFilters`.
    addr_filters: Arc<AddrFilters>,
    bandwidth: BandwidthCounters,
    /// Addresses of connected peers (dialed addresses, identify's listen
    /// addresses), for the peerstore.
    peer_addrs: HashMap<PeerId, Vec<Multiaddr>>,
    peerstore: Option<PathBuf>,
    peerstore_interval: Duration,
    peerstore_saved: Instant,
}

/// How often the host flushes the provider store, checks provide timers
/// and sweeps expired records (when due).
const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(1);

impl<B: NetworkBehaviour> Host<B> {
    /// This node's peer ID.
    pub fn local_peer_id(&self) -> PeerId {
        *self.swarm.local_peer_id()
    }

    /// Whether a swarm key is in force.
    pub fn is_private(&self) -> bool {
        self.private_network
    }

    /// The underlying swarm, for anything the host does not wrap.
    pub fn swarm(&self) -> &Swarm<Behaviour<B>> {
        &self.swarm
    }

    /// The underlying swarm, mutably.
    pub fn swarm_mut(&mut self) -> &mut Swarm<Behaviour<B>> {
        &mut self.swarm
    }

    /// The behaviours.
    pub fn behaviour_mut(&mut self) -> &mut Behaviour<B> {
        self.swarm.behaviour_mut()
    }

    /// Starts listening on another address.
    pub fn listen_on(&mut self, addr: Multiaddr) -> Result<ListenerId, HostError> {
        if self.private_network && !privatizable(&addr) {
            return Err(HostError::TransportNotPrivate { addr });
        }
        self.swarm
            .listen_on(addr.clone())
            .map_err(|source| HostError::Listen { addr, source })
    }

    /// Configured listen addresses that are not served, and why (the
    /// caller should warn about each).
    pub fn skipped_listen_addrs(&self) -> &[SkippedListenAddr] {
        &self.skipped_listen_addrs
    }

    /// Drives the swarm until every configured listener has reported an
    /// address or failed (or `timeout` passes), and returns the listen
    /// addresses then known, sorted. Events seen meanwhile are kept for
    /// [`Host::next_event`]. A listener that fails here is added to
    /// [`Host::skipped_listen_addrs`].
    pub async fn wait_listening(&mut self, timeout: Duration) -> Vec<Multiaddr> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut waiting: Vec<(ListenerId, Multiaddr)> = self.listeners.clone();
        while !waiting.is_empty() {
            let Ok(event) = tokio::time::timeout_at(deadline, self.swarm.select_next_some()).await
            else {
                break;
            };
            match &event {
                SwarmEvent::NewListenAddr { listener_id, .. } => {
                    waiting.retain(|(id, _)| id != listener_id);
                }
                SwarmEvent::ListenerClosed {
                    listener_id,
                    reason,
                    ..
                } => {
                    if let Some(i) = waiting.iter().position(|(id, _)| id == listener_id) {
                        let (_, addr) = waiting.remove(i);
                        let reason = match reason {
                            Err(e) => e.to_string(),
                            Ok(()) => "closed".into(),
                        };
                        self.skipped_listen_addrs
                            .push(SkippedListenAddr { addr, reason });
                    }
                }
                _ => {}
            }
            self.keep(event);
        }
        // A wildcard listener reports one address per interface, in a
        // burst: take the rest of it too (bounded: the burst is short).
        for _ in 0..64 {
            let Ok(event) =
                tokio::time::timeout(Duration::from_millis(20), self.swarm.select_next_some())
                    .await
            else {
                break;
            };
            self.keep(event);
        }
        let mut addrs = self.listen_addrs.clone();
        addrs.sort_by_key(|a| a.to_string());
        addrs
    }

    /// Handles an event polled outside [`Host::next_event`] as that does,
    /// and keeps it for it to return.
    fn keep(&mut self, event: SwarmEvent<BehaviourEvent<B>>) {
        self.observe(&event);
        if let Some(event) = self.intercept(event) {
            self.pending_events.push_back(event);
        }
    }

    /// Dials an address (with or without a trailing `/p2p/<peer>`).
    pub fn dial(&mut self, addr: Multiaddr) -> Result<(), DialError> {
        self.swarm.dial(addr)
    }

    /// The connection manager's state.
    pub fn conn_manager(&self) -> &ConnManager {
        &self.conn_mgr
    }

    /// Never trim connections to `peer` (e.g. cluster peers), and never
    /// refuse them for the connection cap ([`HostConfig::max_connections`]).
    pub fn protect(&mut self, peer: PeerId) {
        self.conn_mgr.protect(peer);
        self.swarm.behaviour_mut().conn_limits.bypass_peer_id(&peer);
    }

    /// Lets connections to `peer` be trimmed (and capped) again.
    pub fn unprotect(&mut self, peer: &PeerId) {
        self.conn_mgr.unprotect(peer);
        self.swarm.behaviour_mut().conn_limits.remove_peer_id(peer);
    }

    /// Bytes received and sent on all connections so far; keep the handle
    /// to read the totals without access to the host.
    pub fn bandwidth(&self) -> BandwidthCounters {
        self.bandwidth.clone()
    }

    /// The `Swarm.AddrFilters` in force.
    pub fn addr_filters(&self) -> &AddrFilters {
        &self.addr_filters
    }

    /// The addresses this node announces (`id`, `swarm addrs local`,
    /// identify, provider records), as Kubo computes them:
    /// `Addresses.Announce` if non-empty, else our listen addresses (each
    /// interface address for a wildcard listener) and other confirmed
    /// external addresses; then `Addresses.AppendAnnounce`; minus
    /// everything `Addresses.NoAnnounce` matches. Without `/p2p`.
    pub fn announced_addrs(&self) -> Vec<Multiaddr> {
        let mut base: Vec<Multiaddr> = if self.announce.is_empty() {
            let mut v = self.listen_addrs.clone();
            v.extend(self.swarm.external_addresses().cloned());
            v
        } else {
            self.announce.clone()
        };
        base.extend(self.append_announce.iter().cloned());
        let mut out: Vec<Multiaddr> = Vec::new();
        for a in base {
            let a = peerstore::strip_p2p(&a);
            if !is_unspecified(&a) && !self.no_announce.blocks(&a) && !out.contains(&a) {
                out.push(a);
            }
        }
        out
    }

    /// `Announce` and `AppendAnnounce` minus `NoAnnounce`.
    fn static_announce(&self) -> Vec<Multiaddr> {
        let mut out: Vec<Multiaddr> = Vec::new();
        for a in self.announce.iter().chain(&self.append_announce) {
            if !self.no_announce.blocks(a) && !out.contains(a) {
                out.push(a.clone());
            }
        }
        out
    }

    /// The next swarm event. Cancel-safe.
    ///
    /// Also drives batched providing: the kad lookups [`Host::provide`]
    /// starts and the per-stream [`ProvideEvent::StreamDone`] events are
    /// consumed here and not returned; a finished batch is returned as
    /// `SwarmEvent::Behaviour(BehaviourEvent::Provide(ProvideEvent::Finished(report)))`.
    /// Callers that poll the swarm directly instead bypass all of this.
    pub async fn next_event(&mut self) -> SwarmEvent<BehaviourEvent<B>> {
        loop {
            if let Some(event) = self.pending_events.pop_front() {
                return event;
            }
            tokio::select! {
                event = self.swarm.select_next_some() => {
                    self.observe(&event);
                    if let Some(event) = self.intercept(event) {
                        return event;
                    }
                }
                _ = self.trim_tick.tick() => self.trim(),
                _ = self.maint_tick.tick() => self.maintain(),
            }
        }
    }

    /// Announces that this node provides `keys` (multihash bytes as kad
    /// record keys): sorts them through the key space, runs as few
    /// `get_closest_peers` lookups as the network needs and sends the
    /// `ADD_PROVIDER` messages in one stream per peer (see
    /// [`reprovide`]). Completion is reported by
    /// [`Host::next_event`] as [`ProvideEvent::Finished`] with this batch
    /// id; an empty batch finishes at once. Several batches may run at the
    /// same time (e.g. a reprovide sweep and newly added content).
    pub fn provide(&mut self, keys: Vec<kad::RecordKey>) -> ProvideBatchId {
        let mut peers = Vec::new();
        for bucket in self.swarm.behaviour_mut().kad.kbuckets() {
            for entry in bucket.iter() {
                peers.push((
                    *entry.node.key.preimage(),
                    entry.node.value.iter().cloned().collect::<Vec<_>>(),
                ));
            }
        }
        let id = self.sweeper.add(keys, peers);
        self.pump();
        id
    }

    /// Number of provide batches not finished yet.
    pub fn provides_in_progress(&self) -> usize {
        self.sweeper.active_batches()
    }

    /// Total `get_closest_peers` lookups run for provide batches since the
    /// host started.
    pub fn provide_lookups(&self) -> u64 {
        self.sweeper.total_lookups()
    }

    /// The addresses put in provider records we send: the
    /// [`Host::set_announce_addrs`] override if set, else
    /// [`Host::announced_addrs`]; `NoAnnounce` applies to both.
    pub fn provider_addrs(&self) -> Vec<Multiaddr> {
        match &self.announce_addrs {
            Some(a) => a
                .iter()
                .map(peerstore::strip_p2p)
                .filter(|a| !self.no_announce.blocks(a))
                .collect(),
            None => self.announced_addrs(),
        }
    }

    /// Puts exactly these addresses in provider records we send, instead
    /// of [`Host::announced_addrs`]; `None` restores the default.
    pub fn set_announce_addrs(&mut self, addrs: Option<Vec<Multiaddr>>) {
        self.announce_addrs = addrs;
    }

    /// Replaces the "do we provide this key?" predicate of the provider
    /// store (see [`LocalProviders`]).
    pub fn set_local_provider(&mut self, local: Option<LocalProviders>) {
        self.swarm
            .behaviour_mut()
            .kad
            .store_mut()
            .set_local_provider(local);
    }

    /// Peers worth remembering, at most `limit`: DHT routing table entries
    /// first, then other connected peers.
    pub fn known_peers(&mut self, limit: usize) -> Vec<PeerAddrs> {
        let mut out: Vec<PeerAddrs> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for bucket in self.swarm.behaviour_mut().kad.kbuckets() {
            for entry in bucket.iter() {
                let peer = *entry.node.key.preimage();
                let addrs: Vec<Multiaddr> = entry
                    .node
                    .value
                    .iter()
                    .map(peerstore::strip_p2p)
                    .take(MAX_ADDRS_PER_PEER)
                    .collect();
                if !addrs.is_empty() && seen.insert(peer) {
                    out.push(PeerAddrs {
                        peer,
                        addrs,
                        dht: true,
                    });
                }
            }
        }
        for (peer, addrs) in &self.peer_addrs {
            if !addrs.is_empty() && seen.insert(*peer) {
                out.push(PeerAddrs {
                    peer: *peer,
                    addrs: addrs.clone(),
                    dht: false,
                });
            }
        }
        out.truncate(limit);
        out
    }

    /// Writes [`Host::known_peers`] (at most 1000) to `path` durably.
    pub fn save_peerstore(&mut self, path: &std::path::Path) -> io::Result<usize> {
        let peers = self.known_peers(MAX_PEERS);
        peerstore::save_peers(path, &peers)?;
        Ok(peers.len())
    }

    /// Reads a peerstore file and adds its DHT peers to the routing table
    /// (others are only remembered for the next save); returns the number
    /// of peers read. A missing file reads as empty.
    pub fn load_peerstore(&mut self, path: &std::path::Path) -> io::Result<usize> {
        let peers = peerstore::load_peers(path)?;
        let n = peers.len();
        self.add_known_peers(peers);
        Ok(n)
    }

    /// Adds peers' addresses: DHT peers go into kad's routing table, the
    /// others are remembered for the peerstore.
    pub fn add_known_peers(&mut self, peers: Vec<PeerAddrs>) {
        let local = self.local_peer_id();
        for p in peers {
            if p.peer == local {
                continue;
            }
            if p.dht {
                for a in &p.addrs {
                    self.swarm
                        .behaviour_mut()
                        .kad
                        .add_address(&p.peer, a.clone());
                }
            } else {
                let known = self.peer_addrs.entry(p.peer).or_default();
                for a in p.addrs {
                    if known.len() < MAX_ADDRS_PER_PEER && !known.contains(&a) {
                        known.push(a);
                    }
                }
            }
        }
    }

    fn pump(&mut self) {
        let local = self.local_peer_id();
        let addrs = self.provider_addrs();
        let behaviour = self.swarm.behaviour_mut();
        let finished = self
            .sweeper
            .pump(&mut behaviour.kad, &mut behaviour.provide, local, &addrs);
        for report in finished {
            tracing::debug!(?report, "provide batch finished");
            self.pending_events
                .push_back(SwarmEvent::Behaviour(BehaviourEvent::Provide(
                    ProvideEvent::Finished(report),
                )));
        }
    }

    /// Consumes the events that belong to provide batches.
    fn intercept(
        &mut self,
        event: SwarmEvent<BehaviourEvent<B>>,
    ) -> Option<SwarmEvent<BehaviourEvent<B>>> {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::OutboundQueryProgressed {
                id,
                result: kad::QueryResult::GetClosestPeers(result),
                step,
                ..
            })) if self.sweeper.owns(&id) => {
                if step.last {
                    let peers = match result {
                        Ok(ok) => ok.peers,
                        Err(kad::GetClosestPeersError::Timeout { peers, .. }) => peers,
                    };
                    let local = self.local_peer_id();
                    self.sweeper.on_lookup(id, peers, &local);
                    self.pump();
                }
                None
            }
            SwarmEvent::Behaviour(BehaviourEvent::Provide(ProvideEvent::StreamDone(outcome))) => {
                if self.sweeper.on_sent(outcome) {
                    self.pump();
                }
                None
            }
            event => Some(event),
        }
    }

    fn maintain(&mut self) {
        let timeout = self.sweeper.config().connect_timeout;
        let behaviour = self.swarm.behaviour_mut();
        behaviour.kad.store_mut().maintain();
        behaviour.provide.expire(timeout);
        if self.sweeper.active_batches() > 0 {
            self.pump();
        }
        if let Some(path) = self.peerstore.clone() {
            if self.peerstore_saved.elapsed() >= self.peerstore_interval {
                self.peerstore_saved = Instant::now();
                if let Err(e) = self.save_peerstore(&path) {
                    tracing::warn!("cannot save peerstore {}: {e}", path.display());
                }
            }
        }
    }

    fn observe(&mut self, event: &SwarmEvent<BehaviourEvent<B>>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                if !self.listen_addrs.contains(address) {
                    self.listen_addrs.push(address.clone());
                }
                // Every usable listen address is announced (as Kubo does
                // without `Addresses.Announce`), which also lets the DHT
                // run in server mode without reachability probes.
                if self.announce.is_empty()
                    && !is_unspecified(address)
                    && !self.no_announce.blocks(address)
                {
                    self.swarm.add_external_address(address.clone());
                }
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.listen_addrs.retain(|a| a != address);
                if !self.static_announce().contains(address) {
                    self.swarm.remove_external_address(address);
                }
            }
            SwarmEvent::ExternalAddrConfirmed { address } if self.no_announce.blocks(address) => {
                self.swarm.remove_external_address(address);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                let known = self.peer_addrs.entry(*peer_id).or_default();
                for a in &info.listen_addrs {
                    let a = peerstore::strip_p2p(a);
                    if known.len() < MAX_ADDRS_PER_PEER
                        && !is_unspecified(&a)
                        && !self.addr_filters.is_blocked(&a)
                        && !known.contains(&a)
                    {
                        known.push(a);
                    }
                }
                // A DHT server that connected to us: kad only learns
                // addresses of peers it dialed, so add its listen addresses.
                if info.protocols.iter().any(|p| p.as_ref() == KAD_PROTOCOL) {
                    for a in &info.listen_addrs {
                        if !is_unspecified(a) && !self.addr_filters.is_blocked(a) {
                            self.swarm
                                .behaviour_mut()
                                .kad
                                .add_address(peer_id, peerstore::strip_p2p(a));
                        }
                    }
                }
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } => {
                if let libp2p::core::ConnectedPoint::Dialer { address, .. } = endpoint {
                    let a = peerstore::strip_p2p(address);
                    let known = self.peer_addrs.entry(*peer_id).or_default();
                    if known.len() < MAX_ADDRS_PER_PEER && !known.contains(&a) {
                        known.push(a);
                    }
                }
                self.conn_mgr
                    .opened(*connection_id, *peer_id, Instant::now());
                if self.conn_mgr.len() > self.conn_mgr.config().high_water {
                    self.trim();
                }
            }
            SwarmEvent::ConnectionClosed {
                connection_id,
                peer_id,
                num_established,
                ..
            } => {
                self.conn_mgr.closed(*connection_id);
                if *num_established == 0 {
                    self.peer_addrs.remove(peer_id);
                }
            }
            SwarmEvent::OutgoingConnectionError {
                error: DialError::Transport(errors),
                peer_id,
                ..
            } => {
                for (addr, err) in errors {
                    self.report(handshake_failure(err), addr, peer_id.as_ref(), "outgoing");
                }
            }
            SwarmEvent::IncomingConnectionError {
                error: ListenError::Transport(err),
                send_back_addr,
                ..
            } => {
                self.report(handshake_failure(err), send_back_addr, None, "incoming");
            }
            _ => {}
        }
    }

    fn report(
        &self,
        failure: Option<&HandshakeFailure>,
        addr: &Multiaddr,
        peer: Option<&PeerId>,
        direction: &str,
    ) {
        let Some(failure) = failure else { return };
        // A dialled address may already end in /p2p/<peer>.
        let peer = match peer {
            Some(p) if !matches!(addr.iter().last(), Some(Protocol::P2p(_))) => format!("/p2p/{p}"),
            _ => String::new(),
        };
        if failure.private_network {
            tracing::warn!(cause = %failure.cause(), "{PNET_MISMATCH_MESSAGE} ({direction}, {addr}{peer})");
        } else {
            tracing::warn!("{failure} ({direction}, {addr}{peer})");
        }
    }

    fn trim(&mut self) {
        for id in self.conn_mgr.to_trim(Instant::now()) {
            tracing::debug!(
                ?id,
                "connection manager: closing connection above HighWater"
            );
            self.swarm.close_connection(id);
            // Forget it now so the next check does not count it again.
            self.conn_mgr.closed(id);
        }
    }
}

impl<B: NetworkBehaviour> Drop for Host<B> {
    fn drop(&mut self) {
        if let Some(path) = self.peerstore.clone() {
            if let Err(e) = self.save_peerstore(&path) {
                tracing::warn!("cannot save peerstore {}: {e}", path.display());
            }
        }
    }
}

fn is_unspecified(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| match p {
        Protocol::Ip4(ip) => ip.is_unspecified(),
        Protocol::Ip6(ip) => ip.is_unspecified(),
        _ => false,
    })
}

/// Whether an address can carry a private network: pnet protects raw byte
/// streams, so QUIC, WebTransport and WebRTC cannot.
fn privatizable(addr: &Multiaddr) -> bool {
    !addr.iter().any(|p| {
        matches!(
            p,
            Protocol::Quic
                | Protocol::QuicV1
                | Protocol::WebTransport
                | Protocol::WebRTC
                | Protocol::WebRTCDirect
        )
    })
}

/// The [`TransportBuilder`] stack, counted and filtered.
fn build_transport(
    keypair: &identity::Keypair,
    config: &HostConfig,
    bandwidth: BandwidthCounters,
    filters: Arc<AddrFilters>,
) -> Result<Boxed<(PeerId, StreamMuxerBox)>, HostError> {
    let mut builder = TransportBuilder::new(keypair.clone())
        .with_timeouts(config.connect_timeout, config.handshake_timeout);
    builder = match &config.swarm_key {
        Some(key) => builder.with_swarm_key(key.clone()),
        None => builder.with_quic(),
    };
    let transport = libp2p::Transport::map(builder.build()?, move |(peer, muxer), _| {
        (
            peer,
            StreamMuxerBox::new(CountingMuxer::new(muxer, bandwidth.clone())),
        )
    })
    .boxed();
    Ok(FilteredTransport::new(transport, filters).boxed())
}
