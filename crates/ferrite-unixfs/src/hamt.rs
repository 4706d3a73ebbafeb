//! Constants and hashing shared by the HAMT directory builder and reader
//! (UnixFS HAMTShard, as go-unixfs/boxo `hamt` implements it).

/// Kubo's fanout: 256 buckets, so each level consumes 8 bits of the hash.
pub const DEFAULT_FANOUT: u64 = 256;
/// UnixFS `hashType` of murmur3-x64-64.
pub const HASH_MURMUR3: u64 = 0x22;
/// A folder becomes a HAMT once the estimated size of its plain dag-pb node
/// (sum of name length + CID byte length over the links) exceeds this.
pub const SHARDING_THRESHOLD: usize = 256 * 1024;

/// The 64-bit murmur3 hash of a name: the first 8 bytes (big-endian order of
/// the output stream) of murmur3 x64 128 with seed 0, as boxo uses it.
pub fn hash_name(name: &[u8]) -> [u8; 8] {
    let h = fastmurmur3::murmur3_x64_128(name, 0);
    // fastmurmur3 returns h1 in the low 64 bits; Go's murmur3.Sum128 writes
    // h1 big-endian first, and boxo keeps those 8 bytes.
    ((h as u64).to_be_bytes()).to_owned()
}

/// Reads `bits` bits at bit offset `start` from a hash, most significant bit
/// first, like boxo's `hashBits.Next`.
pub fn hash_bits(hash: &[u8], start: usize, bits: usize) -> usize {
    let mut v = 0usize;
    for i in start..start + bits {
        let byte = hash[i / 8];
        let bit = (byte >> (7 - (i % 8))) & 1;
        v = (v << 1) | bit as usize;
    }
    v
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
