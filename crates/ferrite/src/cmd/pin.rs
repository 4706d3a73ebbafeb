//! `ferrite pin add|rm|ls|verify|update` (defined in [`ferrite_http::rpc::pin`]).

use super::{exec, Target};
use clap::Subcommand;
use ferrite_http::rpc::pin;

/// `pin` subcommands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Pin objects (and by default everything below them).
    Add(pin::Add),
    /// Remove pins.
    Rm(pin::Rm),
    /// List pins.
    Ls(pin::Ls),
    /// Check that every recursive pin's DAG is complete and intact.
    Verify(pin::Verify),
    /// Replace a recursive pin with another, efficiently.
    Update(pin::Update),
}

/// Runs a `pin` subcommand.
pub(crate) fn run(t: &Target, c: Command) -> anyhow::Result<()> {
    match c {
        Command::Add(c) => exec(t, c),
        Command::Rm(c) => exec(t, c),
        Command::Ls(c) => exec(t, c),
        Command::Verify(c) => exec(t, c),
        Command::Update(c) => exec(t, c),
    }
}
