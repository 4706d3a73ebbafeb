//! `POST /add`: a multipart upload imported on this peer's IPFS node, then
//! pinned cluster-wide (IPFS Cluster's "local" adder).
//!
//! The upload is streamed with ferrite-http's `/api/v0/add` pump
//! ([`UploadEntries`]): parts are parsed as they arrive and handed to the
//! blocking importer one at a time. `format=car` imports a CAR instead and
//! pins its root.
//!
//! Blocks are added without a local pin: the cluster pin that follows
//! decides where the content is pinned (this peer may not be allocated).

use std::io;

use axum::extract::{Query, Request, State};
use axum::response::Response;
use ferrite_http::rpc::{multipart_boundary, UploadEntries};

use super::now_secs;
use super::query::{bool_param, param, parse_pin_options, RestError};
use super::wire::Added;
use crate::cluster::Cluster;

/// Top-level entries (names without `/`) are the roots Kubo's add reports;
/// those are what the cluster pins.
pub(super) fn is_root(name: &str) -> bool {
    !name.contains('/')
}

/// The response: NDJSON rows, or one JSON array with `stream-channels=false`.
pub(super) fn render(rows: &[Added], stream: bool) -> Response {
    if stream {
        let mut buf = Vec::new();
        for r in rows {
            serde_json::to_writer(&mut buf, r).expect("serializable");
            buf.push(b'\n');
        }
        ferrite_http::rpc::ndjson_stream(axum::body::Body::from(buf))
    } else {
        ferrite_http::rpc::json(&rows)
    }
}

/// `wrap-with-directory`.
fn add_wrap(q: &[(String, String)]) -> Result<bool, RestError> {
    bool_param(q, "wrap-with-directory", false)
}

/// Kubo-compatible import options from the query, over the repo defaults.
fn add_options(
    node: &ferrite_node::Node,
    q: &[(String, String)],
) -> Result<ferrite_node::AddOptions, RestError> {
    let bad = |m: String| RestError::bad_request(m);
    let mut import = node
        .import_defaults()
        .map_err(|e| RestError::internal(e.to_string()))?;
    if let Some(c) = param(q, "chunker").filter(|c| !c.is_empty()) {
        import.chunker = c.parse().map_err(|e| bad(format!("chunker: {e}")))?;
    }
    if let Some(h) = param(q, "hash").filter(|h| !h.is_empty()) {
        import.hash = h
            .to_ascii_lowercase()
            .parse::<ferrite_ipld::HashAlg>()
            .map_err(|_| bad(format!("unrecognized hash function: {h:?}")))?;
    }
    if let Some(v) = param(q, "cid-version").filter(|v| !v.is_empty()) {
        match v {
            "0" => import.cid_version = Some(0),
            "1" => import.cid_version = Some(1),
            _ => return Err(bad(format!("unknown CID version: {v}"))),
        }
    }
    if param(q, "raw-leaves").is_some() {
        import.raw_leaves = Some(bool_param(q, "raw-leaves", false)?);
    }
    match param(q, "layout").unwrap_or("") {
        "" | "balanced" => {}
        "trickle" => import.trickle = true,
        l => return Err(bad(format!("unknown layout {l:?}"))),
    }
    import.validate().map_err(|e| bad(e.to_string()))?;
    Ok(ferrite_node::AddOptions {
        import,
        recursive: true,
        hidden: true,
        wrap: add_wrap(q)?,
        only_hash: false,
        pin: false,
        pin_name: String::new(),
    })
}

/// `POST /add`: see the module docs.
pub(super) async fn add(
    State(c): State<Cluster>,
    Query(q): Query<Vec<(String, String)>>,
    req: Request,
) -> Result<Response, RestError> {
    let opts = parse_pin_options(&q, now_secs())?;
    let stream = bool_param(&q, "stream-channels", true)?;
    let mut rows = import_upload(c.ipfs_node().clone(), &q, req).await?;
    let wrap = add_wrap(&q)?;
    let n = rows.len();
    for (i, row) in rows.iter_mut().enumerate() {
        // Wrapped: only the wrapper (last) is a root; its files are named
        // like top-level entries.
        if (wrap && i + 1 != n) || !is_root(&row.name) {
            continue;
        }
        let mut o = opts.clone();
        if o.name.is_empty() {
            o.name = row.name.clone();
        }
        let pin = c.pin(&row.cid, o).await?;
        row.allocations = pin.allocations.iter().map(ToString::to_string).collect();
    }
    Ok(render(&rows, stream))
}

/// The local half of `/add`: imports the upload (UnixFS or, with
/// `format=car`, a CAR) into `node` without pinning; returns the rows.
pub(super) async fn import_upload(
    node: ferrite_node::Node,
    q: &[(String, String)],
    req: Request,
) -> Result<Vec<Added>, RestError> {
    let car = match param(q, "format").unwrap_or("") {
        "" | "unixfs" => false,
        "car" => true,
        f => return Err(RestError::bad_request(format!("unknown add format {f:?}"))),
    };
    if bool_param(q, "shard", false)? {
        return Err(RestError::bad_request("sharding is not supported"));
    }
    let add_opts = add_options(&node, q)?;
    let ct = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = multipart_boundary(ct, "path").map_err(|e| RestError::bad_request(e.message))?;
    let mut entries = UploadEntries::new(req.into_body(), boundary);
    let rows = tokio::task::spawn_blocking(move || -> Result<Vec<Added>, RestError> {
        if car {
            import_car(&node, &mut entries)
        } else {
            let added = node
                .add_entries(&mut entries, &add_opts, &mut |_| {})
                .map_err(node_error)?;
            Ok(added
                .into_iter()
                .map(|a| Added {
                    name: a.name,
                    cid: a.cid.to_string(),
                    size: a.size,
                    allocations: Vec::new(),
                })
                .collect())
        }
    })
    .await
    .map_err(|e| RestError::internal(e.to_string()))??;
    if rows.is_empty() {
        return Err(RestError::bad_request("no files were added"));
    }
    Ok(rows)
}

/// Imports the first file part as a CAR (its single root is what gets pinned).
fn import_car(
    node: &ferrite_node::Node,
    entries: &mut UploadEntries,
) -> Result<Vec<Added>, RestError> {
    let (name, reader) = loop {
        match entries.next() {
            Some(Ok(ferrite_node::AddEntry {
                path,
                kind: ferrite_node::AddEntryKind::File(r),
            })) => break (path, r),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(node_error(e)),
            None => return Err(RestError::bad_request("no CAR file in the upload")),
        }
    };
    let opts = ferrite_node::DagImportOptions {
        pin_roots: false,
        ..Default::default()
    };
    let report = node
        .dag_import(&mut vec![reader].into_iter(), opts)
        .map_err(node_error)?;
    let [(root, _)] = report.roots.as_slice() else {
        return Err(RestError::bad_request(
            "a CAR must have exactly one root to be added",
        ));
    };
    let cid = root.to_string();
    Ok(vec![Added {
        name: if name.is_empty() { cid.clone() } else { name },
        cid,
        size: report.bytes,
        allocations: Vec::new(),
    }])
}

/// Bad uploads and bad options are the client's fault; the rest is ours.
fn node_error(e: ferrite_node::Error) -> RestError {
    match e {
        ferrite_node::Error::Invalid(m) => RestError::bad_request(m),
        ferrite_node::Error::Ipld(e) => RestError::bad_request(e.to_string()),
        ferrite_node::Error::Io(e) if e.kind() == io::ErrorKind::InvalidData => {
            RestError::bad_request(e.to_string())
        }
        other => RestError::internal(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// Serves `import_upload` over a fresh offline node; returns the base
    /// URL and the node.
    async fn upload_server(dir: &std::path::Path) -> (String, ferrite_node::Node) {
        use axum::routing::post;
        let repo = dir.join("repo");
        let cfg = ferrite_config::Config::init(&["test"]).unwrap();
        ferrite_node::Node::init(&repo, &cfg).unwrap();
        let node = ferrite_node::Node::open(&repo).unwrap();
        let r = axum::Router::new()
            .route(
                "/add",
                post(
                    |State(n): State<ferrite_node::Node>,
                     Query(q): Query<Vec<(String, String)>>,
                     req: Request| async move {
                        match import_upload(n, &q, req).await {
                            Ok(rows) => render(&rows, false),
                            Err(e) => axum::response::IntoResponse::into_response(e),
                        }
                    },
                ),
            )
            // As in the REST router: uploads have no size limit.
            .layer(axum::extract::DefaultBodyLimit::disable())
            .with_state(node.clone());
        (super::super::serve_for_test(r).await, node)
    }

    fn post_multipart(url: &str, files: &[(&str, &str, &[u8])]) -> (u16, String) {
        let boundary = "b0undary";
        let mut body = Vec::new();
        for (name, ct, data) in files {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
                     filename=\"{name}\"\r\nContent-Type: {ct}\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut r = agent
            .post(url)
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .send(&body[..])
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn upload_unixfs_and_car() {
        let dir = tempfile::tempdir().unwrap();
        let (base, node) = upload_server(dir.path()).await;
        let b = base.clone();
        let (file, wrapped, bad, big) = tokio::task::spawn_blocking(move || {
            let oct = "application/octet-stream";
            (
                post_multipart(
                    &format!("{b}/add?cid-version=1&raw-leaves=true"),
                    &[("hello%20world.txt", oct, b"hello")],
                ),
                post_multipart(
                    &format!("{b}/add?wrap-with-directory=true"),
                    &[("a.txt", oct, b"a"), ("b.txt", oct, b"b")],
                ),
                post_multipart(&format!("{b}/add?format=zip"), &[("a", oct, b"a")]),
                // Bigger than axum's default 2 MiB body limit.
                post_multipart(&format!("{b}/add"), &[("big", oct, &vec![7u8; 3 << 20])]),
            )
        })
        .await
        .unwrap();
        assert_eq!(file.0, 200, "{}", file.1);
        let rows: Vec<Value> = serde_json::from_str(&file.1).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["name"], "hello world.txt");
        // The raw-leaf CIDv1 of "hello".
        assert_eq!(
            rows[0]["cid"],
            "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"
        );
        assert_eq!(rows[0]["size"], 5);
        let rows: Vec<Value> = serde_json::from_str(&wrapped.1).unwrap();
        assert_eq!(rows.len(), 3, "{}", wrapped.1);
        assert_eq!(rows[2]["name"], "");
        assert_eq!(bad.0, 400);
        assert_eq!(big.0, 200, "{}", big.1);

        // A CAR of the wrapped folder imports and reports its root.
        let root: ferrite_node::Cid = rows[2]["cid"].as_str().unwrap().parse().unwrap();
        let mut car = Vec::new();
        node.dag_export(&root, &mut car).unwrap();
        let dir2 = tempfile::tempdir().unwrap();
        let (base2, _node2) = upload_server(dir2.path()).await;
        let (st, body) = tokio::task::spawn_blocking(move || {
            post_multipart(
                &format!("{base2}/add?format=car"),
                &[("x.car", "application/vnd.ipld.car", &car)],
            )
        })
        .await
        .unwrap();
        assert_eq!(st, 200, "{body}");
        let rows: Vec<Value> = serde_json::from_str(&body).unwrap();
        assert_eq!(rows[0]["cid"], root.to_string());
        assert_eq!(rows[0]["name"], "x.car");
    }

    #[test]
    fn roots_and_rendering() {
        assert!(is_root("file.txt"));
        assert!(is_root(""));
        assert!(!is_root("dir/file.txt"));
        let rows = vec![Added {
            name: "f".into(),
            cid: "bafy".into(),
            size: 5,
            allocations: vec!["p".into()],
        }];
        assert_eq!(
            serde_json::to_value(&rows[0]).unwrap(),
            json!({"name":"f","cid":"bafy","size":5,"allocations":["p"]})
        );
        let r = render(&rows, false);
        assert_eq!(r.headers()["content-type"], "application/json");
    }
}
