//! Name hashing and bucket naming of HAMT-sharded UnixFS directories, as
//! boxo's `hamt` package does them.
//!
//! They live here rather than in ferrite-unixfs because the `/ipfs/` path
//! resolver in [`crate::dag`] walks shards too; the importer and exporter
//! use them through `ferrite_unixfs::hamt`.

/// UnixFS `hashType` of murmur3-x64-64, the only HAMT hash in use.
pub const HASH_MURMUR3: u64 = 0x22;
/// Largest fanout accepted when reading; the UnixFS spec caps it at 1024 so
/// a shard cannot demand an absurd bitfield or prefix.
pub const MAX_FANOUT: u64 = 1024;

/// The 64-bit murmur3 hash of a name: the first 8 bytes (big-endian order of
/// the output stream) of murmur3 x64 128 with seed 0, as boxo uses it.
pub fn hash_name(name: &[u8]) -> [u8; 8] {
    let h = fastmurmur3::murmur3_x64_128(name, 0);
    // fastmurmur3 returns h1 in the low 64 bits; Go's murmur3.Sum128 writes
    // h1 big-endian first, and boxo keeps those 8 bytes.
    (h as u64).to_be_bytes()
}

/// Reads `bits` bits at bit offset `start` from a hash, most significant bit
/// first, like boxo's `hashBits.Next`.
pub fn hash_bits(hash: &[u8], start: usize, bits: usize) -> usize {
    (start..start + bits).fold(0, |v, i| {
        (v << 1) | ((hash[i / 8] >> (7 - i % 8)) & 1) as usize
    })
}

/// Width of the bucket index for a fanout, e.g. 2 hex digits for 256.
pub fn prefix_len(fanout: u64) -> usize {
    format!("{:X}", fanout - 1).len()
}

/// The link-name prefix of bucket `idx`: uppercase hex, zero padded.
pub fn bucket_prefix(idx: usize, fanout: u64) -> String {
    format!("{:0width$X}", idx, width = prefix_len(fanout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_hash_matches_boxo() {
        // boxo: murmur3.New64().Sum() of "" is eight zero bytes; of "a" it
        // is 85555565f6597889.
        assert_eq!(hash_name(b""), [0; 8]);
        assert_eq!(
            hash_name(b"a"),
            [0x85, 0x55, 0x55, 0x65, 0xf6, 0x59, 0x78, 0x89]
        );
    }
}
