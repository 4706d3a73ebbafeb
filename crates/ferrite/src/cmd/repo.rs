//! `ferrite repo gc|stat|verify`.

use super::Target;
use crate::remote::{self, Client};
use clap::Subcommand;
use ferrite_node::RepoStat;
use std::io::Write;
use std::path::Path;

/// `repo` subcommands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Remove every block that no pin reaches.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite repo gc\n",
        "  ferrite repo gc -q",
    ))]
    Gc {
        /// Only print errors.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Show repo statistics.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite repo stat -H\n",
        "  ferrite repo stat -s",
    ))]
    Stat {
        /// Only report RepoSize and StorageMax.
        #[arg(short = 's', long = "size-only")]
        size_only: bool,
        /// Print sizes in human-readable units.
        #[arg(short = 'H', long)]
        human: bool,
    },
    /// Re-hash every block and report the corrupt ones.
    #[command(after_help = "Examples:\n  ferrite repo verify")]
    Verify,
}

/// Runs a `repo` subcommand.
pub(crate) fn run(t: &Target, c: Command) -> anyhow::Result<()> {
    match t {
        Target::Local(repo) => run_local(repo, c),
        Target::Remote(client) => run_remote(client, c),
    }
}

fn run_local(repo: &Path, c: Command) -> anyhow::Result<()> {
    let node = super::open(repo)?;
    match c {
        Command::Gc { quiet } => {
            let report = node.gc()?;
            if !quiet {
                let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                for mh in &report.removed {
                    writeln!(
                        out,
                        "removed {}",
                        ferrite_node::Cid::new_v1(ferrite_ipld::codecs::RAW, *mh)
                    )?;
                }
            }
        }
        Command::Stat { size_only, human } => {
            let s = node.repo_stat()?;
            print_stat(&s, size_only, human);
        }
        Command::Verify => {
            let bar = crate::progress::counter("verifying blocks");
            let bad = node.repo_verify(&mut |n| bar.set_position(n))?;
            bar.finish_and_clear();
            for c in &bad {
                println!("block {c} was corrupt");
            }
            verify_done(bad.len())?;
        }
    }
    Ok(())
}

/// The same through the daemon, Kubo's JSON shapes.
fn run_remote(c: &Client, cmd: Command) -> anyhow::Result<()> {
    match cmd {
        // one {"Key":{"/":cid}} (or {"Error":…}) per removed block
        Command::Gc { quiet } => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            c.request("repo/gc").flag("quiet", quiet).stream(|v| {
                let err = remote::str_field(&v, "Error");
                if !err.is_empty() {
                    anyhow::bail!("{err}");
                }
                if !quiet {
                    writeln!(out, "removed {}", remote::cid_str(&v["Key"]))?;
                }
                Ok(())
            })?;
        }
        // {"NumObjects","RepoSize","StorageMax","RepoPath","Version"}
        Command::Stat { size_only, human } => {
            let v = c.request("repo/stat").flag("size-only", size_only).json()?;
            let s = RepoStat {
                num_objects: remote::u64_field(&v, "NumObjects"),
                repo_size: remote::u64_field(&v, "RepoSize"),
                storage_max: remote::u64_field(&v, "StorageMax"),
                repo_path: remote::str_field(&v, "RepoPath").to_string(),
                version: remote::str_field(&v, "Version").to_string(),
            };
            print_stat(&s, size_only, human);
        }
        // {"Progress":n} per block, {"Msg":"block <cid> was corrupt (…)"}
        // per bad one; a failed run ends with an error.
        Command::Verify => {
            let bar = crate::progress::counter("verifying blocks");
            let mut bad = 0;
            let r = c.request("repo/verify").stream(|v| {
                if let Some(n) = v.get("Progress").and_then(serde_json::Value::as_u64) {
                    bar.set_position(n);
                }
                let msg = remote::str_field(&v, "Msg");
                if let Some(rest) = msg.strip_prefix("block ") {
                    if let Some((cid, _)) = rest.split_once(" was corrupt") {
                        bar.suspend(|| println!("block {cid} was corrupt"));
                        bad += 1;
                    }
                }
                Ok(())
            });
            bar.finish_and_clear();
            if bad == 0 {
                r?;
            }
            verify_done(bad)?;
        }
    }
    Ok(())
}

fn print_stat(s: &RepoStat, size_only: bool, human: bool) {
    let fmt = |n: u64| {
        if human {
            crate::progress::human_bytes(n)
        } else {
            n.to_string()
        }
    };
    if !size_only {
        println!("NumObjects: {}", s.num_objects);
    }
    println!("RepoSize:   {}", fmt(s.repo_size));
    println!("StorageMax: {}", fmt(s.storage_max));
    if !size_only {
        println!("RepoPath:   {}", s.repo_path);
        println!("Version:    {}", s.version);
    }
}

fn verify_done(bad: usize) -> anyhow::Result<()> {
    if bad == 0 {
        println!("verified repo integrity");
        Ok(())
    } else {
        anyhow::bail!("verify complete, some blocks were corrupt ({bad})")
    }
}
