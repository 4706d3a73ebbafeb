//! Constants and hashing shared by the HAMT directory builder and reader
//! (UnixFS HAMTShard, as go-unixfs/boxo `hamt` implements it).

// The hashing and naming live in ferrite-ipld, whose path resolver walks
// shards too.
pub use ferrite_ipld::hamt::{
    bucket_prefix, hash_bits, hash_name, prefix_len, HASH_MURMUR3, MAX_FANOUT,
};

/// Kubo's fanout: 256 buckets, so each level consumes 8 bits of the hash.
pub const DEFAULT_FANOUT: u64 = 256;
/// A folder becomes a HAMT once the estimated size of its plain dag-pb node
/// (sum of name length + CID byte length over the links) exceeds this.
pub const SHARDING_THRESHOLD: usize = 256 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_uppercase_hex() {
        assert_eq!(bucket_prefix(0, 256), "00");
        assert_eq!(bucket_prefix(255, 256), "FF");
        assert_eq!(bucket_prefix(10, 256), "0A");
    }

    #[test]
    fn bits_are_read_msb_first() {
        assert_eq!(hash_bits(&[0b1010_0000, 0xff], 0, 3), 0b101);
        assert_eq!(hash_bits(&[0x12, 0x34], 4, 8), 0x23);
    }
}
