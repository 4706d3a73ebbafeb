//! `ferrite repo gc|stat|verify|version` (defined in [`ferrite_http::rpc::repo`]).

use super::{exec, Target};
use clap::Subcommand;
use ferrite_http::rpc::repo;

/// `repo` subcommands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Remove every block that no pin reaches.
    Gc(repo::Gc),
    /// Show repo statistics.
    Stat(repo::Stat),
    /// Re-hash every block and report the corrupt ones.
    Verify(repo::Verify),
    /// Show the repo's version.
    Version(repo::Version),
}

/// Runs a `repo` subcommand.
pub(crate) fn run(t: &Target, c: Command) -> anyhow::Result<()> {
    match c {
        Command::Gc(c) => exec(t, c),
        Command::Stat(c) => exec(t, c),
        Command::Verify(c) => exec(t, c),
        Command::Version(c) => exec(t, c),
    }
}
