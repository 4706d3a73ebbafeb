//! Ferrite's HTTP interfaces over a [`ferrite_node::Node`]:
//!
//! - [`rpc`]: the Kubo-compatible RPC API (`/api/v0/…`, port 5001), following
//!   go-ipfs-cmds conventions so Kubo's clients work unchanged;
//! - [`gateway`]: the IPFS HTTP gateway (`/ipfs/…`, port 8080), path and
//!   trustless (`application/vnd.ipld.raw` / `.car`).
//!
//! The node's API is synchronous; handlers run it on tokio's blocking pool and
//! stream its output through [`body`], so a slow client never holds a core
//! and a client that disconnects stops the work.
//!
//! [`command`] defines each API command once, for this server and the CLI;
//! [`metrics`] serves Prometheus metrics on the API port.
#![forbid(unsafe_code)]
// The doc comments of the commands' request types are the CLI's help text,
// where `<peer ID>` is literal, not HTML.
#![allow(rustdoc::invalid_html_tags)]

pub mod addr;
pub mod body;
pub mod client;
pub mod command;
pub mod gateway;
pub mod metrics;
pub mod rpc;

use std::future::Future;
use std::io;
use tokio::net::TcpListener;

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
