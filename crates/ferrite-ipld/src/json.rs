//! dag-json and plain JSON, written by hand so the bytes match Kubo's
//! (go-ipld-prime + refmt) exactly: lexically sorted map keys, Go's string
//! escaping, ES6-style float formatting, `{"/":"cid"}` links and
//! `{"/":{"bytes":"…"}}` bytes. serde_ipld_dagjson differs in several of
//! these details (floats, escaping, how lenient the link forms are), and
//! `dag get` output and `dag put` CIDs depend on them.

use crate::Cid;
use base64::Engine;
use ipld_core::ipld::Ipld;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Maximum nesting of maps and lists, as go-ipld-prime's decoder allows;
/// also the limit of every codec ([`crate::dag::MAX_NESTING`]).
const MAX_DEPTH: usize = crate::dag::MAX_NESTING;

/// Go's `base64.RawStdEncoding` tolerates non-zero trailing bits; so do we.
const B64_RAW: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone),
);
/// Fallback for padded input, which Kubo also accepts.
const B64_PAD: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireCanonical),
);

/// Encodes `ipld` as JSON. With `dag` set, links and bytes use the dag-json
/// forms; without it (plain `json`), they are errors as in go-ipld-prime.
pub(crate) fn encode(ipld: &Ipld, dag: bool) -> Result<Vec<u8>, String> {
    let mut out = String::new();
    write_value(&mut out, ipld, dag)?;
    Ok(out.into_bytes())
}

fn write_value(out: &mut String, v: &Ipld, dag: bool) -> Result<(), String> {
    match v {
        Ipld::Null => out.push_str("null"),
        Ipld::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Ipld::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        Ipld::Float(f) => write_float(out, *f)?,
        Ipld::String(s) => write_string(out, s),
        Ipld::Bytes(b) => {
            if !dag {
                return Err("cannot marshal IPLD bytes to this codec".into());
            }
            out.push_str("{\"/\":{\"bytes\":\"");
            out.push_str(&B64_RAW.encode(b));
            out.push_str("\"}}");
        }
        Ipld::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item, dag)?;
            }
            out.push(']');
        }
        Ipld::Map(m) => {
            // BTreeMap<String, _> iterates in byte order, which is exactly
            // Go's `<` on strings (MapSortMode_Lexical).
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_value(out, item, dag)?;
            }
            out.push('}');
        }
        Ipld::Link(c) => {
            if !dag {
                return Err("cannot marshal IPLD links to this codec".into());
            }
            out.push_str("{\"/\":\"");
            out.push_str(&c.to_string());
            out.push_str("\"}");
        }
    }
    Ok(())
}

/// Go's float formatting: shortest round-trip digits, fixed notation unless
/// the magnitude is below 1e-6 or at least 1e21, exponents without padding
/// and with an explicit `+`. Whole floats print without a fraction (`1`),
/// a known quirk of Kubo's dag-json that we keep for identical output.
fn write_float(out: &mut String, f: f64) -> Result<(), String> {
    if !f.is_finite() {
        let name = if f.is_nan() {
            "NaN"
        } else if f > 0.0 {
            "+Inf"
        } else {
            "-Inf"
        };
        return Err(format!("unsupported value: {name}"));
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((mant, exp)) if !exp.starts_with('-') => {
                let _ = write!(out, "{mant}e+{exp}");
            }
            _ => out.push_str(&s),
        }
    } else {
        let _ = write!(out, "{f}");
    }
    Ok(())
}

/// refmt's escaping: `"` and `\`, `\n` `\r` `\t`, other control bytes as
/// `\u00XX`, and U+2028/U+2029 escaped; everything else verbatim UTF-8.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Decodes JSON into the data model. With `dag` set, `{"/":"cid"}` is a link
/// and `{"/":{"bytes":"b64"}}` is bytes (only in exactly those shapes, as in
/// go-ipld-prime; anything else with a "/" key stays a plain map).
pub(crate) fn decode(input: &[u8], dag: bool) -> Result<Ipld, String> {
    let mut p = Parser {
        buf: input,
        pos: 0,
        dag,
    };
    p.skip_ws();
    if p.pos >= p.buf.len() {
        return Err("unexpected EOF".into());
    }
    let v = p.value(0)?;
    // Trailing whitespace (and NUL bytes, as Go tolerates) only.
    if p.buf[p.pos..]
        .iter()
        .any(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0))
    {
        return Err("unexpected content after end of json object".into());
    }
    Ok(v)
}

struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
    dag: bool,
}

fn describe(b: Option<u8>) -> String {
    match b {
        None => "EOF".into(),
        Some(b) if b.is_ascii_graphic() => format!("'{}'", b as char),
        Some(b) => format!("0x{b:02x}"),
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Ipld, String> {
        self.skip_ws();
        match self.peek() {
            Some(b'{') => {
                if depth >= MAX_DEPTH {
                    return Err("message structure exceeded maximum nesting depth".into());
                }
                self.pos += 1;
                self.map(depth)
            }
            Some(b'[') => {
                if depth >= MAX_DEPTH {
                    return Err("message structure exceeded maximum nesting depth".into());
                }
                self.pos += 1;
                self.list(depth)
            }
            Some(b'"') => {
                self.pos += 1;
                Ok(Ipld::String(self.string()?))
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", Ipld::Bool(true)),
            Some(b'f') => self.literal("false", Ipld::Bool(false)),
            Some(b'n') => self.literal("null", Ipld::Null),
            None => Err("unexpected EOF".into()),
            b => Err(format!(
                "invalid char while expecting start of value: {}",
                describe(b)
            )),
        }
    }

    fn literal(&mut self, word: &str, v: Ipld) -> Result<Ipld, String> {
        let end = self.pos + word.len();
        if self.buf.get(self.pos..end) == Some(word.as_bytes()) {
            self.pos = end;
            Ok(v)
        } else {
            Err(format!("invalid literal at byte {}", self.pos))
        }
    }

    fn list(&mut self, depth: usize) -> Result<Ipld, String> {
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Ipld::List(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Ipld::List(items));
                }
                None => return Err("unexpected EOF".into()),
                b => {
                    return Err(format!(
                        "expected comma or array close after array value; got {}",
                        describe(b)
                    ))
                }
            }
        }
    }

    fn map(&mut self, depth: usize) -> Result<Ipld, String> {
        let mut m = BTreeMap::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Ipld::Map(m));
        }
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b'"') => self.pos += 1,
                None => return Err("unexpected EOF".into()),
                b => {
                    return Err(format!(
                        "unexpected {} while expecting map key",
                        describe(b)
                    ))
                }
            }
            let key = self.string()?;
            self.skip_ws();
            match self.peek() {
                Some(b':') => self.pos += 1,
                None => return Err("unexpected EOF".into()),
                b => return Err(format!("expected colon after map key; got {}", describe(b))),
            }
            let v = self.value(depth + 1)?;
            if m.contains_key(&key) {
                return Err(format!("cannot repeat map key {key:?}"));
            }
            m.insert(key, v);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                None => return Err("unexpected EOF".into()),
                b => {
                    return Err(format!(
                        "expected comma or map close after map value; got {}",
                        describe(b)
                    ))
                }
            }
        }
        if self.dag {
            if let Some(special) = special_form(&m)? {
                return Ok(special);
            }
        }
        Ok(Ipld::Map(m))
    }

    /// Reads a string body after its opening quote.
    fn string(&mut self) -> Result<String, String> {
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err("unexpected EOF".into());
            };
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err("unexpected EOF".into());
                    };
                    self.pos += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let c = self.unicode_escape()?;
                            let mut tmp = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                        }
                        _ => {
                            return Err(format!("invalid byte in string escape sequence: 0x{e:x}"))
                        }
                    }
                }
                b if b < 0x20 => {
                    return Err(format!(
                        "invalid unprintable byte in string literal: 0x{b:x}"
                    ))
                }
                b => out.push(b),
            }
        }
        // Invalid UTF-8 is coerced to U+FFFD, as Go does.
        Ok(match String::from_utf8(out) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let Some(h) = self.buf.get(self.pos..self.pos + 4) else {
            return Err("unexpected EOF".into());
        };
        let mut v = 0u32;
        for &c in h {
            let d = (c as char).to_digit(16).ok_or_else(|| {
                format!("invalid byte in \\u hexadecimal character escape: 0x{c:x}")
            })?;
            v = v * 16 + d;
        }
        self.pos += 4;
        Ok(v)
    }

    /// A `\uXXXX` escape (after the `u`), joining surrogate pairs; lone
    /// surrogates become U+FFFD like in Go.
    fn unicode_escape(&mut self) -> Result<char, String> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi) && self.buf.get(self.pos..self.pos + 2) == Some(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            if let Ok(lo) = self.hex4() {
                if (0xDC00..0xE000).contains(&lo) {
                    let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    return Ok(char::from_u32(c).unwrap_or('\u{FFFD}'));
                }
            }
            // Not a valid pair: leave the second escape for the next round.
            self.pos = save;
        }
        Ok(char::from_u32(hi).unwrap_or('\u{FFFD}'))
    }

    /// JSON numbers: an int64 when the text has no fraction or exponent
    /// (out-of-range ints are errors, as in Go), a float otherwise.
    fn number(&mut self) -> Result<Ipld, String> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let s = p.pos;
            while matches!(p.peek(), Some(b'0'..=b'9')) {
                p.pos += 1;
            }
            p.pos - s
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            b => return Err(format!("invalid byte in numeric literal: {}", describe(b))),
        }
        let mut is_float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            is_float = true;
            if digits(self) == 0 {
                return Err(format!(
                    "invalid byte after decimal in numeric literal: {}",
                    describe(self.peek())
                ));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            is_float = true;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(format!(
                    "invalid byte in exponent of numeric literal: {}",
                    describe(self.peek())
                ));
            }
        }
        let text = std::str::from_utf8(&self.buf[start..self.pos]).expect("ascii digits");
        if !is_float {
            return text
                .parse::<i64>()
                .map(|i| Ipld::Integer(i.into()))
                .map_err(|_| format!("parsing {text:?}: value out of range"));
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Ipld::Float(f)),
            _ => Err(format!("parsing {text:?}: value out of range")),
        }
    }
}

/// Recognises dag-json's reserved shapes in a freshly parsed map.
fn special_form(m: &BTreeMap<String, Ipld>) -> Result<Option<Ipld>, String> {
    if m.len() != 1 {
        return Ok(None);
    }
    match m.get("/") {
        Some(Ipld::String(s)) => {
            let cid = Cid::try_from(s.as_str()).map_err(|e| format!("invalid cid: {e}"))?;
            Ok(Some(Ipld::Link(cid)))
        }
        Some(Ipld::Map(inner)) if inner.len() == 1 => match inner.get("bytes") {
            Some(Ipld::String(b64)) => {
                let bytes = B64_RAW
                    .decode(b64)
                    .or_else(|_| B64_PAD.decode(b64))
                    .map_err(|e| format!("illegal base64 data: {e}"))?;
                Ok(Some(Ipld::Bytes(bytes)))
            }
            _ => Ok(None),
        },
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(s: &str) -> String {
        String::from_utf8(encode(&decode(s.as_bytes(), true).unwrap(), true).unwrap()).unwrap()
    }

    #[test]
    fn floats_format_like_go() {
        let cases = [
            (1.0, "1"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e21, "1e+21"),
            (1.5e-7, "1.5e-7"),
            (1e20, "100000000000000000000"),
            (0.000001, "0.000001"),
            (1e-100, "1e-100"),
            (1e100, "1e+100"),
            (0.0, "0"),
        ];
        for (f, want) in cases {
            let mut s = String::new();
            write_float(&mut s, f).unwrap();
            assert_eq!(s, want, "{f}");
        }
        assert!(write_float(&mut String::new(), f64::NAN).is_err());
    }

    #[test]
    fn strings_escape_like_refmt() {
        let mut s = String::new();
        write_string(&mut s, "a\"b\\c\nd\u{1}e\u{2028}<>&é");
        assert_eq!(s, "\"a\\\"b\\\\c\\nd\\u0001e\\u2028<>&é\"");
    }

    #[test]
    fn keys_sort_bytewise_and_special_forms_round_trip() {
        assert_eq!(
            round(r#"{"b":1,"a":[true,null]}"#),
            r#"{"a":[true,null],"b":1}"#
        );
        assert_eq!(
            round(r#"{"/":{"bytes":"AAECAwQ"}}"#),
            r#"{"/":{"bytes":"AAECAwQ"}}"#
        );
        // Padded base64 is accepted and re-emitted unpadded.
        assert_eq!(
            round(r#"{"/":{"bytes":"AAE="}}"#),
            r#"{"/":{"bytes":"AAE"}}"#
        );
        let cid = "bafyreiblwimnjbqcdoeafiobk6q27jcw64ew7n2fmmhdpldd63edmjecde";
        assert_eq!(
            round(&format!(r#"{{"/":"{cid}"}}"#)),
            format!(r#"{{"/":"{cid}"}}"#)
        );
        // A "/" key next to others is a plain map.
        assert_eq!(round(r#"{"/":"x","y":1}"#), r#"{"/":"x","y":1}"#);
        assert!(matches!(
            decode(br#"{"/":"x","y":1}"#, true).unwrap(),
            Ipld::Map(_)
        ));
    }

    #[test]
    fn numbers_follow_go() {
        assert_eq!(decode(b"12", true).unwrap(), Ipld::Integer(12));
        assert_eq!(decode(b"-0", true).unwrap(), Ipld::Integer(0));
        assert_eq!(decode(b"1.0", true).unwrap(), Ipld::Float(1.0));
        assert_eq!(decode(b"1e3", true).unwrap(), Ipld::Float(1000.0));
        assert!(decode(b"9223372036854775808", true).is_err());
        assert!(decode(b"01", true).is_err());
        assert!(decode(b"1.", true).is_err());
        assert!(decode(b"-", true).is_err());
        assert!(decode(b"1e999", true).is_err());
    }

    #[test]
    fn bad_json_is_an_error() {
        for bad in [
            &b""[..],
            b"{",
            b"[1,",
            b"{\"a\" 1}",
            b"{\"a\":1,\"a\":2}",
            b"{1:2}",
            b"\"abc",
            b"\"a\x01\"",
            b"\"\\x\"",
            b"\"\\u12\"",
            b"tru",
            b"{} {}",
            b"{\"/\":\"notacid\"}",
            b"{\"/\":{\"bytes\":\"!!\"}}",
            b"@",
        ] {
            assert!(
                decode(bad, true).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = "[".repeat(2000) + &"]".repeat(2000);
        assert!(decode(deep.as_bytes(), true).is_err());
        let ok_deep = "[".repeat(1000) + &"]".repeat(1000);
        assert!(decode(ok_deep.as_bytes(), true).is_ok());
    }

    #[test]
    fn unicode_escapes() {
        assert_eq!(
            decode(br#""\ud83d\ude80\u00e9\ud800x""#, true).unwrap(),
            Ipld::String("🚀é\u{FFFD}x".into())
        );
        assert_eq!(
            decode(b"\"a\xffb\"", true).unwrap(),
            Ipld::String("a\u{FFFD}b".into())
        );
    }

    #[test]
    fn plain_json_rejects_links_and_bytes() {
        assert!(encode(&Ipld::Bytes(vec![1]), false).is_err());
        let v = decode(br#"{"/":{"bytes":"AAE"}}"#, false).unwrap();
        assert!(matches!(v, Ipld::Map(_)));
    }
}
