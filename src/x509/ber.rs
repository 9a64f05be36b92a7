//! BER as Windows, Java and NSS write it: indefinite lengths and constructed strings.
//!
//! PKCS #12 files (CryptoAPI, Java, NSS) and PKCS #7 certificate bundles (`.p7b` from Windows
//! and streaming CMS encoders) are often BER: indefinite lengths on the outer structures and
//! OCTET STRINGs split into constructed chunks (X.690 8.1.3.6, 8.7.3). certslot rewrites such
//! input with definite lengths before reading it with the DER reader, and joins constructed
//! strings where the schema says a string is expected. Written by hand: `der`'s BER support is
//! limited to what CMS needs, and `der::Any` loses the constructed bit of what it reads.

use std::borrow::Cow;

use crate::x509::ParseError;
use crate::x509::tlv::{Tlv, write_header};

/// The deepest nesting of constructed items read; PKCS #12 needs about twelve, a certificate
/// inside a PKCS #7 bundle about ten.
pub(crate) const MAX_DEPTH: usize = 32;

/// The bytes of a BER input rewritten with definite lengths (borrowed when it has none).
///
/// Primitive contents are copied verbatim and constructed strings stay constructed; only the
/// length octets of items that hold an indefinite length change, so every content octet the MAC
/// or a signature covers is unchanged, and an item without an indefinite length inside (a
/// certificate in a BER bundle) keeps its bytes exactly, thumbprint included.
pub(crate) fn definite<'a>(input: &'a [u8], what: &'static str) -> Result<Cow<'a, [u8]>, ParseError> {
    if input.is_empty() {
        return Err(ParseError::Empty);
    }
    let mut pos = 0;
    let mut indefinite = false;
    scan(input, &mut pos, 0, what, &mut indefinite)?;
    if pos != input.len() {
        return Err(ParseError::TrailingData { offset: pos, what, len: input.len() - pos });
    }
    if !indefinite {
        return Ok(Cow::Borrowed(input));
    }
    let mut out = Vec::with_capacity(input.len());
    let mut pos = 0;
    rewrite(input, &mut pos, 0, what, &mut out)?;
    Ok(Cow::Owned(out))
}

/// The header of one BER item.
struct Header {
    tag: u8,
    /// `None` for an indefinite length.
    len: Option<usize>,
    header_len: usize,
}

fn header(input: &[u8], pos: usize, what: &'static str) -> Result<Header, ParseError> {
    let rest = input.get(pos..).unwrap_or_default();
    let truncated =
        |needed: usize| ParseError::Truncated { offset: pos, what, needed, available: rest.len() };
    let (tag, first) = match rest {
        [tag, first, ..] => (*tag, *first),
        _ => return Err(truncated(2)),
    };
    if tag & 0x1F == 0x1F {
        return Err(ParseError::HighTagNumber { offset: pos, what });
    }
    if first == 0x80 {
        if tag & 0x20 == 0 {
            // X.690 8.1.3.2: only constructed items may have an indefinite length.
            return Err(ParseError::IndefiniteLength { offset: pos, what });
        }
        return Ok(Header { tag, len: None, header_len: 2 });
    }
    let (len, header_len) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let count = usize::from(first & 0x7F);
        let Some(bytes) = rest.get(2..2 + count) else { return Err(truncated(2 + count)) };
        let mut len: usize = 0;
        for &b in bytes {
            len = len
                .checked_mul(256)
                .and_then(|l| l.checked_add(usize::from(b)))
                .ok_or(ParseError::LengthOverflow { offset: pos, what })?;
        }
        (len, 2 + count)
    };
    let total = header_len.checked_add(len).ok_or(ParseError::LengthOverflow { offset: pos, what })?;
    if total > rest.len() {
        return Err(truncated(total));
    }
    Ok(Header { tag, len: Some(len), header_len })
}

fn is_end_of_contents(input: &[u8], pos: usize) -> bool {
    matches!(input.get(pos..pos + 2), Some([0, 0]))
}

/// Walks one item, noting whether any length in it is indefinite.
fn scan(
    input: &[u8],
    pos: &mut usize,
    depth: usize,
    what: &'static str,
    indefinite: &mut bool,
) -> Result<(), ParseError> {
    if depth > MAX_DEPTH {
        return Err(ParseError::TooDeep { offset: *pos, what, max: MAX_DEPTH });
    }
    let h = header(input, *pos, what)?;
    let start = *pos;
    *pos += h.header_len;
    match h.len {
        None => {
            *indefinite = true;
            loop {
                if is_end_of_contents(input, *pos) {
                    *pos += 2;
                    break;
                }
                if *pos >= input.len() {
                    return Err(ParseError::Truncated { offset: start, what, needed: 2, available: 0 });
                }
                scan(input, pos, depth + 1, what, indefinite)?;
            }
        }
        Some(len) if h.tag & 0x20 != 0 => {
            let end = *pos + len;
            let inner = input.get(..end).unwrap_or_default();
            while *pos < end {
                scan(inner, pos, depth + 1, what, indefinite)?;
            }
        }
        Some(len) => *pos += len,
    }
    Ok(())
}

/// Rewrites one item with definite lengths. Returns whether the item held an indefinite length;
/// one that did not is copied verbatim (its own length octets included, minimal or not).
fn rewrite(
    input: &[u8],
    pos: &mut usize,
    depth: usize,
    what: &'static str,
    out: &mut Vec<u8>,
) -> Result<bool, ParseError> {
    if depth > MAX_DEPTH {
        return Err(ParseError::TooDeep { offset: *pos, what, max: MAX_DEPTH });
    }
    let h = header(input, *pos, what)?;
    let start = *pos;
    *pos += h.header_len;
    match h.len {
        Some(len) if h.tag & 0x20 == 0 => {
            out.extend_from_slice(input.get(start..*pos + len).unwrap_or_default());
            *pos += len;
            Ok(false)
        }
        Some(len) => {
            let end = *pos + len;
            let inner = input.get(..end).unwrap_or_default();
            let mut content = Vec::with_capacity(len);
            let mut indefinite = false;
            while *pos < end {
                indefinite |= rewrite(inner, pos, depth + 1, what, &mut content)?;
            }
            if indefinite {
                write_header(out, h.tag, content.len());
                out.extend_from_slice(&content);
            } else {
                out.extend_from_slice(input.get(start..end).unwrap_or_default());
            }
            Ok(indefinite)
        }
        None => {
            let mut content = Vec::new();
            while !is_end_of_contents(input, *pos) {
                if *pos >= input.len() {
                    return Err(ParseError::Truncated { offset: start, what, needed: 2, available: 0 });
                }
                rewrite(input, pos, depth + 1, what, &mut content)?;
            }
            *pos += 2;
            write_header(out, h.tag, content.len());
            out.extend_from_slice(&content);
            Ok(true)
        }
    }
}

/// The content octets of an OCTET STRING (or an IMPLICIT-tagged one), joining the chunks of a
/// constructed encoding (X.690 8.7.3). `tlv` comes from input already made definite.
pub(crate) fn octet_string<'a>(tlv: &Tlv<'a>, what: &'static str) -> Result<Cow<'a, [u8]>, ParseError> {
    if tlv.tag & 0x20 == 0 {
        return Ok(Cow::Borrowed(tlv.value));
    }
    let mut out = Vec::with_capacity(tlv.value.len());
    join(tlv, what, 0, &mut out)?;
    Ok(Cow::Owned(out))
}

fn join(tlv: &Tlv<'_>, what: &'static str, depth: usize, out: &mut Vec<u8>) -> Result<(), ParseError> {
    if depth > MAX_DEPTH {
        return Err(ParseError::TooDeep { offset: tlv.offset, what, max: MAX_DEPTH });
    }
    let mut chunks = tlv.reader();
    while !chunks.is_empty() {
        let chunk = chunks.read(what)?;
        match chunk.tag {
            0x04 => out.extend_from_slice(chunk.value),
            0x24 => join(&chunk, what, depth + 1, out)?,
            found => {
                return Err(ParseError::UnexpectedTag { offset: chunk.offset, what, expected: 0x04, found });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x509::tlv::Reader;

    #[test]
    fn definite_input_is_borrowed() {
        let der = [0x30, 0x03, 0x04, 0x01, 0xAA];
        assert!(matches!(definite(&der, "x"), Ok(Cow::Borrowed(_))));
    }

    #[test]
    fn indefinite_lengths_become_definite() {
        // SEQUENCE (indefinite) { OCTET STRING (constructed, indefinite) { "ab", "c" }, INTEGER 1 }
        let ber =
            [0x30, 0x80, 0x24, 0x80, 0x04, 0x02, b'a', b'b', 0x04, 0x01, b'c', 0, 0, 0x02, 0x01, 0x01, 0, 0];
        let der = definite(&ber, "x").map(Cow::into_owned);
        assert_eq!(
            der,
            Ok(vec![0x30, 0x0C, 0x24, 0x07, 0x04, 0x02, b'a', b'b', 0x04, 0x01, b'c', 0x02, 0x01, 0x01])
        );
        let der = der.unwrap_or_default();
        let seq = Reader::new(&der).read("seq").map(|t| t.reader().read("os"));
        let joined = seq.and_then(|os| os.and_then(|os| octet_string(&os, "os").map(Cow::into_owned)));
        assert_eq!(joined, Ok(b"abc".to_vec()));
    }

    #[test]
    fn items_without_indefinite_lengths_keep_their_bytes() {
        // SEQUENCE (indefinite) { SEQUENCE (non-minimal length 81 03) { INTEGER 1 } }: the inner
        // SEQUENCE, like a DER certificate in a BER bundle, is copied as it is.
        let ber = [0x30, 0x80, 0x30, 0x81, 0x03, 0x02, 0x01, 0x01, 0, 0];
        assert_eq!(
            definite(&ber, "x").map(Cow::into_owned),
            Ok(vec![0x30, 0x06, 0x30, 0x81, 0x03, 0x02, 0x01, 0x01])
        );
    }

    #[test]
    fn unterminated_and_too_deep_inputs_fail() {
        assert_eq!(
            definite(&[0x30, 0x80, 0x02, 0x01, 0x01], "x"),
            Err(ParseError::Truncated { offset: 0, what: "x", needed: 2, available: 0 })
        );
        let mut deep = Vec::new();
        for _ in 0..40 {
            deep.extend_from_slice(&[0x30, 0x80]);
        }
        for _ in 0..40 {
            deep.extend_from_slice(&[0, 0]);
        }
        assert_eq!(definite(&deep, "x"), Err(ParseError::TooDeep { offset: 66, what: "x", max: MAX_DEPTH }));
        assert_eq!(
            definite(&[0x04, 0x80, 0, 0], "x"),
            Err(ParseError::IndefiniteLength { offset: 0, what: "x" })
        );
    }
}
