//! Errors of the repository layer.

use ferrite_ipld::Cid;

/// Errors of the repository layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A block that the operation needs is not in the store.
    #[error("block {0} not found locally")]
    NotFound(Cid),
    /// Bytes that do not hash to the CID they were given with.
    #[error("block data does not match its cid {0}")]
    HashMismatch(Cid),
    /// Another process holds the repo.
    #[error("{0}")]
    Locked(String),
    /// The repo is missing, from another version, or damaged.
    #[error("{0}")]
    Repo(String),
    /// Pinning rules were broken (e.g. unpinning something not pinned).
    #[error("{0}")]
    Pin(String),
    /// The embedded index database failed.
    #[error("datastore: {0}")]
    Db(String),
    /// A block could not be decoded.
    #[error(transparent)]
    Ipld(#[from] ferrite_ipld::Error),
    /// Reading or writing failed (a full disk shows up here).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Result with the repository layer's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::Db(e.to_string())
            }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(io) => io,
            other => std::io::Error::other(other),
        }
    }
}
