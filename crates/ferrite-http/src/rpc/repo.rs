//! `repo/gc`, `repo/stat`, `repo/verify`, `repo/version`.

use super::{blocking, json, ndjson_stream, Command, Reply, Req};
use crate::body::blocking_stream;
use ferrite_node::{Cid, Node};
use std::io::Write;

/// The commands of this module.
pub(super) const COMMANDS: &[Command] = &[
    ("repo/gc", |n, r| Box::pin(gc(n, r))),
    ("repo/stat", |n, r| Box::pin(stat(n, r))),
    ("repo/verify", |n, r| Box::pin(verify(n, r))),
    ("repo/version", |n, r| Box::pin(version(n, r))),
];

fn ndjson_line(w: &mut impl Write, v: &serde_json::Value) -> std::io::Result<()> {
    serde_json::to_writer(&mut *w, v)?;
    w.write_all(b"\n")
}

/// `/api/v0/repo/gc[?quiet][&silent][&stream-errors]`: NDJSON
/// `{"Key":{"/":"<cid>"}}` per removed block (blocks are named as CIDv1
/// raw, as Kubo names bare multihashes). `quiet` only changes a CLI's text;
/// `silent` sends nothing. A failed collection with `stream-errors` is an
/// `{"Error"}` object, otherwise the stream's error.
pub(super) async fn gc(node: Node, req: Req) -> Reply {
    req.bool("quiet", false)?;
    let silent = req.bool("silent", false)?;
    let stream_errors = req.bool("stream-errors", false)?;
    let body = blocking_stream(move |w| -> Result<(), ferrite_node::Error> {
        let report = match node.gc() {
            Ok(r) => r,
            Err(e) if stream_errors => {
                ndjson_line(w, &serde_json::json!({ "Error": e.to_string() }))?;
                return Err(ferrite_node::Error::Invalid(
                    "encountered errors during gc run".into(),
                ));
            }
            Err(e) => return Err(e),
        };
        if silent {
            return Ok(());
        }
        for mh in report.removed {
            let cid = Cid::new_v1(ferrite_ipld::codecs::RAW, mh);
            ndjson_line(w, &serde_json::json!({ "Key": { "/": cid.to_string() } }))?;
        }
        Ok(())
    });
    Ok(ndjson_stream(body))
}

/// `/api/v0/repo/stat[?size-only][&human]`:
/// `{"RepoSize","StorageMax","NumObjects","RepoPath","Version"}`; with
/// `size-only` the other fields are zero values, as Kubo's. `human` only
/// changes a CLI's text.
pub(super) async fn stat(node: Node, req: Req) -> Reply {
    let size_only = req.bool("size-only", false)?;
    req.bool("human", false)?;
    let s = blocking(move || Ok(node.repo_stat()?)).await?;
    let v = if size_only {
        serde_json::json!({
            "RepoSize": s.repo_size,
            "StorageMax": s.storage_max,
            "NumObjects": 0,
            "RepoPath": "",
            "Version": "",
        })
    } else {
        serde_json::json!({
            "RepoSize": s.repo_size,
            "StorageMax": s.storage_max,
            "NumObjects": s.num_objects,
            "RepoPath": s.repo_path,
            "Version": s.version,
        })
    };
    Ok(json(&v))
}

/// `/api/v0/repo/verify`: NDJSON `{"Msg":"","Progress":n}` as blocks are
/// checked, `{"Msg":"block <cid> was corrupt (…)","Progress":0}` per bad
/// one, then `{"Msg":"verify complete, all blocks validated."}` or the
/// stream error `verify complete, N blocks corrupt`.
pub(super) async fn verify(node: Node, _req: Req) -> Reply {
    let body = blocking_stream(move |w| -> Result<(), ferrite_node::Error> {
        let mut failed: Option<std::io::Error> = None;
        let bad = node.repo_verify(&mut |n| {
            if failed.is_none() {
                if let Err(e) = ndjson_line(w, &serde_json::json!({ "Msg": "", "Progress": n })) {
                    failed = Some(e);
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        for c in &bad {
            let msg = format!("block {c} was corrupt (data does not match its hash)");
            ndjson_line(w, &serde_json::json!({ "Msg": msg, "Progress": 0 }))?;
        }
        if !bad.is_empty() {
            return Err(ferrite_node::Error::Invalid(format!(
                "verify complete, {} blocks corrupt",
                bad.len()
            )));
        }
        ndjson_line(
            w,
            &serde_json::json!({ "Msg": "verify complete, all blocks validated.", "Progress": 0 }),
        )?;
        Ok(())
    });
    Ok(ndjson_stream(body))
}

/// `/api/v0/repo/version`: `{"Version":"<n>"}`.
pub(super) async fn version(_node: Node, req: Req) -> Reply {
    req.bool("quiet", false)?;
    Ok(json(&serde_json::json!({
        "Version": ferrite_node::REPO_VERSION.to_string()
    })))
}
