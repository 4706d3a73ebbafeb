//! `cat`, `get` (a tar stream, optionally gzipped) and `ls`.

use super::block::CidEnc;
use super::{blocking, raw_stream, ApiError, Reply, Req, Route};
use crate::body::blocking_stream;
use crate::command::{nullable, parse_bool, required, route, yes, Command, Ctx, Emit, Encoding};
use ferrite_node::{IpfsPath, LsEntry, Node};
use ferrite_unixfs::export::DirEntryKind;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::io;
use std::io::Write;

/// The commands of this module.
pub(super) const COMMANDS: &[Route] = &[
    ("cat", |n, r| Box::pin(cat(n, r))),
    ("get", |n, r| Box::pin(get(n, r))),
    route::<Ls>(),
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

/// List the links of a folder or file.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite ls bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi\n",
    "  ferrite ls -v --size=false /ipfs/bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi/docs",
))]
pub struct Ls {
    /// Paths of folders to list.
    #[arg(required = true)]
    #[serde(rename = "arg", default)]
    pub paths: Vec<String>,
    /// Print a header line.
    #[arg(short = 'v', long)]
    #[serde(default)]
    pub headers: bool,
    /// Print sizes.
    #[arg(short, long, default_value = "true", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    #[serde(default = "yes")]
    pub size: bool,
    /// Find each link's type (folder, file, symlink).
    #[arg(long = "resolve-type", default_value = "true", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    #[serde(rename = "resolve-type", default = "yes")]
    pub resolve_type: bool,
    /// Send one object per link as it is found.
    #[arg(short = 's', long)]
    #[serde(default)]
    pub stream: bool,
    /// The path whose heading was printed last.
    #[arg(skip)]
    #[serde(skip)]
    printed: RefCell<Option<String>>,
}

/// `{"Objects":[…]}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct LsOutput {
    /// One per path (with `stream`, one per link).
    #[serde(rename = "Objects", default, deserialize_with = "nullable")]
    pub objects: Vec<LsObject>,
}

/// One path as given and its links.
#[derive(Debug, Serialize, Deserialize)]
pub struct LsObject {
    /// The path as given.
    #[serde(rename = "Hash")]
    pub hash: String,
    /// Its links.
    #[serde(rename = "Links", default, deserialize_with = "nullable")]
    pub links: Vec<LsLink>,
}

/// One link, Kubo's `LsLink`.
#[derive(Debug, Serialize, Deserialize)]
pub struct LsLink {
    /// Its name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Its CID.
    #[serde(rename = "Hash")]
    pub hash: String,
    /// File size (0 for folders and symlinks).
    #[serde(rename = "Size")]
    pub size: u64,
    /// 0 unknown, 1 folder, 2 file, 4 symlink, 5 HAMT shard.
    #[serde(rename = "Type")]
    pub kind: u8,
    /// A symlink's target.
    #[serde(rename = "Target", default)]
    pub target: String,
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

impl Command for Ls {
    const PATH: &'static str = "ls";
    type Item = LsOutput;

    fn encoding(&self) -> Encoding {
        Encoding::stream_if(self.stream)
    }

    /// Every path is listed before anything is sent, unless `stream`; then
    /// the first is, so a bad one is a plain error.
    fn run(&self, ctx: &Ctx, emit: Emit<'_, LsOutput>) -> Result<(), ApiError> {
        required(&self.paths, "ipfs-path")?;
        let node = ctx.node()?;
        // Either option makes Kubo load each child; `size` alone only
        // changes a CLI's text.
        let resolve = self.resolve_type || self.size;
        let paths = self
            .paths
            .iter()
            .map(|a| Ok((a, IpfsPath::parse(a)?)))
            .collect::<Result<Vec<_>, ApiError>>()?;
        let mut objects = Vec::new();
        for (arg, path) in paths {
            let links = node.ls(&path)?;
            if !self.stream {
                objects.push(LsObject {
                    hash: arg.clone(),
                    links: links
                        .into_iter()
                        .map(|e| LsLink::new(e, ctx.cids, resolve))
                        .collect(),
                });
                continue;
            }
            for e in links {
                emit(LsOutput {
                    objects: vec![LsObject {
                        hash: arg.clone(),
                        links: vec![LsLink::new(e, ctx.cids, resolve)],
                    }],
                })?;
            }
        }
        if !self.stream {
            emit(LsOutput { objects })?;
        }
        Ok(())
    }

    /// Kubo's text: with several paths a `<path>:` heading each; with
    /// `--size` the size column (`-` for folders).
    fn text(&self, item: &LsOutput, out: &mut dyn Write) -> io::Result<()> {
        for obj in &item.objects {
            let mut printed = self.printed.borrow_mut();
            if printed.as_deref() != Some(obj.hash.as_str()) {
                if self.paths.len() > 1 {
                    if printed.is_some() {
                        writeln!(out)?;
                    }
                    writeln!(out, "{}:", obj.hash)?;
                }
                if self.headers {
                    writeln!(out, "Hash\tSize\tName")?;
                }
                *printed = Some(obj.hash.clone());
            }
            for l in &obj.links {
                let dir = l.kind == 1 || l.kind == 5;
                let name = if dir {
                    format!("{}/", l.name)
                } else {
                    l.name.clone()
                };
                match (self.size, dir) {
                    (true, true) => writeln!(out, "{} - {name}", l.hash)?,
                    (true, false) => writeln!(out, "{} {} {name}", l.hash, l.size)?,
                    (false, _) => writeln!(out, "{} {name}", l.hash)?,
                }
            }
        }
        Ok(())
    }
}
