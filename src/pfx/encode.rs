//! A minimal DER writer for the structures certslot exports.

use const_oid::ObjectIdentifier;

use crate::x509::tlv::tag;
/// Writes an identifier octet and a definite, minimal length; lives with the DER reader.
pub(crate) use crate::x509::tlv::write_header;

/// One item with a definite, minimal length.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    write_header(&mut out, tag, content.len());
    out.extend_from_slice(content);
    out
}

/// SEQUENCE of already-encoded items.
pub(crate) fn seq(items: &[Vec<u8>]) -> Vec<u8> {
    tlv(tag::SEQUENCE, &items.concat())
}

/// SET OF already-encoded items, sorted as DER requires (X.690 11.6).
pub(crate) fn set_of(items: &[Vec<u8>]) -> Vec<u8> {
    let mut sorted: Vec<&Vec<u8>> = items.iter().collect();
    sorted.sort();
    tlv(tag::SET, &sorted.into_iter().flatten().copied().collect::<Vec<u8>>())
}

/// OCTET STRING.
pub(crate) fn oct(content: &[u8]) -> Vec<u8> {
    tlv(tag::OCTET_STRING, content)
}

/// OBJECT IDENTIFIER.
pub(crate) fn oid(oid: &ObjectIdentifier) -> Vec<u8> {
    tlv(tag::OID, oid.as_bytes())
}

/// A non-negative INTEGER.
pub(crate) fn int(value: u64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().min(7);
    let mut content = bytes.get(skip..).unwrap_or_default().to_vec();
    if content.first().is_some_and(|b| b & 0x80 != 0) {
        content.insert(0, 0);
    }
    tlv(tag::INTEGER, &content)
}

/// A non-negative INTEGER from its big-endian magnitude (leading zeros dropped, a zero octet
/// added when the top bit is set, X.690 8.3).
pub(crate) fn uint(magnitude: &[u8]) -> Vec<u8> {
    let skip = magnitude.iter().take_while(|&&b| b == 0).count();
    let magnitude = magnitude.get(skip..).unwrap_or_default();
    let mut content = Vec::with_capacity(magnitude.len() + 1);
    if magnitude.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(magnitude);
    tlv(tag::INTEGER, &content)
}

/// BIT STRING of whole octets (no unused bits).
pub(crate) fn bit_string(octets: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(octets.len() + 1);
    content.push(0);
    content.extend_from_slice(octets);
    tlv(tag::BIT_STRING, &content)
}

/// `[n] EXPLICIT` around an encoded item.
pub(crate) fn explicit(n: u8, inner: &[u8]) -> Vec<u8> {
    tlv(0xA0 | n, inner)
}

/// BMPString (UTF-16BE).
pub(crate) fn bmp_string(s: &str) -> Vec<u8> {
    let content: Vec<u8> = s.encode_utf16().flat_map(u16::to_be_bytes).collect();
    tlv(tag::BMP_STRING, &content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_encodings() {
        assert_eq!(int(0), vec![0x02, 0x01, 0x00]);
        assert_eq!(int(128), vec![0x02, 0x02, 0x00, 0x80]);
        assert_eq!(int(2048), vec![0x02, 0x02, 0x08, 0x00]);
        assert_eq!(uint(&[0x00, 0x00, 0x81]), vec![0x02, 0x02, 0x00, 0x81]);
        assert_eq!(uint(&[0x01, 0x00, 0x01]), vec![0x02, 0x03, 0x01, 0x00, 0x01]);
        assert_eq!(uint(&[]), vec![0x02, 0x01, 0x00]);
        assert_eq!(bit_string(&[0xAB]), vec![0x03, 0x02, 0x00, 0xAB]);
        assert_eq!(tlv(0x04, &[0; 200]).get(..3), Some(&[0x04, 0x81, 200][..]));
        assert_eq!(
            set_of(&[vec![0x05, 0x00], vec![0x02, 0x01, 0x01]]),
            vec![0x31, 0x05, 0x02, 0x01, 0x01, 0x05, 0x00]
        );
    }
}
