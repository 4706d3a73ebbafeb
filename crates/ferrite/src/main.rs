//! `ferrite`: the command line. One module per command group under `cmd/`;
//! each parses its arguments, calls the [`ferrite_node::Node`] API and
//! prints the result the way Kubo prints it.

mod cmd;
mod progress;

use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Ferrite: an IPFS node for private networks with built-in replicated storage.
#[derive(Parser)]
#[command(name = "ferrite", version, about, max_term_width = 100)]
struct Cli {
    /// Path to the repo (default: $FERRITE_PATH, else ~/.ferrite).
    #[arg(long = "repo-dir", global = true, value_name = "PATH")]
    repo_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Initialize a repo: identity, config, empty store.
    Init(cmd::init::Args),
    /// Run the node: RPC API (Addresses.API) and gateway (Addresses.Gateway).
    Daemon(cmd::daemon::Args),
    /// Add files and folders to the repo.
    Add(cmd::add::Args),
    /// Print the contents of a file.
    Cat(cmd::files::CatArgs),
    /// Download a file or folder to the local file system.
    Get(cmd::files::GetArgs),
    /// List the links of a folder or file.
    Ls(cmd::files::LsArgs),
    /// Pin and unpin content so GC keeps it.
    #[command(subcommand)]
    Pin(cmd::pin::Command),
    /// Repo maintenance: gc, stat, verify.
    #[command(subcommand)]
    Repo(cmd::repo::Command),
    /// Raw blocks.
    #[command(subcommand)]
    Block(cmd::block::Command),
    /// IPLD DAGs: get, put, stat, import, export (CAR).
    #[command(subcommand)]
    Dag(cmd::dag::Command),
    /// List the links (references) of a DAG.
    Refs(cmd::refs::Args),
    /// Convert and inspect CIDs.
    #[command(subcommand)]
    Cid(cmd::cid::Command),
    /// Get and set configuration values.
    Config(cmd::config::Args),
    /// Show version information.
    Version(cmd::version::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let repo = cli
        .repo_dir
        .unwrap_or_else(ferrite_store::repo::default_path);
    let result = match cli.command {
        Command::Init(a) => cmd::init::run(&repo, a),
        Command::Daemon(a) => cmd::daemon::run(&repo, a),
        Command::Add(a) => cmd::add::run(&repo, a),
        Command::Cat(a) => cmd::files::cat(&repo, a),
        Command::Get(a) => cmd::files::get(&repo, a),
        Command::Ls(a) => cmd::files::ls(&repo, a),
        Command::Pin(c) => cmd::pin::run(&repo, c),
        Command::Repo(c) => cmd::repo::run(&repo, c),
        Command::Block(c) => cmd::block::run(&repo, c),
        Command::Dag(c) => cmd::dag::run(&repo, c),
        Command::Refs(a) => cmd::refs::run(&repo, a),
        Command::Cid(c) => cmd::cid::run(c),
        Command::Config(a) => cmd::config::run(&repo, a),
        Command::Version(a) => cmd::version::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed stdout (`ferrite cat x | head`) is not an error worth a word.
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            let _ = std::io::stdout().flush();
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
