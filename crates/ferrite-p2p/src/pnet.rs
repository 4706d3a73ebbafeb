//! Private networks: the `swarm.key` file shared by every member of a
//! private IPFS network.
//!
//! The format is Kubo's (go-libp2p `core/pnet/codec.go`):
//!
//! ```text
//! /key/swarm/psk/1.0.0/
//! /base16/
//! <64 hex characters>
//! ```
//!
//! The second line may also be `/base64/` (standard alphabet, padded) or
//! `/bin/` (32 raw bytes). Header lines may end in `\n` or `\r\n`. As in
//! go-libp2p, only the first 32 key bytes are read: whatever follows them
//! (a newline, trailing spaces) is ignored.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use libp2p::pnet::PreSharedKey;
use rand::RngCore as _;

/// First line of every `swarm.key`.
pub const PSK_V1_HEADER: &str = "/key/swarm/psk/1.0.0/";

/// Length of the key in bytes.
pub const KEY_LEN: usize = 32;

/// A private network's pre-shared key, as read from a `swarm.key` file.
#[derive(Clone, PartialEq, Eq)]
pub struct SwarmKey([u8; KEY_LEN]);

/// Why a `swarm.key` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SwarmKeyError {
    /// The file could not be read.
    #[error("cannot read swarm key {path}: {source}")]
    Io {
        /// The file's path.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A header line is missing its line end (the file is truncated).
    #[error("swarm key: missing {0} line")]
    MissingLine(&'static str),
    /// The first line is not `/key/swarm/psk/1.0.0/`.
    #[error("swarm key: expected file header {PSK_V1_HEADER}, got: {0}")]
    BadHeader(String),
    /// The second line is not `/base16/`, `/base64/` or `/bin/`.
    #[error("swarm key: unknown encoding: {0} (expected /base16/, /base64/ or /bin/)")]
    UnknownEncoding(String),
    /// Fewer than 32 key bytes follow the headers.
    #[error("swarm key: key too short: {got} {unit}, need {need}")]
    TooShort {
        /// What was found.
        got: usize,
        /// What is needed.
        need: usize,
        /// `hex characters`, `bytes`.
        unit: &'static str,
    },
    /// The key is not valid hex or base64.
    #[error("swarm key: invalid {encoding} key: {detail}")]
    BadKey {
        /// `base16` or `base64`.
        encoding: &'static str,
        /// What is wrong.
        detail: String,
    },
}

impl SwarmKey {
    /// Wraps 32 raw key bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// A new random key.
    pub fn generate() -> Self {
        let mut key = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self(key)
    }

    /// Parses the contents of a `swarm.key` file.
    pub fn parse(data: &[u8]) -> Result<Self, SwarmKeyError> {
        let (header, rest) = read_line(data).ok_or(SwarmKeyError::MissingLine("header"))?;
        if header != PSK_V1_HEADER.as_bytes() {
            return Err(SwarmKeyError::BadHeader(
                String::from_utf8_lossy(header).into_owned(),
            ));
        }
        let (encoding, body) = read_line(rest).ok_or(SwarmKeyError::MissingLine("encoding"))?;
        let mut key = [0u8; KEY_LEN];
        match encoding {
            b"/base16/" => {
                // Go's hex.Decoder reads exactly 64 characters and ignores the rest.
                if body.len() < 2 * KEY_LEN {
                    return Err(SwarmKeyError::TooShort {
                        got: hex_prefix_len(body),
                        need: 2 * KEY_LEN,
                        unit: "hex characters",
                    });
                }
                for (i, pair) in body[..2 * KEY_LEN].chunks(2).enumerate() {
                    key[i] = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
                }
            }
            b"/base64/" => {
                // Go's base64 decoder skips line ends anywhere in the input.
                let text: Vec<u8> = body
                    .iter()
                    .copied()
                    .filter(|b| *b != b'\r' && *b != b'\n')
                    .collect();
                let text = text.trim_ascii_end();
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|e| SwarmKeyError::BadKey {
                        encoding: "base64",
                        detail: e.to_string(),
                    })?;
                if decoded.len() < KEY_LEN {
                    return Err(SwarmKeyError::TooShort {
                        got: decoded.len(),
                        need: KEY_LEN,
                        unit: "bytes",
                    });
                }
                key.copy_from_slice(&decoded[..KEY_LEN]);
            }
            b"/bin/" => {
                if body.len() < KEY_LEN {
                    return Err(SwarmKeyError::TooShort {
                        got: body.len(),
                        need: KEY_LEN,
                        unit: "bytes",
                    });
                }
                key.copy_from_slice(&body[..KEY_LEN]);
            }
            other => {
                return Err(SwarmKeyError::UnknownEncoding(
                    String::from_utf8_lossy(other).into_owned(),
                ))
            }
        }
        Ok(Self(key))
    }

    /// Reads and parses a `swarm.key` file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, SwarmKeyError> {
        let path = path.as_ref();
        let data = std::fs::read(path).map_err(|source| SwarmKeyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&data)
    }

    /// The file contents in the `/base16/` form, exactly as
    /// `ipfs-swarm-key-gen` prints it (lower-case hex, no final newline).
    pub fn to_file_contents(&self) -> String {
        let hex: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
        format!("{PSK_V1_HEADER}\n/base16/\n{hex}")
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// The key in rust-libp2p's form, for [`libp2p::pnet::PnetConfig`].
    pub fn pre_shared_key(&self) -> PreSharedKey {
        PreSharedKey::new(self.0)
    }

    /// The fingerprint Kubo prints at start-up ("Swarm key fingerprint: …"):
    /// Shake-128 of a Salsa20 keystream under the key, 16 bytes in lower-case
    /// hex. It identifies the key without revealing it.
    pub fn fingerprint(&self) -> String {
        self.pre_shared_key().fingerprint().to_string()
    }
}

/// Never prints the key itself.
impl fmt::Debug for SwarmKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SwarmKey")
            .field(&format_args!("fingerprint {}", self.fingerprint()))
            .finish()
    }
}

/// One `\n`-terminated line without its trailing `\r`/`\n` characters, as
/// go-libp2p's `readHeader` (`bytes.TrimRight(line, "\r\n")`).
fn read_line(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = data.iter().position(|b| *b == b'\n')?;
    let mut line = &data[..end];
    while let [head @ .., b'\r' | b'\n'] = line {
        line = head;
    }
    Some((line, &data[end + 1..]))
}

fn hex_prefix_len(body: &[u8]) -> usize {
    body.iter().take_while(|b| b.is_ascii_hexdigit()).count()
}

fn hex_digit(c: u8) -> Result<u8, SwarmKeyError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(SwarmKeyError::BadKey {
            encoding: "base16",
            detail: format!("invalid hex character {:?}", c as char),
        }),
    }
}
