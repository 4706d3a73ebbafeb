//! Running as a service: sd_notify (READY, STATUS, WATCHDOG, STOPPING),
//! SIGHUP re-reading the config, SIGTERM during an add, and the systemd
//! units `service install` writes and `contrib/systemd` ships.

mod common;

use common::daemon::{wait_for, Node};
use common::{random_bytes, Env};
use serde_json::Value;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Every datagram the daemon sends to a socket we listen on.
struct NotifySocket {
    socket: UnixDatagram,
    seen: Vec<(Instant, String)>,
}

impl NotifySocket {
    fn bind(path: &Path) -> NotifySocket {
        let socket = UnixDatagram::bind(path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        NotifySocket {
            socket,
            seen: Vec::new(),
        }
    }

    /// Reads until a message satisfies `f` (returned) or `timeout` passes.
    fn until(&mut self, timeout: Duration, f: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = self.socket.recv(&mut buf) {
                let msg = String::from_utf8_lossy(&buf[..n]).to_string();
                self.seen.push((Instant::now(), msg.clone()));
                if f(&msg) {
                    return Some(msg);
                }
            }
        }
        None
    }

    fn count(&self, what: &str) -> usize {
        self.seen
            .iter()
            .filter(|(_, m)| m.lines().any(|l| l == what))
            .count()
    }
}

fn sigterm(pid: u32) {
    // SAFETY: kill(2) only sends a signal to our child.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
}

fn sighup(pid: u32) {
    // SAFETY: as above.
    unsafe { libc::kill(pid as i32, libc::SIGHUP) };
}

/// Waits for the daemon to exit; returns how long that took.
fn exit_time(node: &mut Node) -> Duration {
    let mut child = node.child.take().expect("running");
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return start.elapsed();
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("the daemon did not exit within 30 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sd_notify_ready_status_watchdog_and_stopping() {
    let mut node = Node::unstarted(Env::new());
    let sock_path = node.env.path("notify.sock");
    let mut sock = NotifySocket::bind(&sock_path);
    node.start_with_env(
        &[],
        &[
            ("NOTIFY_SOCKET", sock_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "400000"),
        ],
    );
    let pid = node.child.as_ref().unwrap().id();
    let ready = sock
        .until(Duration::from_secs(5), |m| {
            m.lines().any(|l| l == "READY=1")
        })
        .expect("READY=1");
    // READY=1 comes once the API serves (its api file is written first).
    assert!(node.env.repo().join("api").exists());
    assert!(ready.contains(&format!("MAINPID={pid}")), "{ready}");
    let status = ready.lines().find(|l| l.starts_with("STATUS=")).unwrap();
    assert!(
        status.contains("0 peers") && status.contains("0 pins"),
        "{status}"
    );
    node.env.ok(&[
        "add",
        "-q",
        node.env.write("a", b"status").to_str().unwrap(),
    ]);

    // WATCHDOG=1 every 200 ms (half of WATCHDOG_USEC): about 10 in 2 s,
    // fewer when a loaded machine delays the store probes.
    let start = Instant::now();
    sock.until(Duration::from_secs(2), |_| false);
    let pets = sock
        .seen
        .iter()
        .filter(|(t, m)| *t >= start && m == "WATCHDOG=1")
        .count();
    assert!((3..=14).contains(&pets), "{pets} WATCHDOG=1 in 2 s");

    sigterm(pid);
    let stopping = sock.until(Duration::from_secs(10), |m| {
        m.lines().any(|l| l == "STOPPING=1")
    });
    assert!(stopping.is_some(), "no STOPPING=1: {:?}", sock.seen);
    let took = exit_time(&mut node);
    assert!(took < Duration::from_secs(10), "exit took {took:?}");

    // A watchdog meant for another process (WATCHDOG_PID) is not fed; an
    // abstract socket name (@…) works too.
    let name = format!("ferrite-test-{}", std::process::id());
    let abstract_sock = {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let s = UnixDatagram::bind_addr(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        s
    };
    let mut sock = NotifySocket {
        socket: abstract_sock,
        seen: Vec::new(),
    };
    node.start_with_env(
        &[],
        &[
            ("NOTIFY_SOCKET", &format!("@{name}")),
            ("WATCHDOG_USEC", "200000"),
            ("WATCHDOG_PID", "1"),
        ],
    );
    let ready = sock
        .until(Duration::from_secs(5), |m| {
            m.lines().any(|l| l == "READY=1")
        })
        .expect("READY=1 on an abstract socket");
    assert!(ready.contains("1 pins"), "{ready}");
    sock.until(Duration::from_millis(800), |_| false);
    assert_eq!(sock.count("WATCHDOG=1"), 0, "{:?}", sock.seen);
    node.stop();
}

/// The repo's config file, edited on disk as an operator would.
fn edit_config(env: &Env, f: impl FnOnce(&mut Value)) {
    let path = env.repo().join("config");
    let mut v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

#[test]
fn sighup_rereads_log_filter_bootstrap_and_api_settings() {
    let mut a = Node::new();
    let b = Node::new();
    let pid = a.child.as_ref().unwrap().id();
    let reloaded = |node: &Node, n: usize| {
        wait_for(Duration::from_secs(10), "the reload to be logged", || {
            let c = node.stderr().matches("reload (SIGHUP)").count();
            if c >= n {
                Ok(())
            } else {
                Err(node.stderr())
            }
        })
    };

    // A filter with a typo is refused whole: nothing changes, the daemon
    // runs on and says why.
    edit_config(&a.env, |v| {
        v["Logging"] = serde_json::json!({"Filter": "loud"})
    });
    sighup(pid);
    reloaded(&a, 1);
    assert!(
        a.stderr().contains("config refused, nothing changed")
            && a.stderr().contains("Logging.Filter"),
        "{}",
        a.stderr()
    );
    assert!(a.running());

    // Info lines appear only once the new filter is in force; b joins the
    // bootstrap list and gets dialled; an API token starts to be required.
    edit_config(&a.env, |v| {
        v["Logging"] = serde_json::json!({"Filter": "info"});
        v["Bootstrap"] = serde_json::json!([b.addr()]);
        v["API"]["Authorizations"] = serde_json::json!({
            "ops": {"AuthSecret": "bearer:s3cret", "AllowedPaths": ["/api/v0"]}
        });
    });
    assert!(a.peers().is_empty());
    sighup(pid);
    reloaded(&a, 2);
    assert!(
        a.stderr().contains(r#"log filter "info""#),
        "{}",
        a.stderr()
    );
    let b_id = b.id();
    let (status, _) = a.post("id");
    assert_eq!(status, 403, "API.Authorizations not applied");
    let authed = |path: &str| {
        let out = Command::new("curl")
            .args(["-s", "-X", "POST", "-H", "Authorization: Bearer s3cret"])
            .arg(format!("http://{}/api/v0/{path}", a.api_addr()))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    wait_for(
        Duration::from_secs(15),
        "the bootstrap peer to connect",
        || {
            let peers = authed("swarm/peers");
            if peers.contains(&b_id) {
                Ok(())
            } else {
                Err(peers)
            }
        },
    );
    a.stop();
}

#[test]
fn sigterm_during_adds_loses_nothing_acknowledged_and_exits_in_time() {
    let mut node = Node::new();
    let pid = node.child.as_ref().unwrap().id();
    let files: Vec<(std::path::PathBuf, Vec<u8>)> = (0..40u64)
        .map(|i| {
            let data = random_bytes(i, 3 << 20);
            (node.env.write(&format!("f{i}"), &data), data)
        })
        .collect();
    let api = node.env.repo().join("api");
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let adder = {
        let acked = acked.clone();
        let paths: Vec<_> = files.iter().map(|(p, _)| p.clone()).collect();
        let bin = env!("CARGO_BIN_EXE_ferrite");
        let repo = node.env.repo();
        std::thread::spawn(move || {
            for (i, p) in paths.iter().enumerate() {
                let out = Command::new(bin)
                    .args(["add", "-Q"])
                    .arg(p)
                    .env("FERRITE_PATH", &repo)
                    .output()
                    .unwrap();
                if !out.status.success() {
                    break;
                }
                let cid = String::from_utf8(out.stdout).unwrap().trim().to_string();
                acked.lock().unwrap().push((i, cid));
            }
        })
    };
    wait_for(Duration::from_secs(30), "a few adds", || {
        let n = acked.lock().unwrap().len();
        if n >= 3 {
            Ok(())
        } else {
            Err(format!("{n} adds"))
        }
    });
    sigterm(pid);
    let took = exit_time(&mut node);
    adder.join().unwrap();
    assert!(took < Duration::from_secs(10), "exit took {took:?}");
    assert!(!api.exists(), "the api file outlived the daemon");
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() < files.len(), "SIGTERM came after every add");

    // Offline now: every acknowledged add is pinned and reads back whole.
    let pins = node.env.ok(&["pin", "ls", "--type", "recursive", "-q"]);
    for (i, cid) in &acked {
        assert!(pins.contains(cid.as_str()), "{cid} not pinned");
        let out = node.env.cmd(&["cat", cid]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout == files[*i].1, "file {i} reads back different");
    }
    node.env.ok(&["repo", "verify"]);
}

/// `systemd-analyze verify` on a unit whose binary is the one under test:
/// no error and no warning about the file.
fn verify_unit(unit: &Path) {
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(unit)
        .output()
        .expect("systemd-analyze (Debian package systemd) must be installed");
    let err = String::from_utf8_lossy(&out.stderr);
    let name = unit.file_name().unwrap().to_str().unwrap();
    assert!(out.status.success(), "{name}: {err}");
    assert!(
        !err.lines()
            .any(|l| l.contains(name) || l.contains("ferrite")),
        "{name}: {err}"
    );
}

#[test]
fn shipped_and_installed_units_pass_systemd_analyze_verify() {
    let env = Env::new();
    let bin = env!("CARGO_BIN_EXE_ferrite");
    let dir = env.path("units");
    std::fs::create_dir_all(&dir).unwrap();
    let contrib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contrib/systemd");
    for name in ["ferrite.service", "ferrite@.service"] {
        let text = std::fs::read_to_string(contrib.join(name))
            .unwrap()
            .replace("/usr/local/bin/ferrite", bin);
        std::fs::write(dir.join(name), text).unwrap();
    }
    verify_unit(&dir.join("ferrite.service"));
    verify_unit(&dir.join("ferrite@node1.service"));

    // --print: the system unit, nothing written.
    let printed = env.ok(&["service", "install", "--print", "--profile", "lowpower"]);
    assert!(
        printed.contains("MemoryMax=512M") && printed.contains("User=ferrite"),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("ExecStart={bin} daemon")),
        "{printed}"
    );
    std::fs::write(dir.join("printed.service"), &printed).unwrap();
    verify_unit(&dir.join("printed.service"));

    // A binary ProtectHome=yes would hide is pointed out.
    let o = env.run(&[
        "service",
        "install",
        "--print",
        "--binary",
        "/home/me/ferrite",
    ]);
    assert!(o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("ProtectHome=yes hides"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // --user: a new repo and a user unit in the given folder.
    let repo = env.path("svc-repo");
    let units = env.path("user-units");
    let install_user = || {
        env.ok(&[
            "service",
            "install",
            "--user",
            "--repo",
            repo.to_str().unwrap(),
            "--unit-dir",
            units.to_str().unwrap(),
        ])
    };
    let out = install_user();
    assert!(
        out.contains("Wrote ") && out.contains("systemctl --user enable --now ferrite"),
        "{out}"
    );
    let unit = std::fs::read_to_string(units.join("ferrite.service")).unwrap();
    assert!(
        unit.contains(&format!("Environment=FERRITE_PATH={}", repo.display())),
        "{unit}"
    );
    assert!(!unit.contains("User="), "{unit}");
    assert!(repo.join("config").exists());
    verify_unit(&units.join("ferrite.service"));
    // Run again: the repo is kept, not re-initialised.
    let again = install_user();
    assert!(again.contains("Using the existing repo"), "{again}");
}

#[test]
fn log_level_changes_the_running_filter() {
    let mut node = Node::new();
    let ls = node.env.ok(&["log", "ls"]);
    assert!(ls.lines().any(|l| l == "ferrite_p2p"), "{ls}");
    let debug_lines = |n: &Node| n.stderr().matches(" DEBUG ").count();
    let file = node.env.write("x", &random_bytes(1, 1 << 20));
    node.env.ok(&["add", "-q", file.to_str().unwrap()]);
    assert_eq!(debug_lines(&node), 0, "{}", node.stderr());

    let out = node.env.ok(&["log", "level", "all", "debug"]);
    assert_eq!(out, "Changed log level of 'all' to 'debug'\n");
    node.env.ok(&["swarm", "peers"]);
    node.env.ok(&["add", "-q", file.to_str().unwrap()]);
    let after = wait_for(
        Duration::from_secs(5),
        "debug lines",
        || match debug_lines(&node) {
            0 => Err(node.stderr()),
            n => Ok(n),
        },
    );

    // Back to warnings for all, debug for one subsystem only.
    node.env.ok(&["log", "level", "all", "warn"]);
    let (_, body) = node.post("log/level?arg=ferrite_config&arg=debug");
    assert!(
        body.contains("Changed log level of 'ferrite_config' to 'debug'"),
        "{body}"
    );
    node.env.ok(&["add", "-q", file.to_str().unwrap()]);
    std::thread::sleep(Duration::from_millis(300));
    let settled = debug_lines(&node);
    node.env.ok(&["add", "-q", file.to_str().unwrap()]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(debug_lines(&node), settled, "debug lines after 'all warn'");
    assert!(settled >= after);

    let err = node.env.fails(&["log", "level", "ferrite_p2p", "loud"]);
    assert!(err.contains("unknown log level"), "{err}");
    let err = node.env.fails(&["log", "level", "bad target", "info"]);
    assert!(err.contains("module path"), "{err}");
    node.stop();
    let err = node.env.fails(&["log", "ls"]);
    assert!(
        err.contains("running daemon") || err.contains("online mode"),
        "{err}"
    );
}
