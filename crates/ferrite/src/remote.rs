//! The client side of the RPC API: when a daemon holds the repo, every
//! command is a `POST /api/v0/<cmd>` to it (go-ipfs-cmds conventions), sent
//! with [`ferrite_http::client`].

use anyhow::{anyhow, bail, Context, Result};
use ferrite_http::client::{self as http, Method, Response, Upload};
use ferrite_http::rpc::ErrorBody;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Component, Path, PathBuf};
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
    http: http::Client,
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
    if TcpStream::connect_timeout(&client.http.addr(), Duration::from_secs(2)).is_ok() {
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
            http: http::Client::new(addr)?,
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
    /// Adds query pairs (a typed request's wire form).
    pub(crate) fn pairs(mut self, pairs: Vec<(String, String)>) -> Self {
        self.query.extend(pairs);
        self
    }

    /// Attaches a multipart upload.
    pub(crate) fn body(mut self, m: Multipart) -> Self {
        self.body = Some(m);
        self
    }

    /// Sends the request; a non-200 answer becomes its `Message` as an error.
    pub(crate) fn send(self) -> Result<Response> {
        let ma = &self.client.multiaddr;
        let query: Vec<String> = self
            .query
            .iter()
            .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
            .collect();
        let mut target = format!("/api/v0/{}", self.cmd);
        if !query.is_empty() {
            target.push('?');
            target.push_str(&query.join("&"));
        }
        let body = match self.body {
            Some(m) => Upload::Stream(
                format!("multipart/form-data; boundary={}", m.boundary),
                Box::new(move |w| m.write_to(w)),
            ),
            None => Upload::Empty,
        };
        let resp = self
            .client
            .http
            .send(Method::POST, &target, body)
            .map_err(|e| match e {
                http::ClientError::Source(e) => anyhow!(e),
                e => anyhow!("cannot reach the ferrite daemon at {ma}: {e}"),
            })?;
        if resp.status != 200 {
            let status = resp.status.as_u16();
            let text = resp.body.text()?;
            let msg = serde_json::from_str::<ErrorBody>(&text)
                .ok()
                .map(|e| e.message);
            match msg {
                Some(m) => bail!("{m}"),
                None if status == 404 => bail!(
                    "the daemon at {ma} does not support /api/v0/{} ({})",
                    self.cmd,
                    text.trim()
                ),
                None => bail!("daemon answered {status}: {}", text.trim()),
            }
        }
        Ok(resp)
    }

    /// Sends and feeds every object of the (NDJSON) answer to `f`, decoded
    /// as `T` (a missing or renamed field is an error); an error object in
    /// the stream becomes an error.
    pub(crate) fn items<T: serde::de::DeserializeOwned>(
        self,
        mut f: impl FnMut(T) -> Result<()>,
    ) -> Result<()> {
        let cmd = self.cmd.clone();
        let mut r = BufReader::new(self.send()?.body);
        let mut line = Vec::new();
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
            match serde_json::from_str(text) {
                Ok(item) => f(item)?,
                Err(e) => match serde_json::from_str::<ErrorBody>(text) {
                    Ok(err) if err.kind == "error" => bail!("{}", err.message),
                    _ => bail!("the daemon's answer to {cmd} does not decode ({e}): {text}"),
                },
            }
        }
    }
}

/// An upload's source (a local file, stdin) failed: never of the kind a
/// failed write to the connection has, so the client tells them apart.
fn source_error(e: io::Error, what: String) -> io::Error {
    let kind = match e.kind() {
        io::ErrorKind::BrokenPipe => io::ErrorKind::Other,
        k => k,
    };
    io::Error::new(kind, format!("{what}: {e}"))
}

/// Copies an upload source into the body.
fn copy_source(r: &mut dyn Read, w: &mut dyn Write, what: &dyn Fn() -> String) -> io::Result<()> {
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(source_error(e, what())),
        };
        w.write_all(&buf[..n])?;
    }
}

/// A file read in-process: its read errors name it, as the upload's do.
struct LocalFile {
    file: File,
    path: PathBuf,
}

impl Read for LocalFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file
            .read(buf)
            .map_err(|e| source_error(e, format!("read {}", self.path.display())))
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

    /// What a command uploads: its paths (folders whole with `tree`), or
    /// stdin when there are none.
    pub(crate) fn upload(up: &ferrite_http::command::Upload) -> Result<Self> {
        let mut body = Multipart::new();
        if up.paths.is_empty() {
            body.reader(up.stdin_name.as_deref().unwrap_or(""), std::io::stdin());
        }
        for p in &up.paths {
            if up.tree {
                body.add_path(p, up.hidden)?;
            } else {
                body.file(p)
                    .map_err(|e| anyhow!("cannot read {}: {e}", p.display()))?;
            }
        }
        Ok(body)
    }

    /// The same files as a command reads them in-process: each file is
    /// opened when its entry is taken.
    pub(crate) fn into_entries(self) -> ferrite_http::command::Files {
        use ferrite_node::{AddEntry, AddEntryKind};
        Box::new(self.parts.into_iter().map(|part| {
            let (path, kind) = match part {
                Part::Dir(n) => (n, AddEntryKind::Dir),
                Part::Symlink(n, target) => (n, AddEntryKind::Symlink(target)),
                Part::Reader(n, r) => (n, AddEntryKind::File(r)),
                Part::File(n, path) => {
                    let file = File::open(&path)
                        .map_err(|e| source_error(e, format!("open {}", path.display())))?;
                    (n, AddEntryKind::File(Box::new(LocalFile { file, path })))
                }
            };
            Ok(AddEntry { path, kind })
        }))
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
    pub(crate) fn write_to(self, w: &mut dyn Write) -> io::Result<()> {
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
                    let mut f = File::open(&path)
                        .map_err(|e| source_error(e, format!("open {}", path.display())))?;
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
    fn error_answers_become_their_message() {
        let (c, _h) = fake_daemon(
            "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 48\r\n\r\n\
             {\"Message\":\"not pinned\",\"Code\":0,\"Type\":\"error\"}",
        );
        let err = c
            .request("pin/rm")
            .pairs(vec![("arg".into(), "x".into())])
            .items(|_: serde_json::Value| Ok(()))
            .unwrap_err();
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
}
