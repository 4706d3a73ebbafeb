//! `ferrite block …` (defined in [`ferrite_http::rpc::block`]).

use super::{download_to, exec, Target};
use clap::Subcommand;
use ferrite_http::rpc::block;

/// `block` subcommands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Write a block's raw bytes to stdout.
    Get(block::Get),
    /// Store files (or stdin) as blocks and print their CIDs.
    Put(block::Put),
    /// Print a block's size.
    Stat(block::Stat),
    /// Remove blocks (not pinned ones).
    Rm(block::Rm),
}

/// Runs a `block` subcommand.
pub(crate) fn run(t: &Target, c: Command) -> anyhow::Result<()> {
    match c {
        Command::Get(c) => download_to(t, c, |_| super::stdout()),
        Command::Put(c) => exec(t, c),
        Command::Stat(c) => exec(t, c),
        Command::Rm(c) => exec(t, c),
    }
}
