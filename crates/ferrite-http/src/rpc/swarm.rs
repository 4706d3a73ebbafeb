//! `swarm peers|connect|disconnect|addrs`: the libp2p host's connections.

use super::{json, ApiError, Command, Reply, Req};
use ferrite_node::net::Network;
use ferrite_node::Node;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The `swarm` commands.
pub(super) const COMMANDS: &[Command] = &[
    ("swarm/peers", |n, r| Box::pin(peers(n, r))),
    ("swarm/connect", |n, r| Box::pin(connect(n, r))),
    ("swarm/disconnect", |n, r| Box::pin(disconnect(n, r))),
    ("swarm/addrs", |n, r| Box::pin(addrs(n, r))),
    ("swarm/addrs/local", |n, r| Box::pin(addrs_local(n, r))),
    ("swarm/addrs/listen", |n, r| Box::pin(addrs_listen(n, r))),
];

/// The running network, or Kubo's offline error.
pub(super) fn online(node: &Node) -> Result<&Network, ApiError> {
    node.network().ok_or_else(|| {
        ApiError::internal(
            "this action must be run in online mode, try running 'ferrite daemon' first",
        )
    })
}

fn parse_addr(s: &str) -> Result<ferrite_node::net::Multiaddr, ApiError> {
    s.parse()
        .map_err(|e| ApiError::client(format!("invalid multiaddr {s:?}: {e}")))
}

/// `/api/v0/swarm/peers` → `{"Peers":[{"Addr","Peer","Latency","Muxer","Direction","Streams"}]}`.
pub(super) async fn peers(node: Node, req: Req) -> Reply {
    let net = online(&node)?;
    let verbose = req.bool("verbose", false)?;
    let latency = verbose || req.bool("latency", false)?;
    let direction = verbose || req.bool("direction", false)?;
    let peers: Vec<Value> = net
        .peers()
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .into_iter()
        .map(|p| {
            // Kubo omits the optional fields unless asked for.
            let mut v = json!({ "Addr": p.addr.to_string(), "Peer": p.peer.to_string() });
            if latency {
                v["Latency"] = json!(p.latency.map(|d| format!("{d:?}")).unwrap_or_default());
            }
            if direction {
                v["Direction"] = json!(if p.outbound { 2 } else { 1 });
            }
            v
        })
        .collect();
    Ok(json(
        &json!({ "Peers": if peers.is_empty() { Value::Null } else { Value::Array(peers) } }),
    ))
}

/// `/api/v0/swarm/connect?arg=MA…` → `{"Strings":["connect <peer> success"]}`.
pub(super) async fn connect(node: Node, req: Req) -> Reply {
    let net = online(&node)?;
    if req.args.is_empty() {
        return Err(ApiError::client("argument \"address\" is required"));
    }
    let mut out = Vec::new();
    for a in &req.args {
        let addr = parse_addr(a)?;
        let peer = net
            .connect(addr)
            .await
            .map_err(|e| ApiError::internal(format!("connect {a} {e}")))?;
        out.push(format!("connect {peer} success"));
    }
    Ok(json(&json!({ "Strings": out })))
}

/// `/api/v0/swarm/disconnect?arg=MA…` → `{"Strings":["disconnect <peer> success"]}`.
pub(super) async fn disconnect(node: Node, req: Req) -> Reply {
    let net = online(&node)?;
    if req.args.is_empty() {
        return Err(ApiError::client("argument \"address\" is required"));
    }
    let mut out = Vec::new();
    for a in &req.args {
        let addr = parse_addr(a)?;
        match net.disconnect(addr).await {
            Ok(peer) => out.push(format!("disconnect {peer} success")),
            Err(e) => out.push(format!("disconnect {a} failure: {e}")),
        }
    }
    Ok(json(&json!({ "Strings": out })))
}

/// `/api/v0/swarm/addrs` → `{"Addrs":{"<peer>":["ma",…]}}`.
pub(super) async fn addrs(node: Node, _req: Req) -> Reply {
    let net = online(&node)?;
    let map: BTreeMap<String, Vec<String>> = net
        .known_addrs()
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .into_iter()
        .map(|(p, a)| (p.to_string(), a.iter().map(|m| m.to_string()).collect()))
        .collect();
    Ok(json(&json!({ "Addrs": map })))
}

/// `/api/v0/swarm/addrs/local[?id=true]` → `{"Strings":[…]}` (announced addresses).
pub(super) async fn addrs_local(node: Node, req: Req) -> Reply {
    let net = online(&node)?;
    let with_id = req.bool("id", false)?;
    let (_, announced) = net
        .listen_addrs()
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let id = net.peer_id();
    let v: Vec<String> = announced
        .iter()
        .map(|a| {
            if with_id {
                format!("{a}/p2p/{id}")
            } else {
                a.to_string()
            }
        })
        .collect();
    Ok(json(&json!({ "Strings": v })))
}

/// `/api/v0/swarm/addrs/listen` → `{"Strings":[…]}`.
pub(super) async fn addrs_listen(node: Node, _req: Req) -> Reply {
    let net = online(&node)?;
    let (listen, _) = net
        .listen_addrs()
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let v: Vec<String> = listen.iter().map(|a| a.to_string()).collect();
    Ok(json(&json!({ "Strings": v })))
}
