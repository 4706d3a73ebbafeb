//! One module per command group.

pub mod add;
pub mod block;
pub mod bootstrap;
pub mod cid;
pub mod cluster;
pub mod config;
pub mod daemon;
pub mod dag;
pub mod devnet;
pub mod files;
pub mod init;
pub mod misc;
pub mod pin;
pub mod refs;
pub mod repo;
pub mod routing;
pub mod stats;
pub mod swarm;
pub mod version;

use crate::remote::Client;
use ferrite_node::{Cid, Node};
use std::path::{Path, PathBuf};

/// Where a command runs: on the repo itself, or through the daemon that
/// holds it.
pub enum Target {
    /// No daemon: open the repo at this path.
    Local(PathBuf),
    /// A daemon holds the repo: call its RPC API.
    Remote(Client),
}

/// Opens the node over the repo at `repo`.
pub fn open(repo: &Path) -> anyhow::Result<Node> {
    Ok(Node::open(repo)?)
}

/// Saves `cfg` as the repo's configuration.
pub fn save_config(node: &Node, cfg: ferrite_node::config::Config) -> anyhow::Result<()> {
    node.update_config(|c| {
        *c = cfg;
        Ok::<(), ferrite_node::Error>(())
    })?;
    Ok(())
}

/// Parses a CID argument with a message naming it.
pub fn parse_cid(s: &str) -> anyhow::Result<Cid> {
    Ok(ferrite_ipld::parse_cid(s)?)
}

/// Parses Kubo-style booleans given as `--flag=VALUE`.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "true" | "1" | "yes" | "" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!("{s:?} is not a boolean (true/false)")),
    }
}
