//! `ipfs cid format` and `ipfs cid base32`, plus the multibase, multicodec
//! and multihash name tables Kubo uses for them (go-multibase,
//! go-multicodec's IPLD codecs, go-multihash).
//!
//! Kubo's per-CID flow: decode the string, switch codec (`--mc`, which
//! always yields a CIDv1), convert version (`-v`; `-b` alone implies v1),
//! pick the base (`-b`, else base58btc for v0, else the input's own base),
//! then expand the printf-style format string.

use crate::{codecs, Cid, Error, Result};
use multibase::Base;

/// The multibases Kubo supports, as `(prefix, name, base)`, in the order
/// `ipfs cid bases` lists them.
pub const MULTIBASES: [(char, &str, Base); 21] = [
    ('\0', "identity", Base::Identity),
    ('0', "base2", Base::Base2),
    ('b', "base32", Base::Base32Lower),
    ('B', "base32upper", Base::Base32Upper),
    ('c', "base32pad", Base::Base32PadLower),
    ('C', "base32padupper", Base::Base32PadUpper),
    ('f', "base16", Base::Base16Lower),
    ('F', "base16upper", Base::Base16Upper),
    ('k', "base36", Base::Base36Lower),
    ('K', "base36upper", Base::Base36Upper),
    ('m', "base64", Base::Base64),
    ('M', "base64pad", Base::Base64Pad),
    ('t', "base32hexpad", Base::Base32HexPadLower),
    ('T', "base32hexpadupper", Base::Base32HexPadUpper),
    ('u', "base64url", Base::Base64Url),
    ('U', "base64urlpad", Base::Base64UrlPad),
    ('v', "base32hex", Base::Base32HexLower),
    ('V', "base32hexupper", Base::Base32HexUpper),
    ('z', "base58btc", Base::Base58Btc),
    ('Z', "base58flickr", Base::Base58Flickr),
    ('🚀', "base256emoji", Base::Base256Emoji),
];

/// The IPLD-tagged multicodecs (`ipfs cid codecs`), as `(code, name)`.
pub const IPLD_CODECS: [(u64, &str); 44] = [
    (0x51, "cbor"),
    (0x55, "raw"),
    (0x70, "dag-pb"),
    (0x71, "dag-cbor"),
    (0x72, "libp2p-key"),
    (0x78, "git-raw"),
    (0x7b, "torrent-info"),
    (0x7c, "torrent-file"),
    (0x80, "blake3-hashseq"),
    (0x81, "leofcoin-block"),
    (0x82, "leofcoin-tx"),
    (0x83, "leofcoin-pr"),
    (0x85, "dag-jose"),
    (0x86, "dag-cose"),
    (0x90, "eth-block"),
    (0x91, "eth-block-list"),
    (0x92, "eth-tx-trie"),
    (0x93, "eth-tx"),
    (0x94, "eth-tx-receipt-trie"),
    (0x95, "eth-tx-receipt"),
    (0x96, "eth-state-trie"),
    (0x97, "eth-account-snapshot"),
    (0x98, "eth-storage-trie"),
    (0x99, "eth-receipt-log-trie"),
    (0x9a, "eth-receipt-log"),
    (0xb0, "bitcoin-block"),
    (0xb1, "bitcoin-tx"),
    (0xb2, "bitcoin-witness-commitment"),
    (0xc0, "zcash-block"),
    (0xc1, "zcash-tx"),
    (0xd0, "stellar-block"),
    (0xd1, "stellar-tx"),
    (0xe0, "decred-block"),
    (0xe1, "decred-tx"),
    (0xf0, "dash-block"),
    (0xf1, "dash-tx"),
    (0xfa, "swarm-manifest"),
    (0xfb, "swarm-feed"),
    (0xfc, "beeson"),
    (0x0129, "dag-json"),
    (0x01f0, "swhid-1-snp"),
    (0x0200, "json"),
    (0xb403, "rdfc-1"),
    (0xb601, "json-jcs"),
];

/// go-multihash's named functions (besides the blake2 families, which are
/// computed): `(code, name)`.
const MULTIHASHES: [(u64, &str); 21] = [
    (0x00, "identity"),
    (0x11, "sha1"),
    (0x12, "sha2-256"),
    (0x13, "sha2-512"),
    (0x17, "sha3-224"),
    (0x16, "sha3-256"),
    (0x15, "sha3-384"),
    (0x14, "sha3-512"),
    (0x56, "dbl-sha2-256"),
    (0x22, "murmur3-x64-64"),
    (0x1a, "keccak-224"),
    (0x1b, "keccak-256"),
    (0x1c, "keccak-384"),
    (0x1d, "keccak-512"),
    (0x1e, "blake3"),
    (0x18, "shake-128"),
    (0x19, "shake-256"),
    (0x1012, "sha2-256-trunc254-padded"),
    (0x1100, "x11"),
    (0xd5, "md5"),
    (0xb401, "poseidon-bls12_381-a2-fc1"),
];

const BLAKE2B_MIN: u64 = 0xb201;
const BLAKE2B_MAX: u64 = 0xb240;
const BLAKE2S_MIN: u64 = 0xb241;
const BLAKE2S_MAX: u64 = 0xb260;

/// The go-multihash name of a hash function code (`%h`).
pub fn multihash_name(code: u64) -> Option<String> {
    if let Some((_, n)) = MULTIHASHES.iter().find(|(c, _)| *c == code) {
        return Some(n.to_string());
    }
    match code {
        BLAKE2B_MIN..=BLAKE2B_MAX => Some(format!("blake2b-{}", (code - BLAKE2B_MIN + 1) * 8)),
        BLAKE2S_MIN..=BLAKE2S_MAX => Some(format!("blake2s-{}", (code - BLAKE2S_MIN + 1) * 8)),
        _ => None,
    }
}

/// The code of a go-multihash function name (`sha3` is an alias of
/// sha3-512 there).
pub fn multihash_code(name: &str) -> Option<u64> {
    if name == "sha3" {
        return Some(0x14);
    }
    if let Some((c, _)) = MULTIHASHES.iter().find(|(_, n)| *n == name) {
        return Some(*c);
    }
    let bits = |prefix: &str, max: u64| -> Option<u64> {
        let n: u64 = name.strip_prefix(prefix)?.parse().ok()?;
        (n.is_multiple_of(8) && (8..=max).contains(&n)).then(|| n / 8 - 1)
    };
    bits("blake2b-", 512)
        .map(|i| BLAKE2B_MIN + i)
        .or_else(|| bits("blake2s-", 256).map(|i| BLAKE2S_MIN + i))
}

/// The multicodec name of a code (`%c`): an IPLD codec or hash function
/// name, else Go's `Code(N)` fallback.
pub fn multicodec_name(code: u64) -> String {
    if let Some((_, n)) = IPLD_CODECS.iter().find(|(c, _)| *c == code) {
        return n.to_string();
    }
    multihash_name(code).unwrap_or_else(|| format!("Code({code})"))
}

/// Parses a multicodec as go-multicodec's `Code.Set` does: a known name,
/// or a known code written as a Go integer literal (`112`, `0x70`). Error:
/// `unknown multicodec: "name"`.
pub fn multicodec_from_name(name: &str) -> Result<u64> {
    let known = |c: u64| {
        IPLD_CODECS.iter().any(|(k, _)| *k == c)
            || multihash_name(c).is_some()
            || (0x300000..=0x3FFFFF).contains(&c)
    };
    if let Some(c) = parse_go_uint(name).filter(|c| known(*c)) {
        return Ok(c);
    }
    if let Some((c, _)) = IPLD_CODECS.iter().find(|(_, n)| *n == name) {
        return Ok(*c);
    }
    if name != "sha3" {
        if let Some(c) = multihash_code(name) {
            return Ok(c);
        }
    }
    Err(Error::Usage(format!("unknown multicodec: {name:?}")))
}

/// `strconv.ParseUint(s, 0, 64)`: decimal, `0x`, `0o`, `0b` or leading-0
/// octal.
fn parse_go_uint(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let (digits, radix) = if let Some(r) = lower.strip_prefix("0x") {
        (r, 16)
    } else if let Some(r) = lower.strip_prefix("0o") {
        (r, 8)
    } else if let Some(r) = lower.strip_prefix("0b") {
        (r, 2)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (&lower[1..], 8)
    } else {
        (lower.as_str(), 10)
    };
    if digits.is_empty() || digits.starts_with('+') {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// Parses `-b`/`--cid-base` like go-multibase's `EncoderByName`: a name
/// from [`MULTIBASES`] or a single prefix character.
pub fn multibase_from_name(name: &str) -> Result<Base> {
    if name.is_empty() {
        return Err(Error::Usage("empty multibase encoding".into()));
    }
    let mut chars = name.chars();
    let found = match (chars.next(), chars.next()) {
        (Some(c), None) => MULTIBASES.iter().find(|(p, _, _)| *p == c),
        _ => MULTIBASES.iter().find(|(_, n, _)| *n == name),
    };
    found
        .map(|(_, _, b)| *b)
        .ok_or_else(|| Error::Usage(format!("unsupported multibase encoding: {name}")))
}

/// Kubo's name for a multibase, if Kubo supports it.
pub fn multibase_name(base: Base) -> Option<&'static str> {
    MULTIBASES
        .iter()
        .find(|(_, _, b)| *b == base)
        .map(|(_, n, _)| *n)
}

/// Decodes a CID string as go-cid's `Decode` does (46-character `Qm…` is
/// base58 CIDv0, anything else multibase; only Kubo's bases), returning the
/// base it was written in. Errors read `invalid cid: …` like Kubo's.
pub fn decode_cid(s: &str) -> Result<(Cid, Base)> {
    let invalid = |m: String| Error::InvalidCid(m);
    if s.len() < 2 {
        return Err(invalid("cid too short".into()));
    }
    let (base, bytes) = if s.len() == 46 && s.starts_with("Qm") {
        let bytes = Base::Base58Btc
            .decode(s)
            .map_err(|e| invalid(e.to_string()))?;
        (Base::Base58Btc, bytes)
    } else {
        let prefix = s.chars().next().expect("non-empty");
        if !MULTIBASES.iter().any(|(p, _, _)| *p == prefix) {
            return Err(invalid("selected encoding not supported".into()));
        }
        multibase::decode(s).map_err(|e| invalid(e.to_string()))?
    };
    let mut rest = bytes.as_slice();
    let cid = Cid::read_bytes(&mut rest).map_err(|e| invalid(e.to_string()))?;
    if !rest.is_empty() {
        return Err(invalid(
            "trailing bytes in data buffer passed to cid Cast".into(),
        ));
    }
    Ok((cid, base))
}

/// A CID string in `base`; CIDv0 only exists in (prefix-less) base58btc.
pub fn encode_cid(cid: &Cid, base: Base) -> Result<String> {
    match cid.version() {
        cid::Version::V0 if base != Base::Base58Btc => {
            Err(Error::Usage("invalid base encoding".into()))
        }
        cid::Version::V0 => Ok(cid.to_string()),
        cid::Version::V1 => Ok(multibase::encode(base, cid.to_bytes())),
    }
}

/// `ipfs cid format` failures, split as Kubo splits them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The format string is malformed: Kubo aborts the whole command.
    #[error("{0}")]
    BadFormat(String),
    /// This one CID failed: Kubo prints `<input>: <message>` and goes on
    /// (exiting 1 at the end).
    #[error("{0}")]
    Cid(String),
}

impl From<FormatError> for Error {
    fn from(e: FormatError) -> Self {
        Error::Usage(e.to_string())
    }
}

/// Multibase-encodes `data`, optionally without the prefix character.
fn mb(base: Base, data: &[u8], strip: bool) -> String {
    let s = multibase::encode(base, data);
    if strip {
        let mut c = s.chars();
        c.next();
        c.as_str().to_string()
    } else {
        s
    }
}

/// Expands a `cid format -f` string for one CID in `base` (go-cidutil's
/// `Format`): `%s %S %b %B %v %V %c %C %h %H %L %m %M %d %D %P %%`.
pub fn format_cid(fmt: &str, base: Base, cid: &Cid) -> Result<String, FormatError> {
    let version = cid.version() as u64;
    let mh = cid.hash();
    let hash_name = || multihash_name(mh.code()).unwrap_or_else(|| format!("hash?{}", mh.code()));
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(spec) = chars.next() else {
            return Err(FormatError::BadFormat(
                "premature end of format string".into(),
            ));
        };
        match spec {
            '%' => out.push('%'),
            'b' => match multibase_name(base) {
                Some(n) => out.push_str(n),
                None => out.push_str(&format!("base?{}", base.code())),
            },
            'B' => out.push(base.code()),
            'v' => out.push_str(&format!("cidv{version}")),
            'V' => out.push_str(&version.to_string()),
            'c' => out.push_str(&multicodec_name(cid.codec())),
            'C' => out.push_str(&cid.codec().to_string()),
            'h' => out.push_str(&hash_name()),
            'H' => out.push_str(&mh.code().to_string()),
            'L' => out.push_str(&mh.size().to_string()),
            'm' | 'M' => out.push_str(&mb(base, &mh.to_bytes(), spec == 'M')),
            'd' | 'D' => out.push_str(&mb(base, mh.digest(), spec == 'D')),
            's' => {
                out.push_str(&encode_cid(cid, base).map_err(|e| FormatError::Cid(e.to_string()))?)
            }
            'S' => out.push_str(&mb(base, &cid.to_bytes(), true)),
            'P' => out.push_str(&format!(
                "cidv{version}-{}-{}-{}",
                multicodec_name(cid.codec()),
                hash_name(),
                mh.size()
            )),
            other => {
                return Err(FormatError::BadFormat(format!(
                    "unrecognized specifier in format string: %{other}"
                )))
            }
        }
    }
    Ok(out)
}

/// Validated options of `ipfs cid format` (or `cid base32`), applied to
/// each CID with [`format`](Self::format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidFormatter {
    fmt: String,
    /// Target version, if converting.
    version: Option<u8>,
    /// New codec (`--mc`), if any.
    codec: Option<u64>,
    /// Output base (`-b`), if given.
    base: Option<Base>,
}

impl CidFormatter {
    /// Validates `-f`, `-v`, `--mc` and `-b` in Kubo's order and with its
    /// messages. `None` means the option was not given (Kubo's `-f`
    /// default is `%s`).
    pub fn new(
        fmt: Option<&str>,
        version: Option<&str>,
        codec: Option<&str>,
        base: Option<&str>,
    ) -> Result<Self> {
        let fmt = fmt.unwrap_or("%s");
        if !fmt.contains('%') {
            return Err(Error::Usage(format!("invalid format string: {fmt:?}")));
        }
        let base = base.filter(|b| !b.is_empty());
        // Go leaves the codec at 0 ("no change") when not given.
        let codec = match codec.filter(|c| !c.is_empty()) {
            Some(name) => Some(multicodec_from_name(name)?).filter(|c| *c != 0),
            None => None,
        };
        let version = match version.unwrap_or("") {
            "" => base.map(|_| 1),
            "0" => {
                if codec.is_some_and(|c| c != codecs::DAG_PB) {
                    return Err(Error::Usage(
                        "cannot convert to CIDv0 with any codec other than dag-pb".into(),
                    ));
                }
                if base.is_some_and(|b| b != "base58btc") {
                    return Err(Error::Usage(
                        "cannot convert to CIDv0 with any multibase other than the implicit base58btc"
                            .into(),
                    ));
                }
                Some(0)
            }
            "1" => Some(1),
            other => return Err(Error::Usage(format!("invalid cid version: {other:?}"))),
        };
        let base = base.map(multibase_from_name).transpose()?;
        Ok(CidFormatter {
            fmt: fmt.to_string(),
            version,
            codec,
            base,
        })
    }

    /// `ipfs cid base32`: CIDv1 in base32.
    pub fn base32() -> Self {
        CidFormatter {
            fmt: "%s".into(),
            version: Some(1),
            codec: None,
            base: Some(Base::Base32Lower),
        }
    }

    /// Formats one CID string (trim stdin lines first, as Kubo does).
    pub fn format(&self, input: &str) -> Result<String, FormatError> {
        let cid_err = |e: Error| FormatError::Cid(e.to_string());
        let (mut cid, input_base) = decode_cid(input).map_err(cid_err)?;
        if let Some(codec) = self.codec {
            if codec != cid.codec() {
                cid = Cid::new_v1(codec, *cid.hash());
            }
        }
        match self.version {
            Some(0) => {
                if cid.codec() != codecs::DAG_PB {
                    return Err(FormatError::Cid(
                        "can't convert non-dag-pb nodes to cidv0".into(),
                    ));
                }
                cid = Cid::new_v0(*cid.hash()).map_err(|_| {
                    FormatError::Cid(
                        "can't convert to cidv0: the multihash must be a 32-byte sha2-256".into(),
                    )
                })?;
            }
            Some(_) => cid = Cid::new_v1(cid.codec(), *cid.hash()),
            None => {}
        }
        let base = match (self.base, cid.version()) {
            (Some(b), _) => b,
            (None, cid::Version::V0) => Base::Base58Btc,
            (None, cid::Version::V1) => input_base,
        };
        format_cid(&self.fmt, base, &cid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_uint_literals() {
        assert_eq!(parse_go_uint("112"), Some(112));
        assert_eq!(parse_go_uint("0x70"), Some(0x70));
        assert_eq!(parse_go_uint("0160"), Some(0o160));
        assert_eq!(parse_go_uint("0b1"), Some(1));
        assert_eq!(parse_go_uint("0"), Some(0));
        assert_eq!(parse_go_uint("x"), None);
        assert_eq!(parse_go_uint("+1"), None);
    }

    #[test]
    fn multihash_names_cover_blake2_families() {
        assert_eq!(multihash_name(0xb220).as_deref(), Some("blake2b-256"));
        assert_eq!(multihash_name(0xb260).as_deref(), Some("blake2s-256"));
        assert_eq!(multihash_code("blake2b-512"), Some(0xb240));
        assert_eq!(multihash_code("blake2s-160"), Some(0xb254));
        assert_eq!(multihash_code("blake2b-7"), None);
        assert_eq!(multihash_code("sha3"), Some(0x14));
        assert_eq!(multihash_name(0x9999), None);
    }
}
