//! Splitting a byte stream into chunks exactly where Kubo (boxo `chunker`)
//! splits it: fixed size, Rabin fingerprints (go `whyrusleeping/chunker`
//! with boxo's polynomial) and buzhash.
//!
//! Chunkers stream: they hold at most one window of input (the chunk size,
//! or 512 KiB for the content-defined ones), never the whole file. Each chunk
//! is handed out as a [`Chunk`] whose buffer has spare room on both sides, so
//! the importer can wrap it into a dag-pb leaf without copying the data.

use bytes::Bytes;
use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;

/// Kubo's default chunk size (`size-262144`).
pub const DEFAULT_CHUNK_SIZE: usize = 256 * 1024;
/// The largest block the Bitswap spec lets peers exchange (2 MiB).
pub const BLOCK_SIZE_LIMIT: usize = 2 * 1024 * 1024;
/// The largest chunk size boxo accepts: 2 MiB minus 256 bytes reserved for
/// the UnixFS/dag-pb framing of a leaf, so every leaf block stays ≤ 2 MiB.
pub const CHUNK_SIZE_LIMIT: usize = BLOCK_SIZE_LIMIT - 256;

/// Bytes kept free in front of each chunk's data: the largest dag-pb + UnixFS
/// leaf header (`0a len 08 t 12 len`) is 1+5+2+1+5 = 14 bytes.
pub(crate) const HEADROOM: usize = 16;
/// Bytes kept free after each chunk's data for the `18 filesize` trailer.
pub(crate) const TAILROOM: usize = 12;

/// How to split files, parsed from Kubo's `--chunker` strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkerSpec {
    /// `size-N`: fixed-size chunks of N bytes (the last one may be shorter).
    Size(usize),
    /// `rabin`, `rabin-AVG`, `rabin-MIN-AVG-MAX`: Rabin fingerprinting.
    Rabin {
        /// Smallest chunk (except the last).
        min: u64,
        /// Target average; the cut mask is `2^floor(log2(avg)) - 1`.
        avg: u64,
        /// Largest chunk.
        max: u64,
    },
    /// `buzhash`: 128 KiB–512 KiB content-defined chunks.
    Buzhash,
}

impl Default for ChunkerSpec {
    fn default() -> Self {
        ChunkerSpec::Size(DEFAULT_CHUNK_SIZE)
    }
}

/// A `--chunker` string Kubo would reject; the message is Kubo's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ChunkerError(pub String);

fn err(msg: impl Into<String>) -> ChunkerError {
    ChunkerError(msg.into())
}

/// Go's `strconv.Atoi`, with its error texts (Kubo passes them through).
fn atoi(s: &str) -> Result<i64, ChunkerError> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(format!("strconv.Atoi: parsing {s:?}: invalid syntax")));
    }
    s.parse::<i64>()
        .map_err(|_| err(format!("strconv.Atoi: parsing {s:?}: value out of range")))
}

fn size_max_error() -> ChunkerError {
    err(format!(
        "chunker parameters may not exceed the maximum chunk size of {CHUNK_SIZE_LIMIT}"
    ))
}

impl ChunkerSpec {
    /// Rabin with boxo's bounds for an average size: min = avg/3,
    /// max = avg + avg/2.
    pub fn rabin(avg: u64) -> Self {
        ChunkerSpec::Rabin {
            min: avg / 3,
            avg,
            max: avg + avg / 2,
        }
    }

    /// Parses a chunker string as boxo's `chunk.FromString` does (same
    /// accepted forms, limits and error messages).
    pub fn parse(s: &str) -> Result<Self, ChunkerError> {
        if s.is_empty() || s == "default" {
            return Ok(Self::default());
        }
        // boxo picks the chunker by the text before the first dash.
        let name = s.split('-').next().unwrap_or("");
        match name {
            "size" => {
                let parts: Vec<&str> = s.split('-').collect();
                if parts.len() != 2 {
                    return Err(err(
                        "incorrect chunker string format (expected size-{size})",
                    ));
                }
                let size = atoi(parts[1])?;
                if size <= 0 {
                    Err(err("chunker size must be greater than 0"))
                } else if size as u64 > CHUNK_SIZE_LIMIT as u64 {
                    Err(size_max_error())
                } else {
                    Ok(ChunkerSpec::Size(size as usize))
                }
            }
            "rabin" => Self::parse_rabin(s),
            "buzhash" => Ok(ChunkerSpec::Buzhash),
            _ => Err(err(format!("unrecognized chunker option: {s}"))),
        }
    }

    fn parse_rabin(s: &str) -> Result<Self, ChunkerError> {
        let parts: Vec<&str> = s.split('-').collect();
        match parts.len() {
            1 => Ok(Self::rabin(DEFAULT_CHUNK_SIZE as u64)),
            2 => {
                let avg = atoi(parts[1])?;
                // boxo compares int(float32(size)*1.5); keep its rounding.
                if ((avg as f32) * 1.5f32) as i64 > CHUNK_SIZE_LIMIT as i64 {
                    return Err(size_max_error());
                }
                // A negative average cannot be written (the dash splits it).
                Ok(Self::rabin(avg as u64))
            }
            4 => {
                let field = |part: &str, label: &str, msg: &str| -> Result<i64, ChunkerError> {
                    let sub: Vec<&str> = part.split(':').collect();
                    if sub.len() > 1 && sub[0] != label {
                        return Err(err(msg));
                    }
                    atoi(sub[sub.len() - 1])
                };
                let min = field(parts[1], "min", "first label must be min")?;
                if min < 16 {
                    return Err(err("rabin min must be greater than 16"));
                }
                let avg = field(parts[2], "avg", "second label must be avg")?;
                let max = field(parts[3], "max", "final label must be max")?;
                if min >= avg {
                    Err(err(
                        "incorrect format: rabin-min must be smaller than rabin-avg",
                    ))
                } else if avg >= max {
                    Err(err(
                        "incorrect format: rabin-avg must be smaller than rabin-max",
                    ))
                } else if max > CHUNK_SIZE_LIMIT as i64 {
                    Err(size_max_error())
                } else {
                    Ok(ChunkerSpec::Rabin {
                        min: min as u64,
                        avg: avg as u64,
                        max: max as u64,
                    })
                }
            }
            _ => Err(err(
                "incorrect format (expected 'rabin' 'rabin-[avg]' or 'rabin-[min]-[avg]-[max]'",
            )),
        }
    }

    /// A chunker of this kind reading from `reader`.
    pub fn chunker<R: Read>(&self, reader: R) -> Chunker<R> {
        let inner = match *self {
            ChunkerSpec::Size(size) => Inner::Size(SizeChunker::new(size)),
            ChunkerSpec::Rabin { min, avg, max } => Inner::Rabin(RabinChunker::new(min, avg, max)),
            ChunkerSpec::Buzhash => Inner::Buzhash(BuzhashChunker::new()),
        };
        Chunker {
            reader,
            inner,
            eof: false,
        }
    }
}

impl FromStr for ChunkerSpec {
    type Err = ChunkerError;
    fn from_str(s: &str) -> Result<Self, ChunkerError> {
        Self::parse(s)
    }
}

impl fmt::Display for ChunkerSpec {
    /// The canonical Kubo string, which parses back to the same spec.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChunkerSpec::Size(n) => write!(f, "size-{n}"),
            ChunkerSpec::Rabin { min, avg, max } => write!(f, "rabin-{min}-{avg}-{max}"),
            ChunkerSpec::Buzhash => f.write_str("buzhash"),
        }
    }
}

/// One chunk of input. The data sits inside a larger buffer with
/// `HEADROOM` bytes before it and `TAILROOM` after it.
pub struct Chunk {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Chunk {
    /// A buffer with room for `len` data bytes plus head- and tailroom; the
    /// data area is zeroed and has to be filled by the caller.
    fn with_len(len: usize) -> Self {
        Chunk {
            buf: vec![0; HEADROOM + len + TAILROOM],
            start: HEADROOM,
            end: HEADROOM + len,
        }
    }

    /// A chunk holding a copy of `data`.
    pub fn copy_from(data: &[u8]) -> Self {
        let mut buf = Vec::with_capacity(HEADROOM + data.len() + TAILROOM);
        buf.resize(HEADROOM, 0);
        buf.extend_from_slice(data);
        buf.resize(HEADROOM + data.len() + TAILROOM, 0);
        Chunk {
            buf,
            start: HEADROOM,
            end: HEADROOM + data.len(),
        }
    }

    /// The chunk's bytes.
    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Number of data bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the chunk holds no data.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The data as `Bytes`, without copying.
    pub fn into_bytes(self) -> Bytes {
        let (start, end) = (self.start, self.end);
        Bytes::from(self.buf).slice(start..end)
    }

    /// `prefix ++ data ++ suffix` as `Bytes`, written around the data in place
    /// (no copy of the data). Panics if the frame does not fit the reserved
    /// room, which the importer's framing never exceeds.
    pub(crate) fn framed(mut self, prefix: &[u8], suffix: &[u8]) -> Bytes {
        assert!(prefix.len() <= self.start && self.end + suffix.len() <= self.buf.len());
        let from = self.start - prefix.len();
        self.buf[from..self.start].copy_from_slice(prefix);
        let to = self.end + suffix.len();
        self.buf[self.end..to].copy_from_slice(suffix);
        Bytes::from(self.buf).slice(from..to)
    }
}

impl fmt::Debug for Chunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Chunk({} bytes)", self.len())
    }
}

/// Reads until `buf` is full or the reader is exhausted (Go's `io.ReadFull`
/// without the error for short reads). Returns the number of bytes read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A streaming splitter over a reader; see [`ChunkerSpec::chunker`].
pub struct Chunker<R> {
    reader: R,
    inner: Inner,
    /// Set once the reader returned end of file; it is never read again
    /// (stdin on a terminal would block a second time).
    eof: bool,
}

enum Inner {
    Size(SizeChunker),
    Rabin(RabinChunker),
    Buzhash(BuzhashChunker),
}

impl<R: Read> Chunker<R> {
    /// The next chunk, or `None` at the end of the input. Never returns an
    /// empty chunk.
    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        match &mut self.inner {
            Inner::Size(c) => c.next(&mut self.reader, &mut self.eof),
            Inner::Rabin(c) => c.next(&mut self.reader, &mut self.eof),
            Inner::Buzhash(c) => c.next(&mut self.reader, &mut self.eof),
        }
    }

    /// Gives the reader back.
    pub fn into_inner(self) -> R {
        self.reader
    }
}

impl<R: Read> Iterator for Chunker<R> {
    type Item = io::Result<Chunk>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_chunk().transpose()
    }
}

/// boxo `sizeSplitterv2`: `io.ReadFull` of `size` bytes per chunk.
struct SizeChunker {
    size: usize,
}

impl SizeChunker {
    fn new(size: usize) -> Self {
        SizeChunker { size }
    }

    fn next<R: Read>(&mut self, r: &mut R, eof: &mut bool) -> io::Result<Option<Chunk>> {
        if *eof {
            return Ok(None);
        }
        let mut chunk = Chunk::with_len(self.size);
        let n = read_full(r, &mut chunk.buf[HEADROOM..HEADROOM + self.size])?;
        if n < self.size {
            *eof = true;
            if n == 0 {
                return Ok(None);
            }
            if self.size - n > 4096 {
                // A short final chunk: do not keep a mostly empty buffer alive
                // in the block store.
                return Ok(Some(Chunk::copy_from(&chunk.buf[HEADROOM..HEADROOM + n])));
            }
            chunk.end = HEADROOM + n;
        }
        Ok(Some(chunk))
    }
}

/// A window of buffered input shared by the content-defined chunkers:
/// `buf[pos..len]` are bytes read but not yet handed out.
struct Window {
    buf: Vec<u8>,
    pos: usize,
    len: usize,
}

impl Window {
    fn new(cap: usize) -> Self {
        Window {
            buf: vec![0; cap],
            pos: 0,
            len: 0,
        }
    }

    fn pending(&self) -> usize {
        self.len - self.pos
    }

    /// Moves pending bytes to the front and reads until the buffer is full
    /// or the input ends. Returns the number of new bytes.
    fn refill<R: Read>(&mut self, r: &mut R, eof: &mut bool) -> io::Result<usize> {
        if self.pending() == self.buf.len() {
            // A chunk longer than the window (rabin max above 512 KiB).
            self.buf.resize(self.buf.len() * 2, 0);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.len, 0);
            self.len -= self.pos;
            self.pos = 0;
        }
        if *eof {
            return Ok(0);
        }
        let n = read_full(r, &mut self.buf[self.len..])?;
        if self.len + n < self.buf.len() {
            *eof = true;
        }
        self.len += n;
        Ok(n)
    }

    /// Hands out the next `n` pending bytes as a chunk.
    fn take(&mut self, n: usize) -> Chunk {
        let c = Chunk::copy_from(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        c
    }
}

/// boxo's Rabin polynomial (degree 53).
const RABIN_POLY: u64 = 17437180132763653;
/// Bytes in the rolling window of the Rabin fingerprint.
const RABIN_WINDOW: usize = 16;
/// Read size of go `chunker` (`chunkerBufSize`).
const RABIN_BUF: usize = 512 * 1024;

fn poly_deg(p: u64) -> i32 {
    63 - p.leading_zeros() as i32
}

/// `x mod p` over GF(2).
fn poly_mod(mut x: u64, p: u64) -> u64 {
    let dp = poly_deg(p);
    while x != 0 && poly_deg(x) >= dp {
        x ^= p << (poly_deg(x) - dp);
    }
    x
}

/// Lookup tables of the Rabin fingerprint (go `chunker.fillTables`).
struct RabinTables {
    /// Contribution of a byte leaving the window.
    out: [u64; 256],
    /// Reduction of the 8 bits shifted above the polynomial's degree.
    modt: [u64; 256],
}

fn rabin_tables() -> &'static RabinTables {
    static TABLES: std::sync::OnceLock<RabinTables> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        let append = |h: u64, b: u8| poly_mod((h << 8) | b as u64, RABIN_POLY);
        let mut out = [0u64; 256];
        for (b, slot) in out.iter_mut().enumerate() {
            let mut h = append(0, b as u8);
            for _ in 0..RABIN_WINDOW - 1 {
                h = append(h, 0);
            }
            *slot = h;
        }
        let k = poly_deg(RABIN_POLY);
        let mut modt = [0u64; 256];
        for (b, slot) in modt.iter_mut().enumerate() {
            *slot = poly_mod((b as u64) << k, RABIN_POLY) | ((b as u64) << k);
        }
        RabinTables { out, modt }
    })
}

/// Content-defined chunking with a Rabin fingerprint over a 16-byte window,
/// step for step as go `whyrusleeping/chunker` (which boxo uses): per chunk,
/// the window restarts as if the byte 1 had been slid in, the first
/// `min - 16` bytes are skipped without hashing, and a cut happens after
/// byte `n >= min` when `digest & mask == 0` or `n >= max`.
struct RabinChunker {
    min: u64,
    max: u64,
    mask: u64,
    tables: &'static RabinTables,
    win: Window,
}

impl RabinChunker {
    fn new(min: u64, avg: u64, max: u64) -> Self {
        // go: sizepow = uint(math.Log2(avg)); mask = 1<<sizepow - 1. For avg 0
        // Go's conversion of -Inf shifts everything out: the mask is all ones.
        let mask = if avg == 0 {
            u64::MAX
        } else {
            (1u64 << (63 - avg.leading_zeros())) - 1
        };
        RabinChunker {
            min,
            max,
            mask,
            tables: rabin_tables(),
            win: Window::new(RABIN_BUF),
        }
    }

    fn next<R: Read>(&mut self, r: &mut R, eof: &mut bool) -> io::Result<Option<Chunk>> {
        let mut st = RabinState::new(self.tables);
        // Bytes before hashing starts; wraps like Go's uint64 for min < 16,
        // which means "never cut" there too.
        let pre = self.min.wrapping_sub(RABIN_WINDOW as u64);
        let mut count: u64 = 0; // bytes of this chunk seen so far

        loop {
            if count as usize == self.win.pending() {
                // Every buffered byte is scanned: read more.
                if count as usize > BLOCK_SIZE_LIMIT {
                    // Only reachable when min < 16 disables cutting; Go
                    // would buffer the whole input and then refuse the leaf.
                    return Err(io::Error::other("object size limit exceeded"));
                }
                if self.win.refill(r, eof)? == 0 {
                    if count == 0 {
                        return Ok(None);
                    }
                    return Ok(Some(self.win.take(count as usize)));
                }
            }
            let avail = &self.win.buf[self.win.pos + count as usize..self.win.len];
            let mut i = 0usize;
            if count < pre {
                // The first `pre` bytes of a chunk are skipped unhashed.
                i = (pre - count).min(avail.len() as u64) as usize;
                count += i as u64;
            }
            while i < avail.len() {
                st.slide(avail[i]);
                i += 1;
                count += 1;
                if count >= self.min && (st.digest & self.mask == 0 || count >= self.max) {
                    return Ok(Some(self.win.take(count as usize)));
                }
            }
        }
    }
}

/// The rolling fingerprint of one chunk, as go `chunker.reset()` starts it:
/// an all-zero window into which the byte 1 has been slid.
struct RabinState {
    tables: &'static RabinTables,
    window: [u8; RABIN_WINDOW],
    wpos: usize,
    digest: u64,
}

impl RabinState {
    fn new(tables: &'static RabinTables) -> Self {
        let mut st = RabinState {
            tables,
            window: [0; RABIN_WINDOW],
            wpos: 0,
            digest: 0,
        };
        st.slide(1);
        st
    }

    #[inline(always)]
    fn slide(&mut self, b: u8) {
        const SHIFT: u32 = 53 - 8; // degree of RABIN_POLY minus 8
        let out = self.window[self.wpos];
        self.window[self.wpos] = b;
        self.digest ^= self.tables.out[out as usize];
        self.wpos = (self.wpos + 1) % RABIN_WINDOW;
        let index = (self.digest >> SHIFT) as usize;
        self.digest = ((self.digest << 8) | b as u64) ^ self.tables.modt[index];
    }
}

const BUZ_MIN: usize = 128 << 10;
const BUZ_MAX: usize = 512 << 10;
const BUZ_MASK: u32 = (1 << 17) - 1;
/// Width of the buzhash rolling window.
const BUZ_WINDOW: usize = 32;

/// boxo's buzhash: fill a 512 KiB buffer; if fewer than 128 KiB are left at
/// the end of input, that rest is the last chunk; otherwise hash the 32-byte
/// window ending at 128 KiB and slide it until `state & (2^17-1) == 0` (cut
/// after the window) or the buffer ends (cut there).
struct BuzhashChunker {
    win: Window,
}

impl BuzhashChunker {
    fn new() -> Self {
        BuzhashChunker {
            win: Window::new(BUZ_MAX),
        }
    }

    fn next<R: Read>(&mut self, r: &mut R, eof: &mut bool) -> io::Result<Option<Chunk>> {
        self.win.refill(r, eof)?;
        let buffered = self.win.pending();
        if buffered < BUZ_MIN {
            if buffered == 0 {
                return Ok(None);
            }
            return Ok(Some(self.win.take(buffered)));
        }
        let buf = &self.win.buf[self.win.pos..self.win.len];
        let mut state: u32 = 0;
        for &b in &buf[BUZ_MIN - BUZ_WINDOW..BUZ_MIN] {
            state = state.rotate_left(1) ^ BUZHASH_TABLE[b as usize];
        }
        // The window [i, i+32) is checked before sliding to i+1.
        let last = buffered - BUZ_WINDOW - 1;
        let mut i = BUZ_MIN - BUZ_WINDOW;
        while i <= last {
            if state & BUZ_MASK == 0 {
                break;
            }
            // Rotating a 32-bit value 32 times is the identity, so the byte
            // leaving the window is removed with its plain table entry.
            state = state.rotate_left(1)
                ^ BUZHASH_TABLE[buf[i] as usize]
                ^ BUZHASH_TABLE[buf[i + BUZ_WINDOW] as usize];
            i += 1;
        }
        Ok(Some(self.win.take(i + BUZ_WINDOW)))
    }
}

/// boxo's buzhash byte table (`chunker/buzhash.go`, generated from Go's
/// math/rand seeded with 0); chunk boundaries, hence CIDs, depend on it.
#[rustfmt::skip]
static BUZHASH_TABLE: [u32; 256] = [
    0x6236e7d5, 0x10279b0b, 0x72818182, 0xdc526514, 0x2fd41e3d, 0x777ef8c8,
    0x83ee5285, 0x2c8f3637, 0x2f049c1a, 0x57df9791, 0x9207151f, 0x9b544818,
    0x74eef658, 0x2028ca60, 0x0271d91a, 0x27ae587e, 0xecf9fa5f, 0x236e71cd,
    0xf43a8a2e, 0x0bb13380, 0x9e57912c, 0x89a26cdb, 0x9fcf3d71, 0xa86da6f1,
    0x9c49f376, 0x346aecc7, 0xf094a9ee, 0xea99e9cb, 0xb01713c6, 0x088acffb,
    0x2960a0fb, 0x344a626c, 0x7ff22a46, 0x6d7a1aa5, 0x6a714916, 0x41d454ca,
    0x8325b830, 0x0b65f563, 0x447fecca, 0xf9d0ea5e, 0xc1d9d3d4, 0xcb5ec574,
    0x55aae902, 0x86edc0e7, 0x0d3a9e33, 0xe70dc1e1, 0xe3c5f639, 0x9b43140a,
    0xc6490ac5, 0x5e4030fb, 0x8e976dd5, 0xa87468ea, 0xf830ef6f, 0xcc1ed5a5,
    0x611f4e78, 0xddd11905, 0xf2613904, 0x566c67b9, 0x905a5ccc, 0x7b37b3a4,
    0x4b53898a, 0x6b8fd29d, 0xaad81575, 0x511be414, 0x3cfac1e7, 0x8029a179,
    0xd40efeda, 0x07380e02, 0xdc9beffd, 0x2d049082, 0x99bc7831, 0xff5002a8,
    0x21ce7646, 0x01cd049b, 0x0f43994f, 0xc3c6c5a5, 0xbbda5f50, 0x0ec15ec7,
    0x9adb19b6, 0x0c1e80b9, 0xb9b52968, 0xae162419, 0x2542b405, 0x91a42e9d,
    0x6be0f668, 0x6ed7a6b9, 0xbc2777b4, 0xe162ce56, 0x4266aad5, 0x60fdb704,
    0x66f832a5, 0x9595f6ca, 0xfee83ced, 0x55228d99, 0x12bf0e28, 0x66896459,
    0x0789afda, 0x0282baa8, 0x2367a343, 0x591491b0, 0x2ff1a4b1, 0x410739b6,
    0x9b7055a0, 0x2e0eb229, 0x24fc8252, 0x3327d3df, 0xb0782669, 0x1c62e069,
    0x7f503101, 0xf50593ae, 0xd9eb275d, 0xe00eb678, 0x5917ccde, 0x97b9660a,
    0xdd06202d, 0xed229e22, 0xa9c735bf, 0xd6316fe6, 0x6fc72e4c, 0x0206dfa2,
    0xd6b15c5a, 0x69d87b49, 0x09c97745, 0x13445d61, 0x35a975aa, 0x859aa9b9,
    0x65380013, 0xd1fb6391, 0xc29255fd, 0x784a3b91, 0xb9e74c26, 0x63ce4d40,
    0xc07cbe9e, 0xe6e4529e, 0x0fb3632f, 0x9438d9c9, 0x682f94a8, 0xf8fd4611,
    0x257ec1ed, 0x475ce3d6, 0x60ee2db1, 0x2afab002, 0x2b9e4878, 0x86b340de,
    0x1482fdca, 0xfe41b3bf, 0xd4a412b0, 0xe09db98c, 0xc1af5d53, 0x7e55e25f,
    0xd3346b38, 0xb7a12cbd, 0x9c6827ba, 0x71f78bee, 0x8c3a0f52, 0x150491b0,
    0xf26de912, 0x233e3a4e, 0xd309ebba, 0xa0a9e0ff, 0xca2b5921, 0xeeb9893c,
    0x33829e88, 0x9870cc2a, 0x23c4b9d0, 0xeba32ea3, 0xbdac4d22, 0x3bc8c44c,
    0x1e8d0397, 0xf9327735, 0x783b009f, 0x0eb83742, 0x2621dc71, 0xed017d03,
    0x5c760aa1, 0x5a69814b, 0x96e3047f, 0xa93c9cde, 0x615c86f5, 0xb4322aa5,
    0x4225534d, 0x0d2e2de3, 0xccfccc4b, 0x0bac2a57, 0xf0a06d04, 0xbc78d737,
    0xf2d1f766, 0xf5a7953c, 0xbcdfda85, 0x5213b7d5, 0xbce8a328, 0xd38f5f18,
    0xdb094244, 0xfe571253, 0x317fa7ee, 0x4a324f43, 0x3ffc39d9, 0x51b3fa8e,
    0x7a4bee9f, 0x78bbc682, 0x9f5c0350, 0x02fe286c, 0x245ab686, 0xed6bf7d7,
    0x0ac4988a, 0x3fe010fa, 0xc65fe369, 0xa45749cb, 0x2b84e537, 0xde9ff363,
    0x20540f9a, 0xaa8c9b34, 0x5bc476b3, 0x1d574bd7, 0x929100ad, 0x4721de4d,
    0x27df1b05, 0x58b18546, 0xb7e76764, 0xdf904e58, 0x97af57a1, 0xbd4dc433,
    0xa6256dfd, 0xf63998f3, 0xf1e05833, 0xe20acf26, 0xf57fd9d6, 0x90300b4d,
    0x89df4290, 0x68d01cbc, 0xcf893ee3, 0xcc42a046, 0x778e181b, 0x67265c76,
    0xe981a4c4, 0x82991da1, 0x708f7294, 0xe6e2ae62, 0xfc441870, 0x95e1b0b6,
    0x0445f825, 0x5a93b47f, 0x5e9cf4be, 0x84da71e7, 0x9d9582b0, 0x9bf835ef,
    0x591f61e2, 0x43325985, 0x5d2de32e, 0x8d8fbf0f, 0x95b30f38, 0x07ad5b6e,
    0x4e934edf, 0x3cd4990e, 0x9053e259, 0x5c41857d,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<ChunkerSpec, String> {
        ChunkerSpec::parse(s).map_err(|e| e.0)
    }

    #[test]
    fn parses_kubo_strings() {
        assert_eq!(parse("").unwrap(), ChunkerSpec::Size(262144));
        assert_eq!(parse("default").unwrap(), ChunkerSpec::Size(262144));
        assert_eq!(parse("size-64").unwrap(), ChunkerSpec::Size(64));
        assert_eq!(parse("size-2096896").unwrap(), ChunkerSpec::Size(2096896));
        assert_eq!(
            parse("rabin").unwrap(),
            ChunkerSpec::Rabin {
                min: 87381,
                avg: 262144,
                max: 393216
            }
        );
        assert_eq!(
            parse("rabin-36-512-1024").unwrap(),
            ChunkerSpec::Rabin {
                min: 36,
                avg: 512,
                max: 1024
            }
        );
        assert_eq!(
            parse("rabin-min:36-avg:512-max:1024").unwrap(),
            parse("rabin-36-512-1024").unwrap()
        );
        assert_eq!(parse("rabin-3000").unwrap(), ChunkerSpec::rabin(3000));
        assert_eq!(parse("buzhash").unwrap(), ChunkerSpec::Buzhash);
        for s in ["size-77", "rabin-16-32-64", "buzhash"] {
            assert_eq!(parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn rejects_like_kubo() {
        assert_eq!(
            parse("size-0").unwrap_err(),
            "chunker size must be greater than 0"
        );
        assert_eq!(
            parse("size-2096897").unwrap_err(),
            "chunker parameters may not exceed the maximum chunk size of 2096896"
        );
        assert_eq!(
            parse("size-abc").unwrap_err(),
            "strconv.Atoi: parsing \"abc\": invalid syntax"
        );
        assert_eq!(
            parse("size-1-2").unwrap_err(),
            "incorrect chunker string format (expected size-{size})"
        );
        assert_eq!(
            parse("rabin-12-512-1024").unwrap_err(),
            "rabin min must be greater than 16"
        );
        assert_eq!(
            parse("rabin-600-512-1024").unwrap_err(),
            "incorrect format: rabin-min must be smaller than rabin-avg"
        );
        assert_eq!(
            parse("rabin-16-512-512").unwrap_err(),
            "incorrect format: rabin-avg must be smaller than rabin-max"
        );
        assert_eq!(
            parse("rabin-16-512-3000000").unwrap_err(),
            "chunker parameters may not exceed the maximum chunk size of 2096896"
        );
        assert_eq!(
            parse("rabin-2000000").unwrap_err(),
            "chunker parameters may not exceed the maximum chunk size of 2096896"
        );
        assert_eq!(
            parse("rabin-1-2").unwrap_err(),
            "incorrect format (expected 'rabin' 'rabin-[avg]' or 'rabin-[min]-[avg]-[max]'"
        );
        assert_eq!(
            parse("rabin-x:16-32-64").unwrap_err(),
            "first label must be min"
        );
        assert_eq!(
            parse("fixed-5").unwrap_err(),
            "unrecognized chunker option: fixed-5"
        );
    }

    /// A reader that returns at most `step` bytes per call, to prove that
    /// boundaries do not depend on how the input arrives.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn pseudo_random(len: usize, mut seed: u64) -> Vec<u8> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 24) as u8
            })
            .collect()
    }

    fn sizes(spec: &str, data: &[u8], step: usize) -> Vec<usize> {
        let spec = ChunkerSpec::parse(spec).unwrap();
        let mut out = Vec::new();
        let mut joined = Vec::new();
        for c in spec.chunker(Trickle { data, step }) {
            let c = c.unwrap();
            assert!(!c.is_empty());
            joined.extend_from_slice(c.data());
            out.push(c.len());
        }
        assert_eq!(joined, data, "chunks must reassemble the input");
        out
    }

    #[test]
    fn size_chunker_fills_chunks_from_short_reads() {
        let data = pseudo_random(1000, 1);
        assert_eq!(sizes("size-300", &data, 7), vec![300, 300, 300, 100]);
        assert_eq!(sizes("size-250", &data, 1000), vec![250; 4]);
        assert!(sizes("size-10", &[], 3).is_empty());
    }

    #[test]
    fn content_defined_boundaries_ignore_read_sizes() {
        let data = pseudo_random(3 << 20, 7);
        for spec in ["rabin", "rabin-16-64-256", "buzhash"] {
            let a = sizes(spec, &data, 1 << 20);
            let b = sizes(spec, &data, 4093);
            assert_eq!(a, b, "{spec}");
            assert!(a.len() > 2, "{spec} made {} chunks", a.len());
        }
        let rabin = sizes("rabin", &data, 1 << 20);
        assert!(rabin[..rabin.len() - 1]
            .iter()
            .all(|&n| (87381..=393216).contains(&n)));
        let buz = sizes("buzhash", &data, 1 << 20);
        assert!(buz[..buz.len() - 1]
            .iter()
            .all(|&n| (BUZ_MIN..=BUZ_MAX).contains(&n)));
    }

    #[test]
    fn framing_writes_around_the_data() {
        let c = Chunk::copy_from(b"abc");
        assert_eq!(&c.framed(b"<<", b">")[..], b"<<abc>");
        assert_eq!(&Chunk::copy_from(b"xy").into_bytes()[..], b"xy");
    }

    #[test]
    fn rabin_tables_match_go_chunker() {
        // out[0] is the hash of sixteen zero bytes, which is zero.
        let t = rabin_tables();
        assert_eq!(t.out[0], 0);
        // mod[b] cancels the 8 bits above degree 53 exactly.
        for b in 0..256u64 {
            assert_eq!(t.modt[b as usize] >> 53, b);
        }
    }
}
