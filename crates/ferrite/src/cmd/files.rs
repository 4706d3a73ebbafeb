//! `ferrite cat`, `get` and `ls`.

use super::parse_bool;
use ferrite_node::IpfsPath;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// Arguments of `cat`.
#[derive(clap::Args)]
pub struct CatArgs {
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
pub struct GetArgs {
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

/// Arguments of `ls`.
#[derive(clap::Args)]
pub struct LsArgs {
    /// Paths of folders to list.
    #[arg(required = true)]
    paths: Vec<String>,
    /// Print a header line.
    #[arg(short = 'v', long)]
    headers: bool,
    /// Print sizes.
    #[arg(short, long, default_value = "true", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    size: bool,
}

fn bar_wanted(flag: Option<bool>) -> bool {
    flag.unwrap_or_else(|| std::io::stderr().is_terminal())
}

/// Runs `cat`.
pub fn cat(repo: &Path, a: CatArgs) -> anyhow::Result<()> {
    let node = super::open(repo)?;
    let mut out = std::io::stdout().lock();
    for p in &a.paths {
        let (len, reader) = node.cat(&IpfsPath::parse(p)?, a.offset, a.length)?;
        let bar = if bar_wanted(a.progress) && !std::io::stdout().is_terminal() {
            crate::progress::bytes(Some(len), "")
        } else {
            indicatif::ProgressBar::hidden()
        };
        let mut reader = bar.wrap_read(reader);
        std::io::copy(&mut reader, &mut out)?;
        bar.finish_and_clear();
    }
    out.flush()?;
    Ok(())
}

/// Runs `get`.
pub fn get(repo: &Path, a: GetArgs) -> anyhow::Result<()> {
    let node = super::open(repo)?;
    let path = IpfsPath::parse(&a.path)?;
    let default_name = path
        .segments
        .last()
        .cloned()
        .unwrap_or_else(|| path.root.to_string());
    let entry = node.stat(&path)?;
    let bar = if bar_wanted(a.progress) {
        crate::progress::bytes(Some(entry.size), "")
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
        node.get_tar(&path, &default_name, &mut f, &mut progress)?;
        f.flush()?;
    } else {
        let out = a.output.unwrap_or_else(|| PathBuf::from(&default_name));
        eprintln!("Saving file(s) to {}", out.display());
        node.get(&path, &out, &mut progress)?;
    }
    bar.finish_and_clear();
    Ok(())
}

/// Runs `ls`.
pub fn ls(repo: &Path, a: LsArgs) -> anyhow::Result<()> {
    let node = super::open(repo)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let many = a.paths.len() > 1;
    for (i, p) in a.paths.iter().enumerate() {
        let entries = node.ls(&IpfsPath::parse(p)?)?;
        if many {
            if i > 0 {
                writeln!(out)?;
            }
            writeln!(out, "{p}:")?;
        }
        if a.headers {
            writeln!(out, "Hash\tSize\tName")?;
        }
        for e in entries {
            let dir = matches!(e.kind, ferrite_unixfs::export::DirEntryKind::Directory);
            let name = if dir {
                format!("{}/", e.name)
            } else {
                e.name.clone()
            };
            if a.size {
                let size = if dir {
                    "-".to_string()
                } else {
                    e.file_size.unwrap_or(e.size).to_string()
                };
                writeln!(out, "{} {} {}", e.cid, size, name)?;
            } else {
                writeln!(out, "{} {}", e.cid, name)?;
            }
        }
    }
    Ok(())
}
