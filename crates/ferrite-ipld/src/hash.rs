//! The multihash functions Ferrite can produce and verify.

use crate::{Error, Multihash, Result};
use sha2::Digest;

/// A multihash function, named as Kubo names them on `--hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HashAlg {
    /// sha2-256, the default everywhere.
    #[default]
    Sha2_256,
    /// sha2-512.
    Sha2_512,
    /// sha3-256.
    Sha3_256,
    /// sha3-512.
    Sha3_512,
    /// blake2b-256.
    Blake2b256,
    /// blake2b-512.
    Blake2b512,
    /// blake3 with a 32-byte digest.
    Blake3,
    /// identity: the "digest" is the data itself (inline CIDs).
    Identity,
}

impl HashAlg {
    /// All supported functions, for error messages and tests.
    pub const ALL: [HashAlg; 8] = [
        HashAlg::Sha2_256,
        HashAlg::Sha2_512,
        HashAlg::Sha3_256,
        HashAlg::Sha3_512,
        HashAlg::Blake2b256,
        HashAlg::Blake2b512,
        HashAlg::Blake3,
        HashAlg::Identity,
    ];

    /// The multicodec code of the function.
    pub fn code(self) -> u64 {
        match self {
            HashAlg::Sha2_256 => 0x12,
            HashAlg::Sha2_512 => 0x13,
            HashAlg::Sha3_256 => 0x16,
            HashAlg::Sha3_512 => 0x14,
            HashAlg::Blake2b256 => 0xb220,
            HashAlg::Blake2b512 => 0xb240,
            HashAlg::Blake3 => 0x1e,
            HashAlg::Identity => 0x00,
        }
    }

    /// The name used on the command line (`--hash`).
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha2_256 => "sha2-256",
            HashAlg::Sha2_512 => "sha2-512",
            HashAlg::Sha3_256 => "sha3-256",
            HashAlg::Sha3_512 => "sha3-512",
            HashAlg::Blake2b256 => "blake2b-256",
            HashAlg::Blake2b512 => "blake2b-512",
            HashAlg::Blake3 => "blake3",
            HashAlg::Identity => "identity",
        }
    }

    /// Looks a function up by its multicodec code.
    pub fn from_code(code: u64) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.code() == code)
            .ok_or_else(|| Error::UnsupportedHash(format!("0x{code:x}")))
    }

    /// Looks a function up by its `--hash` name.
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| {
                let known: Vec<_> = Self::ALL.iter().map(|a| a.name()).collect();
                Error::UnsupportedHash(format!("{name:?} (supported: {})", known.join(", ")))
            })
    }

    /// Hashes `data` into a multihash.
    ///
    /// Panics only for identity hashes of more than 64 bytes; callers inline
    /// only small blocks.
    pub fn digest(self, data: &[u8]) -> Multihash {
        let wrap = |d: &[u8]| Multihash::wrap(self.code(), d).expect("digest fits 64 bytes");
        match self {
            HashAlg::Sha2_256 => wrap(&sha2::Sha256::digest(data)),
            HashAlg::Sha2_512 => wrap(&sha2::Sha512::digest(data)),
            HashAlg::Sha3_256 => wrap(&sha3::Sha3_256::digest(data)),
            HashAlg::Sha3_512 => wrap(&sha3::Sha3_512::digest(data)),
            HashAlg::Blake2b256 => wrap(
                blake2b_simd::Params::new()
                    .hash_length(32)
                    .hash(data)
                    .as_bytes(),
            ),
            HashAlg::Blake2b512 => wrap(blake2b_simd::blake2b(data).as_bytes()),
            HashAlg::Blake3 => wrap(blake3::hash(data).as_bytes()),
            HashAlg::Identity => wrap(data),
        }
    }
}

impl std::str::FromStr for HashAlg {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::from_name(s)
    }
}

impl std::fmt::Display for HashAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_empty_matches_known_digest() {
        let mh = HashAlg::Sha2_256.digest(b"");
        assert_eq!(mh.code(), 0x12);
        assert_eq!(
            mh.digest()[..4],
            [0xe3, 0xb0, 0xc4, 0x42],
            "sha256('') starts e3b0c442"
        );
    }

    #[test]
    fn names_and_codes_round_trip() {
        for a in HashAlg::ALL {
            assert_eq!(HashAlg::from_name(a.name()).unwrap(), a);
            assert_eq!(HashAlg::from_code(a.code()).unwrap(), a);
        }
        assert!(HashAlg::from_name("md5").is_err());
    }
}
