//! `dag/put`, `dag/get`, `dag/resolve`, `dag/stat`, `dag/import`,
//! `dag/export`, with Kubo's JSON shapes and content types.

use super::block::{default_hash, file_parts, multipart, parse_cid_arg, CidEnc};
use super::{blocking, json, ndjson_stream, raw_stream, ApiError, Command, Reply, Req};
use crate::body::blocking_stream;
use axum::body::Body;
use ferrite_ipld::dag::{output_codec_from_name, PutOptions};
use ferrite_ipld::Cid;
use ferrite_node::{CarInputs, DagImportOptions, Node};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::io::Write;

/// The commands of this module.
pub(super) const COMMANDS: &[Command] = &[
    ("dag/put", |n, r| Box::pin(put(n, r))),
    ("dag/get", |n, r| Box::pin(get(n, r))),
    ("dag/resolve", |n, r| Box::pin(resolve(n, r))),
    ("dag/stat", |n, r| Box::pin(stat(n, r))),
    ("dag/import", |n, r| Box::pin(import(n, r))),
    ("dag/export", |n, r| Box::pin(export(n, r))),
];

fn cid_link(c: &Cid) -> Value {
    json!({"/": c.to_string()})
}

fn line(v: &Value, out: &mut Vec<u8>) {
    out.extend_from_slice(&serde_json::to_vec(v).expect("json"));
    out.push(b'\n');
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
            line(&json!({"Cid": cid_link(&cid)}), &mut out);
        }
        Ok(out)
    })
    .await?;
    Ok(ndjson_stream(Body::from(out)))
}

/// Kubo reports command failures as plain errors (500), not client errors.
fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
}

/// `/api/v0/dag/get?arg=PATH&output-codec=…` → the encoded node, as
/// `text/plain` raw output (go-ipfs-cmds' type for readers).
pub(super) async fn get(node: Node, req: Req) -> Reply {
    let path = req.arg(0, "ref")?.to_string();
    let codec =
        output_codec_from_name(req.opt("output-codec").unwrap_or("dag-json")).map_err(internal)?;
    let data = blocking(move || node.dag_get(&path, codec).map_err(internal)).await?;
    Ok(raw_stream(Body::from(data), "text/plain", None))
}

/// `/api/v0/dag/resolve?arg=PATH` → `{"Cid":{"/":…},"RemPath":…}`.
pub(super) async fn resolve(node: Node, req: Req) -> Reply {
    let path = req.arg(0, "ref")?.to_string();
    let (cid, rest) = blocking(move || node.dag_resolve(&path).map_err(internal)).await?;
    Ok(json(&json!({"Cid": cid_link(&cid), "RemPath": rest})))
}

/// `DagStatSummary` as Kubo's JSON encoder writes it (zero fields omitted).
#[derive(Default)]
struct Summary {
    /// (cid, size, blocks) per root.
    dags: Vec<(String, u64, u64)>,
    unique_blocks: u64,
    total_size: u64,
    redundant_size: u64,
    ratio: Option<f32>,
}

impl Summary {
    fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        if self.unique_blocks > 0 {
            m.insert("UniqueBlocks".into(), json!(self.unique_blocks));
        }
        if self.total_size > 0 {
            m.insert("TotalSize".into(), json!(self.total_size));
        }
        if let Some(r) = self.ratio {
            let shared = self.redundant_size.saturating_sub(self.total_size);
            if shared > 0 {
                m.insert("SharedSize".into(), json!(shared));
            }
            if r != 0.0 && r.is_finite() {
                m.insert("Ratio".into(), go_float32(r));
            }
        }
        if !self.dags.is_empty() {
            let arr: Vec<Value> = self
                .dags
                .iter()
                .map(|(c, size, n)| {
                    let mut d = serde_json::Map::new();
                    d.insert("Cid".into(), json!(c));
                    if *size > 0 {
                        d.insert("Size".into(), json!(size));
                    }
                    if *n > 0 {
                        d.insert("NumBlocks".into(), json!(n));
                    }
                    Value::Object(d)
                })
                .collect();
            m.insert("DagStats".into(), Value::Array(arr));
        }
        Value::Object(m)
    }
}

/// A float32 as Go's JSON encoder prints it: shortest float32 digits, no
/// `.0` on whole numbers.
fn go_float32(f: f32) -> Value {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        return json!(f as i64);
    }
    let shortest: f64 = f.to_string().parse().unwrap_or(f as f64);
    json!(shortest)
}

/// `/api/v0/dag/stat?arg=CID…` → `DagStatSummary` objects: with `progress`
/// (the default) one per visited block and then the final one, as NDJSON.
pub(super) async fn stat(node: Node, req: Req) -> Reply {
    req.arg(0, "root")?;
    let progress = req.bool("progress", true)?;
    let enc = CidEnc::from_req(&req)?;
    let paths = req.args.clone();
    // Resolve every root before streaming, so a bad path is a plain error.
    let roots = {
        let node = node.clone();
        blocking(move || {
            paths
                .iter()
                .map(|p| {
                    let (cid, rest) = node.dag_resolve(p).map_err(internal)?;
                    if !rest.is_empty() {
                        return Err(ApiError::internal(
                            "cannot return size for anything other than a DAG with a root CID",
                        ));
                    }
                    Ok(cid)
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await?
    };
    let body = blocking_stream(move |w| -> Result<(), String> {
        let mut s = Summary::default();
        let mut all: Option<HashSet<Cid>> = (roots.len() > 1).then(HashSet::new);
        for root in &roots {
            s.dags.push((enc.encode(root), 0, 0));
            let mut io_err = None;
            // Online, missing blocks are fetched first (as `Node::dag_stat`).
            let walked = node.dag_walk(root, &mut |c, data| {
                let n = data.len() as u64;
                let d = s.dags.last_mut().expect("pushed");
                d.1 += n;
                d.2 += 1;
                if all.as_mut().is_none_or(|set| set.insert(*c)) {
                    s.total_size += n;
                }
                s.redundant_size += n;
                if progress {
                    if let Err(e) = emit(w, &s.to_json()) {
                        io_err = Some(e);
                        return Err(std::io::Error::other("client went away"));
                    }
                }
                Ok(())
            });
            if let Some(e) = io_err {
                return Err(e.to_string());
            }
            walked.map_err(|e| format!("error traversing DAG: {e}"))?;
        }
        s.unique_blocks = match &all {
            Some(set) => set.len() as u64,
            None => s.dags.iter().map(|d| d.2).sum(),
        };
        s.ratio = Some(s.redundant_size as f32 / s.total_size as f32);
        emit(w, &s.to_json()).map_err(|e| e.to_string())
    });
    Ok(ndjson_stream(body))
}

fn emit(w: &mut impl Write, v: &Value) -> std::io::Result<()> {
    serde_json::to_writer(&mut *w, v)?;
    w.write_all(b"\n")?;
    w.flush()
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
            line(
                &json!({"Root": {"Cid": cid_link(cid), "PinErrorMsg": msg}}),
                &mut out,
            );
        }
    }
    if stats {
        line(
            &json!({"Stats": {"BlockCount": r.blocks, "BlockBytesCount": r.bytes}}),
            &mut out,
        );
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
