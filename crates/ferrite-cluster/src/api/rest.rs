//! IPFS Cluster's REST API (the shapes of IPFS Cluster 1.x, which
//! `ipfs-cluster-ctl` and `@nftstorage/ipfs-cluster` speak).
//!
//! Lists are NDJSON, one object per line, as IPFS Cluster ≥ 1.0 streams
//! them; errors are `{"code","message"}` with the same HTTP status. The
//! facade answers whole lists, so a stream's errors are known before the
//! first byte and always become a proper status.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use serde_json::json;

pub use super::query::{
    bool_param, expire_at, param, parse_pin_options, pin_options_query, RestError,
};
use super::{comma_list, now_secs, wire, BasicAuth};
use crate::cluster::Cluster;
use crate::pinset::ClusterPin;
use crate::types::{parse_peer_id, GlobalPinInfo, TrackerStatus};

/// IPFS Cluster's RPC protocol version, reported by `/id`.
pub const RPC_PROTOCOL_VERSION: &str = "/ipfscluster/1.0/rpc";
/// The realm IPFS Cluster's REST API names in `WWW-Authenticate`.
pub const AUTH_REALM: &str = "Restricted IPFS Cluster API";

type Reply = Result<Response, RestError>;

/// A JSON response body (newline-terminated, like Go's encoder).
fn json_body(v: &impl serde::Serialize) -> Response {
    ferrite_http::rpc::json(v)
}

/// An NDJSON response of `items` (IPFS Cluster's streaming lists).
fn ndjson<T: serde::Serialize>(items: impl IntoIterator<Item = T>) -> Response {
    let mut buf = Vec::new();
    for v in items {
        serde_json::to_writer(&mut buf, &v).expect("serializable");
        buf.push(b'\n');
    }
    ferrite_http::rpc::ndjson_stream(Body::from(buf))
}

/// The REST API router. With `auth`, every request needs those basic-auth
/// credentials.
pub fn router(cluster: Cluster, auth: Option<BasicAuth>) -> Router {
    let r = routes().with_state(cluster);
    match auth {
        Some(a) => r.layer(axum::middleware::from_fn_with_state(
            Arc::new(a),
            basic_auth,
        )),
        None => r,
    }
}

/// The route table, apart so tests can check it builds (axum panics on
/// conflicting routes) without a cluster.
fn routes() -> Router<Cluster> {
    Router::new()
        .route("/id", get(id))
        .route("/version", get(version))
        .route("/peers", get(peers))
        .route("/peers/{peer}", delete(peer_rm))
        .route("/pins", get(pins))
        .route("/pins/recover", post(recover_all))
        .route("/pins/{cid}", get(pin_status).post(pin_add).delete(pin_rm))
        .route("/pins/{cid}/recover", post(recover))
        .route("/pins/ipfs/{*path}", post(path_pin_add).delete(path_pin_rm))
        .route("/pins/ipns/{*path}", post(path_pin_add).delete(path_pin_rm))
        .route("/pins/ipld/{*path}", post(path_pin_add).delete(path_pin_rm))
        .route("/allocations", get(allocations))
        .route("/allocations/{cid}", get(allocation))
        .route("/add", post(super::add::add))
        .route("/health", get(health))
        .route("/raft", get(raft_status))
        .route("/health/graph", get(health_graph))
        .route("/monitor/metrics", get(metric_names))
        .route("/monitor/metrics/{name}", get(metrics))
        .fallback(|| async { RestError::not_found("not found") })
        .layer(axum::extract::DefaultBodyLimit::disable())
}

/// Rejects requests without the configured credentials, as IPFS Cluster does.
async fn basic_auth(State(auth): State<Arc<BasicAuth>>, req: Request, next: Next) -> Response {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if auth.check(header) {
        return next.run(req).await;
    }
    let mut r = RestError {
        status: StatusCode::UNAUTHORIZED,
        message: "Unauthorized".into(),
    }
    .into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Basic realm=\"Restricted IPFS Cluster API\""),
    );
    r
}

/// Query parameters in order (repeats kept; the last one wins in [`param`]).
type Params = Query<Vec<(String, String)>>;

/// A `filter=` list of statuses: IPFS Cluster's names plus `error` (any
/// error state) and `queued` (pin or unpin queued). Empty = no filter.
pub fn parse_status_filter(s: &str) -> Result<Vec<TrackerStatus>, RestError> {
    let mut out = Vec::new();
    for name in comma_list(s) {
        let add: &[TrackerStatus] = match name.as_str() {
            "error" => &[
                TrackerStatus::ClusterError,
                TrackerStatus::PinError,
                TrackerStatus::UnpinError,
            ],
            "queued" => &[TrackerStatus::PinQueued, TrackerStatus::UnpinQueued],
            other => match TrackerStatus::parse(other) {
                Some(t) => {
                    out.push(t);
                    &[]
                }
                None => {
                    return Err(RestError::bad_request(format!(
                        "invalid filter value: {other}"
                    )))
                }
            },
        };
        out.extend_from_slice(add);
    }
    out.dedup();
    Ok(out)
}

/// Streams the pinset as NDJSON, serialized on a blocking thread in
/// chunks, so the first lines leave while later ones are still being encoded.
fn ndjson_pins(pins: Vec<ClusterPin>) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        for chunk in pins.chunks(1000) {
            let mut buf = Vec::with_capacity(chunk.len() * 512);
            for p in chunk {
                serde_json::to_writer(&mut buf, &wire::Pin::from(p)).expect("serializable");
                buf.push(b'\n');
            }
            if tx.blocking_send(Ok(buf)).is_err() {
                return; // the client went away
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    ferrite_http::rpc::ndjson_stream(Body::from_stream(stream))
}

fn pin(p: &ClusterPin) -> Response {
    json_body(&wire::Pin::from(p))
}

fn global(g: &GlobalPinInfo) -> Response {
    json_body(&wire::GlobalPinInfo::from(g))
}

async fn id(State(c): State<Cluster>) -> Response {
    json_body(&wire::Id::from(&c.id().await))
}

async fn version() -> Response {
    json_body(&json!({"version": crate::cluster::VERSION}))
}

async fn peers(State(c): State<Cluster>) -> Response {
    ndjson(c.peers().await.iter().map(wire::Id::from))
}

async fn peer_rm(State(c): State<Cluster>, Path(peer): Path<String>) -> Reply {
    c.peer_rm(parse_peer_id(&peer)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn pins(State(c): State<Cluster>, Query(q): Params) -> Reply {
    let local = bool_param(&q, "local", false)?;
    let filter = parse_status_filter(param(&q, "filter").unwrap_or(""))?;
    let cids = comma_list(param(&q, "cids").unwrap_or(""));
    let all = c.status_all(local, &filter, &cids).await?;
    Ok(ndjson(all.iter().map(wire::GlobalPinInfo::from)))
}

async fn pin_status(State(c): State<Cluster>, Path(cid): Path<String>, Query(q): Params) -> Reply {
    let local = bool_param(&q, "local", false)?;
    Ok(global(&c.status(&cid, local).await?))
}

async fn pin_add(State(c): State<Cluster>, Path(cid): Path<String>, Query(q): Params) -> Reply {
    let opts = parse_pin_options(&q, now_secs())?;
    Ok(pin(&c.pin(&cid, opts).await?))
}

async fn pin_rm(State(c): State<Cluster>, Path(cid): Path<String>) -> Reply {
    Ok(pin(&c.unpin(&cid).await?))
}

/// The CID an `/ipfs/...` (or `/ipns/...`, `/ipld/...`) path ends in,
/// resolved on the local node as IPFS Cluster does.
async fn resolve_path(c: &Cluster, req_path: &str) -> Result<String, RestError> {
    let path = req_path
        .strip_prefix("/pins")
        .unwrap_or(req_path)
        .to_owned();
    let node = c.ipfs_node().clone();
    tokio::task::spawn_blocking(move || {
        let p = ferrite_node::IpfsPath::parse(&path)
            .map_err(|e| RestError::bad_request(e.to_string()))?;
        node.resolve(&p)
            .map(|cid| cid.to_string())
            .map_err(|e| match e {
                ferrite_node::Error::Invalid(m) | ferrite_node::Error::NoLink(m) => {
                    RestError::bad_request(m)
                }
                other => RestError::internal(other.to_string()),
            })
    })
    .await
    .map_err(|e| RestError::internal(e.to_string()))?
}

async fn path_pin_add(State(c): State<Cluster>, Query(q): Params, req: Request) -> Reply {
    let opts = parse_pin_options(&q, now_secs())?;
    let cid = resolve_path(&c, req.uri().path()).await?;
    Ok(pin(&c.pin(&cid, opts).await?))
}

async fn path_pin_rm(State(c): State<Cluster>, req: Request) -> Reply {
    let cid = resolve_path(&c, req.uri().path()).await?;
    Ok(pin(&c.unpin(&cid).await?))
}

async fn recover(State(c): State<Cluster>, Path(cid): Path<String>, Query(q): Params) -> Reply {
    let local = bool_param(&q, "local", false)?;
    Ok(global(&c.recover(&cid, local).await?))
}

async fn recover_all(State(c): State<Cluster>, Query(q): Params) -> Reply {
    let local = bool_param(&q, "local", false)?;
    let all = c.recover_all(local).await?;
    Ok(ndjson(all.iter().map(wire::GlobalPinInfo::from)))
}

async fn allocations(State(c): State<Cluster>) -> Reply {
    // `filter` (pin, meta-pin, clusterdag, shard) is moot: every pin is a
    // data pin.
    Ok(ndjson_pins(c.allocations().await?))
}

async fn allocation(State(c): State<Cluster>, Path(cid): Path<String>) -> Reply {
    match c.allocation(&cid)? {
        Some(p) => Ok(pin(&p)),
        None => Err(RestError::not_found(format!(
            "cid {cid} is not part of the global state"
        ))),
    }
}

/// Ferrite's addition: this peer's view of the consensus (who leads, how
/// far its log and state are), for operators and for watching a peer catch up.
async fn raft_status(State(c): State<Cluster>) -> Response {
    let m = c.raft().metrics();
    let name = |id: u64| {
        m.nodes
            .get(&id)
            .and_then(|n| crate::cluster::peer_of(&n.addr))
            .map(|p| p.to_string())
            .unwrap_or_else(|| id.to_string())
    };
    json_body(&wire::RaftStatus {
        peer: c.peer_id(),
        state: format!("{:?}", m.state).to_lowercase(),
        leader: m.leader.map(name),
        term: m.term,
        last_log_index: m.last_log_index,
        last_applied: m.last_applied,
        voters: m.voters.iter().map(|v| name(*v)).collect(),
        learners: m.learners.iter().map(|v| name(*v)).collect(),
        tracker: c.tracker_counts(),
    })
}

async fn health() -> StatusCode {
    StatusCode::NO_CONTENT
}

async fn health_graph(State(c): State<Cluster>) -> Response {
    let graph = c.connection_graph().await;
    json_body(&json!({
        "cluster_id": c.peer_id().to_string(),
        "id_to_peername": {},
        "ipfs_links": {},
        "cluster_links": graph,
        "cluster_trust_links": {},
        "cluster_to_ipfs": {},
    }))
}

async fn metric_names(State(c): State<Cluster>) -> Response {
    json_body(&json!(c.metric_names()))
}

async fn metrics(State(c): State<Cluster>, Path(name): Path<String>) -> Response {
    let now = crate::types::now_ns();
    let all: Vec<wire::Metric> = c
        .metrics(&name)
        .iter()
        .map(|m| wire::Metric::new(m, now))
        .collect();
    json_body(&all)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::Value;

    use super::*;
    use crate::node::ClusterError;
    use crate::pinset::PinMode;
    use crate::types::{Metric, PeerInfo, PinInfo, PinOptions};
    use libp2p::PeerId;

    fn pin_json(p: &ClusterPin) -> Value {
        serde_json::to_value(wire::Pin::from(p)).unwrap()
    }

    fn global_json(g: &GlobalPinInfo) -> Value {
        serde_json::to_value(wire::GlobalPinInfo::from(g)).unwrap()
    }

    fn peer_json(p: &PeerInfo) -> Value {
        serde_json::to_value(wire::Id::from(p)).unwrap()
    }

    fn metric_json(m: &Metric, now_ns: u64) -> Value {
        serde_json::to_value(wire::Metric::new(m, now_ns)).unwrap()
    }

    // Real peer IDs where the shapes once used made-up ones.
    const PEER_A: &str = "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp";
    const PEER_C: &str = "12D3KooWHk4d8vbtoJ2Ax5ygxU4YgD9yJmjTjuEF5xXf7rUxJu3W";
    const PEER_P: &str = "12D3KooWKnDdG3iXw9eTFijk3EWSunZcFi54Zka4wmtqtt6rPxc8";
    const PEER_2: &str = "12D3KooWLyp7V7DCnFMHYt5r7tRUmaE1NyuxXZz8ZFrUWYgUhg5W";
    const BAFY: &str = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn pin_json_shape() {
        const ROOT: &str = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
        let mut p = ClusterPin::new(ROOT.parse().unwrap());
        p.name = "n".into();
        p.allocations = vec![PEER_A.parse().unwrap()];
        p.timestamp = 1_714_564_800;
        let v = pin_json(&p);
        assert_eq!(v["cid"], ROOT);
        assert_eq!(v["type"], 2);
        assert_eq!(v["max_depth"], -1);
        assert_eq!(v["mode"], "recursive");
        assert_eq!(v["replication_factor_min"], -1);
        assert_eq!(v["expire_at"], "0001-01-01T00:00:00Z");
        assert_eq!(v["timestamp"], "2024-05-01T12:00:00Z");
        assert_eq!(v["metadata"], Value::Null);
        assert_eq!(v["user_allocations"], Value::Null);
        assert_eq!(v["reference"], Value::Null);
        assert_eq!(v["origins"], json!([]));
        assert_eq!(v["allocations"], json!([PEER_A]));
        p.mode = PinMode::Direct;
        p.expire_at = Some(1_714_564_800);
        p.metadata.insert("k".into(), "v".into());
        let v = pin_json(&p);
        assert_eq!(v["max_depth"], 0);
        assert_eq!(v["mode"], "direct");
        assert_eq!(v["expire_at"], "2024-05-01T12:00:00Z");
        assert_eq!(v["metadata"], json!({"k": "v"}));
    }

    #[test]
    fn global_json_shape() {
        let mut g = GlobalPinInfo {
            cid: BAFY.parse().unwrap(),
            name: "n".into(),
            allocations: vec![],
            metadata: BTreeMap::new(),
            created: 1_714_564_800,
            peer_map: BTreeMap::new(),
        };
        g.peer_map.insert(
            PEER_P.parse().unwrap(),
            PinInfo {
                cid: BAFY.parse().unwrap(),
                peer: PEER_P.parse().unwrap(),
                peername: "alpha".into(),
                ipfs_peer_id: "12D3i".into(),
                ipfs_peer_addresses: vec!["/ip4/127.0.0.1/tcp/4001".into()],
                status: TrackerStatus::PinError,
                timestamp_ms: 1_714_564_800_250,
                error: "boom".into(),
                attempt_count: 3,
            },
        );
        let v = global_json(&g);
        assert_eq!(v["created"], "2024-05-01T12:00:00Z");
        assert_eq!(v["metadata"], Value::Null);
        let p = &v["peer_map"][PEER_P];
        assert_eq!(p["status"], "pin_error");
        assert_eq!(p["peername"], "alpha");
        assert_eq!(p["ipfs_peer_id"], "12D3i");
        assert_eq!(p["timestamp"], "2024-05-01T12:00:00.250Z");
        assert_eq!(p["error"], "boom");
        assert_eq!(p["attempt_count"], 3);
        assert_eq!(p["priority_pin"], false);
        assert_eq!(p["ipfs_peer_addresses"][0], "/ip4/127.0.0.1/tcp/4001");
    }

    #[test]
    fn peer_and_metric_json_shapes() {
        let c: PeerId = PEER_C.parse().unwrap();
        let p = PeerInfo {
            id: c,
            version: "1.1.0".into(),
            peername: "alpha".into(),
            ipfs_id: "12D3i".into(),
            ipfs_addresses: vec!["/ip4/127.0.0.1/tcp/4001/p2p/12D3i".into()],
            cluster_peers: vec![c],
            ..PeerInfo::new(c)
        };
        let v = peer_json(&p);
        assert_eq!(v["id"], PEER_C);
        assert_eq!(v["rpc_protocol_version"], "/ipfscluster/1.0/rpc");
        assert_eq!(v["commit"], "");
        assert_eq!(v["error"], "");
        assert_eq!(v["ipfs"]["id"], "12D3i");
        assert_eq!(v["ipfs"]["error"], "");
        assert_eq!(v["cluster_peers"], json!([PEER_C]));
        assert_eq!(v["addresses"], json!([]));
        let m = Metric {
            name: "freespace".into(),
            peer: c,
            value: "1000".into(),
            weight: 1000,
            expire_ns: 200,
            received_ns: 100,
        };
        let v = metric_json(&m, 150);
        assert_eq!(v["expire"], 200);
        assert_eq!(v["valid"], true);
        assert_eq!(v["received_at"], 100);
        assert_eq!(v["partitionable"], false);
        assert_eq!(v["weight"], 1000);
        assert_eq!(metric_json(&m, 250)["valid"], false);
    }

    #[test]
    fn pin_options_query_round_trips() {
        let mut o = PinOptions {
            name: "a b&c".into(),
            mode: PinMode::Direct,
            replication_min: Some(2),
            replication_max: Some(-1),
            user_allocations: vec![PEER_A.parse().unwrap(), PEER_2.parse().unwrap()],
            expire_at: Some(1_714_564_800),
            ..Default::default()
        };
        o.metadata.insert("k".into(), "v=1".into());
        assert_eq!(parse_pin_options(&pin_options_query(&o), 0).unwrap(), o);
        let d = PinOptions::default();
        assert_eq!(parse_pin_options(&pin_options_query(&d), 0).unwrap(), d);
    }

    #[test]
    fn pin_options_from_query() {
        let o = parse_pin_options(
            &q(&[
                ("name", "hello"),
                ("mode", "direct"),
                ("replication-min", "2"),
                ("replication-max", "3"),
                ("user-allocations", &format!("{PEER_A},{PEER_2}")),
                ("meta-foo", "bar"),
                ("meta-x", "y"),
                ("shard-size", "100"),
                ("origins", "/ip4/1.2.3.4/tcp/1"),
                ("pin-update", "bafyold"),
            ]),
            1000,
        )
        .unwrap();
        assert_eq!(o.name, "hello");
        assert_eq!(o.mode, PinMode::Direct);
        assert_eq!(o.replication_min, Some(2));
        assert_eq!(o.replication_max, Some(3));
        assert_eq!(
            o.user_allocations,
            [PEER_A, PEER_2].map(|p| p.parse::<PeerId>().unwrap())
        );
        assert_eq!(o.metadata.get("foo").map(String::as_str), Some("bar"));
        assert_eq!(o.metadata.len(), 2);
        assert_eq!(o.expire_at, None);

        let d = parse_pin_options(&[], 0).unwrap();
        assert_eq!(d, PinOptions::default());

        let o = parse_pin_options(&q(&[("expire-in", "1h")]), 1000).unwrap();
        assert_eq!(o.expire_at, Some(4600));
        let o = parse_pin_options(&q(&[("expire-at", "2024-05-01T12:00:00Z")]), 0).unwrap();
        assert_eq!(o.expire_at, Some(1_714_564_800));
        let o = parse_pin_options(&q(&[("expire-at", "0001-01-01T00:00:00Z")]), 0).unwrap();
        assert_eq!(o.expire_at, None);
        let o = parse_pin_options(&q(&[("replication", "-1")]), 0).unwrap();
        assert_eq!((o.replication_min, o.replication_max), (Some(-1), Some(-1)));

        for bad in [
            ("mode", "weird"),
            ("replication-min", "x"),
            ("expire-in", "1d"),
            ("expire-at", "tomorrow"),
            ("user-allocations", "p1"),
        ] {
            let e = parse_pin_options(&q(&[bad]), 0).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad:?}");
        }
    }

    #[test]
    fn status_filters() {
        use TrackerStatus::*;
        assert_eq!(parse_status_filter("").unwrap(), vec![]);
        assert_eq!(parse_status_filter("pinned").unwrap(), vec![Pinned]);
        assert_eq!(
            parse_status_filter("error").unwrap(),
            vec![ClusterError, PinError, UnpinError]
        );
        assert_eq!(
            parse_status_filter("queued,pinning").unwrap(),
            vec![PinQueued, UnpinQueued, Pinning]
        );
        assert_eq!(
            parse_status_filter("unexpectedly_unpinned").unwrap(),
            vec![UnexpectedlyUnpinned]
        );
        assert!(parse_status_filter("pinned,bogus").is_err());
    }

    #[test]
    fn params_and_bools() {
        let p = q(&[("local", "true"), ("local", "false"), ("x", "")]);
        assert_eq!(param(&p, "local"), Some("false"));
        assert!(!bool_param(&p, "local", true).unwrap());
        assert!(bool_param(&p, "x", false).unwrap());
        assert!(bool_param(&p, "missing", true).unwrap());
        assert!(bool_param(&q(&[("b", "maybe")]), "b", false).is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn basic_auth_layer() {
        let auth = BasicAuth {
            user: "u".into(),
            password: "p".into(),
        };
        let r = Router::new().route("/x", get(|| async { "ok" })).layer(
            axum::middleware::from_fn_with_state(Arc::new(auth), basic_auth),
        );
        let base = super::super::serve_for_test(r).await;
        let (ok, bad, none) = tokio::task::spawn_blocking(move || {
            let url = format!("{base}/x");
            (
                super::super::get_for_test(&url, Some("Basic dTpw")),
                super::super::get_for_test(&url, Some("Basic dTp4")),
                super::super::get_for_test(&url, None),
            )
        })
        .await
        .unwrap();
        assert_eq!((ok.0, ok.2.as_str()), (200, "ok"));
        for (status, www, body) in [bad, none] {
            assert_eq!(status, 401);
            assert_eq!(
                www.as_deref(),
                Some("Basic realm=\"Restricted IPFS Cluster API\"")
            );
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["code"], 401);
        }
    }

    #[test]
    fn route_table_builds() {
        let _ = routes();
    }

    #[test]
    fn errors_are_cluster_json() {
        let r = RestError::from(ClusterError::NotFound("nope".into())).into_response();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let e = RestError::from(ClusterError::Timeout(std::time::Duration::from_secs(1)));
        assert_eq!(e.status, StatusCode::GATEWAY_TIMEOUT);
    }
}
