//! Response bodies fed from blocking code.
//!
//! [`blocking_stream`] runs a closure on the blocking pool with a
//! [`ChanWriter`] (an `io::Write`); what it writes becomes the response body.
//! If the closure fails after bytes went out, the error is sent as the
//! `X-Stream-Error` trailer, as go-ipfs-cmds does (hyper delivers HTTP/1
//! trailers only to clients that sent `TE: trailers`). When the client goes
//! away, writes fail with `BrokenPipe` and the closure stops.

use axum::body::Body;
use bytes::Bytes;
use http_body::Frame;
use std::convert::Infallible;
use std::io::{self, Write};
use tokio::sync::mpsc;

/// Chunks are sent when they reach this size (or on `flush`).
const CHUNK: usize = 256 * 1024;

/// An `io::Write` whose bytes become a streaming response body.
pub struct ChanWriter {
    tx: mpsc::Sender<Frame<Bytes>>,
    buf: Vec<u8>,
}

impl ChanWriter {
    fn send(&mut self, frame: Frame<Bytes>) -> io::Result<()> {
        self.tx
            .blocking_send(frame)
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

/// The `X-Stream-Error` trailer frame that ends a stream whose command
/// failed after it started answering.
pub fn error_trailer(message: &str) -> Frame<Bytes> {
    tracing::debug!("stream ended with an error: {message}");
    let mut trailers = axum::http::HeaderMap::new();
    let msg = message.replace(['\r', '\n'], " ");
    if let Ok(v) = axum::http::HeaderValue::from_str(&msg) {
        trailers.insert("x-stream-error", v);
    }
    Frame::trailers(trailers)
}

/// A body produced by `f` on the blocking pool. An error from `f` becomes the
/// `X-Stream-Error` trailer.
pub fn blocking_stream<F, E>(f: F) -> Body
where
    F: FnOnce(&mut ChanWriter) -> Result<(), E> + Send + 'static,
    E: std::fmt::Display,
{
    let (tx, rx) = mpsc::channel::<Frame<Bytes>>(8);
    tokio::task::spawn_blocking(move || {
        let mut w = ChanWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        };
        let result = f(&mut w);
        let flushed = w.flush();
        if let Err(e) = result {
            // A client that left needs no error.
            if w.tx.is_closed() {
                return;
            }
            let _ = w.send(error_trailer(&e.to_string()));
        } else if let Err(e) = flushed {
            tracing::debug!("stream flush failed: {e}");
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|frame| (Ok::<_, Infallible>(frame), rx))
    });
    Body::new(http_body_util::StreamBody::new(stream))
}
