//! Codec dispatch: which blocks link to which.

use crate::dagpb::PbNode;
use crate::{codecs, Cid, Error, Result};
use ipld_core::ipld::Ipld;

/// The human name of a multicodec code.
pub fn codec_name(code: u64) -> Option<&'static str> {
    Some(match code {
        codecs::RAW => "raw",
        codecs::DAG_PB => "dag-pb",
        codecs::DAG_CBOR => "dag-cbor",
        codecs::DAG_JSON => "dag-json",
        codecs::LIBP2P_KEY => "libp2p-key",
        codecs::CBOR => "cbor",
        codecs::JSON => "json",
        _ => return None,
    })
}

/// The multicodec code for a codec name (`--cid-codec`, `--store-codec` …).
pub fn codec_from_name(name: &str) -> Result<u64> {
    Ok(match name {
        "raw" => codecs::RAW,
        "dag-pb" | "protobuf" => codecs::DAG_PB,
        "dag-cbor" | "cbor" => codecs::DAG_CBOR,
        "dag-json" | "json" => codecs::DAG_JSON,
        "libp2p-key" => codecs::LIBP2P_KEY,
        _ => {
            return Err(Error::Decode {
                codec: "multicodec",
                reason: format!("unknown codec {name:?}"),
            })
        }
    })
}

/// The CIDs a block links to, in the order the block lists them.
///
/// Identity-hashed CIDs are returned like any other; callers that need bytes
/// resolve them from the CID itself.
pub fn links(cid: &Cid, data: &[u8]) -> Result<Vec<Cid>> {
    match cid.codec() {
        codecs::RAW => Ok(Vec::new()),
        codecs::DAG_PB => PbNode::links_of(data),
        // Same decoders as `dag put/get`, so whatever Kubo-compatible input
        // `dag put` accepted (or a CAR carried) is also walkable here.
        codecs::DAG_CBOR | codecs::DAG_JSON | codecs::CBOR | codecs::JSON => {
            Ok(ipld_links(&crate::dag::decode_codec(cid.codec(), data)?))
        }
        other => Err(Error::UnsupportedCodec(other)),
    }
}

/// Every link inside an IPLD data model value, depth first.
pub fn ipld_links(ipld: &Ipld) -> Vec<Cid> {
    values(ipld)
        .filter_map(|v| match v {
            Ipld::Link(c) => Some(Cid::try_from(c.to_bytes().as_slice()).expect("valid cid")),
            _ => None,
        })
        .collect()
}

/// `v` and every value inside it, depth first, without recursion (a value
/// may nest deeper than the stack allows).
pub fn values(v: &Ipld) -> impl Iterator<Item = &Ipld> {
    let mut stack = vec![v];
    std::iter::from_fn(move || {
        let v = stack.pop()?;
        match v {
            Ipld::List(l) => stack.extend(l.iter().rev()),
            Ipld::Map(m) => stack.extend(m.values().rev()),
            _ => {}
        }
        Some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HashAlg;

    #[test]
    fn dag_cbor_links_are_found() {
        let child = Cid::new_v1(codecs::RAW, HashAlg::Sha2_256.digest(b"x"));
        let child_ipld = ipld_core::cid::Cid::try_from(child.to_bytes().as_slice()).unwrap();
        let v = Ipld::Map(
            [
                ("a".to_string(), Ipld::Link(child_ipld)),
                ("b".to_string(), Ipld::List(vec![Ipld::Link(child_ipld)])),
            ]
            .into(),
        );
        let bytes = serde_ipld_dagcbor::to_vec(&v).unwrap();
        let cid = Cid::new_v1(codecs::DAG_CBOR, HashAlg::Sha2_256.digest(&bytes));
        assert_eq!(links(&cid, &bytes).unwrap(), vec![child, child]);
    }
}
