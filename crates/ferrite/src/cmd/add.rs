//! `ferrite add` (defined in [`ferrite_http::rpc::add`]): the CLI's checks of
//! its paths and its byte progress bar around the command.

use super::{run_items, Target};
use ferrite_http::command::Command as _;
use ferrite_http::rpc::add::Add;
use std::io::{IsTerminal, Write};
use std::path::Path;

/// Runs `add`.
pub(crate) fn run(t: &Target, mut a: Add) -> anyhow::Result<()> {
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
    let show = a
        .progress
        .unwrap_or_else(|| std::io::stderr().is_terminal())
        && !a.silent;
    a.progress = Some(show);
    let bar = if show {
        let total =
            (!a.paths.is_empty()).then(|| a.paths.iter().map(|p| disk_size(p, a.hidden)).sum());
        crate::progress::bytes(total, "")
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    // Progress objects carry the bytes read so far of the file they name.
    let (mut file, mut seen) = (String::new(), 0u64);
    let result = run_items(t, Add::PATH, &a, &mut |ev| {
        if ev.hash.is_none() {
            if ev.name != file {
                file = ev.name.to_string();
                seen = 0;
            }
            bar.inc(ev.bytes.saturating_sub(seen));
            seen = seen.max(ev.bytes);
            return Ok(());
        }
        bar.suspend(|| a.text(&ev, &mut out))
    });
    bar.finish_and_clear();
    out.flush()?;
    result
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
