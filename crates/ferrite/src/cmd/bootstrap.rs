//! `ferrite bootstrap [list] | add [MA…] [--default] | add default |
//! rm [MA…] [--all] | rm all` (defined in [`ferrite_http::rpc::bootstrap`]).

use super::{exec, Target};
use clap::Subcommand;
use ferrite_http::rpc::bootstrap;

/// Arguments of `bootstrap` (without a subcommand: `list`).
#[derive(clap::Args)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite bootstrap\n",
    "  ferrite bootstrap add /ip4/10.0.0.1/tcp/4001/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp",
))]
pub(crate) struct Args {
    #[command(subcommand)]
    sub: Option<Sub>,
}

#[derive(Subcommand)]
enum Sub {
    /// Show the peers in the bootstrap list.
    List(bootstrap::List),
    /// Add peers (multiaddrs ending in /p2p/<peer ID>) to the bootstrap list.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite bootstrap add /ip4/10.0.0.1/tcp/4001/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp\n",
        "  ferrite bootstrap add --default",
    ))]
    Add(AddArgs),
    /// Remove peers from the bootstrap list.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite bootstrap rm /ip4/10.0.0.1/tcp/4001/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp\n",
        "  ferrite bootstrap rm /p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp\n",
        "  ferrite bootstrap rm --all",
    ))]
    Rm(RmArgs),
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct AddArgs {
    #[command(subcommand)]
    sub: Option<AddSub>,
    #[command(flatten)]
    add: bootstrap::Add,
}

#[derive(Subcommand)]
enum AddSub {
    /// Add Kubo's default (public IPFS network) bootstrap peers.
    Default(bootstrap::AddDefault),
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct RmArgs {
    #[command(subcommand)]
    sub: Option<RmSub>,
    #[command(flatten)]
    rm: bootstrap::Rm,
}

#[derive(Subcommand)]
enum RmSub {
    /// Remove every bootstrap peer.
    All(bootstrap::RmAll),
}

/// Runs `bootstrap`; prints one multiaddr per line.
pub(crate) fn run(t: &Target, a: Args) -> anyhow::Result<()> {
    match a.sub {
        None => exec(t, bootstrap::List {}),
        Some(Sub::List(c)) => exec(t, c),
        Some(Sub::Add(AddArgs {
            sub: Some(AddSub::Default(c)),
            ..
        })) => exec(t, c),
        Some(Sub::Add(a)) => exec(t, a.add),
        Some(Sub::Rm(RmArgs {
            sub: Some(RmSub::All(c)),
            ..
        })) => exec(t, c),
        Some(Sub::Rm(a)) => exec(t, a.rm),
    }
}
