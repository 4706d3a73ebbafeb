//! A gateway on 127.0.0.1:0 over a temp repo, and a small HTTP client.
#![allow(dead_code)]

use ferrite_config::Config;
use ferrite_ipld::Cid;
use ferrite_node::{AddOptions, AddSource, Node};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

/// A running gateway.
pub(crate) struct Gw {
    pub dir: tempfile::TempDir,
    pub node: Node,
    pub addr: SocketAddr,
    pub base: String,
    agent: ureq::Agent,
    _rt: tokio::runtime::Runtime,
}

/// A response, headers keyed in lowercase.
#[derive(Debug)]
pub(crate) struct Resp {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Resp {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Gw {
    pub(crate) fn start() -> Gw {
        let dir = tempfile::tempdir().unwrap();
        ferrite_node::Node::init(dir.path(), &Config::init(&["test"]).unwrap()).unwrap();
        let node = Node::open(dir.path()).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let router = ferrite_http::gateway::router(node.clone());
        rt.spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Gw {
            dir,
            node,
            addr,
            base: format!("http://{addr}"),
            agent,
            _rt: rt,
        }
    }

    pub(crate) fn add_opts(&self) -> AddOptions {
        AddOptions {
            import: self.node.import_defaults().unwrap(),
            pin: true,
            recursive: true,
            ..Default::default()
        }
    }

    /// Adds bytes as a file; returns its CID.
    pub(crate) fn add_bytes(&self, data: &[u8]) -> Cid {
        let added = self
            .node
            .add(
                AddSource::Reader {
                    reader: Box::new(std::io::Cursor::new(data.to_vec())),
                    name: None,
                },
                &self.add_opts(),
                &mut |_| {},
            )
            .unwrap();
        added.last().unwrap().cid
    }

    /// Adds a folder (recursively); returns its CID.
    pub(crate) fn add_dir(&self, path: &Path) -> Cid {
        let added = self
            .node
            .add(
                AddSource::Paths(vec![path.to_path_buf()]),
                &self.add_opts(),
                &mut |_| {},
            )
            .unwrap();
        added.last().unwrap().cid
    }

    pub(crate) fn get(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        self.request("GET", path, headers)
    }

    pub(crate) fn head(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        self.request("HEAD", path, headers)
    }

    pub(crate) fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
        let url = format!("{}{}", self.base, path);
        let mut b = ureq::http::Request::builder().method(method).uri(&url);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = b.body(()).unwrap();
        let mut resp = self.agent.run(req).unwrap();
        let status = resp.status().as_u16();
        let mut hm = HashMap::new();
        for (k, v) in resp.headers() {
            hm.insert(
                k.as_str().to_ascii_lowercase(),
                v.to_str().unwrap_or("").to_string(),
            );
        }
        let body = if method == "HEAD" {
            Vec::new()
        } else {
            resp.body_mut()
                .with_config()
                .limit(u64::MAX)
                .read_to_vec()
                .unwrap()
        };
        Resp {
            status,
            headers: hm,
            body,
        }
    }

    /// Sends a raw HTTP/1.1 request and returns the open socket.
    pub(crate) fn raw(&self, request: &str) -> TcpStream {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        s
    }

    /// Status line and headers of a raw response (reads up to the blank line).
    pub(crate) fn raw_head(s: &mut TcpStream) -> String {
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if s.read(&mut b).unwrap() == 0 {
                break;
            }
            head.push(b[0]);
        }
        String::from_utf8_lossy(&head).into_owned()
    }
}

/// Deterministic pseudo-random bytes.
pub(crate) fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(n);
    out
}
