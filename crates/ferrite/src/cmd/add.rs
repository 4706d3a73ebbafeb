//! `ferrite add`: import files, folders or stdin, Kubo-compatible flags and output.

use super::{parse_bool, Target};
use crate::remote::{Client, Multipart};
use ferrite_node::{AddOptions, AddSource};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// Arguments of `add`, named and defaulted as Kubo's.
#[derive(clap::Args)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite add hello.txt\n",
    "  ferrite add -r my-folder\n",
    "  ferrite add -Q --cid-version 1 photo.jpg",
))]
pub(crate) struct Args {
    /// Files or folders to add; stdin when none.
    paths: Vec<PathBuf>,
    /// Add folder contents recursively.
    #[arg(short, long)]
    recursive: bool,
    /// Include files whose names start with a dot.
    #[arg(short = 'H', long)]
    hidden: bool,
    /// Wrap files with a directory object.
    #[arg(short = 'w', long = "wrap-with-directory")]
    wrap: bool,
    /// Only chunk and hash; write nothing to the repo.
    #[arg(short = 'n', long = "only-hash")]
    only_hash: bool,
    /// Pin what is added (`--pin=false` to not pin).
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    pin: bool,
    /// A name for the pin.
    #[arg(long = "pin-name")]
    pin_name: Option<String>,
    /// Print only CIDs.
    #[arg(short, long)]
    quiet: bool,
    /// Print only the final CID.
    #[arg(short = 'Q', long)]
    quieter: bool,
    /// Print nothing.
    #[arg(long)]
    silent: bool,
    /// Show a progress bar (default when stderr is a terminal).
    #[arg(short, long, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    progress: Option<bool>,
    /// Use the trickle DAG layout.
    #[arg(short, long)]
    trickle: bool,
    /// Chunking algorithm: size-N, rabin[-min-avg-max], buzhash.
    #[arg(short = 's', long)]
    chunker: Option<String>,
    /// Use raw blocks for leaves (default: on with CIDv1).
    #[arg(long = "raw-leaves", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    raw_leaves: Option<bool>,
    /// CID version (0 or 1); non-default options imply 1.
    #[arg(long = "cid-version")]
    cid_version: Option<u8>,
    /// Hash function.
    #[arg(long)]
    hash: Option<String>,
    /// Inline small blocks into identity CIDs.
    #[arg(long)]
    inline: bool,
    /// Largest block to inline.
    #[arg(long = "inline-limit", default_value_t = 32)]
    inline_limit: usize,
    /// Name to use for data read from stdin.
    #[arg(long = "stdin-name")]
    stdin_name: Option<String>,
}

/// Runs `add`.
pub(crate) fn run(t: &Target, a: Args) -> anyhow::Result<()> {
    for p in &a.paths {
        let meta =
            std::fs::symlink_metadata(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        if meta.is_dir() && !a.recursive {
            anyhow::bail!(
                "{} is a directory, use the '-r' flag to specify directories",
                p.display()
            );
        }
    }
    let show_progress = a
        .progress
        .unwrap_or_else(|| std::io::stderr().is_terminal())
        && !a.silent;
    let total = if show_progress && !a.paths.is_empty() {
        Some(a.paths.iter().map(|p| disk_size(p, a.hidden)).sum())
    } else {
        None
    };
    let bar = if show_progress {
        crate::progress::bytes(total, "")
    } else {
        indicatif::ProgressBar::hidden()
    };
    let added = match t {
        Target::Local(repo) => add_local(repo, &a, &bar)?,
        Target::Remote(c) => add_remote(c, &a, show_progress, &bar)?,
    };
    bar.finish_and_clear();
    print_added(&a, &added)
}

/// `(cid, name)` of each `added` line, in order.
type AddedLines = Vec<(String, String)>;

fn add_local(repo: &Path, a: &Args, bar: &indicatif::ProgressBar) -> anyhow::Result<AddedLines> {
    let node = super::open(repo)?;
    let mut import = node.import_defaults()?;
    if let Some(c) = &a.chunker {
        import.chunker = c.parse()?;
    }
    if let Some(h) = &a.hash {
        import.hash = h.parse()?;
    }
    if let Some(v) = a.cid_version {
        if v > 1 {
            anyhow::bail!("unknown CID version: {v}");
        }
        import.cid_version = Some(v);
    }
    if let Some(r) = a.raw_leaves {
        import.raw_leaves = Some(r);
    }
    import.trickle |= a.trickle;
    import.inline = a.inline;
    import.inline_limit = a.inline_limit;
    let opts = AddOptions {
        import,
        recursive: a.recursive,
        hidden: a.hidden,
        wrap: a.wrap,
        only_hash: a.only_hash,
        pin: a.pin,
        pin_name: a.pin_name.clone().unwrap_or_default(),
    };
    let source = if a.paths.is_empty() {
        AddSource::Reader {
            reader: Box::new(std::io::stdin()),
            name: a.stdin_name.clone(),
        }
    } else {
        AddSource::Paths(a.paths.clone())
    };
    let added = node.add(source, &opts, &mut |n| bar.inc(n))?;
    Ok(added
        .into_iter()
        .map(|e| (e.cid.to_string(), e.name))
        .collect())
}

/// Uploads the files as Kubo's CLI does; the daemon answers one
/// `{"Name","Hash","Size"}` object per added item, and with `progress=true`
/// `{"Name","Bytes"}` objects (bytes so far of the file being read).
fn add_remote(
    c: &Client,
    a: &Args,
    progress: bool,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<AddedLines> {
    // Checked here with the parsers the local path uses, for the same errors.
    if let Some(c) = &a.chunker {
        c.parse::<ferrite_unixfs::chunker::ChunkerSpec>()?;
    }
    if let Some(h) = &a.hash {
        h.parse::<ferrite_ipld::HashAlg>()?;
    }
    if let Some(v) = a.cid_version {
        if v > 1 {
            anyhow::bail!("unknown CID version: {v}");
        }
    }
    let mut body = Multipart::new();
    if a.paths.is_empty() {
        body.reader(a.stdin_name.as_deref().unwrap_or(""), std::io::stdin());
    }
    for p in &a.paths {
        body.add_path(p, a.hidden)?;
    }
    let req = c
        .request("add")
        .flag("recursive", a.recursive)
        .flag("hidden", a.hidden)
        .flag("wrap-with-directory", a.wrap)
        .flag("only-hash", a.only_hash)
        .opt("pin", a.pin)
        .opt_some("pin-name", a.pin_name.as_ref())
        .flag("quiet", a.quiet)
        .flag("quieter", a.quieter)
        .flag("silent", a.silent)
        .opt("progress", progress)
        .flag("trickle", a.trickle)
        .opt_some("chunker", a.chunker.as_ref())
        .opt_some("raw-leaves", a.raw_leaves)
        .opt_some("cid-version", a.cid_version)
        .opt_some("hash", a.hash.as_ref())
        .flag("inline", a.inline)
        .opt_some(
            "inline-limit",
            (a.inline_limit != 32).then_some(a.inline_limit),
        )
        .opt_some("stdin-name", a.stdin_name.as_ref())
        .body(body);
    let mut added = Vec::new();
    let (mut file, mut seen) = (String::new(), 0u64);
    req.items(|ev: ferrite_http::rpc::AddEvent<'static>| {
        match ev.hash {
            None => {
                if ev.name != file {
                    file = ev.name.into_owned();
                    seen = 0;
                }
                bar.inc(ev.bytes.saturating_sub(seen));
                seen = seen.max(ev.bytes);
            }
            Some(hash) => added.push((hash, ev.name.into_owned())),
        }
        Ok(())
    })?;
    Ok(added)
}

fn print_added(a: &Args, added: &AddedLines) -> anyhow::Result<()> {
    if a.silent {
        return Ok(());
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if a.quieter {
        if let Some((cid, _)) = added.last() {
            writeln!(out, "{cid}")?;
        }
        return Ok(());
    }
    for (cid, name) in added {
        if a.quiet {
            writeln!(out, "{cid}")?;
        } else {
            writeln!(out, "added {cid} {name}")?;
        }
    }
    Ok(())
}

/// Bytes a path will feed the importer, for the progress bar's total.
fn disk_size(p: &Path, hidden: bool) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if meta.is_file() {
        return meta.len();
    }
    if !meta.is_dir() {
        return 0;
    }
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .filter(|e| hidden || !e.file_name().to_string_lossy().starts_with('.'))
                .map(|e| disk_size(&e.path(), hidden))
                .sum()
        })
        .unwrap_or(0)
}
