//! Just enough protobuf to write and read dag-pb and UnixFS messages by hand.
//!
//! We hand-roll it instead of using prost because the byte layout decides the
//! CID: field order and presence must match Kubo exactly, and that is easier
//! to see (and test) here than to coax out of generated code.

/// Protobuf wire type of varints.
pub const VARINT: u8 = 0;
/// Protobuf wire type of length-delimited fields.
pub const LEN: u8 = 2;

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

/// One decoded field.
#[derive(Debug, Clone, Copy)]
pub enum Field<'a> {
    /// A varint field.
    Varint(u64),
    /// A length-delimited field.
    Bytes(&'a [u8]),
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

    fn varint(&mut self) -> Result<u64, String> {
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

    /// The next `(field number, value)`, `None` at the end, or an error for
    /// truncated input and wire types we never write.
    pub fn next_field(&mut self) -> Result<Option<(u32, Field<'a>)>, String> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = (key >> 3) as u32;
        match (key & 7) as u8 {
            VARINT => Ok(Some((field, Field::Varint(self.varint()?)))),
            LEN => {
                let len = self.varint()? as usize;
                if len > self.buf.len() {
                    return Err(format!("field {field} runs past the end of the message"));
                }
                let (b, rest) = self.buf.split_at(len);
                self.buf = rest;
                Ok(Some((field, Field::Bytes(b))))
            }
            w => Err(format!("unexpected wire type {w} for field {field}")),
        }
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
    fn truncated_input_is_an_error() {
        let mut b = Vec::new();
        put_bytes(&mut b, 1, b"hello");
        b.pop();
        assert!(Reader::new(&b).next_field().is_err());
    }
}
