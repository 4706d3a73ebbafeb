//! `ferrite routing findprovs|findpeer|provide`, also as the older `dht`
//! names (defined in [`ferrite_http::rpc::routing`]; they need the daemon).

use super::{exec, Target};
use clap::Subcommand;
use ferrite_http::rpc::routing;

/// `routing` subcommands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Find peers that can provide a CID.
    Findprovs(routing::Findprovs),
    /// Find the addresses of a peer.
    Findpeer(routing::Findpeer),
    /// Announce to the network that this node provides CIDs.
    Provide(routing::Provide),
}

/// Runs a `routing` (or `dht`) subcommand.
pub(crate) fn run(t: &Target, c: Command) -> anyhow::Result<()> {
    match c {
        Command::Findprovs(c) => exec(t, c),
        Command::Findpeer(c) => exec(t, c),
        Command::Provide(c) => exec(t, c),
    }
}
