//! One module per command group.

pub(crate) mod add;
pub(crate) mod block;
pub(crate) mod bootstrap;
pub(crate) mod cid;
pub(crate) mod cluster;
pub(crate) mod config;
pub(crate) mod daemon;
pub(crate) mod dag;
pub(crate) mod devnet;
pub(crate) mod files;
pub(crate) mod init;
pub(crate) mod misc;
pub(crate) mod pin;
pub(crate) mod refs;
pub(crate) mod repo;
pub(crate) mod routing;
pub(crate) mod stats;
pub(crate) mod swarm;
pub(crate) mod version;

use crate::remote::Client;
use ferrite_node::{Cid, Node};
use std::path::{Path, PathBuf};

/// Where a command runs: on the repo itself, or through the daemon that
/// holds it.
pub(crate) enum Target {
    /// No daemon: open the repo at this path.
    Local(PathBuf),
    /// A daemon holds the repo: call its RPC API.
    Remote(Client),
}

/// Opens the node over the repo at `repo`.
pub(crate) fn open(repo: &Path) -> anyhow::Result<Node> {
    Ok(Node::open(repo)?)
}

/// Saves `cfg` as the repo's configuration.
pub(crate) fn save_config(node: &Node, cfg: ferrite_node::config::Config) -> anyhow::Result<()> {
    node.update_config(|c| {
        *c = cfg;
        Ok::<(), ferrite_node::Error>(())
    })?;
    Ok(())
}

/// Parses a CID argument with a message naming it.
pub(crate) fn parse_cid(s: &str) -> anyhow::Result<Cid> {
    Ok(ferrite_ipld::parse_cid(s)?)
}

/// Parses Kubo-style booleans given as `--flag=VALUE`.
pub(crate) fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "true" | "1" | "yes" | "" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!("{s:?} is not a boolean (true/false)")),
    }
}
