//! `pin/add`, `pin/rm`, `pin/ls`, `pin/verify`, `pin/update`.

use super::block::CidEnc;
use super::{blocking, json, ndjson_stream, ApiError, Command, Reply, Req};
use crate::body::blocking_stream;
use ferrite_node::{Node, PinLsType};
use std::io::Write;

/// The commands of this module.
pub(super) const COMMANDS: &[Command] = &[
    ("pin/add", |n, r| Box::pin(add(n, r))),
    ("pin/rm", |n, r| Box::pin(rm(n, r))),
    ("pin/ls", |n, r| Box::pin(ls(n, r))),
    ("pin/verify", |n, r| Box::pin(verify(n, r))),
    ("pin/update", |n, r| Box::pin(update(n, r))),
];

fn paths(req: &Req) -> Result<Vec<String>, ApiError> {
    req.arg(0, "ipfs-path")?;
    Ok(req.args.clone())
}

fn pins_reply(cids: &[ferrite_node::Cid], enc: CidEnc) -> serde_json::Value {
    let pins: Vec<String> = cids.iter().map(|c| enc.encode(c)).collect();
    serde_json::json!({ "Pins": pins })
}

/// `/api/v0/pin/add?arg=PATH…[&recursive=false][&name=N][&progress]`:
/// `{"Pins":[…]}`; with `progress`, the same object as the last line of an
/// NDJSON stream (where Kubo puts `{"Progress":n}` objects before it).
pub(super) async fn add(node: Node, req: Req) -> Reply {
    let enc = CidEnc::from_req(&req)?;
    let paths = paths(&req)?;
    let recursive = req.bool("recursive", true)?;
    let name = req.opt("name").unwrap_or("").to_owned();
    let progress = req.bool("progress", false)?;
    let cids = blocking(move || Ok(node.pin_add(&paths, recursive, &name)?)).await?;
    let reply = pins_reply(&cids, enc);
    if !progress {
        return Ok(json(&reply));
    }
    let mut line = serde_json::to_vec(&reply).expect("json");
    line.push(b'\n');
    Ok(ndjson_stream(axum::body::Body::from(line)))
}

/// `/api/v0/pin/rm?arg=PATH…[&recursive=false]`: `{"Pins":[…]}`.
pub(super) async fn rm(node: Node, req: Req) -> Reply {
    let enc = CidEnc::from_req(&req)?;
    let paths = paths(&req)?;
    let recursive = req.bool("recursive", true)?;
    let cids = blocking(move || Ok(node.pin_rm(&paths, recursive)?)).await?;
    Ok(json(&pins_reply(&cids, enc)))
}

/// `/api/v0/pin/ls[?arg=PATH…][&type=T][&quiet][&names][&stream]`:
/// `{"Keys":{"<cid>":{"Type","Name"}}}`, or with `stream` one
/// `{"Cid","Type"[,"Name"]}` per pin. `quiet` only changes a CLI's text.
pub(super) async fn ls(node: Node, req: Req) -> Reply {
    let enc = CidEnc::from_req(&req)?;
    let ty: PinLsType = req.opt("type").unwrap_or("all").parse()?;
    let names = req.bool("names", false)?;
    let stream = req.bool("stream", false)?;
    req.bool("quiet", false)?;
    let paths = req.args.clone();
    let entries = blocking(move || Ok(node.pin_ls(&paths, ty)?)).await?;
    let name_of = |n: &str| if names { n.to_owned() } else { String::new() };
    if !stream {
        let mut keys = serde_json::Map::new();
        for e in &entries {
            keys.insert(
                enc.encode(&e.cid),
                serde_json::json!({ "Type": e.kind, "Name": name_of(&e.name) }),
            );
        }
        return Ok(json(&serde_json::json!({ "Keys": keys })));
    }
    let mut body = Vec::new();
    for e in &entries {
        let mut obj = serde_json::Map::new();
        obj.insert("Cid".into(), enc.encode(&e.cid).into());
        let name = name_of(&e.name);
        // Kubo's PinLsObject fields are `omitempty`.
        if !name.is_empty() {
            obj.insert("Name".into(), name.into());
        }
        obj.insert("Type".into(), e.kind.clone().into());
        serde_json::to_writer(&mut body, &obj).expect("json");
        body.push(b'\n');
    }
    Ok(ndjson_stream(axum::body::Body::from(body)))
}

/// `/api/v0/pin/verify[?verbose][&quiet]`: NDJSON, one
/// `{"Cid","Ok"[,"BadNodes":[{"Cid","Err"}]]}` per broken recursive pin
/// (every one with `verbose`); `quiet` leaves out the bad nodes.
pub(super) async fn verify(node: Node, req: Req) -> Reply {
    let enc = CidEnc::from_req(&req)?;
    let verbose = req.bool("verbose", false)?;
    let quiet = req.bool("quiet", false)?;
    if verbose && quiet {
        return Err(ApiError::client(
            "the --verbose and --quiet options can not be used at the same time",
        ));
    }
    let body = blocking_stream(move |w| -> Result<(), ferrite_node::Error> {
        for p in node.pin_verify()? {
            let ok = p.bad_nodes.is_empty();
            if ok && !verbose {
                continue;
            }
            let mut obj = serde_json::Map::new();
            obj.insert("Cid".into(), enc.encode(&p.cid).into());
            // `Ok` and `BadNodes` are `omitempty` in Kubo.
            if ok {
                obj.insert("Ok".into(), true.into());
            }
            if !quiet && !ok {
                let bad: Vec<_> = p
                    .bad_nodes
                    .iter()
                    .map(|(c, e)| serde_json::json!({ "Cid": enc.encode(c), "Err": e }))
                    .collect();
                obj.insert("BadNodes".into(), bad.into());
            }
            serde_json::to_writer(&mut *w, &obj).map_err(std::io::Error::from)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    });
    Ok(ndjson_stream(body))
}

/// `/api/v0/pin/update?arg=FROM&arg=TO[&unpin=false]`: `{"Pins":[from,to]}`.
pub(super) async fn update(node: Node, req: Req) -> Reply {
    let enc = CidEnc::from_req(&req)?;
    let from = req.arg(0, "from-path")?.to_owned();
    let to = req.arg(1, "to-path")?.to_owned();
    let unpin = req.bool("unpin", true)?;
    let (f, t) = blocking(move || Ok(node.pin_update(&from, &to, unpin)?)).await?;
    Ok(json(&pins_reply(&[f, t], enc)))
}
