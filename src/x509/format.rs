//! Telling file formats apart by their bytes, not their names.

use crate::x509::tlv::tag;

/// What a file's bytes hold, as [`FileFormat::detect`] tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileFormat {
    /// A DER certificate (a SEQUENCE whose first element is a SEQUENCE).
    Der,
    /// PEM text (a `-----BEGIN` line somewhere).
    Pem,
    /// A PKCS #12 / PFX file (a SEQUENCE whose first element is an INTEGER, the version).
    Pfx,
    /// None of these.
    Unknown,
}

impl FileFormat {
    /// Looks at the first bytes: the ASN.1 structure for binary files, a `-----BEGIN` line for
    /// text. Windows `.cer` files may be either DER or PEM, `.pfx` and `.p12` are PKCS #12.
    ///
    /// ```
    /// use certslot::FileFormat;
    ///
    /// assert_eq!(FileFormat::detect(include_bytes!("../../tests/data/rsa2048.der")), FileFormat::Der);
    /// assert_eq!(FileFormat::detect(include_bytes!("../../tests/data/chain.pem")), FileFormat::Pem);
    /// assert_eq!(FileFormat::detect(include_bytes!("../../tests/data/pfx/openssl3-default.pfx")), FileFormat::Pfx);
    /// assert_eq!(FileFormat::detect(b"hello"), FileFormat::Unknown);
    /// ```
    pub fn detect(bytes: &[u8]) -> Self {
        if let [tag::SEQUENCE, len, rest @ ..] = bytes {
            let header_extra = match *len {
                0x80 => 0,
                l if l > 0x80 => usize::from(l & 0x7F),
                _ => 0,
            };
            return match rest.get(header_extra) {
                Some(&tag::SEQUENCE) => Self::Der,
                Some(&tag::INTEGER) => Self::Pfx,
                _ => Self::Unknown,
            };
        }
        if bytes.windows(11).any(|w| w == b"-----BEGIN ") { Self::Pem } else { Self::Unknown }
    }
}
