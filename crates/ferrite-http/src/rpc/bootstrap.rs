//! `bootstrap` (= `bootstrap/list`), `bootstrap/add[/default]`,
//! `bootstrap/rm[/all]`: the repo's `Bootstrap` list, edited through the
//! node's config setter (durable; the daemon dials the new list at its next
//! start, as Kubo does). Every answer is `{"Peers":[…]}`.

use crate::command::{nullable, route, route_at, Command, Ctx, Emit};
use crate::rpc::ApiError;
use ferrite_config::bootstrap;
use ferrite_config::{Config, ConfigError};
use serde::{Deserialize, Serialize};
use std::io::{self, Write};

/// The `bootstrap` commands.
pub(super) const COMMANDS: &[super::Route] = &[
    route_at::<List>("bootstrap"),
    route::<List>(),
    route::<Add>(),
    route::<AddDefault>(),
    route::<Rm>(),
    route::<RmAll>(),
];

/// `{"Peers":[…]}`: the list, or the peers added or removed.
#[derive(Debug, Serialize, Deserialize)]
pub struct Peers {
    /// Multiaddrs ending in `/p2p/<peer ID>`.
    #[serde(rename = "Peers", default, deserialize_with = "nullable")]
    pub peers: Vec<String>,
}

fn error(e: ConfigError) -> ApiError {
    match e {
        ConfigError::BadInput(m) => ApiError::client(m),
        e => ApiError::internal(e.to_string()),
    }
}

/// Applies `edit` to the saved configuration and answers what it returns.
fn edit(
    ctx: &Ctx,
    emit: Emit<'_, Peers>,
    edit: impl FnOnce(&mut Config) -> Result<Vec<String>, ConfigError>,
) -> Result<(), ApiError> {
    let peers = ctx.node()?.update_config(|cfg| edit(cfg).map_err(error))?;
    emit(Peers { peers })?;
    Ok(())
}

fn lines(item: &Peers, out: &mut dyn Write) -> io::Result<()> {
    item.peers.iter().try_for_each(|p| writeln!(out, "{p}"))
}

/// Show the peers in the bootstrap list.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = "Examples:\n  ferrite bootstrap list")]
pub struct List {}

impl Command for List {
    const PATH: &'static str = "bootstrap/list";
    type Item = Peers;

    fn run(&self, ctx: &Ctx, emit: Emit<'_, Peers>) -> Result<(), ApiError> {
        let peers = bootstrap::list(&ctx.node()?.config()).map_err(error)?;
        emit(Peers { peers })?;
        Ok(())
    }

    fn text(&self, item: &Peers, out: &mut dyn Write) -> io::Result<()> {
        lines(item, out)
    }
}

/// Add peers (multiaddrs ending in /p2p/<peer ID>) to the bootstrap list.
#[derive(clap::Args, Serialize, Deserialize)]
pub struct Add {
    /// The peers' multiaddrs, e.g. /ip4/10.0.0.1/tcp/4001/p2p/12D3KooW…
    #[serde(rename = "arg", default)]
    pub peers: Vec<String>,
    /// Also add Kubo's default (public IPFS network) bootstrap peers.
    #[arg(long)]
    #[serde(default)]
    pub default: bool,
}

impl Command for Add {
    const PATH: &'static str = "bootstrap/add";
    type Item = Peers;

    fn run(&self, ctx: &Ctx, emit: Emit<'_, Peers>) -> Result<(), ApiError> {
        let mut peers = self.peers.clone();
        if self.default {
            peers.extend(bootstrap::defaults());
        }
        edit(ctx, emit, |cfg| bootstrap::add(cfg, &peers))
    }

    fn text(&self, item: &Peers, out: &mut dyn Write) -> io::Result<()> {
        lines(item, out)
    }
}

/// Add Kubo's default (public IPFS network) bootstrap peers.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = "Examples:\n  ferrite bootstrap add default")]
pub struct AddDefault {}

impl Command for AddDefault {
    const PATH: &'static str = "bootstrap/add/default";
    type Item = Peers;

    fn run(&self, ctx: &Ctx, emit: Emit<'_, Peers>) -> Result<(), ApiError> {
        edit(ctx, emit, |cfg| bootstrap::add(cfg, &bootstrap::defaults()))
    }

    fn text(&self, item: &Peers, out: &mut dyn Write) -> io::Result<()> {
        lines(item, out)
    }
}

/// Remove peers from the bootstrap list.
#[derive(clap::Args, Serialize, Deserialize)]
pub struct Rm {
    /// The multiaddrs to remove; /p2p/<peer ID> alone removes every address
    /// of that peer.
    #[serde(rename = "arg", default)]
    pub peers: Vec<String>,
    /// Remove every bootstrap peer.
    #[arg(long)]
    #[serde(default)]
    pub all: bool,
}

impl Command for Rm {
    const PATH: &'static str = "bootstrap/rm";
    type Item = Peers;

    fn run(&self, ctx: &Ctx, emit: Emit<'_, Peers>) -> Result<(), ApiError> {
        if self.all {
            return edit(ctx, emit, bootstrap::remove_all);
        }
        edit(ctx, emit, |cfg| bootstrap::remove(cfg, &self.peers))
    }

    fn text(&self, item: &Peers, out: &mut dyn Write) -> io::Result<()> {
        lines(item, out)
    }
}

/// Remove every bootstrap peer.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = "Examples:\n  ferrite bootstrap rm all")]
pub struct RmAll {}

impl Command for RmAll {
    const PATH: &'static str = "bootstrap/rm/all";
    type Item = Peers;

    fn run(&self, ctx: &Ctx, emit: Emit<'_, Peers>) -> Result<(), ApiError> {
        edit(ctx, emit, bootstrap::remove_all)
    }

    fn text(&self, item: &Peers, out: &mut dyn Write) -> io::Result<()> {
        lines(item, out)
    }
}
