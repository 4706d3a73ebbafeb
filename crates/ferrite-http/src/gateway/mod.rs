//! The IPFS HTTP gateway (path and trustless), per ipfs/specs `src/http-gateways/`.
//!
//! - `GET/HEAD /ipfs/{cid}[/path]`: UnixFS files (Content-Type from the
//!   extension or sniffed, single `Range`s), folders (`index.html` or an
//!   HTML listing, HAMT folders too), other codecs as their block;
//! - trustless responses: `?format=raw` / `application/vnd.ipld.raw` (a
//!   block) and `?format=car` / `application/vnd.ipld.car` (a CARv1 stream,
//!   `order=dfs`, `dups=n|y`, `dag-scope`, `entity-bytes`); also `tar`,
//!   `dag-json`, `dag-cbor`, `json`, `cbor` for blocks of that codec;
//! - caching: `ETag`, `If-None-Match` → 304, `Cache-Control: immutable`,
//!   `X-Ipfs-Path`, `X-Ipfs-Roots`.
//!
//! The node is offline, so the gateway is non-recursive: a block that is not
//! in the repo is a 404, answered at once. `/ipns/` answers 501 until the
//! node resolves IPNS. Each request runs its node work in one blocking task;
//! large files and CARs stream, so memory stays flat whatever their size.

mod cache;
mod files;
mod listing;
mod request;
mod sniff;
mod trustless;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use cache::ResolveCache;
use ferrite_node::{Error, IpfsPath, Node, Resolved};
use request::{Format, GwRequest};
use std::sync::Arc;

/// `Cache-Control` of every response under `/ipfs/`: the content of a CID
/// never changes.
pub const IMMUTABLE: &str = "public, max-age=29030400, immutable";

/// How many resolved paths the gateway remembers.
const RESOLVE_CACHE: usize = 16 * 1024;

/// The gateway's shared state.
#[derive(Clone)]
struct Gateway {
    node: Node,
    resolved: Arc<ResolveCache>,
    /// Bounds the requests doing node work at once: a few blocking threads
    /// per core keep the CPUs busy, while hundreds would mostly trade
    /// context switches; waiting requests queue fairly (FIFO) here.
    busy: Arc<tokio::sync::Semaphore>,
}

impl Gateway {
    /// Resolves a content path (cached: `/ipfs/` paths never change).
    fn resolve(&self, path: &IpfsPath) -> Result<Resolved, GwError> {
        if path.segments.is_empty() {
            return Ok(Resolved {
                cid: path.root,
                roots: vec![path.root],
                remainder: Vec::new(),
            });
        }
        if let Some(r) = self.resolved.get(path) {
            return Ok(r);
        }
        let r = self.node.resolve_roots(path)?;
        if !r.remainder.is_empty() {
            // path-gateway: pathing into non-link values is not supported
            return Err(GwError::new(
                StatusCode::NOT_IMPLEMENTED,
                format!(
                    "{path} ends inside block {} at {:?}; only paths that end at a block are served",
                    r.cid,
                    r.remainder.join("/")
                ),
            ));
        }
        self.resolved.insert(path, r.clone());
        Ok(r)
    }
}

/// The gateway router: `/ipfs/…` and `/ipns/…`; anything else is a 404.
pub fn router(node: Node) -> Router {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let gw = Gateway {
        node,
        resolved: Arc::new(ResolveCache::new(RESOLVE_CACHE)),
        busy: Arc::new(tokio::sync::Semaphore::new(4 * cores)),
    };
    Router::new()
        .route("/ipfs/{*path}", any(handle))
        .route("/ipns/{*path}", any(ipns))
        .layer(axum::middleware::from_fn(crate::body::trailers_if_asked))
        .with_state(gw)
}

async fn handle(State(gw): State<Gateway>, req: Request) -> Response {
    if let Some(r) = method_check(req.method()) {
        return r;
    }
    let req = match GwRequest::parse(&req) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    // Every response needs node work (a block read at least): do it all in
    // one blocking task, which also builds streaming bodies (those stream
    // on their own tasks, outside this bound).
    let Ok(permit) = gw.busy.clone().acquire_owned().await else {
        return GwError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    };
    let work = tokio::task::spawn_blocking(move || {
        let r = serve(&gw, req);
        drop(permit);
        r
    });
    match work.await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => e.into_response(),
        Err(e) => GwError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("task failed: {e}"),
        )
        .into_response(),
    }
}

async fn ipns(req: Request) -> Response {
    if let Some(r) = method_check(req.method()) {
        return r;
    }
    GwError::new(
        StatusCode::NOT_IMPLEMENTED,
        "/ipns/ paths need IPNS, which this node does not resolve yet; use /ipfs/<cid>",
    )
    .into_response()
}

/// GET and HEAD are served, OPTIONS lists them, anything else is a 405.
fn method_check(m: &Method) -> Option<Response> {
    const ALLOW: &str = "GET, HEAD, OPTIONS";
    if m == Method::GET || m == Method::HEAD {
        return None;
    }
    let status = if m == Method::OPTIONS {
        StatusCode::OK
    } else {
        StatusCode::METHOD_NOT_ALLOWED
    };
    let body = if status == StatusCode::OK {
        String::new()
    } else {
        format!("405 - Method Not Allowed: {m} is not allowed, use GET or HEAD\n")
    };
    Some(
        Response::builder()
            .status(status)
            .header(header::ALLOW, ALLOW)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Body::from(body))
            .expect("valid response"),
    )
}

fn serve(gw: &Gateway, req: GwRequest) -> Result<Response, GwError> {
    let node = &gw.node;
    if req.only_if_cached && !node.has_block(&req.path.root).map_err(GwError::from)? {
        return Err(GwError::new(
            StatusCode::PRECONDITION_FAILED,
            format!("{} is not in this node's store", req.path.root),
        ));
    }
    match req.format {
        Format::Default => files::serve(gw, &req),
        Format::Raw => trustless::raw(gw, &req),
        Format::Car(opts) => trustless::car(node, &req, opts),
        Format::Tar => trustless::tar(gw, &req),
        Format::Codec(codec) => trustless::codec(gw, &req, codec),
        Format::IpnsRecord => Err(GwError::new(
            StatusCode::BAD_REQUEST,
            "application/vnd.ipfs.ipns-record is only for /ipns/ names",
        )),
    }
}

/// A gateway error: a status and a one-line plain-text message.
#[derive(Debug)]
pub struct GwError {
    status: StatusCode,
    message: String,
}

impl GwError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        GwError {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_ACCEPTABLE, message)
    }

    fn into_response(self) -> Response {
        let mut b = Response::builder()
            .status(self.status)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .header("X-Content-Type-Options", "nosniff");
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            b = b.header(header::ALLOW, "GET, HEAD, OPTIONS");
        }
        b.body(Body::from(format!(
            "{} {}: {}\n",
            self.status.as_u16(),
            self.status.canonical_reason().unwrap_or(""),
            self.message
        )))
        .expect("valid response")
    }
}

impl From<Error> for GwError {
    /// Offline, a missing block is content this gateway does not have: 404
    /// (non-recursive gateways answer 404, not 502/504); online, content no
    /// peer delivered in time is a 504, as Kubo's gateway answers.
    fn from(e: Error) -> Self {
        let status = match &e {
            Error::NotFound(_) | Error::NoLink(_) => StatusCode::NOT_FOUND,
            Error::Unavailable(_) => StatusCode::GATEWAY_TIMEOUT,
            Error::Invalid(_) | Error::Pin(_) => StatusCode::BAD_REQUEST,
            Error::Store(_) | Error::Ipld(_) | Error::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        GwError::new(status, e.to_string())
    }
}

/// Sets a header from a string, skipping values that are not valid header
/// text (they come from content paths).
fn set_header(
    b: axum::http::response::Builder,
    name: &str,
    value: &str,
) -> axum::http::response::Builder {
    match HeaderValue::from_str(value) {
        Ok(v) => b.header(name, v),
        Err(_) => b,
    }
}

/// An empty body of unknown length, for HEAD responses whose GET streams:
/// an empty body of known size would make hyper announce
/// `Content-Length: 0`, which is not what a GET would send.
fn unsized_empty() -> Body {
    Body::from_stream(futures_util::stream::empty::<
        Result<bytes::Bytes, std::convert::Infallible>,
    >())
}

/// Whether `If-None-Match` matches `etag` (weak comparison, lists and `*`).
fn etag_matches(if_none_match: Option<&str>, etag: &str) -> bool {
    let Some(inm) = if_none_match else {
        return false;
    };
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let want = strip(etag);
    inm.split(',').any(|t| {
        let t = t.trim();
        t == "*" || strip(t) == want
    })
}

/// Entry points for the fuzz targets in `fuzz/` (not a stable API): the
/// gateway's parsing of what a client sends (path, query, `Accept`,
/// `Range`), without a node behind it.
#[doc(hidden)]
pub mod fuzzing {
    use super::request::GwRequest;
    use axum::extract::Request;
    use ferrite_node::{CarOptions, IpfsPath};

    /// What a `Range` header asks of a representation of `size` bytes:
    /// `None` for the whole (no usable range), `Some(None)` when nothing of
    /// it is inside (416), `Some(Some((first, last)))` for one inclusive range.
    pub fn parse_range(h: Option<&str>, size: u64) -> Option<Option<(u64, u64)>> {
        match super::files::parse_range(h, size) {
            super::files::RangeReq::Full => None,
            super::files::RangeReq::Unsatisfiable => Some(None),
            super::files::RangeReq::One(a, b) => Some(Some((a, b))),
        }
    }

    /// A parsed gateway request.
    #[derive(Debug, Clone)]
    pub struct ParsedRequest {
        /// HEAD.
        pub head: bool,
        /// The content path.
        pub path: IpfsPath,
        /// The URL path ends in `/`.
        pub trailing_slash: bool,
        /// The negotiated format as its `?format=` name (`""` for the default).
        pub format: &'static str,
        /// The CAR options, for a CAR response.
        pub car: Option<CarOptions>,
        /// The format came from `Accept` only.
        pub format_from_accept: bool,
        /// `?filename=`.
        pub filename: Option<String>,
        /// `?download=true`.
        pub download: bool,
        /// The CAR `order` to announce.
        pub car_order: &'static str,
        /// `Cache-Control: only-if-cached`.
        pub only_if_cached: bool,
    }

    /// Parses a request as the gateway does; an error is its status code
    /// and message.
    pub fn parse_request(req: &Request) -> Result<ParsedRequest, (u16, String)> {
        let r = GwRequest::parse(req).map_err(|e| (e.status.as_u16(), e.message))?;
        let car = match r.format {
            super::Format::Car(o) => Some(o),
            _ => None,
        };
        Ok(ParsedRequest {
            head: r.head,
            path: r.path,
            trailing_slash: r.trailing_slash,
            format: r.format.param(),
            car,
            format_from_accept: r.format_from_accept,
            filename: r.filename,
            download: r.download,
            car_order: r.car_order,
            only_if_cached: r.only_if_cached,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_errors_map_to_kubo_gateway_statuses() {
        let status = |e: Error| GwError::from(e).status;
        let late = Error::Unavailable("block x was not found: no peer sent it within 120s".into());
        assert_eq!(status(late), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(
            status(Error::NoLink("no link".into())),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status(Error::Invalid("bad".into())),
            StatusCode::BAD_REQUEST
        );
    }
}
