//! A `ferrite daemon` child process on its own repo, for tests that need a
//! running node (and, with `cluster init` first, a running cluster peer),
//! plus a tiny HTTP/1.0 client for its RPC API and the cluster REST API.
#![allow(dead_code)]

use super::Env;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A `ferrite daemon` on its own repo, killed when dropped.
pub(crate) struct Node {
    pub env: Env,
    pub child: Option<Child>,
    /// The daemon's stderr (appended to across restarts).
    pub stderr: PathBuf,
    /// The gateway as `host:port` (empty until started).
    pub gateway: String,
    /// `Cluster peer ID: …` of the last start (empty without a cluster).
    pub cluster_peer_id: String,
    /// `Cluster listening on …` multiaddrs (with `/p2p/<id>`) of the last start.
    pub cluster_addrs: Vec<String>,
    /// `Cluster REST API listening on …` multiaddr of the last start.
    pub cluster_rest_maddr: String,
    /// `Pinning Service API listening on …` multiaddr of the last start.
    pub pinsvc_maddr: String,
    /// Every stdout line of every start, in order.
    pub stdout: Arc<Mutex<Vec<String>>>,
}

impl Node {
    /// A fresh repo (`init --profile test`) with a running daemon.
    pub(crate) fn new() -> Node {
        Node::with_env(Env::new())
    }

    /// A running daemon on `env`'s repo.
    pub(crate) fn with_env(env: Env) -> Node {
        let mut n = Node::unstarted(env);
        n.start();
        n
    }

    /// A node on `env`'s repo whose daemon is not started yet, so that
    /// `cluster init`, `config` and the like can still run on the repo.
    pub(crate) fn unstarted(env: Env) -> Node {
        let stderr = env.path("daemon.stderr");
        Node {
            env,
            child: None,
            stderr,
            gateway: String::new(),
            cluster_peer_id: String::new(),
            cluster_addrs: Vec::new(),
            cluster_rest_maddr: String::new(),
            pinsvc_maddr: String::new(),
            stdout: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Starts `ferrite daemon` and waits (30 s) for `Daemon is ready`.
    pub(crate) fn start(&mut self) {
        self.start_with(&[]);
    }

    /// Starts `ferrite daemon <extra…>` and waits (30 s) for `Daemon is ready`.
    pub(crate) fn start_with(&mut self, extra: &[&str]) {
        self.start_with_env(extra, &[]);
    }

    /// The same, with these environment variables set for the daemon.
    pub(crate) fn start_with_env(&mut self, extra: &[&str], vars: &[(&str, &str)]) {
        assert!(self.child.is_none(), "daemon already running");
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stderr)
            .unwrap();
        let mut args = vec!["daemon"];
        args.extend_from_slice(extra);
        let mut child = self
            .env
            .cmd(&args)
            .envs(vars.iter().copied())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let all = self.stdout.clone();
        let first = all.lock().unwrap().len();
        // Keeps draining stdout so the daemon's last words never hit a closed pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let ready = line == "Daemon is ready";
                all.lock().unwrap().push(line);
                if ready {
                    let _ = tx.send(());
                }
            }
        });
        if rx.recv_timeout(Duration::from_secs(30)).is_err() {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "daemon did not become ready\nstdout:\n{}\nstderr:\n{}",
                self.stdout.lock().unwrap()[first..].join("\n"),
                self.stderr()
            );
        }
        self.child = Some(child);
        let lines: Vec<String> = self.stdout.lock().unwrap()[first..].to_vec();
        let after = |prefix: &str| -> Vec<String> {
            lines
                .iter()
                .filter_map(|l| l.strip_prefix(prefix).map(str::to_string))
                .collect()
        };
        self.gateway = after("Gateway server listening on ")
            .first()
            .map(|g| host_port(g))
            .unwrap_or_default();
        self.cluster_peer_id = after("Cluster peer ID: ").pop().unwrap_or_default();
        self.cluster_addrs = after("Cluster listening on ");
        self.cluster_rest_maddr = after("Cluster REST API listening on ")
            .pop()
            .unwrap_or_default();
        self.pinsvc_maddr = after("Pinning Service API listening on ")
            .pop()
            .unwrap_or_default();
    }

    /// Whether the daemon process is (still) running.
    pub(crate) fn running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => c.try_wait().unwrap().is_none(),
            None => false,
        }
    }

    /// Stops the daemon gracefully (SIGTERM) and waits for it.
    pub(crate) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) only sends a signal to our child, not yet
            // waited for.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if c.try_wait().unwrap().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills the daemon at once (SIGKILL).
    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The RPC API as `host:port`, from the repo's api file.
    pub(crate) fn api_addr(&self) -> String {
        let ma = std::fs::read_to_string(self.env.repo().join("api")).unwrap();
        host_port(ma.trim())
    }

    /// POST /api/v0/<path>; returns (status, body).
    pub(crate) fn post(&self, path: &str) -> (u16, String) {
        let (status, body) = self.post_bytes(path);
        (status, String::from_utf8_lossy(&body).to_string())
    }

    /// POST /api/v0/<path>; returns (status, raw body).
    pub(crate) fn post_bytes(&self, path: &str) -> (u16, Vec<u8>) {
        http_bytes(&self.api_addr(), "POST", &format!("/api/v0/{path}"), None)
    }

    /// POST /api/v0/<path>, asserts 200, parses the body as JSON.
    pub(crate) fn json(&self, path: &str) -> Value {
        let (status, body) = self.post(path);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(body.trim()).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
    }

    /// The node's peer ID (through the RPC API).
    pub(crate) fn id(&self) -> String {
        self.json("id")["ID"].as_str().unwrap().to_string()
    }

    /// This node's first TCP address with its /p2p/ part.
    pub(crate) fn addr(&self) -> String {
        self.json("id")["Addresses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .find(|a| a.contains("/tcp/"))
            .expect("a tcp address")
    }

    /// `swarm connect` to `other` through the RPC API; asserts success.
    pub(crate) fn connect(&self, other: &Node) {
        let v = self.json(&format!("swarm/connect?arg={}", other.addr()));
        assert!(
            v["Strings"][0].as_str().unwrap().ends_with("success"),
            "{v}"
        );
    }

    /// Peer IDs of the IPFS swarm peers.
    pub(crate) fn peers(&self) -> Vec<String> {
        match &self.json("swarm/peers")["Peers"] {
            Value::Array(a) => a
                .iter()
                .map(|p| p["Peer"].as_str().unwrap().to_string())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Everything the daemon wrote to stderr so far.
    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Everything the daemon wrote to stdout so far.
    pub(crate) fn stdout_text(&self) -> String {
        self.stdout.lock().unwrap().join("\n")
    }

    /// The cluster REST API as `host:port` (panics without one).
    pub(crate) fn rest_addr(&self) -> String {
        assert!(
            !self.cluster_rest_maddr.is_empty(),
            "no `Cluster REST API listening on` line"
        );
        host_port(&self.cluster_rest_maddr)
    }

    /// The first `Cluster listening on` multiaddr (with `/p2p/<id>`).
    pub(crate) fn cluster_addr(&self) -> String {
        self.cluster_addrs
            .first()
            .cloned()
            .expect("no `Cluster listening on` line")
    }

    /// A request to the cluster REST API; returns (status, body).
    pub(crate) fn rest(&self, method: &str, path: &str) -> (u16, String) {
        http(&self.rest_addr(), method, path, None)
    }

    /// GET on the cluster REST API, asserts 200, parses JSON.
    pub(crate) fn rest_json(&self, path: &str) -> Value {
        let (status, body) = self.rest("GET", path);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(body.trim()).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// GET on the cluster REST API, asserts 200, parses NDJSON (or a JSON array).
    pub(crate) fn rest_ndjson(&self, path: &str) -> Vec<Value> {
        let (status, body) = self.rest("GET", path);
        assert_eq!(status, 200, "GET {path}: {body}");
        ndjson(&body)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `/ip4/H/tcp/P[/…]` -> `H:P`.
pub(crate) fn host_port(maddr: &str) -> String {
    let parts: Vec<&str> = maddr.trim().split('/').collect();
    assert!(parts.len() >= 5, "not an /ip4/…/tcp/… multiaddr: {maddr:?}");
    format!("{}:{}", parts[2], parts[4])
}

/// A free TCP port on 127.0.0.1 (bound, then released).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An HTTP/1.0 request to `addr` (`host:port`); `body` is (content type,
/// bytes). Returns (status, body as text).
pub(crate) fn http(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<(&str, &[u8])>,
) -> (u16, String) {
    let (status, body) = http_bytes(addr, method, path, body);
    (status, String::from_utf8_lossy(&body).to_string())
}

/// Like [`http`], with the raw body.
pub(crate) fn http_bytes(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<(&str, &[u8])>,
) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n");
    match body {
        Some((ct, b)) => {
            req.push_str(&format!(
                "Content-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
                b.len()
            ));
            s.write_all(req.as_bytes()).unwrap();
            s.write_all(b).unwrap();
        }
        None => {
            req.push_str("Content-Length: 0\r\n\r\n");
            s.write_all(req.as_bytes()).unwrap();
        }
    }
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no http head: {}", String::from_utf8_lossy(&buf)));
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let mut body = buf[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    let status = head.split(' ').nth(1).unwrap_or("0").parse().unwrap();
    (status, body)
}

/// Parses an NDJSON body (or a single JSON array) into values.
pub(crate) fn ndjson(body: &str) -> Vec<Value> {
    let t = body.trim();
    if t.starts_with('[') {
        return serde_json::from_str::<Vec<Value>>(t).unwrap_or_else(|e| panic!("{e}: {body}"));
    }
    t.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Decodes an HTTP/1.1 chunked body (trailers dropped).
pub(crate) fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&b[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
}

/// Polls `f` every 200 ms until it returns `Ok`, or panics with `what` and
/// the last `Err` text after `timeout`.
pub(crate) fn wait_for<T>(
    timeout: Duration,
    what: &str,
    mut f: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match f() {
            Ok(v) => return v,
            Err(last) => {
                assert!(
                    Instant::now() < deadline,
                    "timed out after {timeout:?} waiting for {what}; last: {last}"
                );
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
