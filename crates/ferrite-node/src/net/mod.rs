//! The node online: a libp2p host (ferrite-p2p) running Bitswap
//! (ferrite-bitswap) and the DHT, driven by one Tokio task.
//!
//! [`Network`] is the handle the rest of the node uses. Blocking callers
//! (the exporter, pinning, refs) ask for blocks with `Network::request`
//! and wait on a plain channel; the swarm task chooses which peers to ask,
//! falls back to asking everyone and then to DHT provider search, and
//! hands every verified block both to its waiters and to a writer thread
//! that stores blocks in batches.

mod runner;
mod writer;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::Duration;

use crate::repo::Repo;
use bytes::Bytes;
use ferrite_ipld::Cid;
use ferrite_p2p::libp2p::multiaddr::Protocol;
use ferrite_p2p::{ConnMgrConfig, HostConfig, KadMode, SwarmKey};
use ferrite_store::Blockstore;
use tokio::sync::{mpsc, oneshot};

use crate::{Error, Result};

pub(crate) use writer::Pending;

pub use ferrite_p2p::libp2p::{Multiaddr, PeerId};

/// How long a fetch may go without receiving any block before it fails.
pub const FETCH_STALL_TIMEOUT: Duration = Duration::from_secs(120);

/// One connected peer, as `swarm peers` shows it.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// The peer.
    pub peer: PeerId,
    /// The address of the (first) connection.
    pub addr: Multiaddr,
    /// Whether we dialled (`Outbound`) or it did (`Inbound`).
    pub outbound: bool,
    /// Last measured round trip.
    pub latency: Option<Duration>,
}

/// A provider found through the DHT.
#[derive(Debug, Clone)]
pub struct Provider {
    /// The peer.
    pub peer: PeerId,
    /// Its known addresses.
    pub addrs: Vec<Multiaddr>,
}

/// Bitswap counters, as `stats bitswap` shows them.
#[derive(Debug, Clone, Default)]
pub struct BitswapStats {
    /// Blocks received (verified).
    pub blocks_received: u64,
    /// Block bytes received.
    pub data_received: u64,
    /// Blocks received that were already here or no longer wanted.
    pub dup_blks_received: u64,
    /// Bytes of those.
    pub dup_data_received: u64,
    /// Blocks we sent.
    pub blocks_sent: u64,
    /// Block bytes we sent.
    pub data_sent: u64,
    /// Bitswap messages received.
    pub messages_received: u64,
    /// What we want now.
    pub wantlist: Vec<Cid>,
    /// Peers we speak Bitswap with.
    pub peers: Vec<PeerId>,
}

/// Traffic totals and rates, as `stats bw` shows them: bytes of every
/// protocol on every connection (as go-libp2p counts them, without the
/// Noise and Yamux framing).
#[derive(Debug, Clone, Default)]
pub struct Bandwidth {
    /// Bytes received.
    pub total_in: u64,
    /// Bytes sent.
    pub total_out: u64,
    /// Bytes per second received since the previous call (or start).
    pub rate_in: f64,
    /// Bytes per second sent since the previous call (or start).
    pub rate_out: f64,
}

/// Counters shared between the swarm task and readers.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub blocks_received: AtomicU64,
    pub data_received: AtomicU64,
    pub dup_blocks: AtomicU64,
    pub dup_data: AtomicU64,
    pub provide_keys_queued: AtomicU64,
    pub provide_keys_done: AtomicU64,
    pub provide_keys_failed: AtomicU64,
    pub provide_lookups: AtomicU64,
    pub lookups: AtomicU64,
    pub reprovide_runs: AtomicU64,
    pub reprovide_last_micros: AtomicU64,
}

/// DHT work since start ([`Network::dht_stats`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct DhtStats {
    /// Keys handed to the provider (announce) machinery.
    pub provide_keys_queued: u64,
    /// Keys announced to at least one peer.
    pub provide_keys_done: u64,
    /// Keys for which no peer to announce to was found.
    pub provide_keys_failed: u64,
    /// `get_closest_peers` lookups run for announcements.
    pub provide_lookups: u64,
    /// Lookups run for `findprovs` and `findpeer`.
    pub lookups: u64,
    /// Completed reprovide cycles.
    pub reprovide_runs: u64,
    /// How long the last reprovide cycle took.
    pub reprovide_last_seconds: f64,
}

/// Commands to the swarm task.
pub(crate) enum Cmd {
    Request {
        cids: Vec<Cid>,
        waiter: Waiter,
    },
    Cancel {
        waiter: u64,
        cids: Vec<Cid>,
    },
    Connect(
        Multiaddr,
        oneshot::Sender<std::result::Result<PeerId, String>>,
    ),
    Disconnect(
        Multiaddr,
        oneshot::Sender<std::result::Result<PeerId, String>>,
    ),
    Peers(oneshot::Sender<Vec<PeerInfo>>),
    KnownAddrs(oneshot::Sender<HashMap<PeerId, Vec<Multiaddr>>>),
    ListenAddrs(oneshot::Sender<(Vec<Multiaddr>, Vec<Multiaddr>)>),
    FindProviders(Cid, usize, mpsc::Sender<Provider>),
    FindPeer(
        PeerId,
        oneshot::Sender<std::result::Result<Vec<Multiaddr>, String>>,
    ),
    Provide(
        Vec<Cid>,
        Option<oneshot::Sender<std::result::Result<usize, String>>>,
    ),
    Stats(oneshot::Sender<BitswapStats>),
    SetBootstrap(Vec<Multiaddr>),
    Shutdown(oneshot::Sender<()>),
}

/// Where the swarm task delivers blocks for one requester.
pub(crate) struct Waiter {
    pub id: u64,
    pub tx: std_mpsc::Sender<(Cid, Bytes)>,
}

/// Settings the network is started with, read from the repo config.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Host settings (listen addresses, swarm key, DHT mode, limits).
    pub host: HostConfig,
    /// Peers dialled at start and kept connected (`Bootstrap`).
    pub bootstrap: Vec<Multiaddr>,
    /// `Routing.Type` is `none`: no DHT queries at all.
    pub routing_none: bool,
    /// Reprovider strategy (`all`, `pinned`, `roots`) and interval (zero: never).
    pub reprovide_strategy: String,
    /// Interval between reprovides.
    pub reprovide_interval: Duration,
    /// Whether to announce content at all.
    pub provide: bool,
}

fn parse_addrs(what: &str, list: &[String]) -> Result<Vec<Multiaddr>> {
    list.iter()
        .map(|a| {
            a.parse::<Multiaddr>()
                .map_err(|e| Error::Invalid(format!("{what}: invalid multiaddr {a:?}: {e}")))
        })
        .collect()
}

impl NetConfig {
    /// Reads `Addresses`, `Swarm`, `Routing`, `Bootstrap`, the reprovider
    /// settings and the repo's `swarm.key`.
    pub fn from_node(node: &crate::Node) -> Result<NetConfig> {
        NetConfig::from_repo(&node.repo)
    }

    fn from_repo(repo: &Repo) -> Result<NetConfig> {
        let cfg = repo.config();
        let addrs = cfg.addresses()?;
        let swarm = cfg.swarm()?;
        let key_path = repo.path().join("swarm.key");
        let swarm_key =
            if key_path.exists() {
                Some(SwarmKey::from_file(&key_path).map_err(|e| {
                    Error::Invalid(format!("cannot read {}: {e}", key_path.display()))
                })?)
            } else {
                None
            };
        let routing = cfg.routing_type()?;
        let kad_mode = match routing.as_str() {
            "dhtclient" => KadMode::Client,
            "dhtserver" => KadMode::Server,
            _ => KadMode::Auto,
        };
        let cm = &swarm.conn_mgr;
        let conn_mgr = if cm.kind == "none" {
            ConnMgrConfig {
                low_water: usize::MAX / 2,
                high_water: usize::MAX / 2,
                ..ConnMgrConfig::default()
            }
        } else {
            ConnMgrConfig {
                low_water: cm.low_water as usize,
                high_water: cm.high_water as usize,
                grace_period: cm.grace_period,
                ..ConnMgrConfig::default()
            }
        };
        let mut listen_addrs = parse_addrs("Addresses.Swarm", &addrs.swarm)?;
        // Kubo's transport switches: `true` for a transport ferrite does not
        // run is an explicit request it cannot meet, so the daemon stops;
        // `false` leaves that transport's addresses out. Left at null, an
        // unsupported address is skipped with a warning by the host.
        let net = &swarm.transports.network;
        for (on, name, what) in [
            (net.web_transport, "WebTransport", "WebTransport"),
            (net.webrtc_direct, "WebRTCDirect", "WebRTC Direct"),
            (net.websocket, "Websocket", "WebSocket"),
        ] {
            if on == Some(true) {
                return Err(Error::Invalid(format!(
                    "Swarm.Transports.Network.{name} is true, but ferrite does not support \
                     {what}: set it to null or false"
                )));
            }
        }
        let (tcp_off, quic_off) = (net.tcp == Some(false), net.quic == Some(false));
        listen_addrs.retain(|a| {
            let quic = a
                .iter()
                .any(|p| matches!(p, Protocol::QuicV1 | Protocol::Quic));
            let tcp = !quic && a.iter().any(|p| matches!(p, Protocol::Tcp(_)));
            let off = (quic && quic_off) || (tcp && tcp_off);
            if off {
                tracing::info!(
                    "not listening on {a}: its transport is off in Swarm.Transports.Network"
                );
            }
            !off
        });
        if swarm_key.is_some() {
            if net.quic == Some(true) {
                return Err(Error::Invalid(
                    "Swarm.Transports.Network.QUIC is true, but QUIC cannot run in a private \
                     network (swarm.key): set it to false or remove the key"
                        .into(),
                ));
            }
            // As Kubo: under a swarm key, QUIC is off by default, and its
            // listen addresses (in every default config) are skipped.
            listen_addrs.retain(|a| {
                let s = a.to_string();
                let unprotectable = ["/quic", "/webtransport", "/webrtc"]
                    .iter()
                    .any(|p| s.contains(p));
                if unprotectable {
                    tracing::info!("private network: not listening on {a} (QUIC/WebTransport/WebRTC cannot use a swarm key)");
                }
                !unprotectable
            });
        }
        // Kubo's resource manager: `Swarm.ResourceMgr.MaxMemory` ("4GB",
        // "512 MiB", bytes) caps the memory above which new connections are
        // refused (default: the host's share of physical memory);
        // `Swarm.ResourceMgr.Enabled: false` removes the limit. The hard
        // connection cap is 2 × HighWater, so the `lowpower` profile
        // (LowWater 20, HighWater 40, GracePeriod 1m) lowers it from 192 to
        // 80 along with the trimming watermarks; ConnMgr type `none` has no cap.
        let rm = &swarm.resource_mgr;
        let max_memory_bytes = if rm.enabled == Some(false) {
            Some(usize::MAX)
        } else {
            rm.max_memory.map(|b| b as usize).filter(|b| *b > 0)
        };
        let host = HostConfig {
            listen_addrs,
            swarm_key,
            kad_mode,
            conn_mgr,
            addr_filters: parse_addrs("Swarm.AddrFilters", &swarm.addr_filters)?,
            announce: parse_addrs("Addresses.Announce", &addrs.announce)?,
            append_announce: parse_addrs("Addresses.AppendAnnounce", &addrs.append_announce)?,
            no_announce: parse_addrs("Addresses.NoAnnounce", &addrs.no_announce)?,
            max_memory_bytes,
            // Provider records of other peers and the addresses of known
            // peers survive restarts.
            provider_db: Some(repo.path().join("providers.redb")),
            peerstore: Some(repo.path().join("peerstore.json")),
            ..HostConfig::default()
        };
        let rp = cfg.reprovider()?;
        Ok(NetConfig {
            host,
            bootstrap: parse_addrs("Bootstrap", &cfg.bootstrap()?)?,
            routing_none: routing == "none",
            reprovide_strategy: if rp.strategy.is_empty() {
                "all".into()
            } else {
                rp.strategy
            },
            reprovide_interval: rp.interval,
            provide: rp.enabled,
        })
    }
}

/// Where the network listens after start-up.
#[derive(Debug, Default)]
pub struct Listening {
    /// The addresses listened on, sorted (one per interface for a wildcard
    /// address).
    pub addrs: Vec<Multiaddr>,
    /// Configured addresses that are not served, and why.
    pub skipped: Vec<ferrite_p2p::SkippedListenAddr>,
}

/// Handle to the running network; cheap to clone.
#[derive(Clone)]
pub struct Network {
    tx: mpsc::UnboundedSender<Cmd>,
    peer_id: PeerId,
    pending: Arc<Pending>,
    counters: Arc<Counters>,
    next_waiter: Arc<AtomicU64>,
    fingerprint: Option<String>,
    listening: tokio::sync::watch::Receiver<Option<Arc<Listening>>>,
    bw: ferrite_p2p::BandwidthCounters,
    bw_sample: Arc<std::sync::Mutex<(std::time::Instant, u64, u64)>>,
    /// How long a fetch may go without a block before it fails.
    stall: Duration,
}

impl Network {
    /// Starts the host and its task on the current Tokio runtime; the
    /// network serves and stores the blocks of `node`'s repo.
    pub fn start(node: &crate::Node, mut config: NetConfig) -> Result<Network> {
        let repo = node.repo.clone();
        // We answer GET_PROVIDERS for every block we hold: no per-key
        // record, so a million local blocks cost the DHT store nothing.
        let r = repo.clone();
        config.host.local_provider = Some(ferrite_p2p::LocalProviders::new(move |key| {
            ferrite_ipld::Multihash::from_bytes(key.as_ref())
                .map(|mh| {
                    r.blocks()
                        .has(&Cid::new_v1(ferrite_ipld::codecs::RAW, mh))
                        .unwrap_or(false)
                })
                .unwrap_or(false)
        }));
        let keypair = repo.config().keypair()?;
        let peer_id = keypair.public().to_peer_id();
        let fingerprint = config.host.swarm_key.as_ref().map(|k| k.fingerprint());
        let pending = Arc::new(Pending::default());
        let counters = Arc::new(Counters::default());
        let (tx, rx) = mpsc::unbounded_channel();
        let reprovide =
            (config.provide && !config.routing_none && !config.reprovide_interval.is_zero())
                .then(|| (config.reprovide_strategy.clone(), config.reprovide_interval));
        let (listening_tx, listening) = tokio::sync::watch::channel(None);
        let bw = runner::spawn(
            repo.clone(),
            keypair,
            config,
            rx,
            pending.clone(),
            counters.clone(),
            listening_tx,
        )?;
        if let Some((strategy, interval)) = reprovide {
            tokio::spawn(reprovider(
                repo,
                strategy,
                interval,
                tx.clone(),
                counters.clone(),
            ));
        }
        Ok(Network {
            tx,
            peer_id,
            pending,
            counters,
            next_waiter: Arc::new(AtomicU64::new(1)),
            fingerprint,
            listening,
            bw,
            bw_sample: Arc::new(std::sync::Mutex::new((std::time::Instant::now(), 0, 0))),
            stall: FETCH_STALL_TIMEOUT,
        })
    }

    /// The same network whose fetches fail after `stall` without a block
    /// (`Gateway.RetrievalTimeout` for the gateway's reads).
    pub fn with_stall_timeout(&self, stall: Duration) -> Network {
        Network {
            stall,
            ..self.clone()
        }
    }

    /// How long a fetch may go without receiving a block.
    pub(crate) fn stall_timeout(&self) -> Duration {
        self.stall
    }

    /// This node's peer ID.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The listen addresses once the listeners have started (a few
    /// seconds at most after [`Network::start`]), and the configured
    /// addresses that are not served, which the caller should warn about.
    pub async fn listening(&self) -> Arc<Listening> {
        let mut rx = self.listening.clone();
        let listening = match rx.wait_for(Option::is_some).await {
            Ok(v) => v.clone().unwrap_or_default(),
            // The swarm task ended before it started listening.
            Err(_) => Arc::default(),
        };
        listening
    }

    /// The swarm key's fingerprint, when the node is in a private network.
    pub fn swarm_key_fingerprint(&self) -> Option<&str> {
        self.fingerprint.as_deref()
    }

    fn send(&self, cmd: Cmd) -> Result<()> {
        self.tx
            .send(cmd)
            .map_err(|_| Error::Invalid("the network has stopped".into()))
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Cmd) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.send(make(tx))?;
        rx.await
            .map_err(|_| Error::Invalid("the network has stopped".into()))
    }

    /// A block received but not yet committed to the store.
    pub(crate) fn pending_block(&self, cid: &Cid) -> Option<Bytes> {
        self.pending.get(cid)
    }

    /// Starts fetching `cids`; each arrives on the requester's channel.
    pub(crate) fn request(&self, waiter: u64, tx: &std_mpsc::Sender<(Cid, Bytes)>, cids: Vec<Cid>) {
        if cids.is_empty() {
            return;
        }
        let _ = self.send(Cmd::Request {
            cids,
            waiter: Waiter {
                id: waiter,
                tx: tx.clone(),
            },
        });
    }

    /// Withdraws a requester's interest in `cids`.
    pub(crate) fn cancel(&self, waiter: u64, cids: Vec<Cid>) {
        if !cids.is_empty() {
            let _ = self.send(Cmd::Cancel { waiter, cids });
        }
    }

    /// Waits briefly while more than `limit` received bytes are not yet
    /// stored (back-pressure for bulk fetches).
    pub(crate) fn wait_pending_below(&self, limit: usize) {
        self.pending
            .wait_below(limit, std::time::Duration::from_secs(1));
    }

    /// Whether the swarm task still runs.
    pub fn is_running(&self) -> bool {
        !self.tx.is_closed()
    }

    /// A fresh requester id.
    pub(crate) fn waiter_id(&self) -> u64 {
        self.next_waiter.fetch_add(1, Ordering::Relaxed)
    }

    /// Fetches one block, blocking until it arrives or the fetch stalls.
    pub fn fetch_block(&self, cid: &Cid) -> Result<Bytes> {
        if let Some(b) = self.pending.get(cid) {
            return Ok(b);
        }
        let id = self.waiter_id();
        let (tx, rx) = std_mpsc::channel();
        self.request(id, &tx, vec![*cid]);
        // Only the swarm task holds a sender now: if it stops, we wake.
        drop(tx);
        match rx.recv_timeout(self.stall) {
            Ok((_, b)) => Ok(b),
            Err(std_mpsc::RecvTimeoutError::Disconnected) => {
                Err(Error::Invalid("the network has stopped".into()))
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => {
                self.cancel(id, vec![*cid]);
                Err(Error::Unavailable(format!(
                    "block {cid} was not found: no peer sent it within {}s",
                    self.stall.as_secs()
                )))
            }
        }
    }

    /// Waits until every block received so far is in the store.
    pub fn flush(&self) -> Result<()> {
        self.pending.flush()
    }

    /// `swarm connect`.
    pub async fn connect(&self, addr: Multiaddr) -> Result<PeerId> {
        self.ask(|tx| Cmd::Connect(addr, tx))
            .await?
            .map_err(Error::Invalid)
    }

    /// `swarm disconnect`.
    pub async fn disconnect(&self, addr: Multiaddr) -> Result<PeerId> {
        self.ask(|tx| Cmd::Disconnect(addr, tx))
            .await?
            .map_err(Error::Invalid)
    }

    /// `swarm peers`.
    pub async fn peers(&self) -> Result<Vec<PeerInfo>> {
        self.ask(Cmd::Peers).await
    }

    /// Replaces the bootstrap peers (the config's `Bootstrap`, reloaded):
    /// new ones are dialled and kept connected, dropped ones are no longer
    /// protected from the connection manager.
    pub fn set_bootstrap(&self, addrs: Vec<Multiaddr>) -> Result<()> {
        self.send(Cmd::SetBootstrap(addrs))
    }

    /// Reads `Bootstrap` from `config` and applies it ([`Self::set_bootstrap`]).
    pub fn reload_bootstrap(&self, config: &ferrite_config::Config) -> Result<()> {
        self.set_bootstrap(parse_addrs("Bootstrap", &config.bootstrap()?)?)
    }

    /// `swarm addrs`: every peer address the node knows.
    pub async fn known_addrs(&self) -> Result<HashMap<PeerId, Vec<Multiaddr>>> {
        self.ask(Cmd::KnownAddrs).await
    }

    /// `(listen addresses, announced addresses)`.
    pub async fn listen_addrs(&self) -> Result<(Vec<Multiaddr>, Vec<Multiaddr>)> {
        self.ask(Cmd::ListenAddrs).await
    }

    /// `routing findprovs`: providers as they are found, at most `max`.
    pub fn find_providers(&self, cid: Cid, max: usize) -> Result<mpsc::Receiver<Provider>> {
        let (tx, rx) = mpsc::channel(64);
        self.send(Cmd::FindProviders(cid, max.max(1), tx))?;
        Ok(rx)
    }

    /// `routing findpeer`.
    pub async fn find_peer(&self, peer: PeerId) -> Result<Vec<Multiaddr>> {
        self.ask(|tx| Cmd::FindPeer(peer, tx))
            .await?
            .map_err(Error::Invalid)
    }

    /// `routing provide`: announces `cids` and waits until the records are
    /// sent; returns how many peers took them.
    pub async fn provide(&self, cids: Vec<Cid>) -> Result<usize> {
        self.ask(|tx| Cmd::Provide(cids, Some(tx)))
            .await?
            .map_err(Error::Invalid)
    }

    /// Announces `cids` in the background (after add and pin).
    pub fn provide_later(&self, cids: Vec<Cid>) {
        let _ = self.send(Cmd::Provide(cids, None));
    }

    /// `stats bitswap`.
    pub async fn bitswap_stats(&self) -> Result<BitswapStats> {
        self.ask(Cmd::Stats).await
    }

    /// DHT work since start: announcements, lookups, reprovide cycles.
    pub fn dht_stats(&self) -> DhtStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        DhtStats {
            provide_keys_queued: get(&c.provide_keys_queued),
            provide_keys_done: get(&c.provide_keys_done),
            provide_keys_failed: get(&c.provide_keys_failed),
            provide_lookups: get(&c.provide_lookups),
            lookups: get(&c.lookups),
            reprovide_runs: get(&c.reprovide_runs),
            reprovide_last_seconds: get(&c.reprovide_last_micros) as f64 / 1e6,
        }
    }

    /// Bytes received and sent since start, without touching the rates
    /// `stats bw` computes (for metrics).
    pub fn bandwidth_totals(&self) -> (u64, u64) {
        self.bw.totals()
    }

    /// `stats bw`: see [`Bandwidth`].
    pub fn bandwidth(&self) -> Bandwidth {
        let (total_in, total_out) = self.bw.totals();
        let now = std::time::Instant::now();
        let mut last = self.bw_sample.lock().unwrap();
        let secs = now.duration_since(last.0).as_secs_f64().max(1e-3);
        let bw = Bandwidth {
            total_in,
            total_out,
            rate_in: total_in.saturating_sub(last.1) as f64 / secs,
            rate_out: total_out.saturating_sub(last.2) as f64 / secs,
        };
        *last = (now, total_in, total_out);
        bw
    }

    /// Stops the host (closing connections) and flushes received blocks.
    pub async fn shutdown(&self) {
        let _ = self.ask(Cmd::Shutdown).await;
    }
}

/// The first reprovide runs this long after start (as Kubo), then every
/// `Reprovider.Interval`.
const FIRST_REPROVIDE_AFTER: Duration = Duration::from_secs(60);

/// Announces, every `interval`, the keys `strategy` selects, as one batch:
/// the host sorts them by DHT key and serves each region of the key space
/// with one lookup, so 100,000 roots are not 100,000 lookups.
async fn reprovider(
    repo: Arc<Repo>,
    strategy: String,
    interval: Duration,
    tx: mpsc::UnboundedSender<Cmd>,
    counters: Arc<Counters>,
) {
    tokio::time::sleep(FIRST_REPROVIDE_AFTER).await;
    loop {
        let r = repo.clone();
        let s = strategy.clone();
        match tokio::task::spawn_blocking(move || keys_to_reprovide(&r, &s)).await {
            Ok(Ok(keys)) if !keys.is_empty() => {
                tracing::info!("reproviding {} keys ({strategy})", keys.len());
                let start = std::time::Instant::now();
                let (done_tx, done_rx) = oneshot::channel();
                if tx.send(Cmd::Provide(keys, Some(done_tx))).is_err() {
                    return;
                }
                let _ = done_rx.await;
                counters
                    .reprovide_last_micros
                    .store(start.elapsed().as_micros() as u64, Ordering::Relaxed);
                counters.reprovide_runs.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!("reprovide: cannot list keys: {e}"),
            Err(_) => return,
        }
        tokio::time::sleep(interval).await;
    }
}

/// The CIDs `Reprovider.Strategy` announces: `all` (every block), `pinned`
/// (every block under a pin), `roots` (pinned roots only).
pub fn reprovide_keys(node: &crate::Node, strategy: &str) -> Result<Vec<Cid>> {
    keys_to_reprovide(&node.repo, strategy)
}

fn keys_to_reprovide(repo: &Repo, strategy: &str) -> Result<Vec<Cid>> {
    let pins = || -> Result<Vec<ferrite_store::Pin>> { Ok(repo.pins().list()?) };
    let mut out = Vec::new();
    match strategy {
        "roots" => out.extend(pins()?.into_iter().map(|p| p.cid)),
        "pinned" | "pinned+mfs" => {
            let mut seen = std::collections::HashSet::new();
            for p in pins()? {
                if p.mode == ferrite_store::PinMode::Direct {
                    if seen.insert(p.cid) {
                        out.push(p.cid);
                    }
                    continue;
                }
                ferrite_store::dag::walk(repo.blocks(), &p.cid, &mut |c, _| {
                    if seen.insert(*c) {
                        out.push(*c);
                    }
                    Ok(())
                })?;
            }
        }
        _ => {
            repo.blocks().for_each(&mut |mh, _| {
                out.push(Cid::new_v1(ferrite_ipld::codecs::RAW, *mh));
                true
            })?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_config::Config;

    fn config_with(key: &str, value: serde_json::Value) -> Result<NetConfig> {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config::init(&["test"]).unwrap();
        cfg.set(key, value).unwrap();
        Repo::init(dir.path(), &cfg).unwrap();
        NetConfig::from_repo(&Repo::open(dir.path()).unwrap())
    }

    /// Every profile, `public` included (whose daemon no test may start: it
    /// dials the public bootstrap peers), gives network settings the host
    /// accepts, with only addresses it serves.
    #[test]
    fn every_profile_gives_a_network_config() {
        for name in ferrite_config::profile_names() {
            let dir = tempfile::tempdir().unwrap();
            Repo::init(dir.path(), &Config::init(&[name]).unwrap()).unwrap();
            let c = NetConfig::from_repo(&Repo::open(dir.path()).unwrap())
                .unwrap_or_else(|e| panic!("profile {name}: {e}"));
            assert!(!c.host.listen_addrs.is_empty(), "profile {name}");
            for a in &c.host.listen_addrs {
                let s = a.to_string();
                assert!(
                    !s.contains("webrtc") && !s.contains("webtransport"),
                    "profile {name} listens on {a}"
                );
            }
        }
    }

    #[test]
    fn max_memory_uses_kubo_byte_sizes() {
        let c = config_with("Swarm.ResourceMgr.MaxMemory", "512MiB".into()).unwrap();
        assert_eq!(c.host.max_memory_bytes, Some(512 << 20));
        let c = config_with("Swarm.ResourceMgr.MaxMemory", 1_000_000.into()).unwrap();
        assert_eq!(c.host.max_memory_bytes, Some(1_000_000));
        let e = config_with("Swarm.ResourceMgr.MaxMemory", "lots".into()).unwrap_err();
        assert!(e.to_string().contains("Swarm.ResourceMgr.MaxMemory"), "{e}");
    }
}
