//! `ferrite block get|put|stat|rm`.

use super::{parse_bool, parse_cid};
use clap::Subcommand;
use ferrite_node::BlockPutOptions;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// `block` subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Write a block's raw bytes to stdout.
    Get {
        /// The block's CID.
        cid: String,
    },
    /// Store files (or stdin) as blocks and print their CIDs.
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
    Stat {
        /// The block's CID.
        cid: String,
    },
    /// Remove blocks (not pinned ones).
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
pub fn run(repo: &Path, c: Command) -> anyhow::Result<()> {
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
            };
            let mut inputs: Vec<Vec<u8>> = Vec::new();
            if files.is_empty() {
                let mut buf = Vec::new();
                std::io::stdin().lock().read_to_end(&mut buf)?;
                inputs.push(buf);
            }
            for f in &files {
                inputs.push(
                    std::fs::read(f)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", f.display()))?,
                );
            }
            for data in inputs {
                writeln!(out, "{}", node.block_put(&data, &opts)?)?;
            }
        }
        Command::Stat { cid } => {
            let cid = parse_cid(&cid)?;
            let size = node.block_stat(&cid)?;
            writeln!(out, "Key: {cid}\nSize: {size}")?;
        }
        Command::Rm { cids, force, quiet } => {
            let cids = cids
                .iter()
                .map(|c| parse_cid(c))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let mut failed = 0;
            for r in node.block_rm(&cids, force)? {
                match r.error {
                    None if !quiet => writeln!(out, "removed {}", r.cid)?,
                    None => {}
                    Some(e) => {
                        failed += 1;
                        eprintln!("cannot remove {}: {e}", r.cid);
                    }
                }
            }
            if failed > 0 {
                anyhow::bail!("some blocks not removed");
            }
        }
    }
    Ok(())
}
