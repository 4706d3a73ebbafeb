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

use crate::remote::Client;
use anyhow::{anyhow, bail};
pub(crate) use ferrite_http::command::parse_bool;
use ferrite_http::command::{query, Command, Ctx, Needs};
use ferrite_node::{Cid, Node};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where a command runs: on the repo itself, or through the daemon that
/// holds it.
pub(crate) enum Target {
    /// No daemon: open the repo at this path.
    Local(PathBuf),
    /// A daemon holds the repo: call its RPC API.
    Remote(Client),
}

/// Runs `cmd` where `t` says (in this process, or on the daemon through the
/// RPC API, decoding its typed answer) and prints each item with the
/// command's text encoder.
pub(crate) fn exec<C: Command>(t: &Target, cmd: C) -> anyhow::Result<()> {
    exec_at(t, C::PATH, cmd)
}

/// [`exec`] through the daemon's `path`, one of the command's other names
/// (`stats/bitswap` for `bitswap/stat`).
pub(crate) fn exec_at<C: Command>(t: &Target, path: &str, cmd: C) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut failed = 0;
    let mut bar: Option<indicatif::ProgressBar> = None;
    let mut print = |item: C::Item, out: &mut dyn Write| -> std::io::Result<()> {
        if let Some((label, n)) = cmd.progress(&item) {
            bar.get_or_insert_with(|| crate::progress::counter(label))
                .set_position(n);
            return Ok(());
        }
        if cmd.failed(&item) {
            failed += 1;
        }
        match &bar {
            Some(b) => b.suspend(|| cmd.text(&item, out)),
            None => cmd.text(&item, out),
        }
    };
    let result =
        match (C::NEEDS, t) {
            (Needs::Nothing, _) => Ok(cmd.run(&Ctx::bare(), &mut |item| print(item, &mut out))?),
            (Needs::Network, Target::Local(_)) => Err(anyhow!(swarm::OFFLINE)),
            (_, Target::Local(repo)) => open(repo).and_then(|node| {
                let ctx = Ctx::new(node);
                Ok(cmd.run(&ctx, &mut |item| print(item, &mut out))?)
            }),
            (_, Target::Remote(client)) => query::to_pairs(&cmd)
                .map_err(anyhow::Error::msg)
                .and_then(|pairs| {
                    client
                        .request(path)
                        .pairs(pairs)
                        .items(|item: C::Item| Ok(print(item, &mut out)?))
                }),
        };
    // `print` borrows `bar`; its last use is above.
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    out.flush()?;
    result?;
    if failed > 0 {
        bail!("{}", cmd.failure(failed));
    }
    Ok(())
}

/// Opens the node over the repo at `repo`.
pub(crate) fn open(repo: &Path) -> anyhow::Result<Node> {
    Ok(Node::open(repo)?)
}

/// Saves `cfg` as the repo's configuration.
pub(crate) fn save_config(node: &Node, cfg: ferrite_config::Config) -> anyhow::Result<()> {
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
