//! The built-in cluster with real processes: every peer is a `ferrite daemon`
//! on a `--profile test` repo that got `ferrite cluster init`, all on
//! 127.0.0.1. The tests drive the cluster REST API (IPFS Cluster's), the
//! `ferrite cluster` CLI and each node's RPC API.

mod common;
use common::daemon::{free_port, wait_for, Node};
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Fast metrics so new peers become allocation candidates within a second.
const FAST: &[(&str, &str)] = &[("Cluster.MonitorPingInterval", "\"1s\"")];

/// `ferrite cluster init` on a fresh repo with fixed free ports (a restarted
/// peer must come back on the address the others have in the membership),
/// then `config --json` for each of `tune`; the daemon is not started.
/// Returns the node and the secret `init` printed.
fn cluster_peer(
    name: &str,
    secret: Option<&str>,
    bootstrap: Option<&str>,
    tune: &[(&str, &str)],
) -> (Node, String) {
    let env = Env::new();
    let listen = format!("/ip4/127.0.0.1/tcp/{}", free_port());
    let rest = format!("/ip4/127.0.0.1/tcp/{}", free_port());
    let pinsvc = format!("/ip4/127.0.0.1/tcp/{}", free_port());
    let mut args = vec![
        "cluster",
        "init",
        "--peer-name",
        name,
        "--listen",
        &listen,
        "--rest-api",
        &rest,
        "--pinsvc-api",
        &pinsvc,
    ];
    match secret {
        Some(s) => args.extend(["--secret", s]),
        None => args.push("--new-secret"),
    }
    if let Some(b) = bootstrap {
        args.extend(["--bootstrap", b]);
    }
    let out = env.ok(&args);
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("cluster secret: "))
        .unwrap_or_else(|| panic!("no secret in: {out}"))
        .trim()
        .to_string();
    for (k, v) in tune {
        env.ok(&["config", "--json", k, v]);
    }
    (Node::unstarted(env), secret)
}

/// Starts a prepared peer and checks what it printed.
fn start_peer(n: &mut Node) {
    n.start();
    assert!(!n.cluster_peer_id.is_empty(), "{}", n.stdout_text());
    assert!(
        n.cluster_addr()
            .ends_with(&format!("/p2p/{}", n.cluster_peer_id)),
        "{:?}",
        n.cluster_addrs
    );
    assert!(n.cluster_rest_maddr.starts_with("/ip4/127.0.0.1/tcp/"));
    // One identity for both hosts.
    assert_eq!(n.cluster_peer_id, n.id());
}

/// `n` peers: the first makes a new cluster, the others join through it.
/// Waits until every peer sees all `n` members, then connects the IPFS
/// swarms (so Bitswap finds the blocks at once).
fn cluster(n: usize, tune: &[(&str, &str)]) -> (Vec<Node>, String) {
    let (mut a, secret) = cluster_peer("peer0", None, None, tune);
    start_peer(&mut a);
    let boot = a.cluster_addr();
    let mut peers = vec![a];
    for i in 1..n {
        let (mut p, s) = cluster_peer(&format!("peer{i}"), Some(&secret), Some(&boot), tune);
        assert_eq!(s, secret);
        start_peer(&mut p);
        peers.push(p);
    }
    let ids: Vec<String> = peers.iter().map(|p| p.cluster_peer_id.clone()).collect();
    for p in &peers {
        wait_for(
            Duration::from_secs(20),
            "every peer to see all members",
            || {
                let v = p.rest_json("/id");
                let mut seen: Vec<String> = v["cluster_peers"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                seen.sort();
                let mut want = ids.clone();
                want.sort();
                if seen == want {
                    Ok(())
                } else {
                    Err(format!("{v}"))
                }
            },
        );
    }
    for i in 1..n {
        for j in 0..i {
            peers[i].connect(&peers[j]);
        }
    }
    (peers, secret)
}

/// Adds `data` on `n` without pinning it locally; returns the CID.
fn add_unpinned(n: &Node, name: &str, data: &[u8]) -> String {
    let f = n.env.write(name, data);
    n.env
        .ok(&["add", "-Q", "--pin=false", s(&f)])
        .trim()
        .to_string()
}

/// POST /pins/{cid}?{query} on `n`, retried until the peers' metrics make
/// the allocation possible (20 s); returns the pin.
fn pin(n: &Node, cid: &str, query: &str) -> Value {
    wait_for(Duration::from_secs(20), "POST /pins to succeed", || {
        let (status, body) = n.rest("POST", &format!("/pins/{cid}?{query}"));
        if status == 200 {
            Ok(serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}")))
        } else {
            Err(format!("{status}: {body}"))
        }
    })
}

/// peer ID -> status, from GET /pins/{cid} on `n`.
fn statuses(n: &Node, cid: &str) -> BTreeMap<String, String> {
    let v = n.rest_json(&format!("/pins/{cid}"));
    v["peer_map"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, p)| (k.clone(), p["status"].as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn count(st: &BTreeMap<String, String>, status: &str) -> usize {
    st.values().filter(|s| *s == status).count()
}

/// Waits until `pred` holds for the statuses of `cid` as `n` reports them.
fn wait_statuses(
    n: &Node,
    cid: &str,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&BTreeMap<String, String>) -> bool,
) -> BTreeMap<String, String> {
    wait_for(timeout, what, || {
        let st = statuses(n, cid);
        if pred(&st) {
            Ok(st)
        } else {
            Err(format!("{st:?}"))
        }
    })
}

/// The allocations of `cid` from GET /allocations/{cid} on `n`.
fn allocations(n: &Node, cid: &str) -> Vec<String> {
    let v = n.rest_json(&format!("/allocations/{cid}"));
    let mut a: Vec<String> = v["allocations"]
        .as_array()
        .unwrap_or_else(|| panic!("no allocations: {v}"))
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    a.sort();
    a
}

/// Whether `n`'s IPFS node holds a recursive pin of `cid` (RPC `pin/ls`).
fn pinned_locally(n: &Node, cid: &str) -> bool {
    let (status, body) = n.post(&format!("pin/ls?arg={cid}&type=recursive"));
    status == 200 && body.contains(cid)
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

#[test]
fn three_peers_replication_two() {
    let t0 = Instant::now();
    let (peers, _) = cluster(3, FAST);
    let (a, b, c) = (&peers[0], &peers[1], &peers[2]);
    // GET /peers: every member, with its IPFS identity.
    let list = b.rest_ndjson("/peers");
    assert_eq!(list.len(), 3, "{list:?}");
    for p in &list {
        assert_eq!(p["error"].as_str().unwrap_or(""), "", "{p}");
        assert_eq!(p["ipfs"]["id"], p["id"], "{p}");
    }

    let data = random_bytes(11, 300_000);
    let cid = add_unpinned(a, "f.bin", &data);
    let pinned = pin(b, &cid, "replication-min=2&replication-max=2&name=two");
    assert_eq!(pinned["cid"], cid.as_str(), "{pinned}");
    assert_eq!(pinned["replication_factor_min"], 2, "{pinned}");
    assert_eq!(pinned["replication_factor_max"], 2, "{pinned}");
    let st = wait_statuses(
        b,
        &cid,
        Duration::from_secs(30),
        "pinned on 2 peers, remote on 1",
        |st| st.len() == 3 && count(st, "pinned") == 2 && count(st, "remote") == 1,
    );
    let mut holders: Vec<String> = st
        .iter()
        .filter(|(_, s)| *s == "pinned")
        .map(|(p, _)| p.clone())
        .collect();
    holders.sort();
    for n in &peers {
        assert_eq!(
            allocations(n, &cid),
            holders,
            "allocations on {}",
            n.cluster_peer_id
        );
    }
    // Exactly the allocated peers hold it in their IPFS node.
    for n in &peers {
        assert_eq!(
            pinned_locally(n, &cid),
            holders.contains(&n.cluster_peer_id),
            "local pin on {} (holders {holders:?})",
            n.cluster_peer_id
        );
    }
    let got = c.env.cmd(&["cat", &cid]).output().unwrap();
    assert_eq!(got.stdout, data);

    // The CLI, against the REST API in the repo's config.
    let ls = c.env.ok(&["cluster", "pin", "ls"]);
    assert!(
        ls.contains(&cid) && ls.contains("Repl. Factor: 2--2"),
        "{ls}"
    );
    let status = a.env.ok(&["cluster", "status", &cid]);
    assert!(status.contains(&cid), "{status}");
    assert_eq!(status.matches("PINNED").count(), 2, "{status}");
    assert_eq!(status.matches("REMOTE").count(), 1, "{status}");
    let all = b.env.ok(&["cluster", "status"]);
    assert!(all.contains(&cid), "{all}");
    let peers_ls = a.env.ok(&["cluster", "peers", "ls"]);
    for n in &peers {
        assert!(peers_ls.contains(&n.cluster_peer_id), "{peers_ls}");
    }

    // `cluster pin add --wait` returns once the allocation has it.
    let cid2 = add_unpinned(c, "g.bin", &random_bytes(12, 200_000));
    let out = c.env.ok(&[
        "cluster",
        "pin",
        "add",
        "--wait",
        "--wait-timeout",
        "30s",
        "--rmin",
        "1",
        "--rmax",
        "1",
        &cid2,
    ]);
    assert!(out.contains(&cid2) && out.contains("PINNED"), "{out}");
    // Right after --wait, the allocated peer has it…
    let st2 = statuses(c, &cid2);
    assert_eq!(count(&st2, "pinned"), 1, "{st2:?}");
    // …and every peer knows (the others as remote).
    let st2 = wait_statuses(
        a,
        &cid2,
        Duration::from_secs(10),
        "1 pinned, 2 remote",
        |st| count(st, "pinned") == 1 && count(st, "remote") == 2,
    );
    let holder = st2.iter().find(|(_, s)| *s == "pinned").unwrap().0;
    for n in &peers {
        assert_eq!(pinned_locally(n, &cid2), &n.cluster_peer_id == holder);
    }
    eprintln!("three_peers_replication_two: {}", secs(t0.elapsed()));
}

#[test]
fn leader_failover() {
    let t0 = Instant::now();
    let (mut peers, _) = cluster(3, FAST);
    // Replication -1 (the default): every peer pins everything.
    let cid1 = add_unpinned(&peers[1], "one.bin", &random_bytes(21, 100_000));
    pin(&peers[0], &cid1, "name=one");
    wait_statuses(
        &peers[0],
        &cid1,
        Duration::from_secs(30),
        "pinned everywhere",
        |st| st.len() == 3 && count(st, "pinned") == 3,
    );

    // Peer A made the cluster, so it is the leader; stop it.
    let a_id = peers[0].cluster_peer_id.clone();
    peers[0].stop();
    let stopped = Instant::now();
    let cid2 = add_unpinned(&peers[1], "two.bin", &random_bytes(22, 100_000));
    let b = &peers[1];
    let pinned = wait_for(
        Duration::from_secs(15),
        "a pin without the old leader",
        || {
            let (status, body) = b.rest("POST", &format!("/pins/{cid2}?name=two"));
            if status == 200 {
                Ok(body)
            } else {
                Err(format!("{status}: {body}"))
            }
        },
    );
    let took = stopped.elapsed();
    assert!(
        took < Duration::from_secs(12),
        "pin took {took:?}: {pinned}"
    );
    eprintln!(
        "leader_failover: pin accepted {} after the leader stopped",
        secs(took)
    );
    // The two live peers pin it; A is reported unreachable.
    for n in [&peers[1], &peers[2]] {
        let me = n.cluster_peer_id.clone();
        wait_for(Duration::from_secs(30), "pinned on both live peers", || {
            let st = statuses(n, &cid2);
            if st.get(&me).map(String::as_str) == Some("pinned") {
                Ok(())
            } else {
                Err(format!("{st:?}"))
            }
        });
    }
    let list = peers[2].rest_ndjson("/peers");
    assert_eq!(list.len(), 3, "{list:?}");
    let a_entry = list
        .iter()
        .find(|p| p["id"] == a_id.as_str())
        .expect("A listed");
    assert_ne!(a_entry["error"].as_str().unwrap_or(""), "", "{a_entry}");
    // A third pin, through C this time.
    let cid3 = add_unpinned(&peers[2], "three.bin", &random_bytes(23, 50_000));
    pin(&peers[2], &cid3, "name=three");

    // A comes back and catches up on what it missed.
    peers[0].start();
    assert_eq!(peers[0].cluster_peer_id, a_id);
    let a = &peers[0];
    wait_for(
        Duration::from_secs(20),
        "A's /allocations to have every pin",
        || {
            let all = a.rest_ndjson("/allocations");
            let cids: Vec<&str> = all.iter().filter_map(|p| p["cid"].as_str()).collect();
            if [&cid1, &cid2, &cid3]
                .iter()
                .all(|c| cids.contains(&c.as_str()))
            {
                Ok(())
            } else {
                Err(format!("{cids:?}"))
            }
        },
    );
    for cid in [&cid2, &cid3] {
        wait_for(Duration::from_secs(30), "A to pin what it missed", || {
            let v = a.rest_json(&format!("/pins/{cid}?local=true"));
            let s = v["peer_map"][&a_id]["status"]
                .as_str()
                .unwrap_or("")
                .to_string();
            if s == "pinned" {
                Ok(())
            } else {
                Err(format!("{v}"))
            }
        });
        assert!(pinned_locally(a, cid));
    }
    // And A accepts pins again (whoever leads now).
    let cid4 = add_unpinned(a, "four.bin", &random_bytes(24, 10_000));
    pin(a, &cid4, "name=four");
    // B applies it too (a moment after the leader committed it).
    wait_for(
        Duration::from_secs(10),
        "B to have the new pin",
        || match peers[1].rest("GET", &format!("/allocations/{cid4}")) {
            (200, body) => Ok(body),
            (status, body) => Err(format!("{status}: {body}")),
        },
    );
    assert!(allocations(&peers[1], &cid4).is_empty()); // everywhere
    eprintln!("leader_failover: {}", secs(t0.elapsed()));
}

#[test]
fn reallocation() {
    let t0 = Instant::now();
    let tune = &[
        ("Cluster.MonitorPingInterval", "\"500ms\""),
        ("Cluster.ReallocateAfter", "\"3s\""),
    ];
    let (mut peers, _) = cluster(3, tune);
    let cid = add_unpinned(&peers[0], "r.bin", &random_bytes(31, 200_000));
    pin(&peers[0], &cid, "replication-min=2&replication-max=2");
    let st = wait_statuses(
        &peers[0],
        &cid,
        Duration::from_secs(30),
        "pinned on 2",
        |st| count(st, "pinned") == 2,
    );
    let allocs = allocations(&peers[0], &cid);
    assert_eq!(allocs.len(), 2);
    // Kill an allocated peer that is not A (A is the leader, which re-allocates).
    let victim = (1..3)
        .find(|&i| allocs.contains(&peers[i].cluster_peer_id))
        .unwrap_or_else(|| panic!("two of three allocated, not A alone: {st:?}"));
    let victim_id = peers[victim].cluster_peer_id.clone();
    peers[victim].kill();
    let killed = Instant::now();
    let a = &peers[0];
    let new = wait_for(
        Duration::from_secs(20),
        "the pin to move off the dead peer",
        || {
            let al = allocations(a, &cid);
            if al.len() == 2 && !al.contains(&victim_id) {
                Ok(al)
            } else {
                Err(format!("{al:?}"))
            }
        },
    );
    eprintln!(
        "reallocation: re-allocated {} after the kill",
        secs(killed.elapsed())
    );
    let live: Vec<String> = peers
        .iter()
        .filter(|p| p.cluster_peer_id != victim_id)
        .map(|p| p.cluster_peer_id.clone())
        .collect();
    let mut live_sorted = live.clone();
    live_sorted.sort();
    assert_eq!(new, live_sorted);
    wait_statuses(
        a,
        &cid,
        Duration::from_secs(20),
        "pinned on the 2 live peers",
        |st| {
            live.iter()
                .all(|p| st.get(p).map(String::as_str) == Some("pinned"))
        },
    );
    for p in peers.iter().filter(|p| p.cluster_peer_id != victim_id) {
        assert!(pinned_locally(p, &cid), "{}", p.cluster_peer_id);
    }
    assert!(killed.elapsed() < Duration::from_secs(30));
    eprintln!("reallocation: {}", secs(t0.elapsed()));
}

#[test]
fn wrong_secret() {
    let t0 = Instant::now();
    let (peers, secret) = cluster(3, FAST);
    let a = &peers[0];
    let other = "ab".repeat(32);
    assert_ne!(other, secret);
    let (mut d, _) = cluster_peer("intruder", Some(&other), Some(&a.cluster_addr()), FAST);
    d.start();
    std::thread::sleep(Duration::from_secs(10));
    let list = a.rest_ndjson("/peers");
    assert_eq!(list.len(), 3, "{list:?}");
    assert!(list.iter().all(|p| p["id"] != d.cluster_peer_id.as_str()));
    let id = a.rest_json("/id");
    assert_eq!(id["cluster_peers"].as_array().unwrap().len(), 3, "{id}");
    // The intruder is in no cluster.
    let did = d.rest_json("/id");
    let members = did["cluster_peers"].as_array().map(Vec::len).unwrap_or(0);
    assert!(members <= 1, "{did}");
    // It cannot pin anything either.
    let cid = add_unpinned(&d, "x.bin", b"intruder\n");
    let started = std::time::Instant::now();
    let (status, body) = d.rest("POST", &format!("/pins/{cid}"));
    assert_ne!(status, 200);
    assert!(body.contains("not a cluster member"), "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused at once"
    );
    // Both sides say why (the host's SECRET_MISMATCH_MESSAGE, rate-limited WARNs).
    let log = d.stderr();
    assert!(
        log.contains("cannot join the cluster through")
            && log.contains("cluster secret mismatch or peer not in this cluster"),
        "intruder log:\n{log}"
    );
    let log = a.stderr();
    assert!(
        log.contains("cluster secret mismatch or peer not in this cluster")
            && log.contains("incoming from"),
        "A's log:\n{log}"
    );
    eprintln!("wrong_secret: {}", secs(t0.elapsed()));
}

#[test]
fn unpin() {
    let t0 = Instant::now();
    let (peers, _) = cluster(3, FAST);
    let cid = add_unpinned(&peers[0], "u.bin", &random_bytes(51, 150_000));
    pin(&peers[2], &cid, "replication-min=2&replication-max=2");
    let st = wait_statuses(
        &peers[1],
        &cid,
        Duration::from_secs(30),
        "pinned on 2",
        |st| count(st, "pinned") == 2,
    );
    let holders: Vec<&Node> = peers
        .iter()
        .filter(|p| st.get(&p.cluster_peer_id).map(String::as_str) == Some("pinned"))
        .collect();
    assert_eq!(holders.len(), 2);
    for h in &holders {
        assert!(pinned_locally(h, &cid));
    }
    let (status, body) = peers[1].rest("DELETE", &format!("/pins/{cid}"));
    assert_eq!(status, 200, "{body}");
    for h in &holders {
        wait_for(Duration::from_secs(20), "the local pin to go", || {
            if pinned_locally(h, &cid) {
                Err(h.cluster_peer_id.clone())
            } else {
                Ok(())
            }
        });
    }
    for n in &peers {
        wait_for(
            Duration::from_secs(10),
            "the pin to leave the state",
            || match n.rest("GET", &format!("/allocations/{cid}")) {
                (404, _) => Ok(()),
                (status, body) => Err(format!("{status}: {body}")),
            },
        );
    }
    let st = statuses(&peers[0], &cid);
    assert_eq!(count(&st, "pinned") + count(&st, "pinning"), 0, "{st:?}");
    let (status, body) = peers[0].rest("DELETE", &format!("/pins/{cid}"));
    assert_eq!(status, 404, "{body}");
    let ls = peers[0].env.ok(&["cluster", "pin", "ls"]);
    assert!(!ls.contains(&cid), "{ls}");
    eprintln!("unpin: {}", secs(t0.elapsed()));
}

#[test]
fn expired_pins_are_removed_and_peers_can_be_removed() {
    let t0 = Instant::now();
    let tune: &[(&str, &str)] = &[("Cluster.MonitorPingInterval", "\"500ms\"")];
    let (peers, _) = cluster(3, tune);
    let (a, b, c) = (&peers[0], &peers[1], &peers[2]);
    // A pin that expires in 2 s leaves the pinset (the leader removes it)
    // and the peers' local pins go with it; the CLI takes --expire-in.
    let cid = add_unpinned(a, "e.bin", b"expires soon\n");
    let out = b
        .env
        .ok(&["cluster", "pin", "add", &cid, "--expire-in", "2s", "--wait"]);
    assert!(out.contains("PINNED"), "{out}");
    let ls = b.env.ok(&["cluster", "pin", "ls", &cid]);
    assert!(!ls.contains("Exp: ∞"), "an expiry is shown: {ls}");
    for n in &peers {
        wait_for(Duration::from_secs(20), "the expired pin to go", || match n
            .rest("GET", &format!("/allocations/{cid}"))
        {
            (404, _) if !pinned_locally(n, &cid) => Ok(()),
            (status, body) => Err(format!("{status}: {body}")),
        });
    }
    // `cluster peers rm`: C leaves the membership; the others list two.
    let out = a.env.ok(&["cluster", "peers", "rm", &c.cluster_peer_id]);
    assert!(out.contains(&c.cluster_peer_id), "{out}");
    for n in [a, b] {
        wait_for(Duration::from_secs(20), "two members", || {
            let list = n.rest_ndjson("/peers");
            if list.len() == 2 && list.iter().all(|p| p["id"] != c.cluster_peer_id.as_str()) {
                Ok(())
            } else {
                Err(format!("{list:?}"))
            }
        });
    }
    // Removing a peer that is not a member is a clear error.
    let err = a.env.fails(&["cluster", "peers", "rm", &c.cluster_peer_id]);
    assert!(err.contains("not a cluster peer"), "{err}");
    eprintln!("expiry + peers rm: {}", secs(t0.elapsed()));
}

#[test]
fn devnet_starts_a_working_cluster_and_stops_it() {
    use std::io::{BufRead, BufReader};
    let env = Env::new();
    let dir = env.path("devnet");
    // A base port nothing else here uses (ports base .. base + 25), below
    // Linux's ephemeral range (32768..) so no test's port-0 listener or
    // outgoing connection can already hold one.
    let base = 20_000 + (std::process::id() % 1_200) as u16 * 10;
    let mut child = env
        .cmd(&[
            "devnet",
            "--nodes",
            "3",
            "--dir",
            s(&dir),
            "--base-port",
            &base.to_string(),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut printed = String::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while !printed.contains("Ctrl-C stops every peer") {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(l) => {
                printed.push_str(&l);
                printed.push('\n');
            }
            Err(_) => {
                let _ = child.kill();
                panic!("devnet did not come up:\n{printed}");
            }
        }
    }
    assert!(printed.contains("ferrite devnet: 3 peers"), "{printed}");
    let rest = format!("/ip4/127.0.0.1/tcp/{}", base + 4);
    let node0 = dir.join("node0");
    let run = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_ferrite"))
            .args(args)
            .env("FERRITE_PATH", &node0)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    // devnet prints its "try:" lines only once they work.
    let ls = run(&["cluster", "peers", "ls", "--host", &rest, "--enc", "json"]);
    let healthy = ls
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).is_ok_and(|v| v["error"] == ""))
        .count();
    assert_eq!(healthy, 3, "{ls}");
    let f = env.write("hello.txt", b"hello devnet\n");
    let cid = run(&["add", "-Q", "--pin=false", s(&f)]).trim().to_string();
    // The devnet's default replication is 2: two peers pin it. Once devnet
    // has printed its "try:" lines, the first pin must be accepted at once.
    run(&["cluster", "pin", "add", &cid, "--wait", "--host", &rest]);
    let st = run(&["cluster", "status", &cid, "--host", &rest]);
    assert_eq!(st.matches("PINNED").count(), 2, "{st}");
    // A closed stdout (`| head -1`) ends a listing quietly: exit 0, no panic.
    for args in [
        &["cluster", "status", "--host", &rest][..],
        &["cluster", "peers", "ls", "--host", &rest],
        &["cluster", "pin", "ls", "--host", &rest],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_ferrite"))
            .args(args)
            .env("FERRITE_PATH", &node0)
            .stdout(writer)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.success() && err.is_empty(),
            "{args:?}: {:?} {err}",
            o.status
        );
    }
    // SIGTERM stops devnet and every daemon it started.
    // SAFETY: kill(2) only sends a signal to our child, not yet waited for.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "devnet did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
    for i in 0..3 {
        assert!(
            !dir.join(format!("node{i}")).join("api").exists(),
            "node{i} still running"
        );
    }
}

/// A pin sent right after a peer was killed is not allocated to it, even
/// though its metrics are still valid for a moment: the allocation only
/// uses peers this one can reach, and the pin reaches `pinned` on live
/// peers (before, it went to the dead peer and `--wait` hung until
/// `ReallocateAfter`).
#[test]
fn pin_right_after_a_kill_avoids_the_dead_peer() {
    let (mut peers, _) = cluster(3, FAST);
    // Warm up: the first pin waits until every peer's metrics are known.
    let cid0 = add_unpinned(&peers[0], "zero.bin", &random_bytes(30, 10_000));
    pin(&peers[0], &cid0, "replication-min=3&replication-max=3");
    let dead = peers[2].cluster_peer_id.clone();
    let cid = add_unpinned(&peers[1], "one.bin", &random_bytes(31, 50_000));
    peers[2].kill();
    // At once, through B, asking for the dead peer first: before, it was
    // still a candidate (metrics valid for two ping intervals) and got it.
    let (status, body) = peers[1].rest(
        "POST",
        &format!("/pins/{cid}?replication-min=2&replication-max=2&user-allocations={dead}"),
    );
    assert_eq!(status, 200, "{body}");
    // B forwarded it to the leader: it may apply it a moment later.
    wait_for(
        Duration::from_secs(10),
        "B to have the pin",
        || match peers[1].rest("GET", &format!("/allocations/{cid}")) {
            (200, body) => Ok(body),
            (status, body) => Err(format!("{status}: {body}")),
        },
    );
    let alloc = allocations(&peers[1], &cid);
    assert!(
        !alloc.contains(&dead),
        "allocated to the killed peer: {alloc:?}"
    );
    let mut live = vec![
        peers[0].cluster_peer_id.clone(),
        peers[1].cluster_peer_id.clone(),
    ];
    live.sort();
    assert_eq!(alloc, live);
    wait_statuses(
        &peers[1],
        &cid,
        Duration::from_secs(20),
        "pinned on both live peers",
        |st| {
            live.iter()
                .all(|p| st.get(p).map(String::as_str) == Some("pinned"))
        },
    );
}

/// Restarts are quiet and a down peer is reported once: with the default
/// log filter no daemon logs an ERROR when peers stop and start (before,
/// openraft logged "Can not initialize" on every restart of the founding
/// peer and an RPCError per heartbeat, every 0.5 s, while a peer was down),
/// and the leader mentions the refused connections of a down peer at most
/// once.
#[test]
fn restarts_are_quiet_and_a_down_peer_is_logged_once() {
    let (mut peers, _) = cluster(3, FAST);
    // Peer 0 made the cluster, so it leads. A follower goes down for 4 s.
    let before = peers[0].stderr().len();
    peers[2].stop();
    std::thread::sleep(Duration::from_secs(4));
    let during = peers[0].stderr()[before..].to_string();
    let refused = during.lines().filter(|l| l.contains("refused")).count();
    assert!(
        refused <= 1,
        "{refused} 'refused' lines in 4 s with a peer down:\n{during}"
    );
    peers[2].start();
    // The founding peer (no Bootstrap: it would initialize a new cluster)
    // restarts, and so does the leader's role with it.
    peers[0].stop();
    std::thread::sleep(Duration::from_secs(2));
    peers[0].start();
    let cid = add_unpinned(&peers[1], "one.bin", &random_bytes(32, 10_000));
    pin(&peers[0], &cid, "");
    wait_statuses(
        &peers[0],
        &cid,
        Duration::from_secs(30),
        "pinned everywhere",
        |st| st.len() == 3 && count(st, "pinned") == 3,
    );
    for (i, p) in peers.iter().enumerate() {
        let log = p.stderr();
        let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).collect();
        assert!(errors.is_empty(), "peer {i} logged errors:\n{log}");
    }
}

/// A pin sent as soon as every peer lists every member is accepted, even
/// with the default 5 s ping interval: before, it failed with "not enough
/// peers to allocate" until the newest peer's metrics had reached the peer
/// allocating (up to a ping interval); now the pin waits (up to two ping
/// intervals) for the metrics of members it has not heard from yet.
#[test]
fn pin_right_after_the_cluster_forms_waits_for_metrics() {
    let (peers, _) = cluster(3, &[("Cluster.MonitorPingInterval", "\"5s\"")]);
    let cid = add_unpinned(&peers[2], "one.bin", &random_bytes(33, 10_000));
    let t = Instant::now();
    let (status, body) = peers[2].rest(
        "POST",
        &format!("/pins/{cid}?replication-min=3&replication-max=3"),
    );
    assert_eq!(status, 200, "{body}");
    eprintln!(
        "pin_right_after_the_cluster_forms: accepted in {}",
        secs(t.elapsed())
    );
    wait_statuses(
        &peers[2],
        &cid,
        Duration::from_secs(30),
        "pinned on all 3",
        |st| count(st, "pinned") == 3,
    );
}
