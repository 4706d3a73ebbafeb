//! `ferrite cat` and `get` (defined in [`ferrite_http::rpc::files`]).

use super::{download, download_to, Target};
use ferrite_http::rpc::files;
use std::cell::Cell;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

fn bar_wanted(flag: Option<bool>) -> bool {
    flag.unwrap_or_else(|| std::io::stderr().is_terminal())
}

/// A byte progress bar, hidden unless `wanted`.
fn bar(wanted: bool, len: Option<u64>) -> indicatif::ProgressBar {
    if wanted {
        crate::progress::bytes(len, "")
    } else {
        indicatif::ProgressBar::hidden()
    }
}

/// Runs `cat`: one answer per path, so offset and length apply to each.
pub(crate) fn cat(t: &Target, c: files::Cat) -> anyhow::Result<()> {
    let wanted = bar_wanted(c.progress) && !std::io::stdout().is_terminal();
    for p in &c.paths {
        let one = files::Cat {
            paths: vec![p.clone()],
            ..c
        };
        let mut shown = None;
        download_to(t, one, |len| {
            let b = bar(wanted, len);
            shown = Some(b.clone());
            b.wrap_write(super::stdout())
        })?;
        if let Some(b) = shown {
            b.finish_and_clear();
        }
    }
    Ok(())
}

/// Runs `get`: the tar answer is saved (`-a`) or unpacked, as Kubo's CLI does.
pub(crate) fn get(t: &Target, mut g: files::Get) -> anyhow::Result<()> {
    let name = g.name()?;
    let (archive, wanted) = (g.archive, bar_wanted(g.progress));
    let out = g
        .output
        .take()
        .unwrap_or_else(|| PathBuf::from(if archive { format!("{name}.tar") } else { name }));
    // Written under a hidden name and renamed once complete, so a failed
    // download leaves nothing under the name asked for. An existing folder
    // is unpacked into in place, as before.
    let in_place = !archive && out.is_dir();
    let dest = if in_place {
        out.clone()
    } else {
        partial_path(&out)
    };
    let done = download(t, g, |len, tar| {
        let bar = bar(wanted, len);
        let tar = bar.wrap_read(tar);
        if archive {
            eprintln!("Saving archive to {}", out.display());
            let f = std::fs::File::create(&dest)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
            let mut f = std::io::BufWriter::new(f);
            std::io::copy(&mut { tar }, &mut f)?;
            f.flush()?;
        } else {
            eprintln!("Saving file(s) to {}", out.display());
            extract_tar(tar, &dest)?;
        }
        bar.finish_and_clear();
        Ok(())
    });
    if in_place {
        return done;
    }
    match done {
        Ok(()) => std::fs::rename(&dest, &out)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display())),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dest).or_else(|_| std::fs::remove_file(&dest));
            Err(e)
        }
    }
}

/// A hidden sibling of `out` for a download in progress.
fn partial_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map_or_else(|| "get".into(), |n| n.to_string_lossy().into_owned());
    out.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// Unpacks a `get` tar stream at `out`, as Kubo's CLI does: the archive's
/// top entry becomes `out`, everything else lands below it. Entries that
/// would escape `out` (absolute, `..`) are refused.
fn extract_tar(r: impl Read, out: &Path) -> anyhow::Result<()> {
    // tar reports a failed read of the answer (a missing block, an aborted
    // transfer) as "failed to unpack …" and hides why; the cause is the news.
    let failed = Rc::new(Cell::new(None));
    let mut archive = tar::Archive::new(Watch {
        inner: r,
        failed: failed.clone(),
    });
    let unpacked = unpack(&mut archive, out);
    match failed.take() {
        Some(e) if unpacked.is_err() => Err(e.into()),
        _ => unpacked,
    }
}

/// A reader that keeps its first error.
struct Watch<R> {
    inner: R,
    failed: Rc<Cell<Option<std::io::Error>>>,
}

impl<R: Read> Read for Watch<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            let copy = std::io::Error::new(e.kind(), e.to_string());
            let first = self.failed.take().unwrap_or(copy);
            self.failed.set(Some(first));
        })
    }
}

fn unpack(archive: &mut tar::Archive<impl Read>, out: &Path) -> anyhow::Result<()> {
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
