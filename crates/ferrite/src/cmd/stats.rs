//! `ferrite stats bw|bitswap` and `ferrite bitswap stat|wantlist` (defined
//! in [`ferrite_http::rpc::stats`]; they need the daemon).

use super::{exec, Target};
use clap::Subcommand;
use ferrite_http::rpc::stats;

/// `stats` subcommands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Bandwidth totals and rates.
    Bw(stats::Bw),
    /// Bitswap counters, wantlist and partners.
    #[command(
        after_help = "Examples:\n  ferrite stats bitswap\n  ferrite stats bitswap -v --human"
    )]
    Bitswap(stats::Bitswap),
}

/// `bitswap` subcommands.
#[derive(Subcommand)]
pub(crate) enum BitswapCommand {
    /// Bitswap counters, wantlist and partners.
    #[command(after_help = "Examples:\n  ferrite bitswap stat\n  ferrite bitswap stat -v --human")]
    Stat(stats::Bitswap),
    /// The blocks this node (or `--peer`) wants.
    Wantlist(stats::Wantlist),
}

/// Runs a `stats` subcommand.
pub(crate) fn run(t: &Target, c: Command) -> anyhow::Result<()> {
    match c {
        Command::Bw(c) => exec(t, c),
        Command::Bitswap(c) => super::exec_at(t, "stats/bitswap", c),
    }
}

/// Runs a `bitswap` subcommand.
pub(crate) fn run_bitswap(t: &Target, c: BitswapCommand) -> anyhow::Result<()> {
    match c {
        BitswapCommand::Stat(c) => exec(t, c),
        BitswapCommand::Wantlist(c) => exec(t, c),
    }
}
