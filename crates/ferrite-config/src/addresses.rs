//! `Addresses`: where the node listens and what it announces.

use serde_json::{json, Value};

use crate::error::Result;
use crate::Config;

/// The default swarm listen addresses: Kubo's less WebTransport and
/// WebRTC Direct, which ferrite does not serve, so a fresh repo starts
/// without warnings. A Kubo config that lists them still starts: the daemon
/// warns about each address it cannot serve and listens on the rest.
pub const DEFAULT_SWARM_ADDRESSES: [&str; 4] = [
    "/ip4/0.0.0.0/tcp/4001",
    "/ip6/::/tcp/4001",
    "/ip4/0.0.0.0/udp/4001/quic-v1",
    "/ip6/::/udp/4001/quic-v1",
];
/// Default RPC API listen address.
pub const DEFAULT_API_ADDRESS: &str = "/ip4/127.0.0.1/tcp/5001";
/// Default HTTP gateway listen address.
pub const DEFAULT_GATEWAY_ADDRESS: &str = "/ip4/127.0.0.1/tcp/8080";

/// `Addresses`: where the node listens and what it announces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Addresses {
    /// `Addresses.Swarm`: libp2p listen multiaddrs.
    pub swarm: Vec<String>,
    /// `Addresses.Announce`: if non-empty, replaces the detected addresses.
    pub announce: Vec<String>,
    /// `Addresses.AppendAnnounce`: added to the detected addresses.
    pub append_announce: Vec<String>,
    /// `Addresses.NoAnnounce`: addresses or `ipcidr` ranges never announced.
    pub no_announce: Vec<String>,
    /// `Addresses.API`: RPC API listen multiaddrs (a string or a list).
    pub api: Vec<String>,
    /// `Addresses.Gateway`: gateway listen multiaddrs (a string or a list).
    pub gateway: Vec<String>,
}

/// `Addresses` as `ferrite init` writes it (and `default-networking` restores).
pub(crate) fn default_addresses() -> Value {
    json!({
        "Swarm": DEFAULT_SWARM_ADDRESSES,
        "Announce": [],
        "AppendAnnounce": [],
        "NoAnnounce": [],
        "API": DEFAULT_API_ADDRESS,
        "Gateway": DEFAULT_GATEWAY_ADDRESS,
    })
}

impl Config {
    /// `Addresses.*`. Missing lists are empty.
    pub fn addresses(&self) -> Result<Addresses> {
        Ok(Addresses {
            swarm: self.string_list("Addresses.Swarm")?,
            announce: self.string_list("Addresses.Announce")?,
            append_announce: self.string_list("Addresses.AppendAnnounce")?,
            no_announce: self.string_list("Addresses.NoAnnounce")?,
            api: self.strings("Addresses.API")?,
            gateway: self.strings("Addresses.Gateway")?,
        })
    }

    /// `Addresses.Swarm`.
    pub fn swarm_addresses(&self) -> Result<Vec<String>> {
        self.string_list("Addresses.Swarm")
    }

    /// `Addresses.API`.
    pub fn api_addresses(&self) -> Result<Vec<String>> {
        self.strings("Addresses.API")
    }

    /// `Addresses.Gateway`.
    pub fn gateway_addresses(&self) -> Result<Vec<String>> {
        self.strings("Addresses.Gateway")
    }
}
