//! UnixFS for Ferrite: turning files and folders into dag-pb/raw blocks
//! exactly as Kubo does ([`import`]), and reading them back ([`export`]).
//!
//! The crate never touches storage directly: the importer writes through a
//! [`BlockSink`] and the exporter reads through a [`BlockSource`], so the same
//! code serves the CLI, the HTTP API and tests with in-memory maps.

pub mod chunker;
pub mod export;
pub mod hamt;
pub mod import;
pub mod pb;

use bytes::Bytes;
use ferrite_ipld::Cid;

/// Where the importer puts the blocks it makes.
pub trait BlockSink {
    /// Stores one block. `cid` has already been computed from `data`.
    fn put(&mut self, cid: &Cid, data: Bytes) -> std::io::Result<()>;
}

/// Where the exporter reads blocks from.
pub trait BlockSource {
    /// The block's bytes, or `None` when it is not available.
    fn get(&self, cid: &Cid) -> std::io::Result<Option<Bytes>>;
}

impl BlockSink for std::collections::HashMap<Cid, Bytes> {
    fn put(&mut self, cid: &Cid, data: Bytes) -> std::io::Result<()> {
        self.insert(*cid, data);
        Ok(())
    }
}

impl BlockSource for std::collections::HashMap<Cid, Bytes> {
    fn get(&self, cid: &Cid) -> std::io::Result<Option<Bytes>> {
        Ok(std::collections::HashMap::get(self, cid).cloned())
    }
}
