//! `dag/put`, `dag/get`, `dag/resolve`, `dag/stat`, `dag/import`,
//! `dag/export`, with Kubo's JSON shapes and content types.

use super::block::{default_hash, parse_cid_arg, read_input};
use super::{ApiError, Route};
use crate::command::{
    parse_bool, required, route, route_download, Answer, Command, Ctx, Download, Emit, Encoding,
    Files, Link, Upload,
};
use ferrite_ipld::dag::{output_codec_from_name, PutOptions};
use ferrite_ipld::Cid;
use ferrite_node::{AddEntry, AddEntryKind, CarInputs, DagImportOptions};
use serde::{Deserialize, Serialize};

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::path::PathBuf;

/// The commands of this module.
pub(super) const COMMANDS: &[Route] = &[
    route::<PutNode>(),
    route_download::<Get>(),
    route::<Resolve>(),
    route::<Stat>(),
    route::<Import>(),
    route_download::<Export>(),
];

fn cid_link(c: &Cid) -> Link {
    Link { cid: c.to_string() }
}

/// `dag put`'s answer per node: `{"Cid":{"/":…}}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Put {
    /// The stored node.
    #[serde(rename = "Cid")]
    pub cid: Link,
}

/// One object of `dag import`'s answer.
#[derive(Debug, Serialize, Deserialize)]
pub enum ImportEvent {
    /// A root named in a CAR header, and why it could not be pinned ("" if
    /// pinned).
    Root {
        /// The root.
        #[serde(rename = "Cid")]
        cid: Link,
        /// The pin error.
        #[serde(rename = "PinErrorMsg", default)]
        pin_error: String,
    },
    /// The counts (with `stats`).
    Stats {
        /// Blocks read.
        #[serde(rename = "BlockCount")]
        blocks: u64,
        /// Their bytes.
        #[serde(rename = "BlockBytesCount")]
        bytes: u64,
    },
}

/// Store a DAG node read from files or stdin.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite dag put node.json\n",
    "  ferrite dag put --store-codec dag-json --pin=true node.json",
))]
pub struct PutNode {
    /// Files holding the node; stdin when none.
    #[serde(skip)]
    pub files: Vec<PathBuf>,
    /// Codec of the stored node.
    #[arg(long = "store-codec", default_value = "dag-cbor")]
    #[serde(rename = "store-codec", default = "dag_cbor")]
    pub store_codec: String,
    /// Codec of the input.
    #[arg(long = "input-codec", default_value = "dag-json")]
    #[serde(rename = "input-codec", default = "dag_json")]
    pub input_codec: String,
    /// Hash function (default: Import.HashFunction, else sha2-256).
    #[arg(long)]
    #[serde(default)]
    pub hash: Option<String>,
    /// Pin the node.
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    #[serde(default)]
    pub pin: bool,
    /// Allow blocks over the block size limit (2 MiB).
    #[arg(long = "allow-big-block")]
    #[serde(rename = "allow-big-block", default)]
    pub allow_big_block: bool,
}

fn dag_cbor() -> String {
    "dag-cbor".into()
}

fn dag_json() -> String {
    "dag-json".into()
}

impl Command for PutNode {
    const PATH: &'static str = "dag/put";
    type Item = Put;
    const FILES: Option<&'static str> = Some("object data");

    fn upload(&self) -> Upload {
        Upload::files(&self.files)
    }

    fn encoding(&self) -> Encoding {
        Encoding::Stream
    }

    fn run(&self, ctx: &Ctx, emit: Emit<'_, Put>) -> Result<(), ApiError> {
        let node = ctx.node()?;
        // Kubo: no `hash` means `Import.HashFunction`, then sha2-256.
        let hash = match self.hash.as_deref().filter(|h| !h.is_empty()) {
            Some(h) => h.to_string(),
            None => default_hash(node),
        };
        let mut opts = PutOptions::from_names(&self.input_codec, &self.store_codec, &hash)
            .map_err(internal)?;
        opts.allow_big_block = self.allow_big_block;
        ctx.each_file("object data", |reader| {
            // The input is the node's text: a few times the block size
            // limit is plenty (the stored block is checked against it).
            let max = (!self.allow_big_block).then_some(4 * ferrite_ipld::MAX_BLOCK_SIZE);
            let data = read_input(reader, max)?;
            if let Some(max) = max.filter(|m| data.len() > *m) {
                return Err(ApiError::client(format!(
                    "dag put input is larger than {max} bytes"
                )));
            }
            let cid = node.dag_put(&data, &opts, self.pin).map_err(internal)?;
            Ok(emit(Put {
                cid: cid_link(&cid),
            })?)
        })
    }

    fn text(&self, p: &Put, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", p.cid.cid)
    }
}

// Kubo reports command failures as plain errors (500), not client errors.
use crate::command::fail as internal;

/// Print a DAG node (or a value inside it).
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite dag get bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua\n",
    "  ferrite dag get --output-codec dag-cbor bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua/links/0",
))]
pub struct Get {
    /// The node's path, e.g. CID/a/b.
    #[arg(value_name = "PATH")]
    #[serde(rename = "arg", default)]
    pub path: Vec<String>,
    /// Codec to print with.
    #[arg(long = "output-codec", default_value = "dag-json")]
    #[serde(rename = "output-codec", default = "dag_json")]
    pub output_codec: String,
}

impl Download for Get {
    const PATH: &'static str = "dag/get";
    /// go-ipfs-cmds' type for readers.
    const CONTENT_TYPE: &'static str = "text/plain";

    fn open(self, ctx: &Ctx) -> Result<Answer, ApiError> {
        required(&self.path, "ref")?;
        let codec = output_codec_from_name(&self.output_codec).map_err(internal)?;
        let data = ctx
            .node()?
            .dag_get(&self.path[0], codec)
            .map_err(internal)?;
        Ok(Answer {
            len: None,
            content_type: None,
            write: Box::new(move |w| Ok(w.write_all(&data)?)),
        })
    }
}

/// Resolve a path to the block it ends in.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(
    after_help = "Examples:\n  ferrite dag resolve bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua/a/b"
)]
pub struct Resolve {
    /// The path.
    #[arg(required = true, value_name = "PATH")]
    #[serde(rename = "arg", default)]
    pub path: Vec<String>,
}

/// `{"Cid":{"/":…},"RemPath":…}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Resolved {
    /// The last block on the path.
    #[serde(rename = "Cid")]
    pub cid: Link,
    /// The rest of the path, inside that block.
    #[serde(rename = "RemPath", default)]
    pub rem_path: String,
}

impl Command for Resolve {
    const PATH: &'static str = "dag/resolve";
    type Item = Resolved;

    fn run(&self, ctx: &Ctx, emit: Emit<'_, Resolved>) -> Result<(), ApiError> {
        required(&self.path, "ref")?;
        let (cid, rest) = ctx.node()?.dag_resolve(&self.path[0]).map_err(internal)?;
        emit(Resolved {
            cid: Link {
                cid: cid.to_string(),
            },
            rem_path: rest,
        })?;
        Ok(())
    }

    fn text(&self, r: &Resolved, out: &mut dyn Write) -> io::Result<()> {
        match r.rem_path.as_str() {
            "" => writeln!(out, "{}", r.cid.cid),
            rest => writeln!(out, "{}/{rest}", r.cid.cid),
        }
    }
}

/// Count the blocks and bytes of DAGs.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite dag stat QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\n",
    "  ferrite dag stat bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua",
))]
pub struct Stat {
    /// Roots.
    #[arg(required = true)]
    #[serde(rename = "arg", default)]
    pub paths: Vec<String>,
    /// Send a summary per visited block (the API's default; the CLI shows
    /// them as a counter).
    #[arg(long, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<bool>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Kubo's `DagStatSummary` as its JSON encoder writes it (zero fields
/// omitted); progress objects carry no `Ratio`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DagStatSummary {
    /// Distinct blocks over all roots.
    #[serde(rename = "UniqueBlocks", default, skip_serializing_if = "is_zero")]
    pub unique_blocks: u64,
    /// Bytes of the distinct blocks.
    #[serde(rename = "TotalSize", default, skip_serializing_if = "is_zero")]
    pub total_size: u64,
    /// Bytes counted more than once.
    #[serde(rename = "SharedSize", default, skip_serializing_if = "is_zero")]
    pub shared_size: u64,
    /// Counted bytes over distinct bytes.
    #[serde(
        rename = "Ratio",
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "go_float32"
    )]
    pub ratio: Option<f32>,
    /// Per root.
    #[serde(rename = "DagStats", default, skip_serializing_if = "Vec::is_empty")]
    pub dags: Vec<DagStat>,
}

/// One root's counts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DagStat {
    /// The root.
    #[serde(rename = "Cid")]
    pub cid: String,
    /// Its bytes.
    #[serde(rename = "Size", default, skip_serializing_if = "is_zero")]
    pub size: u64,
    /// Its blocks.
    #[serde(rename = "NumBlocks", default, skip_serializing_if = "is_zero")]
    pub num_blocks: u64,
}

/// A float32 as Go's JSON encoder prints it: shortest float32 digits, no
/// `.0` on whole numbers.
fn go_float32<S: serde::Serializer>(f: &Option<f32>, s: S) -> Result<S::Ok, S::Error> {
    match f {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => s.serialize_i64(*f as i64),
        Some(f) => s.serialize_f64(f.to_string().parse().unwrap_or(*f as f64)),
        None => s.serialize_none(),
    }
}

impl Command for Stat {
    const PATH: &'static str = "dag/stat";
    type Item = DagStatSummary;

    fn encoding(&self) -> Encoding {
        Encoding::Stream
    }

    /// Every root is resolved before the walk, so a bad path is a plain
    /// error; online, missing blocks are fetched.
    fn run(&self, ctx: &Ctx, emit: Emit<'_, DagStatSummary>) -> Result<(), ApiError> {
        required(&self.paths, "root")?;
        let node = ctx.node()?;
        let progress = self.progress.unwrap_or(true);
        let roots = self
            .paths
            .iter()
            .map(|p| match node.dag_resolve(p).map_err(internal)? {
                (cid, rest) if rest.is_empty() => Ok(cid),
                _ => Err(ApiError::internal(
                    "cannot return size for anything other than a DAG with a root CID",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut s = DagStatSummary::default();
        let mut all: Option<HashSet<Cid>> = (roots.len() > 1).then(HashSet::new);
        let mut redundant = 0;
        for root in &roots {
            s.dags.push(DagStat {
                cid: ctx.cids.encode(root),
                size: 0,
                num_blocks: 0,
            });
            let mut failed = None;
            let walked = node.dag_walk(root, &mut |c, data| {
                let n = data.len() as u64;
                let d = s.dags.last_mut().expect("pushed");
                d.size += n;
                d.num_blocks += 1;
                if all.as_mut().is_none_or(|set| set.insert(*c)) {
                    s.total_size += n;
                }
                redundant += n;
                if progress {
                    if let Err(e) = emit(s.clone()) {
                        failed = Some(e);
                        return Err(io::Error::other("client went away"));
                    }
                }
                Ok(())
            });
            if let Some(e) = failed {
                return Err(e.into());
            }
            walked.map_err(|e| ApiError::internal(format!("error traversing DAG: {e}")))?;
        }
        s.unique_blocks = match &all {
            Some(set) => set.len() as u64,
            None => s.dags.iter().map(|d| d.num_blocks).sum(),
        };
        s.shared_size = redundant.saturating_sub(s.total_size);
        s.ratio =
            Some(redundant as f32 / s.total_size as f32).filter(|r| *r != 0.0 && r.is_finite());
        emit(s)?;
        Ok(())
    }

    /// A progress object (no `Ratio`) while the CLI asked for them.
    fn progress(&self, s: &DagStatSummary) -> Option<(&'static str, u64)> {
        (self.progress == Some(true) && s.ratio.is_none())
            .then(|| ("blocks", s.dags.iter().map(|d| d.num_blocks).sum()))
    }

    fn text(&self, s: &DagStatSummary, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "CID\tBlocks\tSize")?;
        let mut sum = 0;
        for d in &s.dags {
            sum += d.size;
            writeln!(out, "{}\t{}\t{}", d.cid, d.num_blocks, d.size)?;
        }
        writeln!(out, "\nSummary")?;
        writeln!(out, "Total Size: {}", s.total_size)?;
        writeln!(out, "Unique Blocks: {}", s.unique_blocks)?;
        writeln!(out, "Shared Size: {}", sum - s.total_size)?;
        let ratio = if s.total_size == 0 {
            1.0
        } else {
            sum as f64 / s.total_size as f64
        };
        writeln!(out, "Ratio: {ratio:.6}")
    }
}

/// Import blocks from CAR files (stdin when none).
///
/// The files are streamed into one store batch (never held in memory
/// whole); a truncated or corrupt CAR fails the import and stores nothing.
/// Roots are pinned after every file is in, so a DAG may span files; a root
/// whose DAG is incomplete gets a `PinErrorMsg` instead of failing.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite dag import archive.car\n",
    "  ferrite dag import --pin-roots=false --stats a.car b.car",
))]
pub struct Import {
    /// CAR files.
    #[serde(skip)]
    pub files: Vec<PathBuf>,
    /// Pin the roots listed in the CAR headers (default: true).
    #[arg(long = "pin-roots", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    #[serde(rename = "pin-roots", default)]
    pub pin_roots: Option<bool>,
    /// Store the blocks only: implies --pin-roots=false.
    #[arg(long = "local-only")]
    #[serde(rename = "local-only", default)]
    pub local_only: bool,
    /// Print block and byte counts.
    #[arg(long)]
    #[serde(default)]
    pub stats: bool,
    /// Allow blocks over the block size limit (2 MiB).
    #[arg(long = "allow-big-block")]
    #[serde(rename = "allow-big-block", default)]
    pub allow_big_block: bool,
}

impl Import {
    fn pin_roots(&self) -> Result<bool, ApiError> {
        match (self.local_only, self.pin_roots) {
            (true, Some(true)) => Err(ApiError::internal(
                "--local-only implies --pin-roots=false and cannot be combined with --pin-roots=true; please drop one of them",
            )),
            (true, _) => Ok(false),
            (false, p) => Ok(p.unwrap_or(true)),
        }
    }
}

impl Command for Import {
    const PATH: &'static str = "dag/import";
    type Item = ImportEvent;
    const FILES: Option<&'static str> = Some("path");

    fn upload(&self) -> Upload {
        Upload::files(&self.files)
    }

    fn encoding(&self) -> Encoding {
        Encoding::Stream
    }

    fn run(&self, ctx: &Ctx, emit: Emit<'_, ImportEvent>) -> Result<(), ApiError> {
        let pin_roots = self.pin_roots()?;
        let opts = DagImportOptions {
            pin_roots,
            allow_big_block: self.allow_big_block,
        };
        let mut inputs = CarFiles {
            files: ctx.files("path")?,
            current: None,
            count: 0,
        };
        let r = ctx
            .node()?
            .dag_import(&mut inputs, opts)
            // A broken upload is the client's fault; anything else is a
            // command failure (500), as Kubo answers.
            .map_err(|e| super::add::bad_upload_of(&e).unwrap_or_else(|| internal(e)))?;
        if inputs.count == 0 {
            return Err(ApiError::client("file argument 'path' is required"));
        }
        if pin_roots {
            for (cid, outcome) in &r.roots {
                emit(ImportEvent::Root {
                    cid: cid_link(cid),
                    pin_error: outcome.as_ref().err().cloned().unwrap_or_default(),
                })?;
            }
        }
        if self.stats {
            emit(ImportEvent::Stats {
                blocks: r.blocks,
                bytes: r.bytes,
            })?;
        }
        Ok(())
    }

    fn text(&self, ev: &ImportEvent, out: &mut dyn Write) -> io::Result<()> {
        match ev {
            ImportEvent::Root { cid, pin_error } if pin_error.is_empty() => {
                writeln!(out, "Pinned root\t{}\tsuccess", cid.cid)
            }
            ImportEvent::Root { cid, pin_error } => {
                writeln!(out, "Pinned root\t{}\tFAILED: {pin_error}", cid.cid)
            }
            ImportEvent::Stats { blocks, bytes } => {
                writeln!(out, "Imported {blocks} blocks ({bytes} bytes)")
            }
        }
    }

    fn failed(&self, ev: &ImportEvent) -> bool {
        matches!(ev, ImportEvent::Root { pin_error, .. } if !pin_error.is_empty())
    }

    fn failure(&self, _n: usize) -> String {
        "unable to pin all roots".into()
    }
}

/// A command's files as CAR inputs for [`Node::dag_import`](ferrite_node::Node::dag_import):
/// what the CAR reader left of a file is drained before the next (an
/// upload's files arrive one after the other).
struct CarFiles {
    files: Files,
    current: Option<std::io::BufReader<Box<dyn Read + Send>>>,
    count: usize,
}

impl CarInputs for CarFiles {
    fn next_input(&mut self) -> ferrite_node::Result<Option<Box<dyn Read + '_>>> {
        if let Some(mut r) = self.current.take() {
            io::copy(&mut r, &mut io::sink())?;
        }
        loop {
            match self.files.next().transpose()? {
                None => return Ok(None),
                Some(AddEntry {
                    kind: AddEntryKind::File(r),
                    ..
                }) => {
                    self.count += 1;
                    let r = self
                        .current
                        .insert(std::io::BufReader::with_capacity(256 << 10, r));
                    return Ok(Some(Box::new(r)));
                }
                Some(_) => {}
            }
        }
    }
}

/// Write a DAG as a CAR file to stdout.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(
    after_help = "Examples:\n  ferrite dag export bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
)]
pub struct Export {
    /// The root.
    #[arg(value_name = "ROOT")]
    #[serde(rename = "arg", default)]
    pub root: Vec<String>,
}

impl Download for Export {
    const PATH: &'static str = "dag/export";
    const CONTENT_TYPE: &'static str = "application/vnd.ipld.car";

    /// A CARv1 stream; a block missing half-way ends it with a
    /// [`StreamError`](crate::body::StreamError).
    fn open(self, ctx: &Ctx) -> Result<Answer, ApiError> {
        required(&self.root, "root")?;
        let root = parse_cid_arg(&self.root[0])?;
        let node = ctx.node()?.clone();
        // Kubo stats the root first, so a missing root is a plain error.
        node.block_stat(&root).map_err(internal)?;
        Ok(Answer {
            len: None,
            content_type: None,
            write: Box::new(move |w| {
                node.dag_export(&root, w)?;
                Ok(())
            }),
        })
    }
}
