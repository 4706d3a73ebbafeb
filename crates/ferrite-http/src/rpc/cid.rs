//! `cid/format`, `cid/base32`, `cid/bases`, `cid/codecs`, `cid/hashes`, with
//! Kubo's shapes: `{"CidStr","Formatted","ErrorMsg"}` lines and
//! `[{"Code","Name"}]` lists.

use super::{json, ndjson_stream, ApiError, Command, Reply, Req};
use crate::body::blocking_stream;
use axum::body::Body;
use ferrite_ipld::cidfmt::{CidFormatter, FormatError, IPLD_CODECS, MULTIBASES};
use ferrite_ipld::HashAlg;
use ferrite_node::Node;
use std::io::Write;

/// The commands of this module.
pub(super) const COMMANDS: &[Command] = &[
    ("cid/format", |n, r| Box::pin(format(n, r))),
    ("cid/base32", |n, r| Box::pin(base32(n, r))),
    ("cid/bases", |n, r| Box::pin(bases(n, r))),
    ("cid/codecs", |n, r| Box::pin(codecs(n, r))),
    ("cid/hashes", |n, r| Box::pin(hashes(n, r))),
];

/// `/api/v0/cid/format?arg=CID…&f=…&v=…&mc=…&b=…`.
pub(super) async fn format(_node: Node, req: Req) -> Reply {
    req.arg(0, "cid")?;
    let f = CidFormatter::new(
        Some(req.opt("f").unwrap_or("%s")),
        req.opt("v"),
        req.opt("mc"),
        req.opt("b"),
    )
    .map_err(|e| ApiError::internal(e.to_string()))?;
    emit_cids(&f, &req.args)
}

/// `/api/v0/cid/base32?arg=CID…`: CIDv1 in base32.
pub(super) async fn base32(_node: Node, req: Req) -> Reply {
    req.arg(0, "cid")?;
    emit_cids(&CidFormatter::base32(), &req.args)
}

/// One `{"CidStr","Formatted","ErrorMsg"}` line per CID; a CID that fails
/// only fills its `ErrorMsg`, a bad format string stops the command.
fn emit_cids(f: &CidFormatter, cids: &[String]) -> Reply {
    let mut out = Vec::new();
    for c in cids {
        let (formatted, err) = match f.format(c) {
            Ok(s) => (s, String::new()),
            Err(FormatError::Cid(m)) => (String::new(), m),
            Err(FormatError::BadFormat(m)) if out.is_empty() => {
                return Err(ApiError::internal(m));
            }
            Err(FormatError::BadFormat(m)) => {
                // Lines already went out in Kubo's stream: the error is the trailer.
                let body = blocking_stream(move |w| {
                    w.write_all(&out).map_err(|e| e.to_string())?;
                    Err::<(), _>(m)
                });
                return Ok(ndjson_stream(body));
            }
        };
        let v = serde_json::json!({"CidStr": c, "Formatted": formatted, "ErrorMsg": err});
        out.extend_from_slice(&serde_json::to_vec(&v).expect("json"));
        out.push(b'\n');
    }
    Ok(ndjson_stream(Body::from(out)))
}

/// `/api/v0/cid/bases` → `[{"Code": prefix as a number, "Name"}]`.
pub(super) async fn bases(_node: Node, _req: Req) -> Reply {
    let list: Vec<_> = MULTIBASES
        .iter()
        .map(|(prefix, name, _)| serde_json::json!({"Code": *prefix as u32, "Name": name}))
        .collect();
    Ok(json(&list))
}

/// `/api/v0/cid/codecs` → the IPLD codecs; `supported` keeps those this
/// node encodes or decodes (plus libp2p-key, as Kubo).
pub(super) async fn codecs(_node: Node, req: Req) -> Reply {
    let supported = req.bool("supported", false)?;
    let list: Vec<_> = IPLD_CODECS
        .iter()
        .filter(|(code, _)| {
            !supported
                || *code == ferrite_ipld::codecs::LIBP2P_KEY
                || ferrite_ipld::codec::codec_name(*code).is_some()
        })
        .map(|(code, name)| serde_json::json!({"Code": code, "Name": name}))
        .collect();
    Ok(json(&list))
}

/// `/api/v0/cid/hashes` → the hash functions this node implements.
pub(super) async fn hashes(_node: Node, _req: Req) -> Reply {
    let list: Vec<_> = HashAlg::ALL
        .iter()
        .map(|h| serde_json::json!({"Code": h.code(), "Name": h.name()}))
        .collect();
    Ok(json(&list))
}
