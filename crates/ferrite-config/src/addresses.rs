//! `Addresses`: where the node listens and what it announces.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::error::Result;
use crate::types::strings;
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

/// `Addresses`: where the node listens and what it announces. Missing
/// lists are empty.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
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
    #[serde(rename = "API", with = "strings")]
    pub api: Vec<String>,
    /// `Addresses.Gateway`: gateway listen multiaddrs (a string or a list).
    #[serde(with = "strings")]
    pub gateway: Vec<String>,
    /// Keys Ferrite does not read, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
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
    /// The `Addresses` section.
    pub fn addresses(&self) -> Result<Addresses> {
        self.section("Addresses")
    }

    /// `Addresses.Swarm`.
    pub fn swarm_addresses(&self) -> Result<Vec<String>> {
        Ok(self.addresses()?.swarm)
    }

    /// `Addresses.API`.
    pub fn api_addresses(&self) -> Result<Vec<String>> {
        Ok(self.addresses()?.api)
    }

    /// `Addresses.Gateway`.
    pub fn gateway_addresses(&self) -> Result<Vec<String>> {
        Ok(self.addresses()?.gateway)
    }
}
