//! Zero-copy decoding of the blocks the exporter reads.
//!
//! `ferrite_ipld::dagpb::PbNode` copies every Data field into a fresh `Vec`;
//! on the read path that would copy each 256 KiB chunk again. Here Data
//! stays a slice of the block's `Bytes`, and so does the UnixFS `Data`
//! field inside it ([`UnixFsData::decode_bytes`]).

use super::{load_block, ExportError, Result};
use crate::pb::UnixFsData;
use crate::BlockSource;
use bytes::Bytes;
use ferrite_ipld::proto::{Field, Reader};
use ferrite_ipld::{codecs, Cid};

/// One dag-pb link.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub cid: Cid,
    /// `None` when absent; non-UTF-8 names are decoded lossily.
    pub name: Option<String>,
    pub tsize: Option<u64>,
}

/// The UnixFS Data message, with its `Data` field sharing the block's buffer.
pub(crate) type Meta = UnixFsData<Bytes>;

/// A decoded block, as the exporter sees it.
pub(crate) enum Node {
    /// A raw-codec block: file bytes.
    Raw(Bytes),
    /// A dag-pb node with valid UnixFS data.
    UnixFs {
        links: Vec<Link>,
        meta: Meta,
        /// Length of the encoded block, for cumulative sizes.
        block_len: usize,
    },
    /// A dag-pb node whose Data is missing or not UnixFS.
    PlainPb {
        links: Vec<Link>,
        block_len: usize,
        reason: String,
    },
    /// Another codec (dag-cbor, dag-json …).
    Other { codec: u64, block_len: usize },
}

/// "codec dag-cbor" (or the hex code of codecs we have no name for).
pub(crate) fn codec_label(codec: u64) -> String {
    match ferrite_ipld::codec::codec_name(codec) {
        Some(name) => format!("codec {name}"),
        None => format!("codec 0x{codec:x}"),
    }
}

/// Loads and decodes the block behind `cid`.
pub(crate) fn load_node<S: BlockSource + ?Sized>(src: &S, cid: &Cid) -> Result<Node> {
    let block = load_block(src, cid)?;
    decode_node(cid, block)
}

/// Decodes a block according to its CID's codec.
pub(crate) fn decode_node(cid: &Cid, block: Bytes) -> Result<Node> {
    match cid.codec() {
        codecs::RAW => Ok(Node::Raw(block)),
        codecs::DAG_PB => {
            let block_len = block.len();
            let (links, data) = decode_pb(cid, &block)?;
            let Some(data) = data else {
                return Ok(Node::PlainPb {
                    links,
                    block_len,
                    reason: "dag-pb node without Data".into(),
                });
            };
            match Meta::decode_bytes(&data) {
                Ok(meta) => Ok(Node::UnixFs {
                    links,
                    meta,
                    block_len,
                }),
                Err(reason) => Ok(Node::PlainPb {
                    links,
                    block_len,
                    reason: format!("invalid UnixFS data: {reason}"),
                }),
            }
        }
        codec => Ok(Node::Other {
            codec,
            block_len: block.len(),
        }),
    }
}

/// Splits a dag-pb block into links and Data, as strictly as the dag-pb spec
/// asks (only fields 1 and 2, one Data), but without copying Data.
fn decode_pb(cid: &Cid, block: &Bytes) -> Result<(Vec<Link>, Option<Bytes>)> {
    let bad = |r: String| ExportError::malformed(cid, format!("dag-pb: {r}"));
    let mut r = Reader::new(block);
    let mut links = Vec::new();
    let mut data = None;
    while let Some((field, value)) = r.next_field().map_err(bad)? {
        match (field, value) {
            (2, Field::Bytes(b)) => links.push(decode_link(b).map_err(bad)?),
            (1, Field::Bytes(b)) => {
                if data.is_some() {
                    return Err(bad("duplicate Data field".into()));
                }
                data = Some(block.slice_ref(b));
            }
            (f, _) => return Err(bad(format!("unexpected field {f}"))),
        }
    }
    Ok((links, data))
}

fn decode_link(buf: &[u8]) -> std::result::Result<Link, String> {
    let mut r = Reader::new(buf);
    let (mut cid, mut name, mut tsize) = (None, None, None);
    while let Some((field, value)) = r.next_field()? {
        match (field, value) {
            (1, Field::Bytes(b)) => {
                cid = Some(Cid::try_from(b).map_err(|e| format!("link hash: {e}"))?)
            }
            (2, Field::Bytes(b)) => name = Some(String::from_utf8_lossy(b).into_owned()),
            (3, Field::Varint(v)) => tsize = Some(v),
            (f, _) => return Err(format!("unexpected field {f} in link")),
        }
    }
    Ok(Link {
        cid: cid.ok_or("link without hash")?,
        name,
        tsize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::DataType;
    use ferrite_ipld::dagpb::{PbLink, PbNode};
    use ferrite_ipld::HashAlg;

    fn pb_cid(bytes: &[u8]) -> Cid {
        Cid::new_v0(HashAlg::Sha2_256.digest(bytes)).unwrap()
    }

    #[test]
    fn file_data_is_a_slice_of_the_block() {
        let mut d = UnixFsData::new(DataType::File);
        d.data = Some(b"hello".to_vec());
        d.filesize = Some(5);
        let block = Bytes::from(
            PbNode {
                links: vec![],
                data: Some(d.encode()),
            }
            .encode(),
        );
        let Node::UnixFs { meta, .. } = decode_node(&pb_cid(&block), block.clone()).unwrap() else {
            panic!("not unixfs")
        };
        let data = meta.data.unwrap();
        assert_eq!(&data[..], b"hello");
        let range = block.as_ptr() as usize..block.as_ptr() as usize + block.len();
        assert!(range.contains(&(data.as_ptr() as usize)), "data was copied");
    }

    #[test]
    fn mtime_with_nanos_and_unknown_fields_decode() {
        let mut d = UnixFsData::new(DataType::File);
        d.mtime = Some((1_700_000_000, 5));
        let mut enc = d.encode();
        // unknown field 15, fixed64
        enc.extend_from_slice(&[(15 << 3) | 1, 1, 2, 3, 4, 5, 6, 7, 8]);
        let m = Meta::decode_bytes(&Bytes::from(enc)).unwrap();
        assert_eq!(m.mtime, Some((1_700_000_000, 5)));
        assert_eq!(m.kind, DataType::File);
    }

    #[test]
    fn garbage_never_panics() {
        let child = pb_cid(b"x");
        let good = PbNode {
            links: vec![PbLink::new(child, "a", 3)],
            data: Some(UnixFsData::new(DataType::Directory).encode()),
        }
        .encode();
        // every truncation and a few byte flips must decode or fail cleanly
        for n in 0..good.len() {
            let _ = decode_node(&child, Bytes::copy_from_slice(&good[..n]));
            for flip in [0x00u8, 0xff, 0x80] {
                let mut b = good.clone();
                b[n] ^= flip;
                let _ = decode_node(&child, Bytes::from(b));
            }
        }
        let _ = Meta::decode_bytes(&Bytes::from_static(&[0x08, 0x09]));
        let _ = Meta::decode_bytes(&Bytes::from_static(&[0x42, 0x05, 0x08]));
    }
}
