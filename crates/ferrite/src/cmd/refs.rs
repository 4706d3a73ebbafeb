//! `ferrite refs [-r] [-u] [-e] [--format] PATH…` and `refs local`.

use super::Target;
use crate::remote;
use clap::Parser;
use ferrite_node::RefsOptions;
use std::io::Write;
use std::path::Path;

/// Arguments of `refs`.
#[derive(Parser)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite refs bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi\n",
    "  ferrite refs -r -u bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi\n",
    "  ferrite refs local",
))]
pub(crate) struct Args {
    /// Paths to list the links of; `local` lists every stored block.
    #[arg(required = true)]
    paths: Vec<String>,
    /// Recursively list links of child nodes.
    #[arg(short, long)]
    recursive: bool,
    /// Omit duplicate refs.
    #[arg(short, long)]
    unique: bool,
    /// Print edges as `<src> -> <dst>`.
    #[arg(short, long)]
    edges: bool,
    /// Output format: `<src>`, `<dst>` and `<linkname>` are replaced.
    #[arg(long, default_value = "<dst>")]
    format: String,
    /// Only recurse this deep (-1: unlimited).
    #[arg(long = "max-depth", default_value_t = -1, allow_hyphen_values = true)]
    max_depth: i64,
}

/// Runs `refs`.
pub(crate) fn run(t: &Target, a: Args) -> anyhow::Result<()> {
    let local = a.paths.len() == 1 && a.paths[0] == "local";
    if !local && a.edges && a.format != "<dst>" {
        anyhow::bail!("using format argument with edges is not allowed");
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let c = match t {
        Target::Local(repo) => return run_local(repo, a, local, &mut out),
        Target::Remote(c) => c,
    };
    // one {"Ref","Err"} per line, formatted by the daemon
    let req = if local {
        c.request("refs/local")
    } else {
        c.request("refs")
            .args(&a.paths)
            .flag("recursive", a.recursive)
            .flag("unique", a.unique)
            .flag("edges", a.edges)
            .opt_some("format", (a.format != "<dst>").then_some(&a.format))
            .opt_some("max-depth", (a.max_depth != -1).then_some(a.max_depth))
    };
    req.stream(|v| {
        let err = remote::str_field(&v, "Err");
        if !err.is_empty() {
            anyhow::bail!("{err}");
        }
        writeln!(out, "{}", remote::str_field(&v, "Ref"))?;
        Ok(())
    })?;
    Ok(())
}

fn run_local(repo: &Path, a: Args, local: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let node = super::open(repo)?;
    if local {
        let mut err = None;
        node.refs_local(&mut |c| match writeln!(out, "{c}") {
            Ok(()) => true,
            Err(e) => {
                err = Some(e);
                false
            }
        })?;
        return match err {
            Some(e) => Err(e.into()),
            None => Ok(()),
        };
    }
    let format = if a.edges {
        "<src> -> <dst>".to_string()
    } else {
        a.format
    };
    let opts = RefsOptions {
        recursive: a.recursive || a.max_depth > 1,
        unique: a.unique,
        max_depth: (a.max_depth >= 0).then_some(a.max_depth),
    };
    node.refs(&a.paths, &opts, &mut |r| {
        let line = format
            .replace("<src>", &r.src.to_string())
            .replace("<dst>", &r.dst.to_string())
            .replace("<linkname>", &r.name);
        writeln!(out, "{line}")?;
        Ok(())
    })?;
    Ok(())
}
