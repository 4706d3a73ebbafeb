//! The binary's one HTTP client, for the RPC API and the cluster's REST API:
//! blocking calls over hyper's HTTP/1.1 client.
//!
//! Two things these APIs need rule out the simpler blocking clients: the
//! `X-Stream-Error` *trailer* (a failure in the middle of `cat` or `get` must
//! not look like success), and an upload streamed while the answer is read
//! (`add` sends progress objects back while the upload is still going;
//! writing the whole upload first could deadlock once both socket buffers
//! are full). So a request body is written by a closure on a thread of its
//! own, and the answer is read frame by frame, trailers included.

use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::http::{self, HeaderValue};
pub use hyper::http::{HeaderMap, Method, StatusCode};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Upload bytes are sent in frames of this size: few syscalls and server
/// wake-ups on bulk uploads.
const FRAME: usize = 1 << 20;

/// An error of [`Client::send`].
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answered at the address.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// The upload's source (a local file, stdin) failed: that, not the
    /// broken request it causes, is what the user needs to see.
    #[error("{0}")]
    Source(io::Error),
    /// The exchange failed.
    #[error("{0}")]
    Http(#[from] hyper::Error),
    /// The request could not be built (a bad header value).
    #[error("{0}")]
    Request(#[from] http::Error),
}

/// Writes a request body (on a thread of its own).
pub type BodyWriter = Box<dyn FnOnce(&mut dyn Write) -> io::Result<()> + Send>;

/// A request body.
pub enum Upload {
    /// None.
    Empty,
    /// Bytes at hand, with their `Content-Type`.
    Bytes(String, Vec<u8>),
    /// Bytes a [`BodyWriter`] produces while the answer is read, with their
    /// `Content-Type`. An I/O error the writer returns is reported as
    /// [`ClientError::Source`] unless it is a write to the connection that
    /// failed.
    Stream(String, BodyWriter),
}

/// An HTTP/1.1 client of one server (one connection per request).
#[derive(Clone)]
pub struct Client {
    addr: SocketAddr,
    headers: HeaderMap,
    timeout: Option<Duration>,
    rt: Arc<tokio::runtime::Runtime>,
}

impl Client {
    /// A client of the server at `addr`.
    pub fn new(addr: SocketAddr) -> io::Result<Client> {
        // The caller's thread drives the connection while it waits for the
        // answer: no hand-over to another thread per body frame.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(Client {
            addr,
            headers: HeaderMap::new(),
            timeout: None,
            rt: Arc::new(rt),
        })
    }

    /// Sends `name: value` with every request (`Authorization`).
    pub fn with_header(mut self, name: &'static str, value: &str) -> Result<Client, ClientError> {
        let v = HeaderValue::from_str(value).map_err(http::Error::from)?;
        self.headers.insert(name, v);
        Ok(self)
    }

    /// Fails a request whose answer (its head, or any part of its body) does
    /// not come within `d` (default: wait as long as it takes).
    pub fn with_timeout(mut self, d: Duration) -> Client {
        self.timeout = Some(d);
        self
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends a request for `target` (path and query) and waits for the
    /// answer's head; its body is read from the [`Response`].
    pub fn send(
        &self,
        method: Method,
        target: &str,
        body: Upload,
    ) -> Result<Response, ClientError> {
        let addr = self.addr;
        let connect = async move {
            let tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr))
                .await
                .unwrap_or_else(|_| Err(io::Error::from(io::ErrorKind::TimedOut)))
                .map_err(|source| ClientError::Connect { addr, source })?;
            let _ = tcp.set_nodelay(true);
            let (sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await?;
            tokio::spawn(conn);
            Ok::<_, ClientError>(sender)
        };
        let mut sender = self.rt.block_on(connect)?;
        let mut req = http::Request::builder()
            .method(method)
            .uri(target)
            .header("host", addr.to_string())
            .header("user-agent", concat!("ferrite/", env!("CARGO_PKG_VERSION")))
            .header("te", "trailers");
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let mut writer = None;
        let body = match body {
            Upload::Empty => Either::Left(Full::new(Bytes::new())),
            Upload::Bytes(ct, b) => {
                req = req.header("content-type", ct);
                Either::Left(Full::new(Bytes::from(b)))
            }
            Upload::Stream(ct, write) => {
                req = req.header("content-type", ct);
                let (tx, mut rx) = mpsc::channel::<io::Result<Frame<Bytes>>>(4);
                writer = Some(std::thread::spawn(move || {
                    let mut w = FrameWriter {
                        tx,
                        buf: Vec::with_capacity(FRAME),
                    };
                    let r = write(&mut w).and_then(|()| w.flush());
                    if let Err(e) = &r {
                        // Aborts the request instead of ending it early.
                        let _ =
                            w.tx.blocking_send(Err(io::Error::new(e.kind(), e.to_string())));
                    }
                    r
                }));
                let frames = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
                Either::Right(StreamBody::new(frames))
            }
        };
        let answer = sender.send_request(req.body(body)?);
        let resp = match self.rt.block_on(within(self.timeout, answer)) {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Err(source_failure(writer).unwrap_or(ClientError::Http(e))),
            Err(e) => return Err(ClientError::Source(e)),
        };
        let (head, incoming) = resp.into_parts();
        Ok(Response {
            status: head.status,
            headers: head.headers,
            body: ResponseBody {
                incoming,
                rt: self.rt.clone(),
                timeout: self.timeout,
                cur: Bytes::new(),
                done: false,
                writer,
            },
        })
    }
}

/// The error of a finished upload thread whose source failed.
/// `f`, or a timed-out error after `limit`.
async fn within<F: std::future::Future>(limit: Option<Duration>, f: F) -> io::Result<F::Output> {
    match limit {
        None => Ok(f.await),
        Some(d) => tokio::time::timeout(d, f)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer in time")),
    }
}

/// The request has failed, so the thread ends soon (its channel is closed
/// once hyper drops the body); it is given a second.
fn source_failure(writer: Option<JoinHandle<io::Result<()>>>) -> Option<ClientError> {
    let w = writer?;
    for _ in 0..100 {
        if w.is_finished() {
            return w.join().ok()?.err().and_then(as_source);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// A body that broke off: the server aborts an answer it cannot complete
/// when it cannot send the cause (see [`crate::body`]), so the cut is the
/// news, with hyper's reason (hidden in its error's sources) as detail.
fn cut_short(e: &hyper::Error) -> io::Error {
    let mut why = String::new();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        why = format!("{why}: {s}");
        src = s.source();
    }
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("the answer was cut short, it is incomplete ({e}{why})"),
    )
}

/// Keeps only source errors: a failed write to the connection means the
/// server stopped reading, and its answer says why.
fn as_source(e: io::Error) -> Option<ClientError> {
    (e.kind() != io::ErrorKind::BrokenPipe).then_some(ClientError::Source(e))
}

/// Turns what a [`BodyWriter`] writes into body frames.
struct FrameWriter {
    tx: mpsc::Sender<io::Result<Frame<Bytes>>>,
    buf: Vec<u8>,
}

impl Write for FrameWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(FRAME - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == FRAME {
            self.flush()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let frame = Frame::data(Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(FRAME),
        )));
        self.tx
            .blocking_send(Ok(frame))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the server stopped reading"))
    }
}

/// An answer: status, headers, and its body to read.
pub struct Response {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: ResponseBody,
}

impl Response {
    /// A header's value, if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An answer's body as [`Read`]. The `X-Stream-Error` trailer (a command
/// failed after it started answering) and a failed upload source are read
/// errors after the data that came before them.
pub struct ResponseBody {
    incoming: Incoming,
    rt: Arc<tokio::runtime::Runtime>,
    timeout: Option<Duration>,
    cur: Bytes,
    done: bool,
    writer: Option<JoinHandle<io::Result<()>>>,
}

impl ResponseBody {
    /// The end of the answer: the upload must have succeeded as well.
    fn finish(&mut self) -> io::Result<()> {
        self.done = true;
        match self.writer.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => match as_source(e) {
                Some(ClientError::Source(e)) => Err(e),
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }

    fn fail(&mut self, e: io::Error) -> io::Error {
        self.done = true;
        match source_failure(self.writer.take()) {
            Some(ClientError::Source(src)) => src,
            _ => e,
        }
    }

    /// Reads the whole body as text.
    pub fn text(mut self) -> io::Result<String> {
        let mut s = String::new();
        self.read_to_string(&mut s)?;
        Ok(s)
    }
}

impl Read for ResponseBody {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            let frame = self
                .rt
                .block_on(within(self.timeout, self.incoming.frame()));
            match frame? {
                None => {
                    self.finish()?;
                    return Ok(0);
                }
                Some(Err(e)) => return Err(self.fail(cut_short(&e))),
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => self.cur = data,
                    Err(frame) => {
                        let err = frame.trailers_ref().and_then(|t| {
                            t.get("x-stream-error")
                                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                        });
                        if let Some(msg) = err {
                            self.done = true;
                            return Err(io::Error::other(msg));
                        }
                    }
                },
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        bytes::Buf::advance(&mut self.cur, n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};

    /// Serves one canned answer on a loopback port; the handle yields the
    /// request head and body the client sent.
    fn fake_server(answer: &'static str) -> (Client, JoinHandle<(String, Vec<u8>)>) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                head.push_str(&line);
            }
            let mut body = Vec::new();
            if head
                .to_ascii_lowercase()
                .contains("transfer-encoding: chunked")
            {
                loop {
                    let mut size = String::new();
                    r.read_line(&mut size).unwrap();
                    let n = usize::from_str_radix(size.trim(), 16).unwrap();
                    let mut chunk = vec![0; n + 2];
                    r.read_exact(&mut chunk).unwrap();
                    if n == 0 {
                        break;
                    }
                    body.extend_from_slice(&chunk[..n]);
                }
            }
            (&s).write_all(answer.as_bytes()).unwrap();
            (head, body)
        });
        (Client::new(addr).unwrap(), h)
    }

    #[test]
    fn stream_error_trailer_fails_the_read_after_the_data() {
        let (c, h) = fake_server(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-stream-error\r\n\r\n\
             5\r\nhello\r\n0\r\nx-stream-error: block not found\r\n\r\n",
        );
        let mut resp = c
            .send(Method::POST, "/api/v0/cat?arg=x", Upload::Empty)
            .unwrap();
        let mut out = Vec::new();
        let err = resp.body.read_to_end(&mut out).unwrap_err();
        assert_eq!(out, b"hello");
        assert_eq!(err.to_string(), "block not found");
        let (head, _) = h.join().unwrap();
        assert!(
            head.starts_with("POST /api/v0/cat?arg=x HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(head.to_ascii_lowercase().contains("te: trailers"), "{head}");
    }

    #[test]
    fn an_aborted_answer_is_a_clear_error_after_the_data() {
        for answer in [
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nhello",
        ] {
            let (c, h) = fake_server(answer);
            let mut resp = c.send(Method::GET, "/x", Upload::Empty).unwrap();
            let mut out = Vec::new();
            let err = resp.body.read_to_end(&mut out).unwrap_err();
            assert_eq!(out, b"hello");
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
            let msg = err.to_string();
            assert!(msg.starts_with("the answer was cut short"), "{msg}");
            assert!(!msg.contains('\n'), "{msg}");
            h.join().unwrap();
        }
    }

    #[test]
    fn streamed_upload_arrives_whole() {
        let (c, h) = fake_server("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        let data: Vec<u8> = (0..3 * FRAME + 7).map(|i| i as u8).collect();
        let sent = data.clone();
        let write: BodyWriter = Box::new(move |w| w.write_all(&sent));
        let resp = c
            .send(Method::POST, "/x", Upload::Stream("a/b".into(), write))
            .unwrap();
        assert_eq!(resp.body.text().unwrap(), "ok");
        let (head, body) = h.join().unwrap();
        assert!(
            head.to_ascii_lowercase().contains("content-type: a/b"),
            "{head}"
        );
        assert_eq!(body, data);
    }

    #[test]
    fn a_failed_source_is_the_error() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = Client::new(l.local_addr().unwrap()).unwrap();
        // The server reads until the body breaks off, then hangs up.
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let _ = io::copy(&mut s, &mut io::sink());
        });
        let write: BodyWriter = Box::new(|w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("read ./gone.txt: permission denied"))
        });
        let err = match c.send(Method::POST, "/x", Upload::Stream("a/b".into(), write)) {
            Err(e) => e.to_string(),
            Ok(mut r) => r.body.read_to_end(&mut Vec::new()).unwrap_err().to_string(),
        };
        assert_eq!(err, "read ./gone.txt: permission denied");
    }
}
