//! Host settings, shaped like Kubo's `Swarm` and `Routing` config sections.

use std::path::PathBuf;
use std::time::Duration;

use libp2p::Multiaddr;

use crate::pnet::SwarmKey;
use crate::providers::{LocalProviders, ProviderStoreConfig};
use crate::reprovide::ProvideConfig;

/// The protocol version identify announces, as Kubo does.
pub const PROTOCOL_VERSION: &str = "ipfs/0.1.0";

/// The Kademlia protocol of the IPFS DHT.
pub const KAD_PROTOCOL: &str = "/ipfs/kad/1.0.0";

/// The agent version identify announces: `ferrite/<crate version>`.
pub fn agent_version() -> String {
    format!("ferrite/{}", env!("CARGO_PKG_VERSION"))
}

/// Whether this node answers DHT queries (Kubo's `Routing.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KadMode {
    /// Only queries others (`dhtclient`).
    Client,
    /// Always serves the DHT (`dhtserver`).
    Server,
    /// Serves once an address is confirmed reachable (`dht`/`auto`).
    #[default]
    Auto,
}

/// Connection limits (Kubo's `Swarm.ConnMgr`).
///
/// Above `high_water` connections, the oldest connections that are older
/// than `grace_period` and not to a protected peer are closed until
/// `low_water` remain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnMgrConfig {
    /// Number of connections trimming brings the count down to.
    pub low_water: usize,
    /// Number of connections above which trimming starts.
    pub high_water: usize,
    /// New connections are never trimmed before they are this old.
    pub grace_period: Duration,
    /// How often the count is checked.
    pub check_interval: Duration,
}

impl Default for ConnMgrConfig {
    /// Kubo's defaults: 32 / 96 / 20 s.
    fn default() -> Self {
        Self {
            low_water: 32,
            high_water: 96,
            grace_period: Duration::from_secs(20),
            check_interval: Duration::from_secs(10),
        }
    }
}

/// Everything the host needs besides its identity.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Addresses to listen on (`Addresses.Swarm`).
    pub listen_addrs: Vec<Multiaddr>,
    /// The private network key; `None` for a public-style network (which
    /// then also offers QUIC).
    pub swarm_key: Option<SwarmKey>,
    /// DHT mode.
    pub kad_mode: KadMode,
    /// Connection limits.
    pub conn_mgr: ConnMgrConfig,
    /// Connections without open streams are closed after this long.
    pub idle_connection_timeout: Duration,
    /// Limit on the TCP connect of a dial (go-libp2p: 5 s). Must be below
    /// `handshake_timeout`.
    pub connect_timeout: Duration,
    /// Limit on setting a connection up, TCP connect and handshakes (swarm
    /// key, Noise, Yamux) together (go-libp2p: 15 s). A peer with a
    /// different swarm key, or none, can stall the handshake rather than
    /// fail it; this bounds the wait, and such a timeout is reported as a
    /// key mismatch.
    pub handshake_timeout: Duration,
    /// The redb file holding provider records received from other peers
    /// (e.g. `$IPFS_PATH/datastore/providers.redb`); `None` keeps them in
    /// memory only.
    pub provider_db: Option<PathBuf>,
    /// Limits of the provider record store.
    pub provider_store: ProviderStoreConfig,
    /// "Do we provide this key?": keys it accepts are answered with this
    /// node (and its current addresses) in `GET_PROVIDERS`, without any
    /// stored record. `None`: only records added by kad itself.
    pub local_provider: Option<LocalProviders>,
    /// Limits of batched providing ([`crate::Host::provide`]).
    pub provide: ProvideConfig,
    /// A file of known peers' addresses: loaded into the routing table when
    /// the host is built, saved every `peerstore_interval` and when the
    /// host is dropped. `None`: no file.
    pub peerstore: Option<PathBuf>,
    /// How often the peerstore file is rewritten.
    pub peerstore_interval: Duration,
    /// `Swarm.AddrFilters`: ranges such as `/ip4/10.0.0.0/ipcidr/8` or
    /// `/ip6/fe80::/ipcidr/10` (or single `/ip4/<addr>`) this host never
    /// dials and never accepts connections from. See
    /// [`crate::addr_filter`].
    pub addr_filters: Vec<Multiaddr>,
    /// `Addresses.Announce`: if non-empty, announced instead of the listen
    /// addresses. See [`crate::Host::announced_addrs`].
    pub announce: Vec<Multiaddr>,
    /// `Addresses.AppendAnnounce`: announced besides the others.
    pub append_announce: Vec<Multiaddr>,
    /// `Addresses.NoAnnounce`: exact addresses and `ipcidr` ranges never
    /// announced (identify, provider records, external addresses).
    pub no_announce: Vec<Multiaddr>,
    /// Hard cap on established connections, whatever the connection
    /// manager's state; connections to protected peers do not count and
    /// are never refused. `None`: twice `conn_mgr.high_water` (Kubo's
    /// resource manager likewise sits above HighWater).
    pub max_connections: Option<usize>,
    /// New connections (both directions) are refused while the process's
    /// resident memory exceeds this many bytes. `None`:
    /// [`DEFAULT_MEMORY_FRACTION`] of physical memory; `Some(usize::MAX)`
    /// turns the limit off.
    pub max_memory_bytes: Option<usize>,
}

/// The share of physical memory above which new connections are refused
/// when [`HostConfig::max_memory_bytes`] is `None`.
pub const DEFAULT_MEMORY_FRACTION: f64 = 0.9;

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            listen_addrs: Vec::new(),
            swarm_key: None,
            kad_mode: KadMode::default(),
            conn_mgr: ConnMgrConfig::default(),
            idle_connection_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(15),
            provider_db: None,
            provider_store: ProviderStoreConfig::default(),
            local_provider: None,
            provide: ProvideConfig::default(),
            peerstore: None,
            peerstore_interval: Duration::from_secs(600),
            addr_filters: Vec::new(),
            announce: Vec::new(),
            append_announce: Vec::new(),
            no_announce: Vec::new(),
            max_connections: None,
            max_memory_bytes: None,
        }
    }
}
