//! `ferrite repo gc|stat|verify`.

use clap::Subcommand;
use std::path::Path;

/// `repo` subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Remove every block that no pin reaches.
    Gc {
        /// Only print errors.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Show repo statistics.
    Stat {
        /// Only report RepoSize and StorageMax.
        #[arg(short = 's', long = "size-only")]
        size_only: bool,
        /// Print sizes in human-readable units.
        #[arg(short = 'H', long)]
        human: bool,
    },
    /// Re-hash every block and report the corrupt ones.
    Verify,
}

/// Runs a `repo` subcommand.
pub fn run(repo: &Path, c: Command) -> anyhow::Result<()> {
    let node = super::open(repo)?;
    match c {
        Command::Gc { quiet } => {
            let report = node.gc()?;
            if !quiet {
                let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                for mh in &report.removed {
                    use std::io::Write;
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
        Command::Verify => {
            let bar = crate::progress::counter("verifying blocks");
            let bad = node.repo_verify(&mut |n| bar.set_position(n))?;
            bar.finish_and_clear();
            if bad.is_empty() {
                println!("verified repo integrity");
            } else {
                for c in &bad {
                    println!("block {c} was corrupt");
                }
                anyhow::bail!("verify complete, some blocks were corrupt ({})", bad.len());
            }
        }
    }
    Ok(())
}
