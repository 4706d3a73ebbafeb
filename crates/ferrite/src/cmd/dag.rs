//! `ferrite dag get|put|import|export`, and `dag resolve|stat` (defined in
//! [`ferrite_http::rpc::dag`]).

use super::{exec, parse_bool, parse_cid, Target};
use crate::remote::{Client, Multipart};
use clap::Subcommand;
use ferrite_http::rpc::dag;
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
    Resolve(dag::Resolve),
    /// Count the blocks and bytes of DAGs.
    Stat(dag::Stat),
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
    match c {
        Command::Resolve(c) => return exec(t, c),
        Command::Stat(mut c) => {
            // The CLI prints the final summary; progress objects only on request.
            c.progress.get_or_insert(false);
            return exec(t, c);
        }
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
        Command::Resolve(_) | Command::Stat(_) => {}
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
                .items(|p: dag::Put| {
                    writeln!(out, "{}", p.cid.cid)?;
                    Ok(())
                })?;
        }
        Command::Resolve(_) | Command::Stat(_) => {}
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
                .items(|ev: dag::ImportEvent| {
                    match ev {
                        dag::ImportEvent::Root { cid, pin_error } => {
                            roots.push((cid.cid, pin_error))
                        }
                        dag::ImportEvent::Stats { blocks, bytes } => counts = Some((blocks, bytes)),
                    }
                    Ok(())
                })?;
            print_import(&mut out, &roots, pin_roots, counts.filter(|_| stats))?;
        }
    }
    Ok(())
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
