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
    /// A PKCS #7 / CMS ContentInfo in DER or BER, such as a `.p7b` certificate bundle (a
    /// SEQUENCE whose first element is an OID, the content type); read it with
    /// [`Certificate::from_bundle`](crate::Certificate::from_bundle).
    Pkcs7,
    /// None of these.
    Unknown,
}

impl FileFormat {
    /// Looks at the first bytes: the ASN.1 structure for binary files, a `-----BEGIN` line for
    /// text. Windows `.cer` files may be either DER or PEM, `.pfx` and `.p12` are PKCS #12,
    /// `.p7b` and `.p7c` PKCS #7 (in DER, BER or PEM; PEM text is [`FileFormat::Pem`]).
    ///
    /// ```
    /// use certslot::x509::FileFormat;
    ///
    /// assert_eq!(FileFormat::detect(include_bytes!("../../tests/data/rsa2048.der")), FileFormat::Der);
    /// assert_eq!(FileFormat::detect(include_bytes!("../../tests/data/chain.pem")), FileFormat::Pem);
    /// assert_eq!(FileFormat::detect(include_bytes!("../../tests/data/pfx/openssl3-default.pfx")), FileFormat::Pfx);
    /// assert_eq!(FileFormat::detect(include_bytes!("../../tests/data/chains/openssl.p7b")), FileFormat::Pkcs7);
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
                Some(&tag::OID) => Self::Pkcs7,
                _ => Self::Unknown,
            };
        }
        if bytes.windows(11).any(|w| w == b"-----BEGIN ") { Self::Pem } else { Self::Unknown }
    }
}
