//! Ferrite's libp2p host: transports, private networks (`swarm.key`),
//! identify, ping, Kademlia and connection management.
//!
//! A [`TransportBuilder`] makes the transport stack (also used by the
//! cluster's own host); a [`HostBuilder`] turns an identity and a [`HostConfig`] into a running
//! [`Host`]: TCP with Noise and Yamux (the swarm key, when given, wraps the
//! raw TCP stream before Noise, as go-libp2p does), QUIC-v1 only outside
//! private networks, and the identify, ping and Kademlia behaviours plus one
//! caller-supplied behaviour.
//!
//! The DHT keeps provider records in a redb file ([`ProviderStore`]),
//! answers for our own content through a predicate ([`LocalProviders`]),
//! announces keys in batches ([`Host::provide`], see [`reprovide`]) and
//! remembers peers' addresses across restarts ([`peerstore`]).

#![warn(missing_docs)]

pub mod addr_filter;
pub mod bandwidth;
pub mod config;
pub mod connmgr;
pub mod host;
pub mod peerstore;
pub mod pnet;
pub mod pnet_io;
pub mod providers;
pub mod reprovide;
pub mod transport;

pub use addr_filter::{AddrFiltered, AddrFilters, NoAnnounce};
pub use bandwidth::BandwidthCounters;
pub use config::{agent_version, ConnMgrConfig, HostConfig, KadMode, DEFAULT_MEMORY_FRACTION};
pub use connmgr::ConnManager;
pub use host::{
    Behaviour, BehaviourEvent, Host, HostBuilder, HostError, SkippedListenAddr, FORCE_PNET_ENV,
};
pub use peerstore::{load_peers, save_peers, strip_p2p, PeerAddrs};
pub use pnet::{SwarmKey, SwarmKeyError};
pub use providers::{
    LocalProviderFn, LocalProviders, ProviderStore, ProviderStoreConfig, ProviderStoreError,
};
pub use reprovide::{ProvideBatchId, ProvideConfig, ProvideEvent, ProvideReport};
pub use transport::{
    handshake_failure, is_pnet_mismatch, is_pnet_mismatch_incoming, HandshakeFailure,
    TransportBuilder, PNET_MISMATCH_MESSAGE,
};

/// The libp2p version this crate builds on, for callers that need its types.
pub use libp2p;
