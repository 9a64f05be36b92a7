//! Certificate fingerprints: the SHA-1 thumbprint Windows shows, and the SHA-256 fingerprint.

use core::fmt;
use core::str::FromStr;

use sha1::{Digest, Sha1};
use sha2::Sha256;

use crate::x509::ThumbprintError;

/// The SHA-1 digest of a certificate's DER encoding: the `Thumbprint` of Windows, Lync's
/// `Get-CsCertificate` and `Set-CsCertificate -Thumbprint`.
///
/// `Display` writes 40 uppercase hex digits, as Windows does. `FromStr` accepts what admins paste:
/// either case, spaces, colons and the invisible marks (U+200E, U+200F, U+FEFF) that the Windows
/// certificate dialog copies along.
///
/// ```
/// use certslot::Thumbprint;
///
/// let pasted = "\u{200E}3b 7e 05 51 08 4f 21 aa 9c 48 0e 10 73 2b 0f 9c 6d d4 31 66";
/// let t: Thumbprint = pasted.parse()?;
/// assert_eq!(t.to_string(), "3B7E0551084F21AA9C480E10732B0F9C6DD43166");
/// assert_eq!(t.to_string().parse::<Thumbprint>()?, t);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// JSON (feature `serde`): a string of the 40 uppercase hex digits `Display` writes,
/// `"3B7E0551084F21AA9C480E10732B0F9C6DD43166"`; read as leniently as `FromStr`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(into = "String", try_from = "String"))]
pub struct Thumbprint([u8; 20]);

/// The SHA-256 digest of a certificate's DER encoding.
///
/// `Display` writes 64 uppercase hex digits; `FromStr` is as lenient as [`Thumbprint`]'s.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Fingerprint([u8; 32]);

impl Thumbprint {
    /// The thumbprint of DER bytes.
    pub fn of(der: &[u8]) -> Self {
        Self(Sha1::digest(der).into())
    }

    /// Wraps a SHA-1 digest.
    pub const fn from_bytes(bytes: [u8; 20]) -> Self {
        Self(bytes)
    }

    /// The digest's bytes.
    pub const fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }
}

impl Sha256Fingerprint {
    /// The SHA-256 fingerprint of DER bytes.
    pub fn of(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }

    /// Wraps a SHA-256 digest.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The digest's bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// A hasher for maps keyed by thumbprints. A thumbprint is a SHA-1 digest already, so its last
/// eight octets are as good a hash as any; nobody can choose them without breaking SHA-1's
/// preimage resistance, so no hostile input can make a map of them slow.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DigestHasher(u64);

impl core::hash::Hasher for DigestHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The `BuildHasher` of maps keyed by thumbprints.
pub(crate) type DigestMap<V> =
    std::collections::HashMap<Thumbprint, V, core::hash::BuildHasherDefault<DigestHasher>>;

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|b| write!(f, "{b:02X}"))
}

/// Characters that separate or decorate pasted hex digits and are skipped.
fn is_ignorable(c: char) -> bool {
    c.is_ascii_whitespace() || matches!(c, ':' | '\u{200E}' | '\u{200F}' | '\u{FEFF}' | '\u{00A0}')
}

/// Parses hex digits as pasted by admins into exactly `N` bytes.
fn parse_lenient_hex<const N: usize>(s: &str) -> Result<[u8; N], ThumbprintError> {
    let mut out = [0u8; N];
    let mut digits = 0usize;
    for (position, character) in s.chars().enumerate() {
        if is_ignorable(character) {
            continue;
        }
        let nibble = character
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
            .ok_or(ThumbprintError::InvalidCharacter { character, position })?;
        if let Some(byte) = out.get_mut(digits / 2) {
            *byte = (*byte << 4) | nibble;
        }
        digits += 1;
    }
    if digits == 2 * N { Ok(out) } else { Err(ThumbprintError::WrongLength { digits, expected: 2 * N }) }
}

macro_rules! digest_text {
    ($ty:ident, $len:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_hex(f, &self.0)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(", stringify!($ty))?;
                write_hex(f, &self.0)?;
                f.write_str(")")
            }
        }

        impl FromStr for $ty {
            type Err = ThumbprintError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_lenient_hex::<$len>(s).map(Self)
            }
        }
    };
}

digest_text!(Thumbprint, 20);
digest_text!(Sha256Fingerprint, 32);

impl From<Thumbprint> for String {
    /// The 40 uppercase hex digits (`Display`).
    fn from(thumbprint: Thumbprint) -> Self {
        thumbprint.to_string()
    }
}

impl TryFrom<String> for Thumbprint {
    type Error = ThumbprintError;

    /// As `FromStr`.
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "3B7E0551084F21AA9C480E10732B0F9C6DD43166";

    #[test]
    fn accepts_what_admins_paste() {
        let expected: Thumbprint = HEX.parse().unwrap_or(Thumbprint([0; 20]));
        for pasted in [
            "3b7e0551084f21aa9c480e10732b0f9c6dd43166",
            "3b 7e 05 51 08 4f 21 aa 9c 48 0e 10 73 2b 0f 9c 6d d4 31 66",
            "3B:7E:05:51:08:4F:21:AA:9C:48:0E:10:73:2B:0F:9C:6D:D4:31:66",
            "\u{200E}3b7e0551084f21aa9c480e10732b0f9c6dd43166\u{200F}",
            "\u{FEFF}3B7E0551084F21AA9C480E10732B0F9C6DD43166\r\n",
        ] {
            assert_eq!(pasted.parse::<Thumbprint>(), Ok(expected), "{pasted:?}");
        }
        assert_eq!(expected.to_string(), HEX);
    }

    #[test]
    fn names_the_bad_character_and_its_position() {
        assert_eq!(
            "3b7e-0551".parse::<Thumbprint>(),
            Err(ThumbprintError::InvalidCharacter { character: '-', position: 4 })
        );
        assert_eq!(
            "\u{200E}\u{200E}zz".parse::<Thumbprint>(),
            Err(ThumbprintError::InvalidCharacter { character: 'z', position: 2 })
        );
        assert_eq!(
            "3b7e".parse::<Thumbprint>(),
            Err(ThumbprintError::WrongLength { digits: 4, expected: 40 })
        );
        assert_eq!(
            format!("{HEX}00").parse::<Thumbprint>(),
            Err(ThumbprintError::WrongLength { digits: 42, expected: 40 })
        );
    }

    #[test]
    fn sha256_round_trips() {
        let f = Sha256Fingerprint::of(b"abc");
        assert_eq!(f.to_string(), "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD");
        assert_eq!(f.to_string().to_lowercase().parse::<Sha256Fingerprint>(), Ok(f));
        assert_eq!(Thumbprint::of(b"abc").to_string(), "A9993E364706816ABA3E25717850C26C9CD0D89D");
    }
}
