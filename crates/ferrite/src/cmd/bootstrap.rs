//! `ferrite bootstrap [list] | add [MA…] [--default] | add default |
//! rm [MA…] [--all] | rm all`: the peers the node dials at start.

use super::Target;
use crate::remote::Client;
use clap::Subcommand;
use ferrite_node::bootstrap;
use ferrite_node::config::Config;
use serde_json::Value;
use std::io::Write;
use std::path::Path;

/// Arguments of `bootstrap` (without a subcommand: `list`).
#[derive(clap::Args)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite bootstrap\n",
    "  ferrite bootstrap add /ip4/10.0.0.1/tcp/4001/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp",
))]
pub(crate) struct Args {
    #[command(subcommand)]
    sub: Option<Sub>,
}

#[derive(Subcommand)]
enum Sub {
    /// Show the peers in the bootstrap list.
    #[command(after_help = "Examples:\n  ferrite bootstrap list")]
    List,
    /// Add peers (multiaddrs ending in /p2p/<peer ID>) to the bootstrap list.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite bootstrap add /ip4/10.0.0.1/tcp/4001/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp\n",
        "  ferrite bootstrap add --default",
    ))]
    Add(AddArgs),
    /// Remove peers from the bootstrap list.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite bootstrap rm /ip4/10.0.0.1/tcp/4001/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp\n",
        "  ferrite bootstrap rm /p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp\n",
        "  ferrite bootstrap rm --all",
    ))]
    Rm(RmArgs),
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct AddArgs {
    #[command(subcommand)]
    sub: Option<AddSub>,
    /// The peers' multiaddrs, e.g. /ip4/10.0.0.1/tcp/4001/p2p/12D3KooW…
    peers: Vec<String>,
    /// Also add Kubo's default (public IPFS network) bootstrap peers.
    #[arg(long)]
    default: bool,
}

#[derive(Subcommand)]
enum AddSub {
    /// Add Kubo's default (public IPFS network) bootstrap peers.
    #[command(after_help = "Examples:\n  ferrite bootstrap add default")]
    Default,
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct RmArgs {
    #[command(subcommand)]
    sub: Option<RmSub>,
    /// The multiaddrs to remove; /p2p/<peer ID> alone removes every address
    /// of that peer.
    peers: Vec<String>,
    /// Remove every bootstrap peer.
    #[arg(long)]
    all: bool,
}

#[derive(Subcommand)]
enum RmSub {
    /// Remove every bootstrap peer.
    #[command(after_help = "Examples:\n  ferrite bootstrap rm all")]
    All,
}

/// What one invocation does, whatever its spelling.
enum Op {
    List,
    Add(Vec<String>, bool),
    AddDefault,
    Rm(Vec<String>),
    RmAll,
}

fn op(a: Args) -> Op {
    match a.sub {
        None | Some(Sub::List) => Op::List,
        Some(Sub::Add(AddArgs {
            sub: Some(AddSub::Default),
            ..
        })) => Op::AddDefault,
        Some(Sub::Add(a)) => Op::Add(a.peers, a.default),
        Some(Sub::Rm(RmArgs {
            sub: Some(RmSub::All),
            ..
        })) => Op::RmAll,
        Some(Sub::Rm(a)) if a.all => Op::RmAll,
        Some(Sub::Rm(a)) => Op::Rm(a.peers),
    }
}

/// Runs `bootstrap`: on the repo's config, or through the daemon (which
/// edits its repo's config the same way). Prints one multiaddr per line.
pub(crate) fn run(t: &Target, a: Args) -> anyhow::Result<()> {
    let peers = match t {
        Target::Local(repo) => run_local(repo, op(a))?,
        Target::Remote(c) => run_remote(c, op(a))?,
    };
    print_peers(&mut std::io::stdout().lock(), &peers)?;
    Ok(())
}

fn run_local(repo: &Path, op: Op) -> anyhow::Result<Vec<String>> {
    let node = super::open(repo)?;
    let mut cfg: Config = node.config();
    let peers = match op {
        Op::List => return Ok(bootstrap::list(&cfg)?),
        Op::Add(mut peers, default) => {
            if default {
                peers.extend(bootstrap::defaults());
            }
            bootstrap::add(&mut cfg, &peers)?
        }
        Op::AddDefault => bootstrap::add(&mut cfg, &bootstrap::defaults())?,
        Op::Rm(peers) => bootstrap::remove(&mut cfg, &peers)?,
        Op::RmAll => bootstrap::remove_all(&mut cfg)?,
    };
    super::save_config(&node, cfg)?;
    Ok(peers)
}

/// The same through the daemon: every answer is `{"Peers":[…]}`.
fn run_remote(c: &Client, op: Op) -> anyhow::Result<Vec<String>> {
    let v = match op {
        Op::List => c.request("bootstrap/list").json()?,
        Op::Add(peers, default) => c
            .request("bootstrap/add")
            .args(&peers)
            .flag("default", default)
            .json()?,
        Op::AddDefault => c.request("bootstrap/add/default").json()?,
        Op::Rm(peers) => c.request("bootstrap/rm").args(&peers).json()?,
        Op::RmAll => c.request("bootstrap/rm/all").json()?,
    };
    Ok(peers_of(&v))
}

/// The `Peers` list of an answer (`null` is empty).
pub(crate) fn peers_of(v: &Value) -> Vec<String> {
    v["Peers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

fn print_peers(out: &mut impl Write, peers: &[String]) -> std::io::Result<()> {
    for p in peers {
        writeln!(out, "{p}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_print_one_per_line() {
        let v: Value =
            serde_json::from_str(r#"{"Peers":["/ip4/1.2.3.4/tcp/1/p2p/a","/b"]}"#).unwrap();
        let mut out = Vec::new();
        print_peers(&mut out, &peers_of(&v)).unwrap();
        assert_eq!(out, b"/ip4/1.2.3.4/tcp/1/p2p/a\n/b\n");
        assert!(peers_of(&serde_json::json!({"Peers": null})).is_empty());
    }
}
