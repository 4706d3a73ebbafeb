//! Network-side CLI that needs no network: the bootstrap list (locally and
//! through a daemon, same output), private-network keys (`swarm key gen`,
//! `swarm key fingerprint`, `init --swarm-key --bootstrap`), and the
//! online-mode error of the network verbs without a daemon.
//!
//! No test touches a public address: bootstrap entries are loopback
//! multiaddrs with peer IDs of throwaway repos, and `--default` is only
//! checked in the config it writes.

mod common;
use common::*;
use ferrite_p2p::SwarmKey;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Output, Stdio};
use std::time::Duration;

/// A `ferrite daemon` on its own repo, killed when dropped.
struct Daemon {
    env: Env,
    child: Child,
}

impl Daemon {
    fn start() -> Daemon {
        let env = Env::new();
        let mut child = env
            .cmd(&["daemon"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line == "Daemon is ready" {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(30))
            .expect("daemon did not become ready");
        Daemon { env, child }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Peer IDs of throwaway repos (never dialled: the addresses are loopback
/// and nothing here starts a network toward them).
fn peer_ids(n: usize) -> Vec<String> {
    (0..n)
        .map(|_| Env::new().ok(&["id", "-f", "<id>"]).trim().to_string())
        .collect()
}

fn addr(i: u8, peer: &str) -> String {
    format!("/ip4/127.0.0.{i}/tcp/4001/p2p/{peer}")
}

/// `Bootstrap` as stored in the repo's config file.
fn config_bootstrap(env: &Env) -> Vec<String> {
    let text = std::fs::read_to_string(env.repo().join("config")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["Bootstrap"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn lines(v: &[&str]) -> String {
    v.iter().map(|l| format!("{l}\n")).collect()
}

/// The bootstrap commands, their expected stdout ("" and `Err(text)` for
/// failures), run against one env.
fn bootstrap_script(peers: &[String]) -> Vec<(Vec<String>, Result<String, &'static str>)> {
    let a = addr(1, &peers[0]);
    let b = addr(2, &peers[1]);
    let b_quic = format!("/ip4/127.0.0.2/udp/4001/quic-v1/p2p/{}", peers[1]);
    let c = addr(3, &peers[2]);
    let v = |args: &[&str]| args.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        (v(&["bootstrap"]), Ok(String::new())),
        (v(&["bootstrap", "list"]), Ok(String::new())),
        (v(&["bootstrap", "add", &a, &b, &a]), Ok(lines(&[&a, &b]))),
        (v(&["bootstrap", "list"]), Ok(lines(&[&a, &b]))),
        // new entries go first; one already listed moves to the front
        (
            v(&["bootstrap", "add", &c, &b_quic]),
            Ok(lines(&[&c, &b_quic])),
        ),
        (v(&["bootstrap", "add", &b]), Ok(lines(&[&b]))),
        (v(&["bootstrap"]), Ok(lines(&[&b, &c, &b_quic, &a]))),
        // refused without any change
        (
            v(&["bootstrap", "add", "/ip4/127.0.0.1/tcp/4001"]),
            Err("invalid bootstrap address: /ip4/127.0.0.1/tcp/4001"),
        ),
        (
            v(&["bootstrap", "add", &c, "not-a-multiaddr"]),
            Err("invalid bootstrap address: not-a-multiaddr"),
        ),
        (
            v(&["bootstrap", "add", &format!("/p2p/{}", peers[0])]),
            Err("invalid bootstrap address: /p2p/"),
        ),
        (
            v(&["bootstrap", "add", "/ip4/127.0.0.1/tcp/1/p2p/nopeer"]),
            Err("invalid bootstrap address: /ip4/127.0.0.1/tcp/1/p2p/nopeer"),
        ),
        (v(&["bootstrap", "add"]), Err("no bootstrap peers to add")),
        (v(&["bootstrap", "rm"]), Err("no bootstrap peers to remove")),
        (v(&["bootstrap", "list"]), Ok(lines(&[&b, &c, &b_quic, &a]))),
        // /ipfs/ and /p2p/ are the same address; /p2p/<id> removes the peer
        (
            v(&["bootstrap", "rm", &a.replace("/p2p/", "/ipfs/")]),
            Ok(lines(&[&a])),
        ),
        (v(&["bootstrap", "rm", &a]), Ok(String::new())),
        (
            v(&["bootstrap", "rm", &format!("/p2p/{}", peers[1])]),
            Ok(lines(&[&b, &b_quic])),
        ),
        (v(&["bootstrap", "list"]), Ok(lines(&[&c]))),
        (v(&["bootstrap", "add", &a]), Ok(lines(&[&a]))),
        (v(&["bootstrap", "rm", "--all"]), Ok(lines(&[&a, &c]))),
        (v(&["bootstrap", "list"]), Ok(String::new())),
        (v(&["bootstrap", "add", &b]), Ok(lines(&[&b]))),
        (v(&["bootstrap", "rm", "all"]), Ok(lines(&[&b]))),
        (v(&["bootstrap", "rm", "all"]), Ok(String::new())),
        (v(&["bootstrap", "add", &c]), Ok(lines(&[&c]))),
    ]
}

fn check(args: &[String], o: &Output, want: &Result<String, &str>) {
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    match want {
        Ok(text) => {
            assert!(o.status.success(), "ferrite {args:?} failed: {err}");
            assert_eq!(&out, text, "ferrite {args:?}");
        }
        Err(msg) => {
            assert!(!o.status.success(), "ferrite {args:?} should fail");
            assert!(
                err.starts_with(&format!("Error: {msg}")),
                "ferrite {args:?}: {err}"
            );
            assert!(out.is_empty(), "ferrite {args:?}: {out}");
        }
    }
}

#[test]
fn bootstrap_list_add_rm_locally() {
    let env = Env::new();
    let peers = peer_ids(3);
    for (args, want) in bootstrap_script(&peers) {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        check(&args, &env.run(&a), &want);
    }
    assert_eq!(config_bootstrap(&env), [addr(3, &peers[2])]);
}

#[test]
fn bootstrap_through_the_daemon_matches_local() {
    let daemon = Daemon::start();
    let local = Env::new();
    let peers = peer_ids(3);
    for (args, want) in bootstrap_script(&peers) {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let d = daemon.env.run(&a);
        let l = local.run(&a);
        check(&args, &d, &want);
        check(&args, &l, &want);
        assert_eq!(d.stdout, l.stdout, "ferrite {args:?}");
        assert_eq!(d.stderr, l.stderr, "ferrite {args:?}");
    }
    // The daemon wrote its repo's config (durably, through the setter).
    assert_eq!(config_bootstrap(&daemon.env), [addr(3, &peers[2])]);
    assert_eq!(
        daemon.env.ok(&["config", "Bootstrap"]),
        local.ok(&["config", "Bootstrap"])
    );
}

#[test]
fn bootstrap_default_only_edits_the_config() {
    let env = Env::new();
    let defaults: Vec<String> = ferrite_config::bootstrap::PUBLIC_BOOTSTRAP_PEERS
        .iter()
        .map(|s| s.to_string())
        .collect();
    let peer = &peer_ids(1)[0];
    let mine = addr(1, peer);
    env.ok(&["bootstrap", "add", &mine]);
    env.ok(&["bootstrap", "add", "--default"]);
    let mut want = defaults.clone();
    want.push(mine.clone());
    assert_eq!(config_bootstrap(&env), want);
    env.ok(&["bootstrap", "rm", "all"]);
    assert!(config_bootstrap(&env).is_empty());
    env.ok(&["bootstrap", "add", "default"]);
    assert_eq!(config_bootstrap(&env), defaults);
    env.ok(&["bootstrap", "rm", "--all"]);
    assert!(config_bootstrap(&env).is_empty());
}

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn swarm_key_gen_format() {
    let env = Env::new();
    let one = env.ok(&["swarm", "key", "gen"]);
    let two = env.ok(&["swarm", "key", "gen"]);
    assert_ne!(one, two);
    for k in [&one, &two] {
        let l: Vec<&str> = k.split('\n').collect();
        assert_eq!(l.len(), 4, "{k:?}");
        assert_eq!(l[0], "/key/swarm/psk/1.0.0/");
        assert_eq!(l[1], "/base16/");
        assert_eq!(l[2].len(), 64);
        assert!(l[2]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(l[3], "");
        let key = SwarmKey::parse(k.as_bytes()).unwrap();
        assert_eq!(format!("{}\n", key.to_file_contents()), *k);
    }

    let out = env.path("swarm.key");
    assert_eq!(env.ok(&["swarm", "key", "gen", "-o", s(&out)]), "");
    assert_eq!(mode(&out), 0o600);
    let key = SwarmKey::from_file(&out).unwrap();
    // never overwrites a key
    let err = env.fails(&["swarm", "key", "gen", "--output", s(&out)]);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(SwarmKey::from_file(&out).unwrap(), key);
}

#[test]
fn swarm_key_fingerprint() {
    let env = Env::new();
    let file = env.path("k");
    env.ok(&["swarm", "key", "gen", "-o", s(&file)]);
    let want = SwarmKey::from_file(&file).unwrap().fingerprint();
    assert_eq!(want.len(), 32);
    assert_eq!(
        env.ok(&["swarm", "key", "fingerprint", s(&file)]),
        format!("{want}\n")
    );
    // the repo has no swarm.key: a public-network node
    let err = env.fails(&["swarm", "key", "fingerprint"]);
    assert!(err.contains("not in a private network"), "{err}");
    let bad = env.write("bad.key", b"/key/swarm/psk/1.0.0/\n/base16/\nxyz\n");
    let err = env.fails(&["swarm", "key", "fingerprint", s(&bad)]);
    assert!(err.contains("bad.key"), "{err}");
}

#[test]
fn init_with_swarm_key_and_bootstrap() {
    let scratch = Env::new();
    let key_file = scratch.path("net.key");
    scratch.ok(&["swarm", "key", "gen", "-o", s(&key_file)]);
    let key = SwarmKey::from_file(&key_file).unwrap();
    let peers = peer_ids(2);
    let (a, b) = (addr(1, &peers[0]), addr(2, &peers[1]));

    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let init = |extra: &[&str]| {
        let mut args = vec!["init", "--profile", "test"];
        args.extend_from_slice(extra);
        std::process::Command::new(env!("CARGO_BIN_EXE_ferrite"))
            .args(&args)
            .env("FERRITE_PATH", &repo)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };

    // A bad key file or address is refused before anything is written.
    let junk = scratch.write("junk.key", b"not a swarm key\n");
    let o = init(&["--swarm-key", s(&junk), "--bootstrap", &a]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("Error: ") && err.contains("junk.key"),
        "{err}"
    );
    assert!(!repo.exists(), "a refused init left {}", repo.display());
    let o = init(&["--swarm-key", s(&scratch.path("missing.key"))]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.key"));
    assert!(!repo.exists());
    let o = init(&[
        "--swarm-key",
        s(&key_file),
        "--bootstrap",
        "/ip4/127.0.0.1/tcp/4001",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("invalid bootstrap address"));
    assert!(!repo.exists());

    let o = init(&[
        "--swarm-key",
        s(&key_file),
        "--bootstrap",
        &a,
        "--bootstrap",
        &b,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.contains("Swarm is limited to private network of peers with the swarm key\n"),
        "{out}"
    );
    assert!(
        out.contains(&format!("Swarm key fingerprint: {}\n", key.fingerprint())),
        "{out}"
    );
    let copied = repo.join("swarm.key");
    assert_eq!(mode(&copied), 0o600);
    assert_eq!(SwarmKey::from_file(&copied).unwrap(), key);

    let env = Env { dir };
    assert_eq!(config_bootstrap(&env), [a.clone(), b.clone()]);
    assert_eq!(env.ok(&["bootstrap", "list"]), lines(&[&a, &b]));
    assert_eq!(
        env.ok(&["swarm", "key", "fingerprint"]),
        format!("{}\n", key.fingerprint())
    );
    // and it stays a repo that refuses a second init
    let o = init(&["--swarm-key", s(&key_file)]);
    assert!(!o.status.success());
}

#[test]
fn network_verbs_need_the_daemon() {
    let env = Env::new();
    let cid = "bafkqaaa";
    let peer = &peer_ids(1)[0];
    let ma = addr(1, peer);
    let cmds: Vec<Vec<&str>> = vec![
        vec!["swarm", "peers"],
        vec!["swarm", "peers", "-v"],
        vec!["swarm", "connect", &ma],
        vec!["swarm", "disconnect", &ma],
        vec!["swarm", "addrs"],
        vec!["swarm", "addrs", "local", "--id"],
        vec!["swarm", "addrs", "listen"],
        vec!["routing", "findprovs", cid, "-n", "1"],
        vec!["routing", "findpeer", peer],
        vec!["routing", "provide", cid, "-r"],
        vec!["dht", "findprovs", cid],
        vec!["dht", "findpeer", peer],
        vec!["dht", "provide", cid],
        vec!["stats", "bw"],
        vec!["stats", "bitswap"],
        vec!["bitswap", "stat"],
        vec!["bitswap", "wantlist"],
    ];
    for args in cmds {
        let err = env.fails(&args);
        assert_eq!(
            err,
            "Error: this command must be run in online mode. Try running 'ferrite daemon' first\n",
            "ferrite {args:?}"
        );
    }
}

/// Serves one canned JSON answer on a loopback port; yields the request line.
fn fake_daemon(body: &'static str) -> (String, std::thread::JoinHandle<String>) {
    use std::io::Write;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ma = format!("/ip4/127.0.0.1/tcp/{}", l.local_addr().unwrap().port());
    let h = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut first = String::new();
        r.read_line(&mut first).unwrap();
        loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        write!(
            &s,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        first.trim_end().to_string()
    });
    (ma, h)
}

#[test]
fn network_verbs_request_and_print_kubo_shapes() {
    let env = Env::new();
    let cases: &[(&[&str], &str, &str, &str)] = &[
        (
            &["swarm", "peers", "--latency"],
            "/api/v0/swarm/peers?latency=true",
            r#"{"Peers":[{"Addr":"/ip4/10.0.0.2/tcp/4001","Peer":"12D3A","Latency":"2ms","Muxer":"","Direction":0,"Streams":null}]}"#,
            "/ip4/10.0.0.2/tcp/4001/p2p/12D3A 2ms\n",
        ),
        (
            &["swarm", "peers"],
            "/api/v0/swarm/peers",
            r#"{"Peers":null}"#,
            "",
        ),
        (
            &["swarm", "connect", "/ip4/10.0.0.2/tcp/4001/p2p/12D3A"],
            "/api/v0/swarm/connect?arg=%2Fip4%2F10.0.0.2%2Ftcp%2F4001%2Fp2p%2F12D3A",
            r#"{"Strings":["connect 12D3A success"]}"#,
            "connect 12D3A success\n",
        ),
        (
            &["swarm", "disconnect", "/ip4/10.0.0.2/tcp/4001/p2p/12D3A"],
            "/api/v0/swarm/disconnect?arg=%2Fip4%2F10.0.0.2%2Ftcp%2F4001%2Fp2p%2F12D3A",
            r#"{"Strings":["disconnect 12D3A success"]}"#,
            "disconnect 12D3A success\n",
        ),
        (
            &["swarm", "addrs"],
            "/api/v0/swarm/addrs",
            r#"{"Addrs":{"12D3B":["/ip4/10.0.0.3/tcp/4001"],"12D3A":[]}}"#,
            "12D3A (0)\n12D3B (1)\n\t/ip4/10.0.0.3/tcp/4001\n",
        ),
        (
            &["swarm", "addrs", "local", "--id"],
            "/api/v0/swarm/addrs/local?id=true",
            r#"{"Strings":["/ip4/127.0.0.1/tcp/4001/p2p/12D3A"]}"#,
            "/ip4/127.0.0.1/tcp/4001/p2p/12D3A\n",
        ),
        (
            &["swarm", "addrs", "listen"],
            "/api/v0/swarm/addrs/listen",
            r#"{"Strings":["/ip4/127.0.0.1/tcp/4001"]}"#,
            "/ip4/127.0.0.1/tcp/4001\n",
        ),
        (
            &["routing", "findprovs", "bafkqaaa", "-n", "2"],
            "/api/v0/routing/findprovs?arg=bafkqaaa&num-providers=2",
            "{\"Extra\":\"\",\"ID\":\"\",\"Responses\":[{\"Addrs\":[],\"ID\":\"12D3A\"}],\"Type\":4}\n{\"Extra\":\"\",\"ID\":\"\",\"Responses\":[{\"Addrs\":[],\"ID\":\"12D3B\"}],\"Type\":4}\n",
            "12D3A\n12D3B\n",
        ),
        (
            &["dht", "findpeer", "12D3A"],
            "/api/v0/routing/findpeer?arg=12D3A",
            r#"{"Extra":"","ID":"","Responses":[{"ID":"12D3A","Addrs":["/ip4/10.0.0.2/tcp/4001"]}],"Type":2}"#,
            "/ip4/10.0.0.2/tcp/4001\n",
        ),
        (
            &["routing", "provide", "-r", "bafkqaaa"],
            "/api/v0/routing/provide?arg=bafkqaaa&recursive=true",
            "",
            "",
        ),
        (
            &["stats", "bw"],
            "/api/v0/stats/bw",
            r#"{"TotalIn":1234,"TotalOut":0,"RateIn":10.5,"RateOut":0.0}"#,
            "Bandwidth\nTotalIn: 1.2 kB\nTotalOut: 0 B\nRateIn: 10 B/s\nRateOut: 0 B/s\n",
        ),
        (
            &["bitswap", "wantlist"],
            "/api/v0/bitswap/wantlist",
            r#"{"Keys":[{"/":"bafkqaaa"}]}"#,
            "bafkqaaa\n",
        ),
        (
            &["stats", "bitswap"],
            "/api/v0/stats/bitswap",
            r#"{"Wantlist":[],"Peers":["12D3A"],"BlocksReceived":0,"BlocksSent":0,"DataReceived":0,"DataSent":0,"DupBlksReceived":0,"DupDataReceived":0,"MessagesReceived":0,"ProvideBufLen":0}"#,
            "bitswap status\n\tprovides buffer: 0 / 256\n\tblocks received: 0\n\tblocks sent: 0\n\tdata received: 0\n\tdata sent: 0\n\tdup blocks received: 0\n\tdup data received: 0\n\twantlist [0 keys]\n\tpartners [1]\n",
        ),
        (
            &["bitswap", "stat", "-v"],
            "/api/v0/bitswap/stat?verbose=true",
            r#"{"Wantlist":null,"Peers":["12D3A"],"BlocksReceived":0,"BlocksSent":0,"DataReceived":0,"DataSent":0,"DupBlksReceived":0,"DupDataReceived":0,"MessagesReceived":0,"ProvideBufLen":0}"#,
            "bitswap status\n\tprovides buffer: 0 / 256\n\tblocks received: 0\n\tblocks sent: 0\n\tdata received: 0\n\tdata sent: 0\n\tdup blocks received: 0\n\tdup data received: 0\n\twantlist [0 keys]\n\tpartners [1]\n\t\t12D3A\n",
        ),
    ];
    for (args, path, body, want) in cases {
        let (ma, h) = fake_daemon(body);
        let mut a = vec!["--api", &ma];
        a.extend_from_slice(args);
        let out = env.ok(&a);
        let request = h.join().unwrap();
        assert_eq!(request, format!("POST {path} HTTP/1.1"), "ferrite {args:?}");
        assert_eq!(out, *want, "ferrite {args:?}");
    }
}

#[test]
fn init_generates_or_imports_identities_of_every_key_type() {
    let dir = tempfile::tempdir().unwrap();
    let init = |name: &str, args: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_ferrite"));
        c.arg("init")
            .args(args)
            .args(["--profile", "test"])
            .env("FERRITE_PATH", dir.path().join(name));
        c.output().unwrap()
    };
    let config = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.path().join(name).join("config")).unwrap())
            .unwrap()
    };
    // secp256k1 peer IDs are 16Uiu2…, ECDSA ones Qm… (hashed), Ed25519 12D3….
    for (alg, prefix) in [
        ("ed25519", "12D3"),
        ("secp256k1", "16Uiu2"),
        ("ecdsa", "Qm"),
    ] {
        let out = init(alg, &["--algorithm", alg]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let id = config(alg)["Identity"]["PeerID"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(id.starts_with(prefix), "{alg}: {id}");
        // The key imports back (base64 form, as in a Kubo config) as the same ID.
        let key_file = dir.path().join(format!("{alg}.key"));
        std::fs::write(
            &key_file,
            config(alg)["Identity"]["PrivKey"].as_str().unwrap(),
        )
        .unwrap();
        let copy = format!("{alg}-copy");
        let out = init(&copy, &["--identity-file", key_file.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(config(&copy)["Identity"]["PeerID"].as_str().unwrap(), id);
    }
    let out = init("rsa", &["--algorithm", "rsa"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--identity-file"));
    assert!(!dir.path().join("rsa").join("config").exists());
    let junk = dir.path().join("junk.key");
    std::fs::write(&junk, "not a key").unwrap();
    let out = init("junk", &["--identity-file", junk.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("junk.key"));
}
