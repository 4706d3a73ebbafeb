//! `ferrite dag get|put|resolve|stat|import|export`.

use super::{parse_bool, parse_cid, Target};
use crate::remote::{self, Client, Multipart};
use clap::Subcommand;
use ferrite_ipld::dag::PutOptions;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// `dag` subcommands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Print a DAG node (or a value inside it).
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite dag get bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua\n",
        "  ferrite dag get --output-codec dag-cbor bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua/links/0",
    ))]
    Get {
        /// The node's path, e.g. CID/a/b.
        path: String,
        /// Codec to print with.
        #[arg(long = "output-codec", default_value = "dag-json")]
        output_codec: String,
    },
    /// Store a DAG node read from files or stdin.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite dag put node.json\n",
        "  ferrite dag put --store-codec dag-json --pin=true node.json",
    ))]
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
    #[command(
        after_help = "Examples:\n  ferrite dag resolve /ipfs/bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi/docs/readme.md"
    )]
    Resolve {
        /// The path.
        path: String,
    },
    /// Count the blocks and bytes of DAGs.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite dag stat QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\n",
        "  ferrite dag stat bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua",
    ))]
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
    #[command(
        after_help = "Examples:\n  ferrite dag export bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
    )]
    Export {
        /// The root.
        root: String,
    },
    /// Import blocks from CAR files (stdin when none).
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite dag import archive.car\n",
        "  ferrite dag import --pin-roots=false --stats a.car b.car",
    ))]
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
                inputs.push(
                    std::fs::read(f)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", f.display()))?,
                );
            }
            for data in inputs {
                writeln!(out, "{}", node.dag_put(&data, &opts, pin)?)?;
            }
        }
        Command::Resolve { path } => {
            let (cid, rest) = node.dag_resolve(&path)?;
            print_resolved(&mut out, &cid.to_string(), &rest)?;
        }
        Command::Stat { paths, progress: _ } => {
            let s = node.dag_stat(&paths)?;
            let dags: Vec<(String, u64, u64)> = s
                .dags
                .iter()
                .map(|(c, b, z)| (c.to_string(), *b, *z))
                .collect();
            print_stat(&mut out, &dags, s.total_size, s.unique_blocks)?;
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
                let file = std::fs::File::open(f)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", f.display()))?;
                inputs.push(Box::new(std::io::BufReader::with_capacity(1 << 20, file)));
            }
            let r = node.dag_import(
                &mut inputs.into_iter(),
                ferrite_node::DagImportOptions {
                    pin_roots,
                    allow_big_block: false,
                },
            )?;
            let roots: Vec<(String, String)> = r
                .roots
                .iter()
                .map(|(c, o)| (c.to_string(), o.clone().err().unwrap_or_default()))
                .collect();
            print_import(
                &mut out,
                &roots,
                pin_roots,
                stats.then_some((r.blocks, r.bytes)),
            )?;
        }
    }
    Ok(())
}

/// The same through the daemon, Kubo's JSON shapes.
fn run_remote(c: &Client, cmd: Command) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match cmd {
        Command::Get { path, output_codec } => {
            c.request("dag/get")
                .arg(&path)
                .opt("output-codec", &output_codec)
                .copy_to(&mut out)?;
        }
        // one part per file (stdin when none); one {"Cid":{"/":…}} each
        Command::Put {
            files,
            store_codec,
            input_codec,
            hash,
            pin,
            allow_big_block,
        } => {
            let body = Multipart::files_or_stdin(&files)?;
            c.request("dag/put")
                .opt("store-codec", &store_codec)
                .opt("input-codec", &input_codec)
                .opt("hash", &hash)
                .opt("pin", pin)
                .flag("allow-big-block", allow_big_block)
                .body(body)
                .stream(|v| {
                    writeln!(out, "{}", remote::cid_str(&v["Cid"]))?;
                    Ok(())
                })?;
        }
        // {"Cid":{"/":…},"RemPath":"…"}
        Command::Resolve { path } => {
            let v = c.request("dag/resolve").arg(&path).json()?;
            print_resolved(
                &mut out,
                &remote::cid_str(&v["Cid"]),
                remote::str_field(&v, "RemPath"),
            )?;
        }
        // {"DagStats":[{"Cid","Size","NumBlocks"}],"TotalSize","UniqueBlocks",…};
        // with progress=false the daemon sends only the final object.
        Command::Stat { paths, progress: _ } => {
            let mut last = None;
            c.request("dag/stat")
                .args(&paths)
                .opt("progress", false)
                .stream(|v| {
                    last = Some(v);
                    Ok(())
                })?;
            let v = last.ok_or_else(|| anyhow::anyhow!("the daemon sent no dag stat"))?;
            let dags: Vec<(String, u64, u64)> = v["DagStats"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| {
                    (
                        remote::cid_str(&d["Cid"]),
                        remote::u64_field(d, "NumBlocks"),
                        remote::u64_field(d, "Size"),
                    )
                })
                .collect();
            print_stat(
                &mut out,
                &dags,
                remote::u64_field(&v, "TotalSize"),
                remote::u64_field(&v, "UniqueBlocks"),
            )?;
        }
        Command::Export { root } => {
            parse_cid(&root)?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, out);
            c.request("dag/export").arg(&root).copy_to(&mut w)?;
            w.flush()?;
        }
        // {"Root":{"Cid":{"/":…},"PinErrorMsg":"…"}} per root, then
        // {"Stats":{"BlockCount","BlockBytesCount"}} with stats=true
        Command::Import {
            files,
            pin_roots,
            stats,
        } => {
            let body = Multipart::files_or_stdin(&files)?;
            let mut roots = Vec::new();
            let mut counts = None;
            c.request("dag/import")
                .opt("pin-roots", pin_roots)
                .flag("stats", stats)
                .body(body)
                .stream(|v| {
                    if let Some(r) = v.get("Root") {
                        roots.push((
                            remote::cid_str(&r["Cid"]),
                            remote::str_field(r, "PinErrorMsg").to_string(),
                        ));
                    }
                    if let Some(s) = v.get("Stats") {
                        counts = Some((
                            remote::u64_field(s, "BlockCount"),
                            remote::u64_field(s, "BlockBytesCount"),
                        ));
                    }
                    Ok(())
                })?;
            print_import(&mut out, &roots, pin_roots, counts.filter(|_| stats))?;
        }
    }
    Ok(())
}

fn print_resolved(out: &mut impl Write, cid: &str, rest: &str) -> std::io::Result<()> {
    if rest.is_empty() {
        writeln!(out, "{cid}")
    } else {
        writeln!(out, "{cid}/{rest}")
    }
}

/// Prints `dag stat` from per-root `(cid, blocks, bytes)` and the totals.
fn print_stat(
    out: &mut impl Write,
    dags: &[(String, u64, u64)],
    total_size: u64,
    unique_blocks: u64,
) -> std::io::Result<()> {
    writeln!(out, "CID\tBlocks\tSize")?;
    let mut sum = 0;
    for (cid, blocks, size) in dags {
        sum += size;
        writeln!(out, "{cid}\t{blocks}\t{size}")?;
    }
    writeln!(out, "\nSummary")?;
    writeln!(out, "Total Size: {total_size}")?;
    writeln!(out, "Unique Blocks: {unique_blocks}")?;
    writeln!(out, "Shared Size: {}", sum - total_size)?;
    let ratio = if total_size == 0 {
        1.0
    } else {
        sum as f64 / total_size as f64
    };
    writeln!(out, "Ratio: {ratio:.6}")
}

/// Prints `dag import` results: roots with their pin error ("" when
/// pinned), then the counts if asked.
fn print_import(
    out: &mut impl Write,
    roots: &[(String, String)],
    pin_roots: bool,
    counts: Option<(u64, u64)>,
) -> anyhow::Result<()> {
    let mut failed = false;
    if pin_roots {
        for (cid, err) in roots {
            if err.is_empty() {
                writeln!(out, "Pinned root\t{cid}\tsuccess")?;
            } else {
                failed = true;
                writeln!(out, "Pinned root\t{cid}\tFAILED: {err}")?;
            }
        }
    }
    if let Some((blocks, bytes)) = counts {
        writeln!(out, "Imported {blocks} blocks ({bytes} bytes)")?;
    }
    if failed {
        anyhow::bail!("unable to pin all roots");
    }
    Ok(())
}
