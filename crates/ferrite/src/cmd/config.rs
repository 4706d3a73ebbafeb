//! `ferrite config KEY [VALUE]`, `config show|replace|profile apply`.

use clap::Subcommand;
use ferrite_store::config::{human_output, read_json_file, Config, ValueMode};
use std::path::{Path, PathBuf};

/// Arguments of `config`.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
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
    Show,
    /// Replace the configuration with a JSON file (`-` for stdin).
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
    Apply {
        /// The profile's name.
        name: String,
        /// Print the change without saving it.
        #[arg(long = "dry-run")]
        dry_run: bool,
    },
    /// List the profiles.
    Ls,
}

/// Runs `config`.
pub fn run(repo: &Path, a: Args) -> anyhow::Result<()> {
    let node = super::open(repo)?;
    let r = node.repo();
    let mut cfg = r.config();
    match a.sub {
        Some(Sub::Show) => println!("{}", serde_json::to_string_pretty(&cfg.show())?),
        Some(Sub::Replace { file }) => {
            let v = if file.as_os_str() == "-" {
                serde_json::from_reader(std::io::stdin().lock())
                    .map_err(|e| anyhow::anyhow!("stdin: {e}"))?
            } else {
                read_json_file(&file)?
            };
            cfg.replace(v)?;
            r.set_config(cfg)?;
        }
        Some(Sub::Profile(ProfileCmd::Ls)) => {
            for p in ferrite_store::config::profiles() {
                println!("{}:\n  {}\n", p.name(), p.description());
            }
        }
        Some(Sub::Profile(ProfileCmd::Apply { name, dry_run })) => {
            let change = cfg.apply_profile(&name)?;
            print_diff(
                &serde_json::to_string_pretty(&change.old)?,
                &serde_json::to_string_pretty(&change.new)?,
            );
            if !dry_run {
                r.set_config(cfg)?;
            }
        }
        None => {
            let key = a
                .key
                .ok_or_else(|| anyhow::anyhow!("argument \"key\" is required"))?;
            match a.value {
                None => println!("{}", human_output(cfg.get(&key)?)),
                Some(raw) => {
                    let mode = match (a.json, a.bool) {
                        (true, _) => ValueMode::Json,
                        (_, true) => ValueMode::Bool,
                        _ => ValueMode::String,
                    };
                    cfg.set(&key, Config::parse_cli_value(&raw, mode)?)?;
                    r.set_config(cfg)?;
                }
            }
        }
    }
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
