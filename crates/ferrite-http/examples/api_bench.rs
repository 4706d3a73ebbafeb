//! Measures `add` and `cat` of 256 MiB through the RPC API on loopback
//! against `Node::add` of the same bytes in-process.
//!
//! `cargo run --release -p ferrite-http --example api_bench [MiB]`

use ferrite_config::Config;
use ferrite_http::rpc::{router, Api};
use ferrite_node::{AddOptions, AddSource, Node};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .map_or(256, |a| a.parse().expect("size in MiB"));
    let rounds: usize = std::env::args()
        .nth(2)
        .map_or(3, |a| a.parse().expect("rounds"));
    let data = random(mib << 20);
    let tmp = tempfile::tempdir().unwrap();
    // Best of several rounds, each on fresh repos: the machine is shared,
    // and the best round is the one least disturbed.
    let (mut node_best, mut api_best, mut cat_best) = (f64::MAX, f64::MAX, f64::MAX);
    for round in 0..rounds {
        let local = repo(&tmp.path().join(format!("local{round}")));
        let (secs, cid) = add_in_process(&local, &data);
        node_best = node_best.min(secs);
        drop(local);
        let node = repo(&tmp.path().join(format!("api{round}")));
        let (rt, port) = serve(node);
        let secs = add_through_api(port, &data, &cid);
        api_best = api_best.min(secs);
        cat_best = cat_best.min(cat_through_api(port, &cid, data.len() as u64));
        drop(rt);
    }
    let mb = data.len() as f64 / 1e6;
    println!("best of {rounds} rounds, {mib} MiB of random bytes:");
    println!(
        "add in-process (Node::add): {node_best:.2} s, {:.0} MB/s",
        mb / node_best
    );
    println!(
        "add through the API:        {api_best:.2} s, {:.0} MB/s ({:+.1}% time vs in-process)",
        mb / api_best,
        (api_best / node_best - 1.0) * 100.0
    );
    println!(
        "cat through the API:        {cat_best:.2} s, {:.0} MB/s",
        mb / cat_best
    );
}

fn add_in_process(node: &Node, data: &[u8]) -> (f64, String) {
    let opts = AddOptions {
        import: node.import_defaults().unwrap(),
        pin: true,
        ..Default::default()
    };
    let reader = Box::new(std::io::Cursor::new(data.to_vec()));
    let t = Instant::now();
    let added = node
        .add(
            AddSource::Reader {
                reader,
                name: Some("f".into()),
            },
            &opts,
            &mut |_| {},
        )
        .unwrap();
    (
        t.elapsed().as_secs_f64(),
        added.last().unwrap().cid.to_string(),
    )
}

fn serve(node: Node) -> (tokio::runtime::Runtime, u16) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (shutdown, _rx) = tokio::sync::mpsc::channel(1);
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let api = Api { node, shutdown };
    rt.spawn(ferrite_http::serve(
        listener,
        router(api),
        std::future::pending(),
    ));
    (rt, port)
}

/// `add` as a streamed multipart body; checks the CID.
fn add_through_api(port: u16, data: &[u8], cid: &str) -> f64 {
    let boundary = "bench-boundary-1f3c";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let len = head.len() + data.len() + tail.len();
    let t = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "POST /api/v0/add?quieter=true HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len}\r\n\r\n{head}"
    )
    .unwrap();
    s.write_all(data).unwrap();
    s.write_all(tail.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert!(answer.contains(cid), "{answer}");
    secs
}

/// `cat` as a chunked body, read and counted.
fn cat_through_api(port: u16, cid: &str, len: u64) -> f64 {
    let t = Instant::now();
    let mut s = BufReader::with_capacity(1 << 20, TcpStream::connect(("127.0.0.1", port)).unwrap());
    write!(
        s.get_mut(),
        "POST /api/v0/cat?arg={cid} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let got = read_chunked(&mut s);
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(got, len);
    secs
}

fn repo(path: &std::path::Path) -> Node {
    ferrite_node::Node::init(path, &Config::init(&["test"]).unwrap()).unwrap();
    Node::open(path).unwrap()
}

fn random(len: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Skips the response head and counts the bytes of a chunked body.
fn read_chunked(r: &mut impl BufRead) -> u64 {
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
    }
    let mut total = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        let n = u64::from_str_radix(line.trim().split(';').next().unwrap(), 16).unwrap();
        if n == 0 {
            return total;
        }
        let mut left = n;
        while left > 0 {
            let k = left.min(buf.len() as u64) as usize;
            r.read_exact(&mut buf[..k]).unwrap();
            left -= k as u64;
        }
        total += n;
        r.read_line(&mut line).unwrap();
    }
}
