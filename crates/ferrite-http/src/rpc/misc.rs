//! `version` and `id` (`shutdown` is handled by the dispatcher).

use super::{json, ApiError, Command, Reply, Req};
use ferrite_node::Node;

/// `version` and `id`.
pub(super) const COMMANDS: &[Command] = &[
    ("version", |n, r| Box::pin(version(n, r))),
    ("id", |n, r| Box::pin(id(n, r))),
];

/// `/api/v0/version`.
pub(super) async fn version(_node: Node, _req: Req) -> Reply {
    Ok(json(&serde_json::json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "Commit": "",
        "Repo": ferrite_node::REPO_VERSION.to_string(),
        "System": format!("{}/{}", std::env::consts::ARCH, std::env::consts::OS),
        "Golang": "",
    })))
}

/// `/api/v0/id[?arg=PEER][&format=…][&peerid-base=…]` → `{"ID","PublicKey",
/// "Addresses","AgentVersion","Protocols"}` for this node (other peers need
/// the network).
pub(super) async fn id(node: Node, req: Req) -> Reply {
    let cfg = node.config();
    let id = cfg
        .peer_id()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    if let Some(other) = req.args.first().filter(|a| **a != id) {
        return other_peer(&node, other).await;
    }
    // Online: the announced addresses, each with our /p2p/ part.
    let (addrs, protocols) = match node.network() {
        Some(net) => {
            let (_, announced) = net
                .listen_addrs()
                .await
                .map_err(|e| ApiError::internal(e.to_string()))?;
            let addrs: Vec<String> = announced.iter().map(|a| format!("{a}/p2p/{id}")).collect();
            (addrs, PROTOCOLS.iter().map(|p| p.to_string()).collect())
        }
        None => (Vec::new(), Vec::new()),
    };
    let public_key = cfg
        .keypair()
        .map(|k| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(k.public().encode_protobuf())
        })
        .unwrap_or_default();
    let shown_id = match req.opt("peerid-base").unwrap_or("b58mh") {
        "b58mh" | "" => id.clone(),
        base => peer_id_in_base(&id, base)?,
    };
    let agent = format!("ferrite/{}", env!("CARGO_PKG_VERSION"));
    if let Some(fmt) = req.opt("format") {
        // Kubo's `--format` placeholders; the result is one JSON string.
        let s = fmt
            .replace("<id>", &shown_id)
            .replace("<aver>", &agent)
            .replace("<pubkey>", &public_key)
            .replace("<addrs>", &addrs.join("\n"))
            .replace("<protocols>", &protocols.join("\n"))
            .replace("\\n", "\n")
            .replace("\\t", "\t");
        return Ok(json(&s));
    }
    Ok(json(&serde_json::json!({
        "ID": shown_id,
        "PublicKey": public_key,
        "Addresses": addrs,
        "AgentVersion": agent,
        "Protocols": protocols,
    })))
}

/// The protocols a running node speaks.
const PROTOCOLS: &[&str] = &[
    "/ipfs/bitswap",
    "/ipfs/bitswap/1.0.0",
    "/ipfs/bitswap/1.1.0",
    "/ipfs/bitswap/1.2.0",
    "/ipfs/id/1.0.0",
    "/ipfs/kad/1.0.0",
    "/ipfs/ping/1.0.0",
];

/// `id PEER`: what routing knows of another peer.
async fn other_peer(node: &Node, other: &str) -> Reply {
    let net = super::swarm::online(node)?;
    let peer: ferrite_node::net::PeerId = other
        .parse()
        .map_err(|e| ApiError::client(format!("invalid peer ID {other:?}: {e}")))?;
    let addrs = net
        .find_peer(peer)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(json(&serde_json::json!({
        "ID": peer.to_string(),
        "PublicKey": "",
        "Addresses": addrs.iter().map(|a| format!("{a}/p2p/{peer}")).collect::<Vec<_>>(),
        "AgentVersion": "",
        "Protocols": Vec::<String>::new(),
    })))
}

/// A peer ID as a CIDv1 (`libp2p-key`) in `base` (`peerid-base=base36`).
fn peer_id_in_base(id: &str, base: &str) -> Result<String, ApiError> {
    use ferrite_ipld::cidfmt;
    let bad = |e: String| ApiError::internal(e);
    let b = cidfmt::multibase_from_name(base).map_err(|e| bad(e.to_string()))?;
    let bytes = ferrite_ipld::multibase::Base::Base58Btc
        .decode(id)
        .map_err(|e| bad(format!("invalid peer ID {id:?}: {e}")))?;
    let mh = ferrite_ipld::Multihash::from_bytes(&bytes)
        .map_err(|e| bad(format!("invalid peer ID {id:?}: {e}")))?;
    let cid = ferrite_ipld::Cid::new_v1(ferrite_ipld::codecs::LIBP2P_KEY, mh);
    cidfmt::encode_cid(&cid, b).map_err(|e| bad(e.to_string()))
}
