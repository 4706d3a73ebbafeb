//! `dag put/get/resolve` against Kubo's sharness vectors (t0053-dag.sh)
//! and every error path of the data-model layer.

use bytes::Bytes;
use ferrite_ipld::car::CarReader;
use ferrite_ipld::dag::{
    self, get, put, resolve, to_output, walk_node, DagPath, PathMode, PathResolver, PutOptions,
    Resolved, Walk,
};
use ferrite_ipld::dagpb::{PbLink, PbNode};
use ferrite_ipld::{codecs, Cid, Error, HashAlg};
use ipld_core::ipld::Ipld;
use std::collections::HashMap;

/// An in-memory block store.
#[derive(Default)]
struct Store(HashMap<Cid, Bytes>);

impl Store {
    fn add(&mut self, cid: Cid, data: Vec<u8>) -> Cid {
        self.0.insert(cid, Bytes::from(data));
        cid
    }
    fn put(&mut self, input: &[u8], opts: &PutOptions) -> Cid {
        let (cid, block) = put(input, opts).unwrap();
        self.add(cid, block)
    }
    fn loader(&self) -> impl FnMut(&Cid) -> ferrite_ipld::Result<Option<Bytes>> + '_ {
        |c| Ok(self.0.get(c).cloned())
    }
    fn get_json(&self, path: &str) -> String {
        let p = DagPath::parse(path).unwrap();
        let v = get(&p, self.loader()).unwrap();
        String::from_utf8(to_output(&v, codecs::DAG_JSON).unwrap()).unwrap()
    }
    fn get_err(&self, path: &str) -> String {
        let p = DagPath::parse(path).unwrap();
        get(&p, self.loader()).unwrap_err().to_string()
    }
    fn resolve(&self, path: &str) -> Resolved {
        resolve(&DagPath::parse(path).unwrap(), self.loader()).unwrap()
    }
}

fn opts(input: &str, store: &str) -> PutOptions {
    PutOptions::from_names(input, store, "sha2-256").unwrap()
}

/// The block `ipfs add` makes for a small file: a dag-pb node whose Data is
/// UnixFS {Type: File, Data: content, filesize}.
fn unixfs_file(content: &[u8]) -> Vec<u8> {
    let mut d = vec![0x08, 0x02, 0x12, content.len() as u8];
    d.extend_from_slice(content);
    d.extend_from_slice(&[0x18, content.len() as u8]);
    PbNode {
        links: vec![],
        data: Some(d),
    }
    .encode()
}

fn add_file(store: &mut Store, content: &[u8]) -> Cid {
    let block = unixfs_file(content);
    let cid = Cid::new_v0(HashAlg::Sha2_256.digest(&block)).unwrap();
    store.add(cid, block)
}

fn b64(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// t0053's hello-world object, linking three small files.
fn hello_world(store: &mut Store) -> (String, Cid, Cid, Cid) {
    let h1 = add_file(store, b"foo\n");
    let h2 = add_file(store, b"bar\n");
    let h3 = add_file(store, b"baz\n");
    let obj = format!(
        r#"{{"hello":"world","cats":[{{"/":"{h1}"}},{{"water":{{"/":"{h2}"}}}}],"magic":{{"/":"{h3}"}},"sub":{{"dict":"ionary","beep":[0,"bop"]}}}}"#
    );
    (obj, h1, h2, h3)
}

#[test]
fn t0053_hello_world_cids() {
    let mut store = Store::default();
    let (obj, ..) = hello_world(&mut store);
    let d = PutOptions::default();
    assert_eq!(
        store.put(obj.as_bytes(), &d).to_string(),
        "bafyreiblwimnjbqcdoeafiobk6q27jcw64ew7n2fmmhdpldd63edmjecde"
    );
    assert_eq!(
        store
            .put(obj.as_bytes(), &opts("dag-json", "dag-json"))
            .to_string(),
        "baguqeera6gviseelmbzn2ugoddo5vulxlshqs3kw5ymgsb6w4cabnoh4ldpa"
    );
    let sha3 = PutOptions::from_names("dag-json", "dag-cbor", "sha3-512").unwrap();
    assert_eq!(
        put(obj.as_bytes(), &sha3).unwrap().0.to_string(),
        "bafyriqforjma7y7akqz7nhuu73r6liggj5zhkbfiqgicywe3fgkna2ijlhod2af3ue7doj56tlzt5hh6iu5esafc4msr3sd53jol5m2o25ucy"
    );
}

#[test]
fn t0053_same_object_in_three_codecs() {
    let inputs = [
        ("dag-cbor", b64("omREYXRhRQABAgMEZUxpbmtzgA==")),
        ("dag-pb", b64("CgUAAQIDBA==")),
        (
            "dag-json",
            br#"{"Data":{"/":{"bytes":"AAECAwQ"}},"Links":[]}"#.to_vec(),
        ),
    ];
    let expected = [
        (
            "dag-cbor",
            "bafyreieculsmrexh3ty5jentbvuku452o27mst4h2tq2rb2zntqhgcstji",
        ),
        (
            "dag-pb",
            "bafybeibazl2z4vqp2tmwcfag6wirmtpnomxknqcgrauj7m2yisrz3qjbom",
        ),
        (
            "dag-json",
            "baguqeerajwksxu3lxpomdwxvosl542zl3xknhjgxtq3277gafrhl6vdw5tcq",
        ),
    ];
    let mut store = Store::default();
    for (input_codec, input) in &inputs {
        for (store_codec, want) in expected {
            let cid = store.put(input, &opts(input_codec, store_codec));
            assert_eq!(cid.to_string(), want, "{input_codec} -> {store_codec}");
        }
    }
    // All three print the same dag-json.
    let outs: Vec<String> = expected.iter().map(|(_, c)| store.get_json(c)).collect();
    assert_eq!(outs[0], r#"{"Data":{"/":{"bytes":"AAECAwQ"}},"Links":[]}"#);
    assert!(outs.iter().all(|o| *o == outs[0]));

    // dag-pb transcoded to dag-cbor hashes to t0053's multihash, and putting
    // that output back gives the dag-cbor CID.
    let pb = ferrite_ipld::parse_cid(expected[1].1).unwrap();
    let node = dag::decode(&pb, &store.0[&pb]).unwrap();
    let cbor = to_output(&node, codecs::DAG_CBOR).unwrap();
    let mh = HashAlg::Sha2_256.digest(&cbor).to_bytes();
    let hex: String = mh.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "122082a2e4c892e7dcf1d491b30d68aa73ba76bec94f87d4e1a887596ce0730a534a"
    );
    assert_eq!(
        put(&cbor, &opts("dag-cbor", "dag-cbor"))
            .unwrap()
            .0
            .to_string(),
        expected[0].1
    );

    // Traversal with /ipld/ follows the dag-pb data model.
    assert_eq!(
        store.get_json(&format!("/ipld/{}/Data", expected[1].1)),
        r#"{"/":{"bytes":"AAECAwQ"}}"#
    );
}

#[test]
fn t0053_paths_and_sub_objects() {
    let mut store = Store::default();
    let (obj, h1, h2, h3) = hello_world(&mut store);
    let root = store.put(obj.as_bytes(), &PutOptions::default());
    let cases = [
        ("hello", r#""world""#),
        ("sub", r#"{"beep":[0,"bop"],"dict":"ionary"}"#),
        ("sub/beep", r#"[0,"bop"]"#),
        ("sub/beep/0", "0"),
        ("sub/beep/1", r#""bop""#),
        // Crossing into the UnixFS file nodes (t0053 "dag get with a path").
        (
            "cats/0",
            r#"{"Data":{"/":{"bytes":"CAISBGZvbwoYBA"}},"Links":[]}"#,
        ),
    ];
    for (p, want) in cases {
        assert_eq!(store.get_json(&format!("{root}/{p}")), want, "{p}");
        assert_eq!(store.get_json(&format!("/ipfs/{root}/{p}")), want, "{p}");
    }
    // The links t0053 `ipfs cat`s through.
    assert_eq!(store.resolve(&format!("{root}/cats/0")).cid, h1);
    assert_eq!(store.resolve(&format!("{root}/cats/1/water")).cid, h2);
    assert_eq!(store.resolve(&format!("{root}/magic")).cid, h3);
    // `dag get` output re-imports to the same CID.
    let out = store.get_json(&root.to_string());
    assert!(out.contains(r#"{"/":"Qm"#));
    assert_eq!(put(out.as_bytes(), &PutOptions::default()).unwrap().0, root);
}

#[test]
fn t0053_protobuf_file_view() {
    let mut store = Store::default();
    let f = add_file(&mut store, b"foobar\n");
    assert_eq!(
        store.get_json(&f.to_string()),
        r#"{"Data":{"/":{"bytes":"CAISB2Zvb2JhcgoYBw"}},"Links":[]}"#
    );
}

#[test]
fn t0053_non_canonical_cbor_is_normalized() {
    let input = std::fs::read(format!(
        "{}/tests/fixtures/non-canon.cbor",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut store = Store::default();
    let cid = store.put(&input, &opts("dag-cbor", "dag-cbor"));
    assert_eq!(
        cid.to_string(),
        "bafyreiawx7ona7oa2ptcoh6vwq4q6bmd7x2ibtkykld327bgb7t73ayrqm"
    );
    // The other link is not in the store, but /arr stays inside the block.
    assert_eq!(store.get_json(&format!("{cid}/arr")), "[]");
}

#[test]
fn t0053_small_puts_and_resolve() {
    let mut store = Store::default();
    let d = PutOptions::default();
    assert_eq!(
        store.put(br#"{"foo":"bar"}"#, &d).to_string(),
        "bafyreiblaotetvwobe7cu2uqvnddr6ew2q3cu75qsoweulzku2egca4dxq"
    );
    assert_eq!(
        store.put(br#"{"foo":"baz"}"#, &d).to_string(),
        "bafyreibqp7zvp6dvrqhtkbwuzzk7jhtmfmngtiqjajqpm6gtw55o7kqzfi"
    );
    let nested = store.put(b"{\"data\":123}\n", &d);
    let top = store.put(
        format!("{{\"obj\":{{\"/\":\"{nested}\"}}}}\n").as_bytes(),
        &d,
    );
    assert_eq!(
        store.resolve(&top.to_string()),
        Resolved {
            cid: top,
            remainder: vec![]
        }
    );
    assert_eq!(
        store.resolve(&format!("{top}/obj")),
        Resolved {
            cid: nested,
            remainder: vec![]
        }
    );
    assert_eq!(
        store.resolve(&format!("{top}/obj/data")),
        Resolved {
            cid: nested,
            remainder: vec!["data".into()]
        }
    );
    // Multi-segment remainders inside one block.
    let deep = store.put(br#"{"a":{"b":[{"c":true}]}}"#, &d);
    assert_eq!(
        store.resolve(&format!("{deep}/a/b/0/c")).remainder,
        vec!["a", "b", "0", "c"]
    );
    assert_eq!(store.get_json(&format!("{deep}/a/b/0/c")), "true");
}

#[test]
fn t0053_dag_pb_round_trips_through_dag_json() {
    // `ipfs add -w test_file` (test_file = "foo\n"): a folder with one link.
    let mut store = Store::default();
    let file = add_file(&mut store, b"foo\n");
    let dir_block = PbNode {
        links: vec![PbLink::new(
            file,
            "test_file",
            unixfs_file(b"foo\n").len() as u64,
        )],
        data: Some(vec![0x08, 0x01]),
    }
    .encode();
    let dir = Cid::new_v1(codecs::DAG_PB, HashAlg::Sha2_256.digest(&dir_block));
    store.add(dir, dir_block.clone());
    let json = store.get_json(&dir.to_string());
    assert_eq!(
        json,
        format!(
            r#"{{"Data":{{"/":{{"bytes":"CAE"}}}},"Links":[{{"Hash":{{"/":"{file}"}},"Name":"test_file","Tsize":12}}]}}"#
        )
    );
    assert_eq!(
        put(json.as_bytes(), &opts("dag-json", "dag-pb")).unwrap().0,
        dir
    );
    assert_eq!(put(&dir_block, &opts("dag-pb", "dag-pb")).unwrap().0, dir);
    // Raw in, raw out.
    let (cid, block) = put(b"foo bar\n", &opts("raw", "raw")).unwrap();
    assert_eq!(block, b"foo bar\n");
    assert_eq!(cid.codec(), codecs::RAW);
    // Empty folder, the brief's example.
    let empty = PbNode {
        links: vec![],
        data: Some(vec![8, 1]),
    }
    .encode();
    let v = dag::decode_codec(codecs::DAG_PB, &empty).unwrap();
    assert_eq!(
        to_output(&v, codecs::DAG_JSON).unwrap(),
        br#"{"Data":{"/":{"bytes":"CAE"}},"Links":[]}"#
    );
}

#[test]
fn dag_pb_encoding_sorts_links_and_keeps_absent_fields_absent() {
    let a = Cid::new_v1(codecs::RAW, HashAlg::Sha2_256.digest(b"a"));
    let json = format!(
        r#"{{"Links":[{{"Hash":{{"/":"{a}"}},"Name":"b"}},{{"Hash":{{"/":"{a}"}}}},{{"Hash":{{"/":"{a}"}},"Name":"a","Tsize":3}}]}}"#
    );
    let (_, block) = put(json.as_bytes(), &opts("dag-json", "dag-pb")).unwrap();
    let node = PbNode::decode(&block).unwrap();
    let names: Vec<_> = node.links.iter().map(|l| l.name.clone()).collect();
    assert_eq!(names, vec![None, Some("a".into()), Some("b".into())]);
    assert_eq!(node.data, None);
    assert_eq!(node.links[1].tsize, Some(3));
    assert_eq!(node.links[0].tsize, None);
    let out = to_output(&dag::pb_to_ipld(&node), codecs::DAG_JSON).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!(
            r#"{{"Links":[{{"Hash":{{"/":"{a}"}}}},{{"Hash":{{"/":"{a}"}},"Name":"a","Tsize":3}},{{"Hash":{{"/":"{a}"}},"Name":"b"}}]}}"#
        )
    );
}

#[test]
fn put_errors_match_kubo() {
    let e = |r: ferrite_ipld::Result<PutOptions>| r.unwrap_err().to_string();
    assert_eq!(
        e(PutOptions::from_names("foo", "dag-cbor", "sha2-256")),
        r#"unknown multicodec: "foo""#
    );
    assert_eq!(
        e(PutOptions::from_names("dag-json", "bar", "sha2-256")),
        r#"unknown multicodec: "bar""#
    );
    assert_eq!(
        e(PutOptions::from_names("dag-json", "dag-cbor", "sha9")),
        r#"unknown multicodec: "sha9""#
    );
    assert!(e(PutOptions::from_names("dag-json", "dag-cbor", "md5"))
        .contains("unsupported hash function"));
    assert_eq!(
        e(PutOptions::from_names("git-raw", "dag-cbor", "sha2-256")),
        "no decoder registered for multicodec code 120 (0x78)"
    );
    assert_eq!(
        e(PutOptions::from_names("dag-json", "dag-jose", "sha2-256")),
        "no encoder registered for multicodec code 133 (0x85)"
    );
    // Numeric codes work like in go-multicodec.
    assert_eq!(
        PutOptions::from_names("0x0129", "113", "sha2-256").unwrap(),
        PutOptions::default()
    );
    assert_eq!(
        PutOptions::from_names("json", "cbor", "blake3")
            .unwrap()
            .store_codec,
        codecs::CBOR
    );

    let d = PutOptions::default();
    for bad in [
        &b""[..],
        b"{",
        b"{\"a\":}",
        b"[1 2]",
        b"{} x",
        b"{\"/\":\"nope\"}",
        b"nul",
    ] {
        assert!(put(bad, &d).is_err(), "{:?}", String::from_utf8_lossy(bad));
    }
    assert!(put(b"{\"a\":1}", &d).is_ok());
    // Shapes dag-pb rejects.
    let pb = opts("dag-json", "dag-pb");
    for (bad, msg) in [
        (r#"[]"#, "expected a map"),
        (
            r#"{"Data":{"/":{"bytes":""}}}"#,
            "missing required field Links",
        ),
        (r#"{"Links":[],"Extra":1}"#, r#"unknown field "Extra""#),
        (r#"{"Links":[],"Data":"str"}"#, "Data must be bytes"),
        (r#"{"Links":{}}"#, "Links must be a list"),
        (r#"{"Links":[1]}"#, "link must be a map"),
        (r#"{"Links":[{}]}"#, "link must have a Hash"),
        (r#"{"Links":[{"Hash":"x"}]}"#, "Hash must be a link"),
        (
            r#"{"Links":[{"Hash":{"/":"bafkqaaa"},"Name":1}]}"#,
            "Name must be a string",
        ),
        (
            r#"{"Links":[{"Hash":{"/":"bafkqaaa"},"Tsize":-1}]}"#,
            "Link has negative Tsize value [-1]",
        ),
        (
            r#"{"Links":[{"Hash":{"/":"bafkqaaa"},"Tsize":1.5}]}"#,
            "Tsize must be an int",
        ),
        (
            r#"{"Links":[{"Hash":{"/":"bafkqaaa"},"X":1}]}"#,
            r#"unknown field "X""#,
        ),
    ] {
        let err = put(bad.as_bytes(), &pb).unwrap_err().to_string();
        assert!(err.contains(msg), "{bad}: {err}");
    }
    // raw only stores bytes; cbor and json have no links; json no bytes.
    assert!(put(b"{}", &opts("dag-json", "raw"))
        .unwrap_err()
        .to_string()
        .contains("only encode bytes"));
    let link = br#"{"/":"bafkqaaa"}"#;
    assert!(put(link, &opts("dag-json", "cbor")).is_err());
    assert!(put(link, &opts("dag-json", "json")).is_err());
    assert!(put(br#"{"/":{"bytes":"AA"}}"#, &opts("dag-json", "json")).is_err());
    // json input keeps "/" maps as maps, so the same text is fine there.
    assert!(put(link, &opts("json", "json")).is_ok());
    // Plain cbor input refuses tag 42.
    let (_, with_link) = put(link, &d).unwrap();
    assert!(put(&with_link, &opts("cbor", "dag-cbor")).is_err());
    assert!(put(&with_link, &opts("dag-cbor", "dag-cbor")).is_ok());
    // Bad dag-cbor and dag-pb input.
    assert!(put(&[0xff, 0x00], &opts("dag-cbor", "dag-cbor")).is_err());
    assert!(put(&[0xa1], &opts("dag-cbor", "dag-cbor")).is_err());
    assert!(put(&[0x12, 0x05], &opts("dag-pb", "dag-cbor")).is_err());
}

#[test]
fn put_block_size_limit() {
    let big = vec![0u8; 2 * 1024 * 1024 + 1];
    let mut o = opts("raw", "raw");
    let err = put(&big, &o).unwrap_err().to_string();
    assert!(err.contains("produced block is over 2MiB"), "{err}");
    o.allow_big_block = true;
    assert!(put(&big, &o).is_ok());
    let exact = vec![0u8; 2 * 1024 * 1024];
    assert!(put(&exact, &opts("raw", "raw")).is_ok());
    // Identity hashes must fit the CID.
    let mut id = opts("raw", "raw");
    id.hash = HashAlg::Identity;
    let (cid, _) = put(b"test", &id).unwrap();
    assert_eq!(cid.to_string(), "bafkqabdumvzxi");
    assert!(put(&[1u8; 65], &id)
        .unwrap_err()
        .to_string()
        .contains("does not fit"));
}

#[test]
fn dag_json_output_details() {
    let d = PutOptions::default();
    let mut store = Store::default();
    let c = store.put(
        br#"{"f":1.0,"g":0.5,"h":-1e-7,"i":1e21,"s":"a\"b\\c\u0001\u2028<>&","n":null,"t":[true,false],"neg":-5,"big":9007199254740993}"#,
        &d,
    );
    assert_eq!(
        store.get_json(&c.to_string()),
        r#"{"big":9007199254740993,"f":1,"g":0.5,"h":-1e-7,"i":1e+21,"n":null,"neg":-5,"s":"a\"b\\c\u0001\u2028<>&","t":[true,false]}"#
    );
    // The float stays a float in dag-cbor even though dag-json prints "1".
    let v = dag::decode(&c, &store.0[&c]).unwrap();
    let Ipld::Map(m) = v else { panic!() };
    assert_eq!(m["f"], Ipld::Float(1.0));
    // A raw block prints as bytes.
    let raw = store.put(b"hi", &opts("raw", "raw"));
    assert_eq!(store.get_json(&raw.to_string()), r#"{"/":{"bytes":"aGk"}}"#);
    // Output codecs: names, and Kubo's error for codecs without an encoder.
    assert_eq!(
        dag::output_codec_from_name("dag-cbor").unwrap(),
        codecs::DAG_CBOR
    );
    assert_eq!(
        dag::output_codec_from_name("git-raw")
            .unwrap_err()
            .to_string(),
        "invalid encoding: git-raw - no encoder registered for multicodec code 120 (0x78)"
    );
    assert_eq!(
        dag::output_codec_from_name("nope").unwrap_err().to_string(),
        r#"unknown multicodec: "nope""#
    );
    // raw output of a non-bytes node, dag-pb output of a non-PB node.
    let v = Ipld::Map(Default::default());
    assert!(to_output(&v, codecs::RAW).is_err());
    assert!(to_output(&v, codecs::DAG_PB).is_err());
    assert_eq!(
        to_output(&Ipld::Bytes(b"x".to_vec()), codecs::RAW).unwrap(),
        b"x"
    );
    assert!(to_output(&Ipld::Float(f64::NAN), codecs::DAG_JSON).is_err());
    assert!(matches!(
        dag::encode(&v, 0x78),
        Err(Error::UnsupportedCodec(0x78))
    ));
    assert!(matches!(
        dag::decode_codec(0x78, b""),
        Err(Error::UnsupportedCodec(0x78))
    ));
}

#[test]
fn path_errors_match_go_ipld_prime() {
    let mut store = Store::default();
    let d = PutOptions::default();
    let c = store.put(br#"{"m":{"k":1},"l":[1,2],"s":"str","n":null}"#, &d);
    let cases = [
        ("m/x", r#"key not found: "x""#.to_string()),
        ("l/5", r#"key not found: "5""#.into()),
        ("l/-1", r#"key not found: "-1""#.into()),
        (
            "l/x",
            r#"invalid segment for lookup on a list: "x": strconv.ParseInt: parsing "x": invalid syntax"#.into(),
        ),
        (
            "l/99999999999999999999",
            r#"invalid segment for lookup on a list: "99999999999999999999": strconv.ParseInt: parsing "99999999999999999999": value out of range"#.into(),
        ),
        (
            "s/x",
            r#"func called on wrong kind: "LookupBySegment" called on a string node (kind: string), but only makes sense on map or list"#.into(),
        ),
        (
            "n/x",
            r#"func called on wrong kind: "LookupBySegment" called on a null node (kind: null), but only makes sense on map or list"#.into(),
        ),
        // Failing before the last segment is "no link named".
        ("x/y", format!(r#"no link named "x" under {c}"#)),
        ("m/x/y", format!(r#"no link named "x" under {c}"#)),
        ("s/x/y", format!(r#"no link named "x" under {c}"#)),
    ];
    for (p, want) in cases {
        assert_eq!(store.get_err(&format!("{c}/{p}")), want, "{p}");
    }
    // `l/+1` is index 1, like Go's ParseInt.
    assert_eq!(store.get_json(&format!("{c}/l/+1")), "2");
    // A missing block is Kubo's "could not find".
    let missing = Cid::new_v1(codecs::DAG_CBOR, HashAlg::Sha2_256.digest(b"nope"));
    let l = store.put(format!(r#"{{"x":{{"/":"{missing}"}}}}"#).as_bytes(), &d);
    assert_eq!(
        store.get_err(&format!("{l}/x/y")),
        format!("ipld: could not find {missing}")
    );
    assert_eq!(
        store.get_err(&format!("{l}/x")),
        format!("ipld: could not find {missing}")
    );
    // But resolving to the link itself needs no load (`dag resolve`).
    assert_eq!(store.resolve(&format!("{l}/x")).cid, missing);
    assert_eq!(
        store.get_err(&missing.to_string()),
        format!("ipld: could not find {missing}")
    );
    // Loader errors pass through.
    let p = DagPath::parse(&format!("{l}/x/y")).unwrap();
    let err = resolve(&p, |_| Err(Error::Path("disk on fire".into()))).unwrap_err();
    assert_eq!(err.to_string(), "disk on fire");
    // A block that does not decode.
    let bad = Cid::new_v1(codecs::DAG_CBOR, HashAlg::Sha2_256.digest(&[0xff]));
    store.add(bad, vec![0xff]);
    assert!(store
        .get_err(&format!("{bad}/a"))
        .contains("invalid dag-cbor block"));
}

#[test]
fn unixfs_and_ipld_path_modes_on_dag_pb() {
    let mut store = Store::default();
    let file = add_file(&mut store, b"foo\n");
    let sub_block = PbNode {
        links: vec![PbLink::new(file, "f", 12)],
        data: Some(vec![8, 1]),
    }
    .encode();
    let sub = Cid::new_v0(HashAlg::Sha2_256.digest(&sub_block)).unwrap();
    store.add(sub, sub_block.clone());
    let dir_block = PbNode {
        links: vec![
            PbLink::new(sub, "sub", sub_block.len() as u64 + 12),
            PbLink::new(file, "Links", 12),
            PbLink::new(file, "dup", 12),
            PbLink::new(sub, "dup", 1),
        ],
        data: Some(vec![8, 1]),
    }
    .encode();
    let dir = Cid::new_v0(HashAlg::Sha2_256.digest(&dir_block)).unwrap();
    store.add(dir, dir_block);

    // /ipfs/: names.
    assert_eq!(store.resolve(&format!("{dir}/sub/f")).cid, file);
    assert_eq!(store.resolve(&format!("/ipfs/{dir}/sub")).cid, sub);
    assert_eq!(
        store.resolve(&format!("{dir}/dup")).cid,
        file,
        "first link wins"
    );
    assert_eq!(
        store.resolve(&format!("{dir}/Links")).cid,
        file,
        "a name, not the field"
    );
    assert_eq!(
        store.get_err(&format!("{dir}/Data")),
        format!(r#"no link named "Data" under {dir}"#)
    );
    assert_eq!(
        store.get_err(&format!("{dir}/nope/x")),
        format!(r#"no link named "nope" under {dir}"#)
    );
    // Below a file there is nothing.
    assert!(store
        .get_err(&format!("{dir}/sub/f/x"))
        .contains("called on a bytes node"));
    assert_eq!(
        store.get_err(&format!("{dir}/sub/f/x/y")),
        format!(r#"no link named "x" under {file}"#)
    );

    // /ipld/: the data model.
    assert_eq!(store.resolve(&format!("/ipld/{dir}/Links/0/Hash")).cid, sub);
    assert_eq!(
        store.get_json(&format!("/ipld/{dir}/Links/0/Name")),
        r#""sub""#
    );
    assert_eq!(
        store.get_json(&format!("/ipld/{dir}/Links/0/Hash/Links/0/Name")),
        r#""f""#
    );
    assert_eq!(
        store.get_json(&format!("/ipld/{dir}/Data")),
        r#"{"/":{"bytes":"CAE"}}"#
    );
    assert_eq!(
        store.resolve(&format!("/ipld/{dir}/Links/1/Tsize")),
        Resolved {
            cid: dir,
            remainder: vec!["Links".into(), "1".into(), "Tsize".into()]
        }
    );
    assert_eq!(
        store.get_err(&format!("/ipld/{dir}/sub")),
        format!(r#"no link named "sub" under {dir}"#)
    );
    assert_eq!(
        store.get_err(&format!("/ipld/{dir}/Links/0/Nope")),
        format!(r#"no link named "Nope" under {dir}"#)
    );
    assert_eq!(
        store.get_err(&format!("/ipld/{dir}/Links/9")),
        r#"key not found: "9""#
    );

    // A dag-cbor node of the dag-pb shape is treated as dag-pb under /ipfs/.
    let cbor = store.put(
        br#"{"Data":{"/":{"bytes":"AAECAwQ"}},"Links":[]}"#,
        &PutOptions::default(),
    );
    assert_eq!(
        store.get_err(&format!("{cbor}/Data")),
        format!(r#"no link named "Data" under {cbor}"#)
    );
    assert_eq!(
        store.get_json(&format!("/ipld/{cbor}/Data")),
        r#"{"/":{"bytes":"AAECAwQ"}}"#
    );

    // Unknown UnixFS types cannot be walked; HAMTs need valid parameters.
    for (data, msg) in [
        (vec![0x08, 0x09], "no reification for this UnixFS node type"),
        (
            vec![0x08, 0x05, 0x12, 0x00, 0x30, 0x80, 0x02],
            "only murmur3",
        ),
        (
            vec![0x08, 0x05, 0x28, 0x22, 0x30, 0x80, 0x02],
            "'Data' field not present",
        ),
        (
            vec![0x08, 0x05, 0x12, 0x00, 0x28, 0x22],
            "'Fanout' field not present",
        ),
        (
            vec![0x08, 0x05, 0x12, 0x00, 0x28, 0x22, 0x30, 0x03],
            "power of two",
        ),
    ] {
        let block = PbNode {
            links: vec![],
            data: Some(data),
        }
        .encode();
        let c = Cid::new_v0(HashAlg::Sha2_256.digest(&block)).unwrap();
        store.add(c, block);
        assert!(store.get_err(&format!("{c}/x")).contains(msg), "{msg}");
        // The whole node is still readable.
        assert!(store.get_json(&c.to_string()).starts_with(r#"{"Data""#));
    }
    // Data that is not UnixFS makes a plain named-link node.
    let odd = PbNode {
        links: vec![PbLink::new(file, "x", 1)],
        data: Some(vec![0xff]),
    }
    .encode();
    let oc = Cid::new_v0(HashAlg::Sha2_256.digest(&odd)).unwrap();
    store.add(oc, odd);
    assert_eq!(store.resolve(&format!("{oc}/x")).cid, file);
}

#[test]
fn hamt_lookup_on_real_shards() {
    let car = std::fs::read(format!(
        "{}/tests/fixtures/wiki-hamt-shards.car",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let r = CarReader::new(&car[..]).unwrap();
    let root = r.roots()[0];
    let mut store = Store::default();
    for b in r {
        let (c, d) = b.unwrap();
        store.add(c, d.to_vec());
    }
    assert_eq!(
        store
            .resolve(&format!("{root}/wiki/Cryptographic_hash_function"))
            .cid
            .to_string(),
        "bafkreicxwdh6zroscaxxdmz547eegkj2627lkcqh24csqygq26kd4bp6gm"
    );
    // go-unixfsnode's test lists these as named links present in the
    // shards we have (their targets are not in the CAR).
    for name in [
        "ICloud_Drive",
        "UK_railway_Signal",
        "Édouard_Bamberger",
        "Australian_House",
    ] {
        let res = store.resolve(&format!("{root}/wiki/{name}"));
        assert_eq!(res.remainder, Vec::<String>::new());
        assert_eq!(res.cid.codec(), codecs::RAW, "{name}");
        let err = store.get_err(&format!("{root}/wiki/{name}"));
        assert_eq!(err, format!("ipld: could not find {}", res.cid));
    }
    // Other names land in buckets whose shards the CAR lacks.
    for i in 0..50 {
        let err = get(
            &DagPath::parse(&format!("{root}/wiki/No_such_page_{i}")).unwrap(),
            store.loader(),
        );
        assert!(matches!(err, Err(Error::NotFound(_))), "{err:?}");
    }
}

/// murmur3-x64-64 as HAMT directories use it, computed independently of
/// the crate (first 8 big-endian bytes of murmur3-x64-128).
fn bucket_bytes(name: &str) -> [u8; 8] {
    (fastmurmur3::murmur3_x64_128(name.as_bytes(), 0) as u64).to_be_bytes()
}

#[test]
fn hamt_two_levels_and_absent_names() {
    let mut store = Store::default();
    let file = add_file(&mut store, b"content");
    let h = bucket_bytes("entry");
    let hamt_data = |fanout_varint: &[u8]| {
        // Type=HAMTShard, Data=bitfield (contents unused by lookups),
        // hashType=murmur3, fanout.
        let mut d = vec![0x08, 0x05, 0x12, 0x01, 0x00, 0x28, 0x22, 0x30];
        d.extend_from_slice(fanout_varint);
        d
    };
    let sub_block = PbNode {
        links: vec![PbLink::new(file, format!("{:02X}entry", h[1]), 20)],
        data: Some(hamt_data(&[0x80, 0x02])),
    }
    .encode();
    let sub = Cid::new_v1(codecs::DAG_PB, HashAlg::Sha2_256.digest(&sub_block));
    store.add(sub, sub_block);
    let root_block = PbNode {
        links: vec![PbLink::new(sub, format!("{:02X}", h[0]), 100)],
        data: Some(hamt_data(&[0x80, 0x02])),
    }
    .encode();
    let root = Cid::new_v1(codecs::DAG_PB, HashAlg::Sha2_256.digest(&root_block));
    store.add(root, root_block);
    assert_eq!(store.resolve(&format!("{root}/entry")).cid, file);
    assert_eq!(
        store.get_json(&format!("{root}/entry")),
        r#"{"Data":{"/":{"bytes":"CAISB2NvbnRlbnQYBw"}},"Links":[]}"#
    );
    // Names whose first bucket is empty, or that share it but differ.
    let mut other_bucket = None;
    let mut same_bucket = None;
    for i in 0..10_000 {
        let n = format!("name{i}");
        let b = bucket_bytes(&n);
        if b[0] == h[0] && same_bucket.is_none() {
            same_bucket = Some(n);
        } else if b[0] != h[0] && other_bucket.is_none() {
            other_bucket = Some(n);
        }
    }
    for n in [other_bucket.unwrap(), same_bucket.unwrap()] {
        assert_eq!(
            store.get_err(&format!("{root}/{n}")),
            format!(r#"no link named "{n}" under {root}"#)
        );
        assert_eq!(
            store.get_err(&format!("{root}/{n}/deeper")),
            format!(r#"no link named "{n}" under {root}"#)
        );
    }
    // A sub-shard that is not a HAMT shard is an error.
    let plain = PbNode {
        links: vec![],
        data: Some(vec![8, 1]),
    }
    .encode();
    let plain_cid = Cid::new_v1(codecs::DAG_PB, HashAlg::Sha2_256.digest(&plain));
    store.add(plain_cid, plain);
    let bad_root = PbNode {
        links: vec![PbLink::new(plain_cid, format!("{:02X}", h[0]), 1)],
        data: Some(hamt_data(&[0x80, 0x02])),
    }
    .encode();
    let bad = Cid::new_v1(codecs::DAG_PB, HashAlg::Sha2_256.digest(&bad_root));
    store.add(bad, bad_root);
    assert!(store
        .get_err(&format!("{bad}/entry"))
        .contains("is not a HAMT shard"));
    // Fanout 16 uses one hex digit per level.
    let small = PbNode {
        links: vec![PbLink::new(file, format!("{:X}entry", h[0] >> 4), 20)],
        data: Some(hamt_data(&[0x10])),
    }
    .encode();
    let small_cid = Cid::new_v1(codecs::DAG_PB, HashAlg::Sha2_256.digest(&small));
    store.add(small_cid, small);
    assert_eq!(store.resolve(&format!("{small_cid}/entry")).cid, file);
}

#[test]
fn partial_car_directory_resolves_names_without_children() {
    let car = std::fs::read(format!(
        "{}/tests/fixtures/partial-dag-scope-entity.car",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let r = CarReader::new(&car[..]).unwrap();
    let root = r.roots()[0];
    assert_eq!(
        root.to_string(),
        "QmPDC11yLAbVw3dX5jMeEuSdk4BiVjSd9X87zaYRdVjzW3"
    );
    let mut store = Store::default();
    let mut node = None;
    for b in r {
        let (c, d) = b.unwrap();
        node = Some(PbNode::decode(&d).unwrap());
        store.add(c, d.to_vec());
    }
    let node = node.unwrap();
    for l in &node.links {
        let name = l.name.clone().unwrap();
        let res = store.resolve(&format!("/ipfs/{root}/{name}"));
        assert_eq!(
            res,
            Resolved {
                cid: l.cid,
                remainder: vec![]
            }
        );
        // Going further needs the child, which the CAR does not have.
        let err = store.get_err(&format!("/ipfs/{root}/{name}/x"));
        assert_eq!(err, format!("ipld: could not find {}", l.cid));
    }
}

#[test]
fn resolver_step_api() {
    let mut store = Store::default();
    let d = PutOptions::default();
    let leaf = store.put(br#"{"v":[10,20]}"#, &d);
    let mid = store.put(format!(r#"{{"next":{{"/":"{leaf}"}}}}"#).as_bytes(), &d);
    let mut r = PathResolver::new(
        mid,
        vec!["next".into(), "v".into(), "1".into()],
        PathMode::Ipld,
    );
    assert_eq!(r.need(), Some(&mid));
    assert!(r.resolved().is_none());
    r.supply(&store.0[&mid]).unwrap();
    assert_eq!(r.need(), Some(&leaf));
    r.supply(&store.0[&leaf]).unwrap();
    assert_eq!(r.need(), None);
    assert_eq!(
        r.resolved().unwrap(),
        &Resolved {
            cid: leaf,
            remainder: vec!["v".into(), "1".into()]
        }
    );
    assert!(r.supply(b"").is_err());

    // Identity CIDs are read from the CID, never requested.
    let (inline, _) = {
        let mut o = d;
        o.hash = HashAlg::Identity;
        put(br#"{"a":{"b":1}}"#, &o).unwrap()
    };
    let top = store.put(format!(r#"{{"i":{{"/":"{inline}"}}}}"#).as_bytes(), &d);
    let mut r = PathResolver::new(top, vec!["i".into(), "a".into()], PathMode::UnixFs);
    r.supply(&store.0[&top]).unwrap();
    assert_eq!(r.need(), None);
    assert_eq!(r.resolved().unwrap().cid, inline);
    let r = PathResolver::new(inline, vec!["a".into(), "b".into()], PathMode::UnixFs);
    assert_eq!(r.need(), None);
    assert_eq!(r.resolved().unwrap().remainder, vec!["a", "b"]);
    assert_eq!(store.get_json(&format!("{top}/i/a/b")), "1");
    assert_eq!(store.get_json(&format!("{inline}")), r#"{"a":{"b":1}}"#);

    // walk_node stops at links.
    let v = dag::decode(&mid, &store.0[&mid]).unwrap();
    assert_eq!(
        walk_node(&v, &["next".into(), "v".into()]).unwrap(),
        Walk::Link {
            cid: leaf,
            consumed: 1
        }
    );
    assert_eq!(walk_node(&v, &[]).unwrap(), Walk::Value(&v));
    assert!(walk_node(&v, &["nope".into()]).is_err());
}

#[test]
fn dag_path_parsing() {
    let cid = "bafyreiblwimnjbqcdoeafiobk6q27jcw64ew7n2fmmhdpldd63edmjecde";
    for (input, mode, segs) in [
        (cid.to_string(), PathMode::UnixFs, vec![]),
        (format!("{cid}/a/b"), PathMode::UnixFs, vec!["a", "b"]),
        (
            format!("/ipfs/{cid}/a//b/"),
            PathMode::UnixFs,
            vec!["a", "b"],
        ),
        (
            format!("/ipld/{cid}/a/./b/../c"),
            PathMode::Ipld,
            vec!["a", "c"],
        ),
        (format!("ipfs://{cid}/a"), PathMode::UnixFs, vec!["a"]),
        (format!("IPLD:{cid}/a"), PathMode::Ipld, vec!["a"]),
        (format!("ipfs:{cid}"), PathMode::UnixFs, vec![]),
    ] {
        let p = DagPath::parse(&input).unwrap();
        assert_eq!(
            (p.mode, p.root.to_string(), p.segments.clone()),
            (
                mode,
                cid.to_string(),
                segs.iter().map(|s| s.to_string()).collect::<Vec<_>>()
            ),
            "{input}"
        );
        assert_eq!(p.to_string().parse::<DagPath>().unwrap(), p);
    }
    let e = |s: &str| DagPath::parse(s).unwrap_err().to_string();
    assert_eq!(
        e("notacid"),
        r#"invalid path "notacid": path does not have enough components"#
    );
    assert_eq!(
        e("/ipfs"),
        r#"invalid path "/ipfs": path does not have enough components"#
    );
    assert_eq!(
        e(&format!("/ipfs/{cid}/../..")),
        format!(r#"invalid path "/ipfs/{cid}/../..": path does not have enough components"#)
    );
    assert!(e("/ipfs/notacid").starts_with(r#"invalid path "/ipfs/notacid": invalid cid"#));
    assert!(e("/foo/bar").contains("unknown namespace"));
    assert!(e("/ipns/example.com").contains("must be resolved"));
    assert!(e("ipns://k51").contains("must be resolved"));
}

#[test]
fn decoding_garbage_never_panics() {
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let samples: Vec<Vec<u8>> = vec![
        br#"{"a":[1,2,{"/":"bafkqaaa"}],"b":{"/":{"bytes":"AAE"}}}"#.to_vec(),
        b64("omREYXRhRQABAgMEZUxpbmtzgA=="),
        b64("CgUAAQIDBA=="),
    ];
    for codec in dag::SUPPORTED_CODECS {
        for s in &samples {
            for _ in 0..2000 {
                let mut m = s.clone();
                for _ in 0..1 + next() % 3 {
                    let i = (next() % m.len() as u64) as usize;
                    m[i] = next() as u8;
                }
                if let Ok(v) = dag::decode_codec(codec, &m) {
                    for out in dag::SUPPORTED_CODECS {
                        let _ = to_output(&v, out);
                    }
                }
            }
        }
    }
    // Deep nesting is refused, not a stack overflow.
    let mut deep_cbor = vec![0x81u8; 100_000];
    deep_cbor.push(0x01);
    assert!(dag::decode_codec(codecs::DAG_CBOR, &deep_cbor).is_err());
    let deep_json = "[".repeat(100_000) + &"]".repeat(100_000);
    assert!(dag::decode_codec(codecs::DAG_JSON, deep_json.as_bytes()).is_err());
}

/// What dag-cbor reads it can write back (a fuzz/ finding, the inputs kept
/// in fuzz/regressions/dag_cbor): NaN and infinite floats, which the data
/// model and our encoder have no place for, are refused when read.
#[test]
fn dag_cbor_refuses_floats_it_could_not_write() {
    // a 32-bit NaN, a 64-bit +infinity, a NaN inside a list
    for bad in [
        &[0xfa, 0x7f, 0xc0, 0x00, 0x00][..],
        &[0xfb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0],
        &[0x81, 0xfa, 0x7f, 0xc0, 0x00, 0x00],
    ] {
        let e = dag::decode_codec(codecs::DAG_CBOR, bad).unwrap_err();
        assert!(e.to_string().contains("NaN and infinite"), "{e}");
    }
    let one = dag::decode_codec(codecs::DAG_CBOR, &[0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]).unwrap();
    assert_eq!(one, Ipld::Float(1.0));
}
