//! `version`, `id`, `cat` (a first set; the rest live in their own modules).

use super::{blocking, json, raw_stream, ApiError, Command, Reply, Req};
use crate::body::blocking_stream;
use ferrite_node::{IpfsPath, Node};

/// `version`, `id`, and `cat` (until the files module takes it).
pub(super) const COMMANDS: &[Command] = &[
    ("version", |n, r| Box::pin(version(n, r))),
    ("id", |n, r| Box::pin(id(n, r))),
    ("cat", |n, r| Box::pin(cat(n, r))),
];

/// `/api/v0/version`.
pub async fn version(_node: Node, _req: Req) -> Reply {
    Ok(json(&serde_json::json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "Commit": "",
        "Repo": ferrite_store::repo::REPO_VERSION.to_string(),
        "System": format!("{}/{}", std::env::consts::ARCH, std::env::consts::OS),
        "Golang": "",
    })))
}

/// `/api/v0/id`.
pub async fn id(node: Node, _req: Req) -> Reply {
    let cfg = node.repo().config();
    let id = cfg
        .peer_id()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let public_key = cfg
        .keypair()
        .map(|k| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(k.public().encode_protobuf())
        })
        .unwrap_or_default();
    Ok(json(&serde_json::json!({
        "ID": id,
        "PublicKey": public_key,
        "Addresses": Vec::<String>::new(),
        "AgentVersion": format!("ferrite/{}", env!("CARGO_PKG_VERSION")),
        "Protocols": Vec::<String>::new(),
    })))
}

/// `/api/v0/cat?arg=PATH&offset=N&length=N`.
pub async fn cat(node: Node, req: Req) -> Reply {
    let path = IpfsPath::parse(req.arg(0, "ipfs-path")?).map_err(ApiError::from)?;
    let offset = req.i64("offset")?.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::client(format!(
            "cannot specify negative offset: {offset}"
        )));
    }
    let length = req.i64("length")?;
    if let Some(l) = length {
        if l < 0 {
            return Err(ApiError::client(format!(
                "cannot specify negative length: {l}"
            )));
        }
    }
    let (len, mut reader) = {
        let node = node.clone();
        blocking(move || Ok(node.cat(&path, offset as u64, length.map(|l| l as u64))?)).await?
    };
    let body = blocking_stream(move |w| std::io::copy(&mut reader, w).map(|_| ()));
    Ok(raw_stream(body, "text/plain", Some(len)))
}
