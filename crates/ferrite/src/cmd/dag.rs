//! `ferrite dag …` (defined in [`ferrite_http::rpc::dag`]).

use super::{download_to, exec, Target};
use clap::Subcommand;
use ferrite_http::rpc::dag;

/// `dag` subcommands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Print a DAG node (or a value inside it).
    Get(dag::Get),
    /// Store a DAG node read from files or stdin.
    Put(dag::PutNode),
    /// Resolve a path to the block it ends in.
    Resolve(dag::Resolve),
    /// Count the blocks and bytes of DAGs.
    Stat(dag::Stat),
    /// Write a DAG as a CAR file to stdout.
    Export(dag::Export),
    /// Import blocks from CAR files (stdin when none).
    Import(dag::Import),
}

/// Runs a `dag` subcommand.
pub(crate) fn run(t: &Target, c: Command) -> anyhow::Result<()> {
    match c {
        Command::Get(c) => download_to(t, c, |_| super::stdout()),
        Command::Export(c) => download_to(t, c, |_| super::stdout()),
        Command::Put(c) => exec(t, c),
        Command::Import(c) => exec(t, c),
        Command::Resolve(c) => exec(t, c),
        Command::Stat(mut c) => {
            // The CLI prints the final summary; progress objects only on request.
            c.progress.get_or_insert(false);
            exec(t, c)
        }
    }
}
