//! The IPLD data model behind `ipfs dag get/put/resolve`, matching Kubo.
//!
//! * [`decode`] / [`encode`] convert blocks to and from [`Ipld`] for raw,
//!   dag-pb (in its data-model shape `{"Data": bytes, "Links": [...]}`),
//!   dag-cbor, dag-json and the link-free `cbor` and `json` codecs.
//! * [`DagPath`], [`PathResolver`], [`resolve`] and [`get`] walk paths the way
//!   Kubo's `ResolvePath` does. Kubo resolves `/ipfs/` paths (and bare CIDs)
//!   with its UnixFS resolver: inside dag-pb nodes a segment names a link
//!   (and HAMT-sharded directories are searched by name), while `/ipld/` paths
//!   follow the pure data model everywhere (`/ipld/<pb>/Links/0/Hash`).
//! * [`put`] is `dag put`: decode with the input codec, re-encode with the
//!   store codec, hash into a CIDv1.

use crate::cidfmt;
use crate::dagpb::{PbLink, PbNode};
use crate::hamt::{bucket_prefix, hash_bits, hash_name, prefix_len, HASH_MURMUR3, MAX_FANOUT};
use crate::proto::{Field, Reader};
use crate::{codecs, json, Cid, Error, HashAlg, Result};
use bytes::Bytes;
use ipld_core::ipld::Ipld;
use std::collections::BTreeMap;

fn decode_err(codec: &'static str, reason: impl ToString) -> Error {
    Error::Decode {
        codec,
        reason: reason.to_string(),
    }
}

fn encode_err(codec: &'static str, reason: impl ToString) -> Error {
    Error::Encode {
        codec,
        reason: reason.to_string(),
    }
}

/// The data-model kind of a value, named as go-ipld-prime names kinds.
pub fn kind_name(v: &Ipld) -> &'static str {
    match v {
        Ipld::Null => "null",
        Ipld::Bool(_) => "bool",
        Ipld::Integer(_) => "int",
        Ipld::Float(_) => "float",
        Ipld::String(_) => "string",
        Ipld::Bytes(_) => "bytes",
        Ipld::List(_) => "list",
        Ipld::Map(_) => "map",
        Ipld::Link(_) => "link",
    }
}

fn has_links(v: &Ipld) -> bool {
    crate::codec::values(v).any(|v| matches!(v, Ipld::Link(_)))
}

/// The deepest nesting of lists and maps in one block that Ferrite decodes
/// or encodes (dag-cbor, dag-json, cbor, json); deeper is an error.
///
/// go-ipld-prime bounds dag-json at this depth, and dag-cbor only through
/// its allocation budget: Go's stacks grow on the heap, so any depth is
/// safe there. A Rust thread's stack is fixed (a runtime worker has
/// 2 MiB) and the codecs, like `Ipld`'s drop, recurse once per level, so
/// an unbounded block from the network could abort the daemon. At this
/// limit decoding takes about 800 KiB of stack.
pub const MAX_NESTING: usize = 1024;

fn too_deep() -> String {
    format!("nesting deeper than {MAX_NESTING}")
}

/// Whether lists and maps nest at most [`MAX_NESTING`] deep in `v`; with
/// `json_forms`, links and bytes count as maps, as dag-json writes them.
fn within_nesting(v: &Ipld, json_forms: bool) -> bool {
    // (value, lists and maps around it)
    let mut stack = vec![(v, 0)];
    while let Some((v, around)) = stack.pop() {
        let nests = match v {
            Ipld::List(_) | Ipld::Map(_) => true,
            Ipld::Link(_) | Ipld::Bytes(_) => json_forms,
            _ => false,
        };
        if nests && around >= MAX_NESTING {
            return false;
        }
        match v {
            Ipld::List(l) => stack.extend(l.iter().map(|c| (c, around + 1))),
            Ipld::Map(m) => stack.extend(m.values().map(|c| (c, around + 1))),
            _ => {}
        }
    }
    true
}

/// A slice reader for serde_ipld_dagcbor that allows [`MAX_NESTING`]
/// levels: its own stops at 256, so a block that `dag put` stored from
/// dag-json (which allows 1024) could not be read back.
struct CborReader<'a> {
    buf: &'a [u8],
    /// Decoder steps left: it takes two per list or map (the value, then
    /// its items) and one for the value at the bottom.
    steps: usize,
}

impl<'de> cbor4ii::core::dec::Read<'de> for CborReader<'de> {
    type Error = std::convert::Infallible;

    fn fill<'s>(
        &'s mut self,
        want: usize,
    ) -> Result<cbor4ii::core::dec::Reference<'de, 's>, Self::Error> {
        Ok(cbor4ii::core::dec::Reference::Long(
            &self.buf[..want.min(self.buf.len())],
        ))
    }

    fn advance(&mut self, n: usize) {
        self.buf = &self.buf[n.min(self.buf.len())..];
    }

    fn step_in(&mut self) -> bool {
        self.steps.checked_sub(1).map(|s| self.steps = s).is_some()
    }

    fn step_out(&mut self) {
        self.steps += 1;
    }
}

/// dag-cbor (or plain cbor, named `codec`) bytes to the data model.
fn decode_cbor(codec: &'static str, data: &[u8]) -> Result<Ipld> {
    use serde::Deserialize;
    use serde_ipld_dagcbor::{de::Deserializer, DecodeError};
    let mut de = Deserializer::from_reader(CborReader {
        buf: data,
        steps: 2 * MAX_NESTING + 1,
    });
    let v = Ipld::deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| match e {
            DecodeError::DepthLimit => decode_err(codec, too_deep()),
            e => decode_err(codec, e),
        })?;
    // CBOR floats include NaN and the infinities, which the data model (and
    // so our encoder) has no place for: reading them would store a block
    // that no codec can write back. (Found by fuzz/ dag_cbor.)
    if crate::codec::values(&v).any(|x| matches!(x, Ipld::Float(f) if !f.is_finite())) {
        return Err(decode_err(codec, "NaN and infinite floats are not allowed"));
    }
    Ok(v)
}

/// Decodes a block into the data model using its CID's codec.
pub fn decode(cid: &Cid, data: &[u8]) -> Result<Ipld> {
    decode_codec(cid.codec(), data)
}

/// Decodes bytes with the given multicodec.
pub fn decode_codec(codec: u64, data: &[u8]) -> Result<Ipld> {
    match codec {
        codecs::RAW => Ok(Ipld::Bytes(data.to_vec())),
        codecs::DAG_PB => Ok(pb_to_ipld(&PbNode::decode(data)?)),
        codecs::DAG_CBOR => decode_cbor("dag-cbor", data),
        codecs::CBOR => {
            let v = decode_cbor("cbor", data)?;
            if has_links(&v) {
                // go-ipld-prime's plain cbor codec refuses tag 42.
                return Err(decode_err("cbor", "unhandled cbor tag 42"));
            }
            Ok(v)
        }
        codecs::DAG_JSON => json::decode(data, true).map_err(|e| decode_err("dag-json", e)),
        codecs::JSON => json::decode(data, false).map_err(|e| decode_err("json", e)),
        other => Err(Error::UnsupportedCodec(other)),
    }
}

/// Encodes a data-model value with the given multicodec.
///
/// dag-pb requires the dag-pb shape (see [`ipld_to_pb`]); its links are
/// stably sorted by name first, as go-codec-dagpb does. raw requires bytes.
pub fn encode(ipld: &Ipld, codec: u64) -> Result<Vec<u8>> {
    // These encoders recurse once per level.
    let nesting = matches!(
        codec,
        codecs::DAG_CBOR | codecs::CBOR | codecs::DAG_JSON | codecs::JSON
    );
    if nesting && !within_nesting(ipld, codec == codecs::DAG_JSON) {
        let name = crate::codec::codec_name(codec).unwrap_or("ipld");
        return Err(encode_err(name, too_deep()));
    }
    match codec {
        codecs::RAW => match ipld {
            Ipld::Bytes(b) => Ok(b.clone()),
            other => Err(encode_err(
                "raw",
                format!("raw codec can only encode bytes, not {}", kind_name(other)),
            )),
        },
        codecs::DAG_PB => {
            let mut node = ipld_to_pb(ipld)?;
            // Absent names sort as "", and the sort is stable.
            node.links.sort_by(|a, b| {
                a.name
                    .as_deref()
                    .unwrap_or("")
                    .cmp(b.name.as_deref().unwrap_or(""))
            });
            Ok(node.encode())
        }
        codecs::DAG_CBOR => serde_ipld_dagcbor::to_vec(ipld).map_err(|e| encode_err("dag-cbor", e)),
        codecs::CBOR => {
            if has_links(ipld) {
                return Err(encode_err("cbor", "cannot Marshal ipld links to CBOR"));
            }
            serde_ipld_dagcbor::to_vec(ipld).map_err(|e| encode_err("cbor", e))
        }
        codecs::DAG_JSON => json::encode(ipld, true).map_err(|e| encode_err("dag-json", e)),
        codecs::JSON => json::encode(ipld, false).map_err(|e| encode_err("json", e)),
        other => Err(Error::UnsupportedCodec(other)),
    }
}

/// `dag get` output: the node encoded with `--output-codec` (Kubo's default
/// is dag-json, printed without a trailing newline).
pub fn to_output(ipld: &Ipld, codec: u64) -> Result<Vec<u8>> {
    encode(ipld, codec)
}

/// Codecs `dag put`/`dag get` can decode and encode.
pub const SUPPORTED_CODECS: [u64; 6] = [
    codecs::RAW,
    codecs::DAG_PB,
    codecs::DAG_CBOR,
    codecs::DAG_JSON,
    codecs::CBOR,
    codecs::JSON,
];

fn require_supported(code: u64, what: &str) -> Result<()> {
    if !SUPPORTED_CODECS.contains(&code) {
        return Err(Error::Usage(format!(
            "no {what} registered for multicodec code {code} (0x{code:x})"
        )));
    }
    Ok(())
}

/// Parses `dag get --output-codec`, with Kubo's errors for unknown names
/// and for codecs without an encoder.
pub fn output_codec_from_name(name: &str) -> Result<u64> {
    let code = cidfmt::multicodec_from_name(name)?;
    if !SUPPORTED_CODECS.contains(&code) {
        return Err(Error::Usage(format!(
            "invalid encoding: {} - no encoder registered for multicodec code {code} (0x{code:x})",
            cidfmt::multicodec_name(code)
        )));
    }
    Ok(code)
}

/// The dag-pb data model of a node: `Data` only when present, `Links`
/// always, and in each link `Name`/`Tsize` only when present.
pub fn pb_to_ipld(node: &PbNode) -> Ipld {
    let links = node
        .links
        .iter()
        .map(|l| {
            let mut m = BTreeMap::new();
            m.insert("Hash".to_string(), Ipld::Link(l.cid));
            if let Some(name) = &l.name {
                m.insert("Name".to_string(), Ipld::String(name.clone()));
            }
            if let Some(t) = l.tsize {
                m.insert("Tsize".to_string(), Ipld::Integer(t.into()));
            }
            Ipld::Map(m)
        })
        .collect();
    let mut m = BTreeMap::new();
    if let Some(d) = &node.data {
        m.insert("Data".to_string(), Ipld::Bytes(d.clone()));
    }
    m.insert("Links".to_string(), Ipld::List(links));
    Ipld::Map(m)
}

/// Converts a data-model value of the dag-pb shape back into a node,
/// rejecting anything the dag-pb schema does not allow (unknown or
/// mistyped fields, missing `Links` or `Hash`, negative `Tsize`). Links keep
/// their order; [`encode`] sorts them.
pub fn ipld_to_pb(ipld: &Ipld) -> Result<PbNode> {
    let bad = |r: String| encode_err("dag-pb", format!("invalid DAG-PB form: {r}"));
    let Ipld::Map(m) = ipld else {
        return Err(bad(format!("expected a map, got {}", kind_name(ipld))));
    };
    if let Some(k) = m.keys().find(|k| *k != "Data" && *k != "Links") {
        return Err(bad(format!("unknown field {k:?} in node")));
    }
    let data = match m.get("Data") {
        None => None,
        Some(Ipld::Bytes(b)) => Some(b.clone()),
        Some(v) => return Err(bad(format!("Data must be bytes, got {}", kind_name(v)))),
    };
    let links = match m.get("Links") {
        Some(Ipld::List(l)) => l,
        Some(v) => return Err(bad(format!("Links must be a list, got {}", kind_name(v)))),
        None => return Err(bad("missing required field Links".into())),
    };
    let links = links
        .iter()
        .map(|l| {
            let Ipld::Map(lm) = l else {
                return Err(bad(format!("link must be a map, got {}", kind_name(l))));
            };
            if let Some(k) = lm
                .keys()
                .find(|k| !matches!(k.as_str(), "Hash" | "Name" | "Tsize"))
            {
                return Err(bad(format!("unknown field {k:?} in link")));
            }
            let cid = match lm.get("Hash") {
                Some(Ipld::Link(c)) => *c,
                Some(v) => return Err(bad(format!("Hash must be a link, got {}", kind_name(v)))),
                None => return Err(bad("link must have a Hash".into())),
            };
            let name = match lm.get("Name") {
                None => None,
                Some(Ipld::String(s)) => Some(s.clone()),
                Some(v) => return Err(bad(format!("Name must be a string, got {}", kind_name(v)))),
            };
            let tsize = match lm.get("Tsize") {
                None => None,
                Some(Ipld::Integer(i)) if *i < 0 => {
                    return Err(encode_err(
                        "dag-pb",
                        format!("Link has negative Tsize value [{i}]"),
                    ))
                }
                Some(Ipld::Integer(i)) => {
                    Some(u64::try_from(*i).map_err(|_| bad(format!("Tsize {i} is too large")))?)
                }
                Some(v) => return Err(bad(format!("Tsize must be an int, got {}", kind_name(v)))),
            };
            Ok(PbLink { cid, name, tsize })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(PbNode { links, data })
}

/// `dag put` settings: Kubo's defaults are dag-json in, dag-cbor stored,
/// sha2-256 and the 2 MiB block limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PutOptions {
    /// Codec of the input bytes (`--input-codec`).
    pub input_codec: u64,
    /// Codec the block is stored with (`--store-codec`).
    pub store_codec: u64,
    /// Multihash function (`--hash`).
    pub hash: HashAlg,
    /// Skip the 2 MiB check (`--allow-big-block`).
    pub allow_big_block: bool,
}

impl Default for PutOptions {
    fn default() -> Self {
        PutOptions {
            input_codec: codecs::DAG_JSON,
            store_codec: codecs::DAG_CBOR,
            hash: HashAlg::Sha2_256,
            allow_big_block: false,
        }
    }
}

impl PutOptions {
    /// Builds options from the command-line names, checking them in Kubo's
    /// order and with its messages (`unknown multicodec: "x"`,
    /// `no decoder registered for multicodec code …`).
    pub fn from_names(input_codec: &str, store_codec: &str, hash: &str) -> Result<Self> {
        let input_codec = cidfmt::multicodec_from_name(input_codec)?;
        let store_codec = cidfmt::multicodec_from_name(store_codec)?;
        let hash = match HashAlg::from_name(hash) {
            Ok(h) => h,
            // A real multihash we do not implement, or not a name at all.
            Err(e) if cidfmt::multihash_code(hash).is_some() => return Err(e),
            Err(_) => return Err(Error::Usage(format!("unknown multicodec: {hash:?}"))),
        };
        require_supported(input_codec, "decoder")?;
        require_supported(store_codec, "encoder")?;
        Ok(PutOptions {
            input_codec,
            store_codec,
            hash,
            allow_big_block: false,
        })
    }
}

/// `dag put` for one input: returns the CIDv1 and the stored block bytes.
pub fn put(input: &[u8], opts: &PutOptions) -> Result<(Cid, Vec<u8>)> {
    let node = decode_codec(opts.input_codec, input)?;
    let block = encode(&node, opts.store_codec)?;
    if opts.hash == HashAlg::Identity && block.len() > 64 {
        return Err(Error::Usage(format!(
            "identity hash of a {}-byte block does not fit a CID (max 64 bytes)",
            block.len()
        )));
    }
    let cid = Cid::new_v1(opts.store_codec, opts.hash.digest(&block));
    crate::check_block_size(block.len(), opts.allow_big_block).map_err(Error::Usage)?;
    Ok((cid, block))
}

/// Which resolver a path uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathMode {
    /// `/ipfs/` and bare CIDs: dag-pb nodes (and any node of the dag-pb
    /// shape) are UnixFS: segments name links, HAMT shards are searched,
    /// files have no children.
    UnixFs,
    /// `/ipld/`: the plain data model everywhere.
    Ipld,
}

/// An immutable content path: `/ipfs/<cid>/…`, `/ipld/<cid>/…`, a bare
/// `<cid>/…` (taken as `/ipfs/`), or an `ipfs://`/`ipld://` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DagPath {
    /// How segments are interpreted.
    pub mode: PathMode,
    /// The root block.
    pub root: Cid,
    /// Cleaned segments after the root (no empty, `.` or `..` segments).
    pub segments: Vec<String>,
}

/// Splits like Go's `path.Clean` + `strings.Split`: drops empty and `.`
/// segments and lets `..` remove the previous one.
fn clean_segments(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for seg in s.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s.to_string()),
        }
    }
    out
}

impl DagPath {
    /// Parses a path as `ipfs dag get/resolve` accept it: a content path,
    /// an `ipfs:`/`ipld:` URI (scheme case-insensitive, `//` optional), or
    /// a bare CID with optional segments, taken as `/ipfs/`.
    pub fn parse(s: &str) -> Result<Self> {
        Self::parse_path(&normalize_uri(s)).or_else(|e| {
            if s.starts_with('/') || normalize_uri(s) != s {
                return Err(e);
            }
            // Kubo retries a bare argument under /ipfs/ but reports the
            // first error when that fails too.
            Self::parse_path(&format!("/ipfs/{s}")).map_err(|_| e)
        })
    }

    fn parse_path(s: &str) -> Result<Self> {
        let invalid = |why: &str| Error::Path(format!("invalid path {s:?}: {why}"));
        let segs = clean_segments(s);
        if !s.starts_with('/') || segs.len() < 2 {
            return Err(invalid("path does not have enough components"));
        }
        let mode = match segs[0].as_str() {
            "ipfs" => PathMode::UnixFs,
            "ipld" => PathMode::Ipld,
            "ipns" => {
                return Err(invalid(
                    "/ipns/ names must be resolved to an /ipfs/ path before walking it",
                ))
            }
            other => return Err(invalid(&format!("unknown namespace: {other:?}"))),
        };
        let root = cidfmt::decode_cid(&segs[1])
            .map_err(|e| invalid(&e.to_string()))?
            .0;
        Ok(DagPath {
            mode,
            root,
            segments: segs[2..].to_vec(),
        })
    }
}

/// Rewrites `ipfs:`, `ipns:` and `ipld:` URIs into content paths.
fn normalize_uri(s: &str) -> String {
    for ns in ["ipfs", "ipns", "ipld"] {
        let matches = s.len() > ns.len()
            && s.as_bytes()[ns.len()] == b':'
            && s.as_bytes()[..ns.len()].eq_ignore_ascii_case(ns.as_bytes());
        if matches {
            let rest = &s[ns.len() + 1..];
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            return format!("/{ns}/{rest}");
        }
    }
    s.to_string()
}

impl std::str::FromStr for DagPath {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl std::fmt::Display for DagPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ns = match self.mode {
            PathMode::UnixFs => "ipfs",
            PathMode::Ipld => "ipld",
        };
        write!(f, "/{ns}/{}", self.root)?;
        for s in &self.segments {
            write!(f, "/{s}")?;
        }
        Ok(())
    }
}

/// Where a path ends: the last block reached and the segments left to walk
/// inside it (empty when the path ends on a block boundary). This is what
/// `ipfs dag resolve` prints as `<cid>/<remainder>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The block holding the final value.
    pub cid: Cid,
    /// Path inside that block.
    pub remainder: Vec<String>,
}

/// Outcome of walking segments inside one decoded node ([`walk_node`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Walk<'a> {
    /// Every segment was applied; this is the value.
    Value(&'a Ipld),
    /// The walk reached a link after `consumed` segments; the rest
    /// continues in that block, which the caller must load next.
    Link {
        /// The block to load next.
        cid: Cid,
        /// Segments used up to reach the link.
        consumed: usize,
    },
}

/// The message go-ipld-prime gives for looking `seg` up in `v`, which
/// cannot have it (wrong kind, missing key, bad or out-of-range index).
fn lookup_error(v: &Ipld, seg: &str) -> String {
    match v {
        Ipld::Map(_) => format!("key not found: {seg:?}"),
        Ipld::List(_) => match seg.parse::<i64>() {
            Ok(i) => format!("key not found: \"{i}\""),
            Err(e) => {
                let why = if matches!(
                    e.kind(),
                    std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow
                ) {
                    "value out of range"
                } else {
                    "invalid syntax"
                };
                format!(
                    "invalid segment for lookup on a list: {seg:?}: strconv.ParseInt: parsing {seg:?}: {why}"
                )
            }
        },
        other => {
            let k = kind_name(other);
            format!(
                "func called on wrong kind: \"LookupBySegment\" called on a {k} node (kind: {k}), but only makes sense on map or list"
            )
        }
    }
}

/// Looks one segment up in a data-model value.
fn lookup_plain<'a>(v: &'a Ipld, seg: &str) -> Option<&'a Ipld> {
    match v {
        Ipld::Map(m) => m.get(seg),
        Ipld::List(l) => seg
            .parse::<i64>()
            .ok()
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| l.get(i)),
        _ => None,
    }
}

/// Walks `segments` inside one node with plain data-model rules (map keys,
/// list indexes), stopping at the first link so the caller can load that
/// block and go on. A link reached by the last segment is returned as
/// [`Walk::Link`] with every segment consumed.
pub fn walk_node<'a>(node: &'a Ipld, segments: &[String]) -> Result<Walk<'a>> {
    let mut cur = node;
    for (i, seg) in segments.iter().enumerate() {
        let Some(next) = lookup_plain(cur, seg) else {
            return Err(Error::Path(lookup_error(cur, seg)));
        };
        if let Ipld::Link(c) = next {
            return Ok(Walk::Link {
                cid: *c,
                consumed: i + 1,
            });
        }
        cur = next;
    }
    Ok(Walk::Value(cur))
}

/// The few UnixFS `Data` fields path resolution needs.
// Not ferrite_unixfs::pb's decoder: it sits above this crate, and odd Data here means "not UnixFS".
struct UnixFsHeader {
    kind: u64,
    has_data: bool,
    hash_type: Option<u64>,
    fanout: Option<u64>,
}

/// Parses a dag-pb `Data` field as UnixFS; `None` means "not UnixFS" (no
/// type field, or not a protobuf we understand), which Kubo then treats as a
/// plain node whose links are looked up by name.
fn unixfs_header(data: &[u8]) -> Option<UnixFsHeader> {
    let mut r = Reader::new(data);
    let mut h = UnixFsHeader {
        kind: u64::MAX,
        has_data: false,
        hash_type: None,
        fanout: None,
    };
    while let Some((field, value)) = r.next_field().ok()? {
        match (field, value) {
            (1, Field::Varint(v)) => h.kind = v,
            (2, Field::Bytes(_)) => h.has_data = true,
            (5, Field::Varint(v)) => h.hash_type = Some(v),
            (6, Field::Varint(v)) => h.fanout = Some(v),
            (1 | 2 | 5 | 6, _) => return None,
            // Kept from before the reader knew fixed32/64: such a field makes
            // the Data "not UnixFS" (go-unixfsnode would skip it).
            (_, Field::Fixed32(_) | Field::Fixed64(_)) => return None,
            _ => {}
        }
    }
    (h.kind != u64::MAX).then_some(h)
}

/// How a block root behaves under the UnixFS resolver.
enum Reified {
    /// Directory, symlink, metadata or non-UnixFS dag-pb: links by name.
    Names(PbNode),
    /// A HAMT shard, with its fanout.
    Hamt(PbNode, u64),
    /// A file: no path below it.
    File,
    /// Not of the dag-pb shape: plain data model.
    Plain,
}

/// go-unixfsnode's error for a path below a UnixFS file.
const FILE_LOOKUP: &str = "func called on wrong kind: \"LookupBySegment\" called on a bytes node, \
                           but only makes sense on map or list";

fn hamt_fanout(h: &UnixFsHeader) -> Result<u64> {
    if h.hash_type != Some(HASH_MURMUR3) {
        return Err(Error::Path(
            "only murmur3 supported as hash function".into(),
        ));
    }
    if !h.has_data {
        return Err(Error::Path("'Data' field not present".into()));
    }
    let Some(f) = h.fanout else {
        return Err(Error::Path("'Fanout' field not present".into()));
    };
    if f == 0 || !f.is_power_of_two() || f > MAX_FANOUT {
        return Err(Error::Path("hamt size should be a power of two".into()));
    }
    Ok(f)
}

fn reify(node: &Ipld) -> Result<Reified> {
    let Ok(pb) = ipld_to_pb(node) else {
        return Ok(Reified::Plain);
    };
    let Some(h) = pb.data.as_deref().and_then(unixfs_header) else {
        return Ok(Reified::Names(pb));
    };
    Ok(match h.kind {
        0 | 2 => Reified::File,
        1 | 3 | 4 => Reified::Names(pb),
        5 => {
            let f = hamt_fanout(&h)?;
            Reified::Hamt(pb, f)
        }
        _ => {
            return Err(Error::Path(
                "no reification for this UnixFS node type".into(),
            ))
        }
    })
}

enum HamtStep {
    Found(Cid),
    Descend(Cid),
    Missing,
}

/// One level of a HAMT lookup: the bucket for the next bits of the hash is
/// the link whose name starts with the bucket's hex prefix; a bare prefix is
/// a sub-shard, prefix + name is the entry.
fn hamt_step(
    shard: &PbNode,
    fanout: u64,
    name: &str,
    hash: &[u8; 8],
    consumed: &mut usize,
) -> Result<HamtStep> {
    let bits = fanout.trailing_zeros() as usize;
    if *consumed + bits > 64 {
        return Err(Error::Path("sharded directory too deep".into()));
    }
    let prefix = bucket_prefix(hash_bits(hash, *consumed, bits), fanout);
    *consumed += bits;
    let pad = prefix_len(fanout);
    let Some(link) = shard
        .links
        .iter()
        .find(|l| l.name.as_deref().unwrap_or("").starts_with(&prefix))
    else {
        return Ok(HamtStep::Missing);
    };
    let lname = link.name.as_deref().unwrap_or("");
    Ok(if lname.len() == pad {
        HamtStep::Descend(link.cid)
    } else if &lname[pad..] == name {
        HamtStep::Found(link.cid)
    } else {
        HamtStep::Missing
    })
}

#[derive(Debug, Clone)]
enum Pending {
    /// Load this block and continue from its root.
    Block(Cid),
    /// Load this HAMT shard to continue looking up the current segment.
    Shard {
        cid: Cid,
        hash: [u8; 8],
        consumed: usize,
    },
    Done(Resolved),
}

/// Resolves a path block by block without doing I/O itself: ask
/// [`need`](Self::need) which block is next, hand its bytes to
/// [`supply`](Self::supply), repeat until `need` is `None`, then take
/// [`resolved`](Self::resolved). Identity-hashed CIDs are read from the CID
/// and never requested. [`resolve`] drives it with a loader closure.
#[derive(Debug, Clone)]
pub struct PathResolver {
    mode: PathMode,
    segments: Vec<String>,
    /// Index of the next segment to apply.
    next: usize,
    /// The block holding the current position (for messages and results).
    block: Cid,
    pending: Pending,
}

enum Outcome<'a> {
    Value(&'a Ipld),
    Link(Cid),
    Shard(Cid, [u8; 8], usize),
    /// The segment does not exist; the message is for when it is the last.
    Missing(String),
}

impl PathResolver {
    /// Starts resolving `segments` below `root`.
    pub fn new(root: Cid, segments: Vec<String>, mode: PathMode) -> Self {
        let pending = if segments.is_empty() {
            Pending::Done(Resolved {
                cid: root,
                remainder: Vec::new(),
            })
        } else {
            Pending::Block(root)
        };
        let r = PathResolver {
            mode,
            segments,
            next: 0,
            block: root,
            pending,
        };
        // Serve an identity root right away. If that fails, start over so
        // the error comes back from the first `supply` of those bytes.
        let mut inlined = r.clone();
        match inlined.inline_identity() {
            Ok(()) => inlined,
            Err(_) => r,
        }
    }

    /// Starts resolving a parsed path.
    pub fn for_path(path: &DagPath) -> Self {
        Self::new(path.root, path.segments.clone(), path.mode)
    }

    /// The block to load next, or `None` once resolved.
    pub fn need(&self) -> Option<&Cid> {
        match &self.pending {
            Pending::Block(c) | Pending::Shard { cid: c, .. } => Some(c),
            Pending::Done(_) => None,
        }
    }

    /// The result, once [`need`](Self::need) returns `None`.
    pub fn resolved(&self) -> Option<&Resolved> {
        match &self.pending {
            Pending::Done(r) => Some(r),
            _ => None,
        }
    }

    /// Feeds the bytes of the block [`need`](Self::need) named. The bytes
    /// are trusted (verify them when loading from an untrusted source).
    /// After an error the resolver is spent; drop it.
    pub fn supply(&mut self, data: &[u8]) -> Result<()> {
        match self.pending.clone() {
            Pending::Done(_) => return Err(Error::Path("path already resolved".into())),
            Pending::Block(cid) => self.enter_block(cid, data)?,
            Pending::Shard {
                cid,
                hash,
                consumed,
            } => self.enter_shard(cid, data, hash, consumed)?,
        }
        self.inline_identity()
    }

    /// Answers requests for identity-hashed blocks from the CID itself.
    fn inline_identity(&mut self) -> Result<()> {
        while let Some(cid) = self.need().copied() {
            if cid.hash().code() != HashAlg::Identity.code() {
                break;
            }
            let data = cid.hash().digest().to_vec();
            match self.pending.clone() {
                Pending::Block(c) => self.enter_block(c, &data)?,
                Pending::Shard {
                    cid,
                    hash,
                    consumed,
                } => self.enter_shard(cid, &data, hash, consumed)?,
                Pending::Done(_) => unreachable!("need() was Some"),
            }
        }
        Ok(())
    }

    fn no_link(&self, seg: &str) -> Error {
        Error::Path(format!("no link named {seg:?} under {}", self.block))
    }

    fn enter_shard(
        &mut self,
        cid: Cid,
        data: &[u8],
        hash: [u8; 8],
        mut consumed: usize,
    ) -> Result<()> {
        let node = decode(&cid, data)?;
        let seg = self.segments[self.next].clone();
        let shard = ipld_to_pb(&node)
            .map_err(|_| Error::Path(format!("HAMT shard {cid} is not a dag-pb node")))?;
        let header = shard.data.as_deref().and_then(unixfs_header);
        let fanout = match header {
            Some(h) if h.kind == 5 => hamt_fanout(&h)?,
            _ => return Err(Error::Path(format!("HAMT shard {cid} is not a HAMT shard"))),
        };
        let outcome = match hamt_step(&shard, fanout, &seg, &hash, &mut consumed)? {
            HamtStep::Found(c) => Outcome::Link(c),
            HamtStep::Descend(c) => Outcome::Shard(c, hash, consumed),
            HamtStep::Missing => Outcome::Missing(self.no_link(&seg).to_string()),
        };
        // A shard lookup never leaves values to walk: it ends on a link.
        self.apply(outcome, 0).map(|_| ())
    }

    fn enter_block(&mut self, cid: Cid, data: &[u8]) -> Result<()> {
        let node = decode(&cid, data)?;
        self.block = cid;
        // In /ipld/ mode a dag-pb root is a schema struct: a missing field
        // is "no link named", not "key not found".
        let typed_pb = self.mode == PathMode::Ipld && cid.codec() == codecs::DAG_PB;
        let reified = match self.mode {
            PathMode::UnixFs => reify(&node)?,
            PathMode::Ipld => Reified::Plain,
        };
        let mut cur: &Ipld = &node;
        let mut in_block = 0usize;
        loop {
            let seg = self.segments[self.next].clone();
            let outcome = if in_block == 0 {
                match &reified {
                    Reified::Names(pb) => match pb
                        .links
                        .iter()
                        .find(|l| l.name.as_deref() == Some(seg.as_str()))
                    {
                        Some(l) => Outcome::Link(l.cid),
                        None => Outcome::Missing(self.no_link(&seg).to_string()),
                    },
                    Reified::Hamt(pb, fanout) => {
                        let hash = hash_name(seg.as_bytes());
                        let mut consumed = 0;
                        match hamt_step(pb, *fanout, &seg, &hash, &mut consumed)? {
                            HamtStep::Found(c) => Outcome::Link(c),
                            HamtStep::Descend(c) => Outcome::Shard(c, hash, consumed),
                            HamtStep::Missing => Outcome::Missing(self.no_link(&seg).to_string()),
                        }
                    }
                    Reified::File => Outcome::Missing(FILE_LOOKUP.into()),
                    Reified::Plain => self.plain(cur, &seg, typed_pb),
                }
            } else {
                self.plain(cur, &seg, typed_pb)
            };
            match self.apply(outcome, in_block)? {
                Some(v) => {
                    cur = v;
                    in_block += 1;
                }
                None => return Ok(()),
            }
        }
    }

    fn plain<'a>(&self, cur: &'a Ipld, seg: &str, typed_pb: bool) -> Outcome<'a> {
        match lookup_plain(cur, seg) {
            Some(Ipld::Link(c)) => Outcome::Link(*c),
            Some(v) => Outcome::Value(v),
            None if typed_pb && matches!(cur, Ipld::Map(_)) => {
                Outcome::Missing(self.no_link(seg).to_string())
            }
            None => Outcome::Missing(lookup_error(cur, seg)),
        }
    }

    /// Applies the outcome of looking up segment `self.next`; returns the
    /// value to keep walking in, or `None` when a new request or the result
    /// has been set.
    fn apply<'a>(&mut self, outcome: Outcome<'a>, in_block: usize) -> Result<Option<&'a Ipld>> {
        let i = self.next;
        let last = i + 1 == self.segments.len();
        match outcome {
            Outcome::Missing(msg) => Err(if last {
                Error::Path(msg)
            } else {
                self.no_link(&self.segments[i])
            }),
            Outcome::Shard(cid, hash, consumed) => {
                self.pending = Pending::Shard {
                    cid,
                    hash,
                    consumed,
                };
                Ok(None)
            }
            Outcome::Link(cid) => {
                self.next = i + 1;
                self.pending = if last {
                    Pending::Done(Resolved {
                        cid,
                        remainder: Vec::new(),
                    })
                } else {
                    Pending::Block(cid)
                };
                Ok(None)
            }
            Outcome::Value(v) => {
                self.next = i + 1;
                if last {
                    self.pending = Pending::Done(Resolved {
                        cid: self.block,
                        remainder: self.segments[i - in_block..].to_vec(),
                    });
                    Ok(None)
                } else {
                    Ok(Some(v))
                }
            }
        }
    }
}

/// Loads a block through `load`, serving identity CIDs inline and turning
/// `None` into [`Error::NotFound`].
pub fn load_block<F>(cid: &Cid, load: &mut F) -> Result<Bytes>
where
    F: FnMut(&Cid) -> Result<Option<Bytes>>,
{
    if cid.hash().code() == HashAlg::Identity.code() {
        return Ok(Bytes::copy_from_slice(cid.hash().digest()));
    }
    load(cid)?.ok_or(Error::NotFound(*cid))
}

/// Resolves `path` to its last block and remainder (`ipfs dag resolve`),
/// loading blocks through `load` (`Ok(None)` = not available).
pub fn resolve<F>(path: &DagPath, mut load: F) -> Result<Resolved>
where
    F: FnMut(&Cid) -> Result<Option<Bytes>>,
{
    let mut r = PathResolver::for_path(path);
    while let Some(cid) = r.need().copied() {
        let data = load_block(&cid, &mut load)?;
        r.supply(&data)?;
    }
    Ok(r.resolved()
        .expect("resolved when nothing is needed")
        .clone())
}

/// `ipfs dag get`: resolves `path`, loads the final block and returns the
/// value the remainder points at (encode it with [`to_output`]).
pub fn get<F>(path: &DagPath, mut load: F) -> Result<Ipld>
where
    F: FnMut(&Cid) -> Result<Option<Bytes>>,
{
    let resolved = resolve(path, &mut load)?;
    let data = load_block(&resolved.cid, &mut load)?;
    let node = decode(&resolved.cid, &data)?;
    match walk_node(&node, &resolved.remainder)? {
        Walk::Value(v) => Ok(v.clone()),
        // The resolver only leaves a remainder that stays inside the block.
        Walk::Link { cid, .. } => Ok(Ipld::Link(cid)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_bits_read_msb_first() {
        let h = [0b1010_0000, 0xff, 0, 0, 0, 0, 0, 0];
        assert_eq!(hash_bits(&h, 0, 3), 0b101);
        assert_eq!(hash_bits(&h, 4, 8), 0x0f);
    }

    #[test]
    fn unixfs_header_needs_a_type() {
        assert!(unixfs_header(&[]).is_none());
        assert!(unixfs_header(&[0x00, 0x01, 0x02]).is_none());
        let h =
            unixfs_header(&[0x08, 0x05, 0x12, 0x01, 0xff, 0x28, 0x22, 0x30, 0x80, 0x02]).unwrap();
        assert_eq!(
            (h.kind, h.has_data, h.hash_type, h.fanout),
            (5, true, Some(0x22), Some(256))
        );
    }
}
