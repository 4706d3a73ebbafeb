//! `add`: multipart/form-data uploads, streamed into the importer.
//!
//! go-ipfs-cmds clients send one part per file, folder (`Content-Type:
//! application/x-directory`, empty body) and symlink (`application/symlink`,
//! the target as body), named by `filename="<url-escaped relative path>"`.
//! The body is never buffered: an async pump parses parts as they arrive and
//! hands each to the blocking importer through channels (file bytes through
//! a channel-backed `Read`), so memory stays at a few chunks whatever the
//! upload's size. That pump is public as [`UploadEntries`] (with
//! [`multipart_boundary`]): ferrite-cluster's `POST /add` reads its uploads
//! with it.
//!
//! Output is Kubo's NDJSON: `{"Name","Hash","Size"}` per `added` row (Size a
//! string) and, with `progress`, `{"Name","Bytes"}` objects every 256 KiB
//! and at the end of each file. Rows are sent only after the blocks are
//! committed and the roots pinned (Kubo sends them during the import), so a
//! client never sees a CID that a crash could lose. Response headers wait
//! for the first output, so errors before it get a proper status.

use super::{ApiError, Route};
use crate::command::{parse_bool, route, yes, Command, Ctx, Emit, Encoding, Upload};
use axum::body::Body;
use bytes::Bytes;
use ferrite_ipld::HashAlg;
use ferrite_node::{AddEntry, AddEntryKind, AddOptions, FileProgress, Node};
use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// The commands of this module.
pub(super) const COMMANDS: &[Route] = &[route::<Add>()];

/// Kubo sends a progress object every this many bytes of a file.
const PROGRESS_STEP: u64 = 256 * 1024;
/// Most bytes the client may send while no part data comes out of the
/// parser: bounds the memory a part's headers (its name) can take.
const MAX_HEADER_BYTES: u64 = 1024 * 1024;
/// Largest symlink target accepted.
const MAX_SYMLINK_TARGET: usize = 64 * 1024;

/// What the parser hands the importer.
enum EntryMsg {
    Entry(AddEntry),
    Fail(ferrite_node::Error),
    End,
}

/// File bytes from the parser.
enum Piece {
    Data(Bytes),
    Fail(io::Error),
    End,
}

/// The request body as multer reads it, one frame per poll: multer drains
/// whatever its stream has ready into its buffer, so without the pause a
/// fast client would fill memory ahead of the importer. Also fails once
/// more than [`MAX_HEADER_BYTES`] came in without the pump seeing part data
/// (a part header that never ends).
struct Guarded {
    inner: std::pin::Pin<Box<axum::body::BodyDataStream>>,
    counted: Arc<AtomicU64>,
    pause: bool,
}

impl futures_util::Stream for Guarded {
    type Item = io::Result<Bytes>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        if self.pause {
            // Let multer parse what it has before reading more.
            self.pause = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let b = match futures_util::ready!(self.inner.as_mut().poll_next(cx)) {
            None => return Poll::Ready(None),
            Some(Err(e)) => {
                return Poll::Ready(Some(Err(io::Error::new(io::ErrorKind::BrokenPipe, e))))
            }
            Some(Ok(b)) => b,
        };
        let seen = self.counted.fetch_add(b.len() as u64, Ordering::Relaxed) + b.len() as u64;
        if seen > MAX_HEADER_BYTES + b.len() as u64 {
            return Poll::Ready(Some(Err(bad_upload(format!(
                "multipart: part headers larger than {MAX_HEADER_BYTES} bytes"
            )))));
        }
        self.pause = true;
        Poll::Ready(Some(Ok(b)))
    }
}

/// Marks an I/O error as the client's fault (a malformed upload), so it is
/// answered with 400 even after passing through the importer.
#[derive(Debug)]
struct BadUpload(String);

impl std::fmt::Display for BadUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadUpload {}

fn bad_upload(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, BadUpload(msg))
}

/// The API error for a failed upload command: malformed uploads are the
/// client's.
pub(super) fn upload_error(e: ferrite_node::Error) -> ApiError {
    bad_upload_of(&e).unwrap_or_else(|| e.into())
}

/// The client's error if `e` is a malformed upload.
pub(super) fn bad_upload_of(e: &ferrite_node::Error) -> Option<ApiError> {
    let ferrite_node::Error::Io(io) = e else {
        return None;
    };
    let bad = io.get_ref()?.downcast_ref::<BadUpload>()?;
    Some(ApiError::client(bad.0.clone()))
}

/// The boundary of a `multipart/form-data` body from its `Content-Type`
/// header value (`""` when there is none), or Kubo's client error (400) for
/// a request without files (`name` is the command's file argument) or
/// without a boundary.
pub fn multipart_boundary(ct: &str, name: &str) -> Result<String, ApiError> {
    let media = ct.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("multipart/form-data") {
        return Err(ApiError::client(format!(
            "file argument '{name}' is required"
        )));
    }
    multer::parse_boundary(ct)
        .map_err(|_| ApiError::client("no multipart boundary param in Content-Type"))
}

/// boxo's part name: the `filename` parameter, URL-unescaped when it is
/// valid escaping (`+` is a space), else taken as is.
fn part_path(raw: &str) -> Result<String, ferrite_node::Error> {
    let spaced = raw.replace('+', " ");
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(&spaced).collect();
    let valid_escapes = raw
        .split('%')
        .skip(1)
        .all(|s| s.len() >= 2 && s.as_bytes()[..2].iter().all(u8::is_ascii_hexdigit));
    if !valid_escapes {
        return Ok(raw.to_owned());
    }
    String::from_utf8(bytes).map_err(|_| {
        ferrite_node::Error::Invalid(format!("{raw:?}: file names must be valid UTF-8"))
    })
}

/// A parser error as an I/O error: the client's fault unless reading the
/// body failed (the client went away, and no message reaches anyone).
fn multipart_error(e: multer::Error) -> io::Error {
    match e {
        multer::Error::StreamReadFailed(inner) => match inner.downcast::<io::Error>() {
            Ok(io) => *io,
            Err(other) => bad_upload(format!("multipart: {other}")),
        },
        other => bad_upload(format!("multipart: {}", other.to_string().to_lowercase())),
    }
}

/// Parses parts as they arrive and hands them to the importer. Stops when
/// the importer stops listening (it failed, or the add is done).
async fn pump(
    mut mp: multer::Multipart<'static>,
    tx: mpsc::Sender<EntryMsg>,
    overflow: Arc<AtomicU64>,
) {
    loop {
        let next = tokio::select! {
            r = mp.next_field() => r,
            _ = tx.closed() => return,
        };
        overflow.store(0, Ordering::Relaxed);
        let mut field = match next {
            Ok(Some(f)) => f,
            Ok(None) => {
                let _ = tx.send(EntryMsg::End).await;
                return;
            }
            Err(e) => {
                let _ = tx
                    .send(EntryMsg::Fail(ferrite_node::Error::Io(multipart_error(e))))
                    .await;
                return;
            }
        };
        let path = match part_path(field.file_name().unwrap_or("")) {
            Ok(p) => p,
            Err(e) => {
                let _ = tx.send(EntryMsg::Fail(e)).await;
                return;
            }
        };
        let media = field
            .content_type()
            .map(|m| m.essence_str().to_ascii_lowercase())
            .unwrap_or_default();
        match media.as_str() {
            "application/x-directory" | "multipart/form-data" => {
                let entry = AddEntry {
                    path,
                    kind: AddEntryKind::Dir,
                };
                if tx.send(EntryMsg::Entry(entry)).await.is_err() {
                    return;
                }
            }
            "application/symlink" => {
                let mut target = Vec::new();
                loop {
                    let chunk = tokio::select! {
                        c = field.chunk() => c,
                        _ = tx.closed() => return,
                    };
                    match chunk {
                        Ok(Some(b)) => {
                            overflow.store(0, Ordering::Relaxed);
                            target.extend_from_slice(&b);
                            if target.len() > MAX_SYMLINK_TARGET {
                                let e = ferrite_node::Error::Invalid(format!(
                                    "symlink target of {path:?} is longer than {MAX_SYMLINK_TARGET} bytes"
                                ));
                                let _ = tx.send(EntryMsg::Fail(e)).await;
                                return;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let _ = tx
                                .send(EntryMsg::Fail(ferrite_node::Error::Io(multipart_error(e))))
                                .await;
                            return;
                        }
                    }
                }
                let kind = AddEntryKind::Symlink(String::from_utf8_lossy(&target).into_owned());
                if tx
                    .send(EntryMsg::Entry(AddEntry { path, kind }))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            _ => {
                let (ptx, prx) = mpsc::channel::<Piece>(16);
                let reader = ChanReader {
                    rx: prx,
                    cur: Bytes::new(),
                    ended: false,
                };
                let entry = AddEntry {
                    path,
                    kind: AddEntryKind::File(Box::new(reader)),
                };
                if tx.send(EntryMsg::Entry(entry)).await.is_err() {
                    return;
                }
                loop {
                    let chunk = tokio::select! {
                        c = field.chunk() => c,
                        _ = ptx.closed() => return,
                    };
                    match chunk {
                        Ok(Some(b)) => {
                            overflow.store(0, Ordering::Relaxed);
                            if ptx.send(Piece::Data(b)).await.is_err() {
                                return;
                            }
                        }
                        Ok(None) => {
                            if ptx.send(Piece::End).await.is_err() {
                                return;
                            }
                            break;
                        }
                        Err(e) => {
                            let _ = ptx.send(Piece::Fail(multipart_error(e))).await;
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// A file part's bytes as an `io::Read` for the blocking importer. A channel
/// closed without [`Piece::End`] is an aborted upload, never a short file.
struct ChanReader {
    rx: mpsc::Receiver<Piece>,
    cur: Bytes,
    ended: bool,
}

impl Read for ChanReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            if self.ended {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Piece::Data(b)) => self.cur = b,
                Some(Piece::End) => self.ended = true,
                Some(Piece::Fail(e)) => return Err(e),
                None => return Err(io::Error::new(io::ErrorKind::BrokenPipe, "upload aborted")),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        bytes::Buf::advance(&mut self.cur, n);
        Ok(n)
    }
}

/// A `multipart/form-data` upload (go-ipfs-cmds' layout, see the module
/// docs) as the entries [`Node::add_entries`] takes, streamed: a Tokio task
/// parses the body as it arrives and hands over one entry at a time, file
/// bytes through a channel-backed [`Read`], so memory stays at a few chunks
/// whatever the upload's size.
///
/// The parser reads one body frame at a time (backpressure) and fails an
/// upload whose part headers exceed 1 MiB or whose symlink target exceeds
/// 64 KiB. Part names are the `filename` parameters, URL-unescaped.
///
/// Errors come as `ferrite_node::Error`: a malformed upload is an
/// `Error::Io` of kind [`io::ErrorKind::InvalidData`] (or
/// `Error::Invalid`, e.g. a non-UTF-8 name), a body that stopped (the
/// client went away) one of kind [`io::ErrorKind::BrokenPipe`]. These errors
/// may also surface from reading a file entry.
///
/// The iterator and the readers block: drive them from a blocking thread
/// (`tokio::task::spawn_blocking`). Dropping the iterator stops the parser.
pub struct UploadEntries {
    rx: mpsc::Receiver<EntryMsg>,
    done: bool,
}

impl UploadEntries {
    /// Starts parsing `body`, a `multipart/form-data` body with `boundary`
    /// (see [`multipart_boundary`]). Must be called within a Tokio runtime:
    /// it spawns the parsing task.
    pub fn new(body: Body, boundary: String) -> Self {
        let overflow = Arc::new(AtomicU64::new(0));
        let stream = Guarded {
            inner: Box::pin(body.into_data_stream()),
            counted: overflow.clone(),
            pause: false,
        };
        let multipart = multer::Multipart::new(stream, boundary);
        let (tx, rx) = mpsc::channel::<EntryMsg>(1);
        tokio::spawn(pump(multipart, tx, overflow));
        Self { rx, done: false }
    }
}

impl Iterator for UploadEntries {
    type Item = ferrite_node::Result<AddEntry>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.rx.blocking_recv() {
            Some(EntryMsg::Entry(e)) => Some(Ok(e)),
            Some(EntryMsg::End) => {
                self.done = true;
                None
            }
            Some(EntryMsg::Fail(e)) => {
                self.done = true;
                Some(Err(e))
            }
            None => {
                self.done = true;
                Some(Err(ferrite_node::Error::Io(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "upload aborted",
                ))))
            }
        }
    }
}

/// Kubo's `AddEvent` with its `omitempty` fields: a progress object
/// (`Name`, `Bytes`) or an added entry (`Name`, `Hash`, `Size`).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddEvent<'a> {
    /// The file's path in the upload (borrowed when written, so progress
    /// objects cost no allocation).
    pub name: std::borrow::Cow<'a, str>,
    /// Its CID, once added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// Bytes of the file read so far (progress objects).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bytes: u64,
    /// The DAG's size, once added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Add files and folders to the repo.
///
/// Rows are sent only after the blocks are committed and the roots pinned
/// (Kubo sends them during the import), so a client never sees a CID that a
/// crash could lose. With `progress`, `{"Name","Bytes"}` objects come every
/// 256 KiB and at the end of each file.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite add hello.txt\n",
    "  ferrite add -r my-folder\n",
    "  ferrite add -Q --cid-version 1 photo.jpg",
))]
pub struct Add {
    /// Files or folders to add; stdin when none.
    #[serde(skip)]
    pub paths: Vec<PathBuf>,
    /// Add folder contents recursively.
    #[arg(short, long)]
    #[serde(default)]
    pub recursive: bool,
    /// Include files whose names start with a dot.
    #[arg(short = 'H', long)]
    #[serde(default)]
    pub hidden: bool,
    /// Wrap files with a directory object.
    #[arg(short = 'w', long = "wrap-with-directory")]
    #[serde(rename = "wrap-with-directory", default)]
    pub wrap: bool,
    /// Only chunk and hash; write nothing to the repo.
    #[arg(short = 'n', long = "only-hash")]
    #[serde(rename = "only-hash", default)]
    pub only_hash: bool,
    /// Pin what is added (`--pin=false` to not pin).
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    #[serde(default = "yes")]
    pub pin: bool,
    /// A name for the pin.
    #[arg(long = "pin-name")]
    #[serde(rename = "pin-name", default)]
    pub pin_name: Option<String>,
    /// Print only CIDs.
    #[arg(short, long)]
    #[serde(default)]
    pub quiet: bool,
    /// Print only the final CID.
    #[arg(short = 'Q', long)]
    #[serde(default)]
    pub quieter: bool,
    /// Print nothing.
    #[arg(long)]
    #[serde(default)]
    pub silent: bool,
    /// Show a progress bar (default when stderr is a terminal).
    #[arg(short, long, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    #[serde(default)]
    pub progress: Option<bool>,
    /// Use the trickle DAG layout.
    #[arg(short, long, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    #[serde(default)]
    pub trickle: Option<bool>,
    /// Chunking algorithm: size-N, rabin[-min-avg-max], buzhash.
    #[arg(short = 's', long)]
    #[serde(default)]
    pub chunker: Option<String>,
    /// Use raw blocks for leaves (default: on with CIDv1).
    #[arg(long = "raw-leaves", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    #[serde(rename = "raw-leaves", default)]
    pub raw_leaves: Option<bool>,
    /// CID version (0 or 1); non-default options imply 1.
    #[arg(long = "cid-version", allow_negative_numbers = true)]
    #[serde(rename = "cid-version", default)]
    pub cid_version: Option<i64>,
    /// Hash function.
    #[arg(long)]
    #[serde(default)]
    pub hash: Option<String>,
    /// Inline small blocks into identity CIDs.
    #[arg(long)]
    #[serde(default)]
    pub inline: bool,
    /// Largest block to inline [default: 32].
    #[arg(long = "inline-limit", allow_negative_numbers = true)]
    #[serde(rename = "inline-limit", default)]
    pub inline_limit: Option<i64>,
    /// Most links of a file node (default: Import.UnixFSFileMaxLinks).
    #[arg(long = "max-file-links", allow_negative_numbers = true)]
    #[serde(rename = "max-file-links", default)]
    pub max_file_links: Option<i64>,
    /// Most links of a folder node before it becomes a HAMT.
    #[arg(long = "max-directory-links", allow_negative_numbers = true)]
    #[serde(rename = "max-directory-links", default)]
    pub max_directory_links: Option<i64>,
    /// Fanout of HAMT folders.
    #[arg(long = "max-hamt-fanout")]
    #[serde(rename = "max-hamt-fanout", default)]
    pub max_hamt_fanout: Option<u64>,
    /// Name to use for data read from stdin.
    #[arg(long = "stdin-name")]
    #[serde(rename = "stdin-name", default)]
    pub stdin_name: Option<String>,
    /// Kubo's filestore option: refused.
    #[arg(skip)]
    #[serde(default)]
    pub nocopy: bool,
    /// Kubo's filestore option: refused.
    #[arg(skip)]
    #[serde(default)]
    pub fscache: bool,
    /// Kubo's metadata option: refused.
    #[arg(skip)]
    #[serde(rename = "preserve-mode", default)]
    pub preserve_mode: bool,
    /// Kubo's metadata option: refused.
    #[arg(skip)]
    #[serde(rename = "preserve-mtime", default)]
    pub preserve_mtime: bool,
    /// Kubo's MFS option: refused.
    #[arg(skip)]
    #[serde(rename = "to-files", default)]
    pub to_files: Option<String>,
    /// Kubo's metadata option: refused.
    #[arg(skip)]
    #[serde(default)]
    pub mode: Option<String>,
    /// Kubo's metadata option: refused.
    #[arg(skip)]
    #[serde(default)]
    pub mtime: Option<String>,
}

impl Add {
    /// The add options, over the repo's `Import.*` defaults.
    pub fn options(&self, node: &Node) -> Result<AddOptions, ApiError> {
        let given = [
            ("nocopy", self.nocopy),
            ("fscache", self.fscache),
            ("preserve-mode", self.preserve_mode),
            ("preserve-mtime", self.preserve_mtime),
            ("to-files", self.to_files.is_some()),
            ("mode", self.mode.is_some()),
            ("mtime", self.mtime.is_some()),
        ];
        if let Some((name, _)) = given.iter().find(|(_, on)| *on) {
            return Err(ApiError::client(format!(
                "option {name:?} is not supported by ferrite"
            )));
        }
        let mut import = node.import_defaults()?;
        if let Some(c) = self.chunker.as_deref().filter(|c| !c.is_empty()) {
            import.chunker = c.parse().map_err(|e| ApiError::client(format!("{e}")))?;
        }
        if let Some(h) = self.hash.as_deref().filter(|h| !h.is_empty()) {
            import.hash = h
                .to_ascii_lowercase()
                .parse::<HashAlg>()
                .map_err(|_| ApiError::client(format!("unrecognized hash function: {h:?}")))?;
        }
        if let Some(v) = self.cid_version {
            if !(0..=1).contains(&v) {
                return Err(ApiError::client(format!("unknown CID version: {v}")));
            }
            import.cid_version = Some(v as u8);
        }
        if self.raw_leaves.is_some() {
            import.raw_leaves = self.raw_leaves;
        }
        if let Some(t) = self.trickle {
            import.trickle = t;
        }
        let count = |name: &str, v: i64| {
            usize::try_from(v).map_err(|_| ApiError::client(format!("invalid {name}: {v}")))
        };
        import.inline = self.inline;
        if let Some(l) = self.inline_limit {
            import.inline_limit = count("inline-limit", l)?;
        }
        if let Some(n) = self.max_file_links {
            import.max_links = count("max-file-links", n)?;
        }
        if let Some(n) = self.max_directory_links {
            import.dir_max_links = count("max-directory-links", n)?;
        }
        if let Some(n) = self.max_hamt_fanout {
            import.hamt_fanout = n;
        }
        import
            .validate()
            .map_err(|e| ApiError::client(e.to_string()))?;
        // --only-hash stores nothing, so there is nothing to pin (Kubo).
        let pin = self.pin && !self.only_hash;
        if self.pin_name.is_some() && !pin {
            return Err(ApiError::client("pin-name option requires pin to be set"));
        }
        // `recursive` and `hidden` were applied by the client when it chose
        // the parts to send; Kubo's server ignores them too.
        Ok(AddOptions {
            import,
            recursive: true,
            hidden: true,
            wrap: self.wrap,
            only_hash: self.only_hash,
            pin,
            pin_name: self.pin_name.clone().unwrap_or_default(),
        })
    }
}

impl Command for Add {
    const PATH: &'static str = "add";
    type Item = AddEvent<'static>;
    const FILES: Option<&'static str> = Some("path");

    fn upload(&self) -> Upload {
        Upload {
            paths: self.paths.clone(),
            tree: true,
            hidden: self.hidden,
            stdin_name: self.stdin_name.clone(),
        }
    }

    fn encoding(&self) -> Encoding {
        Encoding::Stream
    }

    fn run(&self, ctx: &Ctx, emit: Emit<'_, AddEvent<'static>>) -> Result<(), ApiError> {
        let node = ctx.node()?;
        let opts = self.options(node)?;
        let mut files = ctx.files("path")?;
        let progress = self.progress.unwrap_or(false) && !self.silent;
        let mut last: Option<(String, u64)> = None;
        let mut on_progress = |p: FileProgress<'_>| {
            if !progress {
                return;
            }
            let sent = match &last {
                Some((name, bytes)) if name == p.name => Some(*bytes),
                _ => None,
            };
            let due = match sent {
                None => p.done || p.bytes >= PROGRESS_STEP,
                Some(s) => p.bytes >= s + PROGRESS_STEP || (p.done && p.bytes != s),
            };
            if due {
                last = Some((p.name.to_owned(), p.bytes));
                // A client that went away also stops sending; the import
                // then fails on its body.
                let _ = emit(AddEvent {
                    name: p.name.to_owned().into(),
                    hash: None,
                    bytes: p.bytes,
                    size: None,
                });
            }
        };
        let added = node
            .add_entries(&mut files, &opts, &mut on_progress)
            .map_err(upload_error)?;
        if self.silent {
            return Ok(());
        }
        let rows = if self.quieter {
            added.last().map_or(&added[..0], std::slice::from_ref)
        } else {
            &added[..]
        };
        for a in rows {
            emit(AddEvent {
                name: a.name.clone().into(),
                hash: Some(ctx.cids.encode(&a.cid)),
                bytes: 0,
                size: Some(a.size.to_string()),
            })?;
        }
        Ok(())
    }

    fn text(&self, ev: &AddEvent<'static>, out: &mut dyn Write) -> io::Result<()> {
        match &ev.hash {
            None => Ok(()),
            Some(h) if self.quiet || self.quieter => writeln!(out, "{h}"),
            Some(h) => writeln!(out, "added {h} {}", ev.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_are_unescaped() {
        let p = |raw: &str| part_path(raw).unwrap();
        assert_eq!(p("a%20b.txt"), "a b.txt");
        assert_eq!(p("dir%2Ffile"), "dir/file");
        assert_eq!(p("a+b"), "a b");
        assert_eq!(p("100%"), "100%");
        assert_eq!(p("50%zz"), "50%zz");
        assert_eq!(p("plain.txt"), "plain.txt");
        assert!(part_path("%ff").is_err());
    }

    #[test]
    fn boundaries() {
        assert_eq!(
            multipart_boundary("multipart/form-data; boundary=xyz", "path").unwrap(),
            "xyz"
        );
        assert!(multipart_boundary("", "path").is_err());
        assert!(multipart_boundary("application/json", "path").is_err());
        assert!(multipart_boundary("multipart/form-data", "path").is_err());
    }
}
