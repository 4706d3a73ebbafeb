//! Node errors, worded for users: they end up verbatim on the command line
//! and in HTTP API error bodies.

use ferrite_ipld::Cid;

/// Errors of node operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A block needed offline is not in the local store.
    #[error("block {0} not found locally")]
    NotFound(Cid),
    /// Bad user input: an invalid CID, path, option or file.
    #[error("{0}")]
    Invalid(String),
    /// A path that does not resolve.
    #[error("{0}")]
    NoLink(String),
    /// Online, no peer delivered a needed block in time (the gateway's 504).
    #[error("{0}")]
    Unavailable(String),
    /// Pin rules (not pinned, pinned indirectly …).
    #[error("{0}")]
    Pin(String),
    /// Repo, store and I/O problems.
    #[error(transparent)]
    Store(ferrite_store::Error),
    /// Codec problems.
    #[error(transparent)]
    Ipld(ferrite_ipld::Error),
    /// Local file problems, with the path in the message.
    #[error(transparent)]
    Io(std::io::Error),
}

// Block reads through the exporter, codecs and the store carry a fetch that
// timed out as `io::ErrorKind::TimedOut` (see `fetch::RepoSource`); it is
// still content nobody delivered, not a local I/O fault.
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::TimedOut => Error::Unavailable(e.to_string()),
            _ => Error::Io(e),
        }
    }
}

impl From<ferrite_ipld::Error> for Error {
    fn from(e: ferrite_ipld::Error) -> Self {
        match e {
            ferrite_ipld::Error::Io(io) => io.into(),
            other => Error::Ipld(other),
        }
    }
}

impl From<ferrite_store::Error> for Error {
    fn from(e: ferrite_store::Error) -> Self {
        match e {
            ferrite_store::Error::NotFound(c) => Error::NotFound(c),
            ferrite_store::Error::Pin(m) => Error::Pin(m),
            ferrite_store::Error::Ipld(e) => e.into(),
            ferrite_store::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => e.into(),
            other => Error::Store(other),
        }
    }
}

impl From<ferrite_config::ConfigError> for Error {
    fn from(e: ferrite_config::ConfigError) -> Self {
        Error::Invalid(e.to_string())
    }
}

/// Result with node [`Error`]s.
pub type Result<T, E = Error> = std::result::Result<T, E>;
