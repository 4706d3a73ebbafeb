//! Ferrite-only networks on loopback: daemons that find each other's
//! content through the DHT and move it with Bitswap.
//!
//! Every node is a real `ferrite daemon` process on a `--profile test` repo
//! (127.0.0.1 listeners, no bootstrap peers, no mDNS).

mod common;
use common::daemon::Node;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn sha(data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(data).to_vec()
}

#[test]
fn daemons_fetch_files_and_folders_through_bitswap() {
    let a = Node::new();
    let b = Node::new();
    let data = random_bytes(1, 3 << 20);
    let file = a.env.write("big.bin", &data);
    let cid = cid_of(&a.env.ok(&["add", "-Q", s(&file)]));
    a.env.write("dir/x.txt", b"x file\n");
    a.env.write("dir/sub/y.bin", &random_bytes(2, 600_000));
    let dir = a.env.path("dir");
    let dir_cid = cid_of(&a.env.ok(&["add", "-r", "-Q", s(&dir)]));

    // Offline, nothing is there.
    let (status, _) = b.post(&format!("cat?arg={cid}&offline=true"));
    assert_eq!(status, 500);
    let err = b.env.fails(&["cat", "--offline", &cid]);
    assert!(err.contains("not found locally"), "{err}");

    b.connect(&a);
    assert_eq!(b.peers(), vec![a.id()]);
    let out = b.env.cmd(&["cat", &cid]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(sha(&out.stdout), sha(&data));

    // ls fetches the folder's nodes; get and refs -r fetch the whole DAG.
    let ls = b.env.ok(&["ls", &dir_cid]);
    assert!(ls.contains("x.txt") && ls.contains("sub"), "{ls}");
    let out_dir = b.env.path("got");
    b.env.ok(&["get", &dir_cid, "-o", s(&out_dir)]);
    assert_eq!(std::fs::read(out_dir.join("x.txt")).unwrap(), b"x file\n");
    assert_eq!(
        std::fs::read(out_dir.join("sub/y.bin")).unwrap(),
        random_bytes(2, 600_000)
    );
    assert_eq!(
        b.env.ok(&["refs", "-r", &dir_cid]),
        a.env.ok(&["refs", "-r", &dir_cid])
    );
    b.env.ok(&["pin", "add", &dir_cid]);
    assert!(b
        .env
        .ok(&["pin", "ls", "--type=recursive"])
        .contains(&dir_cid));

    // Now local: it survives the provider going away.
    drop(a);
    let (status, body) = b.post_bytes(&format!("cat?arg={cid}&offline=true"));
    assert_eq!(status, 200);
    assert_eq!(sha(&body), sha(&data));

    let stats = b.json("stats/bitswap");
    assert!(stats["BlocksReceived"].as_u64().unwrap() >= 14, "{stats}");
    assert!(
        stats["DataReceived"].as_u64().unwrap() >= 3 << 20,
        "{stats}"
    );
}

#[test]
fn gateway_no_fetch_serves_only_local_blocks() {
    let a = Node::new();
    let env = Env::new();
    env.ok(&["config", "--json", "Gateway.NoFetch", "true"]);
    let b = Node::with_env(env);
    let cid = cid_of(&a.env.ok_stdin(&["add", "-Q"], b"only on a\n"));
    b.connect(&a);
    let mut s = TcpStream::connect(&b.gateway).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET /ipfs/{cid} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(
        !resp.starts_with("HTTP/1.0 200") && !resp.starts_with("HTTP/1.1 200"),
        "{resp}"
    );
    // The API still fetches.
    assert_eq!(b.env.ok(&["cat", &cid]), "only on a\n");
}

#[test]
fn five_nodes_in_a_line_find_content_through_the_dht() {
    let nodes: Vec<Node> = (0..5).map(|_| Node::new()).collect();
    for w in nodes.windows(2) {
        w[1].connect(&w[0]);
    }
    let data = random_bytes(5, 700_000);
    let f = nodes[0].env.write("f.bin", &data);
    let cid = cid_of(&nodes[0].env.ok(&["add", "-Q", s(&f)]));
    let last = &nodes[4];
    // Let the provider record reach the DHT.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = last.post(&format!("routing/findprovs?arg={cid}&num-providers=1"));
        if body.contains(&nodes[0].id()) {
            break;
        }
        assert!(Instant::now() < deadline, "no provider found: {body}");
        std::thread::sleep(Duration::from_millis(300));
    }
    let start = Instant::now();
    let out = last.env.cmd(&["cat", &cid]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(sha(&out.stdout), sha(&data));
    assert!(start.elapsed() < Duration::from_secs(20));
    // It reached the provider directly, not through its neighbour.
    assert!(last.peers().contains(&nodes[0].id()));
    // findpeer walks the line too.
    let v = nodes[4].json(&format!("routing/findpeer?arg={}", nodes[1].id()));
    assert!(
        !v["Responses"][0]["Addrs"].as_array().unwrap().is_empty(),
        "{v}"
    );
}

#[test]
fn fetch_completes_from_a_second_provider_when_the_first_dies() {
    let mut a = Node::new();
    let c = Node::new();
    let b = Node::new();
    let data = random_bytes(7, 96 << 20);
    let fa = a.env.write("f.bin", &data);
    let cid = cid_of(&a.env.ok(&["add", "-Q", s(&fa)]));
    let fc = c.env.write("f.bin", &data);
    assert_eq!(cid_of(&c.env.ok(&["add", "-Q", s(&fc)])), cid);
    b.connect(&a);
    b.connect(&c);
    let out = b.env.path("out.bin");
    let mut cat = b
        .env
        .cmd(&["cat", &cid])
        .stdout(std::fs::File::create(&out).unwrap())
        .spawn()
        .unwrap();
    // Kill the first provider once B has started receiving from it.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = b.json("stats/bitswap")["BlocksReceived"].as_u64().unwrap();
        if got > 4 {
            break;
        }
        assert!(Instant::now() < deadline, "transfer did not start");
        std::thread::sleep(Duration::from_millis(2));
    }
    a.kill();
    let status = cat.wait().unwrap();
    assert!(status.success());
    let got = std::fs::read(&out).unwrap();
    assert_eq!(got.len(), data.len());
    assert_eq!(sha(&got), sha(&data));
}

fn write_key(env: &Env, hex: &str) {
    std::fs::write(
        env.repo().join("swarm.key"),
        format!("/key/swarm/psk/1.0.0/\n/base16/\n{hex}\n"),
    )
    .unwrap();
}

#[test]
fn private_networks_keep_other_keys_out() {
    let key1 = "11".repeat(32);
    let key2 = "22".repeat(32);
    let mk = |key: Option<&str>| {
        let env = Env::new();
        if let Some(k) = key {
            write_key(&env, k);
        }
        Node::with_env(env)
    };
    let a = mk(Some(&key1));
    let b = mk(Some(&key1));
    let c = mk(Some(&key2));
    let d = mk(None);
    let cid = cid_of(&a.env.ok_stdin(&["add", "-Q"], b"private bytes\n"));

    b.connect(&a);
    assert_eq!(b.env.ok(&["cat", &cid]), "private bytes\n");

    for outsider in [&c, &d] {
        let (status, body) = outsider.post(&format!("swarm/connect?arg={}", a.addr()));
        assert_eq!(status, 500, "{body}");
        assert!(outsider.peers().is_empty());
        // And the other way round.
        let (status, _) = a.post(&format!("swarm/connect?arg={}", outsider.addr()));
        assert_eq!(status, 500);
    }
    let (_, body) = c.post(&format!("swarm/connect?arg={}", a.addr()));
    assert!(
        body.contains("private network key mismatch or peer not in private network"),
        "{body}"
    );
    let log = a.stderr() + &c.stderr();
    assert!(log.contains("private network key mismatch"), "{log}");
    let (status, _) = c.post(&format!("cat?arg={cid}&offline=true"));
    assert_eq!(status, 500);
}

#[test]
fn network_commands_need_the_daemon_online() {
    let mut n = Node::unstarted(Env::new());
    n.start_with(&["--offline"]);
    let (status, body) = n.post("swarm/peers");
    assert_eq!(status, 500);
    assert!(body.contains("online mode"), "{body}");
    assert!(n.json("id")["Addresses"].as_array().unwrap().is_empty());
}

/// The CID printed by `add -Q`.
fn cid_of(out: &str) -> String {
    out.trim().to_string()
}

#[test]
fn a_restarted_node_keeps_identity_provider_records_and_peer_addresses() {
    let mut a = Node::new();
    let mut b = Node::new();
    b.connect(&a);
    // Added while connected: A announces it, B stores A's provider record.
    let cid = cid_of(&a.env.ok_stdin(&["add", "-Q"], b"kept across restarts\n"));
    let a_id = a.id();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, body) = b.post(&format!("routing/findprovs?arg={cid}&num-providers=1"));
        if body.contains(&a_id) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "B never learned A provides {cid}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    b.env.ok(&["pin", "add", &cid]);
    let id = b.id();
    b.stop();
    b.start();
    assert_eq!(b.id(), id);
    let (status, body) = b.post(&format!("cat?arg={cid}&offline=true"));
    assert_eq!((status, body.as_str()), (200, "kept across restarts\n"));
    // B kept A's address: it reconnects with no bootstrap list and no
    // `swarm connect`.
    let deadline = Instant::now() + Duration::from_secs(15);
    while !b.peers().contains(&a_id) {
        assert!(Instant::now() < deadline, "B did not find A again");
        std::thread::sleep(Duration::from_millis(100));
    }
    // With A gone, B still knows from its stored records that A provides it.
    a.kill();
    let (_, body) = b.post(&format!("routing/findprovs?arg={cid}&num-providers=5"));
    assert!(body.contains(&a_id), "provider record lost: {body}");
}

#[test]
fn addr_filters_block_dials_and_stats_bw_counts_transfers() {
    let a = Node::new();
    let env = Env::new();
    env.ok(&[
        "config",
        "--json",
        "Swarm.AddrFilters",
        r#"["/ip4/127.0.0.0/ipcidr/8"]"#,
    ]);
    let filtered = Node::with_env(env);
    let (status, body) = filtered.post(&format!("swarm/connect?arg={}", a.addr()));
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("Swarm.AddrFilters"), "{body}");
    assert!(filtered.peers().is_empty());

    let b = Node::new();
    let data = random_bytes(9, 2 << 20);
    let f = a.env.write("f.bin", &data);
    let cid = cid_of(&a.env.ok(&["add", "-Q", s(&f)]));
    b.connect(&a);
    b.env.ok(&["pin", "add", &cid]);
    let bw = b.json("stats/bw");
    assert!(bw["TotalIn"].as_u64().unwrap() >= 2 << 20, "{bw}");
    assert!(bw["TotalOut"].as_u64().unwrap() > 0, "{bw}");
    let sent = a.json("stats/bw")["TotalOut"].as_u64().unwrap();
    assert!(sent >= 2 << 20, "{sent}");
    assert!(b.env.ok(&["stats", "bw"]).starts_with("Bandwidth\n"));
}

#[test]
fn forced_private_network_refuses_to_start_without_a_key() {
    let env = Env::new();
    let out = env
        .cmd(&["daemon"])
        .env("LIBP2P_FORCE_PNET", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("private network was not configured but is enforced by the environment"),
        "{err}"
    );
    // With a key it starts.
    write_key(&env, &"33".repeat(32));
    let mut child = env
        .cmd(&["daemon"])
        .env("LIBP2P_FORCE_PNET", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ready = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .any(|l| l == "Daemon is ready");
    let _ = child.kill();
    let _ = child.wait();
    assert!(ready);
}

/// A pin of content nobody has waits for the network without the GC lock:
/// `repo gc` and `add` go on meanwhile, and the pin still lands once the
/// content shows up.
#[test]
fn a_pin_waiting_for_the_network_does_not_block_gc_or_add() {
    let a = Node::new();
    let b = Node::new();
    let data = random_bytes(7, 300_000);
    let file = a.env.write("later.bin", &data);
    let cid = cid_of(&a.env.ok(&["add", "-Q", "--pin=false", s(&file)]));
    // b asks for it while no peer has it.
    let mut pin = b
        .env
        .cmd(&["pin", "add", &cid])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        pin.try_wait().unwrap().is_none(),
        "pin add should still wait"
    );
    let mut timed = |args: &[&str]| {
        let start = Instant::now();
        let mut child = b.env.cmd(args).stdout(Stdio::null()).spawn().unwrap();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                let _ = pin.kill();
                panic!("{args:?} waited behind the pin for 20 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(child.wait().unwrap().success(), "{args:?}");
    };
    timed(&["repo", "gc"]);
    let other = b.env.write("other.txt", b"added while a pin waits\n");
    timed(&["add", "-Q", s(&other)]);
    // Once a peer has it, the waiting pin completes.
    b.connect(&a);
    let status = common::daemon::wait_for(Duration::from_secs(30), "the pin", || {
        pin.try_wait()
            .unwrap()
            .ok_or_else(|| "still waiting".to_string())
    });
    assert!(status.success());
    let ls = b.env.ok(&["pin", "ls", "--type", "recursive", &cid]);
    assert!(ls.contains(&cid), "{ls}");
}

/// Online, `dag get/resolve/stat` and `block get/stat` fetch what is
/// missing, and what they fetched stays: offline afterwards, with the
/// provider gone, every one of them still answers.
#[test]
fn dag_and_block_reads_fetch_and_keep_what_they_fetch() {
    let a = Node::new();
    let b = Node::new();
    let leaf = a.env.write("leaf.json", br#"{"hello":"world"}"#);
    let leaf_cid = cid_of(&a.env.ok(&["dag", "put", "--pin=false", s(&leaf)]));
    let root = a.env.write(
        "root.json",
        format!(r#"{{"child":{{"/":"{leaf_cid}"}},"n":7}}"#).as_bytes(),
    );
    let root_cid = cid_of(&a.env.ok(&["dag", "put", "--pin=false", s(&root)]));
    let raw = a.env.write("raw.bin", &random_bytes(8, 5000));
    let raw_cid = cid_of(&a.env.ok(&["block", "put", "--cid-codec", "raw", s(&raw)]));
    let raw2 = a.env.write("raw2.bin", &random_bytes(9, 6000));
    let raw2_cid = cid_of(&a.env.ok(&["block", "put", "--cid-codec", "raw", s(&raw2)]));

    b.connect(&a);
    let resolved = b
        .env
        .ok(&["dag", "resolve", &format!("{root_cid}/child/hello")]);
    assert_eq!(resolved.trim(), format!("{leaf_cid}/hello"));
    let got = b.env.ok(&["dag", "get", &format!("{root_cid}/child")]);
    assert_eq!(got.trim(), r#"{"hello":"world"}"#);
    let stat = b.env.ok(&["dag", "stat", "--progress=false", &root_cid]);
    assert!(
        stat.contains("NumBlocks: 2") || stat.contains("\t2"),
        "{stat}"
    );
    assert_eq!(
        b.env.ok(&["block", "stat", &raw2_cid]),
        format!("Key: {raw2_cid}\nSize: 6000\n")
    );
    let out = b.env.cmd(&["block", "get", &raw_cid]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, random_bytes(8, 5000));

    // The provider goes; everything read above is local now.
    drop(a);
    b.env
        .ok(&["dag", "get", "--offline", &format!("{root_cid}/child")]);
    b.env
        .ok(&["dag", "stat", "--offline", "--progress=false", &root_cid]);
    let out = b
        .env
        .cmd(&["block", "get", "--offline", &raw_cid])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    b.env.ok(&["block", "stat", "--offline", &raw2_cid]);
}

/// Content no peer sends: the gateway gives up after
/// `Gateway.RetrievalTimeout` with 504 (Kubo's answer), not after the
/// node's 120 s fetch stall timeout and not with a 500.
#[test]
fn gateway_answers_504_after_the_retrieval_timeout() {
    let env = Env::new();
    env.ok(&["config", "Gateway.RetrievalTimeout", "2s"]);
    let b = Node::with_env(env);
    // a valid CID of bytes nobody has
    let absent = cid_of(
        &b.env
            .ok_stdin(&["add", "-Q", "--only-hash"], b"nobody has this\n"),
    );
    let start = Instant::now();
    let mut s = TcpStream::connect(&b.gateway).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(s, "GET /ipfs/{absent} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let took = start.elapsed();
    assert!(
        resp.starts_with("HTTP/1.0 504") || resp.starts_with("HTTP/1.1 504"),
        "{resp}"
    );
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(15),
        "{took:?}"
    );
    // The unset value is Kubo's default, and a bad one is refused.
    let err = b.env.fails(&["config", "Gateway.RetrievalTimeout", "soon"]);
    assert!(err.contains("Gateway.RetrievalTimeout"), "{err}");
}
