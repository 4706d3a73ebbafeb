//! The dag-pb codec (ipfs/specs, IPLD dag-pb): a node is a list of links and
//! an optional opaque `Data` field.
//!
//! Links are written before Data and each link's fields in the order Hash,
//! Name, Tsize, as go-codec-dagpb does; a link's Name is written whenever it is
//! `Some`, even when empty, because Kubo's UnixFS file nodes carry an empty
//! present name and that changes the CID.

use crate::proto::{self, Field, Reader};
use crate::{Cid, Error, Result};

/// One link of a dag-pb node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PbLink {
    /// The linked block.
    pub cid: Cid,
    /// The link name; `Some("")` and `None` encode differently.
    pub name: Option<String>,
    /// Total size of the linked DAG (block plus everything below it).
    pub tsize: Option<u64>,
}

/// A dag-pb node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PbNode {
    /// Links, in wire order.
    pub links: Vec<PbLink>,
    /// The Data field, absent when `None`.
    pub data: Option<Vec<u8>>,
}

fn err(reason: impl Into<String>) -> Error {
    Error::Decode {
        codec: "dag-pb",
        reason: reason.into(),
    }
}

impl PbLink {
    /// A link with name and size.
    pub fn new(cid: Cid, name: impl Into<String>, tsize: u64) -> Self {
        PbLink {
            cid,
            name: Some(name.into()),
            tsize: Some(tsize),
        }
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        proto::put_bytes(out, 1, &self.cid.to_bytes());
        if let Some(name) = &self.name {
            proto::put_bytes(out, 2, name.as_bytes());
        }
        if let Some(t) = self.tsize {
            proto::put_uint(out, 3, t);
        }
    }

    fn decode(buf: &[u8]) -> Result<Self> {
        let mut r = Reader::new(buf);
        let (mut cid, mut name, mut tsize) = (None, None, None);
        while let Some((field, value)) = r.next_field().map_err(err)? {
            match (field, value) {
                (1, Field::Bytes(b)) => {
                    cid = Some(Cid::try_from(b).map_err(|e| err(format!("link hash: {e}")))?)
                }
                (2, Field::Bytes(b)) => {
                    name = Some(
                        String::from_utf8(b.to_vec()).map_err(|_| err("link name is not utf-8"))?,
                    )
                }
                (3, Field::Varint(v)) => tsize = Some(v),
                (f, _) => return Err(err(format!("unexpected field {f} in link"))),
            }
        }
        Ok(PbLink {
            cid: cid.ok_or_else(|| err("link without hash"))?,
            name,
            tsize,
        })
    }
}

impl PbNode {
    /// Encodes the node in canonical dag-pb form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            self.data.as_ref().map_or(0, |d| d.len() + 8) + self.links.len() * 48,
        );
        let mut link = Vec::with_capacity(64);
        for l in &self.links {
            link.clear();
            l.encode_into(&mut link);
            proto::put_bytes(&mut out, 2, &link);
        }
        if let Some(d) = &self.data {
            proto::put_bytes(&mut out, 1, d);
        }
        out
    }

    /// Decodes a dag-pb block.
    pub fn decode(buf: &[u8]) -> Result<Self> {
        let mut r = Reader::new(buf);
        let mut node = PbNode::default();
        while let Some((field, value)) = r.next_field().map_err(err)? {
            match (field, value) {
                (2, Field::Bytes(b)) => node.links.push(PbLink::decode(b)?),
                (1, Field::Bytes(b)) => {
                    if node.data.is_some() {
                        return Err(err("duplicate Data field"));
                    }
                    node.data = Some(b.to_vec())
                }
                (f, _) => return Err(err(format!("unexpected field {f} in node"))),
            }
        }
        Ok(node)
    }

    /// Only the link CIDs of a dag-pb block, without copying Data.
    pub fn links_of(buf: &[u8]) -> Result<Vec<Cid>> {
        let mut r = Reader::new(buf);
        let mut out = Vec::new();
        while let Some((field, value)) = r.next_field().map_err(err)? {
            match (field, value) {
                (2, Field::Bytes(b)) => out.push(PbLink::decode(b)?.cid),
                (1, Field::Bytes(_)) => {}
                (f, _) => return Err(err(format!("unexpected field {f} in node"))),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{codecs, HashAlg};

    #[test]
    fn empty_directory_node_has_kubo_cid() {
        // UnixFS Data{Type=Directory} = 08 01
        let node = PbNode {
            links: vec![],
            data: Some(vec![0x08, 0x01]),
        };
        let bytes = node.encode();
        let cid = Cid::new_v0(HashAlg::Sha2_256.digest(&bytes)).unwrap();
        assert_eq!(
            cid.to_string(),
            "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"
        );
        assert_eq!(PbNode::decode(&bytes).unwrap(), node);
    }

    #[test]
    fn links_round_trip_and_empty_name_is_kept() {
        let child = Cid::new_v1(codecs::RAW, HashAlg::Sha2_256.digest(b"x"));
        let node = PbNode {
            links: vec![
                PbLink::new(child, "", 1),
                PbLink {
                    cid: child,
                    name: None,
                    tsize: None,
                },
            ],
            data: Some(b"d".to_vec()),
        };
        let back = PbNode::decode(&node.encode()).unwrap();
        assert_eq!(back, node);
        assert_eq!(back.links[0].name.as_deref(), Some(""));
        assert_eq!(
            PbNode::links_of(&node.encode()).unwrap(),
            vec![child, child]
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [&[0xff][..], &[0x12, 0x05, 0x0a], &[0x18, 0x01]] {
            assert!(PbNode::decode(bad).is_err());
        }
    }
}
