//! Lists and maps nested inside one block: up to `MAX_NESTING` levels work in
//! every codec, deeper ones are clean errors, never a stack overflow.

use ferrite_ipld::dag::{self, PutOptions, MAX_NESTING};
use ferrite_ipld::{codec, codecs, Cid, HashAlg, Ipld};

/// `depth` lists, each holding only the next; the innermost holds a link.
fn nested(depth: usize) -> Ipld {
    let cid = Cid::new_v1(codecs::RAW, HashAlg::Sha2_256.digest(b"x"));
    (0..depth).fold(Ipld::Link(cid), |v, _| Ipld::List(vec![v]))
}

/// Takes a nested value apart level by level: its recursive drop would
/// overflow the stack on values this deep.
fn drop_deep(mut v: Ipld) {
    while let Ipld::List(mut l) = v {
        match l.pop() {
            Some(inner) => v = inner,
            None => break,
        }
    }
}

fn cbor_lists(depth: usize) -> Vec<u8> {
    let mut b = vec![0x81; depth];
    b.push(0x80);
    b
}

fn cbor_maps(depth: usize) -> Vec<u8> {
    let mut b = [0xa1, 0x61, b'a'].repeat(depth);
    b.push(0xa0);
    b
}

fn err(r: ferrite_ipld::Result<impl std::fmt::Debug>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn half_a_million_nested_levels_are_refused_cleanly() {
    let too_deep = format!("nesting deeper than {MAX_NESTING}");
    for (codec, block) in [
        (codecs::DAG_CBOR, cbor_lists(500_000)),
        (codecs::DAG_CBOR, cbor_maps(500_000)),
        (codecs::CBOR, cbor_lists(500_000)),
    ] {
        let e = err(dag::decode_codec(codec, &block));
        assert!(e.contains(&too_deep), "{e}");
        let cid = Cid::new_v1(codec, HashAlg::Sha2_256.digest(&block));
        assert!(err(codec::links(&cid, &block)).contains(&too_deep));
    }
    for codec in [codecs::DAG_JSON, codecs::JSON] {
        let json = "[".repeat(500_000) + &"]".repeat(500_000);
        let e = err(dag::decode_codec(codec, json.as_bytes()));
        assert!(e.contains("nesting depth"), "{e}");
    }

    let value = nested(500_000);
    for codec in [codecs::DAG_CBOR, codecs::DAG_JSON, codecs::DAG_PB] {
        let e = err(dag::encode(&value, codec));
        assert!(e.contains(&too_deep) || codec == codecs::DAG_PB, "{e}");
    }
    assert_eq!(codec::ipld_links(&value).len(), 1);
    drop_deep(value);
}

#[test]
fn every_codec_takes_the_deepest_allowed_nesting() {
    for codec in [codecs::DAG_CBOR, codecs::CBOR] {
        assert!(dag::decode_codec(codec, &cbor_lists(MAX_NESTING - 1)).is_ok());
        assert!(dag::decode_codec(codec, &cbor_maps(MAX_NESTING - 1)).is_ok());
        let e = err(dag::decode_codec(codec, &cbor_lists(MAX_NESTING)));
        assert!(e.contains("nesting deeper than"), "{e}");
    }

    // What `dag put` accepts as dag-json it stores as dag-cbor, and both
    // read back (dag-cbor used to stop at 256 levels).
    let json = "[".repeat(MAX_NESTING) + &"]".repeat(MAX_NESTING);
    let (cid, block) = dag::put(json.as_bytes(), &PutOptions::default()).unwrap();
    let v = dag::decode(&cid, &block).unwrap();
    assert_eq!(dag::encode(&v, codecs::DAG_JSON).unwrap(), json.as_bytes());

    // What encodes decodes; in dag-json a link is one more level (a map).
    for (codec, lists) in [
        (codecs::DAG_CBOR, MAX_NESTING),
        (codecs::DAG_JSON, MAX_NESTING - 1),
    ] {
        let v = nested(lists);
        let block = dag::encode(&v, codec).unwrap();
        assert_eq!(dag::decode_codec(codec, &block).unwrap(), v);
        let e = err(dag::encode(&Ipld::List(vec![v]), codec));
        assert!(e.contains("nesting deeper than"), "{e}");
    }
}
