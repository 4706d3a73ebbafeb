//! The Kubo RPC API (`/api/v0`), with go-ipfs-cmds conventions:
//!
//! - every command is `POST /api/v0/<cmd>[/<sub>]`; other methods get 405;
//! - positional arguments are repeated `arg=` query parameters, options are
//!   other query parameters (booleans accept `true/false/1/0` and a bare
//!   `?flag`);
//! - one result is one JSON object; streams are NDJSON with
//!   `X-Chunked-Output: 1`; raw bytes come with `X-Stream-Output: 1`;
//! - errors are `{"Message","Code","Type":"error"}` (Code 1 → 400, 0 → 500),
//!   and an error after streaming began is the `X-Stream-Error` trailer for
//!   clients that sent `TE: trailers`, an aborted answer for the others
//!   ([`crate::body`]).
//!
//! Each command group lives in its own module; [`commands`] is the table.

pub mod add;
pub mod block;
pub mod bootstrap;
pub mod cid;
mod cmds;
pub mod config;
pub mod dag;
pub mod files;
pub mod log;
pub mod misc;
pub mod pin;
pub mod refs;
pub mod repo;
pub mod routing;
pub mod security;
pub mod stats;
pub mod swarm;

pub use add::{multipart_boundary, AddEvent, UploadEntries};
pub use cmds::{ApiError, ErrorBody, Req};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use ferrite_node::Node;
use std::future::Future;
use std::pin::Pin;

/// What a command handler returns.
pub type Reply = Result<Response, ApiError>;
/// A boxed command handler.
pub type Handler = fn(Node, Req) -> Pin<Box<dyn Future<Output = Reply> + Send>>;

/// Shared state of the API server.
#[derive(Clone)]
pub struct Api {
    /// The node every command works on.
    pub node: Node,
    /// Asked to stop the daemon (`/api/v0/shutdown`).
    pub shutdown: tokio::sync::mpsc::Sender<()>,
}

/// One command: its path below `/api/v0/` and its handler.
pub type Route = (&'static str, Handler);

/// Every command. Each module lists its own in a `COMMANDS` slice.
pub fn commands() -> impl Iterator<Item = &'static Route> {
    [
        add::COMMANDS,
        block::COMMANDS,
        bootstrap::COMMANDS,
        cid::COMMANDS,
        config::COMMANDS,
        dag::COMMANDS,
        files::COMMANDS,
        log::COMMANDS,
        misc::COMMANDS,
        pin::COMMANDS,
        refs::COMMANDS,
        repo::COMMANDS,
        routing::COMMANDS,
        stats::COMMANDS,
        swarm::COMMANDS,
    ]
    .into_iter()
    .flatten()
}

/// The API router, behind [`security::check`] (auth, CORS, CSRF checks).
/// Uploads (`add`, `block/put`, `dag/import` …) have no body size limit.
pub fn router(api: Api) -> Router {
    let node = api.node.clone();
    Router::new()
        .route("/api/v0/{*cmd}", any(dispatch))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(node, security::check))
        .layer(axum::middleware::from_fn(crate::body::trailers_if_asked))
        .with_state(api)
}

async fn dispatch(State(api): State<Api>, req: Request) -> Response {
    let path = req
        .uri()
        .path()
        .trim_start_matches("/api/v0/")
        .trim_end_matches('/')
        .to_string();
    // Methods other than POST never get here: `security::check` answers them.
    if path == "shutdown" {
        let _ = api.shutdown.send(()).await;
        return StatusCode::OK.into_response();
    }
    let Some((_, handler)) = commands().find(|(p, _)| *p == path) else {
        return (StatusCode::NOT_FOUND, "404 page not found").into_response();
    };
    let req = match Req::from_request(req) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    // Kubo's global `--offline`: this request sees local blocks only.
    let node = match req.bool("offline", false) {
        Ok(true) => api.node.offline(),
        Ok(false) => api.node.clone(),
        Err(e) => return e.into_response(),
    };
    match handler(node, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// Runs blocking node work off the async threads.
pub async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("task failed: {e}")))?
}

/// A raw byte stream response (`cat`, `get`, `block/get`, `dag/export`).
pub fn raw_stream(body: Body, content_type: &str, len: Option<u64>) -> Response {
    let mut b = Response::builder()
        .header("Content-Type", content_type)
        .header("X-Stream-Output", "1")
        .header("Trailer", "X-Stream-Error");
    if let Some(l) = len {
        b = b.header("X-Content-Length", l.to_string());
    }
    b.body(body).expect("valid response")
}

/// An NDJSON stream response.
pub fn ndjson_stream(body: Body) -> Response {
    Response::builder()
        .header("Content-Type", "application/json")
        .header("X-Chunked-Output", "1")
        .header("Trailer", "X-Stream-Error")
        .body(body)
        .expect("valid response")
}

/// A single JSON object response.
pub fn json(v: &impl serde::Serialize) -> Response {
    let mut s = serde_json::to_vec(v).expect("serializable");
    s.push(b'\n');
    Response::builder()
        .header("Content-Type", "application/json")
        .body(Body::from(s))
        .expect("valid response")
}
