//! CAR reading and writing: Kubo/go-car fixtures, round trips, every
//! error path, and a fuzz-style run over truncated and mutated files.

use ferrite_ipld::car::{header_bytes, CarReader, CarReaderOptions, CarWriter, CARV2_PRAGMA};
use ferrite_ipld::{codecs, Cid, Error, HashAlg};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn raw_cid(data: &[u8]) -> Cid {
    Cid::new_v1(codecs::RAW, HashAlg::Sha2_256.digest(data))
}

type Blocks = Vec<(Cid, Vec<u8>)>;

fn read_all(bytes: &[u8]) -> ferrite_ipld::Result<(Vec<Cid>, Blocks)> {
    let r = CarReader::new(bytes)?;
    let roots = r.roots().to_vec();
    let blocks = r
        .map(|b| b.map(|(c, d)| (c, d.to_vec())))
        .collect::<ferrite_ipld::Result<Vec<_>>>()?;
    Ok((roots, blocks))
}

fn car_err(bytes: &[u8]) -> String {
    match read_all(bytes) {
        Err(Error::Car(m)) => m,
        other => panic!("expected a CAR error, got {other:?}"),
    }
}

fn small_car() -> (Vec<u8>, Vec<(Cid, Vec<u8>)>) {
    let blocks: Vec<(Cid, Vec<u8>)> = [&b"hello"[..], b"", b"world!"]
        .iter()
        .map(|d| (raw_cid(d), d.to_vec()))
        .collect();
    let mut w = CarWriter::new(Vec::new(), &[blocks[0].0]).unwrap();
    for (c, d) in &blocks {
        w.write_block(c, d).unwrap();
    }
    (w.finish().unwrap(), blocks)
}

fn varint(v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    ferrite_ipld::proto::put_varint(&mut out, v);
    out
}

/// Wraps a CARv1 in a CARv2 with `pad` zero bytes before the payload and
/// some index-like bytes after it.
fn wrap_v2(v1: &[u8], pad: usize) -> Vec<u8> {
    let mut out = CARV2_PRAGMA.to_vec();
    out.extend_from_slice(&[0u8; 16]);
    let data_offset = 51 + pad as u64;
    out.extend_from_slice(&data_offset.to_le_bytes());
    out.extend_from_slice(&(v1.len() as u64).to_le_bytes());
    out.extend_from_slice(&(data_offset + v1.len() as u64).to_le_bytes());
    out.extend(std::iter::repeat_n(0u8, pad));
    out.extend_from_slice(v1);
    out.extend_from_slice(b"\x80\x04index bytes that must never be parsed");
    out
}

#[test]
fn kubo_dag_stat_fixture_v1_and_v2() {
    let (roots, blocks) = read_all(&fixture("TestDagStat.car")).unwrap();
    assert_eq!(
        roots[0].to_string(),
        "bafyreifrm6uf5o4dsaacuszf35zhibyojlqclabzrms7iak67pf62jygaq"
    );
    // Kubo's `dag stat` of this root: 4 blocks, 194 bytes.
    assert_eq!(blocks.len(), 4);
    assert_eq!(blocks.iter().map(|(_, d)| d.len()).sum::<usize>(), 194);

    let v2 = fixture("TestDagStatCARv2.car");
    let r = CarReader::new(&v2[..]).unwrap();
    assert_eq!(r.version(), 2);
    let (roots2, blocks2) = read_all(&v2).unwrap();
    assert_eq!((roots2, blocks2), (roots, blocks));
}

#[test]
fn lotus_genesis_reads_and_rewrites_byte_identically() {
    let original = fixture("lotus_devnet_genesis.car");
    let (roots, blocks) = read_all(&original).unwrap();
    assert_eq!(
        roots,
        vec![ferrite_ipld::parse_cid(
            "bafy2bzaceaxm23epjsmh75yvzcecsrbavlmkcxnva66bkdebdcnyw3bjrc74u"
        )
        .unwrap()]
    );
    // Numbers from Kubo's t0054 (genesis part of "Imported 1198 blocks").
    assert_eq!(blocks.len(), 149);
    assert_eq!(blocks.iter().map(|(_, d)| d.len()).sum::<usize>(), 30383);
    assert!(blocks.iter().any(|(c, _)| c.hash().code() == 0xb220));
    assert!(blocks.iter().any(|(c, _)| c.hash().code() == 0x00));

    let mut w = CarWriter::new(Vec::new(), &roots).unwrap();
    for (c, d) in &blocks {
        w.write_block(c, d).unwrap();
    }
    assert_eq!(w.bytes_written(), original.len() as u64);
    assert_eq!(w.finish().unwrap(), original);
}

#[test]
fn round_trip_with_edge_blocks() {
    let identity = Cid::new_v1(codecs::RAW, HashAlg::Identity.digest(b"inline"));
    let v0 = Cid::new_v0(HashAlg::Sha2_256.digest(b"\x0a\x02\x08\x01")).unwrap();
    let big = vec![7u8; 300_000];
    let blocks = vec![
        (identity, b"inline".to_vec()),
        (v0, b"\x0a\x02\x08\x01".to_vec()),
        (raw_cid(b""), Vec::new()),
        (raw_cid(&big), big),
    ];
    for roots in [vec![], vec![v0], vec![v0, identity]] {
        let mut w = CarWriter::new(Vec::new(), &roots).unwrap();
        for (c, d) in &blocks {
            w.write_block(c, d).unwrap();
        }
        let bytes = w.finish().unwrap();
        let (r, b) = read_all(&bytes).unwrap();
        assert_eq!(r, roots);
        assert_eq!(b, blocks);
        // And the same payload inside a CARv2.
        let (r2, b2) = read_all(&wrap_v2(&bytes, 13)).unwrap();
        assert_eq!((r2, b2), (roots.clone(), blocks.clone()));
    }
}

#[test]
fn header_layout_matches_go_car() {
    let root = raw_cid(b"x");
    let h = header_bytes(&[root]);
    // varint(len) a2 65 "roots" 81 d8 2a ... 67 "version" 01
    assert_eq!(h[0] as usize, h.len() - 1);
    assert_eq!(&h[1..8], b"\xa2\x65roots");
    assert!(h.ends_with(b"\x67version\x01"));
}

#[test]
fn iterator_yields_blocks_then_stops_after_an_error() {
    let (mut bytes, blocks) = small_car();
    bytes.extend_from_slice(&[0x05, 0x01]); // truncated trailing section
    let mut r = CarReader::new(&bytes[..]).unwrap();
    for (c, d) in &blocks {
        let (rc, rd) = r.next().unwrap().unwrap();
        assert_eq!((&rc, &rd[..]), (c, &d[..]));
    }
    assert!(r.next().unwrap().is_err());
    assert!(r.next().is_none());
    assert!(r.next_block().unwrap().is_none());
}

#[test]
fn header_errors() {
    assert!(car_err(b"").contains("empty input"));
    assert!(car_err(&[0x80]).contains("truncated header length varint"));
    assert!(car_err(&[0x00]).contains("zero length"));
    assert!(car_err(&[0x05, 0xa1]).contains("truncated header"));
    // Garbage that is not dag-cbor.
    assert!(car_err(&[0x03, 0xff, 0xff, 0xff]).contains("invalid header"));
    // A header that is not a map.
    assert!(car_err(&[0x01, 0x01]).contains("not a map"));
    // Header without roots, with a bad version, with non-link roots.
    let enc = |v: &ipld_core::ipld::Ipld| {
        let body = serde_ipld_dagcbor::to_vec(v).unwrap();
        let mut out = varint(body.len() as u64);
        out.extend(body);
        out
    };
    use ipld_core::ipld::Ipld;
    let map = |pairs: Vec<(&str, Ipld)>| {
        Ipld::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    };
    assert!(car_err(&enc(&map(vec![("version", Ipld::Integer(1))]))).contains("missing roots"));
    assert!(car_err(&enc(&map(vec![("roots", Ipld::List(vec![]))]))).contains("missing version"));
    let v3 = map(vec![
        ("version", Ipld::Integer(3)),
        ("roots", Ipld::List(vec![])),
    ]);
    assert!(car_err(&enc(&v3)).contains("invalid car version: 3"));
    let neg = map(vec![
        ("version", Ipld::Integer(-1)),
        ("roots", Ipld::List(vec![])),
    ]);
    assert!(car_err(&enc(&neg)).contains("invalid car version"));
    let bad_roots = map(vec![
        ("version", Ipld::Integer(1)),
        ("roots", Ipld::List(vec![Ipld::Integer(1)])),
    ]);
    assert!(car_err(&enc(&bad_roots)).contains("not a CID"));
    let roots_not_list = map(vec![
        ("version", Ipld::Integer(1)),
        ("roots", Ipld::Integer(1)),
    ]);
    assert!(car_err(&enc(&roots_not_list)).contains("not a list"));
    let ver_str = map(vec![
        ("version", Ipld::String("1".into())),
        ("roots", Ipld::List(vec![])),
    ]);
    assert!(car_err(&enc(&ver_str)).contains("not an integer"));
    // Header over the configured limit.
    let (bytes, _) = small_car();
    let opts = CarReaderOptions {
        max_header: 10,
        ..Default::default()
    };
    match CarReader::with_options(&bytes[..], opts) {
        Err(Error::Car(m)) => assert!(m.contains("exceeds the 10-byte limit"), "{m}"),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[test]
fn section_errors() {
    let (bytes, _) = small_car();
    let header_len = header_bytes(&[raw_cid(b"hello")]).len();
    let header = &bytes[..header_len];
    let with = |tail: &[u8]| {
        let mut b = header.to_vec();
        b.extend_from_slice(tail);
        b
    };

    // Section length larger than what is left.
    let m = car_err(&with(&[0x40, 1, 2, 3]));
    assert!(m.contains("length says 64 bytes, only 3 remain"), "{m}");
    // Truncated length varint.
    assert!(car_err(&with(&[0xff])).contains("truncated section length varint"));
    // Overlong and non-minimal varints.
    assert!(car_err(&with(&[0xff; 11])).contains("overflows 64 bits"));
    assert!(car_err(&with(&[0x80, 0x00])).contains("not minimally encoded"));
    // Zero-length section.
    assert!(car_err(&with(&[0x00])).contains("zero-length section"));
    // Over the section cap (checked before reading anything).
    let m = car_err(&with(&varint(9 << 20)));
    assert!(m.contains("over the 8388608-byte limit"), "{m}");
    // A section that is not a CID.
    let m = car_err(&with(&[0x03, 0x05, 0x05, 0x05]));
    assert!(m.contains("invalid CID in section"), "{m}");
    // Data that does not hash to the CID: the error names the CID.
    let cid = raw_cid(b"right");
    let mut sec = cid.to_bytes();
    sec.extend_from_slice(b"wrong");
    let mut tail = varint(sec.len() as u64);
    tail.extend(sec);
    let m = car_err(&with(&tail));
    assert!(
        m.contains(&cid.to_string()) && m.contains("does not match"),
        "{m}"
    );
    // A hash function we cannot check.
    let sha1 = Cid::new_v1(
        codecs::RAW,
        ferrite_ipld::Multihash::wrap(0x11, &[0; 20]).unwrap(),
    );
    let mut sec = sha1.to_bytes();
    sec.extend_from_slice(b"x");
    let mut tail = varint(sec.len() as u64);
    tail.extend(sec);
    let m = car_err(&with(&tail));
    assert!(m.contains("unsupported hash function 0x11"), "{m}");
    // Identity blocks whose data differs from the digest.
    let id = Cid::new_v1(codecs::RAW, HashAlg::Identity.digest(b"abc"));
    let mut sec = id.to_bytes();
    sec.extend_from_slice(&[9u8; 100]);
    let mut tail = varint(sec.len() as u64);
    tail.extend(sec);
    assert!(car_err(&with(&tail)).contains("does not match"));

    // With verification off the mismatching block is accepted.
    let mut sec = cid.to_bytes();
    sec.extend_from_slice(b"wrong");
    let mut tail = varint(sec.len() as u64);
    tail.extend(sec);
    let opts = CarReaderOptions {
        verify: false,
        ..Default::default()
    };
    let unverified = with(&tail);
    let r = CarReader::with_options(&unverified[..], opts).unwrap();
    let got: Vec<_> = r.collect::<ferrite_ipld::Result<_>>().unwrap();
    assert_eq!(got.len(), 1);

    // A smaller configured section cap.
    let opts = CarReaderOptions {
        max_section: 8,
        ..Default::default()
    };
    let mut r = CarReader::with_options(&bytes[..], opts).unwrap();
    match r.next_block() {
        Err(Error::Car(m)) => assert!(m.contains("over the 8-byte limit"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn carv2_errors() {
    let (v1, blocks) = small_car();
    // Payload read, index ignored, zero padding skipped.
    let (_, b) = read_all(&wrap_v2(&v1, 100)).unwrap();
    assert_eq!(b, blocks);

    // Data offset inside the header.
    let mut bad = wrap_v2(&v1, 0);
    bad[27..35].copy_from_slice(&10u64.to_le_bytes());
    assert!(car_err(&bad).contains("points inside the header"));
    // Data offset past the end.
    let mut bad = wrap_v2(&v1, 0);
    bad[27..35].copy_from_slice(&1_000_000u64.to_le_bytes());
    assert!(car_err(&bad).contains("past the end"));
    // Truncated fixed header.
    assert!(car_err(&wrap_v2(&v1, 0)[..30]).contains("truncated CARv2 header"));
    // Payload shorter than its declared size.
    let full = wrap_v2(&v1, 0);
    let m = car_err(&full[..51 + v1.len() - 3]);
    assert!(m.contains("truncated"), "{m}");
    // Declared size cuts the last section in half.
    let mut cut = wrap_v2(&v1, 0);
    cut[35..43].copy_from_slice(&((v1.len() - 3) as u64).to_le_bytes());
    let m = car_err(&cut);
    assert!(m.contains("CARv2 payload has only"), "{m}");
    // Declared size ends between sections: the blocks before are fine.
    let mut exact = wrap_v2(&v1, 0);
    let last = blocks.last().unwrap();
    let last_len = 1 + last.0.to_bytes().len() + last.1.len();
    exact[35..43].copy_from_slice(&((v1.len() - last_len) as u64).to_le_bytes());
    let (_, b) = read_all(&exact).unwrap();
    assert_eq!(b.len(), blocks.len() - 1);
    // Declared size shorter than the inner header.
    let mut tiny = wrap_v2(&v1, 0);
    tiny[35..43].copy_from_slice(&5u64.to_le_bytes());
    assert!(car_err(&tiny).contains("CARv2 payload: truncated header"));
    // A CARv2 whose payload claims to be a CARv2 again.
    let mut nested = CARV2_PRAGMA.to_vec();
    nested.extend_from_slice(&[0u8; 16]);
    nested.extend_from_slice(&51u64.to_le_bytes());
    nested.extend_from_slice(&11u64.to_le_bytes());
    nested.extend_from_slice(&0u64.to_le_bytes());
    nested.extend_from_slice(&CARV2_PRAGMA);
    assert!(car_err(&nested).contains("CARv2 payload: invalid car version: 2"));
    // A v1-style header that says version 2 but is not the pragma.
    let mut fake = header_bytes(&[]);
    let pos = fake.len() - 1;
    fake[pos] = 2;
    assert!(car_err(&fake).contains("invalid CARv2 pragma"));
}

/// xorshift64*: deterministic pseudo-randomness without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Reads everything, never panicking; every block it accepts must verify.
fn exercise(bytes: &[u8]) {
    if let Ok(r) = CarReader::new(bytes) {
        for b in r {
            match b {
                Ok((c, d)) => assert!(ferrite_ipld::verify(&c, &d).unwrap()),
                Err(_) => break,
            }
        }
    }
}

#[test]
fn fuzz_truncated_and_mutated_cars_never_panic() {
    let (v1, _) = small_car();
    let v2 = wrap_v2(&v1, 3);
    let kubo = fixture("TestDagStat.car");
    let kubo2 = fixture("TestDagStatCARv2.car");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for base in [&v1, &v2, &kubo, &kubo2] {
        // Every truncation: must be a clean success (only at section
        // boundaries) or an error.
        for n in 0..base.len() {
            exercise(&base[..n]);
        }
        for _ in 0..3000 {
            let mut m = base.to_vec();
            for _ in 0..1 + rng.below(4) {
                match rng.below(4) {
                    0 => {
                        let i = rng.below(m.len());
                        m[i] = rng.next() as u8;
                    }
                    1 => {
                        let i = rng.below(m.len());
                        m[i] ^= 1 << rng.below(8);
                    }
                    2 => {
                        let i = rng.below(m.len() + 1);
                        m.insert(i, rng.next() as u8);
                    }
                    _ => {
                        if m.len() > 1 {
                            let i = rng.below(m.len());
                            m.remove(i);
                        }
                    }
                }
            }
            exercise(&m);
        }
    }
    // Pure garbage, with and without a plausible start.
    for _ in 0..3000 {
        let len = rng.below(200);
        let mut g: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if rng.below(2) == 0 && !g.is_empty() {
            g[0] = (g.len() as u8).saturating_sub(1).min(0x7f);
        }
        exercise(&g);
        let mut p = CARV2_PRAGMA.to_vec();
        p.extend_from_slice(&g);
        exercise(&p);
    }
}
