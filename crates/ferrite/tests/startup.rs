//! The first hour: the daemon starts on any config a user (or Kubo) wrote,
//! says what it skipped, prints its start-up lines in a fixed order; usage
//! errors are one line; each command's help shows only the options that
//! mean something there.

mod common;

use common::daemon::{wait_for, Node};
use common::Env;
use serde_json::Value;
use std::time::Duration;

/// Kubo's default `Addresses.Swarm` shapes, on loopback and port 0.
const KUBO_STYLE: [&str; 6] = [
    "/ip4/127.0.0.1/tcp/0",
    "/ip4/127.0.0.1/udp/0/webrtc-direct",
    "/ip4/127.0.0.1/udp/0/quic-v1",
    "/ip4/127.0.0.1/udp/0/quic-v1/webtransport",
    "/ip6/::1/udp/0/webrtc-direct",
    "/ip4/127.0.0.1/tcp/0/ws",
];

fn set_swarm(env: &Env, addrs: &[&str]) {
    env.ok(&[
        "config",
        "--json",
        "Addresses.Swarm",
        &serde_json::to_string(addrs).unwrap(),
    ]);
}

/// Runs `ferrite daemon`, which must fail with one `Error: …` line.
fn daemon_fails_in_one_line(env: &Env) -> String {
    let err = env.fails(&["daemon"]);
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

#[test]
fn unsupported_listen_addresses_are_warnings_and_the_rest_listens() {
    let env = Env::new();
    set_swarm(&env, &KUBO_STYLE);
    let mut n = Node::with_env(env);
    let err = n.stderr();
    for (addr, what) in [
        ("/ip4/127.0.0.1/udp/0/webrtc-direct", "WebRTC Direct"),
        ("/ip4/127.0.0.1/udp/0/quic-v1/webtransport", "WebTransport"),
        ("/ip6/::1/udp/0/webrtc-direct", "WebRTC Direct"),
        ("/ip4/127.0.0.1/tcp/0/ws", "WebSocket"),
    ] {
        let line = format!("Warning: not listening on {addr}: {what} is not supported");
        assert_eq!(err.matches(&line).count(), 1, "{line}\n{err}");
    }
    let out = n.stdout_text();
    let listening: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("Swarm listening on "))
        .collect();
    assert!(
        listening.iter().any(|a| a.contains("/tcp/")),
        "no TCP listener: {out}"
    );
    assert!(
        listening.iter().any(|a| a.ends_with("/quic-v1")),
        "no QUIC listener: {out}"
    );
    // Each listen address once, in `swarm addrs listen` too.
    let mut sorted = listening.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, listening, "listening lines unsorted or repeated");
    let listen = n.env.ok(&["swarm", "addrs", "listen"]);
    let lines: Vec<&str> = listen.lines().collect();
    let mut unique = lines.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), lines.len(), "{listen}");
    assert_eq!(lines.len(), listening.len(), "{listen} vs {out}");
    let local = n.env.ok(&["swarm", "addrs", "local"]);
    let lines: Vec<&str> = local.lines().collect();
    let mut unique = lines.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), lines.len(), "{local}");
    n.stop();
}

#[test]
fn nothing_to_listen_on_stops_the_daemon_with_one_line() {
    let env = Env::new();
    set_swarm(
        &env,
        &[
            "/ip4/127.0.0.1/udp/0/webrtc-direct",
            "/ip4/127.0.0.1/udp/0/quic-v1/webtransport",
        ],
    );
    let err = daemon_fails_in_one_line(&env);
    assert!(
        err.contains("cannot listen on any configured address")
            && err.contains("/ip4/127.0.0.1/udp/0/webrtc-direct (WebRTC Direct is not supported)"),
        "{err}"
    );
}

#[test]
fn a_port_in_use_is_skipped_but_not_when_it_is_the_only_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let busy = format!("/ip4/127.0.0.1/tcp/{port}");
    let env = Env::new();
    set_swarm(&env, &[&busy]);
    let err = daemon_fails_in_one_line(&env);
    assert!(err.contains(&busy), "{err}");
    set_swarm(&env, &[&busy, "/ip4/127.0.0.1/tcp/0"]);
    let mut n = Node::with_env(env);
    assert!(
        n.stderr()
            .contains(&format!("Warning: not listening on {busy}: ")),
        "{}",
        n.stderr()
    );
    n.stop();
}

#[test]
fn an_unsupported_transport_asked_for_explicitly_is_an_error() {
    let env = Env::new();
    env.ok(&[
        "config",
        "--json",
        "Swarm.Transports.Network.WebRTCDirect",
        "true",
    ]);
    let err = daemon_fails_in_one_line(&env);
    assert!(
        err.contains("Swarm.Transports.Network.WebRTCDirect is true")
            && err.contains("WebRTC Direct"),
        "{err}"
    );
}

#[test]
fn a_transport_switched_off_is_not_listened_on() {
    let env = Env::new();
    env.ok(&["config", "--json", "Swarm.Transports.Network.QUIC", "false"]);
    let mut n = Node::with_env(env);
    let out = n.stdout_text();
    assert!(
        out.contains("Swarm listening on /ip4/127.0.0.1/tcp/"),
        "{out}"
    );
    assert!(!out.contains("quic"), "{out}");
    assert!(!n.stderr().contains("Warning"), "{}", n.stderr());
    n.stop();
}

#[test]
fn startup_lines_come_in_a_fixed_order() {
    let mut n = Node::new();
    let out = n.stdout_text();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Initializing daemon...", "{out}");
    let pos = |prefix: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in\n{out}"))
    };
    let order = [
        pos("ferrite version: "),
        pos("Repo path: "),
        pos("PeerID: "),
        pos("Swarm listening on "),
        pos("RPC API server listening on "),
        pos("Gateway server listening on "),
        pos("RPC API: http://127.0.0.1:"),
        pos("Gateway: http://127.0.0.1:"),
        pos("Daemon is ready"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}\n{out}");
    // Every listen line sits between PeerID and the API lines.
    let last_swarm = lines
        .iter()
        .rposition(|l| l.starts_with("Swarm listening on "))
        .unwrap();
    assert!(last_swarm < pos("RPC API server listening on "), "{out}");
    // The gateway file has the URL a script needs when ports are random.
    let url = std::fs::read_to_string(n.env.repo().join("gateway")).unwrap();
    assert_eq!(url, format!("http://{}", n.gateway));
    let (status, _) = common::daemon::http(&n.gateway, "GET", "/ipfs/bafkqaaa", None);
    assert_eq!(status, 200);
    n.stop();
    assert!(!n.env.repo().join("gateway").exists());
}

#[test]
fn usage_errors_are_one_line_with_a_hint() {
    let env = Env::new();
    for (args, want) in [
        (
            &["ping"][..],
            "Error: unknown command 'ping'; see 'ferrite --help'",
        ),
        (
            &["pin", "frobnicate"][..],
            "Error: unknown command 'pin frobnicate'; see 'ferrite pin --help'",
        ),
        (
            &["pin", "add"][..],
            "Error: missing argument <PATHS>...; see 'ferrite pin add --help'",
        ),
        (
            &["add", "--recursiv", "x"][..],
            "Error: unexpected argument '--recursiv' found (did you mean '--recursive'?); see 'ferrite add --help'",
        ),
        (
            &["add", "--cid-version", "abc", "x"][..],
            "; see 'ferrite add --help'",
        ),
    ] {
        let o = env.run(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("Error: "), "{args:?}: {err}");
        assert!(err.trim_end().ends_with(want) || err.trim_end() == want, "{args:?}: {err}");
    }
}

#[test]
fn help_shows_global_options_only_where_they_mean_something() {
    let env = Env::new();
    let help = |args: &[&str]| {
        let mut a = args.to_vec();
        a.push("--help");
        env.ok(&a)
    };
    let top = help(&[]);
    for opt in ["--repo-dir", "--api", "--offline"] {
        assert!(top.contains(opt), "ferrite --help lacks {opt}");
    }
    for (cmd, shown, hidden) in [
        (
            &["cat"][..],
            &["--offline", "--api", "--repo-dir"][..],
            &[][..],
        ),
        (
            &["cid", "format"][..],
            &[][..],
            &["--offline", "--api", "--repo-dir"][..],
        ),
        (
            &["version"][..],
            &[][..],
            &["--offline", "--api", "--repo-dir"][..],
        ),
        (
            &["init"][..],
            &["--repo-dir"][..],
            &["--offline", "--api"][..],
        ),
        (
            &["daemon"][..],
            &["--repo-dir", "--offline"][..],
            &["--api"][..],
        ),
        (
            &["swarm", "key", "gen"][..],
            &["--repo-dir"][..],
            &["--api", "--offline"][..],
        ),
        (
            &["config"][..],
            &["--repo-dir", "--api"][..],
            &["--offline"][..],
        ),
    ] {
        let h = help(cmd);
        for o in shown {
            assert!(h.contains(o), "{cmd:?} --help lacks {o}:\n{h}");
        }
        for o in hidden {
            assert!(!h.contains(o), "{cmd:?} --help shows {o}:\n{h}");
        }
        assert!(
            h.contains("Examples:\n  ferrite "),
            "{cmd:?} --help has no example:\n{h}"
        );
    }
    // Hidden is not refused: a global option is accepted after any command.
    let v: Value = serde_json::from_str(&env.ok(&["config", "show", "--offline"])).unwrap();
    assert!(v["Identity"].is_object());
}

#[test]
fn swarm_addrs_lists_each_address_once() {
    let mut a = Node::new();
    let mut b = Node::new();
    b.connect(&a);
    for (n, other) in [(&a, &b), (&b, &a)] {
        let other_id = other.id();
        // Identify fills the DHT's address book a moment after connecting.
        let addrs: Vec<String> = wait_for(Duration::from_secs(10), "addresses", || {
            let v = n.json("swarm/addrs");
            match v["Addrs"][&other_id].as_array() {
                Some(list) if list.len() >= 2 => Ok(list
                    .iter()
                    .map(|a| a.as_str().unwrap().to_string())
                    .collect()),
                _ => Err(v.to_string()),
            }
        });
        let text = n.env.ok(&["swarm", "addrs"]);
        let mut unique = addrs.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique, addrs, "repeated or unsorted: {text}");
        assert!(addrs.iter().all(|a| !a.contains("/p2p/")), "{text}");
        assert!(
            text.contains(&format!("{other_id} ({})", addrs.len())),
            "{text}"
        );
    }
    a.stop();
    b.stop();
}
