//! `ferrite cat`, `get` and `ls`.

use super::{parse_bool, Target};
use ferrite_node::IpfsPath;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// Arguments of `cat`.
#[derive(clap::Args)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite cat QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\n",
    "  ferrite cat -o 100 -l 64 /ipfs/bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi/readme.md",
))]
pub(crate) struct CatArgs {
    /// Paths of files to print.
    #[arg(required = true)]
    paths: Vec<String>,
    /// Byte offset to start at.
    #[arg(short, long, default_value_t = 0)]
    offset: u64,
    /// Maximum number of bytes to print.
    #[arg(short, long)]
    length: Option<u64>,
    /// Show a progress bar.
    #[arg(short, long, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    progress: Option<bool>,
}

/// Arguments of `get`.
#[derive(clap::Args)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite get -o hello.txt QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\n",
    "  ferrite get -a -o site.tar bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
))]
pub(crate) struct GetArgs {
    /// Path of the file or folder.
    path: String,
    /// Where to write it (default: the CID or the path's last name).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Write a tar archive.
    #[arg(short, long)]
    archive: bool,
    /// Show a progress bar.
    #[arg(short, long, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    progress: Option<bool>,
}

fn bar_wanted(flag: Option<bool>) -> bool {
    flag.unwrap_or_else(|| std::io::stderr().is_terminal())
}

/// Runs `cat`.
pub(crate) fn cat(t: &Target, a: CatArgs) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let wanted = bar_wanted(a.progress) && !std::io::stdout().is_terminal();
    let bar = |len: Option<u64>| {
        if wanted {
            crate::progress::bytes(len, "")
        } else {
            indicatif::ProgressBar::hidden()
        }
    };
    match t {
        Target::Local(repo) => {
            let node = super::open(repo)?;
            for p in &a.paths {
                let (len, reader) = node.cat(&IpfsPath::parse(p)?, a.offset, a.length)?;
                let bar = bar(Some(len));
                std::io::copy(&mut bar.wrap_read(reader), &mut out)?;
                bar.finish_and_clear();
            }
        }
        // One request per path, so offset and length apply to each as here.
        Target::Remote(c) => {
            for p in &a.paths {
                let resp = c
                    .request("cat")
                    .arg(p)
                    .opt("offset", a.offset)
                    .opt_some("length", a.length)
                    .opt("progress", false)
                    .send()?;
                let bar = bar(resp.header("x-content-length").and_then(|l| l.parse().ok()));
                std::io::copy(&mut bar.wrap_read(resp.body), &mut out)?;
                bar.finish_and_clear();
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// Runs `get`.
pub(crate) fn get(t: &Target, a: GetArgs) -> anyhow::Result<()> {
    let path = IpfsPath::parse(&a.path)?;
    let default_name = path
        .segments
        .last()
        .cloned()
        .unwrap_or_else(|| path.root.to_string());
    let (from, size) = match t {
        Target::Local(repo) => {
            let node = super::open(repo)?;
            let size = node.stat(&path)?.size;
            (GetFrom::Node(node), Some(size))
        }
        // The daemon always answers a tar stream, as Kubo's does; the CLI
        // extracts it (or saves it as is with `-a`).
        Target::Remote(c) => {
            let resp = c
                .request("get")
                .arg(&a.path)
                .flag("archive", a.archive)
                .opt("progress", false)
                .send()?;
            let size = resp.header("x-content-length").and_then(|l| l.parse().ok());
            (GetFrom::Tar(resp.body), size)
        }
    };
    let bar = if bar_wanted(a.progress) {
        crate::progress::bytes(size, "")
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut progress = |n: u64| bar.inc(n);
    if a.archive {
        let out = a
            .output
            .unwrap_or_else(|| PathBuf::from(format!("{default_name}.tar")));
        eprintln!("Saving archive to {}", out.display());
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(&out)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?,
        );
        match from {
            GetFrom::Node(node) => node.get_tar(&path, &default_name, &mut f, &mut progress)?,
            GetFrom::Tar(tar) => {
                std::io::copy(&mut bar.wrap_read(tar), &mut f)?;
            }
        }
        f.flush()?;
    } else {
        let out = a.output.unwrap_or_else(|| PathBuf::from(&default_name));
        eprintln!("Saving file(s) to {}", out.display());
        match from {
            GetFrom::Node(node) => node.get(&path, &out, &mut progress)?,
            GetFrom::Tar(tar) => extract_tar(bar.wrap_read(tar), &out)?,
        }
    }
    bar.finish_and_clear();
    Ok(())
}

/// Where `get` reads from.
enum GetFrom {
    /// The repo, directly.
    Node(ferrite_node::Node),
    /// The daemon's tar stream.
    Tar(ferrite_http::client::ResponseBody),
}

/// Unpacks a `get` tar stream at `out`, as Kubo's CLI does: the archive's
/// top entry becomes `out`, everything else lands below it. Entries that
/// would escape `out` (absolute, `..`) are refused.
fn extract_tar(r: impl std::io::Read, out: &Path) -> anyhow::Result<()> {
    let mut archive = tar::Archive::new(r);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.into_owned();
        let mut parts = name.components();
        if !matches!(parts.next(), Some(std::path::Component::Normal(_))) {
            anyhow::bail!("refusing to extract {}: bad path", name.display());
        }
        let rest: PathBuf = parts.as_path().to_owned();
        if rest
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            anyhow::bail!("refusing to extract {}: bad path", name.display());
        }
        let dest = if rest.as_os_str().is_empty() {
            out.to_owned()
        } else {
            out.join(rest)
        };
        if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", parent.display()))?;
        }
        if entry.header().entry_type().is_dir() {
            std::fs::create_dir_all(&dest)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dest.display()))?;
            continue;
        }
        entry
            .unpack(&dest)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", dest.display()))?;
    }
    Ok(())
}
