//! `ferrite dag …` (defined in [`ferrite_http::rpc::dag`]).

use super::{download, exec, Target};
use clap::Subcommand;
use ferrite_http::rpc::dag;
use std::io::Write;

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
        Command::Get(c) => download(t, c, |_, r| to_stdout(r)),
        Command::Export(c) => download(t, c, |_, r| to_stdout(r)),
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

/// Copies an answer to stdout.
pub(crate) fn to_stdout(r: &mut dyn std::io::Read) -> anyhow::Result<()> {
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    std::io::copy(r, &mut w)?;
    w.flush()?;
    Ok(())
}
