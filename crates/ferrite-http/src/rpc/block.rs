//! `block/put`, `block/get`, `block/stat`, `block/rm` with Kubo's shapes:
//! `{"Key","Size"}` per stored block, raw bytes as
//! `application/vnd.ipld.raw`, and `{"Hash","Error"}` lines for removals.

use super::{ApiError, Route};
pub(super) use crate::command::CidEnc;
use crate::command::{
    parse_bool, required, route, route_download, Answer, Command, Ctx, Download, Emit, Encoding,
    Upload,
};
use ferrite_ipld::{codecs, Cid, HashAlg};
use ferrite_node::{IpfsPath, Node};
use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};
use std::path::PathBuf;

/// The commands of this module.
pub(super) const COMMANDS: &[Route] = &[
    route::<Put>(),
    route_download::<Get>(),
    route::<Stat>(),
    route::<Rm>(),
];

/// Parses a CID argument (`CID` or `/ipfs/CID`, as Kubo's `PathOrCidPath`).
pub(super) fn parse_cid_arg(s: &str) -> Result<Cid, ApiError> {
    let p = IpfsPath::parse(s).map_err(|e| ApiError::internal(e.to_string()))?;
    if !p.segments.is_empty() {
        return Err(ApiError::internal(format!(
            "{s:?}: expected a CID, not a path below one"
        )));
    }
    Ok(p.root)
}

/// The hash `block/put` and `dag/put` use when none is given:
/// `Import.HashFunction`, else sha2-256 (Kubo's rule).
pub(super) fn default_hash(node: &Node) -> String {
    node.config()
        .import()
        .map(|i| i.effective_hash().name().to_string())
        .unwrap_or_else(|_| "sha2-256".into())
}

/// How `block/put` makes CIDs.
struct PutSpec {
    /// CIDv0 (`format=v0`): dag-pb with a 32-byte sha2-256.
    v0: bool,
    codec: u64,
    hash: HashAlg,
    /// Digest length (`mhlen`); -1 or the hash's own length.
    mhlen: i64,
}

impl PutSpec {
    fn cid(&self, data: &[u8]) -> Result<Cid, ApiError> {
        let mh = self.hash.digest(data);
        let full = mh.digest().len();
        if self.mhlen >= 0 && self.mhlen as usize != full {
            // The store verifies every block against its full digest (and
            // `repo verify` rehashes), so truncated multihashes are refused.
            return Err(ApiError::internal(if self.mhlen as usize > full {
                format!(
                    "requested length was too large for digest of type: {}",
                    self.hash.name()
                )
            } else {
                format!(
                    "mhlen {} is not supported: {} digests are stored at their full length ({full})",
                    self.mhlen,
                    self.hash.name()
                )
            }));
        }
        if self.v0 {
            return Cid::new_v0(mh).map_err(|_| {
                ApiError::internal("CIDv0 needs a full-length sha2-256 multihash".to_string())
            });
        }
        Ok(Cid::new_v1(self.codec, mh))
    }
}

/// Store files (or stdin) as blocks and print their CIDs.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite block put hello.txt\n",
    "  ferrite block put --cid-codec dag-cbor --pin=true node.cbor",
))]
pub struct Put {
    /// Files to store; stdin when none.
    #[serde(skip)]
    pub files: Vec<PathBuf>,
    /// Multicodec of the CID: raw, dag-pb, dag-cbor, dag-json.
    #[arg(long = "cid-codec", default_value = "raw")]
    #[serde(rename = "cid-codec", default = "raw")]
    pub cid_codec: String,
    /// Hash function (default: Import.HashFunction, else sha2-256).
    #[arg(long)]
    #[serde(default)]
    pub mhtype: Option<String>,
    /// Digest length (-1: the hash's own).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    #[serde(default = "minus_one")]
    pub mhlen: i64,
    /// Deprecated: v0, protobuf, cbor or a codec name (use --cid-codec).
    #[arg(long, hide = true)]
    #[serde(default)]
    pub format: Option<String>,
    /// Pin the new blocks.
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    #[serde(default)]
    pub pin: bool,
    /// Store blocks over the block size limit (2 MiB) too.
    #[arg(long = "allow-big-block")]
    #[serde(rename = "allow-big-block", default)]
    pub allow_big_block: bool,
}

fn raw() -> String {
    "raw".into()
}

fn minus_one() -> i64 {
    -1
}

impl Put {
    /// How CIDs are made, from the options (Kubo's checks and messages).
    fn spec(&self, node: &Node) -> Result<PutSpec, ApiError> {
        let hash_name = match self.mhtype.as_deref().filter(|s| !s.is_empty()) {
            Some(h) => h.to_string(),
            None => default_hash(node),
        };
        let hash = HashAlg::from_name(&hash_name).map_err(|_| {
            ApiError::internal(format!("unrecognized multihash function: {hash_name}"))
        })?;
        let codec_of =
            |n: &str| ferrite_ipld::codec::codec_from_name(n).map_err(crate::command::fail);
        let (v0, codec) = match self.format.as_deref().filter(|f| !f.is_empty()) {
            Some(_) if !self.cid_codec.is_empty() && self.cid_codec != "raw" => {
                return Err(ApiError::internal(
                    "unable to use \"format\" (deprecated) and a custom \"cid-codec\" at the same time",
                ))
            }
            Some("v0" | "protobuf") => (true, codecs::DAG_PB),
            Some("cbor") => (false, codecs::DAG_CBOR),
            Some(other) => (false, codec_of(other)?),
            None if self.cid_codec.is_empty() => (false, codecs::RAW),
            None => (false, codec_of(&self.cid_codec)?),
        };
        if v0 && hash != HashAlg::Sha2_256 {
            return Err(ApiError::internal(
                "CIDv0 only supports sha2-256 (format=v0)",
            ));
        }
        Ok(PutSpec {
            v0,
            codec,
            hash,
            mhlen: self.mhlen,
        })
    }
}

impl Command for Put {
    const PATH: &'static str = "block/put";
    type Item = BlockStat;
    const FILES: Option<&'static str> = Some("data");

    fn upload(&self) -> Upload {
        Upload::files(&self.files)
    }

    fn encoding(&self) -> Encoding {
        Encoding::Stream
    }

    fn run(&self, ctx: &Ctx, emit: Emit<'_, BlockStat>) -> Result<(), ApiError> {
        let node = ctx.node()?;
        let spec = self.spec(node)?;
        ctx.each_file("data", |reader| {
            let max = (!self.allow_big_block).then_some(ferrite_ipld::MAX_BLOCK_SIZE);
            let data = read_input(reader, max)?;
            // Kubo checks the size after hashing; the outcome is the same.
            ferrite_ipld::check_block_size(data.len(), self.allow_big_block)
                .map_err(ApiError::internal)?;
            let cid = spec.cid(&data)?;
            node.block_store(&cid, &data, self.pin)?;
            Ok(emit(BlockStat {
                key: ctx.cids.encode(&cid),
                size: data.len() as u64,
            })?)
        })
    }

    fn text(&self, b: &BlockStat, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", b.key)
    }
}

/// Reads one uploaded file, stopping after `max` bytes (then one more is
/// read, so the caller can tell the input was larger).
pub(super) fn read_input(
    reader: Box<dyn Read + Send>,
    max: Option<usize>,
) -> Result<Vec<u8>, ApiError> {
    let limit = max.map_or(u64::MAX, |m| m as u64 + 1);
    let mut data = Vec::new();
    reader
        .take(limit)
        .read_to_end(&mut data)
        .map_err(|e| super::add::upload_error(e.into()))?;
    Ok(data)
}

/// Write a block's raw bytes to stdout.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(
    after_help = "Examples:\n  ferrite block get bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
)]
pub struct Get {
    /// The block's CID.
    #[arg(value_name = "CID")]
    #[serde(rename = "arg", default)]
    pub cid: Vec<String>,
}

impl Download for Get {
    const PATH: &'static str = "block/get";
    const CONTENT_TYPE: &'static str = "application/vnd.ipld.raw";

    fn open(self, ctx: &Ctx) -> Result<Answer, ApiError> {
        required(&self.cid, "cid")?;
        let data = ctx.node()?.block_get(&parse_cid_arg(&self.cid[0])?)?;
        Ok(Answer {
            len: Some(data.len() as u64),
            content_type: None,
            write: Box::new(move |w| Ok(w.write_all(&data)?)),
        })
    }
}

/// Print a block's size.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(
    after_help = "Examples:\n  ferrite block stat QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
)]
pub struct Stat {
    /// The block's CID.
    #[arg(required = true, value_name = "CID")]
    #[serde(rename = "arg", default)]
    pub cid: Vec<String>,
}

/// `{"Key","Size"}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct BlockStat {
    /// The block's CID.
    #[serde(rename = "Key")]
    pub key: String,
    /// Its size in bytes.
    #[serde(rename = "Size")]
    pub size: u64,
}

impl Command for Stat {
    const PATH: &'static str = "block/stat";
    type Item = BlockStat;

    fn run(&self, ctx: &Ctx, emit: Emit<'_, BlockStat>) -> Result<(), ApiError> {
        required(&self.cid, "cid")?;
        let cid = parse_cid_arg(&self.cid[0])?;
        let size = ctx.node()?.block_stat(&cid)?;
        emit(BlockStat {
            key: ctx.cids.encode(&cid),
            size,
        })?;
        Ok(())
    }

    fn text(&self, s: &BlockStat, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "Key: {}\nSize: {}", s.key, s.size)
    }
}

/// Remove blocks (not pinned ones).
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite block rm bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e\n",
    "  ferrite block rm -f -q QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e",
))]
pub struct Rm {
    /// Blocks to remove.
    #[arg(required = true)]
    #[serde(rename = "arg", default)]
    pub cids: Vec<String>,
    /// Ignore blocks that do not exist.
    #[arg(short, long)]
    #[serde(default)]
    pub force: bool,
    /// Print nothing on success.
    #[arg(short, long)]
    #[serde(default)]
    pub quiet: bool,
}

/// One `block rm` result (Kubo's `RemovedBlock`; empty fields omitted).
#[derive(Debug, Serialize, Deserialize)]
pub struct Removed {
    /// The block.
    #[serde(rename = "Hash")]
    pub hash: String,
    /// Why it was not removed.
    #[serde(rename = "Error", default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

impl Command for Rm {
    const PATH: &'static str = "block/rm";
    type Item = Removed;

    fn encoding(&self) -> Encoding {
        Encoding::Stream
    }

    /// `quiet` leaves out the successes.
    fn run(&self, ctx: &Ctx, emit: Emit<'_, Removed>) -> Result<(), ApiError> {
        required(&self.cids, "cid")?;
        let cids = self
            .cids
            .iter()
            .map(|a| parse_cid_arg(a))
            .collect::<Result<Vec<_>, _>>()?;
        for r in ctx.node()?.block_rm(&cids, self.force)? {
            if r.error.is_none() && self.quiet {
                continue;
            }
            emit(Removed {
                hash: ctx.cids.encode(&r.cid),
                error: r.error.unwrap_or_default(),
            })?;
        }
        Ok(())
    }

    /// Successes on stdout, failures on stderr.
    fn text(&self, r: &Removed, out: &mut dyn Write) -> io::Result<()> {
        match r.error.as_str() {
            "" if self.quiet => Ok(()),
            "" => writeln!(out, "removed {}", r.hash),
            e => {
                eprintln!("cannot remove {}: {e}", r.hash);
                Ok(())
            }
        }
    }

    fn failed(&self, r: &Removed) -> bool {
        !r.error.is_empty()
    }

    fn failure(&self, _n: usize) -> String {
        "some blocks not removed".into()
    }
}
