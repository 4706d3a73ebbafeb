//! `ferrite block get|put` and `block stat|rm` (defined in
//! [`ferrite_http::rpc::block`]).

use super::{exec, parse_bool, parse_cid, Target};
use crate::remote::{Client, Multipart};
use clap::Subcommand;
use ferrite_http::rpc::block;
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
    Stat(block::Stat),
    /// Remove blocks (not pinned ones).
    Rm(block::Rm),
}

/// Runs a `block` subcommand.
pub(crate) fn run(t: &Target, c: Command) -> anyhow::Result<()> {
    match c {
        Command::Stat(c) => return exec(t, c),
        Command::Rm(c) => return exec(t, c),
        _ => {}
    }
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
        Command::Stat(_) | Command::Rm(_) => {}
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
                .items(|b: block::BlockStat| {
                    writeln!(out, "{}", b.key)?;
                    Ok(())
                })?;
        }
        Command::Stat(_) | Command::Rm(_) => {}
    }
    Ok(())
}

fn cannot_read(f: &Path, e: std::io::Error) -> anyhow::Error {
    anyhow::anyhow!("cannot read {}: {e}", f.display())
}
