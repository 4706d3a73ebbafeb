//! The [`Blockstore`] trait: what the rest of Ferrite needs from block storage.

use crate::Result;
use bytes::Bytes;
use ferrite_ipld::{Cid, Multihash};

/// Blocks addressed by multihash: a CIDv0 and a CIDv1 of the same bytes share
/// one stored block.
///
/// Writes go through a [`BlockWriter`] so a backend can batch them and make
/// them durable in one step; nothing written through a writer is visible or
/// durable before [`BlockWriter::commit`] returns.
pub trait Blockstore: Send + Sync {
    /// The block's bytes, or `None`. Identity CIDs are answered from the CID.
    fn get(&self, cid: &Cid) -> Result<Option<Bytes>>;
    /// Whether the block is stored (identity CIDs always are).
    fn has(&self, cid: &Cid) -> Result<bool>;
    /// The block's size in bytes, without reading it.
    fn size(&self, cid: &Cid) -> Result<Option<u64>>;
    /// Starts a batch of writes.
    fn writer(&self) -> Result<Box<dyn BlockWriter + '_>>;
    /// Deletes blocks by multihash; returns how many existed.
    fn delete(&self, hashes: &[Multihash]) -> Result<u64>;
    /// Calls `f` with every stored multihash and its size, until `f` returns false.
    fn for_each(&self, f: &mut dyn FnMut(&Multihash, u64) -> bool) -> Result<()>;
    /// Counts and sizes.
    fn stat(&self) -> Result<StoreStat>;
    /// Reclaims the space of deleted blocks; returns bytes given back to the OS.
    fn compact(&self) -> Result<u64>;
}

/// A batch of block writes.
pub trait BlockWriter: Send {
    /// Adds a block. The caller vouches that `data` hashes to `cid`
    /// (the importer computed the CID); untrusted data goes through
    /// [`put_verified`].
    fn put(&mut self, cid: &Cid, data: &[u8]) -> Result<()>;
    /// Makes every block put so far durable and visible.
    fn commit(self: Box<Self>) -> Result<()>;
    /// Says the blocks of this batch are a stream not expected to be read
    /// again soon (blocks fetched from the network): the store may keep
    /// them out of the OS page cache. Call before the first `put`.
    fn streaming(&mut self) {}
}

/// Puts a block after checking that its bytes match its CID.
pub fn put_verified(w: &mut dyn BlockWriter, cid: &Cid, data: &[u8]) -> Result<()> {
    if !ferrite_ipld::verify(cid, data)? {
        return Err(crate::Error::HashMismatch(*cid));
    }
    w.put(cid, data)
}

/// Block store statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStat {
    /// Number of stored blocks.
    pub blocks: u64,
    /// Bytes of stored blocks (live), in the data files.
    pub block_bytes: u64,
    /// Bytes of deleted blocks that compaction has not reclaimed yet.
    pub dead_bytes: u64,
    /// Bytes the store's files occupy (data files plus index).
    pub disk_bytes: u64,
}

/// The bytes of an identity CID, which live in the CID itself.
pub fn identity_bytes(cid: &Cid) -> Option<Bytes> {
    (cid.hash().code() == 0x00).then(|| Bytes::copy_from_slice(cid.hash().digest()))
}
