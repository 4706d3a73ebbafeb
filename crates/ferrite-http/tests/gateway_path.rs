//! Path gateway over real HTTP: files, ranges, folders, listings, caching
//! headers and error statuses.

#[path = "gateway_support/mod.rs"]
mod gateway_support;

use gateway_support::{random_bytes, Gw};
use std::io::Read;
use std::time::{Duration, Instant};

const HELLO: &str = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o";
const IMMUTABLE: &str = "public, max-age=29030400, immutable";

#[test]
fn file_get_and_head_headers() {
    let gw = Gw::start();
    assert_eq!(gw.add_bytes(b"hello world\n").to_string(), HELLO);
    let path = format!("/ipfs/{HELLO}");
    let r = gw.get(&path, &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"hello world\n");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("content-length"), Some("12"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.header("etag"), Some(format!("\"{HELLO}\"").as_str()));
    assert_eq!(r.header("cache-control"), Some(IMMUTABLE));
    assert_eq!(r.header("x-ipfs-path"), Some(path.as_str()));
    assert_eq!(r.header("x-ipfs-roots"), Some(HELLO));

    let h = gw.head(&path, &[]);
    assert_eq!(h.status, 200);
    assert!(h.body.is_empty());
    for k in [
        "content-type",
        "content-length",
        "etag",
        "cache-control",
        "x-ipfs-path",
        "x-ipfs-roots",
        "accept-ranges",
    ] {
        assert_eq!(h.header(k), r.header(k), "{k}");
    }
}

#[test]
fn if_none_match_gives_304() {
    let gw = Gw::start();
    gw.add_bytes(b"hello world\n");
    let path = format!("/ipfs/{HELLO}");
    for inm in [
        format!("\"{HELLO}\""),
        format!("W/\"{HELLO}\""),
        format!("\"other\", \"{HELLO}\""),
        "*".to_string(),
    ] {
        let r = gw.get(&path, &[("If-None-Match", &inm)]);
        assert_eq!(r.status, 304, "{inm}");
        assert!(r.body.is_empty());
        assert_eq!(r.header("etag"), Some(format!("\"{HELLO}\"").as_str()));
        assert_eq!(r.header("cache-control"), Some(IMMUTABLE));
    }
    let r = gw.get(&path, &[("If-None-Match", "\"nope\"")]);
    assert_eq!(r.status, 200);
}

#[test]
fn range_requests() {
    let gw = Gw::start();
    let small = b"0123456789abcdefghij".to_vec(); // 20 bytes, read whole
    let big = random_bytes(3 << 20, 7); // 3 MiB, 12 chunks, streamed
    let cases_for = |data: &[u8]| {
        let n = data.len() as u64;
        vec![
            ("bytes=0-9".to_string(), (0u64, 9u64)),
            ("bytes=5-5".to_string(), (5, 5)),
            ("bytes=10-".to_string(), (10, n - 1)),
            ("bytes=-5".to_string(), (n - 5, n - 1)),
            (format!("bytes=3-{}", n + 100), (3, n - 1)),
            (format!("bytes=-{}", n + 100), (0, n - 1)),
        ]
    };
    for data in [&small[..], &big[..]] {
        let cid = gw.add_bytes(data);
        let path = format!("/ipfs/{cid}");
        let n = data.len() as u64;
        for (range, (s, e)) in cases_for(data) {
            let range = range.as_str();
            let r = gw.get(&path, &[("Range", range)]);
            assert_eq!(r.status, 206, "{range}");
            assert_eq!(r.body, &data[s as usize..=e as usize], "{range}");
            assert_eq!(
                r.header("content-range"),
                Some(format!("bytes {s}-{e}/{n}").as_str()),
                "{range}"
            );
            assert_eq!(
                r.header("content-length"),
                Some((e - s + 1).to_string().as_str())
            );
            let h = gw.head(&path, &[("Range", range)]);
            assert_eq!(h.status, 206);
            assert_eq!(h.header("content-range"), r.header("content-range"));
        }
        // a range across chunk boundaries of the big file
        if n > 1 << 20 {
            let r = gw.get(&path, &[("Range", "bytes=262000-1048600")]);
            assert_eq!(r.status, 206);
            assert_eq!(r.body, &data[262000..=1048600]);
        }
        for bad in [
            format!("bytes={n}-"),
            format!("bytes={}-{}", n + 5, n + 9),
            "bytes=-0".into(),
        ] {
            let r = gw.get(&path, &[("Range", &bad)]);
            assert_eq!(r.status, 416, "{bad}");
            assert_eq!(
                r.header("content-range"),
                Some(format!("bytes */{n}").as_str())
            );
        }
        // ignored: malformed, other units, several ranges
        for ignored in ["bytes=9-3", "bytes=x-y", "items=0-1", "bytes=0-1,5-6"] {
            let r = gw.get(&path, &[("Range", ignored)]);
            assert_eq!(r.status, 200, "{ignored}");
            assert_eq!(r.body.len() as u64, n);
        }
    }
    // an empty file has no satisfiable range
    let empty = gw.add_bytes(b"");
    let r = gw.get(&format!("/ipfs/{empty}"), &[("Range", "bytes=0-")]);
    assert_eq!(r.status, 416);
    let r = gw.get(&format!("/ipfs/{empty}"), &[]);
    assert_eq!((r.status, r.body.len()), (200, 0));
}

#[test]
fn big_file_streams_whole() {
    let gw = Gw::start();
    let data = random_bytes(9 << 20, 3);
    let cid = gw.add_bytes(&data);
    let r = gw.get(&format!("/ipfs/{cid}"), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-length"),
        Some((9u64 << 20).to_string().as_str())
    );
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert!(r.body == data);
}

fn site(root: &std::path::Path) {
    let w = |p: &str, d: &[u8]| {
        let p = root.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, d).unwrap();
    };
    w("site/index.html", b"<html><body>home</body></html>");
    w("site/style.css", b"body{}");
    w("list/<script>alert(1)<script>.txt", b"xss");
    w("list/a b&c \"q\".txt", b"spaces");
    w("list/ünïcödé.txt", b"unicode");
    w("list/page", b"<!DOCTYPE html><html><p>sniffed</p></html>");
    w("list/blob", &[0u8, 1, 2, 3, 255, 254]);
    w("list/pic.png", b"not really a png");
    w("list/data.json", b"{\"a\":1}");
    w("list/sub/deep.txt", b"deep");
}

#[test]
fn folders_redirect_index_and_listing() {
    let gw = Gw::start();
    let tmp = tempfile::tempdir().unwrap();
    site(tmp.path());
    let root = gw.add_dir(tmp.path());

    // no trailing slash: 301 to the slash form, query kept
    let r = gw.get(&format!("/ipfs/{root}/site?x=1"), &[]);
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location"),
        Some(format!("/ipfs/{root}/site/?x=1").as_str())
    );
    let r = gw.get(&format!("/ipfs/{root}"), &[]);
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location"),
        Some(format!("/ipfs/{root}/").as_str())
    );

    // index.html
    let r = gw.get(&format!("/ipfs/{root}/site/"), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "<html><body>home</body></html>");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let index = gw
        .node
        .resolve(&ferrite_node::IpfsPath::parse(&format!("/ipfs/{root}/site/index.html")).unwrap())
        .unwrap();
    assert_eq!(r.header("etag"), Some(format!("\"{index}\"").as_str()));
    let site_cid = gw
        .node
        .resolve(&ferrite_node::IpfsPath::parse(&format!("/ipfs/{root}/site")).unwrap())
        .unwrap();
    assert_eq!(
        r.header("x-ipfs-roots"),
        Some(format!("{root},{site_cid}").as_str())
    );
    let r = gw.get(&format!("/ipfs/{root}/site/style.css"), &[]);
    assert_eq!(r.header("content-type"), Some("text/css; charset=utf-8"));

    // a listing, names escaped
    let r = gw.get(&format!("/ipfs/{root}/list/"), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.header("cache-control"), Some(IMMUTABLE));
    let etag = r.header("etag").unwrap().to_string();
    assert!(
        etag.starts_with("\"DirIndex-")
            && etag.ends_with(&format!(
                "_CID-{}\"",
                r.header("x-ipfs-roots")
                    .unwrap()
                    .rsplit(',')
                    .next()
                    .unwrap()
            )),
        "{etag}"
    );
    let html = r.text();
    assert!(!html.contains("<script>alert"), "unescaped name in listing");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;script&gt;.txt"));
    assert!(html.contains("a b&amp;c &quot;q&quot;.txt"));
    assert!(html.contains("./a%20b&amp;c%20%22q%22.txt"), "{html}");
    assert!(html.contains("ünïcödé.txt"));
    assert!(html.contains("href=\"./sub\""));
    assert!(html.contains("href=\"../\""));
    for e in gw
        .node
        .ls(&ferrite_node::IpfsPath::parse(&format!("/ipfs/{root}/list")).unwrap())
        .unwrap()
    {
        assert!(html.contains(&e.cid.to_string()), "cid of {}", e.name);
    }
    let r304 = gw.get(&format!("/ipfs/{root}/list/"), &[("If-None-Match", &etag)]);
    assert_eq!(r304.status, 304);
    let h = gw.head(&format!("/ipfs/{root}/list/"), &[]);
    assert_eq!((h.status, h.header("etag")), (200, Some(etag.as_str())));
    assert_ne!(
        h.header("content-length"),
        Some("0"),
        "a HEAD must not claim an empty listing"
    );

    // content types: extension first, then sniffing
    let ct = |p: &str| {
        let r = gw.get(&format!("/ipfs/{root}/list/{p}"), &[]);
        assert_eq!(r.status, 200, "{p}");
        r.header("content-type").unwrap().to_string()
    };
    assert_eq!(ct("page"), "text/html; charset=utf-8");
    assert_eq!(ct("blob"), "application/octet-stream");
    assert_eq!(ct("pic.png"), "image/png");
    assert_eq!(ct("data.json"), "application/json");
    assert_eq!(
        ct("%3Cscript%3Ealert(1)%3Cscript%3E.txt"),
        "text/plain; charset=utf-8"
    );
    assert_eq!(
        ct("%C3%BCn%C3%AFc%C3%B6d%C3%A9.txt"),
        "text/plain; charset=utf-8"
    );
    assert_eq!(
        gw.get(&format!("/ipfs/{root}/list/sub/deep.txt"), &[]).body,
        b"deep"
    );

    // ?filename and ?download
    let r = gw.get(&format!("/ipfs/{root}/list/blob?filename=report.pdf"), &[]);
    assert_eq!(r.header("content-type"), Some("application/pdf"));
    assert_eq!(
        r.header("content-disposition"),
        Some("inline; filename=\"report.pdf\"")
    );
    let r = gw.get(
        &format!("/ipfs/{root}/list/blob?filename=r%C3%A9sum%C3%A9.txt&download=true"),
        &[],
    );
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"r_sum_.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt")
    );
}

#[test]
fn hamt_folder_listing() {
    let gw = Gw::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("big");
    std::fs::create_dir(&dir).unwrap();
    let names: Vec<String> = (0..5000)
        .map(|i| format!("{i:05}-{}", "n".repeat(54)))
        .collect();
    for (i, n) in names.iter().enumerate() {
        std::fs::write(dir.join(n), format!("file {i}")).unwrap();
    }
    let root = gw.add_dir(&dir);
    let stat = gw
        .node
        .stat(&ferrite_node::IpfsPath::parse(&root.to_string()).unwrap())
        .unwrap();
    assert_eq!(stat.kind, ferrite_unixfs::export::EntryKind::HamtDirectory);
    let t = Instant::now();
    let r = gw.get(&format!("/ipfs/{root}/"), &[]);
    let took = t.elapsed();
    assert_eq!(r.status, 200);
    let html = r.text();
    for n in &names {
        assert!(html.contains(&format!("href=\"./{n}\"")), "{n} missing");
    }
    assert!(took < Duration::from_secs(5), "listing took {took:?}");
    // and a file through the shard
    let r = gw.get(&format!("/ipfs/{root}/{}", names[4321]), &[]);
    assert_eq!(r.text(), "file 4321");
}

#[test]
fn error_statuses() {
    let gw = Gw::start();
    gw.add_bytes(b"hello world\n");
    let tmp = tempfile::tempdir().unwrap();
    site(tmp.path());
    let root = gw.add_dir(tmp.path());

    let r = gw.get("/ipfs/not-a-cid", &[]);
    assert_eq!(r.status, 400);
    let r = gw.get(
        "/ipfs/bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
        &[],
    );
    assert_eq!(r.status, 404, "valid CID not in the store");
    let r = gw.get(&format!("/ipfs/{root}/nope/deeper"), &[]);
    assert_eq!(r.status, 404);
    assert!(r.text().contains("nope"), "{}", r.text());
    let r = gw.get(&format!("/ipfs/{HELLO}/under-a-file"), &[]);
    assert_eq!(r.status, 404);

    // missing blocks answer at once (offline, non-recursive)
    let missing = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
    let t = Instant::now();
    assert_eq!(gw.get(&format!("/ipfs/{missing}"), &[]).status, 404);
    assert_eq!(
        gw.get(&format!("/ipfs/{missing}?format=raw"), &[]).status,
        404
    );
    assert_eq!(
        gw.get(&format!("/ipfs/{missing}?format=car"), &[]).status,
        404
    );
    assert!(t.elapsed() < Duration::from_secs(1));
    let r = gw.get(
        &format!("/ipfs/{missing}"),
        &[("Cache-Control", "only-if-cached")],
    );
    assert_eq!(r.status, 412);
    let r = gw.head(
        &format!("/ipfs/{HELLO}"),
        &[("Cache-Control", "only-if-cached")],
    );
    assert_eq!(r.status, 200);

    for m in ["POST", "PUT", "DELETE", "PATCH"] {
        let r = gw.request(m, &format!("/ipfs/{HELLO}"), &[]);
        assert_eq!(r.status, 405, "{m}");
        assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
    }
    let r = gw.request("OPTIONS", &format!("/ipfs/{HELLO}"), &[]);
    assert_eq!(r.status, 200);

    let r = gw.get(
        "/ipns/k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8",
        &[],
    );
    assert_eq!(r.status, 501);
    assert!(r.text().contains("IPNS"));
    assert_eq!(gw.get("/", &[]).status, 404);
    assert_eq!(gw.get("/something", &[]).status, 404);

    // service workers may not take /ipfs/<cid> (no slash) as their scope
    let r = gw.get(&format!("/ipfs/{HELLO}"), &[("Service-Worker", "script")]);
    assert_eq!(r.status, 400);
}

#[test]
fn client_disconnect_mid_download() {
    let gw = Gw::start();
    let data = random_bytes(48 << 20, 11);
    let cid = gw.add_bytes(&data);
    for _ in 0..3 {
        let mut s = gw.raw(&format!(
            "GET /ipfs/{cid} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        ));
        let head = Gw::raw_head(&mut s);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let mut buf = vec![0u8; 256 << 10];
        s.read_exact(&mut buf).unwrap();
        drop(s); // leave mid-body
    }
    // the server keeps serving, whole files included
    std::thread::sleep(Duration::from_millis(100));
    let r = gw.get(&format!("/ipfs/{cid}"), &[("Range", "bytes=1000-2000")]);
    assert_eq!(r.body, &data[1000..=2000]);
    let r = gw.get(&format!("/ipfs/{cid}"), &[]);
    assert_eq!(r.status, 200);
    assert!(r.body == data);
}
