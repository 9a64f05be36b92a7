//! A zero-copy reader of ASN.1 tag-length-value items that reports positions in the input.
//!
//! Written by hand rather than with `der::SliceReader`: certslot must keep the exact byte ranges of
//! every field (the thumbprint and the signature cover the bytes as given), must tolerate the
//! non-minimal length encodings that some real-world certificates carry, and must name the offset
//! of whatever it could not read. `der` and `x509-cert` still decode the values of extensions.

use crate::x509::ParseError;

/// ASN.1 universal tags that certslot reads (X.690 section 8).
pub(crate) mod tag {
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const OID: u8 = 0x06;
    pub const UTF8_STRING: u8 = 0x0C;
    pub const NUMERIC_STRING: u8 = 0x12;
    pub const PRINTABLE_STRING: u8 = 0x13;
    pub const TELETEX_STRING: u8 = 0x14;
    pub const IA5_STRING: u8 = 0x16;
    pub const UTC_TIME: u8 = 0x17;
    pub const GENERALIZED_TIME: u8 = 0x18;
    pub const VISIBLE_STRING: u8 = 0x1A;
    pub const UNIVERSAL_STRING: u8 = 0x1C;
    pub const BMP_STRING: u8 = 0x1E;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;
}

/// One tag-length-value item borrowed from the input.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tlv<'a> {
    /// The identifier octet (certslot reads only low tag numbers, < 31).
    pub(super) tag: u8,
    /// The content octets.
    pub(super) value: &'a [u8],
    /// The whole item: identifier, length and content.
    pub(super) raw: &'a [u8],
    /// Offset of the identifier octet from the start of the outermost input.
    pub(super) offset: usize,
}

impl<'a> Tlv<'a> {
    /// The identifier octet (certslot reads only low tag numbers, < 31).
    pub fn tag(&self) -> u8 {
        self.tag
    }

    /// The content octets.
    pub fn value(&self) -> &'a [u8] {
        self.value
    }

    /// The whole item: identifier, length and content.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Offset of the identifier octet from the start of the outermost input.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Offset of the first content octet from the start of the outermost input.
    pub fn value_offset(&self) -> usize {
        self.offset + (self.raw.len() - self.value.len())
    }

    /// A reader over the content octets, keeping offsets relative to the outermost input.
    pub fn reader(&self) -> Reader<'a> {
        Reader { input: self.value, pos: 0, base: self.value_offset() }
    }

    /// Checks the identifier octet.
    pub fn expect(self, expected: u8, what: &'static str) -> Result<Self, ParseError> {
        if self.tag == expected {
            Ok(self)
        } else {
            Err(ParseError::UnexpectedTag { offset: self.offset, what, expected, found: self.tag })
        }
    }
}

/// A cursor over DER input.
#[derive(Clone, Debug)]
pub(crate) struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    /// A reader over a whole input, offsets counted from its first byte.
    pub fn new(input: &'a [u8]) -> Self {
        Self { input, pos: 0, base: 0 }
    }

    /// True when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.input.len()
    }

    /// Offset of the next byte from the start of the outermost input.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.input.get(self.pos..).unwrap_or_default()
    }

    /// The identifier octet of the next item, if any.
    pub fn peek_tag(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    /// Reads the next item.
    ///
    /// Accepts definite lengths in short or long form (also non-minimal long forms, which some
    /// real-world encoders write); rejects indefinite lengths, high tag numbers and lengths that run
    /// past the end of the input.
    pub fn read(&mut self, what: &'static str) -> Result<Tlv<'a>, ParseError> {
        let start = self.pos;
        let offset = self.offset();
        let rest = self.rest();
        let truncated = |needed: usize| ParseError::Truncated { offset, what, needed, available: rest.len() };
        let (tag, first) = match rest {
            [tag, first, ..] => (*tag, *first),
            _ => return Err(truncated(2)),
        };
        if tag & 0x1F == 0x1F {
            return Err(ParseError::HighTagNumber { offset, what });
        }
        let (len, header_len) = if first < 0x80 {
            (usize::from(first), 2)
        } else if first == 0x80 {
            return Err(ParseError::IndefiniteLength { offset, what });
        } else {
            let count = usize::from(first & 0x7F);
            let Some(bytes) = rest.get(2..2 + count) else { return Err(truncated(2 + count)) };
            let mut len: usize = 0;
            for &b in bytes {
                let Some(next) = len.checked_mul(256).and_then(|l| l.checked_add(usize::from(b))) else {
                    return Err(ParseError::LengthOverflow { offset, what });
                };
                len = next;
            }
            (len, 2 + count)
        };
        let Some(total) = header_len.checked_add(len) else {
            return Err(ParseError::LengthOverflow { offset, what });
        };
        let Some(raw) = rest.get(..total) else { return Err(truncated(total)) };
        let value = raw.get(header_len..).unwrap_or_default();
        self.pos = start + total;
        Ok(Tlv { tag, value, raw, offset })
    }

    /// Reads the next item and checks its identifier octet.
    pub fn read_expected(&mut self, expected: u8, what: &'static str) -> Result<Tlv<'a>, ParseError> {
        match self.peek_tag() {
            Some(found) if found != expected => {
                Err(ParseError::UnexpectedTag { offset: self.offset(), what, expected, found })
            }
            _ => self.read(what),
        }
    }

    /// Reads the next item if its identifier octet is `tag`.
    pub fn read_optional(&mut self, tag: u8, what: &'static str) -> Result<Option<Tlv<'a>>, ParseError> {
        if self.peek_tag() == Some(tag) { self.read(what).map(Some) } else { Ok(None) }
    }

    /// Fails when bytes are left.
    pub fn finish(&self, what: &'static str) -> Result<(), ParseError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(ParseError::TrailingData { offset: self.offset(), what, len: self.rest().len() })
        }
    }
}

/// Reads exactly one item that fills `input`.
pub(crate) fn read_single<'a>(input: &'a [u8], tag: u8, what: &'static str) -> Result<Tlv<'a>, ParseError> {
    let mut reader = Reader::new(input);
    let tlv = reader.read_expected(tag, what)?;
    reader.finish(what)?;
    Ok(tlv)
}

/// Writes an identifier octet and a definite, minimal length (X.690 10.1).
pub(crate) fn write_header(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let significant = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
}

/// The magnitude of an unsigned INTEGER's content octets, without leading zero octets.
pub(crate) fn unsigned_magnitude(content: &[u8]) -> &[u8] {
    let zeros = content.iter().take_while(|&&b| b == 0).count();
    content.get(zeros..).unwrap_or_default()
}

/// The number of significant bits in a big-endian unsigned magnitude.
pub(crate) fn bit_length(magnitude: &[u8]) -> u32 {
    let magnitude = unsigned_magnitude(magnitude);
    match magnitude.first() {
        None => 0,
        Some(&top) => {
            let bytes = u32::try_from(magnitude.len()).unwrap_or(u32::MAX / 8);
            (bytes - 1).saturating_mul(8).saturating_add(8 - top.leading_zeros())
        }
    }
}

/// A small non-negative INTEGER (such as a version or a path length), if it fits in a `u64`.
pub(crate) fn small_uint(content: &[u8]) -> Option<u64> {
    if content.first().is_some_and(|&b| b & 0x80 != 0) {
        return None;
    }
    let magnitude = unsigned_magnitude(content);
    if magnitude.len() > 8 {
        return None;
    }
    Some(magnitude.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_form_lengths() {
        let mut r = Reader::new(&[0x04, 0x01, 0xAA, 0x04, 0x81, 0x01, 0xBB, 0x04, 0x82, 0x00, 0x01, 0xCC]);
        assert_eq!(r.read("a").map(|t| t.value), Ok(&[0xAA][..]));
        let t = r.read("b");
        assert_eq!(t.map(|t| (t.value, t.offset, t.value_offset())), Ok((&[0xBB][..], 3, 6)));
        assert_eq!(r.read("c").map(|t| t.value), Ok(&[0xCC][..]));
        assert!(r.is_empty());
    }

    #[test]
    fn rejects_indefinite_and_overlong_lengths() {
        assert_eq!(
            Reader::new(&[0x30, 0x80, 0, 0]).read("x").map(|t| t.tag),
            Err(ParseError::IndefiniteLength { offset: 0, what: "x" })
        );
        let huge = [0x30, 0x89, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            Reader::new(&huge).read("x").map(|t| t.tag),
            Err(ParseError::LengthOverflow { offset: 0, what: "x" })
        );
        assert_eq!(
            Reader::new(&[0x30, 0x84, 0x7F, 0xFF, 0xFF, 0xFF]).read("x").map(|t| t.tag),
            Err(ParseError::Truncated { offset: 0, what: "x", needed: 6 + 0x7FFF_FFFF, available: 6 })
        );
    }

    #[test]
    fn counts_bits() {
        assert_eq!(bit_length(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(bit_length(&[0x01]), 1);
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(small_uint(&[0x02]), Some(2));
        assert_eq!(small_uint(&[0xFF]), None);
    }
}
