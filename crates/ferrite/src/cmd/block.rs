//! `ferrite block get|put|stat|rm`.

use super::{parse_bool, parse_cid, Target};
use crate::remote::{self, Client, Multipart};
use clap::Subcommand;
use ferrite_node::BlockPutOptions;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// `block` subcommands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Write a block's raw bytes to stdout.
    #[command(
        after_help = "Examples:\n  ferrite block get bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
    )]
    Get {
        /// The block's CID.
        cid: String,
    },
    /// Store files (or stdin) as blocks and print their CIDs.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite block put hello.txt\n",
        "  ferrite block put --cid-codec dag-cbor --pin=true node.cbor",
    ))]
    Put {
        /// Files to store; stdin when none.
        files: Vec<PathBuf>,
        /// Multicodec of the CID: raw, dag-pb, dag-cbor, dag-json.
        #[arg(long = "cid-codec", default_value = "raw")]
        cid_codec: String,
        /// Hash function.
        #[arg(long = "mhtype", default_value = "sha2-256")]
        mhtype: String,
        /// Pin the new blocks.
        #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
              default_missing_value = "true", value_parser = parse_bool)]
        pin: bool,
    },
    /// Print a block's size.
    #[command(
        after_help = "Examples:\n  ferrite block stat QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
    )]
    Stat {
        /// The block's CID.
        cid: String,
    },
    /// Remove blocks (not pinned ones).
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite block rm bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e\n",
        "  ferrite block rm -f -q QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e",
    ))]
    Rm {
        /// Blocks to remove.
        #[arg(required = true)]
        cids: Vec<String>,
        /// Ignore blocks that do not exist.
        #[arg(short, long)]
        force: bool,
        /// Print nothing on success.
        #[arg(short, long)]
        quiet: bool,
    },
}

/// Runs a `block` subcommand.
pub(crate) fn run(t: &Target, c: Command) -> anyhow::Result<()> {
    match t {
        Target::Local(repo) => run_local(repo, c),
        Target::Remote(client) => run_remote(client, c),
    }
}

fn run_local(repo: &Path, c: Command) -> anyhow::Result<()> {
    let node = super::open(repo)?;
    let mut out = std::io::stdout().lock();
    match c {
        Command::Get { cid } => out.write_all(&node.block_get(&parse_cid(&cid)?)?)?,
        Command::Put {
            files,
            cid_codec,
            mhtype,
            pin,
        } => {
            let opts = BlockPutOptions {
                codec: ferrite_ipld::codec::codec_from_name(&cid_codec)?,
                hash: mhtype.parse()?,
                pin,
                allow_big_block: false,
            };
            let mut inputs: Vec<Vec<u8>> = Vec::new();
            if files.is_empty() {
                let mut buf = Vec::new();
                std::io::stdin().lock().read_to_end(&mut buf)?;
                inputs.push(buf);
            }
            for f in &files {
                inputs.push(std::fs::read(f).map_err(|e| cannot_read(f, e))?);
            }
            for data in inputs {
                writeln!(out, "{}", node.block_put(&data, &opts)?)?;
            }
        }
        Command::Stat { cid } => {
            let cid = parse_cid(&cid)?;
            let size = node.block_stat(&cid)?;
            print_stat(&mut out, &cid.to_string(), size)?;
        }
        Command::Rm { cids, force, quiet } => {
            let cids = cids
                .iter()
                .map(|c| parse_cid(c))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let mut failed = 0;
            for r in node.block_rm(&cids, force)? {
                failed += print_rm(&mut out, &r.cid.to_string(), r.error.as_deref(), quiet)?;
            }
            rm_done(failed)?;
        }
    }
    Ok(())
}

/// The same through the daemon, Kubo's JSON shapes.
fn run_remote(c: &Client, cmd: Command) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match cmd {
        Command::Get { cid } => {
            parse_cid(&cid)?;
            c.request("block/get").arg(&cid).copy_to(&mut out)?;
        }
        // one part per file (stdin when none); one {"Key","Size"} each
        Command::Put {
            files,
            cid_codec,
            mhtype,
            pin,
        } => {
            let body = Multipart::files_or_stdin(&files)?;
            c.request("block/put")
                .opt("cid-codec", &cid_codec)
                .opt("mhtype", &mhtype)
                .opt("pin", pin)
                .body(body)
                .stream(|v| {
                    writeln!(out, "{}", remote::str_field(&v, "Key"))?;
                    Ok(())
                })?;
        }
        Command::Stat { cid } => {
            parse_cid(&cid)?;
            let v = c.request("block/stat").arg(&cid).json()?;
            print_stat(
                &mut out,
                remote::str_field(&v, "Key"),
                remote::u64_field(&v, "Size"),
            )?;
        }
        // one {"Hash","Error"} per block
        Command::Rm { cids, force, quiet } => {
            for cid in &cids {
                parse_cid(cid)?;
            }
            let mut failed = 0;
            c.request("block/rm")
                .args(&cids)
                .flag("force", force)
                .flag("quiet", quiet)
                .stream(|v| {
                    let err = remote::str_field(&v, "Error");
                    failed += print_rm(
                        &mut out,
                        remote::str_field(&v, "Hash"),
                        (!err.is_empty()).then_some(err),
                        quiet,
                    )?;
                    Ok(())
                })?;
            rm_done(failed)?;
        }
    }
    Ok(())
}

fn cannot_read(f: &Path, e: std::io::Error) -> anyhow::Error {
    anyhow::anyhow!("cannot read {}: {e}", f.display())
}

fn print_stat(out: &mut impl Write, cid: &str, size: u64) -> std::io::Result<()> {
    writeln!(out, "Key: {cid}\nSize: {size}")
}

/// Prints one `block rm` result; returns 1 if it failed.
fn print_rm(
    out: &mut impl Write,
    cid: &str,
    error: Option<&str>,
    quiet: bool,
) -> std::io::Result<u32> {
    match error {
        None if !quiet => writeln!(out, "removed {cid}")?,
        None => {}
        Some(e) => {
            eprintln!("cannot remove {cid}: {e}");
            return Ok(1);
        }
    }
    Ok(0)
}

fn rm_done(failed: u32) -> anyhow::Result<()> {
    if failed > 0 {
        anyhow::bail!("some blocks not removed");
    }
    Ok(())
}
