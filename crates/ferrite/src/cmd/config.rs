//! `ferrite config KEY [VALUE]`, `config show|replace|profile apply`.

use super::Target;
use crate::remote::{Client, Multipart};
use clap::Subcommand;
use ferrite_node::config::{human_output, read_json_file, Config, ValueMode};
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
    /// The key, e.g. `Addresses.API`.
    key: Option<String>,
    /// The value to set.
    value: Option<String>,
    /// Parse VALUE as JSON.
    #[arg(long)]
    json: bool,
    /// Parse VALUE as a boolean.
    #[arg(long)]
    bool: bool,
}

#[derive(Subcommand)]
enum Sub {
    /// Print the whole configuration (without the private key).
    #[command(after_help = "Examples:\n  ferrite config show")]
    Show,
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
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite config profile apply server\n",
        "  ferrite config profile apply --dry-run lowpower",
    ))]
    Apply {
        /// The profile's name.
        name: String,
        /// Print the change without saving it.
        #[arg(long = "dry-run")]
        dry_run: bool,
    },
    /// List the profiles.
    #[command(after_help = "Examples:\n  ferrite config profile ls")]
    Ls,
}

/// Runs `config`.
pub(crate) fn run(t: &Target, a: Args) -> anyhow::Result<()> {
    if let Some(Sub::Profile(ProfileCmd::Ls)) = a.sub {
        // The profile list is built in: no repo or daemon needed.
        print_profiles();
        return Ok(());
    }
    match t {
        Target::Local(repo) => run_local(repo, a),
        Target::Remote(c) => run_remote(c, a),
    }
}

fn run_local(repo: &Path, a: Args) -> anyhow::Result<()> {
    let node = super::open(repo)?;
    let mut cfg = node.config();
    let mode = value_mode(&a);
    match a.sub {
        Some(Sub::Show) => print_json(&cfg.show())?,
        Some(Sub::Replace { file }) => {
            cfg.replace(read_replacement(&file)?)?;
            super::save_config(&node, cfg)?;
        }
        Some(Sub::Profile(ProfileCmd::Ls)) => print_profiles(),
        Some(Sub::Profile(ProfileCmd::Apply { name, dry_run })) => {
            let change = cfg.apply_profile(&name)?;
            print_diff(
                &serde_json::to_string_pretty(&change.old)?,
                &serde_json::to_string_pretty(&change.new)?,
            );
            if !dry_run {
                super::save_config(&node, cfg)?;
            }
        }
        None => {
            let key = a
                .key
                .ok_or_else(|| anyhow::anyhow!("argument \"key\" is required"))?;
            match a.value {
                None => println!("{}", human_output(cfg.get(&key)?)),
                Some(raw) => {
                    cfg.set(&key, Config::parse_cli_value(&raw, mode)?)?;
                    super::save_config(&node, cfg)?;
                }
            }
        }
    }
    Ok(())
}

/// The same through the daemon, Kubo's JSON shapes.
fn run_remote(c: &Client, a: Args) -> anyhow::Result<()> {
    let mode = value_mode(&a);
    match a.sub {
        // the configuration object itself
        Some(Sub::Show) => print_json(&c.request("config/show").json()?)?,
        // a one-part upload of the new configuration
        Some(Sub::Replace { file }) => {
            let v = read_replacement(&file)?;
            let mut body = Multipart::new();
            body.reader("", std::io::Cursor::new(serde_json::to_vec(&v)?));
            c.request("config/replace").body(body).send()?;
        }
        Some(Sub::Profile(ProfileCmd::Ls)) => print_profiles(),
        // {"OldCfg":…,"NewCfg":…}
        Some(Sub::Profile(ProfileCmd::Apply { name, dry_run })) => {
            let v = c
                .request("config/profile/apply")
                .arg(&name)
                .flag("dry-run", dry_run)
                .json()?;
            print_diff(
                &serde_json::to_string_pretty(&v["OldCfg"])?,
                &serde_json::to_string_pretty(&v["NewCfg"])?,
            );
        }
        // {"Key","Value"}
        None => {
            let key = a
                .key
                .as_deref()
                .ok_or_else(|| anyhow::anyhow!("argument \"key\" is required"))?;
            match &a.value {
                None => {
                    let v = c.request("config").arg(key).json()?;
                    println!("{}", human_output(&v["Value"]));
                }
                Some(raw) => {
                    // Parsed here too, so a bad value fails as it does locally.
                    Config::parse_cli_value(raw, mode)?;
                    c.request("config")
                        .arg(key)
                        .arg(raw)
                        .flag("json", a.json)
                        .flag("bool", a.bool)
                        .send()?;
                }
            }
        }
    }
    Ok(())
}

fn print_profiles() {
    for p in ferrite_node::config::profiles() {
        println!("{}:\n  {}\n", p.name(), p.description());
    }
}

fn value_mode(a: &Args) -> ValueMode {
    match (a.json, a.bool) {
        (true, _) => ValueMode::Json,
        (_, true) => ValueMode::Bool,
        _ => ValueMode::String,
    }
}

fn read_replacement(file: &Path) -> anyhow::Result<serde_json::Value> {
    if file.as_os_str() == "-" {
        serde_json::from_reader(std::io::stdin().lock()).map_err(|e| anyhow::anyhow!("stdin: {e}"))
    } else {
        Ok(read_json_file(file)?)
    }
}

fn print_json(v: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// A minimal unified-style diff of two JSON renderings, like Kubo prints
/// for `config profile apply`.
fn print_diff(old: &str, new: &str) {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // longest common subsequence table; configs are a few hundred lines
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    println!("--- old\n+++ new");
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            println!("+{}", b[j]);
            j += 1;
        } else {
            println!("-{}", a[i]);
            i += 1;
        }
    }
}
