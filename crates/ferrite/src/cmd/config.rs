//! `ferrite config KEY [VALUE]`, `config show|profile apply` (defined in
//! [`ferrite_http::rpc::config`]), `config replace` and `config profile ls`.

use super::{exec, Target};
use clap::Subcommand;
use ferrite_http::rpc::config;

/// Arguments of `config`.
#[derive(clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = concat!(
        "Examples:\n",
        "  ferrite config Addresses.API\n",
        "  ferrite config Datastore.StorageMax 50GB\n",
        "  ferrite config --json Swarm.ConnMgr.HighWater 400",
    )
)]
pub(crate) struct Args {
    #[command(subcommand)]
    sub: Option<Sub>,
    #[command(flatten)]
    get: config::Get,
}

#[derive(Subcommand)]
enum Sub {
    /// Print the whole configuration (without the private key).
    Show(config::Show),
    /// Replace the configuration with a JSON file (`-` for stdin).
    Replace(config::Replace),
    /// Apply configuration profiles.
    #[command(subcommand)]
    Profile(ProfileCmd),
}

#[derive(Subcommand)]
enum ProfileCmd {
    /// Apply a profile and print what changed.
    Apply(config::ProfileApply),
    /// List the profiles.
    #[command(after_help = "Examples:\n  ferrite config profile ls")]
    Ls,
}

/// Runs `config`.
pub(crate) fn run(t: &Target, a: Args) -> anyhow::Result<()> {
    match a.sub {
        None => exec(t, a.get),
        Some(Sub::Show(c)) => exec(t, c),
        Some(Sub::Profile(ProfileCmd::Apply(c))) => exec(t, c),
        // The profile list is built in: no repo or daemon needed.
        Some(Sub::Profile(ProfileCmd::Ls)) => {
            for p in ferrite_config::profiles() {
                println!("{}:\n  {}\n", p.name(), p.description());
            }
            Ok(())
        }
        Some(Sub::Replace(c)) => exec(t, c),
    }
}
