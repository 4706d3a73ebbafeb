//! An in-process RPC server over a temporary repo and a minimal HTTP/1.1
//! client (so tests control every header, including `Host`, and see
//! chunked trailers).

#![allow(dead_code)]

#[path = "../raw_support/mod.rs"]
mod raw_support;

use ferrite_config::Config;
use ferrite_http::rpc::{router, Api};
use ferrite_node::Node;
use raw_support::{read_raw, Raw};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

/// A running API server; stops when dropped.
pub(crate) struct TestApi {
    /// The port on 127.0.0.1.
    pub port: u16,
    /// The node the server works on (same repo handle).
    pub node: Node,
    /// Receives `/api/v0/shutdown` requests.
    pub shutdown_rx: tokio::sync::mpsc::Receiver<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl TestApi {
    /// A fresh repo (`test` profile) served on 127.0.0.1:0.
    pub(crate) fn start() -> TestApi {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        ferrite_node::Node::init(&repo, &Config::init(&["test"]).unwrap()).unwrap();
        let node = Node::open(&repo).unwrap();
        let (shutdown_tx, shutdown_rx) = tokio::sync::mpsc::channel(4);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let api = Api {
            node: node.clone(),
            shutdown: shutdown_tx,
        };
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                port_tx.send(l.local_addr().unwrap().port()).unwrap();
                ferrite_http::serve(l, router(api), async move {
                    let _ = stop_rx.await;
                })
                .await
                .unwrap();
            });
        });
        TestApi {
            port: port_rx.recv().unwrap(),
            node,
            shutdown_rx,
            stop: Some(stop_tx),
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// `POST /api/v0/<cmd>` without a body.
    pub(crate) fn post(&self, cmd: &str) -> Resp {
        self.request("POST", &format!("/api/v0/{cmd}"), &[], None)
    }

    /// `POST /api/v0/<cmd>` with files as multipart parts.
    pub(crate) fn post_files(&self, cmd: &str, files: &[&[u8]]) -> Resp {
        let boundary = "ferrite-test-boundary-8d1c";
        let mut body = Vec::new();
        for (i, f) in files.iter().enumerate() {
            write!(
                body,
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f{i}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .unwrap();
            body.extend_from_slice(f);
            body.extend_from_slice(b"\r\n");
        }
        write!(body, "--{boundary}--\r\n").unwrap();
        let ct = format!("multipart/form-data; boundary={boundary}");
        self.request("POST", &format!("/api/v0/{cmd}"), &[], Some((&ct, body)))
    }

    /// Any request. `Host: 127.0.0.1:<port>` is added unless given.
    pub(crate) fn request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Resp {
        let mut all = vec![("TE", "trailers")];
        all.extend_from_slice(headers);
        read_response(BufReader::new(self.send(method, target, &all, body)))
    }

    /// `POST /api/v0/<cmd>` as most HTTP clients send it (no `TE:
    /// trailers`), read as they see it.
    pub(crate) fn post_raw(&self, cmd: &str, body: Option<(&str, Vec<u8>)>) -> Raw {
        read_raw(self.send("POST", &format!("/api/v0/{cmd}"), &[], body))
    }

    /// Writes a request; the answer is to be read from the stream.
    fn send(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> TcpStream {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let mut head = format!("{method} {target} HTTP/1.1\r\nConnection: close\r\n");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            head += &format!("Host: 127.0.0.1:{}\r\n", self.port);
        }
        for (k, v) in headers {
            head += &format!("{k}: {v}\r\n");
        }
        let body = match body {
            Some((ct, b)) => {
                head += &format!("Content-Type: {ct}\r\nContent-Length: {}\r\n", b.len());
                b
            }
            None => {
                head += "Content-Length: 0\r\n";
                Vec::new()
            }
        };
        head += "\r\n";
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&body).unwrap();
        s
    }
}

impl Drop for TestApi {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A parsed response.
#[derive(Debug)]
pub(crate) struct Resp {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The (de-chunked) body.
    pub body: Vec<u8>,
    /// Chunked trailers, names lower-cased.
    pub trailers: Vec<(String, String)>,
}

impl Resp {
    /// The first value of a header.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header.
    pub(crate) fn header_all(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A trailer's value.
    pub(crate) fn trailer(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.trailers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8.
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    /// The body as one JSON value.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text()))
    }

    /// The body as NDJSON.
    pub(crate) fn ndjson(&self) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
            .collect()
    }

    /// Asserts a go-ipfs-cmds error: status, Code and message.
    pub(crate) fn assert_error(&self, status: u16, code: u64, message: &str) {
        assert_eq!(self.status, status, "{}", self.text());
        let v = self.json();
        assert_eq!(v["Type"], "error", "{v}");
        assert_eq!(v["Code"], code, "{v}");
        assert!(
            v["Message"].as_str().unwrap().contains(message),
            "{v} lacks {message:?}"
        );
    }
}

fn read_line(r: &mut impl BufRead) -> String {
    let mut l = String::new();
    r.read_line(&mut l).unwrap();
    l.trim_end_matches(['\r', '\n']).to_string()
}

fn read_headers(r: &mut impl BufRead) -> Vec<(String, String)> {
    let mut out = Vec::new();
    loop {
        let l = read_line(r);
        if l.is_empty() {
            return out;
        }
        let (k, v) = l.split_once(':').unwrap();
        out.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
}

fn read_response(mut r: impl BufRead) -> Resp {
    let status_line = read_line(&mut r);
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers = read_headers(&mut r);
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    let mut trailers = Vec::new();
    if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let size_line = read_line(&mut r);
            let size = usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16)
                .unwrap_or_else(|_| panic!("bad chunk size {size_line:?}"));
            if size == 0 {
                trailers = read_headers(&mut r);
                break;
            }
            let mut chunk = vec![0; size];
            r.read_exact(&mut chunk).unwrap();
            body.extend_from_slice(&chunk);
            read_line(&mut r);
        }
    } else if let Some(len) = get("content-length") {
        body.resize(len.parse().unwrap(), 0);
        r.read_exact(&mut body).unwrap();
    } else {
        r.read_to_end(&mut body).unwrap();
    }
    Resp {
        status,
        headers,
        body,
        trailers,
    }
}
