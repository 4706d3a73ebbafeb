//! `ipfs cid format` / `cid base32` against Kubo's t0290-cid.sh and
//! test/cli/cid_test.go vectors and go-cidutil's format tests.

use ferrite_ipld::cidfmt::{
    decode_cid, encode_cid, format_cid, multibase_from_name, multibase_name, multicodec_from_name,
    multicodec_name, CidFormatter, FormatError, IPLD_CODECS, MULTIBASES,
};
use ferrite_ipld::{codecs, Cid, HashAlg};
use multibase::Base;

const CID_V0: &str = "QmS4ustL54uo8FzR9455qaxZwuMiUhyvMcX9Ba8nUH4uVv";
const CID_V1: &str = "zdj7WZAAFKPvYPPzyJLso2hhxo8a7ZACFQ4DvvfrNXTHidofr";
const CID_B32: &str = "bafybeibxm2nsadl3fnxv2sxcxmxaco2jl53wpeorjdzidjwf5aqdg7wa6u";
const CID_BASE: &str = "QmYNmQKp6SuaVrpgWRsPTgCQCnpxUYGq76YEKBXuj2N4H6";
const CID_B32_PB: &str = "bafybeievd6mwe6vcwnkwo3eizs3h7w3a34opszbyfxziqdxguhjw7imdve";
const CID_B32_RAW: &str = "bafkreievd6mwe6vcwnkwo3eizs3h7w3a34opszbyfxziqdxguhjw7imdve";
const CID_B32_CBOR: &str = "bafyreievd6mwe6vcwnkwo3eizs3h7w3a34opszbyfxziqdxguhjw7imdve";

fn fmt(f: Option<&str>, v: Option<&str>, mc: Option<&str>, b: Option<&str>, cid: &str) -> String {
    CidFormatter::new(f, v, mc, b).unwrap().format(cid).unwrap()
}

fn opt_err(f: Option<&str>, v: Option<&str>, mc: Option<&str>, b: Option<&str>) -> String {
    CidFormatter::new(f, v, mc, b).unwrap_err().to_string()
}

#[test]
fn t0290_base32_and_version_conversions() {
    let b32 = CidFormatter::base32();
    assert_eq!(b32.format(CID_V0).unwrap(), CID_B32);
    assert_eq!(b32.format(CID_V1).unwrap(), CID_B32);
    assert_eq!(
        fmt(None, Some("1"), None, Some("base58btc"), CID_V0),
        CID_V1
    );
    assert_eq!(
        fmt(None, Some("1"), None, Some("base58btc"), CID_B32),
        CID_V1
    );
    assert_eq!(fmt(None, Some("0"), None, None, CID_B32), CID_V0);
}

#[test]
fn t0290_stdin_lists() {
    // Lines as the CLI passes them after trimming.
    let various = [
        "QmZZRTyhDpL5Jgift1cHbAhexeE1m2Hw8x8g7rTcPahDvo",
        " QmPhk6cJkRcFfZCdYam4c9MKYjFG9V29LswUnbrFNhtk2S",
        "bafybeihtwdtifv43rn5cyilnmkwofdcxi2suqimmo62vn3etf45gjoiuwy",
        "bafybeiek4tfxkc4ov6jsmb63fzbirrsalnjw24zd5xawo2fgxisd4jmpyq",
        "zdj7WgYfT2gfsgiUxzPYboaRbP9H9CxZE5jVMK9pDDwCcKDCR",
        "zdj7WbTaiJT1fgatdet9Ei9iDB5hdCxkbVyhyh8YTUnXMiwYi",
        "uAXASIDsp4T3Wnd6kXFOQaljH3GFK_ixkjMtVhB9VOBrPK3bp",
        " uAXASIDdmmyANeytvXUriuy4BO0lfd2eR0UjygabF6CAzfsD1",
    ];
    let base32 = [
        "bafybeifgwyq5gs4l2mru5klgwjfmftjvkmbyyjurbupuz2bst7mhmg2hwa",
        "bafybeiauil46g3lb32jemjbl7yspca3twdcg4wwkbsgdgvgdj5fpfv2f64",
        "bafybeihtwdtifv43rn5cyilnmkwofdcxi2suqimmo62vn3etf45gjoiuwy",
        "bafybeiek4tfxkc4ov6jsmb63fzbirrsalnjw24zd5xawo2fgxisd4jmpyq",
        "bafybeifffq3aeaymxejo37sn5fyaf7nn7hkfmzwdxyjculx3lw4tyhk7uy",
        "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354",
        "bafybeib3fhqt3vu532sfyu4qnjmmpxdbjl7cyzemznkyih2vhanm6k3w5e",
        "bafybeibxm2nsadl3fnxv2sxcxmxaco2jl53wpeorjdzidjwf5aqdg7wa6u",
    ];
    let v1 = [
        "zdj7WgefqQm5HogBQ2bckZuTYYDarRTUZi51GYCnerHD2G86j",
        "zdj7WWnzU3Nbu5rYGWZHKigUXBtAwShs2SHDCM1TQEvC9TeCN",
        "zdj7WmqAbpsfXgiRBtZP1oAP9QWuuY3mqbc5JhpxJkfT3vYCu",
        "zdj7Wen5gtfr7AivXip3zYd1peuq2QfKrqAn4FGiciVWb96YB",
        "zdj7WgYfT2gfsgiUxzPYboaRbP9H9CxZE5jVMK9pDDwCcKDCR",
        "zdj7WbTaiJT1fgatdet9Ei9iDB5hdCxkbVyhyh8YTUnXMiwYi",
        "zdj7WZQrAvnY5ge3FNg5cmCsNwsvpYjdtu2yEmnWYQ4ES7Nzk",
        "zdj7WZAAFKPvYPPzyJLso2hhxo8a7ZACFQ4DvvfrNXTHidofr",
    ];
    let to_v1 = CidFormatter::new(None, Some("1"), None, Some("base58btc")).unwrap();
    for ((input, b32), v1) in various.iter().zip(base32).zip(v1) {
        let input = input.trim();
        assert_eq!(
            CidFormatter::base32().format(input).unwrap(),
            b32,
            "{input}"
        );
        assert_eq!(to_v1.format(input).unwrap(), v1, "{input}");
    }
}

#[test]
fn t0290_codec_changes_and_emoji() {
    assert_eq!(
        fmt(None, None, Some("raw"), Some("base32"), CID_B32_PB),
        CID_B32_RAW
    );
    assert_eq!(
        fmt(None, Some("0"), Some("dag-pb"), None, CID_B32_RAW),
        CID_BASE
    );
    assert_eq!(
        fmt(None, None, Some("dag-cbor"), None, CID_B32_PB),
        CID_B32_CBOR
    );
    // Same codec: no conversion, base kept.
    assert_eq!(
        fmt(None, None, Some("dag-pb"), None, CID_B32_PB),
        CID_B32_PB
    );
    // A v0 switched to another codec becomes v1 in the input's base58btc.
    let raw_v1 = fmt(None, None, Some("raw"), None, CID_BASE);
    assert!(raw_v1.starts_with("zb2"), "{raw_v1}");
    assert_eq!(CidFormatter::base32().format(&raw_v1).unwrap(), CID_B32_RAW);

    let emoji = "🚀🪐⭐💻😅❓💎🌈🌸🌚💰💍🌒😵🐶💁🤐🌎👼🙃🙅☺🌚😞🤤⭐🚀😃✈🌕😚🍻💜🐷⚽✌😊";
    let b32 = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
    assert_eq!(fmt(None, None, None, Some("base256emoji"), b32), emoji);
    assert_eq!(fmt(None, None, None, Some("base32"), emoji), b32);
    // Without -b the input's base is kept, for emoji too.
    assert_eq!(fmt(None, None, None, None, emoji), emoji);
}

#[test]
fn cli_cid_test_vectors() {
    // test/cli/cid_test.go
    assert_eq!(
        fmt(
            None,
            None,
            None,
            None,
            "QmZZRTyhDpL5Jgift1cHbAhexeE1m2Hw8x8g7rTcPahDvo"
        ),
        "QmZZRTyhDpL5Jgift1cHbAhexeE1m2Hw8x8g7rTcPahDvo"
    );
    assert_eq!(
        fmt(
            None,
            Some("0"),
            None,
            None,
            "bafybeifgwyq5gs4l2mru5klgwjfmftjvkmbyyjurbupuz2bst7mhmg2hwa"
        ),
        "QmZZRTyhDpL5Jgift1cHbAhexeE1m2Hw8x8g7rTcPahDvo"
    );
    assert_eq!(
        CidFormatter::base32()
            .format("zdj7WgefqQm5HogBQ2bckZuTYYDarRTUZi51GYCnerHD2G86j")
            .unwrap(),
        "bafybeifgwyq5gs4l2mru5klgwjfmftjvkmbyyjurbupuz2bst7mhmg2hwa"
    );
    // cid inspect vectors: base36 and identity.
    let k = "k2jmtxw8rjh1z69c6not3wtdxb0u3urbzhyll1t9jg6ox26dhi5sfi1m";
    assert_eq!(
        CidFormatter::base32().format(k).unwrap(),
        "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
    );
    assert_eq!(
        fmt(None, Some("0"), None, None, k),
        "QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR"
    );
    assert_eq!(
        fmt(Some("%b %c %h"), None, None, None, k),
        "base36 dag-pb sha2-256"
    );
    assert_eq!(
        fmt(
            Some("%D"),
            None,
            None,
            Some("base16"),
            "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
        ),
        "c3c4733ec8affd06cf9e9ff50ffc6bcd2ec85a6170004bb709669c31de94391a"
    );
    assert_eq!(
        fmt(
            Some("%c %h %L %D"),
            None,
            None,
            Some("base16"),
            "bafkqabdumvzxi"
        ),
        "raw identity 4 74657374"
    );
    // Unknown codec names.
    let unknown = Cid::new_v1(0x9999, HashAlg::Sha2_256.digest(b"test"));
    assert_eq!(
        fmt(Some("%c %C"), None, None, None, &unknown.to_string()),
        "Code(39321) 39321"
    );
    let odd_hash = Cid::new_v1(
        codecs::RAW,
        ferrite_ipld::Multihash::wrap(0x3333, b"ab").unwrap(),
    );
    assert_eq!(
        fmt(Some("%h %H %L"), None, None, None, &odd_hash.to_string()),
        "hash?13107 13107 2"
    );
    // libp2p-key is known.
    let key = Cid::new_v1(codecs::LIBP2P_KEY, HashAlg::Identity.digest(b"k"));
    assert_eq!(
        fmt(Some("%c"), None, None, Some("base36"), &key.to_string()),
        "libp2p-key"
    );
}

#[test]
fn go_cidutil_format_vectors() {
    let v0 = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";
    let v1 = "zdj7WfLr9DhLrb1hsoSi4fSdjjxuZmeqgEtBPWxMLtPbDNbFD";
    let cases: [(&str, Option<Base>, &str, &str); 23] = [
        (v0, None, "%P", "cidv0-dag-pb-sha2-256-32"),
        (
            v0,
            None,
            "%b-%v-%c-%h-%L",
            "base58btc-cidv0-dag-pb-sha2-256-32",
        ),
        (v0, None, "%s", v0),
        (v0, None, "%S", v0),
        (v0, None, "ver#%V/#%C/#%H/%L", "ver#0/#112/#18/32"),
        (
            v0,
            None,
            "%m",
            "zQmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn",
        ),
        (
            v0,
            None,
            "%M",
            "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn",
        ),
        (
            v0,
            None,
            "%d",
            "z72gdmFAgRzYHkJzKiL8MgMMRW3BTSCGyDHroPxJbxMJn",
        ),
        (
            v0,
            None,
            "%D",
            "72gdmFAgRzYHkJzKiL8MgMMRW3BTSCGyDHroPxJbxMJn",
        ),
        (
            v0,
            Some(Base::Base32Upper),
            "%S",
            "CIQFTFEEHEDF6KLBT32BFAGLXEZL4UWFNWM4LFTLMXQBCERZ6CMLX3Y",
        ),
        (
            v0,
            Some(Base::Base32Upper),
            "%B%S",
            "BCIQFTFEEHEDF6KLBT32BFAGLXEZL4UWFNWM4LFTLMXQBCERZ6CMLX3Y",
        ),
        (v1, None, "%P", "cidv1-dag-pb-sha2-256-32"),
        (
            v1,
            None,
            "%b-%v-%c-%h-%L",
            "base58btc-cidv1-dag-pb-sha2-256-32",
        ),
        (v1, None, "%s", v1),
        (
            v1,
            None,
            "%S",
            "dj7WfLr9DhLrb1hsoSi4fSdjjxuZmeqgEtBPWxMLtPbDNbFD",
        ),
        (v1, None, "ver#%V/#%C/#%H/%L", "ver#1/#112/#18/32"),
        (
            v1,
            None,
            "%m",
            "zQmYFbmndVP7QqAVWyKhpmMuQHMaD88pkK57RgYVimmoh5H",
        ),
        (
            v1,
            None,
            "%M",
            "QmYFbmndVP7QqAVWyKhpmMuQHMaD88pkK57RgYVimmoh5H",
        ),
        (
            v1,
            None,
            "%d",
            "zAux4gVVsLRMXtsZ9fd3tFEZN4jGYB6kP37fgoZNTc11H",
        ),
        (
            v1,
            None,
            "%D",
            "Aux4gVVsLRMXtsZ9fd3tFEZN4jGYB6kP37fgoZNTc11H",
        ),
        (
            v1,
            Some(Base::Base32Upper),
            "%s",
            "BAFYBEIETJGSRL3EQPQPCABV3G6IUBYTSIFVQ24XRRHD3JUETSKLTGQ7DJA",
        ),
        (
            v1,
            Some(Base::Base32Upper),
            "%S",
            "AFYBEIETJGSRL3EQPQPCABV3G6IUBYTSIFVQ24XRRHD3JUETSKLTGQ7DJA",
        ),
        (
            v1,
            Some(Base::Base32Upper),
            "%B%S",
            "BAFYBEIETJGSRL3EQPQPCABV3G6IUBYTSIFVQ24XRRHD3JUETSKLTGQ7DJA",
        ),
    ];
    for (input, base, f, want) in cases {
        let (cid, own) = decode_cid(input).unwrap();
        assert_eq!(
            format_cid(f, base.unwrap_or(own), &cid).unwrap(),
            want,
            "{input} {f}"
        );
    }
    assert_eq!(
        format_cid("100%% %V", Base::Base32Lower, &decode_cid(v1).unwrap().0).unwrap(),
        "100% 1"
    );
}

#[test]
fn option_errors_match_kubo() {
    assert_eq!(
        opt_err(Some("abc"), None, None, None),
        r#"invalid format string: "abc""#
    );
    assert_eq!(
        opt_err(None, None, Some("nope"), None),
        r#"unknown multicodec: "nope""#
    );
    assert_eq!(
        opt_err(None, Some("0"), Some("raw"), None),
        "cannot convert to CIDv0 with any codec other than dag-pb"
    );
    assert_eq!(
        opt_err(None, Some("0"), None, Some("base32")),
        "cannot convert to CIDv0 with any multibase other than the implicit base58btc"
    );
    assert_eq!(
        opt_err(None, Some("2"), None, None),
        r#"invalid cid version: "2""#
    );
    assert_eq!(
        opt_err(None, None, None, Some("base99")),
        "unsupported multibase encoding: base99"
    );
    assert_eq!(
        opt_err(None, None, None, Some("h")),
        "unsupported multibase encoding: h"
    );
    // Allowed combinations.
    assert!(CidFormatter::new(None, Some("0"), Some("dag-pb"), Some("base58btc")).is_ok());
    assert!(CidFormatter::new(None, Some(""), Some(""), Some("")).is_ok());
    assert!(CidFormatter::new(None, None, Some("0x55"), Some("b")).is_ok());
}

#[test]
fn per_cid_errors_match_kubo() {
    let d = CidFormatter::new(None, None, None, None).unwrap();
    let e = |f: &CidFormatter, s: &str| match f.format(s) {
        Err(FormatError::Cid(m)) => m,
        other => panic!("{s}: {other:?}"),
    };
    // The CLI prints "<input>: <message>", e.g. "not-a-cid: invalid cid: …".
    assert!(e(&d, "not-a-cid").starts_with("invalid cid: "));
    assert_eq!(
        e(&d, "not-a-cid"),
        "invalid cid: selected encoding not supported"
    );
    assert_eq!(e(&d, "x"), "invalid cid: cid too short");
    assert!(e(&d, "bafyinvalid!!").starts_with("invalid cid: "));
    assert!(e(&d, "Qm111111111111111111111111111111111111111111l").starts_with("invalid cid: "));
    // Base58 CIDv0 strings must hold a sha2-256 multihash.
    let not_v0 = format!("Qm{}", "1".repeat(44));
    assert!(e(&d, &not_v0).starts_with("invalid cid: "));
    // Trailing bytes after a CID.
    let mut bytes = decode_cid(CID_B32).unwrap().0.to_bytes();
    bytes.push(0);
    let trailing = multibase::encode(Base::Base32Lower, bytes);
    assert!(e(&d, &trailing).contains("trailing bytes"));
    // Base32z ('h') decodes in Rust's multibase but not in Kubo's.
    let z = multibase::encode(Base::Base32Z, decode_cid(CID_B32).unwrap().0.to_bytes());
    assert_eq!(e(&d, &z), "invalid cid: selected encoding not supported");
    // v0 of a non-dag-pb CID, or of a non-sha2-256 hash.
    let v0 = CidFormatter::new(None, Some("0"), None, None).unwrap();
    assert_eq!(
        e(&v0, CID_B32_RAW),
        "can't convert non-dag-pb nodes to cidv0"
    );
    let blake = Cid::new_v1(codecs::DAG_PB, HashAlg::Blake3.digest(b"x")).to_string();
    assert!(e(&v0, &blake).contains("sha2-256"));
    // Format string errors are fatal, not per-CID.
    let f = |s: &str| {
        CidFormatter::new(Some(s), None, None, None)
            .unwrap()
            .format(CID_B32)
    };
    assert_eq!(
        f("%"),
        Err(FormatError::BadFormat(
            "premature end of format string".into()
        ))
    );
    assert_eq!(
        f("x%q"),
        Err(FormatError::BadFormat(
            "unrecognized specifier in format string: %q".into()
        ))
    );
    // %s of a CIDv0 in a base other than base58btc.
    let (v0cid, _) = decode_cid(CID_V0).unwrap();
    assert!(
        matches!(format_cid("%s", Base::Base32Lower, &v0cid), Err(FormatError::Cid(m)) if m == "invalid base encoding")
    );
    assert_eq!(
        format_cid("%S", Base::Base32Lower, &v0cid).unwrap().len(),
        55
    );
    // The CLI turns a fatal error into Kubo's "Error: …".
    let as_error: ferrite_ipld::Error = f("%").unwrap_err().into();
    assert_eq!(as_error.to_string(), "premature end of format string");
}

#[test]
fn multibase_table_round_trips() {
    let (cid, _) = decode_cid(CID_B32).unwrap();
    assert_eq!(MULTIBASES.len(), 21);
    for (prefix, name, base) in MULTIBASES {
        assert_eq!(multibase_from_name(name).unwrap(), base);
        assert_eq!(multibase_from_name(&prefix.to_string()).unwrap(), base);
        assert_eq!(multibase_name(base), Some(name));
        assert_eq!(base.code(), prefix);
        if base == Base::Identity {
            continue; // not valid UTF-8 text for a CID
        }
        let s = encode_cid(&cid, base).unwrap();
        assert_eq!(decode_cid(&s).unwrap(), (cid, base), "{name}");
        assert_eq!(fmt(Some("%b"), None, None, Some(name), CID_B32), name);
    }
    assert_eq!(multibase_name(Base::Base8), None);
    assert_eq!(format_cid("%b", Base::Base8, &cid).unwrap(), "base?7");
    assert!(multibase_from_name("").is_err());
    assert!(encode_cid(&decode_cid(CID_V0).unwrap().0, Base::Base32Lower).is_err());
    assert_eq!(
        encode_cid(&decode_cid(CID_V0).unwrap().0, Base::Base58Btc).unwrap(),
        CID_V0
    );
}

#[test]
fn multicodec_table() {
    assert_eq!(IPLD_CODECS.len(), 44);
    for (code, name) in IPLD_CODECS {
        assert_eq!(multicodec_from_name(name).unwrap(), code);
        assert_eq!(multicodec_name(code), name);
        assert_eq!(multicodec_from_name(&code.to_string()).unwrap(), code);
        assert_eq!(multicodec_from_name(&format!("0x{code:x}")).unwrap(), code);
    }
    assert_eq!(multicodec_from_name("sha2-256").unwrap(), 0x12);
    assert_eq!(multicodec_from_name("blake2b-256").unwrap(), 0xb220);
    assert_eq!(multicodec_from_name("0x300001").unwrap(), 0x300001);
    assert!(multicodec_from_name("sha3").is_err());
    assert!(multicodec_from_name("99999").is_err());
    assert!(multicodec_from_name("protobuf").is_err());
    assert_eq!(multicodec_name(0x12), "sha2-256");
}
