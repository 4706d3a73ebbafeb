//! The UnixFS `Data` protobuf message carried in a dag-pb node's Data field.

use bytes::Bytes;
use ferrite_ipld::proto::{self, Field, Reader};

/// UnixFS node types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// Raw leaf data (trickle and old-style leaves).
    Raw = 0,
    /// A directory.
    Directory = 1,
    /// A file (root or internal node).
    File = 2,
    /// Metadata (unused).
    Metadata = 3,
    /// A symbolic link; Data holds the target.
    Symlink = 4,
    /// A HAMT shard of a large directory.
    HamtShard = 5,
}

impl DataType {
    fn from_u64(v: u64) -> Option<Self> {
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
}

/// The UnixFS Data message.
///
/// `D` holds the `Data` field: a `Vec<u8>` (the default) when building a
/// node or after [`decode`](UnixFsData::decode), or a [`Bytes`] slice of the
/// block after [`decode_bytes`](UnixFsData::decode_bytes), which the exporter
/// uses so file bytes are never copied out of the block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixFsData<D = Vec<u8>> {
    /// Node type.
    pub kind: DataType,
    /// Inline file bytes (leaves), symlink target or HAMT bitfield.
    pub data: Option<D>,
    /// Total file size, for files and raw nodes.
    pub filesize: Option<u64>,
    /// Size of each child's file data, in link order.
    pub blocksizes: Vec<u64>,
    /// HAMT hash function.
    pub hash_type: Option<u64>,
    /// HAMT fanout.
    pub fanout: Option<u64>,
    /// Unix permission bits.
    pub mode: Option<u32>,
    /// Modification time: seconds and nanoseconds (0 when not stored).
    pub mtime: Option<(i64, u32)>,
}

impl UnixFsData {
    /// An empty message of the given type.
    pub fn new(kind: DataType) -> Self {
        Self::empty(kind)
    }

    /// Decodes a UnixFS Data message, copying its `Data` field; see
    /// [`decode_bytes`](UnixFsData::decode_bytes) for the rules.
    pub fn decode(buf: &[u8]) -> Result<Self, String> {
        Self::decode_with(buf, <[u8]>::to_vec)
    }
}

impl UnixFsData<Bytes> {
    /// Decodes a UnixFS Data message with its `Data` field left as a slice
    /// of `buf`. Unknown fields are skipped, as protobuf readers do (other
    /// implementations may add some); a known field with the wrong wire
    /// type, a missing or unknown Type, or mtime nanoseconds of a second or
    /// more are errors. Packed blocksizes are accepted.
    pub fn decode_bytes(buf: &Bytes) -> Result<Self, String> {
        Self::decode_with(buf, |b| buf.slice_ref(b))
    }
}

impl<D> UnixFsData<D> {
    fn empty(kind: DataType) -> Self {
        UnixFsData {
            kind,
            data: None,
            filesize: None,
            blocksizes: Vec::new(),
            hash_type: None,
            fanout: None,
            mode: None,
            mtime: None,
        }
    }

    /// The one decoder; `wrap` turns the `Data` field's bytes into a `D`.
    fn decode_with<'a>(buf: &'a [u8], wrap: impl Fn(&'a [u8]) -> D) -> Result<Self, String> {
        let mut r = Reader::new(buf);
        let mut kind = None;
        let mut d = Self::empty(DataType::Raw);
        while let Some((field, value)) = r.next_field()? {
            match (field, value) {
                (1, Field::Varint(v)) => {
                    kind = Some(DataType::from_u64(v).ok_or(format!("unknown UnixFS type {v}"))?)
                }
                (2, Field::Bytes(b)) => d.data = Some(wrap(b)),
                (3, Field::Varint(v)) => d.filesize = Some(v),
                (4, Field::Varint(v)) => d.blocksizes.push(v),
                (4, Field::Bytes(packed)) => {
                    // packed encoding, as some other implementations write it
                    let mut p = Reader::new(packed);
                    while !p.is_empty() {
                        d.blocksizes.push(p.varint()?);
                    }
                }
                (5, Field::Varint(v)) => d.hash_type = Some(v),
                (6, Field::Varint(v)) => d.fanout = Some(v),
                (7, Field::Varint(v)) => d.mode = Some(v as u32),
                (8, Field::Bytes(b)) => d.mtime = Some(decode_mtime(b)?),
                (1..=8, _) => return Err(format!("wrong wire type for field {field}")),
                _ => {} // unknown field: skip
            }
        }
        d.kind = kind.ok_or("missing Type")?;
        Ok(d)
    }
}

impl<D: AsRef<[u8]>> UnixFsData<D> {
    /// Encodes in field order; blocksizes are written unpacked and mtime
    /// nanoseconds only when non-zero, as Kubo does.
    pub fn encode(&self) -> Vec<u8> {
        let data = self.data.as_ref().map(AsRef::as_ref);
        let mut out = Vec::with_capacity(16 + data.map_or(0, |d| d.len() + 5));
        proto::put_uint(&mut out, 1, self.kind as u64);
        if let Some(d) = data {
            proto::put_bytes(&mut out, 2, d);
        }
        if let Some(s) = self.filesize {
            proto::put_uint(&mut out, 3, s);
        }
        for b in &self.blocksizes {
            proto::put_uint(&mut out, 4, *b);
        }
        if let Some(h) = self.hash_type {
            proto::put_uint(&mut out, 5, h);
        }
        if let Some(f) = self.fanout {
            proto::put_uint(&mut out, 6, f);
        }
        if let Some(m) = self.mode {
            proto::put_uint(&mut out, 7, m as u64);
        }
        if let Some((secs, nanos)) = self.mtime {
            let mut t = Vec::new();
            proto::put_uint(&mut t, 1, secs as u64);
            if nanos != 0 {
                proto::put_fixed32(&mut t, 2, nanos);
            }
            proto::put_bytes(&mut out, 8, &t);
        }
        out
    }

    /// The file size this node stands for: `filesize` if set, else inline data length.
    pub fn file_size(&self) -> u64 {
        self.filesize
            .unwrap_or_else(|| self.data.as_ref().map_or(0, |d| d.as_ref().len() as u64))
    }
}

/// `UnixTime { int64 Seconds = 1; fixed32 FractionalNanoseconds = 2; }`;
/// absent fields are 0 and unknown or mistyped ones are skipped.
fn decode_mtime(b: &[u8]) -> Result<(i64, u32), String> {
    let mut r = Reader::new(b);
    let (mut secs, mut nanos) = (0i64, 0u32);
    while let Some((field, value)) = r.next_field()? {
        match (field, value) {
            (1, Field::Varint(v)) => secs = v as i64,
            (2, Field::Fixed32(n)) => nanos = n,
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

    #[test]
    fn directory_encodes_as_0801() {
        assert_eq!(
            UnixFsData::new(DataType::Directory).encode(),
            vec![0x08, 0x01]
        );
    }

    #[test]
    fn file_round_trips() {
        let mut d = UnixFsData::new(DataType::File);
        d.filesize = Some(524288);
        d.blocksizes = vec![262144, 262144];
        assert_eq!(UnixFsData::decode(&d.encode()).unwrap(), d);
    }
}
