//! The IPLD layer of Ferrite: content identifiers, multihashes, the codecs
//! Ferrite stores (dag-pb, raw, dag-cbor, dag-json) and CAR v1 files.
//!
//! Everything above this crate (store, UnixFS, node) speaks in [`Cid`]s and
//! raw block bytes; this crate is the one place that knows how those bytes
//! are laid out.

pub mod codec;
pub mod dagpb;
pub mod hash;
pub mod proto;

pub use cid;
pub use hash::HashAlg;
pub use multihash;

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
    let alg = HashAlg::from_code(cid.hash().code())?;
    Ok(alg.digest(data) == *cid.hash())
}
