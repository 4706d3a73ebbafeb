//! The RPC API's file commands over real HTTP: `add` (multipart uploads as
//! go-ipfs-cmds sends them), `cat`, `get`, `ls`, `pin/*` and `repo/*`, their
//! JSON shapes field by field, bad input, and clients that disconnect.

use ferrite_config::Config;
use ferrite_http::rpc::{router, Api};
use ferrite_node::{AddOptions, AddSource, Node};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// An API server over a fresh repo, on a tokio runtime of its own.
struct Server {
    port: u16,
    node: Node,
    dir: tempfile::TempDir,
    _rt: tokio::runtime::Runtime,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    ferrite_node::Node::init(&repo, &Config::init(&["test"]).unwrap()).unwrap();
    let node = Node::open(&repo).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (shutdown, _) = tokio::sync::mpsc::channel(1);
    let api = Api {
        node: node.clone(),
        shutdown,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(ferrite_http::serve(listener, router(api), async move {
        let _ = stopped.await;
    }));
    Server {
        port,
        node,
        dir,
        _rt: rt,
        _stop: stop,
    }
}

/// A response, body de-chunked, trailers kept.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    trailers: Vec<(String, String)>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
    fn ndjson(&self) -> Vec<Value> {
        String::from_utf8(self.body.clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn find<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl Server {
    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s
    }

    /// Writes a request head; the body follows from the caller.
    fn head(&self, s: &mut TcpStream, method: &str, path: &str, extra: &[(&str, &str)], len: u64) {
        let mut h = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nTE: trailers\r\nContent-Length: {len}\r\n",
            self.port
        );
        for (k, v) in extra {
            h.push_str(&format!("{k}: {v}\r\n"));
        }
        h.push_str("\r\n");
        s.write_all(h.as_bytes()).unwrap();
    }

    fn request(&self, method: &str, path: &str, extra: &[(&str, &str)], body: &[u8]) -> Resp {
        let mut s = self.connect();
        self.head(&mut s, method, path, extra, body.len() as u64);
        // The server may answer (and close) before reading a bad body.
        let _ = s.write_all(body);
        read_response(&mut BufReader::with_capacity(1 << 20, s))
    }

    fn post(&self, path_query: &str) -> Resp {
        self.request("POST", &format!("/api/v0/{path_query}"), &[], b"")
    }

    /// `add` of multipart `parts` with the query `q`.
    fn add(&self, q: &str, parts: &[Part]) -> Resp {
        let (ct, body) = multipart(parts);
        self.request(
            "POST",
            &format!("/api/v0/add?{q}"),
            &[("Content-Type", &ct)],
            &body,
        )
    }

    fn pins(&self) -> Value {
        self.post("pin/ls?type=recursive").json()["Keys"].clone()
    }
}

fn read_response(r: &mut impl BufRead) -> Resp {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status: u16 = line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers = read_headers(r);
    let mut body = Vec::new();
    let mut trailers = Vec::new();
    if find(&headers, "transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut l = String::new();
            r.read_line(&mut l).unwrap();
            let n = usize::from_str_radix(l.trim().split(';').next().unwrap(), 16).unwrap();
            if n == 0 {
                trailers = read_headers(r);
                break;
            }
            let start = body.len();
            body.resize(start + n, 0);
            r.read_exact(&mut body[start..]).unwrap();
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf).unwrap();
        }
    } else if let Some(n) = find(&headers, "content-length") {
        body.resize(n.parse().unwrap(), 0);
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

fn read_headers(r: &mut impl BufRead) -> Vec<(String, String)> {
    let mut out = Vec::new();
    loop {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        let l = l.trim_end();
        if l.is_empty() {
            return out;
        }
        let (k, v) = l.split_once(':').unwrap();
        out.push((k.trim().to_string(), v.trim().to_string()));
    }
}

/// One multipart part as go-ipfs-cmds' MultiFileReader writes it.
enum Part {
    File(String, Vec<u8>),
    Dir(String),
    Symlink(String, String),
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

const BOUNDARY: &str = "e2a6b0bb5d1c4ef2a1f7c0ffee";

fn part_head(name: &str, ct: &str) -> String {
    format!(
        "--{BOUNDARY}\r\nAbspath-Encoded: %2Ftmp%2F{}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: {ct}\r\n\r\n",
        query_escape(name),
        query_escape(name)
    )
}

fn multipart(parts: &[Part]) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for p in parts {
        let (name, ct, data) = match p {
            Part::File(n, d) => (n, "application/octet-stream", d.as_slice()),
            Part::Dir(n) => (n, "application/x-directory", &[][..]),
            Part::Symlink(n, t) => (n, "application/symlink", t.as_bytes()),
        };
        body.extend_from_slice(part_head(name, ct).as_bytes());
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

/// The parts a go-ipfs-cmds client sends for `add -r path`: folders before
/// their entries, entries in name order.
fn tree_parts(path: &Path, name: &str, out: &mut Vec<Part>) {
    let meta = std::fs::symlink_metadata(path).unwrap();
    if meta.file_type().is_symlink() {
        let t = std::fs::read_link(path).unwrap();
        out.push(Part::Symlink(name.into(), t.to_str().unwrap().into()));
    } else if meta.is_dir() {
        out.push(Part::Dir(name.into()));
        let mut names: Vec<_> = std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        for n in names {
            tree_parts(&path.join(&n), &format!("{name}/{n}"), out);
        }
    } else {
        out.push(Part::File(name.into(), std::fs::read(path).unwrap()));
    }
}

/// `added` rows of `Node::add` (what `ferrite add -r` prints) as API rows.
fn cli_rows(node: &Node, paths: Vec<PathBuf>, wrap: bool) -> Vec<Value> {
    let opts = AddOptions {
        import: node.import_defaults().unwrap(),
        recursive: true,
        hidden: true,
        wrap,
        only_hash: true,
        pin: false,
        pin_name: String::new(),
    };
    node.add(AddSource::Paths(paths), &opts, &mut |_| {})
        .unwrap()
        .into_iter()
        .map(|a| json!({"Name": a.name, "Hash": a.cid.to_string(), "Size": a.size.to_string()}))
        .collect()
}

fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn assert_error(r: &Resp, status: u16, code: u64, msg: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    let v = r.json();
    assert_eq!(
        v,
        json!({"Message": v["Message"], "Code": code, "Type": "error"})
    );
    let m = v["Message"].as_str().unwrap();
    assert!(m.contains(msg), "{m:?} lacks {msg:?}");
}

#[test]
fn add_planets_gives_kubo_cids_and_shapes() {
    let s = start();
    let r = s.add(
        "",
        &[
            Part::Dir("planets".into()),
            Part::File("planets/mars.txt".into(), b"Hello Mars!\n".to_vec()),
            Part::File("planets/venus.txt".into(), b"Hello Venus!\n".to_vec()),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-chunked-output"), Some("1"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let rows = r.ndjson();
    assert_eq!(
        rows,
        [
            json!({"Name": "planets/mars.txt", "Hash": "QmPrrHqJzto9m7SyiRzarwkqPcCSsKR2EB1AyqJfe8L8tN", "Size": "20"}),
            json!({"Name": "planets/venus.txt", "Hash": "QmU5kp3BH3B8tnWUU2Pikdb2maksBNkb92FHRr56hyghh4", "Size": "21"}),
            json!({"Name": "planets", "Hash": "QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY", "Size": rows[2]["Size"]}),
        ]
    );
    assert!(rows[2]["Size"].as_str().unwrap().parse::<u64>().unwrap() > 41);
    assert_eq!(
        s.pins(),
        json!({"QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY": {"Type": "recursive", "Name": ""}})
    );
    // Parts without their folder part (implied folders) give the same tree.
    let r = s.add(
        "only-hash=true",
        &[
            Part::File("planets/mars.txt".into(), b"Hello Mars!\n".to_vec()),
            Part::File("planets/venus.txt".into(), b"Hello Venus!\n".to_vec()),
        ],
    );
    assert_eq!(r.ndjson(), rows);
}

#[test]
fn add_tree_matches_cli_add_r() {
    let s = start();
    let root = s.dir.path().join("tree");
    std::fs::create_dir_all(root.join("sub dir/deeper")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    std::fs::write(root.join("a.txt"), b"alpha\n").unwrap();
    std::fs::write(root.join("ünïcödé ☃.txt"), b"snow\n").unwrap();
    std::fs::write(root.join("100% + & ?#.bin"), pseudo_random(700_000, 7)).unwrap();
    std::fs::write(root.join("sub dir/b.txt"), b"beta\n").unwrap();
    std::fs::write(root.join("sub dir/deeper/c"), pseudo_random(300_000, 9)).unwrap();
    std::fs::write(root.join(".hidden"), b"dot\n").unwrap();
    std::os::unix::fs::symlink("a.txt", root.join("link")).unwrap();
    let mut parts = Vec::new();
    tree_parts(&root, "tree", &mut parts);
    let expected = cli_rows(&s.node, vec![root.clone()], false);
    let r = s.add("recursive=true&hidden=true", &parts);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.ndjson(), expected);
    let root_cid = expected.last().unwrap()["Hash"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        s.pins(),
        json!({ root_cid.clone(): {"Type": "recursive", "Name": ""} })
    );
    // Everything is readable back through the API.
    let cat = s.post(&format!(
        "cat?arg=/ipfs/{root_cid}/{}",
        query_escape("100% + & ?#.bin").replace('+', "%20")
    ));
    assert_eq!(cat.status, 200);
    assert_eq!(cat.body, pseudo_random(700_000, 7));

    // Wrapped, two top-level entries: one root, Kubo's names.
    let file = s.dir.path().join("solo.txt");
    std::fs::write(&file, b"solo\n").unwrap();
    let expected = cli_rows(&s.node, vec![file, root.clone()], true);
    let mut parts = vec![Part::File("solo.txt".into(), b"solo\n".to_vec())];
    tree_parts(&root, "tree", &mut parts);
    let r = s.add("wrap-with-directory=true&pin-name=both", &parts);
    assert_eq!(r.ndjson(), expected);
    let wrapped = expected.last().unwrap()["Hash"].as_str().unwrap();
    assert_eq!(expected.last().unwrap()["Name"], "");
    let names = s.post("pin/ls?type=recursive&names=true").json();
    assert_eq!(
        names["Keys"][wrapped],
        json!({"Type": "recursive", "Name": "both"})
    );
}

#[test]
fn add_separate_top_level_entries_each_get_a_root() {
    let s = start();
    let r = s.add(
        "",
        &[
            Part::File("one.txt".into(), b"1\n".to_vec()),
            Part::File("two.txt".into(), b"2\n".to_vec()),
        ],
    );
    let rows = r.ndjson();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["Name"], "one.txt");
    assert_eq!(rows[1]["Name"], "two.txt");
    let pins = s.pins();
    assert_eq!(pins.as_object().unwrap().len(), 2);
    // An unnamed part (stdin) is named by its CID.
    let r = s.add(
        "quieter=true",
        &[Part::File("".into(), b"stdin\n".to_vec())],
    );
    let rows = r.ndjson();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["Name"], rows[0]["Hash"]);
}

#[test]
fn add_options_quieter_silent_only_hash_pin_and_cid_version() {
    let s = start();
    let parts = [
        Part::Dir("d".into()),
        Part::File("d/x".into(), b"x\n".to_vec()),
        Part::File("d/y".into(), b"y\n".to_vec()),
    ];
    let all = s.add("only-hash=true", &parts).ndjson();
    assert_eq!(all.len(), 3);
    assert_eq!(s.pins(), json!({}));
    assert_eq!(
        s.post("repo/stat").json()["NumObjects"],
        0,
        "only-hash stores nothing"
    );
    let quieter = s.add("quieter=true&pin=false", &parts).ndjson();
    assert_eq!(quieter, [all[2].clone()]);
    assert_eq!(s.pins(), json!({}));
    let silent = s.add("silent=true", &parts);
    assert_eq!(silent.status, 200);
    assert!(silent.body.is_empty());
    assert_eq!(s.pins().as_object().unwrap().len(), 1);
    let b32 = s.add("cid-base=base32", &parts).ndjson();
    let upgraded = s.post(&format!(
        "cid/base32?arg={}",
        all[2]["Hash"].as_str().unwrap()
    ));
    assert!(b32[2]["Hash"].as_str().unwrap().starts_with("bafybei"));
    if upgraded.status == 200 {
        assert!(upgraded.text().contains(b32[2]["Hash"].as_str().unwrap()));
    }
    let ls = s.post(&format!(
        "ls?arg={}&cid-base=base32",
        all[2]["Hash"].as_str().unwrap()
    ));
    assert!(ls.json()["Objects"][0]["Links"][0]["Hash"]
        .as_str()
        .unwrap()
        .starts_with("bafybei"));
    let v1 = s.add("cid-version=1&quiet=true", &parts).ndjson();
    assert!(v1[2]["Hash"].as_str().unwrap().starts_with("bafy"));
    assert!(v1[0]["Hash"].as_str().unwrap().starts_with("bafk"));
    let big = Part::File("f".into(), pseudo_random(100_000, 3));
    let small = s.add("chunker=size-1000&trickle=true&raw-leaves=true", &[big]);
    assert_eq!(small.status, 200, "{}", small.text());
    let inline = s.add("inline=true", &[Part::File("tiny".into(), b"hi".to_vec())]);
    assert!(inline.ndjson()[0]["Hash"]
        .as_str()
        .unwrap()
        .starts_with("bafyaa"));
}

#[test]
fn add_progress_objects() {
    let s = start();
    let data = pseudo_random(1_000_000, 11);
    let r = s.add("progress=true", &[Part::File("big.bin".into(), data)]);
    assert_eq!(r.status, 200);
    let rows = r.ndjson();
    let (progress, added) = rows.split_at(rows.len() - 1);
    let bytes: Vec<u64> = progress
        .iter()
        .map(|p| {
            assert_eq!(p.as_object().unwrap().len(), 2, "{p}");
            assert_eq!(p["Name"], "big.bin");
            p["Bytes"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(bytes, [262_144, 524_288, 786_432, 1_000_000]);
    assert_eq!(added[0]["Name"], "big.bin");
    assert!(added[0]["Hash"].is_string());
}

#[test]
fn add_bad_input_is_a_kubo_error() {
    let s = start();
    let get = s.request("GET", "/api/v0/add", &[], b"");
    assert_eq!(get.status, 405);
    let r = s.request(
        "POST",
        "/api/v0/add",
        &[("Content-Type", "text/plain")],
        b"hi",
    );
    assert_error(&r, 400, 1, "file argument 'path' is required");
    let r = s.request(
        "POST",
        "/api/v0/add",
        &[("Content-Type", "multipart/form-data")],
        b"",
    );
    assert_error(&r, 400, 1, "boundary");
    let part = || vec![Part::File("a".into(), b"a".to_vec())];
    assert_error(&s.add("chunker=nope", &part()), 400, 1, "nope");
    assert_error(
        &s.add("pin=maybe", &part()),
        400,
        1,
        "could not convert value \"maybe\" to type bool",
    );
    assert_error(
        &s.add("cid-version=7", &part()),
        400,
        1,
        "unknown CID version: 7",
    );
    assert_error(
        &s.add("hash=md5000", &part()),
        400,
        1,
        "unrecognized hash function",
    );
    assert_error(
        &s.add("pin=false&pin-name=x", &part()),
        400,
        1,
        "pin-name option requires pin",
    );
    assert_error(&s.add("", &[]), 400, 1, "expected a file argument");
    // A part header that never ends.
    let (ct, _) = multipart(&[]);
    let mut body =
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"")
            .into_bytes();
    body.extend(std::iter::repeat_n(b'a', 2 << 20));
    let r = s.request("POST", "/api/v0/add", &[("Content-Type", &ct)], &body);
    assert_error(&r, 400, 1, "multipart");
    // A body cut in the middle of a file: nothing is pinned or reported.
    let (ct, body) = multipart(&[
        Part::File("whole".into(), pseudo_random(10_000, 1)),
        Part::File("cut".into(), pseudo_random(600_000, 2)),
    ]);
    let cut = &body[..body.len() - 300_000];
    let r = s.request("POST", "/api/v0/add", &[("Content-Type", &ct)], cut);
    assert_error(&r, 400, 1, "multipart");
    assert_eq!(s.pins(), json!({}));
    assert_eq!(s.post("repo/stat").json()["NumObjects"], 0);
    // The same with progress: the error comes after the first objects, as
    // the X-Stream-Error trailer.
    let r = s.request(
        "POST",
        "/api/v0/add?progress=true",
        &[("Content-Type", &ct)],
        cut,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("trailer"), Some("X-Stream-Error"));
    let rows = r.ndjson();
    assert_eq!(rows[0], json!({"Name": "whole", "Bytes": 10_000}));
    assert!(rows.iter().all(|r| r.get("Hash").is_none()), "{rows:?}");
    let err = find(&r.trailers, "x-stream-error").expect("trailer");
    assert!(err.contains("multipart"), "{err}");
    assert_eq!(s.pins(), json!({}));
}

#[test]
fn cat_get_ls_shapes() {
    let s = start();
    let r = s.add(
        "",
        &[
            Part::Dir("d".into()),
            Part::File("d/f.txt".into(), b"hello\n".to_vec()),
            Part::Dir("d/sub".into()),
            Part::Symlink("d/ln".into(), "f.txt".into()),
        ],
    );
    let rows = r.ndjson();
    let root = rows.last().unwrap()["Hash"].as_str().unwrap().to_owned();
    let f = rows[0]["Hash"].as_str().unwrap().to_owned();

    let cat = s.post(&format!("cat?arg={root}/f.txt&offset=1&length=3"));
    assert_eq!(cat.status, 200);
    assert_eq!(cat.body, b"ell");
    assert_eq!(cat.header("x-stream-output"), Some("1"));
    assert_eq!(cat.header("x-content-length"), Some("3"));
    assert_error(&s.post(&format!("cat?arg={root}")), 400, 1, "directory");
    assert_error(&s.post("cat"), 400, 1, "argument \"ipfs-path\" is required");
    assert_error(&s.post("cat?arg=notacid"), 400, 1, "notacid");
    assert_eq!(
        s.request("GET", &format!("/api/v0/cat?arg={f}"), &[], b"")
            .status,
        405
    );

    let ls = s.post(&format!("ls?arg=/ipfs/{root}")).json();
    let sub = rows.iter().find(|r| r["Name"] == "d/sub").unwrap()["Hash"].clone();
    let ln = rows.iter().find(|r| r["Name"] == "d/ln").unwrap()["Hash"].clone();
    assert_eq!(
        ls,
        json!({"Objects": [{"Hash": format!("/ipfs/{root}"), "Links": [
            {"Name": "f.txt", "Hash": f, "Size": 6, "Type": 2, "Target": ""},
            {"Name": "ln", "Hash": ln, "Size": 0, "Type": 4, "Target": "f.txt"},
            {"Name": "sub", "Hash": sub, "Size": 0, "Type": 1, "Target": ""},
        ]}]})
    );
    let streamed = s.post(&format!("ls?arg={root}&stream=true"));
    assert_eq!(streamed.header("x-chunked-output"), Some("1"));
    let objs = streamed.ndjson();
    assert_eq!(objs.len(), 3);
    assert_eq!(
        objs[1],
        json!({"Objects": [{"Hash": root, "Links": [ls["Objects"][0]["Links"][1]]}]})
    );
    let untyped = s
        .post(&format!("ls?arg={root}&resolve-type=false&size=false"))
        .json();
    assert_eq!(
        untyped["Objects"][0]["Links"][0],
        json!({"Name": "f.txt", "Hash": f, "Size": 0, "Type": 0, "Target": ""})
    );
    // Raw leaves are files sized by their link, resolved or not.
    let raw = s
        .add(
            "raw-leaves=true&wrap-with-directory=true",
            &[Part::File("r".into(), b"raw\n".to_vec())],
        )
        .ndjson();
    let raw_dir = raw[1]["Hash"].as_str().unwrap();
    let untyped = s
        .post(&format!("ls?arg={raw_dir}&resolve-type=false&size=false"))
        .json();
    assert_eq!(
        untyped["Objects"][0]["Links"][0],
        json!({"Name": "r", "Hash": raw[0]["Hash"], "Size": 4, "Type": 2, "Target": ""})
    );
    assert_error(
        &s.post("ls?arg=bafkqaaa&stream=true&size=yes"),
        400,
        1,
        "bool",
    );

    let get = s.post(&format!("get?arg={root}&output=ignored"));
    assert_eq!(get.status, 200);
    assert_eq!(get.header("content-type"), Some("application/x-tar"));
    let names = tar_names(&get.body);
    assert_eq!(
        names,
        [
            root.clone(),
            format!("{root}/f.txt"),
            format!("{root}/ln"),
            format!("{root}/sub")
        ]
    );
    let get = s.post(&format!(
        "get?arg={root}/f.txt&archive=true&compress=true&compression-level=9"
    ));
    assert_eq!(get.header("content-type"), Some("application/gzip"));
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&get.body[..])
        .read_to_end(&mut tar)
        .unwrap();
    assert_eq!(tar_names(&tar), ["f.txt"]);
    let gz = s.post(&format!("get?arg={f}&compress=true"));
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(plain, b"hello\n");
    assert_error(
        &s.post(&format!("get?arg={f}&compress=true&compression-level=10")),
        400,
        1,
        "compression level must be between 1 and 9",
    );
}

/// Entry names of a tar archive.
fn tar_names(tar: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(tar);
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            e.path()
                .unwrap()
                .to_str()
                .unwrap()
                .trim_end_matches('/')
                .to_owned()
        })
        .collect()
}

#[test]
fn pin_commands_shapes() {
    let s = start();
    let rows = s
        .add(
            "pin=false",
            &[
                Part::Dir("d".into()),
                Part::File("d/a".into(), b"a\n".to_vec()),
                Part::File("d/b".into(), b"b\n".to_vec()),
            ],
        )
        .ndjson();
    let (a, b, d) = (
        rows[0]["Hash"].as_str().unwrap().to_owned(),
        rows[1]["Hash"].as_str().unwrap().to_owned(),
        rows[2]["Hash"].as_str().unwrap().to_owned(),
    );
    let pa = s.post(&format!("pin/add?arg={d}&progress=true"));
    assert_eq!(pa.header("x-chunked-output"), Some("1"));
    assert_eq!(pa.ndjson().last().unwrap(), &json!({"Pins": [d]}));
    assert_eq!(
        s.post(&format!("pin/add?arg={d}&name=n1")).json(),
        json!({"Pins": [d]})
    );
    assert_eq!(
        s.post(&format!("pin/add?arg=/ipfs/{a}&recursive=false"))
            .json(),
        json!({"Pins": [a]})
    );
    assert_eq!(
        s.post("pin/ls").json(),
        json!({"Keys": {
            d.clone(): {"Type": "recursive", "Name": ""},
            a.clone(): {"Type": "direct", "Name": ""},
            b.clone(): {"Type": "indirect", "Name": ""},
        }})
    );
    assert_eq!(
        s.post("pin/ls?type=recursive&names=true").json(),
        json!({"Keys": {d.clone(): {"Type": "recursive", "Name": "n1"}}})
    );
    assert_eq!(
        s.post(&format!("pin/ls?arg={b}")).json(),
        json!({"Keys": {b.clone(): {"Type": format!("indirect through {d}"), "Name": ""}}})
    );
    let streamed = s.post("pin/ls?stream=true&type=recursive&names=true");
    assert_eq!(
        streamed.ndjson(),
        [json!({"Cid": d, "Name": "n1", "Type": "recursive"})]
    );
    let streamed = s.post("pin/ls?stream=true&type=direct&quiet=true");
    assert_eq!(streamed.ndjson(), [json!({"Cid": a, "Type": "direct"})]);
    assert_error(
        &s.post("pin/ls?type=sideways"),
        400,
        1,
        "invalid type 'sideways'",
    );
    let notpinned = s
        .add("pin=false", &[Part::File("z".into(), b"z".to_vec())])
        .ndjson();
    let z = notpinned[0]["Hash"].as_str().unwrap();
    let r = s.post(&format!("pin/ls?arg={z}"));
    assert_eq!(r.status, 500);
    assert!(r.json()["Message"]
        .as_str()
        .unwrap()
        .contains("is not pinned"));

    let v = s.post("pin/verify");
    assert_eq!(v.status, 200);
    assert!(v.ndjson().is_empty(), "only broken pins without verbose");
    let v = s.post("pin/verify?verbose=true").ndjson();
    assert_eq!(v, [json!({"Cid": d, "Ok": true})], "recursive pins only");
    // A missing block makes the pin broken, with the block named.
    let b_cid: ferrite_node::Cid = b.parse().unwrap();
    let removed = s.node.block_rm(&[b_cid], false).unwrap();
    assert_eq!(removed[0].error, None);
    let v = s.post("pin/verify").ndjson();
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0]["Cid"], d);
    assert!(v[0].get("Ok").is_none(), "Ok is omitempty");
    assert_eq!(v[0]["BadNodes"][0]["Cid"], b);
    assert!(v[0]["BadNodes"][0]["Err"].is_string());
    let quiet = s.post("pin/verify?quiet=true").ndjson();
    assert_eq!(quiet, [json!({"Cid": d})]);
    assert_error(
        &s.post("pin/verify?verbose=true&quiet=true"),
        400,
        1,
        "can not be used at the same time",
    );

    assert_eq!(
        s.post(&format!("pin/update?arg={d}&arg={z}")).json(),
        json!({"Pins": [d, z]})
    );
    assert!(s.pins().get(&d).is_none());
    assert!(s.pins().get(z).is_some());
    assert_eq!(
        s.post(&format!("pin/rm?arg={z}")).json(),
        json!({"Pins": [z]})
    );
    assert_eq!(
        s.post(&format!("pin/rm?arg={a}")).json(),
        json!({"Pins": [a]})
    );
    assert_error(
        &s.post("pin/rm"),
        400,
        1,
        "argument \"ipfs-path\" is required",
    );
    assert_error(
        &s.post(&format!("pin/update?arg={d}")),
        400,
        1,
        "argument \"to-path\" is required",
    );
}

#[test]
fn repo_commands_shapes() {
    let s = start();
    s.add(
        "pin=false",
        &[Part::File("junk".into(), pseudo_random(300_000, 5))],
    );
    let kept = s
        .add("", &[Part::File("kept".into(), b"kept\n".to_vec())])
        .ndjson();
    let stat = s.post("repo/stat").json();
    let keys: Vec<&str> = stat
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "RepoSize",
            "StorageMax",
            "NumObjects",
            "RepoPath",
            "Version",
            "LiveBytes",
            "DeadBytes"
        ]
    );
    assert_eq!(stat["NumObjects"], 4);
    assert!(stat["RepoSize"].as_u64().unwrap() > 300_000);
    let (live, dead) = (
        stat["LiveBytes"].as_u64().unwrap(),
        stat["DeadBytes"].as_u64().unwrap(),
    );
    assert!(live > 300_000 && live + dead < stat["RepoSize"].as_u64().unwrap());
    assert_eq!(stat["StorageMax"], 10_000_000_000u64);
    assert!(stat["RepoPath"].as_str().unwrap().ends_with("repo"));
    assert!(stat["Version"]
        .as_str()
        .unwrap()
        .starts_with("ferrite-repo@"));
    let size_only = s.post("repo/stat?size-only=true&human=true").json();
    assert_eq!(size_only["RepoSize"], stat["RepoSize"]);
    assert_eq!(size_only["NumObjects"], 0);

    let verify = s.post("repo/verify");
    let rows = verify.ndjson();
    assert_eq!(rows[0], json!({"Msg": "", "Progress": 1}));
    assert_eq!(
        rows.last().unwrap(),
        &json!({"Msg": "verify complete, all blocks validated.", "Progress": 0})
    );

    let gc = s.post("repo/gc");
    assert_eq!(gc.header("x-chunked-output"), Some("1"));
    let removed = gc.ndjson();
    assert_eq!(removed.len(), 3, "{removed:?}");
    for r in &removed {
        assert_eq!(r.as_object().unwrap().len(), 1);
        assert!(r["Key"]["/"].as_str().unwrap().starts_with("bafkrei"));
    }
    assert_eq!(s.post("repo/gc?quiet=true").ndjson(), Vec::<Value>::new());
    assert_eq!(s.post("repo/stat").json()["NumObjects"], 1);
    let cat = s.post(&format!("cat?arg={}", kept[0]["Hash"].as_str().unwrap()));
    assert_eq!(cat.body, b"kept\n");
    assert_eq!(s.post("repo/gc?silent=true&stream-errors=true").status, 200);
    assert_eq!(
        s.post("repo/version").json(),
        json!({"Version": ferrite_node::REPO_VERSION.to_string()})
    );
}

/// Sends `head` + up to `send` bytes of a body of `len` bytes, then drops
/// the connection.
fn abort_upload(s: &Server, path: &str, ct: &str, body: &[u8], send: usize) {
    let mut c = s.connect();
    s.head(
        &mut c,
        "POST",
        path,
        &[("Content-Type", ct)],
        body.len() as u64,
    );
    c.write_all(&body[..send]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    drop(c);
}

/// Reads `n` bytes of a response to `path`, then drops the connection.
fn abort_download(s: &Server, path: &str, n: usize) {
    let mut c = s.connect();
    s.head(&mut c, "POST", path, &[], 0);
    let mut buf = vec![0u8; n];
    c.read_exact(&mut buf).unwrap();
    drop(c);
}

#[test]
fn clients_that_disconnect_leave_the_daemon_serving() {
    let s = start();
    let data = pseudo_random(48 << 20, 21);
    let r = s.add("", &[Part::File("big".into(), data.clone())]);
    assert_eq!(r.status, 200, "{}", r.text());
    let rows = r.ndjson();
    let big = rows[0]["Hash"].as_str().unwrap().to_owned();
    let before = s.pins();

    abort_download(&s, &format!("/api/v0/cat?arg={big}"), 1 << 20);
    abort_download(&s, &format!("/api/v0/get?arg={big}"), 1 << 20);
    abort_download(
        &s,
        &format!("/api/v0/get?arg={big}&archive=true&compress=true"),
        1000,
    );

    let (ct, body) = multipart(&[
        Part::Dir("d".into()),
        Part::File("d/small".into(), b"small".to_vec()),
        Part::File("d/big2".into(), pseudo_random(48 << 20, 22)),
    ]);
    abort_upload(&s, "/api/v0/add?progress=true", &ct, &body, 20 << 20);
    abort_upload(&s, "/api/v0/add", &ct, &body, 1 << 20);

    // The aborted adds release the repo: a GC gets its lock and finds
    // nothing of theirs pinned.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let gc = s.post("repo/gc");
        assert_eq!(gc.status, 200);
        if Instant::now() > deadline || s.pins() == before {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(s.pins(), before);
    let cat = s.post(&format!("cat?arg={big}"));
    assert_eq!(cat.status, 200);
    assert!(cat.body == data, "cat after aborts");
    assert_eq!(s.post("version").status, 200);
}
