//! Commands defined once, as go-ipfs-cmds does for Kubo.
//!
//! A [`Command`] is a typed request (its fields are the CLI's flags through
//! `clap` and the API's query options through serde, with Kubo's names) and
//! a typed answer ([`Command::Item`], serialized with Kubo's field names).
//! It is run once, by [`Command::run`] on a [`Ctx`]; the HTTP API serves it
//! with [`route`], and the CLI either runs it in-process or sends it to the
//! daemon and decodes the same typed items (a missing or renamed field is a
//! decode error), then prints them with [`Command::text`]. Adding a command is
//! one type with one `impl Command`, plus its line in the CLI's enum and in
//! the API's table.
//!
//! A command that reads files (`add`, `block put`) names its file argument
//! in [`Command::FILES`] and its paths in [`Command::upload`]: the server
//! hands it the request's `multipart/form-data` parts as [`Ctx::files`], the
//! CLI the same files read from disk. A command whose answer is bytes
//! (`cat`, `get`, `dag export`) is a [`Download`], served by
//! [`route_download`].

pub mod query;

use crate::rpc::{ApiError, Req, Route};
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use ferrite_node::{AddEntry, Cid, Node};
use http_body::Frame;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use tokio::sync::mpsc;

/// How the answer travels over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Exactly one JSON object.
    Single,
    /// NDJSON: one object per item, `X-Chunked-Output: 1`.
    Stream,
    /// An empty body (`config replace`): success is the status.
    Empty,
}

impl Encoding {
    /// A stream when `stream` (a `--stream` or `--progress` option), else
    /// one object.
    pub const fn stream_if(stream: bool) -> Encoding {
        if stream {
            Encoding::Stream
        } else {
            Encoding::Single
        }
    }
}

/// Where a command sends its items: the HTTP body or the CLI's printer.
pub type Emit<'a, T> = &'a mut dyn FnMut(T) -> io::Result<()>;

/// What a command needs to run (Kubo's `doesNotUseRepo` and online-only
/// commands): the CLI runs [`Needs::Nothing`] commands in-process even when
/// a daemon is up, and refuses [`Needs::Network`] ones without a daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Neither repo nor network (`cid format`, `version`).
    Nothing,
    /// The repo.
    Repo,
    /// The running network (`swarm peers`, `routing findprovs`).
    Network,
}

/// Kubo's error for network commands run without a daemon.
pub const OFFLINE: &str =
    "this action must be run in online mode, try running 'ferrite daemon' first";

/// One command of the Kubo RPC API and the CLI.
pub trait Command: Serialize + DeserializeOwned + Send + Sized + 'static {
    /// Its path below `/api/v0/`.
    const PATH: &'static str;
    /// One value of its answer.
    type Item: Serialize + DeserializeOwned + Send + 'static;
    /// What it needs to run.
    const NEEDS: Needs = Needs::Repo;
    /// The name of its file argument, for commands that read files
    /// ([`Ctx::files`]); the API answers a request without a
    /// `multipart/form-data` body with go-ipfs-cmds' "file argument … is
    /// required".
    const FILES: Option<&'static str> = None;

    /// What the CLI sends as the [`FILES`](Self::FILES): these paths, or
    /// stdin when there are none.
    fn upload(&self) -> Upload {
        Upload::default()
    }

    /// One object, or a stream of them.
    fn encoding(&self) -> Encoding {
        Encoding::Single
    }

    /// Does the work, sending each item to `emit` as soon as it is known.
    /// Runs on a thread that may block.
    fn run(&self, ctx: &Ctx, emit: Emit<'_, Self::Item>) -> Result<(), ApiError>;

    /// The CLI's text for one item.
    fn text(&self, item: &Self::Item, out: &mut dyn Write) -> io::Result<()>;

    /// A progress item (`label`, position) the CLI shows on a counter bar
    /// instead of printing it.
    fn progress(&self, _item: &Self::Item) -> Option<(&'static str, u64)> {
        None
    }

    /// Whether `item` reports a failure the CLI must exit non-zero for
    /// (after printing everything).
    fn failed(&self, _item: &Self::Item) -> bool {
        false
    }

    /// The CLI's error when `n` items [`failed`](Self::failed).
    fn failure(&self, n: usize) -> String {
        format!("{n} item(s) failed")
    }
}

/// The files a command reads, in upload order: the CLI's paths read from
/// disk in-process, or the request's `multipart/form-data` parts.
pub type Files = Box<dyn Iterator<Item = ferrite_node::Result<AddEntry>> + Send>;

/// What the CLI uploads for a command's files.
#[derive(Debug, Default, Clone)]
pub struct Upload {
    /// Files (and with [`tree`](Self::tree), folders); stdin when empty.
    pub paths: Vec<PathBuf>,
    /// Folders are sent whole, every entry named by its path below the
    /// argument (`add`); otherwise each path is one file, named by its base
    /// name.
    pub tree: bool,
    /// Include dot-files when walking folders.
    pub hidden: bool,
    /// The name stdin is sent under.
    pub stdin_name: Option<String>,
}

impl Upload {
    /// Each path one file (stdin when none).
    pub fn files(paths: &[PathBuf]) -> Upload {
        Upload {
            paths: paths.to_vec(),
            ..Upload::default()
        }
    }
}

/// What a command runs on.
pub struct Ctx {
    node: Option<Node>,
    files: Mutex<Option<Files>>,
    /// How CIDs are written in answers (`cid-base`, `upgrade-cidv0-in-output`).
    pub cids: CidEnc,
}

impl Ctx {
    /// A context over `node`, with Kubo's default CID text.
    pub fn new(node: Node) -> Self {
        Ctx {
            node: Some(node),
            files: Mutex::new(None),
            cids: CidEnc::default(),
        }
    }

    /// A context without a node, for [`Needs::Nothing`] commands.
    pub fn bare() -> Self {
        Ctx {
            node: None,
            files: Mutex::new(None),
            cids: CidEnc::default(),
        }
    }

    /// The same, with `files` as the command's files.
    pub fn with_files(self, files: Files) -> Self {
        *self.files.lock().expect("not poisoned") = Some(files);
        self
    }

    /// Feeds each file of the command's files to `f` (folders carry
    /// nothing); go-ipfs-cmds' error when there is none.
    pub fn each_file(
        &self,
        name: &str,
        mut f: impl FnMut(Box<dyn io::Read + Send>) -> Result<(), ApiError>,
    ) -> Result<(), ApiError> {
        let mut any = false;
        for entry in self.files(name)? {
            if let ferrite_node::AddEntryKind::File(reader) = entry?.kind {
                any = true;
                f(reader)?;
            }
        }
        if !any {
            return Err(ApiError::client(format!(
                "file argument '{name}' is required"
            )));
        }
        Ok(())
    }

    /// The command's files (once), or go-ipfs-cmds' error for a request
    /// without them.
    pub fn files(&self, name: &str) -> Result<Files, ApiError> {
        self.files
            .lock()
            .expect("not poisoned")
            .take()
            .ok_or_else(|| ApiError::client(format!("file argument '{name}' is required")))
    }

    /// The node.
    pub fn node(&self) -> Result<&Node, ApiError> {
        self.node
            .as_ref()
            .ok_or_else(|| ApiError::internal("this command runs without a repo"))
    }

    /// The running network, or Kubo's offline error.
    pub fn net(&self) -> Result<&ferrite_node::net::Network, ApiError> {
        self.node()?
            .network()
            .ok_or_else(|| ApiError::internal(OFFLINE))
    }

    /// Waits for `f` on the runtime that serves the request (commands run
    /// on its blocking pool).
    pub fn wait<F: std::future::Future>(&self, f: F) -> Result<F::Output, ApiError> {
        // Only the daemon has a runtime, and only it has a network to wait on.
        let rt = tokio::runtime::Handle::try_current().map_err(|_| ApiError::internal(OFFLINE))?;
        Ok(rt.block_on(f))
    }
}

/// How a command prints CIDs: Kubo's `cid-base` and
/// `upgrade-cidv0-in-output` options (a `cid-base` upgrades CIDv0 to v1
/// unless told otherwise; without it CIDs keep their own version, v1 in
/// base32).
#[derive(Debug, Clone, Copy, Default)]
pub struct CidEnc {
    base: Option<ferrite_ipld::multibase::Base>,
    upgrade: bool,
}

impl CidEnc {
    /// Reads the options of `req`.
    pub fn from_req(req: &Req) -> Result<CidEnc, ApiError> {
        let base = match req.opt("cid-base").filter(|b| !b.is_empty()) {
            Some(b) => Some(
                ferrite_ipld::cidfmt::multibase_from_name(b)
                    .map_err(|e| ApiError::internal(e.to_string()))?,
            ),
            None => None,
        };
        let upgrade = req.bool("upgrade-cidv0-in-output", base.is_some())?;
        Ok(CidEnc { base, upgrade })
    }

    /// The CID as text.
    pub fn encode(&self, c: &Cid) -> String {
        let c = if self.upgrade && c.version() == ferrite_ipld::cid::Version::V0 {
            Cid::new_v1(ferrite_ipld::codecs::DAG_PB, *c.hash())
        } else {
            *c
        };
        match (c.version(), self.base) {
            (ferrite_ipld::cid::Version::V1, Some(b)) => {
                ferrite_ipld::cidfmt::encode_cid(&c, b).unwrap_or_else(|_| c.to_string())
            }
            _ => c.to_string(),
        }
    }
}

/// A CID as a link object: `{"/":"<cid>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Link {
    /// The CID's text.
    #[serde(rename = "/")]
    pub cid: String,
}

/// `argument "<name>" is required` unless `args` has at least one value.
pub fn required(args: &[String], name: &str) -> Result<(), ApiError> {
    if args.is_empty() {
        return Err(ApiError::client(format!("argument \"{name}\" is required")));
    }
    Ok(())
}

/// The API route of command `C`, at its [`Command::PATH`].
pub const fn route<C: Command>() -> Route {
    route_at::<C>(C::PATH)
}

/// The API route of command `C` at another of its names (`dht/findprovs`).
pub const fn route_at<C: Command>(path: &'static str) -> Route {
    (path, |node, req| Box::pin(serve::<C>(node, req)))
}

async fn serve<C: Command>(node: Node, req: Req) -> Result<Response, ApiError> {
    let cmd: C = parse(&req)?;
    let mut ctx = Ctx::new(node);
    ctx.cids = CidEnc::from_req(&req)?;
    if let Some(name) = C::FILES {
        let ct = req
            .request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let boundary = crate::rpc::multipart_boundary(ct, name)?;
        let files = crate::rpc::UploadEntries::new(req.request.into_body(), boundary);
        ctx = ctx.with_files(Box::new(files));
    }
    match cmd.encoding() {
        Encoding::Single => {
            let item = crate::rpc::blocking(move || {
                let mut item = None;
                cmd.run(&ctx, &mut |i| {
                    item = Some(i);
                    Ok(())
                })?;
                Ok(item)
            })
            .await?;
            match item {
                Some(i) => Ok(crate::rpc::json(&i)),
                None => Err(ApiError::internal("the command gave no answer")),
            }
        }
        Encoding::Stream => stream(cmd, ctx).await,
        Encoding::Empty => {
            crate::rpc::blocking(move || cmd.run(&ctx, &mut |_| Ok(()))).await?;
            Ok(Response::new(Body::empty()))
        }
    }
}

/// The typed request from the query.
fn parse<C: DeserializeOwned>(req: &Req) -> Result<C, ApiError> {
    let mut options: Vec<(String, Vec<String>)> = req
        .opts
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !req.args.is_empty() {
        options.push(("arg".into(), req.args.clone()));
    }
    query::from_options(options).map_err(|e| ApiError::client(e.0))
}

/// Lines gathered while the client is slow go out in frames of about this
/// size.
const BATCH: usize = 64 * 1024;

/// Runs `cmd` on the blocking pool and streams its items as NDJSON. An error
/// before the first item is a normal error answer; a later one ends the
/// stream with a [`StreamError`](crate::body::StreamError).
async fn stream<C: Command>(cmd: C, ctx: Ctx) -> Result<Response, ApiError> {
    let (tx, mut rx) = mpsc::channel::<Result<Bytes, ApiError>>(16);
    tokio::task::spawn_blocking(move || {
        let gone = || io::Error::new(io::ErrorKind::BrokenPipe, "client went away");
        // Lines go out at once while the client keeps up; while it does not
        // (the channel is full), they gather into bigger frames.
        let mut pending = Vec::new();
        let r = cmd.run(&ctx, &mut |item| {
            serde_json::to_writer(&mut pending, &item).map_err(io::Error::from)?;
            pending.push(b'\n');
            let frame = Bytes::from(std::mem::take(&mut pending));
            if frame.len() >= BATCH {
                return tx.blocking_send(Ok(frame)).map_err(|_| gone());
            }
            match tx.try_send(Ok(frame)) {
                Ok(()) => Ok(()),
                Err(mpsc::error::TrySendError::Full(Ok(frame))) => {
                    pending = Vec::from(frame);
                    Ok(())
                }
                Err(_) => Err(gone()),
            }
        });
        if !pending.is_empty() && tx.blocking_send(Ok(pending.into())).is_err() {
            return;
        }
        if let Err(e) = r {
            let _ = tx.blocking_send(Err(e));
        }
    });
    let first = match rx.recv().await {
        Some(Err(e)) => return Err(e),
        first => first,
    };
    let frames = futures_util::stream::unfold((first, rx), |(next, mut rx)| async move {
        let frame = next?
            .map(Frame::data)
            .map_err(|e| crate::body::StreamError::new(&e.message));
        let next = rx.recv().await;
        Some((frame, (next, rx)))
    });
    Ok(crate::rpc::ndjson_stream(crate::body::stream_body(frames)))
}

/// A command whose answer is bytes (`cat`, `block get`, `dag export`, `get`'s
/// tar stream). Served with [`route_download`]; the CLI reads the same bytes
/// in-process or from the daemon.
pub trait Download: Serialize + DeserializeOwned + Send + Sized + 'static {
    /// Its path below `/api/v0/`.
    const PATH: &'static str;
    /// The answer's `Content-Type`.
    const CONTENT_TYPE: &'static str = "application/octet-stream";

    /// Checks the request and opens the answer. An error here is an error
    /// answer; one from the [`Answer`]'s writer, after bytes went out, ends
    /// the stream with a [`StreamError`](crate::body::StreamError). Runs on
    /// a thread that may block.
    fn open(self, ctx: &Ctx) -> Result<Answer, ApiError>;
}

/// Writes an answer's bytes.
pub type Writer = Box<dyn FnOnce(&mut dyn Write) -> Result<(), ApiError> + Send>;

/// An opened [`Download`].
pub struct Answer {
    /// Its length when known ahead (`X-Content-Length`, the CLI's progress
    /// bar).
    pub len: Option<u64>,
    /// Its `Content-Type` when not the command's
    /// [`CONTENT_TYPE`](Download::CONTENT_TYPE).
    pub content_type: Option<&'static str>,
    /// Writes it.
    pub write: Writer,
}

/// The API route of the download `C`.
pub const fn route_download<C: Download>() -> Route {
    (C::PATH, |node, req| {
        Box::pin(serve_download::<C>(node, req))
    })
}

async fn serve_download<C: Download>(node: Node, req: Req) -> Result<Response, ApiError> {
    let cmd: C = parse(&req)?;
    let ctx = Ctx::new(node);
    let answer = crate::rpc::blocking(move || cmd.open(&ctx)).await?;
    let content_type = answer.content_type.unwrap_or(C::CONTENT_TYPE);
    let body = crate::body::blocking_stream(move |w| (answer.write)(w));
    Ok(crate::rpc::raw_stream(body, content_type, answer.len))
}

/// Parses Kubo-style booleans given as `--flag=VALUE` on the command line.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "true" | "1" | "yes" | "" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!("{s:?} is not a boolean (true/false)")),
    }
}

/// serde's default for options that are on unless turned off.
pub fn yes() -> bool {
    true
}

/// Reads a value Go may send as `null` (an empty list or map) as its default.
pub fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + serde::Deserialize<'de>,
{
    use serde::Deserialize;
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// An internal error with `e`'s text (network and other non-node errors).
pub fn fail(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
}

/// The CLI text of the answer `json` to `c` (for the text encoders' tests).
#[cfg(test)]
pub(crate) fn text_of<C: Command>(c: &C, json: &str) -> String {
    let item: C::Item = serde_json::from_str(json).expect("decodes");
    let mut out = Vec::new();
    c.text(&item, &mut out).expect("writes");
    String::from_utf8(out).expect("utf-8")
}
