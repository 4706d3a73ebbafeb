//! Zero-copy decoding of the blocks the exporter reads.
//!
//! `ferrite_ipld::dagpb::PbNode` and `crate::pb::UnixFsData` copy every Data
//! field into a fresh `Vec`; on the read path that would copy each 256 KiB
//! chunk twice more. Here the file bytes stay slices of the block's `Bytes`.
//! UnixFS decoding is also lenient the way protobuf readers are (unknown
//! fields are skipped), since other implementations may add fields.

use super::{load_block, ExportError, Result};
use crate::pb::DataType;
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

/// The UnixFS Data message, with its `Data` field borrowed from the block.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub kind: DataType,
    pub data: Option<Bytes>,
    pub filesize: Option<u64>,
    pub blocksizes: Vec<u64>,
    pub hash_type: Option<u64>,
    pub fanout: Option<u64>,
    pub mode: Option<u32>,
    /// Seconds and nanoseconds.
    pub mtime: Option<(i64, u32)>,
}

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
            match decode_meta(&data) {
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

/// A protobuf value of any wire type, so unknown fields can be skipped.
enum Wire<'a> {
    Varint(u64),
    /// Skipped: no UnixFS field uses it.
    Fixed64,
    Bytes(&'a [u8]),
    Fixed32(u32),
}

struct WireReader<'a> {
    buf: &'a [u8],
}

impl<'a> WireReader<'a> {
    fn varint(&mut self) -> std::result::Result<u64, String> {
        let mut v = 0u64;
        for i in 0..10 {
            let (&b, rest) = self.buf.split_first().ok_or("truncated varint")?;
            self.buf = rest;
            v |= ((b & 0x7f) as u64) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint overflow".into())
    }

    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        if n > self.buf.len() {
            return Err("field runs past the end".into());
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }

    fn next(&mut self) -> std::result::Result<Option<(u64, Wire<'a>)>, String> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let value = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Wire::Fixed64
            }
            2 => {
                let n = self.varint()?;
                Wire::Bytes(self.take(usize::try_from(n).map_err(|_| "length overflow")?)?)
            }
            5 => Wire::Fixed32(u32::from_le_bytes(self.take(4)?.try_into().unwrap())),
            w => return Err(format!("unsupported wire type {w}")),
        };
        Ok(Some((key >> 3, value)))
    }
}

fn data_type(v: u64) -> Option<DataType> {
    Some(match v {
        0 => DataType::Raw,
        1 => DataType::Directory,
        2 => DataType::File,
        3 => DataType::Metadata,
        4 => DataType::Symlink,
        5 => DataType::HamtShard,
        _ => return None,
    })
}

/// Decodes the UnixFS Data message held in a dag-pb Data field.
pub(crate) fn decode_meta(data: &Bytes) -> std::result::Result<Meta, String> {
    let mut r = WireReader { buf: data };
    let mut kind = None;
    let mut m = Meta {
        kind: DataType::Raw,
        data: None,
        filesize: None,
        blocksizes: Vec::new(),
        hash_type: None,
        fanout: None,
        mode: None,
        mtime: None,
    };
    while let Some((field, value)) = r.next()? {
        match (field, value) {
            (1, Wire::Varint(v)) => {
                kind = Some(data_type(v).ok_or(format!("unknown UnixFS type {v}"))?)
            }
            (2, Wire::Bytes(b)) => m.data = Some(data.slice_ref(b)),
            (3, Wire::Varint(v)) => m.filesize = Some(v),
            (4, Wire::Varint(v)) => m.blocksizes.push(v),
            (4, Wire::Bytes(packed)) => {
                // packed encoding, as some other implementations write it
                let mut p = WireReader { buf: packed };
                while !p.buf.is_empty() {
                    m.blocksizes.push(p.varint()?);
                }
            }
            (5, Wire::Varint(v)) => m.hash_type = Some(v),
            (6, Wire::Varint(v)) => m.fanout = Some(v),
            (7, Wire::Varint(v)) => m.mode = Some(v as u32),
            (8, Wire::Bytes(b)) => m.mtime = Some(decode_mtime(b)?),
            (1..=8, _) => return Err(format!("wrong wire type for field {field}")),
            _ => {} // unknown field: skip, as protobuf readers do
        }
    }
    m.kind = kind.ok_or("missing Type")?;
    Ok(m)
}

/// `UnixTime { int64 Seconds = 1; fixed32 FractionalNanoseconds = 2; }`
fn decode_mtime(b: &[u8]) -> std::result::Result<(i64, u32), String> {
    let mut r = WireReader { buf: b };
    let (mut secs, mut nanos) = (0i64, 0u32);
    while let Some((field, value)) = r.next()? {
        match (field, value) {
            (1, Wire::Varint(v)) => secs = v as i64,
            (2, Wire::Fixed32(n)) => nanos = n,
            _ => {}
        }
    }
    if nanos >= 1_000_000_000 {
        return Err(format!("mtime nanoseconds out of range: {nanos}"));
    }
    Ok((secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::UnixFsData;
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
        d.mtime = Some((1_700_000_000, Some(5)));
        let mut enc = d.encode();
        // unknown field 15, fixed64
        enc.extend_from_slice(&[(15 << 3) | 1, 1, 2, 3, 4, 5, 6, 7, 8]);
        let m = decode_meta(&Bytes::from(enc)).unwrap();
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
        let _ = decode_meta(&Bytes::from_static(&[0x08, 0x09]));
        let _ = decode_meta(&Bytes::from_static(&[0x42, 0x05, 0x08]));
    }
}
