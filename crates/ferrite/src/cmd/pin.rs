//! `ferrite pin add|rm|ls|verify|update`.

use super::{parse_bool, Target};
use crate::remote::{self, Client};
use clap::Subcommand;
use serde_json::Value;
use std::io::Write;
use std::path::Path;

/// `pin` subcommands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Pin objects (and by default everything below them).
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite pin add QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\n",
        "  ferrite pin add --recursive=false --name hello bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e",
    ))]
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
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite pin rm QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\n",
        "  ferrite pin rm --recursive=false bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e",
    ))]
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
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite pin ls --type recursive\n",
        "  ferrite pin ls -q -t direct\n",
        "  ferrite pin ls -n QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",
    ))]
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
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite pin verify\n",
        "  ferrite pin verify -q",
    ))]
    Verify {
        /// Also print pins that are fine.
        #[arg(long)]
        verbose: bool,
        /// Only print the CIDs of broken pins.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Replace a recursive pin with another, efficiently.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite pin update QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi\n",
        "  ferrite pin update --unpin=false QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
    ))]
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
pub(crate) fn run(t: &Target, c: Command) -> anyhow::Result<()> {
    match t {
        Target::Local(repo) => run_local(repo, c),
        Target::Remote(client) => run_remote(client, c),
    }
}

fn run_local(repo: &Path, c: Command) -> anyhow::Result<()> {
    let node = super::open(repo)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match c {
        Command::Add {
            paths,
            recursive,
            name,
            progress: _,
        } => {
            let pins = node.pin_add(&paths, recursive, &name)?;
            print_pinned(&mut out, pins.iter().map(|c| c.to_string()), recursive)?;
        }
        Command::Rm { paths, recursive } => {
            let pins = node.pin_rm(&paths, recursive)?;
            print_unpinned(&mut out, pins.iter().map(|c| c.to_string()))?;
        }
        Command::Ls {
            paths,
            ty,
            quiet,
            names,
        } => {
            for e in node.pin_ls(&paths, ty.parse()?)? {
                print_pin_ls(&mut out, &e.cid.to_string(), &e.kind, &e.name, quiet, names)?;
            }
        }
        Command::Verify { verbose, quiet } => {
            let mut broken = 0;
            for v in node.pin_verify()? {
                let bad: Vec<(String, String)> = v
                    .bad_nodes
                    .iter()
                    .map(|(c, why)| (c.to_string(), why.clone()))
                    .collect();
                broken += print_verify(&mut out, &v.cid.to_string(), &bad, verbose, quiet)?;
            }
            verify_done(out, broken)?;
        }
        Command::Update { from, to, unpin } => {
            let (f, t) = node.pin_update(&from, &to, unpin)?;
            writeln!(out, "updated {f} to {t}")?;
        }
    }
    Ok(())
}

/// The same commands through the daemon, Kubo's JSON shapes.
fn run_remote(c: &Client, cmd: Command) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let pins = |v: &Value| -> Vec<String> {
        v["Pins"]
            .as_array()
            .into_iter()
            .flatten()
            .map(remote::cid_str)
            .collect()
    };
    match cmd {
        // {"Pins":[…]} (with progress, {"Progress":n} objects before it)
        Command::Add {
            paths,
            recursive,
            name,
            progress: _,
        } => {
            let mut pinned = Vec::new();
            c.request("pin/add")
                .args(&paths)
                .opt("recursive", recursive)
                .opt_some("name", (!name.is_empty()).then_some(&name))
                .stream(|v| {
                    pinned.extend(pins(&v));
                    Ok(())
                })?;
            print_pinned(&mut out, pinned.into_iter(), recursive)?;
        }
        Command::Rm { paths, recursive } => {
            let v = c
                .request("pin/rm")
                .args(&paths)
                .opt("recursive", recursive)
                .json()?;
            print_unpinned(&mut out, pins(&v).into_iter())?;
        }
        // streamed: one {"Cid","Type","Name"} per pin, in the daemon's order
        Command::Ls {
            paths,
            ty,
            quiet,
            names,
        } => {
            c.request("pin/ls")
                .args(&paths)
                .opt("type", &ty)
                .opt("stream", true)
                .flag("names", names)
                .stream(|v| {
                    print_pin_ls(
                        &mut out,
                        &remote::cid_str(&v["Cid"]),
                        remote::str_field(&v, "Type"),
                        remote::str_field(&v, "Name"),
                        quiet,
                        names,
                    )?;
                    Ok(())
                })?;
        }
        // {"Cid","Ok","BadNodes":[{"Cid","Err"}]} per recursive pin
        Command::Verify { verbose, quiet } => {
            let mut broken = 0;
            c.request("pin/verify")
                .flag("verbose", verbose)
                .flag("quiet", quiet)
                .stream(|v| {
                    let bad: Vec<(String, String)> = v["BadNodes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|b| {
                            (
                                remote::cid_str(&b["Cid"]),
                                remote::str_field(b, "Err").to_string(),
                            )
                        })
                        .collect();
                    broken +=
                        print_verify(&mut out, &remote::cid_str(&v["Cid"]), &bad, verbose, quiet)?;
                    Ok(())
                })?;
            verify_done(out, broken)?;
        }
        // {"Pins":[from, to]}
        Command::Update { from, to, unpin } => {
            let v = c
                .request("pin/update")
                .arg(&from)
                .arg(&to)
                .opt("unpin", unpin)
                .json()?;
            let p = pins(&v);
            if p.len() != 2 {
                anyhow::bail!("unexpected answer from the daemon: {v}");
            }
            writeln!(out, "updated {} to {}", p[0], p[1])?;
        }
    }
    Ok(())
}

fn print_pinned(
    out: &mut impl Write,
    pins: impl Iterator<Item = String>,
    recursive: bool,
) -> std::io::Result<()> {
    let how = if recursive { "recursively" } else { "directly" };
    for cid in pins {
        writeln!(out, "pinned {cid} {how}")?;
    }
    Ok(())
}

fn print_unpinned(out: &mut impl Write, pins: impl Iterator<Item = String>) -> std::io::Result<()> {
    for cid in pins {
        writeln!(out, "unpinned {cid}")?;
    }
    Ok(())
}

fn print_pin_ls(
    out: &mut impl Write,
    cid: &str,
    kind: &str,
    name: &str,
    quiet: bool,
    names: bool,
) -> std::io::Result<()> {
    if quiet {
        writeln!(out, "{cid}")
    } else if names && !name.is_empty() {
        writeln!(out, "{cid} {kind} {name}")
    } else {
        writeln!(out, "{cid} {kind}")
    }
}

/// Prints one verified pin; returns 1 if it is broken.
fn print_verify(
    out: &mut impl Write,
    cid: &str,
    bad: &[(String, String)],
    verbose: bool,
    quiet: bool,
) -> std::io::Result<u32> {
    if bad.is_empty() {
        if verbose && !quiet {
            writeln!(out, "{cid} ok")?;
        }
        return Ok(0);
    }
    if quiet {
        writeln!(out, "{cid}")?;
    } else {
        writeln!(out, "{cid} broken")?;
        for (c, why) in bad {
            writeln!(out, "  {c}: {why}")?;
        }
    }
    Ok(1)
}

fn verify_done(mut out: impl Write, broken: u32) -> anyhow::Result<()> {
    out.flush()?;
    if broken > 0 {
        anyhow::bail!("{broken} pin(s) failed verification");
    }
    Ok(())
}
