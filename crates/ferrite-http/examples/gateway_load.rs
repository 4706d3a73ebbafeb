//! Gateway load generator: streaming throughput of one big file and latency
//! of many concurrent small-file requests, over loopback HTTP/1.1.
//!
//! ```sh
//! cargo run --release -p ferrite-http --example gateway_load             # 256 MiB, 200 × 20,000
//! cargo run --release -p ferrite-http --example gateway_load -- --smoke  # CI: 16 MiB, 50 × 2,000
//! ```
//!
//! Options: `--big-mib N`, `--files N`, `--concurrency N`, `--requests N`,
//! `--rounds N`. The gateway runs in this process on 127.0.0.1:0 over a temp
//! repo, with a client of raw keep-alive connections (one per concurrent
//! requester), so client and server share the machine's cores.

use ferrite_config::Config;
use ferrite_node::{AddOptions, AddSource, Node};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct Opts {
    big_mib: usize,
    files: usize,
    concurrency: usize,
    requests: usize,
    rounds: usize,
}

fn parse_args() -> Opts {
    let mut o = Opts {
        big_mib: 256,
        files: 1000,
        concurrency: 200,
        requests: 20_000,
        rounds: 3,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let val = |i: usize| -> usize {
            args.get(i + 1)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{} needs a number", args[i]))
        };
        match args[i].as_str() {
            "--smoke" => {
                o = Opts {
                    big_mib: 16,
                    files: 200,
                    concurrency: 50,
                    requests: 2000,
                    rounds: 1,
                };
                i += 1;
                continue;
            }
            "--big-mib" => o.big_mib = val(i),
            "--files" => o.files = val(i),
            "--concurrency" => o.concurrency = val(i),
            "--requests" => o.requests = val(i),
            "--rounds" => o.rounds = val(i),
            other => panic!("unknown option {other}"),
        }
        i += 2;
    }
    o
}

/// Deterministic pseudo-random bytes (xorshift).
fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        out.extend_from_slice(&s.to_le_bytes());
    }
    out.truncate(n);
    out
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    r: BufReader<TcpStream>,
    line: String,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).await.expect("connect");
        s.set_nodelay(true).expect("nodelay");
        Conn {
            r: BufReader::with_capacity(256 << 10, s),
            line: String::new(),
        }
    }

    /// GETs `path`; returns the status and the body length (the body is
    /// read and dropped). Needs a `Content-Length` response.
    async fn get(&mut self, path: &str, sink: &mut [u8]) -> (u16, u64) {
        let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        self.r
            .get_mut()
            .write_all(req.as_bytes())
            .await
            .expect("write");
        self.line.clear();
        self.r.read_line(&mut self.line).await.expect("status line");
        let status: u16 = self
            .line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {:?}", self.line));
        let mut len = None;
        loop {
            self.line.clear();
            self.r.read_line(&mut self.line).await.expect("header");
            let l = self.line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse::<u64>().ok();
                }
            }
        }
        let len = len.expect("Content-Length");
        let mut left = len;
        while left > 0 {
            let n = (sink.len() as u64).min(left) as usize;
            let got = self.r.read(&mut sink[..n]).await.expect("body");
            assert!(got > 0, "connection closed with {left} bytes left");
            left -= got as u64;
        }
        (status, len)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn main() {
    let o = parse_args();
    let dir = tempfile::tempdir().expect("tempdir");
    ferrite_node::Node::init(dir.path(), &Config::init(&["test"]).expect("config")).expect("init");
    let node = Node::open(dir.path()).expect("open");
    let opts = AddOptions {
        import: node.import_defaults().expect("import defaults"),
        pin: true,
        recursive: true,
        ..Default::default()
    };

    // content: one big file and a folder of small ones
    let t = Instant::now();
    let big_len = o.big_mib << 20;
    let big = node
        .add(
            AddSource::Reader {
                reader: Box::new(std::io::Cursor::new(random_bytes(big_len, 1))),
                name: None,
            },
            &opts,
            &mut |_| {},
        )
        .expect("add big")
        .pop()
        .expect("root")
        .cid;
    let small_dir = dir.path().join("small-src");
    std::fs::create_dir(&small_dir).expect("mkdir");
    for i in 0..o.files {
        let size = 1024 + (i * 7919) % 7168; // 1–8 KiB
        std::fs::write(
            small_dir.join(format!("f{i:05}.txt")),
            random_bytes(size, i as u64 + 2),
        )
        .expect("write");
    }
    let small_root = node
        .add(
            AddSource::Paths(vec![small_dir.clone()]),
            &opts,
            &mut |_| {},
        )
        .expect("add small")
        .pop()
        .expect("root")
        .cid;
    println!(
        "setup: {} MiB file {big}, {} small files under {small_root} ({:.1?})",
        o.big_mib,
        o.files,
        t.elapsed()
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let router = ferrite_http::gateway::router(node.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });

        // 1. streaming throughput
        let mut sink = vec![0u8; 1 << 20];
        let mut conn = Conn::open(addr).await;
        let path = format!("/ipfs/{big}");
        let mut best = 0f64;
        for round in 0..o.rounds.max(1) {
            let t = Instant::now();
            let (status, len) = conn.get(&path, &mut sink).await;
            let secs = t.elapsed().as_secs_f64();
            assert_eq!((status, len), (200, big_len as u64));
            let gbps = len as f64 / secs / 1e9;
            best = best.max(gbps);
            println!(
                "stream round {}: {} MiB in {:.3} s = {:.2} GB/s ({:.0} MiB/s)",
                round + 1,
                o.big_mib,
                secs,
                gbps,
                len as f64 / secs / (1 << 20) as f64
            );
        }
        println!("stream best: {best:.2} GB/s");

        // 2. concurrent small files
        let paths: Vec<String> = (0..o.files)
            .map(|i| format!("/ipfs/{small_root}/f{i:05}.txt"))
            .collect();
        let paths = std::sync::Arc::new(paths);
        let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        // warm-up: open the connections and touch every file once
        let mut conns = Vec::new();
        for _ in 0..o.concurrency {
            conns.push(Conn::open(addr).await);
        }
        for (i, p) in paths.iter().enumerate() {
            let c = &mut conns[i % o.concurrency];
            assert_eq!(c.get(p, &mut sink).await.0, 200);
        }
        let t = Instant::now();
        let mut tasks = Vec::new();
        for mut c in conns {
            let paths = paths.clone();
            let next = next.clone();
            let total = o.requests;
            tasks.push(tokio::spawn(async move {
                let mut sink = vec![0u8; 16 << 10];
                let mut lat = Vec::new();
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n >= total {
                        break;
                    }
                    let p = &paths[(n * 7919) % paths.len()];
                    let t = Instant::now();
                    let (status, _) = c.get(p, &mut sink).await;
                    lat.push(t.elapsed());
                    assert_eq!(status, 200, "{p}");
                }
                lat
            }));
        }
        let mut lat = Vec::new();
        for task in tasks {
            lat.extend(task.await.expect("task"));
        }
        let secs = t.elapsed().as_secs_f64();
        lat.sort();
        println!(
            "small files: {} requests, {} concurrent, {:.0} req/s; latency p50 {:.2?} p95 {:.2?} p99 {:.2?} max {:.2?}",
            lat.len(),
            o.concurrency,
            lat.len() as f64 / secs,
            percentile(&lat, 0.50),
            percentile(&lat, 0.95),
            percentile(&lat, 0.99),
            lat.last().copied().unwrap_or_default(),
        );
    });
}
