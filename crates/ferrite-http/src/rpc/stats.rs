//! `stats bw`, `stats bitswap` and `bitswap stat|wantlist`.

use super::swarm::online;
use super::{json, Command, Reply, Req};
use ferrite_node::net::BitswapStats;
use ferrite_node::Node;
use serde_json::json;

/// The `stats` and `bitswap` commands.
pub(super) const COMMANDS: &[Command] = &[
    ("stats/bw", |n, r| Box::pin(bw(n, r))),
    ("stats/bitswap", |n, r| Box::pin(bitswap(n, r))),
    ("bitswap/stat", |n, r| Box::pin(bitswap(n, r))),
    ("bitswap/wantlist", |n, r| Box::pin(wantlist(n, r))),
];

/// `/api/v0/stats/bw` → `{"TotalIn","TotalOut","RateIn","RateOut"}`: the
/// transport traffic (see `ferrite_node::net::Bandwidth`).
pub(super) async fn bw(node: Node, _req: Req) -> Reply {
    let net = online(&node)?;
    let bw = net.bandwidth();
    Ok(json(&json!({
        "TotalIn": bw.total_in,
        "TotalOut": bw.total_out,
        "RateIn": bw.rate_in,
        "RateOut": bw.rate_out,
    })))
}

/// The Bitswap counters of an online node.
async fn stats(node: &Node) -> Result<BitswapStats, super::ApiError> {
    online(node)?
        .bitswap_stats()
        .await
        .map_err(|e| super::ApiError::internal(e.to_string()))
}

/// A wantlist as Kubo's `[{"/": cid}]`.
fn cid_links(s: &BitswapStats) -> Vec<serde_json::Value> {
    s.wantlist
        .iter()
        .map(|c| json!({"/": c.to_string()}))
        .collect()
}

/// `/api/v0/stats/bitswap` → Kubo's `stat` object.
pub(super) async fn bitswap(node: Node, _req: Req) -> Reply {
    let s = stats(&node).await?;
    Ok(json(&json!({
        "ProvideBufLen": 0,
        "Wantlist": cid_links(&s),
        "Peers": s.peers.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "BlocksReceived": s.blocks_received,
        "DataReceived": s.data_received,
        "BlocksSent": s.blocks_sent,
        "DataSent": s.data_sent,
        "DupBlksReceived": s.dup_blks_received,
        "DupDataReceived": s.dup_data_received,
        "MessagesReceived": s.messages_received,
    })))
}

/// `/api/v0/bitswap/wantlist` → `{"Keys":[{"/":cid}]}`.
pub(super) async fn wantlist(node: Node, _req: Req) -> Reply {
    let s = stats(&node).await?;
    Ok(json(&json!({ "Keys": cid_links(&s) })))
}
