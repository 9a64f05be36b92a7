//! A certificate's serial number (RFC 5280 4.1.2.2), as real certificates carry it.
//!
//! ```text
//! CertificateSerialNumber  ::=  INTEGER
//! ```
//! ([RFC 5280 4.1.2.2](https://datatracker.ietf.org/doc/html/rfc5280#section-4.1.2.2))

use core::fmt;

use crate::x509::tlv;

/// A certificate's serial number, borrowed from it (RFC 5280 4.1.2.2).
///
/// RFC 5280 requires a positive integer of at most 20 octets; real certificates also carry zero,
/// negative and longer serials, which are kept as encoded. `Display` writes the form of
/// `openssl x509 -serial`: uppercase hex octets of the magnitude, `-` before a negative one, `00`
/// for zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SerialNumber<'a> {
    content: &'a [u8],
}

impl<'a> SerialNumber<'a> {
    /// Wraps the content octets of `CertificateSerialNumber`, checked non-empty by the parser.
    pub(crate) fn new(content: &'a [u8]) -> Self {
        Self { content }
    }

    /// The INTEGER's content octets (big-endian two's complement), as encoded.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.content
    }

    /// True for a negative serial, which RFC 5280 forbids and some old CAs issued.
    pub fn is_negative(&self) -> bool {
        self.content.first().is_some_and(|&b| b & 0x80 != 0)
    }

    /// True for a zero serial.
    pub fn is_zero(&self) -> bool {
        self.content.iter().all(|&b| b == 0)
    }

    /// The magnitude as big-endian octets without leading zeros (empty for zero).
    pub fn magnitude(&self) -> Vec<u8> {
        if !self.is_negative() {
            return tlv::unsigned_magnitude(self.content).to_vec();
        }
        // Two's complement negation: invert every bit, then add one.
        let mut out: Vec<u8> = self.content.iter().map(|b| !b).collect();
        for byte in out.iter_mut().rev() {
            let (sum, carry) = byte.overflowing_add(1);
            *byte = sum;
            if !carry {
                break;
            }
        }
        tlv::unsigned_magnitude(&out).to_vec()
    }
}

impl fmt::Display for SerialNumber<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let magnitude = self.magnitude();
        if self.is_negative() {
            f.write_str("-")?;
        }
        if magnitude.is_empty() {
            return f.write_str("00");
        }
        magnitude.iter().try_for_each(|b| write!(f, "{b:02X}"))
    }
}

impl fmt::Debug for SerialNumber<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SerialNumber({self})")
    }
}
