//! CAR (Content Addressable aRchive) files, as `ipfs dag export/import`
//! use them.
//!
//! A CARv1 is `varint(len) header` followed by `varint(len) cid bytes`
//! sections, where the header is the dag-cbor map `{"roots": [...],
//! "version": 1}`. [`CarWriter`] streams that out, one block at a time, in
//! the exact bytes go-car writes. [`CarReader`] reads CARv1 and also the
//! CARv1 payload inside a CARv2 (the index is skipped, so a plain
//! non-seekable stream is enough), verifies every block against its CID and
//! turns every malformation into an error instead of a panic.

use crate::{Cid, Error, HashAlg, Result};
use bytes::Bytes;
use ipld_core::ipld::Ipld;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};

/// The 11 bytes every CARv2 starts with: a CARv1-style header `{version: 2}`.
pub const CARV2_PRAGMA: [u8; 11] = [
    0x0a, 0xa1, 0x67, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x02,
];
/// Size of the fixed CARv2 header after the pragma.
const CARV2_HEADER_LEN: u64 = 40;

/// Default cap on the header size (go-car's `MaxAllowedHeaderSize`).
pub const DEFAULT_MAX_HEADER: u64 = 32 << 20;
/// Default cap on one section (go-car's `MaxAllowedSectionSize`); blocks are
/// at most 2 MiB in practice, so 8 MiB leaves room without inviting abuse.
pub const DEFAULT_MAX_SECTION: u64 = 8 << 20;

fn car_err(msg: impl Into<String>) -> Error {
    Error::Car(msg.into())
}

fn put_varint(out: &mut Vec<u8>, v: u64) {
    crate::proto::put_varint(out, v)
}

/// The encoded CARv1 header (with its length prefix) for `roots`.
pub fn header_bytes(roots: &[Cid]) -> Vec<u8> {
    let mut m = BTreeMap::new();
    m.insert(
        "roots".to_string(),
        Ipld::List(roots.iter().map(|c| Ipld::Link(*c)).collect()),
    );
    m.insert("version".to_string(), Ipld::Integer(1));
    let body = serde_ipld_dagcbor::to_vec(&Ipld::Map(m)).expect("a map of links always encodes");
    let mut out = Vec::with_capacity(body.len() + 2);
    put_varint(&mut out, body.len() as u64);
    out.extend_from_slice(&body);
    out
}

/// Streams a CARv1: the header goes out in [`new`](Self::new), then each
/// [`write_block`](Self::write_block) appends one section. Nothing is
/// buffered beyond one section header; wrap `W` in a `BufWriter` for speed.
pub struct CarWriter<W: Write> {
    w: W,
    written: u64,
}

impl<W: Write> CarWriter<W> {
    /// Writes the header for `roots` (Kubo exports exactly one root).
    pub fn new(mut w: W, roots: &[Cid]) -> Result<Self> {
        let header = header_bytes(roots);
        w.write_all(&header)?;
        Ok(CarWriter {
            w,
            written: header.len() as u64,
        })
    }

    /// Appends one block. The caller vouches that `data` matches `cid`.
    pub fn write_block(&mut self, cid: &Cid, data: &[u8]) -> Result<()> {
        let cid_bytes = cid.to_bytes();
        let mut head = Vec::with_capacity(10 + cid_bytes.len());
        put_varint(&mut head, (cid_bytes.len() + data.len()) as u64);
        head.extend_from_slice(&cid_bytes);
        self.w.write_all(&head)?;
        self.w.write_all(data)?;
        self.written += (head.len() + data.len()) as u64;
        Ok(())
    }

    /// Bytes written so far, header included.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Flushes and hands back the writer.
    pub fn finish(mut self) -> Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }
}

/// Limits and checks of a [`CarReader`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CarReaderOptions {
    /// Largest header accepted, in bytes.
    pub max_header: u64,
    /// Largest section (CID + block) accepted, in bytes.
    pub max_section: u64,
    /// Check every block against its CID (on by default; turning it off is
    /// only for data already known to be good).
    pub verify: bool,
}

impl Default for CarReaderOptions {
    fn default() -> Self {
        CarReaderOptions {
            max_header: DEFAULT_MAX_HEADER,
            max_section: DEFAULT_MAX_SECTION,
            verify: true,
        }
    }
}

/// Reads the blocks of a CARv1, or of the CARv1 payload of a CARv2.
///
/// Iterating yields `Ok((cid, data))` per section and stops after the
/// first error.
pub struct CarReader<R: Read> {
    r: R,
    opts: CarReaderOptions,
    roots: Vec<Cid>,
    version: u64,
    /// Bytes of the v1 payload still allowed (CARv2 bounds it).
    remaining: Option<u64>,
    /// Offset of the next byte in the file, for error messages.
    offset: u64,
    done: bool,
}

/// Reads a varint; `Ok(None)` on a clean end of input before its first byte.
fn read_varint<R: Read>(r: &mut R, what: &str, offset: u64) -> Result<Option<(u64, u64)>> {
    let mut v: u64 = 0;
    let mut byte = [0u8; 1];
    for i in 0..10u32 {
        let n = loop {
            match r.read(&mut byte) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        };
        if n == 0 {
            if i == 0 {
                return Ok(None);
            }
            return Err(car_err(format!(
                "truncated {what} varint at byte offset {offset}"
            )));
        }
        let b = byte[0];
        if i == 9 && b > 1 {
            return Err(car_err(format!(
                "invalid {what} varint at byte offset {offset}: overflows 64 bits"
            )));
        }
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if b == 0 && i > 0 {
                return Err(car_err(format!(
                    "invalid {what} varint at byte offset {offset}: not minimally encoded"
                )));
            }
            return Ok(Some((v, u64::from(i) + 1)));
        }
    }
    Err(car_err(format!(
        "invalid {what} varint at byte offset {offset}: longer than 10 bytes"
    )))
}

/// Reads exactly `len` bytes without trusting `len` for the allocation.
fn read_exactly<R: Read>(r: &mut R, len: u64) -> Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(len.min(64 * 1024) as usize);
    r.by_ref().take(len).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Skips exactly `n` bytes; returns how many were really there.
fn skip<R: Read>(r: &mut R, n: u64) -> Result<u64> {
    Ok(io::copy(&mut r.by_ref().take(n), &mut io::sink())?)
}

/// Parses a CARv1 header body: `(version, roots)`; roots are optional only
/// for the CARv2 pragma.
fn parse_header(body: &[u8]) -> Result<(u64, Vec<Cid>)> {
    let v: Ipld = serde_ipld_dagcbor::from_slice(body)
        .map_err(|e| car_err(format!("invalid header: {e}")))?;
    let Ipld::Map(m) = v else {
        return Err(car_err("invalid header: not a map"));
    };
    let version = match m.get("version") {
        Some(Ipld::Integer(i)) => {
            u64::try_from(*i).map_err(|_| car_err(format!("invalid car version: {i}")))?
        }
        Some(_) => return Err(car_err("invalid header: version is not an integer")),
        None => return Err(car_err("invalid header: missing version")),
    };
    let roots = match m.get("roots") {
        Some(Ipld::List(l)) => l
            .iter()
            .map(|r| match r {
                Ipld::Link(c) => Ok(*c),
                _ => Err(car_err("invalid header: a root is not a CID")),
            })
            .collect::<Result<Vec<_>>>()?,
        Some(_) => return Err(car_err("invalid header: roots is not a list")),
        None if version == 2 => Vec::new(),
        None => return Err(car_err("invalid header: missing roots")),
    };
    Ok((version, roots))
}

impl<R: Read> CarReader<R> {
    /// Reads the header with default limits and verification.
    pub fn new(r: R) -> Result<Self> {
        Self::with_options(r, CarReaderOptions::default())
    }

    /// Reads the header with explicit limits.
    pub fn with_options(r: R, opts: CarReaderOptions) -> Result<Self> {
        let mut rd = CarReader {
            r,
            opts,
            roots: Vec::new(),
            version: 0,
            remaining: None,
            offset: 0,
            done: false,
        };
        let (version, roots) = rd.read_v1_header()?;
        match version {
            1 => {
                rd.version = 1;
                rd.roots = roots;
            }
            2 => {
                rd.version = 2;
                rd.enter_v2_payload()?;
            }
            v => return Err(car_err(format!("invalid car version: {v}"))),
        }
        Ok(rd)
    }

    fn read_v1_header(&mut self) -> Result<(u64, Vec<Cid>)> {
        let start = self.offset;
        let Some((len, n)) = read_varint(&mut self.r, "header length", start)? else {
            return Err(car_err("empty input: no CAR header"));
        };
        self.offset += n;
        if len == 0 {
            return Err(car_err("invalid header: zero length"));
        }
        if len > self.opts.max_header {
            return Err(car_err(format!(
                "header of {len} bytes exceeds the {}-byte limit",
                self.opts.max_header
            )));
        }
        let body = read_exactly(&mut self.r, len)?;
        if (body.len() as u64) < len {
            return Err(car_err(format!(
                "truncated header: expected {len} bytes, found {}",
                body.len()
            )));
        }
        self.offset += len;
        parse_header(&body)
    }

    /// After the CARv2 pragma: read the fixed header, skip to the payload
    /// and read the inner CARv1 header, bounded by the payload size.
    fn enter_v2_payload(&mut self) -> Result<()> {
        if self.offset != CARV2_PRAGMA.len() as u64 {
            return Err(car_err("invalid CARv2 pragma"));
        }
        let fixed = read_exactly(&mut self.r, CARV2_HEADER_LEN)?;
        if (fixed.len() as u64) < CARV2_HEADER_LEN {
            return Err(car_err("truncated CARv2 header"));
        }
        self.offset += CARV2_HEADER_LEN;
        let le = |i: usize| u64::from_le_bytes(fixed[i..i + 8].try_into().expect("8 bytes"));
        let (data_offset, data_size) = (le(16), le(24));
        if data_offset < self.offset {
            return Err(car_err(format!(
                "invalid CARv2 header: data offset {data_offset} points inside the header"
            )));
        }
        let gap = data_offset - self.offset;
        if skip(&mut self.r, gap)? < gap {
            return Err(car_err(
                "truncated CARv2: data offset is past the end of the file",
            ));
        }
        self.offset = data_offset;
        // Bound the inner reads to the payload so the index is never parsed.
        let (version, roots) = {
            let mut bounded = CarReader {
                r: self.r.by_ref().take(data_size),
                opts: self.opts,
                roots: Vec::new(),
                version: 0,
                remaining: None,
                offset: self.offset,
                done: false,
            };
            let hdr = bounded.read_v1_header().map_err(|e| match e {
                Error::Car(m) => car_err(format!("CARv2 payload: {m}")),
                other => other,
            })?;
            self.offset = bounded.offset;
            hdr
        };
        if version != 1 {
            return Err(car_err(format!(
                "CARv2 payload: invalid car version: {version}"
            )));
        }
        self.roots = roots;
        self.remaining = Some(data_size - (self.offset - data_offset));
        Ok(())
    }

    /// The roots listed in the (inner) header.
    pub fn roots(&self) -> &[Cid] {
        &self.roots
    }

    /// The file's version: 1, or 2 for a CARv2 (whose payload is a CARv1).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Reads the next block; `Ok(None)` at the end of the data.
    pub fn next_block(&mut self) -> Result<Option<(Cid, Bytes)>> {
        if self.done {
            return Ok(None);
        }
        let r = self.read_section();
        if !matches!(r, Ok(Some(_))) {
            self.done = true;
        }
        r
    }

    fn read_section(&mut self) -> Result<Option<(Cid, Bytes)>> {
        if self.remaining == Some(0) {
            return Ok(None);
        }
        let start = self.offset;
        let limit = self.remaining.unwrap_or(u64::MAX);
        let varint = {
            let mut bounded = self.r.by_ref().take(limit);
            read_varint(&mut bounded, "section length", start)?
        };
        let Some((len, n)) = varint else {
            if self.remaining.is_some() {
                return Err(car_err(format!(
                    "truncated CARv2 payload: ends at byte offset {start}, before its declared size"
                )));
            }
            return Ok(None);
        };
        self.offset += n;
        if let Some(rem) = &mut self.remaining {
            *rem -= n;
        }
        if len == 0 {
            return Err(car_err(format!(
                "zero-length section at byte offset {start}"
            )));
        }
        if len > self.opts.max_section {
            return Err(car_err(format!(
                "section at byte offset {start} is {len} bytes, over the {}-byte limit",
                self.opts.max_section
            )));
        }
        if let Some(rem) = self.remaining {
            if len > rem {
                return Err(car_err(format!(
                    "section at byte offset {start} claims {len} bytes but the CARv2 payload has only {rem} left"
                )));
            }
        }
        let buf = read_exactly(&mut self.r, len)?;
        if (buf.len() as u64) < len {
            return Err(car_err(format!(
                "truncated section at byte offset {start}: length says {len} bytes, only {} remain",
                buf.len()
            )));
        }
        self.offset += len;
        if let Some(rem) = &mut self.remaining {
            *rem -= len;
        }
        let mut rest = buf.as_slice();
        let cid = Cid::read_bytes(&mut rest).map_err(|e| {
            car_err(format!(
                "invalid CID in section at byte offset {start}: {e}"
            ))
        })?;
        let data = Bytes::copy_from_slice(rest);
        if self.opts.verify {
            verify_block(&cid, &data)?;
        }
        Ok(Some((cid, data)))
    }
}

/// Checks a block against its CID, naming the CID when it does not match.
fn verify_block(cid: &Cid, data: &[u8]) -> Result<()> {
    let code = cid.hash().code();
    if HashAlg::from_code(code).is_err() {
        return Err(car_err(format!(
            "block {cid} uses unsupported hash function 0x{code:x}"
        )));
    }
    // `verify` compares identity digests directly and never panics.
    if !crate::verify(cid, data)? {
        return Err(car_err(format!("block data does not match its CID {cid}")));
    }
    Ok(())
}

impl<R: Read> Iterator for CarReader<R> {
    type Item = Result<(Cid, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_block().transpose()
    }
}
