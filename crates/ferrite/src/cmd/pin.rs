//! `ferrite pin add|rm|ls|verify|update`.

use super::parse_bool;
use clap::Subcommand;
use std::io::Write;
use std::path::Path;

/// `pin` subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Pin objects (and by default everything below them).
    Add {
        /// Paths (/ipfs/CID/… or CIDs) to pin.
        #[arg(required = true)]
        paths: Vec<String>,
        /// Pin recursively (`--recursive=false` for a direct pin).
        #[arg(short, long, default_value = "true", num_args = 0..=1, require_equals = true,
              default_missing_value = "true", value_parser = parse_bool)]
        recursive: bool,
        /// A name for the pin.
        #[arg(long, default_value = "")]
        name: String,
        /// Show progress (accepted for compatibility; pins are local here).
        #[arg(long)]
        progress: bool,
    },
    /// Remove pins.
    Rm {
        /// Paths to unpin.
        #[arg(required = true)]
        paths: Vec<String>,
        /// Unpin recursive pins (`--recursive=false` only removes direct pins).
        #[arg(short, long, default_value = "true", num_args = 0..=1, require_equals = true,
              default_missing_value = "true", value_parser = parse_bool)]
        recursive: bool,
    },
    /// List pins.
    Ls {
        /// Only these paths.
        paths: Vec<String>,
        /// direct, indirect, recursive or all.
        #[arg(short = 't', long = "type", default_value = "all")]
        ty: String,
        /// Only print CIDs.
        #[arg(short, long)]
        quiet: bool,
        /// Print pin names too.
        #[arg(short = 'n', long)]
        names: bool,
    },
    /// Check that every recursive pin's DAG is complete and intact.
    Verify {
        /// Also print pins that are fine.
        #[arg(long)]
        verbose: bool,
        /// Only print the CIDs of broken pins.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Replace a recursive pin with another, efficiently.
    Update {
        /// The pinned path.
        from: String,
        /// The path to pin instead.
        to: String,
        /// Remove the old pin.
        #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true,
              default_missing_value = "true", value_parser = parse_bool)]
        unpin: bool,
    },
}

/// Runs a `pin` subcommand.
pub fn run(repo: &Path, c: Command) -> anyhow::Result<()> {
    let node = super::open(repo)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match c {
        Command::Add {
            paths,
            recursive,
            name,
            progress: _,
        } => {
            for cid in node.pin_add(&paths, recursive, &name)? {
                let how = if recursive { "recursively" } else { "directly" };
                writeln!(out, "pinned {cid} {how}")?;
            }
        }
        Command::Rm { paths, recursive } => {
            for cid in node.pin_rm(&paths, recursive)? {
                writeln!(out, "unpinned {cid}")?;
            }
        }
        Command::Ls {
            paths,
            ty,
            quiet,
            names,
        } => {
            for e in node.pin_ls(&paths, ty.parse()?)? {
                if quiet {
                    writeln!(out, "{}", e.cid)?;
                } else if names && !e.name.is_empty() {
                    writeln!(out, "{} {} {}", e.cid, e.kind, e.name)?;
                } else {
                    writeln!(out, "{} {}", e.cid, e.kind)?;
                }
            }
        }
        Command::Verify { verbose, quiet } => {
            let mut broken = 0;
            for v in node.pin_verify()? {
                if v.bad_nodes.is_empty() {
                    if verbose && !quiet {
                        writeln!(out, "{} ok", v.cid)?;
                    }
                    continue;
                }
                broken += 1;
                if quiet {
                    writeln!(out, "{}", v.cid)?;
                } else {
                    writeln!(out, "{} broken", v.cid)?;
                    for (c, why) in &v.bad_nodes {
                        writeln!(out, "  {c}: {why}")?;
                    }
                }
            }
            out.flush()?;
            if broken > 0 {
                anyhow::bail!("{broken} pin(s) failed verification");
            }
        }
        Command::Update { from, to, unpin } => {
            let (f, t) = node.pin_update(&from, &to, unpin)?;
            writeln!(out, "updated {f} to {t}")?;
        }
    }
    Ok(())
}
