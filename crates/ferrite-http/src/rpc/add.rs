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

use super::block::CidEnc;
use super::{ndjson_stream, ApiError, Reply, Req, Route};
use axum::body::Body;
use bytes::Bytes;
use ferrite_ipld::HashAlg;
use ferrite_node::{AddEntry, AddEntryKind, AddOptions, Added, FileProgress, Node};
use http_body::Frame;
use std::convert::Infallible;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// The commands of this module.
pub(super) const COMMANDS: &[Route] = &[("add", |n, r| Box::pin(add(n, r)))];

/// Kubo sends a progress object every this many bytes of a file.
const PROGRESS_STEP: u64 = 256 * 1024;
/// Most bytes the client may send while no part data comes out of the
/// parser: bounds the memory a part's headers (its name) can take.
const MAX_HEADER_BYTES: u64 = 1024 * 1024;
/// Largest symlink target accepted.
const MAX_SYMLINK_TARGET: usize = 64 * 1024;
/// Output lines are batched up to this size.
const OUT_BATCH: usize = 64 * 1024;

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

/// What the importer hands the response body.
enum Out {
    Data(Bytes),
    Fail(ApiError),
}

/// Output switches of `add`.
#[derive(Clone, Copy)]
struct Output {
    progress: bool,
    quieter: bool,
    silent: bool,
}

/// `/api/v0/add`: see the module docs.
pub(super) async fn add(node: Node, req: Req) -> Reply {
    let opts = add_options(&node, &req)?;
    let output = Output {
        progress: req.bool("progress", false)?,
        quieter: req.bool("quieter", false)?,
        silent: req.bool("silent", false)?,
    };
    // `quiet` only changes what a CLI client prints; every row is sent.
    req.bool("quiet", false)?;
    let enc = CidEnc::from_req(&req)?;
    let boundary = request_boundary(&req)?;
    let entries = UploadEntries::new(req.request.into_body(), boundary);

    let (out_tx, mut out_rx) = mpsc::channel::<Out>(16);
    tokio::task::spawn_blocking(move || import(node, opts, output, enc, entries, out_tx));

    // Headers go out with the first output: an error before it is a status.
    let first = match out_rx.recv().await {
        Some(Out::Fail(e)) => return Err(e),
        first => first,
    };
    let stream = futures_util::stream::unfold((first, out_rx), |(pending, mut rx)| async move {
        let item = match pending {
            Some(item) => Some(item),
            None => rx.recv().await,
        };
        let frame = match item? {
            Out::Data(b) => Frame::data(b),
            Out::Fail(e) => {
                let mut trailers = axum::http::HeaderMap::new();
                let msg = e.message.replace(['\r', '\n'], " ");
                if let Ok(v) = axum::http::HeaderValue::from_str(&msg) {
                    trailers.insert("x-stream-error", v);
                }
                Frame::trailers(trailers)
            }
        };
        Some((Ok::<_, Infallible>(frame), (None, rx)))
    });
    Ok(ndjson_stream(Body::new(http_body_util::StreamBody::new(
        stream,
    ))))
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

/// The boundary of the request's `multipart/form-data` body.
fn request_boundary(req: &Req) -> Result<String, ApiError> {
    let ct = req
        .request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    multipart_boundary(ct)
}

/// The boundary of a `multipart/form-data` body from its `Content-Type`
/// header value (`""` when there is none), or Kubo's client error (400) for
/// a request without files or without a boundary.
pub fn multipart_boundary(ct: &str) -> Result<String, ApiError> {
    let media = ct.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("multipart/form-data") {
        return Err(ApiError::client("file argument 'path' is required"));
    }
    multer::parse_boundary(ct)
        .map_err(|_| ApiError::client("no multipart boundary param in Content-Type"))
}

/// Add options from the query, over the repo's `Import.*` defaults.
fn add_options(node: &Node, req: &Req) -> Result<AddOptions, ApiError> {
    let mut import = node.import_defaults()?;
    if let Some(c) = req.opt("chunker").filter(|c| !c.is_empty()) {
        import.chunker = c.parse().map_err(|e| ApiError::client(format!("{e}")))?;
    }
    if let Some(h) = req.opt("hash").filter(|h| !h.is_empty()) {
        import.hash = h
            .to_ascii_lowercase()
            .parse::<HashAlg>()
            .map_err(|_| ApiError::client(format!("unrecognized hash function: {h:?}")))?;
    }
    if let Some(v) = req.i64("cid-version")? {
        if !(0..=1).contains(&v) {
            return Err(ApiError::client(format!("unknown CID version: {v}")));
        }
        import.cid_version = Some(v as u8);
    }
    if req.opt("raw-leaves").is_some() {
        import.raw_leaves = Some(req.bool("raw-leaves", false)?);
    }
    if req.opt("trickle").is_some() {
        import.trickle = req.bool("trickle", false)?;
    }
    import.inline = req.bool("inline", false)?;
    if let Some(l) = req.i64("inline-limit")? {
        import.inline_limit = usize::try_from(l)
            .map_err(|_| ApiError::client(format!("invalid inline-limit: {l}")))?;
    }
    if let Some(n) = req.i64("max-file-links")? {
        import.max_links = usize::try_from(n)
            .map_err(|_| ApiError::client(format!("invalid max-file-links: {n}")))?;
    }
    if let Some(n) = req.i64("max-directory-links")? {
        import.dir_max_links = usize::try_from(n)
            .map_err(|_| ApiError::client(format!("invalid max-directory-links: {n}")))?;
    }
    if let Some(n) = req.u64("max-hamt-fanout")? {
        import.hamt_fanout = n;
    }
    import
        .validate()
        .map_err(|e| ApiError::client(e.to_string()))?;
    for unsupported in ["nocopy", "fscache", "preserve-mode", "preserve-mtime"] {
        if req.bool(unsupported, false)? {
            return Err(ApiError::client(format!(
                "option {unsupported:?} is not supported by ferrite"
            )));
        }
    }
    for unsupported in ["to-files", "mode", "mtime"] {
        if req.opt(unsupported).is_some() {
            return Err(ApiError::client(format!(
                "option {unsupported:?} is not supported by ferrite"
            )));
        }
    }
    let only_hash = req.bool("only-hash", false)?;
    // --only-hash stores nothing, so there is nothing to pin (Kubo).
    let pin = req.bool("pin", true)? && !only_hash;
    let pin_name = req.opt("pin-name").map(str::to_owned);
    if pin_name.is_some() && !pin {
        return Err(ApiError::client("pin-name option requires pin to be set"));
    }
    // `recursive` and `hidden` were applied by the client when it chose the
    // parts to send; Kubo's server ignores them too.
    req.bool("recursive", false)?;
    req.bool("hidden", false)?;
    Ok(AddOptions {
        import,
        recursive: true,
        hidden: true,
        wrap: req.bool("wrap-with-directory", false)?,
        only_hash,
        pin,
        pin_name: pin_name.unwrap_or_default(),
    })
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

fn line(ev: &AddEvent<'_>, buf: &mut Vec<u8>) {
    serde_json::to_writer(&mut *buf, ev).expect("serializable");
    buf.push(b'\n');
}

/// The blocking half: runs the import and writes the output.
fn import(
    node: Node,
    opts: AddOptions,
    output: Output,
    enc: CidEnc,
    mut entries: UploadEntries,
    out: mpsc::Sender<Out>,
) {
    let mut last: Option<(String, u64)> = None;
    let mut progress = |p: FileProgress<'_>| {
        if !output.progress || output.silent {
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
        if !due {
            return;
        }
        let mut buf = Vec::new();
        line(
            &AddEvent {
                name: p.name.into(),
                hash: None,
                bytes: p.bytes,
                size: None,
            },
            &mut buf,
        );
        last = Some((p.name.to_owned(), p.bytes));
        // A client that went away also stops sending; the import then
        // fails on its body.
        let _ = out.blocking_send(Out::Data(Bytes::from(buf)));
    };
    match node.add_entries(&mut entries, &opts, &mut progress) {
        Ok(added) => {
            if !output.silent {
                send_added(&added, output.quieter, enc, &out);
            }
        }
        Err(e) => {
            let _ = out.blocking_send(Out::Fail(upload_error(e)));
        }
    }
}

fn send_added(added: &[Added], quieter: bool, enc: CidEnc, out: &mpsc::Sender<Out>) {
    let rows = if quieter {
        added.last().map_or(&added[..0], std::slice::from_ref)
    } else {
        added
    };
    let mut buf = Vec::with_capacity(OUT_BATCH);
    for a in rows {
        line(
            &AddEvent {
                name: a.name.as_str().into(),
                hash: Some(enc.encode(&a.cid)),
                bytes: 0,
                size: Some(a.size.to_string()),
            },
            &mut buf,
        );
        if buf.len() >= OUT_BATCH {
            let b = Bytes::from(std::mem::take(&mut buf));
            if out.blocking_send(Out::Data(b)).is_err() {
                return;
            }
        }
    }
    if !buf.is_empty() {
        let _ = out.blocking_send(Out::Data(Bytes::from(buf)));
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
            multipart_boundary("multipart/form-data; boundary=xyz").unwrap(),
            "xyz"
        );
        assert!(multipart_boundary("").is_err());
        assert!(multipart_boundary("application/json").is_err());
        assert!(multipart_boundary("multipart/form-data").is_err());
    }
}
