//! Just enough protobuf to write and read dag-pb and UnixFS messages by hand.
//!
//! We hand-roll it instead of using prost because the byte layout decides the
//! CID: field order and presence must match Kubo exactly, and that is easier
//! to see (and test) here than to coax out of generated code.

/// Protobuf wire type of varints.
pub const VARINT: u8 = 0;
/// Protobuf wire type of 8-byte little-endian fields (fixed64, sfixed64, double).
pub const FIXED64: u8 = 1;
/// Protobuf wire type of length-delimited fields.
pub const LEN: u8 = 2;
/// Protobuf wire type of 4-byte little-endian fields (fixed32, sfixed32, float).
pub const FIXED32: u8 = 5;

/// Appends a varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Length of `v` as a varint.
pub fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Appends a field key.
pub fn put_key(out: &mut Vec<u8>, field: u32, wire: u8) {
    put_varint(out, ((field as u64) << 3) | wire as u64);
}

/// Appends a varint field.
pub fn put_uint(out: &mut Vec<u8>, field: u32, v: u64) {
    put_key(out, field, VARINT);
    put_varint(out, v);
}

/// Appends a length-delimited field.
pub fn put_bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    put_key(out, field, LEN);
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Appends a fixed32 field.
pub fn put_fixed32(out: &mut Vec<u8>, field: u32, v: u32) {
    put_key(out, field, FIXED32);
    out.extend_from_slice(&v.to_le_bytes());
}

/// One decoded field.
#[derive(Debug, Clone, Copy)]
pub enum Field<'a> {
    /// A varint field.
    Varint(u64),
    /// A length-delimited field.
    Bytes(&'a [u8]),
    /// A fixed32 field.
    Fixed32(u32),
    /// A fixed64 field.
    Fixed64(u64),
}

/// Iterates over the fields of one message.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Starts reading `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// True once every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Reads one bare varint, as the elements of a packed repeated field
    /// are stored.
    pub fn varint(&mut self) -> Result<u64, String> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let Some((&b, rest)) = self.buf.split_first() else {
                return Err("truncated varint".into());
            };
            self.buf = rest;
            v |= ((b & 0x7f) as u64) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint overflow".into())
    }

    /// Takes the next `len` bytes of field `field`.
    fn take(&mut self, len: u64, field: u32) -> Result<&'a [u8], String> {
        let len = usize::try_from(len)
            .ok()
            .filter(|&n| n <= self.buf.len())
            .ok_or_else(|| format!("field {field} runs past the end of the message"))?;
        let (b, rest) = self.buf.split_at(len);
        self.buf = rest;
        Ok(b)
    }

    /// The next `(field number, value)`, `None` at the end, or an error for
    /// truncated input and the deprecated group wire types (3 and 4).
    pub fn next_field(&mut self) -> Result<Option<(u32, Field<'a>)>, String> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        // Refused rather than truncated, so garbage cannot alias a real field.
        let field = u32::try_from(key >> 3).map_err(|_| "field number out of range".to_string())?;
        let value = match (key & 7) as u8 {
            VARINT => Field::Varint(self.varint()?),
            LEN => {
                let len = self.varint()?;
                Field::Bytes(self.take(len, field)?)
            }
            FIXED32 => Field::Fixed32(u32::from_le_bytes(
                self.take(4, field)?.try_into().expect("4 bytes"),
            )),
            FIXED64 => Field::Fixed64(u64::from_le_bytes(
                self.take(8, field)?.try_into().expect("8 bytes"),
            )),
            w => return Err(format!("unexpected wire type {w} for field {field}")),
        };
        Ok(Some((field, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trip_and_len() {
        for v in [0u64, 1, 127, 128, 300, 262144, u32::MAX as u64, u64::MAX] {
            let mut b = Vec::new();
            put_uint(&mut b, 3, v);
            assert_eq!(b.len(), 1 + varint_len(v));
            let mut r = Reader::new(&b);
            match r.next_field().unwrap() {
                Some((3, Field::Varint(x))) => assert_eq!(x, v),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn fixed_fields_decode_little_endian() {
        let mut b = Vec::new();
        put_fixed32(&mut b, 2, 0x0102_0304);
        put_key(&mut b, 15, FIXED64);
        b.extend_from_slice(&7u64.to_le_bytes());
        let mut r = Reader::new(&b);
        assert!(matches!(
            r.next_field().unwrap(),
            Some((2, Field::Fixed32(0x0102_0304)))
        ));
        assert!(matches!(
            r.next_field().unwrap(),
            Some((15, Field::Fixed64(7)))
        ));
        assert!(r.next_field().unwrap().is_none());
        // a fixed field cut short is an error, not a panic
        let mut r = Reader::new(&b[..b.len() - 1]);
        r.next_field().unwrap();
        assert!(r.next_field().is_err());
    }

    #[test]
    fn truncated_input_is_an_error() {
        let mut b = Vec::new();
        put_bytes(&mut b, 1, b"hello");
        b.pop();
        assert!(Reader::new(&b).next_field().is_err());
    }
}
