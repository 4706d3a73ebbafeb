//! `ferrite config KEY [VALUE]`, `config show|profile apply` (defined in
//! [`ferrite_http::rpc::config`]), `config replace` and `config profile ls`.

use super::{exec, Target};
use crate::remote::Multipart;
use clap::Subcommand;
use ferrite_config::read_json_file;
use ferrite_http::rpc::config;
use std::path::{Path, PathBuf};

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
    #[command(after_help = "Examples:\n  ferrite config replace new-config.json")]
    Replace {
        /// The new configuration.
        file: PathBuf,
    },
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
        Some(Sub::Replace { file }) => replace(t, &file),
    }
}

/// `config replace`: an upload, so not a [`ferrite_http::command::Command`].
fn replace(t: &Target, file: &Path) -> anyhow::Result<()> {
    let new = if file.as_os_str() == "-" {
        serde_json::from_reader(std::io::stdin().lock())
            .map_err(|e| anyhow::anyhow!("stdin: {e}"))?
    } else {
        read_json_file(file)?
    };
    match t {
        Target::Local(repo) => {
            let node = super::open(repo)?;
            node.update_config(|cfg| cfg.replace(new).map_err(ferrite_node::Error::from))?;
        }
        Target::Remote(c) => {
            let mut body = Multipart::new();
            body.reader("", std::io::Cursor::new(serde_json::to_vec(&new)?));
            c.request("config/replace").body(body).send()?;
        }
    }
    Ok(())
}
