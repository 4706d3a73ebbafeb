//! `ferrite`: the command line. One module per command group under `cmd/`;
//! each parses its arguments, calls the [`ferrite_node::Node`] API and
//! prints the result the way Kubo prints it. When a daemon holds the repo
//! (`--api`, or `$FERRITE_PATH/api`), commands go through its RPC API
//! instead ([`remote`]) and print the same output.

// The doc comments of clap's arguments are the CLI's help text, where
// `<peer ID>` is literal, not HTML.
#![allow(rustdoc::invalid_html_tags)]

mod cmd;
#[cfg(test)]
mod help_tests;
mod logging;
mod memory;
mod progress;
mod remote;
mod sd_notify;

use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Ferrite: an IPFS node for private networks with built-in replicated storage.
#[derive(Parser)]
#[command(name = "ferrite", version, about, max_term_width = 100)]
struct Cli {
    /// Path to the repo (default: $FERRITE_PATH, else ~/.ferrite).
    #[arg(
        long = "repo-dir",
        global = true,
        value_name = "PATH",
        help_heading = "Global options"
    )]
    repo_dir: Option<PathBuf>,
    /// Use the daemon's RPC API at this multiaddr (default: the one in
    /// `$FERRITE_PATH/api`, written by a running `ferrite daemon`).
    #[arg(
        long,
        global = true,
        value_name = "MULTIADDR",
        help_heading = "Global options"
    )]
    api: Option<String>,
    /// Run offline: `daemon --offline` starts no network; any other command
    /// run through the daemon sees only local blocks (without a daemon every
    /// command is offline anyway).
    #[arg(long, global = true, help_heading = "Global options")]
    offline: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Initialize a repo: identity, config, empty store.
    Init(cmd::init::Args),
    /// Run the node: libp2p peer (Addresses.Swarm), RPC API (Addresses.API)
    /// and gateway (Addresses.Gateway).
    Daemon(cmd::daemon::Args),
    /// Add files and folders to the repo.
    Add(ferrite_http::rpc::add::Add),
    /// Print the contents of a file.
    Cat(ferrite_http::rpc::files::Cat),
    /// Download a file or folder to the local file system.
    Get(ferrite_http::rpc::files::Get),
    /// List the links of a folder or file.
    Ls(ferrite_http::rpc::files::Ls),
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
    Refs(ferrite_http::rpc::refs::Refs),
    /// Convert and inspect CIDs.
    #[command(subcommand)]
    Cid(cmd::cid::Command),
    /// Get and set configuration values.
    Config(cmd::config::Args),
    /// Show version information.
    Version(ferrite_http::rpc::misc::Version),
    /// Show the node's identity.
    Id(ferrite_http::rpc::misc::Id),
    /// Stop the running daemon.
    #[command(after_help = "Examples:\n  ferrite shutdown")]
    Shutdown,
    /// Show or edit the list of bootstrap peers.
    Bootstrap(cmd::bootstrap::Args),
    /// Peers and connections of the running node; private-network keys.
    #[command(subcommand)]
    Swarm(cmd::swarm::Command),
    /// Find providers and peers, announce content (needs the daemon).
    #[command(subcommand)]
    Routing(cmd::routing::Command),
    /// The older name of `routing`.
    #[command(subcommand, hide = true)]
    Dht(cmd::routing::Command),
    /// Bandwidth and Bitswap statistics (needs the daemon).
    #[command(subcommand)]
    Stats(cmd::stats::Command),
    /// Bitswap: statistics and wantlist (needs the daemon).
    #[command(subcommand)]
    Bitswap(cmd::stats::BitswapCommand),
    /// The replicated pinset: set up a cluster peer, pin across peers,
    /// status (like ipfs-cluster-ctl; talks to the REST API on 9094).
    #[command(subcommand)]
    Cluster(cmd::cluster::Command),
    /// Start N peers with a fresh swarm key and cluster on loopback (try-out).
    Devnet(cmd::devnet::Args),
    /// The running daemon's log levels.
    #[command(subcommand)]
    Log(cmd::misc::LogCommand),
    /// Run ferrite as a systemd service.
    #[command(subcommand)]
    Service(cmd::service::Command),
}

/// Runs a command: locally, or through the daemon when one holds the repo.
/// `init`, `daemon`, `cid` and `version` always run here, as in Kubo.
fn run(
    repo: &std::path::Path,
    api: Option<&str>,
    offline: bool,
    command: Command,
) -> anyhow::Result<()> {
    let target = || -> anyhow::Result<cmd::Target> {
        Ok(match remote::detect(repo, api)? {
            Some(mut c) => {
                c.set_offline(offline);
                cmd::Target::Remote(c)
            }
            None => cmd::Target::Local(repo.to_path_buf()),
        })
    };
    // Commands that need no repo ignore where it is.
    let bare = cmd::Target::Local(repo.to_path_buf());
    match command {
        Command::Init(a) => cmd::init::run(repo, a),
        Command::Daemon(a) => cmd::daemon::run(repo, a, offline),
        Command::Service(c) => cmd::service::run(repo, c),
        Command::Log(c) => cmd::misc::run_log(&target()?, c),
        Command::Cid(c) => cmd::cid::run(&bare, c),
        Command::Version(a) => cmd::exec(&bare, a),
        Command::Add(a) => cmd::add::run(&target()?, a),
        Command::Cat(a) => cmd::files::cat(&target()?, a),
        Command::Get(a) => cmd::files::get(&target()?, a),
        Command::Ls(a) => cmd::exec(&target()?, a),
        Command::Pin(c) => cmd::pin::run(&target()?, c),
        Command::Repo(c) => cmd::repo::run(&target()?, c),
        Command::Block(c) => cmd::block::run(&target()?, c),
        Command::Dag(c) => cmd::dag::run(&target()?, c),
        Command::Refs(a) => cmd::refs::run(&target()?, a),
        Command::Config(a) => cmd::config::run(&target()?, a),
        Command::Id(a) => cmd::exec(&target()?, a),
        Command::Shutdown => cmd::misc::shutdown(&target()?),
        Command::Bootstrap(a) => cmd::bootstrap::run(&target()?, a),
        Command::Swarm(c) => cmd::swarm::run(repo, &target, c),
        Command::Routing(c) | Command::Dht(c) => cmd::routing::run(&target()?, c),
        Command::Stats(c) => cmd::stats::run(&target()?, c),
        Command::Bitswap(c) => cmd::stats::run_bitswap(&target()?, c),
        Command::Cluster(c) => cmd::cluster::run(repo, c),
        Command::Devnet(a) => cmd::devnet::run(a),
    }
}

/// The global options, and where each means something. They are accepted
/// after any command (`ferrite cat --offline …`), as Kubo's are, but a
/// command's `--help` shows only those that change what it does.
const GLOBAL_OPTIONS: [(&str, Meaningful); 3] = [
    ("repo_dir", |path| {
        !matches!(first_word(path), "cid" | "version" | "devnet")
    }),
    ("api", |path| {
        !matches!(
            first_word(path),
            "init" | "daemon" | "cid" | "version" | "devnet" | "cluster"
        ) && !path.starts_with("swarm key")
    }),
    ("offline", |path| {
        matches!(
            first_word(path),
            "daemon" | "cat" | "get" | "ls" | "pin" | "refs" | "block" | "dag"
        )
    }),
];

/// Whether a global option means something for the command at this path
/// (`"pin add"`).
type Meaningful = fn(&str) -> bool;

fn first_word(path: &str) -> &str {
    path.split(' ').next().unwrap_or("")
}

/// The CLI definition with the global options hidden where they mean
/// nothing (see [`GLOBAL_OPTIONS`]).
fn command() -> clap::Command {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let globals: Vec<clap::Arg> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    for sub in cmd.get_subcommands_mut() {
        place_globals(sub, "", &globals);
    }
    cmd
}

/// Gives `cmd` and its subcommands their own copy of each global option,
/// hidden where it means nothing. Clap propagates a global option only to
/// subcommands that lack one of that id, and its values still reach the
/// top level; hiding after clap's own propagation is not possible (the
/// built argument index would go stale).
fn place_globals(cmd: &mut clap::Command, parent: &str, globals: &[clap::Arg]) {
    let path = if parent.is_empty() {
        cmd.get_name().to_string()
    } else {
        format!("{parent} {}", cmd.get_name())
    };
    for a in globals {
        let id = a.get_id().as_str();
        let meaningful = GLOBAL_OPTIONS
            .iter()
            .find(|(g, _)| *g == id)
            .is_none_or(|(_, f)| f(&path));
        *cmd = std::mem::take(cmd).arg(a.clone().hide(!meaningful));
    }
    for sub in cmd.get_subcommands_mut() {
        place_globals(sub, &path, globals);
    }
}

/// The command path an argument list names (`ferrite pin add`): its
/// leading subcommand names, options skipped.
fn command_path(mut cmd: &clap::Command, args: &[String]) -> String {
    let mut path = vec![cmd.get_name().to_string()];
    for a in args {
        if a.starts_with('-') {
            continue;
        }
        match cmd.find_subcommand(a) {
            Some(sub) => {
                path.push(sub.get_name().to_string());
                cmd = sub;
            }
            None => break,
        }
    }
    path.join(" ")
}

/// A usage error as one line, Kubo style: what is wrong, and which
/// `--help` to read.
fn usage_error(e: &clap::Error, path: &str) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let text = e.render().to_string();
    let ctx = |k: ContextKind| match e.get(k) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => Some(v.join(" ")),
        _ => None,
    };
    let first_line = text
        .lines()
        .next()
        .unwrap_or("")
        .trim_start_matches("error: ")
        .trim_end_matches(':')
        .to_string();
    let what = match e.kind() {
        ErrorKind::InvalidSubcommand => {
            let sub = ctx(ContextKind::InvalidSubcommand).unwrap_or_default();
            match path.strip_prefix("ferrite ") {
                Some(parent) => format!("unknown command '{parent} {sub}'"),
                None => format!("unknown command '{sub}'"),
            }
        }
        ErrorKind::MissingRequiredArgument => match ctx(ContextKind::InvalidArg) {
            Some(args) => format!("missing argument {args}"),
            None => first_line,
        },
        // Suggestions for a mistyped option are worth keeping (not those
        // for commands: `ping` is not `pin`).
        ErrorKind::UnknownArgument => match ctx(ContextKind::SuggestedArg) {
            Some(s) => format!("{first_line} (did you mean '{s}'?)"),
            None => first_line,
        },
        _ => first_line,
    };
    format!("{what}; see '{path} --help'")
}

fn main() -> ExitCode {
    use clap::FromArgMatches;
    let cli_def = command();
    let parsed = cli_def
        .clone()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                e.exit();
            }
            let args: Vec<String> = std::env::args().skip(1).collect();
            eprintln!("Error: {}", usage_error(&e, &command_path(&cli_def, &args)));
            return ExitCode::from(2);
        }
    };
    let repo = cli.repo_dir.unwrap_or_else(ferrite_node::default_repo_path);
    let result = run(&repo, cli.api.as_deref(), cli.offline, cli.command);
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
