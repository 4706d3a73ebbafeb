//! `cat`, `get` (a tar stream, optionally gzipped) and `ls`.

use super::block::CidEnc;
use super::{ApiError, Route};
use crate::command::{
    nullable, parse_bool, required, route, route_download, yes, Answer, Command, Ctx, Download,
    Emit, Encoding,
};
use ferrite_node::{IpfsPath, LsEntry};
use ferrite_unixfs::export::DirEntryKind;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::io;
use std::io::Write;

/// The commands of this module.
pub(super) const COMMANDS: &[Route] = &[
    route_download::<Cat>(),
    route_download::<Get>(),
    route::<Ls>(),
];

/// Print the contents of a file.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite cat QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\n",
    "  ferrite cat -o 100 -l 64 /ipfs/bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi/readme.md",
))]
pub struct Cat {
    /// Paths of files to print (the API prints the first).
    #[arg(required = true)]
    #[serde(rename = "arg", default)]
    pub paths: Vec<String>,
    /// Byte offset to start at.
    #[arg(short, long, default_value_t = 0, allow_negative_numbers = true)]
    #[serde(default)]
    pub offset: i64,
    /// Maximum number of bytes to print.
    #[arg(short, long, allow_negative_numbers = true)]
    #[serde(default)]
    pub length: Option<i64>,
    /// Show a progress bar (default: when stderr is a terminal and stdout is not).
    #[arg(short, long, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    #[serde(skip)]
    pub progress: Option<bool>,
}

impl Download for Cat {
    const PATH: &'static str = "cat";
    const CONTENT_TYPE: &'static str = "text/plain";

    fn open(self, ctx: &Ctx) -> Result<Answer, ApiError> {
        required(&self.paths, "ipfs-path")?;
        let path = IpfsPath::parse(&self.paths[0])?;
        if self.offset < 0 {
            return Err(ApiError::client(format!(
                "cannot specify negative offset: {}",
                self.offset
            )));
        }
        if let Some(l) = self.length.filter(|l| *l < 0) {
            return Err(ApiError::client(format!(
                "cannot specify negative length: {l}"
            )));
        }
        let length = self.length.map(|l| l as u64);
        let (len, mut reader) = ctx.node()?.cat(&path, self.offset as u64, length)?;
        Ok(Answer {
            len: Some(len),
            content_type: None,
            write: Box::new(move |w| {
                io::copy(&mut reader, w)?;
                Ok(())
            }),
        })
    }
}

/// Download a file or folder to the local file system.
///
/// The answer is a tar stream (the CLI unpacks it unless `archive`),
/// gzipped with `compress`; a file with `compress` and without `archive` is
/// sent as plain gzip, as Kubo does. `output` is the client's business.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite get -o hello.txt QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\n",
    "  ferrite get -a -o site.tar bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
))]
pub struct Get {
    /// Path of the file or folder.
    #[arg(required = true, num_args = 1, value_name = "PATH")]
    #[serde(rename = "arg", default)]
    pub path: Vec<String>,
    /// Where to write it (default: the CID or the path's last name).
    #[arg(short, long)]
    #[serde(skip)]
    pub output: Option<std::path::PathBuf>,
    /// Write a tar archive.
    #[arg(short, long)]
    #[serde(default)]
    pub archive: bool,
    /// Compress the answer with gzip (API only).
    #[arg(skip)]
    #[serde(default)]
    pub compress: bool,
    /// The gzip level, 1 to 9 (API only).
    #[arg(skip)]
    #[serde(rename = "compression-level", default)]
    pub compression_level: Option<i64>,
    /// Show a progress bar (default: when stderr is a terminal).
    #[arg(short, long, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    #[serde(skip)]
    pub progress: Option<bool>,
}

impl Get {
    /// The name the answer's top entry gets: the path's last name, or its CID.
    pub fn name(&self) -> Result<String, ApiError> {
        required(&self.path, "ipfs-path")?;
        let path = IpfsPath::parse(&self.path[0])?;
        Ok(path
            .segments
            .last()
            .cloned()
            .unwrap_or_else(|| path.root.to_string()))
    }

    /// Kubo's `compress`/`compression-level` pair: `None` for no compression.
    fn level(&self) -> Result<Option<Compression>, ApiError> {
        if !self.compress {
            return Ok(None);
        }
        match self.compression_level {
            None => Ok(Some(Compression::default())),
            Some(l @ 1..=9) => Ok(Some(Compression::new(l as u32))),
            Some(_) => Err(ApiError::client(
                "compression level must be between 1 and 9",
            )),
        }
    }
}

impl Download for Get {
    const PATH: &'static str = "get";
    const CONTENT_TYPE: &'static str = "application/x-tar";

    fn open(self, ctx: &Ctx) -> Result<Answer, ApiError> {
        let name = self.name()?;
        let path = IpfsPath::parse(&self.path[0])?;
        let level = self.level()?;
        let node = ctx.node()?.clone();
        let entry = node.stat(&path)?;
        let is_dir = entry.kind.is_dir();
        if level.is_some() && !self.archive && is_dir {
            // Kubo: a folder can only be compressed as an archive.
            return Err(ApiError::client("file is not regular"));
        }
        let archive = self.archive;
        let len = if is_dir {
            entry.cumulative_size
        } else {
            entry.size
        };
        Ok(Answer {
            len: Some(len),
            content_type: level.map(|_| "application/gzip"),
            write: Box::new(move |w| {
                match level {
                    None => node.get_tar(&path, &name, w, &mut |_| {})?,
                    Some(level) if archive => {
                        let mut gz = GzEncoder::new(w, level);
                        node.get_tar(&path, &name, &mut gz, &mut |_| {})?;
                        gz.finish()?;
                    }
                    Some(level) => {
                        let (_, mut reader) = node.cat(&path, 0, None)?;
                        let mut gz = GzEncoder::new(w, level);
                        io::copy(&mut reader, &mut gz)?;
                        gz.finish()?.flush()?;
                    }
                }
                Ok(())
            }),
        })
    }
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
