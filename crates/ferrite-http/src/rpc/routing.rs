//! `routing findprovs|findpeer|provide` (and the older `dht` names).

use super::swarm::online;
use super::{json, ndjson_stream, ApiError, Command, Reply, Req};
use axum::body::Body;
use ferrite_node::{IpfsPath, Node};
use serde_json::json;

/// Kubo's routing event types.
const TYPE_FINAL_PEER: u8 = 2;
const TYPE_PROVIDER: u8 = 4;

/// The `routing` commands.
pub(super) const COMMANDS: &[Command] = &[
    ("routing/findprovs", |n, r| Box::pin(findprovs(n, r))),
    ("routing/findpeer", |n, r| Box::pin(findpeer(n, r))),
    ("routing/provide", |n, r| Box::pin(provide(n, r))),
    ("dht/findprovs", |n, r| Box::pin(findprovs(n, r))),
    ("dht/findpeer", |n, r| Box::pin(findpeer(n, r))),
    ("dht/provide", |n, r| Box::pin(provide(n, r))),
];

/// `/api/v0/routing/findprovs?arg=CID[&num-providers=20]` → NDJSON of
/// `{"Extra":"","ID":"","Responses":[{"Addrs":[…],"ID":"…"}],"Type":4}`.
pub(super) async fn findprovs(node: Node, req: Req) -> Reply {
    let net = online(&node)?.clone();
    let path = IpfsPath::parse(req.arg(0, "key")?).map_err(|e| ApiError::client(e.to_string()))?;
    let n = req.u64("num-providers")?.unwrap_or(20);
    if n == 0 {
        return Err(ApiError::client(
            "number of providers must be greater than 0",
        ));
    }
    let mut rx = net
        .find_providers(path.root, n as usize)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let stream = async_stream(move |tx| async move {
        while let Some(p) = rx.recv().await {
            let ev = json!({
                "Extra": "",
                "ID": "",
                "Responses": [{
                    "Addrs": p.addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                    "ID": p.peer.to_string(),
                }],
                "Type": TYPE_PROVIDER,
            });
            let mut line = serde_json::to_vec(&ev).expect("json");
            line.push(b'\n');
            if tx.send(Ok(line)).await.is_err() {
                break;
            }
        }
    });
    Ok(ndjson_stream(stream))
}

/// `/api/v0/routing/findpeer?arg=PEER` → `{"Responses":[{"ID","Addrs"}],"Type":2}`.
pub(super) async fn findpeer(node: Node, req: Req) -> Reply {
    let net = online(&node)?;
    let s = req.arg(0, "peerID")?;
    let peer: ferrite_node::net::PeerId = s
        .parse()
        .map_err(|e| ApiError::client(format!("invalid peer ID {s:?}: {e}")))?;
    if peer == net.peer_id() {
        return Err(ApiError::internal("cannot look up self"));
    }
    let addrs = net
        .find_peer(peer)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(json(&json!({
        "Extra": "",
        "ID": "",
        "Responses": [{
            "Addrs": addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            "ID": peer.to_string(),
        }],
        "Type": TYPE_FINAL_PEER,
    })))
}

/// `/api/v0/routing/provide?arg=CID…[&recursive]`: announces the CIDs (with
/// `recursive`, every block below them) and answers when records are sent.
pub(super) async fn provide(node: Node, req: Req) -> Reply {
    let net = online(&node)?.clone();
    if req.args.is_empty() {
        return Err(ApiError::client("argument \"key\" is required"));
    }
    let recursive = req.bool("recursive", false)?;
    let mut cids = Vec::new();
    for a in &req.args {
        let cid = ferrite_ipld::parse_cid(a).map_err(|e| ApiError::client(e.to_string()))?;
        let n = node.clone();
        let have = super::blocking(move || {
            n.has_block(&cid)
                .map_err(|e| ApiError::internal(e.to_string()))
        })
        .await?;
        if !have {
            return Err(ApiError::internal(format!(
                "block {cid} not found locally, cannot provide"
            )));
        }
        cids.push(cid);
    }
    if recursive {
        let n = node.clone();
        let roots = cids.clone();
        cids = super::blocking(move || {
            let mut all = Vec::new();
            let paths: Vec<String> = roots.iter().map(|c| c.to_string()).collect();
            all.extend(roots);
            n.offline()
                .refs(
                    &paths,
                    &ferrite_node::RefsOptions {
                        recursive: true,
                        unique: true,
                        max_depth: None,
                    },
                    &mut |r| {
                        all.push(r.dst);
                        Ok(())
                    },
                )
                .map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(all)
        })
        .await?;
    }
    net.provide(cids)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let stream = async_stream(|_tx| async move {});
    Ok(ndjson_stream(stream))
}

/// A streaming body fed by an async producer.
fn async_stream<F, Fut>(f: F) -> Body
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(f(tx));
    Body::from_stream(tokio_stream(rx))
}

fn tokio_stream(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
