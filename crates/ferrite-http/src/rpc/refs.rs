//! `refs` and `refs/local`: NDJSON `{"Ref","Err"}` lines, streamed as the
//! DAG is walked.

use super::block::CidEnc;
use super::{blocking, ndjson_stream, ApiError, Command, Reply, Req};
use crate::body::blocking_stream;
use ferrite_node::{IpfsPath, Node, RefsOptions};
use std::io::Write;

/// The commands of this module.
pub(super) const COMMANDS: &[Command] = &[
    ("refs", |n, r| Box::pin(refs(n, r))),
    ("refs/local", |n, r| Box::pin(local(n, r))),
];

fn emit(w: &mut impl Write, r: &str, err: &str) -> std::io::Result<()> {
    serde_json::to_writer(&mut *w, &serde_json::json!({"Ref": r, "Err": err}))?;
    w.write_all(b"\n")
}

/// `/api/v0/refs?arg=PATH…` with `format`, `edges`, `unique`, `recursive`,
/// `max-depth`. Paths are resolved before streaming (a bad one is a plain
/// error); an error during the walk becomes a `{"Ref":"","Err":…}` line,
/// as Kubo emits it.
pub(super) async fn refs(node: Node, req: Req) -> Reply {
    req.arg(0, "ipfs-path")?;
    let unique = req.bool("unique", false)?;
    let recursive = req.bool("recursive", false)?;
    let edges = req.bool("edges", false)?;
    let enc = CidEnc::from_req(&req)?;
    let mut max_depth = req.i64("max-depth")?.unwrap_or(-1);
    let mut format = req.opt("format").unwrap_or("<dst>").to_string();
    if !recursive {
        // Kubo: without -r only the direct refs are written.
        max_depth = 1;
    }
    if edges {
        if format != "<dst>" {
            return Err(ApiError::internal(
                "using format argument with edges is not allowed",
            ));
        }
        format = "<src> -> <dst>".into();
    }
    let paths = req.args.clone();
    {
        let node = node.clone();
        let paths = paths.clone();
        blocking(move || {
            for p in &paths {
                let p = IpfsPath::parse(p).map_err(|e| ApiError::internal(e.to_string()))?;
                node.resolve(&p)
                    .map_err(|e| ApiError::internal(e.to_string()))?;
            }
            Ok(())
        })
        .await?;
    }
    let opts = RefsOptions {
        recursive: max_depth != 1,
        unique,
        max_depth: (max_depth >= 0).then_some(max_depth),
    };
    let body = blocking_stream(move |w| -> std::io::Result<()> {
        let mut io_err = None;
        let walked = node.refs(&paths, &opts, &mut |r| {
            let line = format
                .replace("<src>", &enc.encode(&r.src))
                .replace("<dst>", &enc.encode(&r.dst))
                .replace("<linkname>", &r.name);
            emit(w, &line, "").map_err(|e| {
                let msg = e.to_string();
                io_err = Some(e);
                ferrite_node::Error::Invalid(msg)
            })
        });
        if let Some(e) = io_err {
            return Err(e);
        }
        if let Err(e) = walked {
            emit(w, "", &e.to_string())?;
        }
        w.flush()
    });
    Ok(ndjson_stream(body))
}

/// `/api/v0/refs/local` → every stored block as `{"Ref","Err":""}` (CIDv1
/// raw: the store keeps multihashes, not codecs).
pub(super) async fn local(node: Node, req: Req) -> Reply {
    let enc = CidEnc::from_req(&req)?;
    let body = blocking_stream(move |w| -> Result<(), String> {
        let mut io_err = None;
        node.refs_local(&mut |c| match emit(w, &enc.encode(&c), "") {
            Ok(()) => true,
            Err(e) => {
                io_err = Some(e);
                false
            }
        })
        .map_err(|e| e.to_string())?;
        match io_err {
            Some(e) => Err(e.to_string()),
            None => w.flush().map_err(|e| e.to_string()),
        }
    });
    Ok(ndjson_stream(body))
}
