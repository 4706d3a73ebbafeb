//! The Bitswap wire message (boxo `bitswap/message/pb/message.proto`),
//! encoded and decoded by hand, and the varint length-prefixed framing.
//!
//! Field numbers: `Message { wantlist = 1, blocks = 2, payload = 3,
//! blockPresences = 4, pendingBytes = 5 }`, `Wantlist { entries = 1, full = 2 }`,
//! `Entry { block = 1, priority = 2, cancel = 3, wantType = 4,
//! sendDontHave = 5 }`, `Block { prefix = 1, data = 2 }`,
//! `BlockPresence { cid = 1, type = 2 }`.

use bytes::Bytes;
use ferrite_ipld::proto::{self, Field, Reader};
use ferrite_ipld::{Cid, HashAlg, Multihash};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::Version;

/// Largest message we read or write, as in Kubo.
pub const MAX_MESSAGE_SIZE: usize = 4 << 20;
/// Largest block Bitswap carries (Kubo refuses bigger ones).
pub const MAX_BLOCK_SIZE: usize = ferrite_ipld::MAX_BLOCK_SIZE;

/// Why a message could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The protobuf structure is malformed.
    #[error("malformed bitswap message: {0}")]
    Proto(String),
    /// A CID (in a wantlist entry, presence or prefix) is invalid.
    #[error("invalid CID in bitswap message: {0}")]
    Cid(String),
    /// A block's prefix names a hash function we cannot verify.
    #[error("unverifiable block: {0}")]
    Unverifiable(String),
    /// A block exceeds [`MAX_BLOCK_SIZE`].
    #[error("block of {0} bytes exceeds the 2 MiB limit")]
    BlockTooLarge(usize),
}

/// What a wantlist entry asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WantType {
    /// Send me the block (`Block = 0`).
    #[default]
    Block,
    /// Tell me whether you have the block (`Have = 1`, Bitswap 1.2.0).
    Have,
}

/// One wantlist entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantEntry {
    /// The wanted block.
    pub cid: Cid,
    /// Higher is more urgent.
    pub priority: i32,
    /// True to revoke an earlier want of `cid`.
    pub cancel: bool,
    /// Block or presence.
    pub want_type: WantType,
    /// Ask for an explicit DONT_HAVE when the peer lacks the block.
    pub send_dont_have: bool,
}

/// Whether a peer has a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PresenceType {
    /// `Have = 0`.
    Have,
    /// `DontHave = 1`.
    DontHave,
}

/// A block presence: answer to a want-have (or DONT_HAVE to a want-block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    /// The block asked about.
    pub cid: Cid,
    /// Have or don't have.
    pub kind: PresenceType,
}

/// A block with the CID it was sent (when encoding) or computed (when
/// decoding) as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The block's CID. After decoding it is the CID *computed* from the
    /// payload prefix and the hash of the data, so it always matches the data.
    pub cid: Cid,
    /// The block's bytes.
    pub data: Bytes,
}

/// One Bitswap message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// Wantlist entries (wants and cancels).
    pub wantlist: Vec<WantEntry>,
    /// True when `wantlist` replaces the whole wantlist.
    pub full: bool,
    /// Blocks (1.0.0 `blocks` or 1.1.0+ `payload` on the wire).
    pub blocks: Vec<Block>,
    /// Block presences (1.2.0).
    pub presences: Vec<Presence>,
    /// Bytes the sender still has queued for us.
    pub pending_bytes: i32,
}

impl Message {
    /// True when the message carries nothing.
    pub fn is_empty(&self) -> bool {
        self.wantlist.is_empty()
            && !self.full
            && self.blocks.is_empty()
            && self.presences.is_empty()
    }

    /// Sum of the block sizes.
    pub fn block_bytes(&self) -> usize {
        self.blocks.iter().map(|b| b.data.len()).sum()
    }

    /// Encodes the message for a stream negotiated to `version`.
    ///
    /// 1.0.0 carries blocks as bare bytes in `blocks` (the receiver derives
    /// a CIDv0 from them); 1.1.0+ in `payload` with a CID prefix. Peers below
    /// 1.2.0 know neither want-have nor presences: want-haves become
    /// want-blocks and presences are dropped.
    pub fn encode(&self, version: Version) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.block_bytes() + 16 * self.blocks.len());
        let has_presence = version >= Version::V1_2_0;
        if !self.wantlist.is_empty() || self.full {
            let mut wl = Vec::new();
            for e in &self.wantlist {
                let mut entry = Vec::new();
                proto::put_bytes(&mut entry, 1, &e.cid.to_bytes());
                if e.priority != 0 {
                    // int32: negative values are sign-extended to 10 bytes.
                    proto::put_uint(&mut entry, 2, e.priority as i64 as u64);
                }
                if e.cancel {
                    proto::put_uint(&mut entry, 3, 1);
                }
                if has_presence && e.want_type == WantType::Have {
                    proto::put_uint(&mut entry, 4, 1);
                }
                if has_presence && e.send_dont_have {
                    proto::put_uint(&mut entry, 5, 1);
                }
                proto::put_bytes(&mut wl, 1, &entry);
            }
            if self.full {
                proto::put_uint(&mut wl, 2, 1);
            }
            proto::put_bytes(&mut out, 1, &wl);
        }
        for b in &self.blocks {
            if version == Version::V1_0_0 {
                // Bare bytes, as boxo sends them: the receiver hashes them
                // with sha2-256 and matches the digest against its wants.
                proto::put_bytes(&mut out, 2, &b.data);
            } else {
                let mut p = Vec::with_capacity(b.data.len() + 16);
                proto::put_bytes(&mut p, 1, &cid_prefix(&b.cid));
                proto::put_bytes(&mut p, 2, &b.data);
                proto::put_bytes(&mut out, 3, &p);
            }
        }
        if has_presence {
            for p in &self.presences {
                let mut bp = Vec::new();
                proto::put_bytes(&mut bp, 1, &p.cid.to_bytes());
                if p.kind == PresenceType::DontHave {
                    proto::put_uint(&mut bp, 2, 1);
                }
                proto::put_bytes(&mut out, 4, &bp);
            }
        }
        if self.pending_bytes != 0 {
            proto::put_uint(&mut out, 5, self.pending_bytes as i64 as u64);
        }
        out
    }

    /// Decodes a message of any version. Every block's CID is computed from
    /// its data, so blocks are verified by construction; whether the CID is
    /// one we asked for is up to the caller.
    pub fn decode(buf: &[u8]) -> Result<Message, DecodeError> {
        let mut msg = Message::default();
        let mut r = Reader::new(buf);
        while let Some((field, value)) = r.next_field().map_err(DecodeError::Proto)? {
            match (field, value) {
                (1, Field::Bytes(wl)) => decode_wantlist(wl, &mut msg)?,
                (2, Field::Bytes(data)) => {
                    check_size(data.len())?;
                    // 1.0.0 blocks are implicitly CIDv0: dag-pb, sha2-256.
                    let mh = HashAlg::Sha2_256.digest(data);
                    let cid = Cid::new_v0(mh).map_err(|e| DecodeError::Cid(e.to_string()))?;
                    msg.blocks.push(Block {
                        cid,
                        data: Bytes::copy_from_slice(data),
                    });
                }
                (3, Field::Bytes(p)) => {
                    let (mut prefix, mut data) = (None, &[][..]);
                    let mut pr = Reader::new(p);
                    while let Some((f, v)) = pr.next_field().map_err(DecodeError::Proto)? {
                        match (f, v) {
                            (1, Field::Bytes(b)) => prefix = Some(b),
                            (2, Field::Bytes(b)) => data = b,
                            _ => {}
                        }
                    }
                    let prefix = prefix
                        .ok_or_else(|| DecodeError::Proto("payload without prefix".into()))?;
                    check_size(data.len())?;
                    let cid = cid_from_prefix(prefix, data)?;
                    msg.blocks.push(Block {
                        cid,
                        data: Bytes::copy_from_slice(data),
                    });
                }
                (4, Field::Bytes(bp)) => {
                    let (mut cid, mut kind) = (None, PresenceType::Have);
                    let mut pr = Reader::new(bp);
                    while let Some((f, v)) = pr.next_field().map_err(DecodeError::Proto)? {
                        match (f, v) {
                            (1, Field::Bytes(b)) => cid = Some(parse_cid(b)?),
                            (2, Field::Varint(1)) => kind = PresenceType::DontHave,
                            (2, Field::Varint(_)) => kind = PresenceType::Have,
                            _ => {}
                        }
                    }
                    let cid =
                        cid.ok_or_else(|| DecodeError::Proto("presence without cid".into()))?;
                    msg.presences.push(Presence { cid, kind });
                }
                (5, Field::Varint(v)) => msg.pending_bytes = v as i32,
                // Unknown fields are skipped, as protobuf requires.
                _ => {}
            }
        }
        Ok(msg)
    }
}

fn check_size(len: usize) -> Result<(), DecodeError> {
    if len > MAX_BLOCK_SIZE {
        return Err(DecodeError::BlockTooLarge(len));
    }
    Ok(())
}

fn parse_cid(b: &[u8]) -> Result<Cid, DecodeError> {
    Cid::try_from(b).map_err(|e| DecodeError::Cid(e.to_string()))
}

fn decode_wantlist(buf: &[u8], msg: &mut Message) -> Result<(), DecodeError> {
    let mut r = Reader::new(buf);
    while let Some((field, value)) = r.next_field().map_err(DecodeError::Proto)? {
        match (field, value) {
            (1, Field::Bytes(e)) => {
                let mut cid = None;
                let mut entry = WantEntry {
                    cid: Cid::default(),
                    priority: 0,
                    cancel: false,
                    want_type: WantType::Block,
                    send_dont_have: false,
                };
                let mut er = Reader::new(e);
                while let Some((f, v)) = er.next_field().map_err(DecodeError::Proto)? {
                    match (f, v) {
                        (1, Field::Bytes(b)) => cid = Some(parse_cid(b)?),
                        (2, Field::Varint(p)) => entry.priority = p as i32,
                        (3, Field::Varint(c)) => entry.cancel = c != 0,
                        (4, Field::Varint(t)) => {
                            entry.want_type = if t == 1 {
                                WantType::Have
                            } else {
                                WantType::Block
                            }
                        }
                        (5, Field::Varint(s)) => entry.send_dont_have = s != 0,
                        _ => {}
                    }
                }
                entry.cid =
                    cid.ok_or_else(|| DecodeError::Proto("want entry without cid".into()))?;
                msg.wantlist.push(entry);
            }
            (2, Field::Varint(f)) => msg.full = f != 0,
            _ => {}
        }
    }
    Ok(())
}

/// The CID prefix of boxo's `payload`: version, codec, multihash code and
/// multihash length, each a varint.
pub fn cid_prefix(cid: &Cid) -> Vec<u8> {
    let mut p = Vec::with_capacity(8);
    let version: u64 = match cid.version() {
        ferrite_ipld::cid::Version::V0 => 0,
        ferrite_ipld::cid::Version::V1 => 1,
    };
    proto::put_varint(&mut p, version);
    proto::put_varint(&mut p, cid.codec());
    proto::put_varint(&mut p, cid.hash().code());
    proto::put_varint(&mut p, cid.hash().size() as u64);
    p
}

/// Builds the CID of `data` from a payload `prefix`, hashing the data with
/// the prefix's hash function. A multihash length shorter than the digest
/// truncates it (as go-cid does); identity hashes take the data itself.
pub fn cid_from_prefix(prefix: &[u8], data: &[u8]) -> Result<Cid, DecodeError> {
    let mut r = Reader::new(prefix);
    let mut next = || {
        r.varint()
            .map_err(|e| DecodeError::Cid(format!("prefix: {e}")))
    };
    let (version, codec, mh_code, mh_len) = (next()?, next()?, next()?, next()?);
    let alg = HashAlg::from_code(mh_code)
        .map_err(|_| DecodeError::Unverifiable(format!("hash function 0x{mh_code:x}")))?;
    let mh = if alg == HashAlg::Identity {
        if data.len() > 64 || mh_len as usize != data.len() {
            return Err(DecodeError::Unverifiable("identity block too large".into()));
        }
        alg.digest(data)
    } else {
        let full = alg.digest(data);
        let len = mh_len as usize;
        if len == full.size() as usize {
            full
        } else if len > 0 && len < full.size() as usize {
            Multihash::wrap(mh_code, &full.digest()[..len])
                .map_err(|e| DecodeError::Cid(e.to_string()))?
        } else {
            return Err(DecodeError::Cid(format!("multihash length {mh_len}")));
        }
    };
    match version {
        0 => {
            if codec != ferrite_ipld::codecs::DAG_PB || alg != HashAlg::Sha2_256 || mh_len != 32 {
                return Err(DecodeError::Cid("invalid CIDv0 prefix".into()));
            }
            Cid::new_v0(mh).map_err(|e| DecodeError::Cid(e.to_string()))
        }
        1 => Ok(Cid::new_v1(codec, mh)),
        v => Err(DecodeError::Cid(format!("CID version {v}"))),
    }
}

/// Frames up to this size are read without taking from a [`FrameBudget`]
/// (wantlists of a few hundred entries, presences, small blocks).
pub const SMALL_FRAME: usize = 64 << 10;

/// Memory for frames being read, shared by every connection of a
/// [`crate::Behaviour`]. A frame over [`SMALL_FRAME`] takes its length from
/// the budget before its body is read and gives it back once decoded, so
/// peers that announce large frames and never finish them (or finish them
/// slowly) cannot hold more than the budget between them.
#[derive(Clone, Debug)]
pub struct FrameBudget {
    left: Arc<AtomicUsize>,
}

impl FrameBudget {
    /// A budget of `bytes`.
    pub fn new(bytes: usize) -> Self {
        FrameBudget {
            left: Arc::new(AtomicUsize::new(bytes)),
        }
    }

    /// Bytes not taken.
    pub fn available(&self) -> usize {
        self.left.load(Ordering::SeqCst)
    }

    /// Takes `n` bytes, or nothing when fewer are left.
    pub fn take(&self, n: usize) -> Option<Reserved> {
        self.left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(n)
            })
            .ok()
            .map(|_| Reserved {
                budget: self.clone(),
                n,
            })
    }
}

/// Bytes taken from a [`FrameBudget`], given back when dropped.
#[derive(Debug)]
pub struct Reserved {
    budget: FrameBudget,
    n: usize,
}

impl Drop for Reserved {
    fn drop(&mut self) {
        self.budget.left.fetch_add(self.n, Ordering::SeqCst);
    }
}

/// Reads a frame's varint length; `Ok(None)` at a clean end of stream.
/// Lengths over [`MAX_MESSAGE_SIZE`] are an error.
async fn read_frame_len<S: AsyncRead + Unpin>(io: &mut S) -> std::io::Result<Option<usize>> {
    let mut len: u64 = 0;
    for i in 0..10 {
        let mut b = [0u8; 1];
        let n = io.read(&mut b).await?;
        if n == 0 {
            if i == 0 {
                return Ok(None);
            }
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        len |= ((b[0] & 0x7f) as u64) << (7 * i);
        if b[0] & 0x80 == 0 {
            if len > MAX_MESSAGE_SIZE as u64 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("bitswap message of {len} bytes exceeds 4 MiB"),
                ));
            }
            return Ok(Some(len as usize));
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        "frame length varint overflow",
    ))
}

/// Reads one varint length-prefixed frame; `Ok(None)` at a clean end of
/// stream. Frames over [`MAX_MESSAGE_SIZE`] are refused before allocating.
pub async fn read_frame<S: AsyncRead + Unpin>(io: &mut S) -> std::io::Result<Option<Vec<u8>>> {
    let Some(len) = read_frame_len(io).await? else {
        return Ok(None);
    };
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(Some(buf))
}

/// As [`read_frame`], but a frame over [`SMALL_FRAME`] must first take its
/// length from `budget` (an error when it cannot, before allocating); the
/// reservation comes back with the frame, to drop once it is decoded.
pub async fn read_frame_within<S: AsyncRead + Unpin>(
    io: &mut S,
    budget: &FrameBudget,
) -> std::io::Result<Option<(Vec<u8>, Option<Reserved>)>> {
    let Some(len) = read_frame_len(io).await? else {
        return Ok(None);
    };
    let reserved = if len > SMALL_FRAME {
        Some(budget.take(len).ok_or_else(|| {
            std::io::Error::other(format!(
                "bitswap frame of {len} bytes: inbound frame memory exhausted"
            ))
        })?)
    } else {
        None
    };
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(Some((buf, reserved)))
}

/// Writes one varint length-prefixed frame and flushes it.
pub async fn write_frame<S: AsyncWrite + Unpin>(io: &mut S, body: &[u8]) -> std::io::Result<()> {
    if body.len() > MAX_MESSAGE_SIZE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "bitswap message exceeds 4 MiB",
        ));
    }
    let mut head = Vec::with_capacity(10);
    proto::put_varint(&mut head, body.len() as u64);
    io.write_all(&head).await?;
    io.write_all(body).await?;
    io.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_ipld::codecs::{DAG_PB, RAW};

    fn raw_cid(data: &[u8]) -> Cid {
        Cid::new_v1(RAW, HashAlg::Sha2_256.digest(data))
    }

    fn sample() -> Message {
        let a = raw_cid(b"a");
        let b = Cid::new_v0(HashAlg::Sha2_256.digest(b"b")).unwrap();
        Message {
            wantlist: vec![
                WantEntry {
                    cid: a,
                    priority: 7,
                    cancel: false,
                    want_type: WantType::Have,
                    send_dont_have: true,
                },
                WantEntry {
                    cid: b,
                    priority: -3,
                    cancel: true,
                    want_type: WantType::Block,
                    send_dont_have: false,
                },
            ],
            full: true,
            blocks: vec![Block {
                cid: a,
                data: Bytes::from_static(b"a"),
            }],
            presences: vec![
                Presence {
                    cid: a,
                    kind: PresenceType::Have,
                },
                Presence {
                    cid: b,
                    kind: PresenceType::DontHave,
                },
            ],
            pending_bytes: 1234,
        }
    }

    #[test]
    fn round_trip_1_2() {
        let m = sample();
        assert_eq!(Message::decode(&m.encode(Version::V1_2_0)).unwrap(), m);
    }

    #[test]
    fn round_trip_1_1_drops_have() {
        let m = sample();
        let d = Message::decode(&m.encode(Version::V1_1_0)).unwrap();
        assert!(d.presences.is_empty());
        assert_eq!(d.wantlist[0].want_type, WantType::Block);
        assert!(!d.wantlist[0].send_dont_have);
        assert_eq!(d.blocks, m.blocks);
    }

    #[test]
    fn v1_0_blocks_are_bare_bytes() {
        let data = Bytes::from_static(b"\x0a\x02\x08\x01");
        let v0 = Cid::new_v0(HashAlg::Sha2_256.digest(&data)).unwrap();
        let v1 = Cid::new_v1(DAG_PB, HashAlg::Sha2_256.digest(&data));
        let m = Message {
            blocks: vec![Block {
                cid: v1,
                data: data.clone(),
            }],
            ..Default::default()
        };
        let enc = m.encode(Version::V1_0_0);
        // Field 2, length 4, then the raw bytes.
        assert_eq!(enc, [&[0x12, 4][..], &data[..]].concat());
        // The receiver can only infer a CIDv0 (same multihash).
        let d = Message::decode(&enc).unwrap();
        assert_eq!(d.blocks, vec![Block { cid: v0, data }]);
        assert_eq!(d.blocks[0].cid.hash(), v1.hash());
    }

    #[test]
    fn decode_hand_made_bytes() {
        let cid = raw_cid(b"hello");
        let cb = cid.to_bytes();
        // Entry { block=cid, priority=1, wantType=Have, sendDontHave=true }
        let mut entry = vec![0x0a, cb.len() as u8];
        entry.extend_from_slice(&cb);
        entry.extend_from_slice(&[0x10, 0x01, 0x20, 0x01, 0x28, 0x01]);
        let mut wl = vec![0x0a, entry.len() as u8];
        wl.extend_from_slice(&entry);
        wl.extend_from_slice(&[0x10, 0x01]); // full = true
        let mut msg = vec![0x0a, wl.len() as u8];
        msg.extend_from_slice(&wl);
        // payload { prefix = [1, 0x55, 0x12, 32], data = "hello" }
        let mut p = vec![0x0a, 4, 0x01, 0x55, 0x12, 0x20, 0x12, 5];
        p.extend_from_slice(b"hello");
        msg.extend_from_slice(&[0x1a, p.len() as u8]);
        msg.extend_from_slice(&p);
        // blockPresence { cid, type = DontHave }
        let mut bp = vec![0x0a, cb.len() as u8];
        bp.extend_from_slice(&cb);
        bp.extend_from_slice(&[0x10, 0x01]);
        msg.extend_from_slice(&[0x22, bp.len() as u8]);
        msg.extend_from_slice(&bp);
        msg.extend_from_slice(&[0x28, 0x05]); // pendingBytes = 5
                                              // An unknown field (9, varint) must be skipped.
        msg.extend_from_slice(&[0x48, 0x01]);

        let d = Message::decode(&msg).unwrap();
        assert_eq!(
            d.wantlist,
            vec![WantEntry {
                cid,
                priority: 1,
                cancel: false,
                want_type: WantType::Have,
                send_dont_have: true
            }]
        );
        assert!(d.full);
        assert_eq!(d.blocks[0].cid, cid);
        assert_eq!(&d.blocks[0].data[..], b"hello");
        assert_eq!(
            d.presences,
            vec![Presence {
                cid,
                kind: PresenceType::DontHave
            }]
        );
        assert_eq!(d.pending_bytes, 5);
        // Our encoder produces the same bytes (minus the unknown field).
        assert_eq!(d.encode(Version::V1_2_0), msg[..msg.len() - 2]);
    }

    #[test]
    fn prefix_round_trip_and_verification() {
        for (codec, alg) in [
            (RAW, HashAlg::Sha2_256),
            (DAG_PB, HashAlg::Sha2_512),
            (0x71, HashAlg::Blake3),
            (RAW, HashAlg::Blake2b256),
        ] {
            let data = b"some block";
            let cid = Cid::new_v1(codec, alg.digest(data));
            assert_eq!(cid_from_prefix(&cid_prefix(&cid), data).unwrap(), cid);
            // Tampered data gives another CID: never the one asked for.
            assert_ne!(cid_from_prefix(&cid_prefix(&cid), b"other").unwrap(), cid);
        }
        let v0 = Cid::new_v0(HashAlg::Sha2_256.digest(b"x")).unwrap();
        assert_eq!(cid_prefix(&v0), [0, 0x70, 0x12, 32]);
        assert_eq!(cid_from_prefix(&cid_prefix(&v0), b"x").unwrap(), v0);
        // Unknown hash function (sha1 = 0x11): refused, not trusted.
        assert!(matches!(
            cid_from_prefix(&[1, 0x55, 0x11, 20], b"x"),
            Err(DecodeError::Unverifiable(_))
        ));
        // Truncated sha2-256.
        let c = cid_from_prefix(&[1, 0x55, 0x12, 20], b"x").unwrap();
        assert_eq!(
            c.hash().digest(),
            &HashAlg::Sha2_256.digest(b"x").digest()[..20]
        );
        // Identity.
        let c = cid_from_prefix(&[1, 0x55, 0x00, 3], b"abc").unwrap();
        assert_eq!(c.hash().digest(), b"abc");
        assert!(cid_from_prefix(&[1, 0x55, 0x00, 2], b"abc").is_err());
        assert!(cid_from_prefix(&[0, 0x55, 0x12, 32], b"x").is_err());
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert!(Message::decode(&[0x0a, 0x05, 0x01]).is_err());
        assert!(Message::decode(&[0x1a, 0x02, 0x12, 0x00]).is_err()); // payload without prefix
        assert!(Message::decode(&[0x0b]).is_err()); // group wire type
        assert_eq!(Message::decode(&[]).unwrap(), Message::default());
    }

    #[test]
    fn frames() {
        futures::executor::block_on(async {
            let mut buf = Vec::new();
            write_frame(&mut buf, b"abc").await.unwrap();
            write_frame(&mut buf, &[7u8; 300]).await.unwrap();
            assert_eq!(&buf[..4], b"\x03abc");
            let mut r = futures::io::Cursor::new(buf);
            assert_eq!(read_frame(&mut r).await.unwrap().unwrap(), b"abc");
            assert_eq!(read_frame(&mut r).await.unwrap().unwrap(), vec![7u8; 300]);
            assert!(read_frame(&mut r).await.unwrap().is_none());
            // A length over 4 MiB is refused without reading the body.
            let mut head = Vec::new();
            proto::put_varint(&mut head, (MAX_MESSAGE_SIZE + 1) as u64);
            let mut r = futures::io::Cursor::new(head);
            assert!(read_frame(&mut r).await.is_err());
            // Truncated body.
            let mut r = futures::io::Cursor::new(vec![5u8, 1, 2]);
            assert!(read_frame(&mut r).await.is_err());
        });
    }

    #[test]
    fn large_frames_take_from_a_shared_budget() {
        futures::executor::block_on(async {
            let big = vec![9u8; 3 << 20];
            let mut buf = Vec::new();
            write_frame(&mut buf, &big).await.unwrap();
            let budget = FrameBudget::new(5 << 20);
            // One 3 MiB frame fits; while it is held, a second does not,
            // and is refused before its body is read.
            let mut r = futures::io::Cursor::new(buf.clone());
            let (got, held) = read_frame_within(&mut r, &budget).await.unwrap().unwrap();
            assert_eq!(got, big);
            assert_eq!(budget.available(), 2 << 20);
            let mut r = futures::io::Cursor::new(buf.clone());
            let e = read_frame_within(&mut r, &budget).await.unwrap_err();
            assert!(e.to_string().contains("exhausted"), "{e}");
            assert!(r.position() < 10, "the body was read");
            // Small frames need no budget.
            let mut small = Vec::new();
            write_frame(&mut small, &[1u8; 1000]).await.unwrap();
            let mut r = futures::io::Cursor::new(small);
            let (got, none) = read_frame_within(&mut r, &budget).await.unwrap().unwrap();
            assert_eq!((got.len(), none.is_none()), (1000, true));
            // Dropping the reservation gives the bytes back.
            drop(held);
            assert_eq!(budget.available(), 5 << 20);
            let mut r = futures::io::Cursor::new(buf);
            assert!(read_frame_within(&mut r, &budget).await.is_ok());
            assert_eq!(budget.available(), 5 << 20);
        });
    }
}
