//! Bitswap 1.2.0, 1.1.0 and 1.0.0 (ipfs/specs `bitswap-protocol.md`) as a
//! libp2p [`NetworkBehaviour`](libp2p::swarm::NetworkBehaviour).
//!
//! [`Behaviour`] is both sides of the protocol: the client asks peers for
//! blocks ([`Behaviour::want`], [`Behaviour::want_have`],
//! [`Behaviour::cancel`]) and reports what arrives as [`Event`]s, emitting a
//! block only once its bytes hash to a CID we asked for; the server answers
//! peers' wantlists from a [`BlockStore`], fairly across peers and with a
//! bounded amount of block data queued per peer. The per-connection work
//! (long-lived inbound streams read in a loop, one outbound stream for our
//! messages) is in [`handler::Handler`].
#![forbid(unsafe_code)]

pub mod behaviour;
pub mod handler;
pub mod message;
pub mod session;

pub use behaviour::{Behaviour, BlockStore, Config, Event, Ledger};
pub use ferrite_ipld::Cid;
pub use message::{Message, PresenceType, WantType};
pub use session::{Session, SessionUpdate};

/// A Bitswap protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// `/ipfs/bitswap/1.0.0` (and the unversioned `/ipfs/bitswap`): blocks
    /// without prefixes, so CIDv0 only.
    V1_0_0,
    /// `/ipfs/bitswap/1.1.0`: blocks carry a CID prefix.
    V1_1_0,
    /// `/ipfs/bitswap/1.2.0`: want-have, block presences, DONT_HAVE.
    V1_2_0,
}

impl Version {
    /// Every version, best first.
    pub const ALL: [Version; 3] = [Version::V1_2_0, Version::V1_1_0, Version::V1_0_0];

    /// The protocol ids of this version.
    pub fn protocols(self) -> &'static [&'static str] {
        match self {
            Version::V1_2_0 => &["/ipfs/bitswap/1.2.0"],
            Version::V1_1_0 => &["/ipfs/bitswap/1.1.0"],
            Version::V1_0_0 => &["/ipfs/bitswap/1.0.0", "/ipfs/bitswap"],
        }
    }

    /// The version a negotiated protocol id stands for.
    pub fn from_protocol(p: &str) -> Option<Version> {
        Version::ALL
            .into_iter()
            .find(|v| v.protocols().contains(&p))
    }
}
