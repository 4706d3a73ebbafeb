//! `GET /debug/metrics/prometheus` on the API port: the node's store, pins,
//! GC, Bitswap and network figures, the HTTP servers' request counts and
//! latencies, the process, and a cluster peer's `ipfscluster_*` figures.

mod common;

use common::daemon::{free_port, http, wait_for, Node};
use common::Env;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// `name{labels}` → value, from an OpenMetrics text.
fn parse(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

fn scrape(n: &Node) -> BTreeMap<String, f64> {
    let (status, body) = http(&n.api_addr(), "GET", "/debug/metrics/prometheus", None);
    assert_eq!(status, 200, "{body}");
    assert!(body.ends_with("# EOF\n"), "{body}");
    parse(&body)
}

fn value(m: &BTreeMap<String, f64>, key: &str) -> f64 {
    *m.get(key)
        .unwrap_or_else(|| panic!("no {key} in:\n{}", keys(m)))
}

fn keys(m: &BTreeMap<String, f64>) -> String {
    m.keys().cloned().collect::<Vec<_>>().join("\n")
}

#[test]
fn prometheus_endpoint_reports_node_http_process_and_cluster() {
    let env = Env::new();
    let rest = format!("/ip4/127.0.0.1/tcp/{}", free_port());
    env.ok(&[
        "cluster",
        "init",
        "--new-secret",
        "--listen",
        &format!("/ip4/127.0.0.1/tcp/{}", free_port()),
        "--rest-api",
        &rest,
        "--pinsvc-api",
        &format!("/ip4/127.0.0.1/tcp/{}", free_port()),
    ]);
    let mut n = Node::unstarted(env);
    n.start();

    let cid = n
        .env
        .ok(&["add", "-Q", n.env.write("f", b"metrics").to_str().unwrap()])
        .trim()
        .to_string();
    let (status, body) = http(&n.gateway, "GET", &format!("/ipfs/{cid}"), None);
    assert_eq!((status, body.as_str()), (200, "metrics"));
    let (status, _) = n.post("no/such/command");
    assert_eq!(status, 404);
    n.env.ok(&["repo", "gc"]);
    let (status, body) = n.rest("POST", &format!("/pins/{cid}"));
    assert!(status == 200 || status == 202, "{status} {body}");

    let m = wait_for(Duration::from_secs(20), "the cluster pin to count", || {
        let m = scrape(&n);
        match m.get("ipfscluster_pins") {
            Some(v) if *v == 1.0 => Ok(m),
            _ => Err(keys(&m)),
        }
    });
    // The node.
    assert_eq!(value(&m, "ferrite_pins"), 1.0);
    assert!(value(&m, "ferrite_repo_blocks") >= 1.0);
    assert!(value(&m, "ferrite_repo_live_bytes") >= 7.0);
    assert_eq!(value(&m, "ferrite_gc_runs_total"), 1.0);
    assert_eq!(value(&m, "ferrite_peers"), 0.0);
    assert_eq!(value(&m, "ferrite_bitswap_blocks_received_total"), 0.0);
    assert!(m.contains_key(r#"ferrite_network_bytes_total{direction="in"}"#));
    // The HTTP servers: known endpoints by name, unknown ones as "other".
    assert_eq!(
        value(
            &m,
            r#"ferrite_http_requests_total{server="api",endpoint="add",code="200"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &m,
            r#"ferrite_http_requests_total{server="gateway",endpoint="ipfs",code="200"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &m,
            r#"ferrite_http_requests_total{server="api",endpoint="other",code="404"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &m,
            r#"ferrite_http_request_duration_seconds_count{server="api",endpoint="add"}"#
        ),
        1.0
    );
    // The process.
    assert!(value(&m, "process_resident_memory_bytes") > 1e6);
    assert!(value(&m, "process_open_fds") > 3.0);
    assert!(value(&m, "process_max_fds") >= value(&m, "process_open_fds"));
    assert!(value(&m, "process_start_time_seconds") > 1.7e9);
    assert!(m.contains_key("process_cpu_seconds_total"));
    // The cluster peer: alone, so the leader.
    assert_eq!(value(&m, "ipfscluster_peers"), 1.0);
    assert_eq!(value(&m, "ipfscluster_raft_leader"), 1.0);
    assert!(value(&m, "ipfscluster_raft_term") >= 1.0);
    assert!(value(&m, "ipfscluster_raft_applied_index") >= 1.0);
    assert_eq!(value(&m, "ipfscluster_pins_pin_error"), 0.0);
    wait_for(Duration::from_secs(20), "the pin to be pinned", || {
        let m = scrape(&n);
        match m.get(r#"ipfscluster_tracker_pins{status="pinned"}"#) {
            Some(v) if *v == 1.0 => Ok(()),
            _ => Err(keys(&m)),
        }
    });

    // A scrape is cheap: the median of 21, whole HTTP round trip included.
    let mut times: Vec<Duration> = (0..21)
        .map(|_| {
            let t = Instant::now();
            scrape(&n);
            t.elapsed()
        })
        .collect();
    times.sort();
    assert!(
        times[10] < Duration::from_millis(20),
        "median scrape {:?}",
        times[10]
    );
    n.stop();
}
