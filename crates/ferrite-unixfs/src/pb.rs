//! The UnixFS `Data` protobuf message carried in a dag-pb node's Data field.

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixFsData {
    /// Node type.
    pub kind: DataType,
    /// Inline file bytes (leaves), symlink target or HAMT bitfield.
    pub data: Option<Vec<u8>>,
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
    /// Modification time: seconds and optional nanoseconds.
    pub mtime: Option<(i64, Option<u32>)>,
}

impl UnixFsData {
    /// An empty message of the given type.
    pub fn new(kind: DataType) -> Self {
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

    /// Encodes in field order; blocksizes are written unpacked, as Kubo does.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.data.as_ref().map_or(0, |d| d.len() + 5));
        proto::put_uint(&mut out, 1, self.kind as u64);
        if let Some(d) = &self.data {
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
            if let Some(n) = nanos {
                // fixed32 nanoseconds
                proto::put_key(&mut t, 2, 5);
                t.extend_from_slice(&n.to_le_bytes());
            }
            proto::put_bytes(&mut out, 8, &t);
        }
        out
    }

    /// Decodes a UnixFS Data message.
    pub fn decode(buf: &[u8]) -> Result<Self, String> {
        let mut r = Reader::new(buf);
        let mut kind = None;
        let mut d = UnixFsData::new(DataType::Raw);
        while let Some((field, value)) = r.next_field()? {
            match (field, value) {
                (1, Field::Varint(v)) => {
                    kind = Some(DataType::from_u64(v).ok_or(format!("unknown unixfs type {v}"))?)
                }
                (2, Field::Bytes(b)) => d.data = Some(b.to_vec()),
                (3, Field::Varint(v)) => d.filesize = Some(v),
                (4, Field::Varint(v)) => d.blocksizes.push(v),
                (4, Field::Bytes(mut packed)) => {
                    // accept packed blocksizes from other implementations
                    while !packed.is_empty() {
                        let (v, rest) = unsigned_varint(packed)?;
                        d.blocksizes.push(v);
                        packed = rest;
                    }
                }
                (5, Field::Varint(v)) => d.hash_type = Some(v),
                (6, Field::Varint(v)) => d.fanout = Some(v),
                (7, Field::Varint(v)) => d.mode = Some(v as u32),
                (8, Field::Bytes(b)) => {
                    // only seconds are needed to read; nanos are fixed32 which
                    // our reader does not parse, so take the seconds field.
                    let mut tr = Reader::new(b);
                    if let Ok(Some((1, Field::Varint(s)))) = tr.next_field() {
                        d.mtime = Some((s as i64, None));
                    }
                }
                (f, _) => return Err(format!("unexpected field {f} in unixfs data")),
            }
        }
        d.kind = kind.ok_or("unixfs data without type")?;
        Ok(d)
    }

    /// The file size this node stands for: `filesize` if set, else inline data length.
    pub fn file_size(&self) -> u64 {
        self.filesize
            .unwrap_or_else(|| self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

fn unsigned_varint(buf: &[u8]) -> Result<(u64, &[u8]), String> {
    let mut v = 0u64;
    for (i, &b) in buf.iter().enumerate().take(10) {
        v |= ((b & 0x7f) as u64) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((v, &buf[i + 1..]));
        }
    }
    Err("bad packed varint".into())
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
