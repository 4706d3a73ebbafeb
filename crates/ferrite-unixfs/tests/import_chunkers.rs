//! Rabin and buzhash boundaries equal boxo's.
//!
//! The expected chunk lengths were produced by compiling boxo v0.11's
//! `chunker/rabin.go` and `chunker/buzhash.go` (the versions in Kubo v0.22)
//! together with `github.com/whyrusleeping/chunker` with Go 1.19 and running
//! them over the same two inputs: 3,000,000 bytes of Kubo's deterministic
//! stream for seed "ferrite-chunkers" (see import_util) and the text
//! `numbers_text()` below.

mod import_util;

use ferrite_ipld::HashAlg;
use ferrite_unixfs::chunker::ChunkerSpec;
use ferrite_unixfs::import::{import_file, ImportOptions};
use import_util::{kubo_bytes, kubo_random};
use std::collections::HashMap;

/// "0 1 4 9 …": squares mod 1000003, space separated, 400000 numbers.
fn numbers_text() -> Vec<u8> {
    let mut s = String::new();
    for i in 0u64..400_000 {
        s.push_str(&format!("{} ", i * i % 1_000_003));
    }
    s.into_bytes()
}

fn chunk_lengths(spec: &str, data: &[u8]) -> Vec<usize> {
    let spec: ChunkerSpec = spec.parse().unwrap();
    spec.chunker(data).map(|c| c.unwrap().len()).collect()
}

/// sha256 of the lengths printed one per line, as the Go program printed them.
fn lengths_digest(lengths: &[usize]) -> String {
    let text: String = lengths.iter().map(|n| format!("{n}\n")).collect();
    let d = HashAlg::Sha2_256.digest(text.as_bytes());
    d.digest().iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn buzhash_matches_boxo() {
    let random = kubo_bytes("ferrite-chunkers", 3_000_000);
    assert_eq!(
        chunk_lengths("buzhash", &random),
        [
            312891, 426762, 172025, 135479, 217311, 182386, 146641, 283003, 132617, 176966, 260032,
            375106, 178781
        ]
    );
    assert_eq!(
        chunk_lengths("buzhash", &numbers_text()),
        [425625, 268712, 493683, 439513, 186804, 154821, 148712, 281758, 147080, 160757, 48029]
    );
}

#[test]
fn rabin_default_matches_boxo() {
    let random = kubo_bytes("ferrite-chunkers", 3_000_000);
    assert_eq!(
        chunk_lengths("rabin", &random),
        [255089, 380421, 393216, 393216, 393216, 235428, 318542, 349513, 281359]
    );
    assert_eq!(
        chunk_lengths("rabin-262144", &numbers_text()),
        [360365, 393216, 393216, 195475, 236733, 393216, 393216, 390057]
    );
}

#[test]
fn rabin_small_and_large_windows_match_boxo() {
    let random = kubo_bytes("ferrite-chunkers", 3_000_000);
    let text = numbers_text();
    let small_r = chunk_lengths("rabin-16-64-256", &random);
    assert_eq!(small_r.len(), 38566);
    assert_eq!(&small_r[..10], &[124, 103, 80, 121, 37, 23, 61, 76, 23, 24]);
    assert_eq!(
        lengths_digest(&small_r),
        "546d98a9ff3cd4362cf2089b0e8484e1881c9957c031e8811e0cb9348567cb4b"
    );
    let small_t = chunk_lengths("rabin-16-64-256", &text);
    assert_eq!(small_t.len(), 35454);
    assert_eq!(
        lengths_digest(&small_t),
        "07615c0895580083a6830b14657101796bdb5cde1c40c1306c02a90bfd790dac"
    );
    // Chunks above the 512 KiB read window.
    assert_eq!(
        chunk_lengths("rabin-100000-1000000-2000000", &random),
        [644986, 777370, 1577644]
    );
    assert_eq!(
        chunk_lengths("rabin-100000-1000000-2000000", &text),
        [360365, 412126, 402969, 166812, 1413222]
    );
}

#[test]
fn small_file_cid_is_the_same_with_every_chunker() {
    // Kubo sharness t0040: "Hello Worlds!\n" with size-64, rabin,
    // rabin-36-512-1024 and buzhash.
    for spec in [
        "size-64",
        "rabin",
        "rabin-36-512-1024",
        "buzhash",
        "default",
    ] {
        let opts = ImportOptions {
            chunker: spec.parse().unwrap(),
            ..Default::default()
        };
        let r = import_file(
            &b"Hello Worlds!\n"[..],
            &opts,
            &mut HashMap::new(),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(
            r.cid.to_string(),
            "QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH",
            "{spec}"
        );
    }
}

#[test]
fn content_defined_files_import_and_stream() {
    // The same DAG whether the chunker reads from a slice or a stream.
    for spec in ["rabin", "buzhash"] {
        let opts = ImportOptions {
            chunker: spec.parse().unwrap(),
            ..Default::default()
        };
        let data = kubo_bytes("ferrite-chunkers", 3_000_000);
        let mut store = HashMap::new();
        let a = import_file(&data[..], &opts, &mut store, &mut |_| {}).unwrap();
        let b = import_file(
            kubo_random("ferrite-chunkers", 3_000_000),
            &opts,
            &mut HashMap::new(),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.file_size, 3_000_000);
        import_util::verify_store(&store);
    }
}
