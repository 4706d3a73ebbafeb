//! The client side of the RPC API: when a daemon holds the repo, every
//! command is a `POST /api/v0/<cmd>` to it (go-ipfs-cmds conventions).
//!
//! The HTTP/1.1 client is written on `std::net::TcpStream` rather than on
//! `ureq` because two things the API needs are out of ureq's reach: the
//! `X-Stream-Error` *trailer* (ureq does not expose trailers, so a failure
//! in the middle of `cat` or `get` would look like success), and a request
//! body written on its own thread while the response is read (`add` streams
//! progress objects back while the upload is still going; writing the whole
//! upload first could deadlock once both socket buffers are full).

use anyhow::{anyhow, bail, Context, Result};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;

/// Go's `url.QueryEscape`: everything but `A-Za-z0-9-_.~` is escaped, and a
/// space becomes `+` (fixed up in [`query_escape`]).
pub(crate) const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Escapes a query value or a multipart file name as Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    utf8_percent_encode(s, QUERY)
        .to_string()
        .replace("%20", "+")
}

/// Where the daemon's API listens.
pub(crate) struct Client {
    addr: SocketAddr,
    multiaddr: String,
    /// Kubo's global `--offline`: every request carries `offline=true`.
    offline: bool,
}

/// Finds the daemon for `repo`: `--api` wins; else `$FERRITE_PATH/api`.
///
/// A stale api file (the daemon died without removing it) is handled as Kubo
/// does, without deleting anything: if nothing listens and the repo lock is
/// free, the daemon is gone and the command runs locally; if the lock is
/// held, something else owns the repo and the command fails clearly.
pub(crate) fn detect(repo: &Path, api_flag: Option<&str>) -> Result<Option<Client>> {
    if let Some(ma) = api_flag {
        return Client::new(ma).map(Some);
    }
    let api_file = repo.join("api");
    let ma = match fs::read_to_string(&api_file) {
        Ok(s) => s.trim().to_string(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => bail!("cannot read {}: {e}", api_file.display()),
    };
    let client =
        Client::new(&ma).with_context(|| format!("invalid api file {}", api_file.display()))?;
    if TcpStream::connect_timeout(&client.addr, Duration::from_secs(2)).is_ok() {
        return Ok(Some(client));
    }
    if repo_lock_is_free(repo) {
        return Ok(None);
    }
    bail!(
        "cannot connect to the ferrite daemon at {ma} (from {}), and the repo is locked by another process",
        api_file.display()
    )
}

/// Whether nobody holds `repo.lock` (the lock is released again at once).
fn repo_lock_is_free(repo: &Path) -> bool {
    match fs::OpenOptions::new()
        .write(true)
        .open(repo.join("repo.lock"))
    {
        Ok(f) => f.try_lock().is_ok(),
        // No lock file: no process ever opened the repo this way.
        Err(_) => true,
    }
}

impl Client {
    /// A client for the API at multiaddr `ma` (`/ip4/A/tcp/P`, `/ip6/…`).
    pub(crate) fn new(ma: &str) -> Result<Client> {
        let addr = ferrite_http::addr::dialable(
            ferrite_http::addr::to_socket(ma).map_err(anyhow::Error::msg)?,
        );
        Ok(Client {
            addr,
            multiaddr: ma.to_string(),
            offline: false,
        })
    }

    /// Makes every request run offline on the daemon (local blocks only).
    pub(crate) fn set_offline(&mut self, offline: bool) {
        self.offline = offline;
    }

    /// Starts a request for command `cmd` (`add`, `pin/ls`, …).
    pub(crate) fn request(&self, cmd: &str) -> Request<'_> {
        let mut query = Vec::new();
        if self.offline {
            query.push(("offline".into(), "true".into()));
        }
        Request {
            client: self,
            cmd: cmd.to_string(),
            query,
            body: None,
        }
    }
}

/// One API request being built.
pub(crate) struct Request<'a> {
    client: &'a Client,
    cmd: String,
    query: Vec<(String, String)>,
    body: Option<Multipart>,
}

impl Request<'_> {
    /// Adds a positional argument (`arg=`).
    pub(crate) fn arg(mut self, v: impl AsRef<str>) -> Self {
        self.query.push(("arg".into(), v.as_ref().to_string()));
        self
    }

    /// Adds an option.
    pub(crate) fn opt(mut self, k: &str, v: impl ToString) -> Self {
        self.query.push((k.to_string(), v.to_string()));
        self
    }

    /// Adds query pairs (a typed request's wire form).
    pub(crate) fn pairs(mut self, pairs: Vec<(String, String)>) -> Self {
        self.query.extend(pairs);
        self
    }

    /// Adds an option if it has a value.
    pub(crate) fn opt_some(self, k: &str, v: Option<impl ToString>) -> Self {
        match v {
            Some(v) => self.opt(k, v),
            None => self,
        }
    }

    /// Adds a boolean option only when it is set (the server's default is false).
    pub(crate) fn flag(self, k: &str, on: bool) -> Self {
        if on {
            self.opt(k, true)
        } else {
            self
        }
    }

    /// Attaches a multipart upload.
    pub(crate) fn body(mut self, m: Multipart) -> Self {
        self.body = Some(m);
        self
    }

    /// Sends the request; a non-200 answer becomes its `Message` as an error.
    pub(crate) fn send(self) -> Result<Response> {
        let ma = &self.client.multiaddr;
        let stream = TcpStream::connect_timeout(&self.client.addr, Duration::from_secs(5))
            .map_err(|e| anyhow!("cannot connect to the ferrite daemon at {ma}: {e}"))?;
        let query: Vec<String> = self
            .query
            .iter()
            .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
            .collect();
        let mut head = format!("POST /api/v0/{}", self.cmd);
        if !query.is_empty() {
            head.push('?');
            head.push_str(&query.join("&"));
        }
        head.push_str(&format!(
            " HTTP/1.1\r\nHost: {}\r\nUser-Agent: ferrite/{}\r\nTE: trailers\r\nConnection: close\r\n",
            self.client.addr,
            env!("CARGO_PKG_VERSION")
        ));
        match &self.body {
            Some(m) => head.push_str(&format!(
                "Content-Type: multipart/form-data; boundary={}\r\nTransfer-Encoding: chunked\r\n\r\n",
                m.boundary
            )),
            None => head.push_str("Content-Length: 0\r\n\r\n"),
        }
        let mut w = stream.try_clone()?;
        w.write_all(head.as_bytes())
            .map_err(|e| anyhow!("cannot send to the ferrite daemon at {ma}: {e}"))?;
        let writer = self.body.map(|m| {
            std::thread::spawn(move || -> io::Result<()> {
                let mut cw = ChunkedWriter::new(&mut w);
                let r = m.write_to(&mut cw).and_then(|()| cw.finish());
                if r.is_err() {
                    // An incomplete body makes the server fail the request.
                    let _ = w.shutdown(Shutdown::Write);
                }
                r
            })
        });
        let mut resp = Response::read(stream, writer)?;
        if resp.status != 200 {
            let mut text = String::new();
            let read = resp.body.read_to_string(&mut text);
            if let Some(e) = resp.body.writer_error() {
                return Err(e.into());
            }
            read?;
            let msg = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("Message").and_then(Value::as_str).map(String::from));
            match msg {
                Some(m) => bail!("{m}"),
                None if resp.status == 404 => bail!(
                    "the daemon at {ma} does not support /api/v0/{} ({})",
                    self.cmd,
                    text.trim()
                ),
                None => bail!("daemon answered {}: {}", resp.status, text.trim()),
            }
        }
        Ok(resp)
    }

    /// Sends and feeds every object of the answer to `f`, decoded as `T`
    /// (a missing or renamed field is an error).
    pub(crate) fn items<T: serde::de::DeserializeOwned>(
        self,
        mut f: impl FnMut(T) -> Result<()>,
    ) -> Result<()> {
        let cmd = self.cmd.clone();
        self.stream(|v| {
            let item = serde_json::from_value(v)
                .map_err(|e| anyhow!("the daemon's answer to {cmd} does not decode: {e}"))?;
            f(item)
        })
    }

    /// Sends and feeds every JSON object of an NDJSON answer to `f`.
    pub(crate) fn stream(self, f: impl FnMut(Value) -> Result<()>) -> Result<()> {
        self.send()?.ndjson(f)
    }

    /// Sends and copies a raw answer into `w`.
    pub(crate) fn copy_to(self, w: &mut dyn Write) -> Result<u64> {
        let mut resp = self.send()?;
        Ok(io::copy(&mut resp.body, w)?)
    }
}

/// The answer to a request: status, headers and the (decoded) body.
pub(crate) struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    /// The body; reading it fails with the `X-Stream-Error` trailer if the
    /// command failed after it started answering.
    pub body: Body,
}

impl Response {
    fn read(stream: TcpStream, writer: Option<JoinHandle<io::Result<()>>>) -> Result<Response> {
        let shutdown = stream.try_clone()?;
        let mut r = BufReader::with_capacity(1 << 16, stream);
        let mut line = String::new();
        let status = loop {
            line.clear();
            if let Err(e) = r.read_line(&mut line) {
                return Err(writer_failure(writer).unwrap_or(e).into());
            }
            if line.is_empty() {
                return Err(writer_failure(writer)
                    .unwrap_or_else(|| io::Error::other("the daemon closed the connection"))
                    .into());
            }
            let code: u16 = line
                .split_whitespace()
                .nth(1)
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| anyhow!("bad HTTP status line from the daemon: {line:?}"))?;
            // 1xx answers (100 Continue) come before the real one.
            if !(100..200).contains(&code) {
                break code;
            }
            read_headers(&mut r)?;
        };
        let headers = read_headers(&mut r)?;
        let get = |k: &str| {
            headers
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        let mode = if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            Mode::Chunked { left: 0 }
        } else if let Some(n) = get("content-length").and_then(|v| v.parse().ok()) {
            Mode::Length(n)
        } else {
            Mode::Eof
        };
        Ok(Response {
            status,
            headers,
            body: Body {
                r,
                mode,
                writer,
                shutdown: Some(shutdown),
            },
        })
    }

    /// A response header (lower-case name).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Feeds every JSON value of the body to `f`; an error object
    /// (`"Type":"error"`) in the stream becomes an error.
    pub(crate) fn ndjson(mut self, mut f: impl FnMut(Value) -> Result<()>) -> Result<()> {
        let mut line = Vec::new();
        let mut r = BufReader::new(&mut self.body);
        loop {
            line.clear();
            if r.read_until(b'\n', &mut line)? == 0 {
                return Ok(());
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(text)
                .map_err(|e| anyhow!("bad JSON from the daemon ({e}): {text}"))?;
            if v.get("Type").and_then(Value::as_str) == Some("error") {
                if let Some(m) = v.get("Message").and_then(Value::as_str) {
                    bail!("{m}");
                }
            }
            f(v)?;
        }
    }
}

fn read_headers(r: &mut impl BufRead) -> io::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the daemon closed the connection mid-answer",
            ));
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            return Ok(out);
        }
        if let Some((k, v)) = l.split_once(':') {
            out.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
}

/// The error of a finished upload thread, if reading a local file failed.
fn writer_failure(writer: Option<JoinHandle<io::Result<()>>>) -> Option<io::Error> {
    let w = writer?;
    if !w.is_finished() {
        return None;
    }
    w.join().ok().and_then(source_error)
}

/// An upload's source (a local file, stdin) failed: that, not the socket
/// error it causes, is what the user needs to see.
#[derive(Debug)]
struct SourceError(String);

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SourceError {}

/// Keeps only source errors: a failed socket write means the daemon stopped
/// reading, and its answer says why.
fn source_error(r: io::Result<()>) -> Option<io::Error> {
    let e = r.err()?;
    e.get_ref()
        .is_some_and(|i| i.is::<SourceError>())
        .then_some(e)
}

/// Copies an upload source into the body, telling source errors apart.
fn copy_source(r: &mut dyn Read, w: &mut impl Write, what: &dyn Fn() -> String) -> io::Result<()> {
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io::Error::other(SourceError(format!("{}: {e}", what())))),
        };
        w.write_all(&buf[..n])?;
    }
}

enum Mode {
    Chunked { left: u64 },
    Length(u64),
    Eof,
    Done,
}

/// A response body: de-chunked, with the `X-Stream-Error` trailer turned into
/// a read error.
pub(crate) struct Body {
    r: BufReader<TcpStream>,
    mode: Mode,
    writer: Option<JoinHandle<io::Result<()>>>,
    shutdown: Option<TcpStream>,
}

impl Body {
    /// The upload thread's error, if it failed (a local file became unreadable).
    fn writer_error(&mut self) -> Option<io::Error> {
        if let Some(s) = self.shutdown.take() {
            let _ = s.shutdown(Shutdown::Both);
        }
        self.writer.take()?.join().ok().and_then(source_error)
    }

    /// The end of the body: the upload must have succeeded as well.
    fn finish(&mut self) -> io::Result<usize> {
        self.mode = Mode::Done;
        match self.writer_error() {
            Some(e) => Err(e),
            None => Ok(0),
        }
    }

    fn fail(&mut self, e: io::Error) -> io::Error {
        self.mode = Mode::Done;
        self.writer_error().unwrap_or(e)
    }

    fn read_chunked(&mut self, buf: &mut [u8], left: u64) -> io::Result<usize> {
        let mut left = left;
        if left == 0 {
            let mut line = String::new();
            self.r.read_line(&mut line)?;
            let size = line.trim().split(';').next().unwrap_or("");
            left = u64::from_str_radix(size, 16).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad chunk size from the daemon: {line:?}"),
                )
            })?;
            if left == 0 {
                let trailers = read_headers(&mut self.r)?;
                if let Some((_, msg)) = trailers.iter().find(|(k, _)| k == "x-stream-error") {
                    return Err(io::Error::other(msg.clone()));
                }
                return self.finish();
            }
        }
        let want = buf.len().min(left as usize);
        let n = self.r.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the daemon closed the connection mid-answer",
            ));
        }
        left -= n as u64;
        if left == 0 {
            let mut crlf = [0u8; 2];
            self.r.read_exact(&mut crlf)?;
        }
        self.mode = Mode::Chunked { left };
        Ok(n)
    }
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let r = match self.mode {
            Mode::Done => return Ok(0),
            Mode::Chunked { left } => self.read_chunked(buf, left),
            Mode::Length(0) => return self.finish(),
            Mode::Length(n) => {
                let want = buf.len().min(n as usize);
                match self.r.read(&mut buf[..want]) {
                    Ok(0) => Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the daemon closed the connection mid-answer",
                    )),
                    Ok(k) => {
                        self.mode = Mode::Length(n - k as u64);
                        Ok(k)
                    }
                    Err(e) => Err(e),
                }
            }
            Mode::Eof => match self.r.read(buf) {
                Ok(0) => return self.finish(),
                r => r,
            },
        };
        r.map_err(|e| self.fail(e))
    }
}

/// HTTP/1.1 chunked transfer encoding over a writer, 1 MiB per chunk (large
/// chunks keep syscalls and server wake-ups few on bulk uploads).
struct ChunkedWriter<W: Write> {
    w: W,
    buf: Vec<u8>,
}

impl<W: Write> ChunkedWriter<W> {
    const CHUNK: usize = 1 << 20;

    fn new(w: W) -> Self {
        ChunkedWriter {
            w,
            buf: Vec::with_capacity(Self::CHUNK),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        self.flush()?;
        self.w.write_all(b"0\r\n\r\n")?;
        self.w.flush()
    }
}

impl<W: Write> Write for ChunkedWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(Self::CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == Self::CHUNK {
            self.flush()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.w
                .write_all(format!("{:x}\r\n", self.buf.len()).as_bytes())?;
            self.w.write_all(&self.buf)?;
            self.w.write_all(b"\r\n")?;
            self.buf.clear();
        }
        self.w.flush()
    }
}

/// One part of an upload.
enum Part {
    Dir(String),
    File(String, PathBuf),
    Symlink(String, String),
    Reader(String, Box<dyn Read + Send>),
}

/// A `multipart/form-data` upload in boxo's format (what Kubo's CLI sends):
/// one `name="file"` part per file or folder, named by its URL-escaped path,
/// folders as `application/x-directory`, symlinks as `application/symlink`.
/// File contents are read from disk only while the body is written.
pub(crate) struct Multipart {
    boundary: String,
    parts: Vec<Part>,
}

impl Default for Multipart {
    fn default() -> Self {
        Self::new()
    }
}

impl Multipart {
    /// The boundary string (for the Content-Type header).
    pub(crate) fn boundary(&self) -> &str {
        &self.boundary
    }

    /// An empty upload.
    pub(crate) fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Multipart {
            boundary: format!("ferrite-{:x}{:x}", std::process::id(), nanos),
            parts: Vec::new(),
        }
    }

    /// One part per file, or stdin when there are none (`block put`,
    /// `dag put`, `dag import`).
    pub(crate) fn files_or_stdin(files: &[std::path::PathBuf]) -> Result<Self> {
        let mut body = Multipart::new();
        if files.is_empty() {
            body.reader("", std::io::stdin());
        }
        for f in files {
            body.file(f)
                .map_err(|e| anyhow!("cannot read {}: {e}", f.display()))?;
        }
        Ok(body)
    }

    /// Adds a byte stream (stdin) under `name`.
    pub(crate) fn reader(&mut self, name: &str, r: impl Read + Send + 'static) {
        self.parts.push(Part::Reader(name.to_string(), Box::new(r)));
    }

    /// Adds one regular file under its base name; it must be readable now.
    pub(crate) fn file(&mut self, path: &Path) -> io::Result<()> {
        File::open(path)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.parts.push(Part::File(name, path.to_owned()));
        Ok(())
    }

    /// Adds a command-line path for `add`: a file, a symlink, or a folder
    /// tree (entries in byte order, dot-files only with `hidden`), named as
    /// Kubo names it (the path's last component).
    pub(crate) fn add_path(&mut self, path: &Path, hidden: bool) -> Result<()> {
        let (path, name) = if path.as_os_str() == "." {
            let cwd = fs::canonicalize(path).map_err(|e| anyhow!("resolve .: {e}"))?;
            let name = match cwd.file_name() {
                Some(n) => utf8(n, &cwd)?,
                None => "/".to_string(),
            };
            (cwd, name)
        } else {
            let name = match path.components().next_back() {
                Some(Component::Normal(n)) => utf8(n, path)?,
                Some(Component::ParentDir) => "..".into(),
                Some(Component::CurDir) | None => ".".into(),
                Some(Component::RootDir) | Some(Component::Prefix(_)) => "/".into(),
            };
            (path.to_owned(), name)
        };
        self.walk(&path, name, hidden)
    }

    fn walk(&mut self, path: &Path, name: String, hidden: bool) -> Result<()> {
        let meta =
            fs::symlink_metadata(path).map_err(|e| anyhow!("lstat {}: {e}", path.display()))?;
        let ft = meta.file_type();
        if ft.is_symlink() {
            let target =
                fs::read_link(path).map_err(|e| anyhow!("readlink {}: {e}", path.display()))?;
            self.parts
                .push(Part::Symlink(name, target.to_string_lossy().into_owned()));
        } else if ft.is_dir() {
            self.parts.push(Part::Dir(name.clone()));
            let mut entries = Vec::new();
            for e in fs::read_dir(path).map_err(|e| anyhow!("open {}: {e}", path.display()))? {
                entries.push(
                    e.map_err(|e| anyhow!("readdir {}: {e}", path.display()))?
                        .file_name(),
                );
            }
            entries.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
            for os_name in entries {
                if !hidden && os_name.as_encoded_bytes().first() == Some(&b'.') {
                    continue;
                }
                let child = path.join(&os_name);
                let child_name = format!("{name}/{}", utf8(&os_name, &child)?);
                self.walk(&child, child_name, hidden)?;
            }
        } else if ft.is_file() {
            self.parts.push(Part::File(name, path.to_owned()));
        } else {
            bail!("unrecognized file type for {}", path.display());
        }
        Ok(())
    }

    /// Writes the whole body.
    pub(crate) fn write_to(self, w: &mut impl Write) -> io::Result<()> {
        let mut first = true;
        for part in self.parts {
            let (name, ctype) = match &part {
                Part::Dir(n) => (n, "application/x-directory"),
                Part::Symlink(n, _) => (n, "application/symlink"),
                Part::File(n, _) | Part::Reader(n, _) => (n, "application/octet-stream"),
            };
            let sep = if first { "" } else { "\r\n" };
            first = false;
            write!(
                w,
                "{sep}--{}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: {ctype}\r\n\r\n",
                self.boundary,
                query_escape(name)
            )?;
            match part {
                Part::Dir(_) => {}
                Part::Symlink(_, target) => w.write_all(target.as_bytes())?,
                Part::File(_, path) => {
                    let mut f = File::open(&path).map_err(|e| {
                        io::Error::other(SourceError(format!("open {}: {e}", path.display())))
                    })?;
                    copy_source(&mut f, w, &|| format!("read {}", path.display()))?;
                }
                Part::Reader(_, mut r) => copy_source(&mut r, w, &|| "read stdin".into())?,
            }
        }
        if first {
            write!(w, "--{}--\r\n", self.boundary)
        } else {
            write!(w, "\r\n--{}--\r\n", self.boundary)
        }
    }
}

fn utf8(name: &std::ffi::OsStr, path: &Path) -> Result<String> {
    name.to_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("{}: file names must be valid UTF-8", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go_query_escape() {
        assert_eq!(query_escape("a b/ü~.-_"), "a+b%2F%C3%BC~.-_");
    }

    #[test]
    fn multipart_layout() {
        let mut m = Multipart::new();
        m.boundary = "B".into();
        m.parts.push(Part::Dir("d".into()));
        m.reader("d/x y", &b"hi"[..]);
        let mut out = Vec::new();
        m.write_to(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d\"\r\nContent-Type: application/x-directory\r\n\r\n\
             \r\n--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d%2Fx+y\"\r\nContent-Type: application/octet-stream\r\n\r\nhi\
             \r\n--B--\r\n"
        );
    }

    /// Serves one canned HTTP answer on a loopback port; returns the client
    /// and a handle yielding the request head the client sent.
    fn fake_daemon(answer: &'static str) -> (Client, std::thread::JoinHandle<String>) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let ma = ferrite_http::addr::from_socket(&l.local_addr().unwrap());
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
            (&s).write_all(answer.as_bytes()).unwrap();
            head
        });
        (Client::new(&ma).unwrap(), h)
    }

    #[test]
    fn stream_error_trailer_fails_the_read_after_the_data() {
        let (c, h) = fake_daemon(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx-stream-output: 1\r\n\r\n\
             5\r\nhello\r\n0\r\nx-stream-error: block not found\r\n\r\n",
        );
        let mut out = Vec::new();
        let err = c
            .request("cat")
            .arg("a b")
            .opt("length", 5)
            .copy_to(&mut out)
            .unwrap_err();
        assert_eq!(out, b"hello");
        assert_eq!(err.to_string(), "block not found");
        let head = h.join().unwrap();
        assert!(
            head.starts_with("POST /api/v0/cat?arg=a+b&length=5 HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(head.contains("TE: trailers"), "{head}");
    }

    #[test]
    fn error_answers_become_their_message() {
        let (c, _h) = fake_daemon(
            "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 48\r\n\r\n\
             {\"Message\":\"not pinned\",\"Code\":0,\"Type\":\"error\"}",
        );
        let err = c.request("pin/rm").arg("x").stream(|_| Ok(())).unwrap_err();
        assert_eq!(err.to_string(), "not pinned");
    }

    #[test]
    fn ndjson_objects_in_order() {
        let (c, _h) = fake_daemon(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
             f\r\n{\"Ref\":\"a\"}\n{\"R\r\n9\r\nef\":\"b\"}\n\r\n0\r\n\r\n",
        );
        let mut refs = Vec::new();
        c.request("refs")
            .items(|r: ferrite_http::rpc::refs::RefLine| {
                refs.push(r.r#ref);
                Ok(())
            })
            .unwrap();
        assert_eq!(refs, ["a", "b"]);
    }

    #[test]
    fn chunked_writer_frames() {
        let mut out = Vec::new();
        let mut w = ChunkedWriter::new(&mut out);
        w.write_all(b"hello").unwrap();
        w.finish().unwrap();
        assert_eq!(out, b"5\r\nhello\r\n0\r\n\r\n");
    }
}
