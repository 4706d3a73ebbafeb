//! End-to-end checks of the REST and Pinning Service APIs against a
//! single-peer cluster over an offline node, through real HTTP on 127.0.0.1.

use std::time::{Duration, Instant};

use ferrite_cluster::api::{pinsvc, rest, BasicAuth};
use ferrite_cluster::{Cluster, ClusterOptions};
use serde_json::Value;

/// `user:pass`.
const BASIC: &str = "Basic dXNlcjpwYXNz";
const BEARER: &str = "Bearer sekrit";
const WAIT: Duration = Duration::from_secs(30);

struct Setup {
    _dir: tempfile::TempDir,
    cluster: Cluster,
    rest: String,
    pinsvc: String,
}

async fn serve(router: axum::Router) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, router).await.unwrap() });
    format!("http://{addr}")
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    ferrite_node::Node::init(&repo, &ferrite_config::Config::init(&["test"]).unwrap()).unwrap();
    let node = ferrite_node::Node::open(&repo).unwrap();
    let opts = ClusterOptions::for_tests(&dir.path().join("cluster"), [7; 32]);
    let cluster = Cluster::start(node, opts).await.unwrap();
    let auth = BasicAuth {
        user: "user".into(),
        password: "pass".into(),
    };
    let rest = serve(rest::router(cluster.clone(), Some(auth))).await;
    let pinsvc = serve(pinsvc::router(cluster.clone(), vec!["sekrit".into()])).await;
    Setup {
        _dir: dir,
        cluster,
        rest,
        pinsvc,
    }
}

/// One HTTP exchange: (status, body).
fn call(
    method: &str,
    url: &str,
    auth: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    if let Some(a) = auth {
        b = b.header("Authorization", a);
    }
    let (ct, data) = body.unwrap_or(("application/octet-stream", Vec::new()));
    let req = b.header("Content-Type", ct).body(data).unwrap();
    let mut r = agent.run(req).unwrap();
    (
        r.status().as_u16(),
        r.body_mut().read_to_string().unwrap_or_default(),
    )
}

fn ndjson(body: &str) -> Vec<Value> {
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn multipart(files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "ferriteTestBoundary";
    let mut body = Vec::new();
    for (name, data) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Polls `f` until it returns true.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Adds `data` through the REST API; returns its CID.
fn rest_add(base: &str, name: &str, data: &[u8], query: &str) -> Value {
    let (ct, body) = multipart(&[(name, data)]);
    let (s, b) = call(
        "POST",
        &format!("{base}/add?{query}"),
        Some(BASIC),
        Some((&ct, body)),
    );
    assert_eq!(s, 200, "{b}");
    b.parse::<Value>()
        .map(|v| if v.is_array() { v[0].clone() } else { v })
        .unwrap_or_else(|_| ndjson(&b).pop().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_rest_end_to_end() {
    let s = setup().await;
    let base = s.rest.clone();
    let peer = s.cluster.peer_id().to_string();
    tokio::task::spawn_blocking(move || {
        // Auth.
        let (st, b) = call("GET", &format!("{base}/id"), None, None);
        assert_eq!(st, 401);
        assert_eq!(b.parse::<Value>().unwrap()["code"], 401);
        let (st, b) = call(
            "GET",
            &format!("{base}/id"),
            Some("Basic d3Jvbmc6eA=="),
            None,
        );
        assert_eq!(st, 401, "{b}");

        // Identity.
        let (st, b) = call("GET", &format!("{base}/id"), Some(BASIC), None);
        assert_eq!(st, 200);
        let id: Value = b.parse().unwrap();
        assert_eq!(id["id"], peer.as_str());
        assert_eq!(id["rpc_protocol_version"], "/ipfscluster/1.0/rpc");
        assert_eq!(id["error"], "");
        let (st, b) = call("GET", &format!("{base}/version"), Some(BASIC), None);
        assert_eq!(st, 200);
        assert!(b.parse::<Value>().unwrap()["version"].is_string());
        let (_, b) = call("GET", &format!("{base}/peers"), Some(BASIC), None);
        let peers = ndjson(&b);
        assert_eq!(peers.len(), 1);
        assert_eq!(peers[0]["id"], peer.as_str());
        let (st, _) = call("GET", &format!("{base}/health"), Some(BASIC), None);
        assert_eq!(st, 204);

        // Add (as @nftstorage/ipfs-cluster does: a JSON array back).
        let added = rest_add(
            &base,
            "hello.txt",
            b"hello cluster",
            "stream-channels=false&cid-version=1&raw-leaves=true&name=greeting&meta-app=test",
        );
        let cid = added["cid"].as_str().unwrap().to_owned();
        assert!(cid.starts_with("bafk"), "{cid}");
        assert_eq!(added["name"], "hello.txt");
        // Replicated everywhere: no explicit allocations, or this peer.
        let allocs = added["allocations"].as_array().unwrap();
        assert!(allocs.is_empty() || allocs[0] == peer.as_str(), "{added}");

        // The pin and its status.
        let (st, b) = call(
            "GET",
            &format!("{base}/allocations/{cid}"),
            Some(BASIC),
            None,
        );
        assert_eq!(st, 200, "{b}");
        let pin: Value = b.parse().unwrap();
        assert_eq!(pin["name"], "greeting");
        assert_eq!(pin["metadata"]["app"], "test");
        assert_eq!(pin["expire_at"], "0001-01-01T00:00:00Z");
        eventually("pinned", || {
            let (_, b) = call("GET", &format!("{base}/pins/{cid}"), Some(BASIC), None);
            let g: Value = b.parse().unwrap();
            g["peer_map"][peer.as_str()]["status"] == "pinned"
        });
        let (_, b) = call(
            "GET",
            &format!("{base}/pins?filter=pinned"),
            Some(BASIC),
            None,
        );
        assert!(ndjson(&b).iter().any(|g| g["cid"] == cid.as_str()));
        let (_, b) = call(
            "GET",
            &format!("{base}/pins?filter=error&cids={cid}"),
            Some(BASIC),
            None,
        );
        assert!(ndjson(&b).is_empty(), "{b}");
        let (st, _) = call(
            "GET",
            &format!("{base}/pins?filter=bogus"),
            Some(BASIC),
            None,
        );
        assert_eq!(st, 400);

        // Re-pin with options.
        let (st, b) = call(
            "POST",
            &format!("{base}/pins/{cid}?name=renamed&expire-in=1h&mode=direct"),
            Some(BASIC),
            None,
        );
        assert_eq!(st, 200, "{b}");
        let pin: Value = b.parse().unwrap();
        assert_eq!(pin["name"], "renamed");
        assert_eq!(pin["mode"], "direct");
        assert_eq!(pin["max_depth"], 0);
        assert_ne!(pin["expire_at"], "0001-01-01T00:00:00Z");
        let (_, b) = call("GET", &format!("{base}/allocations"), Some(BASIC), None);
        assert_eq!(ndjson(&b).len(), 1);

        // Recover, metrics.
        let (st, b) = call(
            "POST",
            &format!("{base}/pins/{cid}/recover"),
            Some(BASIC),
            None,
        );
        assert_eq!(st, 200, "{b}");
        let (st, _) = call("POST", &format!("{base}/pins/recover"), Some(BASIC), None);
        assert_eq!(st, 200);
        let (st, b) = call("GET", &format!("{base}/monitor/metrics"), Some(BASIC), None);
        assert_eq!(st, 200);
        let names: Vec<String> = serde_json::from_str(&b).unwrap();
        if let Some(n) = names.first() {
            let (st, b) = call(
                "GET",
                &format!("{base}/monitor/metrics/{n}"),
                Some(BASIC),
                None,
            );
            assert_eq!(st, 200);
            assert!(b.parse::<Value>().unwrap().is_array());
        }

        // Unpin.
        let (st, b) = call("DELETE", &format!("{base}/pins/{cid}"), Some(BASIC), None);
        assert_eq!(st, 200, "{b}");
        assert_eq!(b.parse::<Value>().unwrap()["cid"], cid.as_str());
        let (st, b) = call(
            "GET",
            &format!("{base}/allocations/{cid}"),
            Some(BASIC),
            None,
        );
        assert_eq!(st, 404);
        assert_eq!(b.parse::<Value>().unwrap()["code"], 404);
        let (st, _) = call("POST", &format!("{base}/pins/notacid"), Some(BASIC), None);
        assert_eq!(st, 400);
        let (st, _) = call("GET", &format!("{base}/nothing"), Some(BASIC), None);
        assert_eq!(st, 404);
    })
    .await
    .unwrap();
    s.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_pinning_service_end_to_end() {
    let s = setup().await;
    let (rest_base, base) = (s.rest.clone(), s.pinsvc.clone());
    tokio::task::spawn_blocking(move || {
        let (st, b) = call("GET", &format!("{base}/pins"), None, None);
        assert_eq!(st, 401);
        assert_eq!(
            b.parse::<Value>().unwrap()["error"]["reason"],
            "UNAUTHORIZED"
        );

        // Content the offline node has: add it (stays unpinned locally
        // until a pin asks for it), then unpin through the cluster.
        let added = rest_add(&rest_base, "a.txt", b"pinning service", "");
        let cid = added["cid"].as_str().unwrap().to_owned();
        let (st, _) = call(
            "DELETE",
            &format!("{rest_base}/pins/{cid}"),
            Some(BASIC),
            None,
        );
        assert_eq!(st, 200);

        let req = format!(r#"{{"cid":"{cid}","name":"ps-pin","meta":{{"app":"t"}}}}"#);
        let (st, b) = call(
            "POST",
            &format!("{base}/pins"),
            Some(BEARER),
            Some(("application/json", req.into_bytes())),
        );
        assert_eq!(st, 202, "{b}");
        let ps: Value = b.parse().unwrap();
        assert_eq!(ps["requestid"], cid.as_str());
        assert_eq!(ps["pin"]["name"], "ps-pin");
        assert!(!ps["delegates"].as_array().unwrap().is_empty());
        assert!(ps["created"].as_str().unwrap().ends_with('Z'));

        eventually("pinned", || {
            let (_, b) = call("GET", &format!("{base}/pins/{cid}"), Some(BEARER), None);
            b.parse::<Value>().unwrap()["status"] == "pinned"
        });
        let (_, b) = call(
            "GET",
            &format!("{base}/pins?name=PS&match=ipartial"),
            Some(BEARER),
            None,
        );
        let list: Value = b.parse().unwrap();
        assert_eq!(list["count"], 1, "{b}");
        assert_eq!(list["results"][0]["pin"]["meta"]["app"], "t");
        let (_, b) = call(
            "GET",
            &format!("{base}/pins?meta=%7B%22app%22%3A%22other%22%7D"),
            Some(BEARER),
            None,
        );
        assert_eq!(b.parse::<Value>().unwrap()["count"], 0);
        let (_, b) = call(
            "GET",
            &format!("{base}/pins?status=queued"),
            Some(BEARER),
            None,
        );
        assert_eq!(b.parse::<Value>().unwrap()["count"], 0);
        let (st, _) = call("GET", &format!("{base}/pins?limit=0"), Some(BEARER), None);
        assert_eq!(st, 400);

        let (st, _) = call("DELETE", &format!("{base}/pins/{cid}"), Some(BEARER), None);
        assert_eq!(st, 202);
        let (st, b) = call("GET", &format!("{base}/pins/{cid}"), Some(BEARER), None);
        assert_eq!(st, 404);
        assert_eq!(b.parse::<Value>().unwrap()["error"]["reason"], "NOT_FOUND");
        let (st, _) = call(
            "POST",
            &format!("{base}/pins"),
            Some(BEARER),
            Some(("application/json", b"{}".to_vec())),
        );
        assert_eq!(st, 400);
    })
    .await
    .unwrap();
    s.cluster.shutdown().await;
}
