//! One module per command group.

pub(crate) mod add;
pub(crate) mod block;
pub(crate) mod bootstrap;
pub(crate) mod cid;
pub(crate) mod cluster;
pub(crate) mod config;
pub(crate) mod daemon;
pub(crate) mod dag;
pub(crate) mod devnet;
pub(crate) mod files;
pub(crate) mod init;
pub(crate) mod misc;
pub(crate) mod pin;
pub(crate) mod refs;
pub(crate) mod repo;
pub(crate) mod routing;
pub(crate) mod service;
pub(crate) mod stats;
pub(crate) mod swarm;

use crate::remote::{Client, Multipart};
use anyhow::{anyhow, bail};
use ferrite_http::command::{query, Command, Ctx, Download, Encoding, Needs};
use ferrite_node::Node;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Where a command runs: on the repo itself, or through the daemon that
/// holds it.
pub(crate) enum Target {
    /// No daemon: open the repo at this path.
    Local(PathBuf),
    /// A daemon holds the repo: call its RPC API.
    Remote(Client),
}

/// Runs `cmd` where `t` says (in this process, or on the daemon through the
/// RPC API, decoding its typed answer) and prints each item with the
/// command's text encoder.
pub(crate) fn exec<C: Command>(t: &Target, cmd: C) -> anyhow::Result<()> {
    exec_at(t, C::PATH, cmd)
}

/// [`exec`] through the daemon's `path`, one of the command's other names
/// (`stats/bitswap` for `bitswap/stat`).
pub(crate) fn exec_at<C: Command>(t: &Target, path: &str, cmd: C) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut failed = 0;
    let mut bar: Option<indicatif::ProgressBar> = None;
    let mut print = |item: C::Item, out: &mut dyn Write| -> std::io::Result<()> {
        if let Some((label, n)) = cmd.progress(&item) {
            bar.get_or_insert_with(|| crate::progress::counter(label))
                .set_position(n);
            return Ok(());
        }
        if cmd.failed(&item) {
            failed += 1;
        }
        match &bar {
            Some(b) => b.suspend(|| cmd.text(&item, out)),
            None => cmd.text(&item, out),
        }
    };
    let result = run_items(t, path, &cmd, &mut |item| print(item, &mut out));
    // `print` borrows `bar`; its last use is above.
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    out.flush()?;
    result?;
    if failed > 0 {
        bail!("{}", cmd.failure(failed));
    }
    Ok(())
}

/// Runs `cmd` where `t` says and feeds each item of its answer to `f`.
pub(crate) fn run_items<C: Command>(
    t: &Target,
    path: &str,
    cmd: &C,
    f: &mut dyn FnMut(C::Item) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    match (C::NEEDS, t) {
        (Needs::Nothing, _) => Ok(cmd.run(&Ctx::bare(), f)?),
        (Needs::Network, Target::Local(_)) => Err(anyhow!(swarm::OFFLINE)),
        (_, Target::Local(repo)) => {
            let mut ctx = Ctx::new(open(repo)?);
            if let Some(files) = upload(cmd)? {
                ctx = ctx.with_files(files.into_entries());
            }
            Ok(cmd.run(&ctx, f)?)
        }
        (_, Target::Remote(client)) => {
            let files = upload(cmd)?;
            let pairs = query::to_pairs(cmd).map_err(anyhow::Error::msg)?;
            let mut req = client.request(path).pairs(pairs);
            if let Some(files) = files {
                req = req.body(files);
            }
            if cmd.encoding() == Encoding::Empty {
                req.send()?;
                return Ok(());
            }
            req.items(|item: C::Item| Ok(f(item)?))
        }
    }
}

/// The files `cmd` sends, if it takes any (read from disk only while they
/// are sent or imported).
fn upload<C: Command>(cmd: &C) -> anyhow::Result<Option<Multipart>> {
    if C::FILES.is_none() {
        return Ok(None);
    }
    Multipart::upload(&cmd.upload()).map(Some)
}

/// Runs the download `cmd` where `t` says and writes its bytes to the
/// writer `sink` makes for its length (when known).
pub(crate) fn download_to<C: Download, W: Write>(
    t: &Target,
    cmd: C,
    sink: impl FnOnce(Option<u64>) -> W,
) -> anyhow::Result<()> {
    match t {
        Target::Local(repo) => {
            let answer = cmd.open(&Ctx::new(open(repo)?))?;
            let mut w = sink(answer.len);
            (answer.write)(&mut w)?;
            w.flush()?;
        }
        Target::Remote(client) => {
            let (len, mut body) = fetch(client, &cmd)?;
            let mut w = sink(len);
            std::io::copy(&mut body, &mut w)?;
            w.flush()?;
        }
    }
    Ok(())
}

/// Sends the download `cmd` to the daemon: its length (when known) and body.
fn fetch<C: Download>(
    client: &Client,
    cmd: &C,
) -> anyhow::Result<(Option<u64>, ferrite_http::client::ResponseBody)> {
    let pairs = query::to_pairs(cmd).map_err(anyhow::Error::msg)?;
    let resp = client.request(C::PATH).pairs(pairs).send()?;
    let len = resp.header("x-content-length").and_then(|l| l.parse().ok());
    Ok((len, resp.body))
}

/// Stdout for a byte answer, buffered.
pub(crate) fn stdout() -> impl Write {
    std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock())
}

/// [`download_to`] for a consumer that reads (`get` unpacks a tar stream):
/// in-process, the bytes are written on a thread of their own into a pipe.
pub(crate) fn download<C: Download, T>(
    t: &Target,
    cmd: C,
    read: impl FnOnce(Option<u64>, &mut dyn Read) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    match t {
        Target::Local(repo) => {
            let answer = cmd.open(&Ctx::new(open(repo)?))?;
            let (reader, mut writer) = std::io::pipe()?;
            let job = std::thread::spawn(move || (answer.write)(&mut writer));
            let mut reader = EofSeen {
                inner: reader,
                eof: false,
            };
            let got = read(answer.len, &mut reader);
            // The reader may stop early (an error): unblock the writer.
            let eof = reader.eof;
            drop(reader);
            let written = job.join().map_err(|_| anyhow!("the command panicked"))?;
            match (got, written) {
                // The writer failed and ended the stream, which then failed
                // the reader: the writer's error (a missing block) is the
                // cause, as the daemon's answer would say.
                (Err(_), Err(e)) if eof => Err(e.into()),
                (got, written) => {
                    let got = got?;
                    written?;
                    Ok(got)
                }
            }
        }
        Target::Remote(client) => {
            let (len, mut body) = fetch(client, &cmd)?;
            read(len, &mut body)
        }
    }
}

/// A reader that notes whether it reached the end.
struct EofSeen<R> {
    inner: R,
    eof: bool,
}

impl<R: Read> Read for EofSeen<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.eof |= n == 0 && !buf.is_empty();
        Ok(n)
    }
}

/// Opens the node over the repo at `repo`.
pub(crate) fn open(repo: &Path) -> anyhow::Result<Node> {
    Ok(Node::open(repo)?)
}

/// Saves `cfg` as the repo's configuration.
pub(crate) fn save_config(node: &Node, cfg: ferrite_config::Config) -> anyhow::Result<()> {
    node.update_config(|c| {
        *c = cfg;
        Ok::<(), ferrite_node::Error>(())
    })?;
    Ok(())
}
