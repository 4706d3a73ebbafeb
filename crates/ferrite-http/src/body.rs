//! Response bodies fed from blocking code, and how they end when they fail.
//!
//! [`blocking_stream`] runs a closure on the blocking pool with a
//! [`ChanWriter`] (an `io::Write`); what it writes becomes the response body.
//! When the client goes away, writes fail with `BrokenPipe` and the closure
//! stops.
//!
//! # A stream that cannot complete must not look complete
//!
//! When the closure (or an NDJSON command stream) fails after the 200 went
//! out, the body yields a [`StreamError`] and hyper aborts the answer: no
//! terminating chunk (or fewer bytes than `Content-Length`), then the
//! connection closes, so curl, browsers and HTTP libraries report a
//! truncated transfer. Kubo's gateway does the same (boxo aborts the
//! handler with `http.ErrAbortHandler`).
//!
//! The error text cannot go out *and then* the answer abort: in HTTP/1 the
//! trailer section is part of the terminating chunk (`0\r\n<trailers>\r\n`),
//! so once hyper wrote it the transfer is complete. And hyper writes
//! trailers only to clients that sent `TE: trailers`, dropping them (and
//! ending cleanly) for everyone else. So [`trailers_if_asked`] chooses per
//! request: a client that sent `TE: trailers`, for an answer that declared
//! `Trailer: X-Stream-Error` and is chunked, gets the error as that trailer
//! and a clean end, as go-ipfs-cmds sends it; it said it reads trailers, and
//! our CLI ([`crate::client`]) does, to print the cause (say, the missing
//! block). Every other answer is aborted.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http_body::{Frame, SizeHint};
use std::io::{self, Write};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::sync::mpsc;

/// Chunks are sent when they reach this size (or on `flush`).
const CHUNK: usize = 256 * 1024;

/// An `io::Write` whose bytes become a streaming response body.
pub struct ChanWriter {
    tx: mpsc::Sender<Result<Frame<Bytes>, StreamError>>,
    buf: Vec<u8>,
}

impl ChanWriter {
    fn send(&mut self, frame: Frame<Bytes>) -> io::Result<()> {
        self.tx
            .blocking_send(Ok(frame))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client went away"))
    }

    /// Sends already-owned bytes without copying them into the buffer.
    pub fn write_bytes(&mut self, b: Bytes) -> io::Result<()> {
        self.flush()?;
        if !b.is_empty() {
            self.send(Frame::data(b))?;
        }
        Ok(())
    }
}

impl Write for ChanWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > CHUNK && !self.buf.is_empty() {
            self.flush()?;
        }
        if data.len() >= CHUNK {
            self.send(Frame::data(Bytes::copy_from_slice(data)))?;
        } else {
            self.buf.extend_from_slice(data);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            let b = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
            self.send(Frame::data(b))?;
        }
        Ok(())
    }
}

/// Why a streamed answer stopped after it started: a body error, so hyper
/// aborts the answer, unless [`trailers_if_asked`] turns it into the
/// `X-Stream-Error` trailer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StreamError(String);

impl StreamError {
    /// The error ending a stream whose work failed with `message`.
    pub fn new(message: &str) -> Self {
        tracing::debug!("stream ended with an error: {message}");
        Self(message.replace(['\r', '\n'], " "))
    }
}

/// The `X-Stream-Error` trailer frame carrying `e`.
fn error_trailer(e: &StreamError) -> Frame<Bytes> {
    let mut trailers = HeaderMap::new();
    if let Ok(v) = header::HeaderValue::from_str(&e.0) {
        trailers.insert("x-stream-error", v);
    }
    Frame::trailers(trailers)
}

/// Middleware: for a request with `TE: trailers` whose answer can carry the
/// `X-Stream-Error` trailer, a [`StreamError`] becomes that trailer and the
/// answer ends cleanly; otherwise the body error aborts the answer (see the
/// module doc).
pub async fn trailers_if_asked(req: Request, next: Next) -> Response {
    let asked = lists(req.headers(), header::TE, "trailers");
    let resp = next.run(req).await;
    // The conditions under which hyper writes the trailer: anything less and
    // it would silently drop it and end the answer as if complete.
    if asked
        && lists(resp.headers(), header::TRAILER, "x-stream-error")
        && !resp.headers().contains_key(header::CONTENT_LENGTH)
    {
        resp.map(|inner| Body::new(ErrorAsTrailer { inner, done: false }))
    } else {
        resp
    }
}

/// Whether the comma-separated header `name` lists `token` (as hyper reads
/// `TE`).
fn lists(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// A body whose [`StreamError`] is its last frame, the trailer.
struct ErrorAsTrailer {
    inner: Body,
    done: bool,
}

impl http_body::Body for ErrorAsTrailer {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if self.done {
            return Poll::Ready(None);
        }
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        Poll::Ready(match frame {
            Some(Err(e)) => {
                match std::error::Error::source(&e).and_then(|s| s.downcast_ref::<StreamError>()) {
                    Some(se) => {
                        self.done = true;
                        Some(Ok(error_trailer(se)))
                    }
                    None => Some(Err(e)),
                }
            }
            other => other,
        })
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A body produced by `f` on the blocking pool. An error from `f` ends it
/// with a [`StreamError`].
pub fn blocking_stream<F, E>(f: F) -> Body
where
    F: FnOnce(&mut ChanWriter) -> Result<(), E> + Send + 'static,
    E: std::fmt::Display,
{
    let (tx, rx) = mpsc::channel(8);
    tokio::task::spawn_blocking(move || {
        let mut w = ChanWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        };
        let result = f(&mut w);
        let flushed = w.flush();
        if let Err(e) = result {
            // A client that left needs no error.
            let _ = w.tx.blocking_send(Err(StreamError::new(&e.to_string())));
        } else if let Err(e) = flushed {
            tracing::debug!("stream flush failed: {e}");
        }
    });
    stream_body(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|frame| (frame, rx))
    }))
}

/// The body of `frames`. Before a [`StreamError`] it pauses once, so that
/// hyper writes out the data it buffered: the abort discards its buffer,
/// and the client should get everything that was produced (as Go's server
/// flushes before it aborts).
pub fn stream_body<S>(frames: S) -> Body
where
    S: Stream<Item = Result<Frame<Bytes>, StreamError>> + Send + 'static,
{
    Body::new(http_body_util::StreamBody::new(frames.then(
        |frame| async move {
            if frame.is_err() {
                tokio::task::yield_now().await;
            }
            frame
        },
    )))
}
