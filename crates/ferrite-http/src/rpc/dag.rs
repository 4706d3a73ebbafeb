//! `dag/put`, `dag/get`, `dag/resolve`, `dag/stat`, `dag/import`,
//! `dag/export`, with Kubo's JSON shapes and content types.

use super::block::{default_hash, file_parts, multipart, parse_cid_arg};
use super::{blocking, ndjson_stream, raw_stream, ApiError, Reply, Req, Route};
use crate::body::blocking_stream;
use crate::command::{parse_bool, required, route, Command, Ctx, Emit, Encoding, Link};
use axum::body::Body;
use ferrite_ipld::dag::{output_codec_from_name, PutOptions};
use ferrite_ipld::Cid;
use ferrite_node::{CarInputs, DagImportOptions, Node};
use serde::{Deserialize, Serialize};

use std::collections::HashSet;
use std::io::{self, Write};

/// The commands of this module.
pub(super) const COMMANDS: &[Route] = &[
    ("dag/put", |n, r| Box::pin(put(n, r))),
    ("dag/get", |n, r| Box::pin(get(n, r))),
    route::<Resolve>(),
    route::<Stat>(),
    ("dag/import", |n, r| Box::pin(import(n, r))),
    ("dag/export", |n, r| Box::pin(export(n, r))),
];

fn cid_link(c: &Cid) -> Link {
    Link { cid: c.to_string() }
}

fn line(v: &impl Serialize, out: &mut Vec<u8>) {
    out.extend_from_slice(&serde_json::to_vec(v).expect("json"));
    out.push(b'\n');
}

/// `dag put`'s answer per node: `{"Cid":{"/":…}}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Put {
    /// The stored node.
    #[serde(rename = "Cid")]
    pub cid: Link,
}

/// One object of `dag import`'s answer.
#[derive(Debug, Serialize, Deserialize)]
pub enum ImportEvent {
    /// A root named in a CAR header, and why it could not be pinned ("" if
    /// pinned).
    Root {
        /// The root.
        #[serde(rename = "Cid")]
        cid: Link,
        /// The pin error.
        #[serde(rename = "PinErrorMsg", default)]
        pin_error: String,
    },
    /// The counts (with `stats`).
    Stats {
        /// Blocks read.
        #[serde(rename = "BlockCount")]
        blocks: u64,
        /// Their bytes.
        #[serde(rename = "BlockBytesCount")]
        bytes: u64,
    },
}

/// `/api/v0/dag/put` (multipart) → `{"Cid":{"/":…}}` per node.
pub(super) async fn put(node: Node, req: Req) -> Reply {
    let store = req.opt("store-codec").unwrap_or("dag-cbor").to_string();
    let input = req.opt("input-codec").unwrap_or("dag-json").to_string();
    // Kubo: no `hash` means `Import.HashFunction`, then sha2-256.
    let hash = match req.opt("hash").filter(|h| !h.is_empty()) {
        Some(h) => h.to_string(),
        None => default_hash(&node),
    };
    let pin = req.bool("pin", false)?;
    let allow_big = req.bool("allow-big-block", false)?;
    let mut opts = PutOptions::from_names(&input, &store, &hash)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    opts.allow_big_block = allow_big;
    let parts = file_parts(req.request, "object data").await?;
    let out = blocking(move || {
        let mut out = Vec::new();
        for data in parts {
            let cid = node.dag_put(&data, &opts, pin).map_err(internal)?;
            line(
                &Put {
                    cid: cid_link(&cid),
                },
                &mut out,
            );
        }
        Ok(out)
    })
    .await?;
    Ok(ndjson_stream(Body::from(out)))
}

// Kubo reports command failures as plain errors (500), not client errors.
use crate::command::fail as internal;

/// `/api/v0/dag/get?arg=PATH&output-codec=…` → the encoded node, as
/// `text/plain` raw output (go-ipfs-cmds' type for readers).
pub(super) async fn get(node: Node, req: Req) -> Reply {
    let path = req.arg(0, "ref")?.to_string();
    let codec =
        output_codec_from_name(req.opt("output-codec").unwrap_or("dag-json")).map_err(internal)?;
    let data = blocking(move || node.dag_get(&path, codec).map_err(internal)).await?;
    Ok(raw_stream(Body::from(data), "text/plain", None))
}

/// Resolve a path to the block it ends in.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(
    after_help = "Examples:\n  ferrite dag resolve bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua/a/b"
)]
pub struct Resolve {
    /// The path.
    #[arg(required = true, value_name = "PATH")]
    #[serde(rename = "arg", default)]
    pub path: Vec<String>,
}

/// `{"Cid":{"/":…},"RemPath":…}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Resolved {
    /// The last block on the path.
    #[serde(rename = "Cid")]
    pub cid: Link,
    /// The rest of the path, inside that block.
    #[serde(rename = "RemPath", default)]
    pub rem_path: String,
}

impl Command for Resolve {
    const PATH: &'static str = "dag/resolve";
    type Item = Resolved;

    fn run(&self, ctx: &Ctx, emit: Emit<'_, Resolved>) -> Result<(), ApiError> {
        required(&self.path, "ref")?;
        let (cid, rest) = ctx.node()?.dag_resolve(&self.path[0]).map_err(internal)?;
        emit(Resolved {
            cid: Link {
                cid: cid.to_string(),
            },
            rem_path: rest,
        })?;
        Ok(())
    }

    fn text(&self, r: &Resolved, out: &mut dyn Write) -> io::Result<()> {
        match r.rem_path.as_str() {
            "" => writeln!(out, "{}", r.cid.cid),
            rest => writeln!(out, "{}/{rest}", r.cid.cid),
        }
    }
}

/// Count the blocks and bytes of DAGs.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite dag stat QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\n",
    "  ferrite dag stat bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua",
))]
pub struct Stat {
    /// Roots.
    #[arg(required = true)]
    #[serde(rename = "arg", default)]
    pub paths: Vec<String>,
    /// Send a summary per visited block (the API's default; the CLI shows
    /// them as a counter).
    #[arg(long, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<bool>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Kubo's `DagStatSummary` as its JSON encoder writes it (zero fields
/// omitted); progress objects carry no `Ratio`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DagStatSummary {
    /// Distinct blocks over all roots.
    #[serde(rename = "UniqueBlocks", default, skip_serializing_if = "is_zero")]
    pub unique_blocks: u64,
    /// Bytes of the distinct blocks.
    #[serde(rename = "TotalSize", default, skip_serializing_if = "is_zero")]
    pub total_size: u64,
    /// Bytes counted more than once.
    #[serde(rename = "SharedSize", default, skip_serializing_if = "is_zero")]
    pub shared_size: u64,
    /// Counted bytes over distinct bytes.
    #[serde(
        rename = "Ratio",
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "go_float32"
    )]
    pub ratio: Option<f32>,
    /// Per root.
    #[serde(rename = "DagStats", default, skip_serializing_if = "Vec::is_empty")]
    pub dags: Vec<DagStat>,
}

/// One root's counts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DagStat {
    /// The root.
    #[serde(rename = "Cid")]
    pub cid: String,
    /// Its bytes.
    #[serde(rename = "Size", default, skip_serializing_if = "is_zero")]
    pub size: u64,
    /// Its blocks.
    #[serde(rename = "NumBlocks", default, skip_serializing_if = "is_zero")]
    pub num_blocks: u64,
}

/// A float32 as Go's JSON encoder prints it: shortest float32 digits, no
/// `.0` on whole numbers.
fn go_float32<S: serde::Serializer>(f: &Option<f32>, s: S) -> Result<S::Ok, S::Error> {
    match f {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => s.serialize_i64(*f as i64),
        Some(f) => s.serialize_f64(f.to_string().parse().unwrap_or(*f as f64)),
        None => s.serialize_none(),
    }
}

impl Command for Stat {
    const PATH: &'static str = "dag/stat";
    type Item = DagStatSummary;

    fn encoding(&self) -> Encoding {
        Encoding::Stream
    }

    /// Every root is resolved before the walk, so a bad path is a plain
    /// error; online, missing blocks are fetched.
    fn run(&self, ctx: &Ctx, emit: Emit<'_, DagStatSummary>) -> Result<(), ApiError> {
        required(&self.paths, "root")?;
        let node = ctx.node()?;
        let progress = self.progress.unwrap_or(true);
        let roots = self
            .paths
            .iter()
            .map(|p| match node.dag_resolve(p).map_err(internal)? {
                (cid, rest) if rest.is_empty() => Ok(cid),
                _ => Err(ApiError::internal(
                    "cannot return size for anything other than a DAG with a root CID",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut s = DagStatSummary::default();
        let mut all: Option<HashSet<Cid>> = (roots.len() > 1).then(HashSet::new);
        let mut redundant = 0;
        for root in &roots {
            s.dags.push(DagStat {
                cid: ctx.cids.encode(root),
                size: 0,
                num_blocks: 0,
            });
            let mut failed = None;
            let walked = node.dag_walk(root, &mut |c, data| {
                let n = data.len() as u64;
                let d = s.dags.last_mut().expect("pushed");
                d.size += n;
                d.num_blocks += 1;
                if all.as_mut().is_none_or(|set| set.insert(*c)) {
                    s.total_size += n;
                }
                redundant += n;
                if progress {
                    if let Err(e) = emit(s.clone()) {
                        failed = Some(e);
                        return Err(io::Error::other("client went away"));
                    }
                }
                Ok(())
            });
            if let Some(e) = failed {
                return Err(e.into());
            }
            walked.map_err(|e| ApiError::internal(format!("error traversing DAG: {e}")))?;
        }
        s.unique_blocks = match &all {
            Some(set) => set.len() as u64,
            None => s.dags.iter().map(|d| d.num_blocks).sum(),
        };
        s.shared_size = redundant.saturating_sub(s.total_size);
        s.ratio =
            Some(redundant as f32 / s.total_size as f32).filter(|r| *r != 0.0 && r.is_finite());
        emit(s)?;
        Ok(())
    }

    /// A progress object (no `Ratio`) while the CLI asked for them.
    fn progress(&self, s: &DagStatSummary) -> Option<(&'static str, u64)> {
        (self.progress == Some(true) && s.ratio.is_none())
            .then(|| ("blocks", s.dags.iter().map(|d| d.num_blocks).sum()))
    }

    fn text(&self, s: &DagStatSummary, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "CID\tBlocks\tSize")?;
        let mut sum = 0;
        for d in &s.dags {
            sum += d.size;
            writeln!(out, "{}\t{}\t{}", d.cid, d.num_blocks, d.size)?;
        }
        writeln!(out, "\nSummary")?;
        writeln!(out, "Total Size: {}", s.total_size)?;
        writeln!(out, "Unique Blocks: {}", s.unique_blocks)?;
        writeln!(out, "Shared Size: {}", sum - s.total_size)?;
        let ratio = if s.total_size == 0 {
            1.0
        } else {
            sum as f64 / s.total_size as f64
        };
        writeln!(out, "Ratio: {ratio:.6}")
    }
}

/// `/api/v0/dag/import` (multipart CAR files) → `{"Root":{"Cid","PinErrorMsg"}}`
/// per header root when pinning, then `{"Stats":{…}}` with `stats`.
///
/// The parts are streamed into one store batch (never held in memory
/// whole); a truncated or corrupt CAR fails the import and stores nothing.
/// Roots are pinned after every file is in, so a DAG may span files; a root
/// whose DAG is incomplete gets a `PinErrorMsg` instead of failing.
pub(super) async fn import(node: Node, req: Req) -> Reply {
    let local_only = req.bool("local-only", false)?;
    let pin_set = req.opt("pin-roots").is_some();
    let mut pin_roots = req.bool("pin-roots", true)?;
    if local_only {
        if pin_set && pin_roots {
            return Err(ApiError::internal(
                "--local-only implies --pin-roots=false and cannot be combined with --pin-roots=true; please drop one of them",
            ));
        }
        pin_roots = false;
    }
    let stats = req.bool("stats", false)?;
    let allow_big = req.bool("allow-big-block", false)?;
    let mut mp = multipart(req.request, "path").await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Part>(8);
    let consumer = tokio::task::spawn_blocking(move || {
        let mut parts = Parts {
            rx,
            buf: bytes::Bytes::new(),
            pending: None,
            done: true,
            started: false,
            failed: None,
        };
        let opts = DagImportOptions {
            pin_roots,
            allow_big_block: allow_big,
        };
        match node.dag_import(&mut parts, opts) {
            Ok(r) => Ok(r),
            // The upload broke: the client's fault, as go-ipfs-cmds says.
            Err(_) if parts.failed.is_some() => {
                Err(ApiError::client(parts.failed.unwrap_or_default()))
            }
            Err(e) => Err(ApiError::internal(e.to_string())),
        }
    });
    let mut any = false;
    // Feed the parts; a send fails only when the import already stopped.
    'parts: loop {
        let mut field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                let _ = tx.send(Part::Failed(e.body_text())).await;
                break;
            }
        };
        if field.content_type() == Some("application/x-directory") {
            continue;
        }
        any = true;
        if tx.send(Part::Start).await.is_err() {
            break;
        }
        loop {
            match field.chunk().await {
                Ok(Some(c)) => {
                    if tx.send(Part::Data(c)).await.is_err() {
                        break 'parts;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.send(Part::Failed(e.body_text())).await;
                    break 'parts;
                }
            }
        }
    }
    drop(tx);
    let r = consumer
        .await
        .map_err(|e| ApiError::internal(format!("task failed: {e}")))??;
    if !any {
        return Err(ApiError::client("file argument 'path' is required"));
    }
    let mut out = Vec::new();
    if pin_roots {
        for (cid, outcome) in &r.roots {
            let msg = outcome.as_ref().err().map_or("", String::as_str);
            let root = ImportEvent::Root {
                cid: cid_link(cid),
                pin_error: msg.to_string(),
            };
            line(&root, &mut out);
        }
    }
    if stats {
        let stats = ImportEvent::Stats {
            blocks: r.blocks,
            bytes: r.bytes,
        };
        line(&stats, &mut out);
    }
    Ok(ndjson_stream(Body::from(out)))
}

/// What the request task sends the import: a new file, its bytes, or the
/// body's failure.
enum Part {
    Start,
    Data(bytes::Bytes),
    Failed(String),
}

/// The multipart stream's files as CAR inputs for [`Node::dag_import`]: a
/// file ends at the next `Start` (kept in `pending`) or when the sender is
/// gone; what the CAR reader left of a file is drained before the next.
struct Parts {
    rx: tokio::sync::mpsc::Receiver<Part>,
    buf: bytes::Bytes,
    pending: Option<Part>,
    /// The current file has ended.
    done: bool,
    started: bool,
    /// The body's failure, when that is what stopped the import.
    failed: Option<String>,
}

impl Parts {
    fn read_part(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if !self.buf.is_empty() {
                let n = out.len().min(self.buf.len());
                out[..n].copy_from_slice(&self.buf.split_to(n));
                return Ok(n);
            }
            if self.done {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Part::Data(b)) => self.buf = b,
                Some(Part::Failed(e)) => {
                    self.failed = Some(e.clone());
                    return Err(std::io::Error::other(e));
                }
                Some(Part::Start) => {
                    self.pending = Some(Part::Start);
                    self.done = true;
                }
                None => self.done = true,
            }
        }
    }
}

/// One file of [`Parts`] as a `Read`.
struct PartReader<'a>(&'a mut Parts);

impl std::io::Read for PartReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        self.0.read_part(out)
    }
}

impl CarInputs for Parts {
    fn next_input(&mut self) -> ferrite_node::Result<Option<Box<dyn std::io::Read + '_>>> {
        if self.started {
            let mut sink = [0u8; 8192];
            while self.read_part(&mut sink)? > 0 {}
        }
        self.started = true;
        let next = match self.pending.take() {
            Some(p) => Some(p),
            None => self.rx.blocking_recv(),
        };
        match next {
            None => Ok(None),
            Some(Part::Failed(e)) => {
                self.failed = Some(e.clone());
                Err(ferrite_node::Error::Invalid(e))
            }
            // Start opens a file (data always follows a Start).
            Some(Part::Start) | Some(Part::Data(_)) => {
                self.done = false;
                Ok(Some(Box::new(PartReader(self))))
            }
        }
    }
}

/// `/api/v0/dag/export?arg=CID` → a CARv1 stream (`application/vnd.ipld.car`).
/// A block missing half-way ends the stream with an `X-Stream-Error` trailer.
pub(super) async fn export(node: Node, req: Req) -> Reply {
    let root = parse_cid_arg(req.arg(0, "root")?)?;
    {
        // Kubo stats the root first, so a missing root is a plain error.
        let node = node.clone();
        blocking(move || node.block_stat(&root).map_err(internal)).await?;
    }
    let body = blocking_stream(move |w| node.dag_export(&root, w).map(|_| ()));
    Ok(raw_stream(body, "application/vnd.ipld.car", None))
}
