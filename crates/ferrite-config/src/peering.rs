//! `Peering`: peers the node keeps connected.

use serde_json::Value;

use crate::document::string_array;
use crate::error::{expected, invalid, Result};
use crate::Config;

/// One `Peering.Peers` entry: a peer kept connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeeringPeer {
    /// `ID`: the peer ID.
    pub id: String,
    /// `Addrs`: its multiaddrs (may be empty: found through routing).
    pub addrs: Vec<String>,
}

impl Config {
    /// `Peering.Peers`: peers to stay connected to (Kubo's AddrInfo shape,
    /// `{"ID": …, "Addrs": […]}`).
    pub fn peering_peers(&self) -> Result<Vec<PeeringPeer>> {
        const KEY: &str = "Peering.Peers";
        let items = match self.node(KEY)? {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(a)) => a,
            Some(other) => return Err(expected(KEY, "an array or null", other)),
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let key = format!("{KEY}[{i}]");
                let id = match item.get("ID") {
                    Some(Value::String(s)) => s.clone(),
                    _ => return Err(invalid(&key, "expected an object with a string \"ID\"")),
                };
                let addrs = match item.get("Addrs") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(v) => string_array(&format!("{key}.Addrs"), v)?,
                };
                Ok(PeeringPeer { id, addrs })
            })
            .collect()
    }
}
