//! `Peering`: peers the node keeps connected.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::Config;

/// One `Peering.Peers` entry (Kubo's AddrInfo shape, `{"ID": …, "Addrs":
/// […]}`): a peer kept connected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeeringPeer {
    /// `ID`: the peer ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// `Addrs`: its multiaddrs (may be empty: found through routing).
    #[serde(rename = "Addrs", default)]
    pub addrs: Vec<String>,
}

impl Config {
    /// `Peering.Peers`: peers to stay connected to.
    pub fn peering_peers(&self) -> Result<Vec<PeeringPeer>> {
        self.section("Peering.Peers")
    }
}
