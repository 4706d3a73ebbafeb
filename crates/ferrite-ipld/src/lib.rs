//! The IPLD layer of Ferrite: content identifiers, multihashes, the codecs
//! Ferrite stores (dag-pb, raw, dag-cbor, dag-json) and CAR v1 files.
//!
//! Everything above this crate (store, UnixFS, node) speaks in [`Cid`]s and
//! raw block bytes; this crate is the one place that knows how those bytes
//! are laid out.
#![forbid(unsafe_code)]

pub mod car;
pub mod cidfmt;
pub mod codec;
pub mod dag;
pub mod dagpb;
pub mod hamt;
pub mod hash;
mod json;
pub mod proto;

pub use cid;
pub use hash::HashAlg;
/// The data-model value type of [`dag`]; re-exported so callers need no
/// direct dependency.
pub use ipld_core::ipld::Ipld;
pub use multibase;
pub use multihash;

/// The largest block peers exchange (Bitswap's limit): bigger blocks are
/// refused by `block put`, `dag put` and `dag import` unless explicitly
/// allowed (`--allow-big-block`). The one definition of the limit.
pub const MAX_BLOCK_SIZE: usize = 2 << 20;

/// Kubo's error for a block over [`MAX_BLOCK_SIZE`] without
/// `--allow-big-block`; `Ok` when the block fits or big blocks are allowed.
pub fn check_block_size(len: usize, allow_big_block: bool) -> std::result::Result<(), String> {
    if allow_big_block || len <= MAX_BLOCK_SIZE {
        return Ok(());
    }
    Err(
        "produced block is over 2MiB: big blocks can't be exchanged with other peers. \
         consider using UnixFS for automatic chunking of bigger files, or pass \
         --allow-big-block to override"
            .into(),
    )
}

/// A CID whose multihash digest fits in 64 bytes (enough for every hash we
/// produce, including sha2-512 and blake2b-512).
pub type Cid = cid::CidGeneric<64>;
/// A multihash with up to 64 digest bytes.
pub type Multihash = multihash::Multihash<64>;

/// Multicodec codes of the codecs Ferrite understands.
pub mod codecs {
    /// Raw bytes, no links.
    pub const RAW: u64 = 0x55;
    /// dag-pb (UnixFS and other protobuf Merkle DAG nodes).
    pub const DAG_PB: u64 = 0x70;
    /// dag-cbor.
    pub const DAG_CBOR: u64 = 0x71;
    /// dag-json.
    pub const DAG_JSON: u64 = 0x0129;
    /// libp2p-key (IPNS names); never stored as blocks, accepted in `cid format`.
    pub const LIBP2P_KEY: u64 = 0x72;
    /// Plain CBOR (no links), accepted by `dag put/get` like Kubo does.
    pub const CBOR: u64 = 0x51;
    /// Plain JSON (no links, no bytes), accepted by `dag put/get` like Kubo does.
    pub const JSON: u64 = 0x0200;
}

/// Errors of the IPLD layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A block could not be decoded by its codec.
    #[error("invalid {codec} block: {reason}")]
    Decode {
        /// The codec's name.
        codec: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A value could not be encoded with a codec (wrong shape or kind).
    #[error("cannot encode as {codec}: {reason}")]
    Encode {
        /// The codec's name.
        codec: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A codec we do not implement.
    #[error("unsupported codec 0x{0:x}")]
    UnsupportedCodec(u64),
    /// A hash function we do not implement.
    #[error("unsupported hash function {0}")]
    UnsupportedHash(String),
    /// A string that is not a CID.
    #[error("invalid cid: {0}")]
    InvalidCid(String),
    /// A CAR file that is malformed or truncated.
    #[error("invalid car file: {0}")]
    Car(String),
    /// Reading or writing failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A block needed to answer was not available (Kubo's wording).
    #[error("ipld: could not find {0}")]
    NotFound(Cid),
    /// A path could not be resolved inside a DAG; the message is Kubo's.
    #[error("{0}")]
    Path(String),
    /// An option or argument was rejected before any work; the message is
    /// Kubo's, so the CLI can print it after "Error: ".
    #[error("{0}")]
    Usage(String),
}

/// Result with the IPLD layer's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Parses a CID from any multibase string (or a base58 CIDv0), with a clear
/// error naming the input.
pub fn parse_cid(s: &str) -> Result<Cid> {
    Cid::try_from(s).map_err(|e| Error::InvalidCid(format!("{s:?}: {e}")))
}

/// Checks that `data` hashes to the multihash inside `cid`.
pub fn verify(cid: &Cid, data: &[u8]) -> Result<bool> {
    let mh = cid.hash();
    let alg = HashAlg::from_code(mh.code())?;
    if alg == HashAlg::Identity {
        // Compare directly: hashing would panic on data over 64 bytes.
        return Ok(mh.digest() == data);
    }
    Ok(alg.digest(data) == *mh)
}
