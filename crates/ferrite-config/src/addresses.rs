//! `Addresses`: where the node listens and what it announces.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use multiaddr::Multiaddr;

use crate::error::{invalid, ConfigError, Result};
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

    /// `Addresses` checked for what the daemon does with it: every entry of
    /// `Swarm`, `Announce`, `AppendAnnounce` and `NoAnnounce` is a
    /// multiaddr, and every entry of `API` and `Gateway` an HTTP listen
    /// address (`/ip4/A/tcp/P` or `/ip6/A/tcp/P`), the only kind the daemon
    /// serves. Errors name the entry (`Addresses.API[0]: …`).
    pub(crate) fn checked_addresses(&self) -> Result<Addresses> {
        let a = self.addresses()?;
        let lists = [
            ("Swarm", &a.swarm),
            ("Announce", &a.announce),
            ("AppendAnnounce", &a.append_announce),
            ("NoAnnounce", &a.no_announce),
        ];
        for (name, list) in lists {
            for (i, addr) in list.iter().enumerate() {
                if let Err(e) = addr.parse::<Multiaddr>() {
                    return Err(invalid(
                        &format!("Addresses.{name}[{i}]"),
                        format!("{addr:?} is not a multiaddr: {e}"),
                    ));
                }
            }
        }
        for (name, list) in [("API", &a.api), ("Gateway", &a.gateway)] {
            for (i, addr) in list.iter().enumerate() {
                if let Err(message) = http_listen_address(addr) {
                    return Err(invalid(&format!("Addresses.{name}[{i}]"), message));
                }
            }
        }
        Ok(a)
    }

    /// What the daemon needs beyond well-formed values: at least one
    /// `Addresses.API` address. Kubo starts without one (and writes no
    /// `api` file); Ferrite refuses, because `ferrite` commands find a
    /// running daemon only through that file: without it they try the repo
    /// itself, find it locked by the daemon, and `ferrite shutdown` cannot
    /// reach it either.
    pub(crate) fn check_api_present(&self) -> Result<()> {
        if self.addresses()?.api.is_empty() {
            return Err(ConfigError::InvalidValue {
                key: "Addresses.API".into(),
                message: format!(
                    "no RPC API address; the daemon needs one so that ferrite commands \
                     can reach it (e.g. {DEFAULT_API_ADDRESS})"
                ),
            });
        }
        Ok(())
    }
}

/// Checks an API or gateway listen address the way the daemon binds it.
fn http_listen_address(addr: &str) -> std::result::Result<(), String> {
    let expected = || {
        format!("{addr:?} is not an HTTP listen address (expected /ip4/A/tcp/P or /ip6/A/tcp/P)")
    };
    let parts: Vec<&str> = addr.trim_matches('/').split('/').collect();
    let [proto @ ("ip4" | "ip6"), ip, "tcp", port] = parts.as_slice() else {
        return Err(expected());
    };
    let ip: std::net::IpAddr = ip
        .parse()
        .map_err(|_| format!("invalid {proto} address in {addr:?}"))?;
    if (*proto == "ip4") != ip.is_ipv4() {
        return Err(format!("{addr:?}: address does not match {proto}"));
    }
    port.parse::<u16>()
        .map_err(|_| format!("invalid tcp port in {addr:?}"))?;
    Ok(())
}
