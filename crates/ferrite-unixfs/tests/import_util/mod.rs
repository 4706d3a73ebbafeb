//! Deterministic inputs and sinks shared by the `import_*` tests.
//!
//! The byte streams are Kubo's own test generator
//! (`test/cli/testutils/random_deterministic.go`): the ChaCha20 keystream
//! with key = sha256(seed) and an all-zero nonce. That lets the tests reuse
//! the CIDs pinned in Kubo's `test/cli/cid_profiles_test.go`, and makes the
//! inputs behind the CIDs we pinned from a real Kubo v0.22 reproducible.
#![allow(dead_code)]

use bytes::Bytes;
use ferrite_ipld::{Cid, HashAlg};
use ferrite_unixfs::BlockSink;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::collections::HashMap;
use std::io::{self, Read};
use std::path::Path;

/// Kubo's `DeterministicRandomReaderBytes(size, seed)`.
pub(crate) struct KuboRandom {
    rng: ChaCha20Rng,
    remaining: u64,
    buf: Vec<u8>,
    pos: usize,
}

/// `size` bytes of Kubo's deterministic stream for `seed`.
pub(crate) fn kubo_random(seed: &str, size: u64) -> KuboRandom {
    let digest = HashAlg::Sha2_256.digest(seed.as_bytes());
    let key: [u8; 32] = digest.digest().try_into().unwrap();
    KuboRandom {
        rng: ChaCha20Rng::from_seed(key),
        remaining: size,
        buf: vec![0; 1 << 16],
        pos: 1 << 16,
    }
}

impl Read for KuboRandom {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        if self.pos == self.buf.len() {
            // Whole 64 KiB refills keep rand_chacha's word-wise output equal
            // to the continuous keystream.
            self.rng.fill_bytes(&mut self.buf);
            self.pos = 0;
        }
        let n = out
            .len()
            .min(self.buf.len() - self.pos)
            .min(self.remaining as usize);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// The whole stream as a vector.
pub(crate) fn kubo_bytes(seed: &str, size: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(size);
    kubo_random(seed, size as u64).read_to_end(&mut v).unwrap();
    v
}

/// File names as Kubo's `createDeterministicFiles` makes them
/// (`test/cli/add_test.go`): bytes of the stream mapped onto AlphabetEasy;
/// all names `len` long except the last (`last_len`). Duplicates are kept,
/// as on disk the later file simply overwrites the earlier.
pub(crate) fn kubo_names(seed: &str, count: usize, len: usize, last_len: usize) -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz01234567890-_";
    let mut r = kubo_random(seed, 1 << 20);
    (0..count)
        .map(|i| {
            let l = if i == count - 1 { last_len } else { len };
            let mut buf = vec![0u8; l];
            r.read_exact(&mut buf).unwrap();
            buf.iter()
                .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
                .collect()
        })
        .collect()
}

/// A sink that only counts, for inputs too large to keep.
#[derive(Default)]
pub(crate) struct CountingSink {
    pub blocks: u64,
    pub bytes: u64,
}

impl BlockSink for CountingSink {
    fn put(&mut self, _cid: &Cid, data: Bytes) -> io::Result<()> {
        self.blocks += 1;
        self.bytes += data.len() as u64;
        Ok(())
    }
}

/// Checks that every stored block hashes to its CID.
pub(crate) fn verify_store(store: &HashMap<Cid, Bytes>) {
    for (cid, data) in store {
        assert!(
            ferrite_ipld::verify(cid, data).unwrap(),
            "block {cid} does not match its CID"
        );
    }
}

/// A folder exercising everything `ipfs add -r` meets: nested and empty
/// folders, an empty file, a two-chunk file, a HAMT subfolder, unicode and
/// spaces in names, hidden entries and symlinks (relative, dangling, to a
/// folder). Its CIDs were taken from Kubo v0.22 (see import_dirs.rs).
#[cfg(unix)]
pub(crate) fn build_kitchen_sink(root: &Path) {
    use std::fs;
    use std::os::unix::fs::symlink;
    fs::create_dir_all(root.join("a/b/c")).unwrap();
    fs::create_dir_all(root.join("ünïcødé ✓/sp ace")).unwrap();
    fs::create_dir_all(root.join("empty_dir")).unwrap();
    fs::create_dir_all(root.join(".hidden_dir")).unwrap();
    fs::write(root.join("empty_file"), b"").unwrap();
    fs::write(root.join("a/b/c/deep.txt"), b"hi\n").unwrap();
    fs::write(root.join("a/big.bin"), kubo_bytes("chunk-v0-seed", 262145)).unwrap();
    fs::write(root.join("a/b/rand1000"), kubo_bytes("ferrite-sink", 1000)).unwrap();
    fs::create_dir_all(root.join("a/hamtsub")).unwrap();
    for name in kubo_names("hamt-unixfs-v0-2015", 4033, 31, 31) {
        fs::write(root.join("a/hamtsub").join(name), b"x").unwrap();
    }
    fs::write(root.join("ünïcødé ✓/sp ace/f i l e.txt"), b"x\n").unwrap();
    fs::write(root.join(".hidden_dir/s"), b"secret\n").unwrap();
    fs::write(root.join(".dotfile"), b"h\n").unwrap();
    symlink("a/b/c/deep.txt", root.join("rel_link")).unwrap();
    symlink("/nonexistent/target", root.join("dangling")).unwrap();
    symlink("ünïcødé ✓", root.join("dir_link")).unwrap();
}
