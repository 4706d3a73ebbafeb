//! `cat`, `get` (a tar stream, optionally gzipped) and `ls`.

use super::block::CidEnc;
use super::{blocking, json, ndjson_stream, raw_stream, ApiError, Command, Reply, Req};
use crate::body::blocking_stream;
use ferrite_node::{IpfsPath, LsEntry, Node};
use ferrite_unixfs::export::DirEntryKind;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;

/// The commands of this module.
pub(super) const COMMANDS: &[Command] = &[
    ("cat", |n, r| Box::pin(cat(n, r))),
    ("get", |n, r| Box::pin(get(n, r))),
    ("ls", |n, r| Box::pin(ls(n, r))),
];

fn path_arg(req: &Req, i: usize) -> Result<IpfsPath, ApiError> {
    Ok(IpfsPath::parse(req.arg(i, "ipfs-path")?)?)
}

/// `/api/v0/cat?arg=PATH&offset=N&length=N`.
pub(super) async fn cat(node: Node, req: Req) -> Reply {
    let path = path_arg(&req, 0)?;
    let offset = req.i64("offset")?.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::client(format!(
            "cannot specify negative offset: {offset}"
        )));
    }
    let length = req.i64("length")?;
    if let Some(l) = length {
        if l < 0 {
            return Err(ApiError::client(format!(
                "cannot specify negative length: {l}"
            )));
        }
    }
    let (len, mut reader) = {
        let node = node.clone();
        blocking(move || Ok(node.cat(&path, offset as u64, length.map(|l| l as u64))?)).await?
    };
    let body = blocking_stream(move |w| std::io::copy(&mut reader, w).map(|_| ()));
    Ok(raw_stream(body, "text/plain", Some(len)))
}

/// Kubo's `compress`/`compression-level` pair: `None` for no compression.
fn compression(req: &Req) -> Result<Option<Compression>, ApiError> {
    if !req.bool("compress", false)? {
        return Ok(None);
    }
    match req.i64("compression-level")? {
        None => Ok(Some(Compression::default())),
        Some(l @ 1..=9) => Ok(Some(Compression::new(l as u32))),
        Some(_) => Err(ApiError::client(
            "compression level must be between 1 and 9",
        )),
    }
}

/// `/api/v0/get?arg=PATH[&archive][&compress][&compression-level=N]`: the
/// file or folder as a tar stream (the client extracts it unless `archive`),
/// gzipped with `compress`; a file with `compress` and without `archive` is
/// sent as plain gzip, as Kubo does. `output` is the client's business.
pub(super) async fn get(node: Node, req: Req) -> Reply {
    let path = path_arg(&req, 0)?;
    let level = compression(&req)?;
    let archive = req.bool("archive", false)?;
    let name = path
        .segments
        .last()
        .cloned()
        .unwrap_or_else(|| path.root.to_string());
    let entry = {
        let (node, path) = (node.clone(), path.clone());
        blocking(move || Ok(node.stat(&path)?)).await?
    };
    let is_dir = entry.kind.is_dir();
    let size = if is_dir {
        entry.cumulative_size
    } else {
        entry.size
    };
    if level.is_some() && !archive && is_dir {
        // Kubo: a folder can only be compressed as an archive.
        return Err(ApiError::client("file is not regular"));
    }
    let body = blocking_stream(move |w| -> Result<(), ferrite_node::Error> {
        match level {
            None => node.get_tar(&path, &name, w, &mut |_| {}),
            Some(level) if archive => {
                let mut gz = GzEncoder::new(w, level);
                node.get_tar(&path, &name, &mut gz, &mut |_| {})?;
                gz.finish()?;
                Ok(())
            }
            Some(level) => {
                let (_, mut reader) = node.cat(&path, 0, None)?;
                let mut gz = GzEncoder::new(w, level);
                std::io::copy(&mut reader, &mut gz)?;
                gz.finish()?.flush()?;
                Ok(())
            }
        }
    });
    let content_type = if level.is_some() {
        "application/gzip"
    } else {
        "application/x-tar"
    };
    Ok(raw_stream(body, content_type, Some(size)))
}

/// One link of `ls`, as Kubo's `LsLink`.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct LsLink {
    name: String,
    hash: String,
    size: u64,
    #[serde(rename = "Type")]
    kind: u8,
    target: String,
}

/// One object of `ls`: the path as given and its links.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct LsObject<'a> {
    hash: &'a str,
    links: Vec<LsLink>,
}

impl LsLink {
    /// Kubo's link (coreapi `processLink`): raw leaves are files sized by
    /// their link; resolved dag-pb children get their UnixFS type (1 folder,
    /// 2 file, 4 symlink) and file size (0 for folders and symlinks);
    /// unresolved ones type 0 and size 0.
    fn new(e: LsEntry, enc: CidEnc, resolve: bool) -> Self {
        let (kind, size) = if e.cid.codec() == ferrite_ipld::codecs::RAW {
            (2, e.size)
        } else if !resolve {
            (0, 0)
        } else {
            match e.kind {
                DirEntryKind::Directory => (1, 0),
                DirEntryKind::File => (2, e.file_size.unwrap_or(0)),
                DirEntryKind::Symlink => (4, 0),
                DirEntryKind::Unknown => (0, 0),
            }
        };
        let target = if resolve { e.target } else { None };
        LsLink {
            name: e.name,
            hash: enc.encode(&e.cid),
            size,
            kind,
            target: target.unwrap_or_default(),
        }
    }
}

/// `/api/v0/ls?arg=PATH…[&resolve-type][&size][&stream]`:
/// `{"Objects":[{"Hash","Links":[…]}]}`, or with `stream` one such object
/// per link.
pub(super) async fn ls(node: Node, req: Req) -> Reply {
    if req.args.is_empty() {
        return Err(ApiError::client("argument \"ipfs-path\" is required"));
    }
    // Either option makes Kubo load each child; `size` alone only changes
    // a CLI's text.
    let (resolve_type, size) = (req.bool("resolve-type", true)?, req.bool("size", true)?);
    let resolve = resolve_type || size;
    let stream = req.bool("stream", false)?;
    let enc = CidEnc::from_req(&req)?;
    let paths: Vec<(String, IpfsPath)> = req
        .args
        .iter()
        .map(|a| Ok((a.clone(), IpfsPath::parse(a)?)))
        .collect::<Result<_, ApiError>>()?;
    if !stream {
        let objects = blocking(move || {
            let mut objects = Vec::new();
            for (arg, path) in &paths {
                let links = node
                    .ls(path)?
                    .into_iter()
                    .map(|e| LsLink::new(e, enc, resolve))
                    .collect();
                objects.push(serde_json::json!(LsObject { hash: arg, links }));
            }
            Ok(objects)
        })
        .await?;
        return Ok(json(&serde_json::json!({ "Objects": objects })));
    }
    // Fail before the stream starts if the first path is bad.
    let first = {
        let (node, path) = (node.clone(), paths[0].1.clone());
        blocking(move || Ok(node.ls(&path)?)).await?
    };
    let body = blocking_stream(move |w| -> Result<(), ferrite_node::Error> {
        let mut first = Some(first);
        for (arg, path) in &paths {
            let entries = match first.take() {
                Some(e) => e,
                None => node.ls(path)?,
            };
            for e in entries {
                let obj = LsObject {
                    hash: arg,
                    links: vec![LsLink::new(e, enc, resolve)],
                };
                serde_json::to_writer(&mut *w, &serde_json::json!({ "Objects": [obj] }))
                    .map_err(std::io::Error::from)?;
                w.write_all(b"\n")?;
            }
        }
        Ok(())
    });
    Ok(ndjson_stream(body))
}
