//! `ferrite dag get|put|resolve|stat|import|export`.

use super::{parse_bool, parse_cid};
use clap::Subcommand;
use ferrite_ipld::dag::PutOptions;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// `dag` subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Print a DAG node (or a value inside it).
    Get {
        /// The node's path, e.g. CID/a/b.
        path: String,
        /// Codec to print with.
        #[arg(long = "output-codec", default_value = "dag-json")]
        output_codec: String,
    },
    /// Store a DAG node read from files or stdin.
    Put {
        /// Files holding the node; stdin when none.
        files: Vec<PathBuf>,
        /// Codec of the stored node.
        #[arg(long = "store-codec", default_value = "dag-cbor")]
        store_codec: String,
        /// Codec of the input.
        #[arg(long = "input-codec", default_value = "dag-json")]
        input_codec: String,
        /// Hash function.
        #[arg(long, default_value = "sha2-256")]
        hash: String,
        /// Pin the node.
        #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
              default_missing_value = "true", value_parser = parse_bool)]
        pin: bool,
        /// Allow blocks over 2 MiB.
        #[arg(long = "allow-big-block")]
        allow_big_block: bool,
    },
    /// Resolve a path to the block it ends in.
    Resolve {
        /// The path.
        path: String,
    },
    /// Count the blocks and bytes of DAGs.
    Stat {
        /// Roots.
        #[arg(required = true)]
        paths: Vec<String>,
        /// Accepted for compatibility.
        #[arg(long, num_args = 0..=1, require_equals = true,
              default_missing_value = "true", value_parser = parse_bool)]
        progress: Option<bool>,
    },
    /// Write a DAG as a CAR file to stdout.
    Export {
        /// The root.
        root: String,
    },
    /// Import blocks from CAR files (stdin when none).
    Import {
        /// CAR files.
        files: Vec<PathBuf>,
        /// Pin the roots listed in the CAR headers.
        #[arg(long = "pin-roots", default_value = "true", num_args = 0..=1, require_equals = true,
              default_missing_value = "true", value_parser = parse_bool)]
        pin_roots: bool,
        /// Print block and byte counts.
        #[arg(long)]
        stats: bool,
    },
}

/// Runs a `dag` subcommand.
pub fn run(repo: &Path, c: Command) -> anyhow::Result<()> {
    let node = super::open(repo)?;
    let mut out = std::io::stdout().lock();
    match c {
        Command::Get { path, output_codec } => {
            let codec = ferrite_ipld::dag::output_codec_from_name(&output_codec)?;
            out.write_all(&node.dag_get(&path, codec)?)?;
        }
        Command::Put {
            files,
            store_codec,
            input_codec,
            hash,
            pin,
            allow_big_block,
        } => {
            let mut opts = PutOptions::from_names(&input_codec, &store_codec, &hash)?;
            opts.allow_big_block = allow_big_block;
            let mut inputs = Vec::new();
            if files.is_empty() {
                let mut buf = Vec::new();
                std::io::stdin().lock().read_to_end(&mut buf)?;
                inputs.push(buf);
            }
            for f in &files {
                inputs.push(std::fs::read(f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?);
            }
            for data in inputs {
                writeln!(out, "{}", node.dag_put(&data, &opts, pin)?)?;
            }
        }
        Command::Resolve { path } => {
            let (cid, rest) = node.dag_resolve(&path)?;
            if rest.is_empty() {
                writeln!(out, "{cid}")?;
            } else {
                writeln!(out, "{cid}/{rest}")?;
            }
        }
        Command::Stat { paths, progress: _ } => {
            let s = node.dag_stat(&paths)?;
            writeln!(out, "CID\tBlocks\tSize")?;
            let mut sum = 0;
            for (cid, blocks, size) in &s.dags {
                sum += size;
                writeln!(out, "{cid}\t{blocks}\t{size}")?;
            }
            writeln!(out, "\nSummary")?;
            writeln!(out, "Total Size: {}", s.total_size)?;
            writeln!(out, "Unique Blocks: {}", s.unique_blocks)?;
            writeln!(out, "Shared Size: {}", sum - s.total_size)?;
            let ratio = if s.total_size == 0 {
                1.0
            } else {
                sum as f64 / s.total_size as f64
            };
            writeln!(out, "Ratio: {ratio:.6}")?;
        }
        Command::Export { root } => {
            let root = parse_cid(&root)?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, out);
            node.dag_export(&root, &mut w)?;
            w.flush()?;
        }
        Command::Import {
            files,
            pin_roots,
            stats,
        } => {
            let mut inputs: Vec<Box<dyn Read>> = Vec::new();
            if files.is_empty() {
                inputs.push(Box::new(std::io::stdin().lock()));
            }
            for f in &files {
                let file =
                    std::fs::File::open(f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
                inputs.push(Box::new(std::io::BufReader::with_capacity(1 << 20, file)));
            }
            let r = node.dag_import(inputs, pin_roots)?;
            let mut failed = false;
            if pin_roots {
                for (cid, outcome) in &r.roots {
                    match outcome {
                        Ok(()) => writeln!(out, "Pinned root\t{cid}\tsuccess")?,
                        Err(e) => {
                            failed = true;
                            writeln!(out, "Pinned root\t{cid}\tFAILED: {e}")?
                        }
                    }
                }
            }
            if stats {
                writeln!(out, "Imported {} blocks ({} bytes)", r.blocks, r.bytes)?;
            }
            if failed {
                anyhow::bail!("unable to pin all roots");
            }
        }
    }
    Ok(())
}
