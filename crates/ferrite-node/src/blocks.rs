//! `block put/get/stat/rm`.

use crate::{Error, Node, Result};
use bytes::Bytes;
use ferrite_ipld::{codecs, Cid, HashAlg};
use ferrite_store::blockstore::put_verified;
use ferrite_store::{Blockstore, PinMode};

/// Options of `block put`, with Kubo's defaults (CIDv1, raw, sha2-256).
#[derive(Debug, Clone)]
pub struct BlockPutOptions {
    /// Multicodec of the new CID.
    pub codec: u64,
    /// Hash function.
    pub hash: HashAlg,
    /// Pin the block directly after storing it.
    pub pin: bool,
    /// Store blocks over [`ferrite_ipld::MAX_BLOCK_SIZE`] too.
    pub allow_big_block: bool,
}

impl Default for BlockPutOptions {
    fn default() -> Self {
        BlockPutOptions {
            codec: codecs::RAW,
            hash: HashAlg::Sha2_256,
            pin: false,
            allow_big_block: false,
        }
    }
}

/// Outcome of removing one block.
#[derive(Debug, Clone)]
pub struct BlockRm {
    /// The block.
    pub cid: Cid,
    /// Why it was not removed, if it was not.
    pub error: Option<String>,
}

impl Node {
    /// The raw bytes of a block.
    /// Online, a missing block is fetched from the network.
    pub fn block_get(&self, cid: &Cid) -> Result<Bytes> {
        use ferrite_unixfs::BlockSource;
        self.source().get(cid)?.ok_or(Error::NotFound(*cid))
    }

    /// The size of a block (fetched first when missing and online).
    pub fn block_stat(&self, cid: &Cid) -> Result<u64> {
        if let Some(n) = self.repo.blocks().size(cid)? {
            return Ok(n);
        }
        Ok(self.block_get(cid)?.len() as u64)
    }

    /// Stores raw bytes as a block; returns its CID. Data given to a codec
    /// we decode (dag-pb, dag-cbor, dag-json) must decode.
    pub fn block_put(&self, data: &[u8], opts: &BlockPutOptions) -> Result<Cid> {
        ferrite_ipld::check_block_size(data.len(), opts.allow_big_block).map_err(Error::Invalid)?;
        let cid = Cid::new_v1(opts.codec, opts.hash.digest(data));
        self.block_store(&cid, data, opts.pin)?;
        Ok(cid)
    }

    /// Stores `data` under `cid` after checking that it hashes to it and, for
    /// codecs with links, that it decodes (so GC can walk it). With `pin`,
    /// pins it recursively, as Kubo's `block put --pin` (which needs every
    /// linked block to be present).
    pub fn block_store(&self, cid: &Cid, data: &[u8], pin: bool) -> Result<()> {
        if cid.codec() != codecs::RAW {
            ferrite_ipld::codec::links(cid, data)?;
        }
        let _g = self.repo.write_guard();
        let mut w = self.repo.blocks().writer()?;
        put_verified(w.as_mut(), cid, data)?;
        w.commit()?;
        if pin {
            self.repo
                .pins()
                .pin(self.repo.blocks(), cid, PinMode::Recursive, "")?;
        }
        Ok(())
    }

    /// Stores many blocks in one commit, each checked against its CID.
    pub fn block_store_batch(&self, blocks: &[(Cid, &[u8])]) -> Result<()> {
        let _g = self.repo.write_guard();
        let mut w = self.repo.blocks().writer()?;
        for (cid, data) in blocks {
            put_verified(w.as_mut(), cid, data)?;
        }
        w.commit()?;
        Ok(())
    }

    /// Removes blocks that no pin holds directly or recursively as a root.
    /// With `force`, missing blocks are not errors.
    pub fn block_rm(&self, cids: &[Cid], force: bool) -> Result<Vec<BlockRm>> {
        let _g = self.repo.gc_guard();
        let pins = self.repo.pins();
        let mut out = Vec::with_capacity(cids.len());
        for cid in cids {
            let error = if let Some(p) = pins.get(cid)? {
                Some(format!("pinned: {}", p.mode.as_str()))
            } else if !self.repo.blocks().has(cid)? {
                (!force).then(|| "ipld: could not find block".to_string())
            } else {
                self.repo.blocks().delete(&[*cid.hash()])?;
                None
            };
            out.push(BlockRm { cid: *cid, error });
        }
        Ok(out)
    }
}
