//! PEM and Base64: a lenient PEM reader (RFC 7468 with the leniency of the tools admins use), the
//! PEM writer, and the Base64 of the saved store state. All Base64 goes through `base64ct`, the
//! crate's one Base64 implementation (`rollover` uses it directly for base64url).
//!
//! The framing is read by hand rather than with `pem-rfc7468` (`der::pem`), which by design
//! refuses what real files hold: text before and between blocks, RFC 1421 headers, lines of any
//! length, CRLF, trailing whitespace, and the old labels `X509 CERTIFICATE` and
//! `TRUSTED CERTIFICATE`. This file strips that framing and hands the Base64 characters to
//! `base64ct`, keeping the line and column of each character for errors.

use base64ct::{Base64, Base64Unpadded, Encoding as _};
use zeroize::Zeroizing;

use crate::x509::ParseError;

/// Labels whose blocks hold a certificate.
pub(crate) const CERTIFICATE_LABELS: [&str; 3] = ["CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"];

/// One `-----BEGIN label-----` ... `-----END label-----` block.
pub(crate) struct Block<'a> {
    pub(super) label: String,
    /// 1-based line of the BEGIN line.
    pub(super) line: usize,
    /// The lines between BEGIN and END, each with its 1-based line number.
    pub(super) body: Vec<(usize, &'a [u8])>,
}

impl<'a> Block<'a> {
    /// The label of the BEGIN line (`CERTIFICATE`, `PRIVATE KEY`, ...).
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// The lines between BEGIN and END, each with its 1-based line number.
    pub(crate) fn body(&self) -> &[(usize, &'a [u8])] {
        &self.body
    }
}

fn trim(line: &[u8]) -> &[u8] {
    line.trim_ascii()
}

fn boundary<'a>(line: &'a [u8], kind: &str) -> Option<&'a [u8]> {
    let line = trim(line);
    let rest = line.strip_prefix(b"-----")?.strip_prefix(kind.as_bytes())?.strip_prefix(b" ")?;
    rest.strip_suffix(b"-----").map(trim)
}

/// Splits text into its blocks, checking that every BEGIN has its END.
pub(crate) fn blocks(text: &[u8]) -> Result<Vec<Block<'_>>, ParseError> {
    let mut out = Vec::new();
    let mut open: Option<Block<'_>> = None;
    for (index, line) in text.split(|&b| b == b'\n').enumerate() {
        let number = index + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(block) = open.as_mut() {
            if let Some(end) = boundary(line, "END") {
                let end = String::from_utf8_lossy(end).into_owned();
                if end != block.label {
                    return Err(ParseError::PemLabelMismatch {
                        begin: block.label.clone(),
                        end,
                        line: number,
                    });
                }
                out.extend(open.take());
            } else if boundary(line, "BEGIN").is_some() {
                return Err(ParseError::PemUnterminated { label: block.label.clone(), line: block.line });
            } else {
                block.body.push((number, line));
            }
        } else if let Some(label) = boundary(line, "BEGIN") {
            open = Some(Block {
                label: String::from_utf8_lossy(label).into_owned(),
                line: number,
                body: Vec::new(),
            });
        }
    }
    match open {
        Some(block) => Err(ParseError::PemUnterminated { label: block.label, line: block.line }),
        None => Ok(out),
    }
}

/// The labels of every block, in order.
pub(crate) fn labels(text: &[u8]) -> Vec<String> {
    blocks(text).map(|b| b.into_iter().map(|b| b.label).collect()).unwrap_or_default()
}

/// Decodes one line of Base64 (no headers, no line breaks needed): the saved store state.
#[cfg(feature = "serde")]
pub(crate) fn base64_decode(text: &str) -> Result<Vec<u8>, ParseError> {
    decode_body(&[(1, text.as_bytes())])
}

/// Encodes Base64 with padding, on one line (RFC 4648 4): the saved store state.
#[cfg(any(feature = "serde", test))]
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    Base64::encode_string(bytes)
}

/// Octets of DER in one line of PEM: 64 Base64 characters (RFC 7468 2).
const PEM_LINE_OCTETS: usize = 48;

/// PEM text (RFC 7468 2): the label's boundaries around Base64 lines of 64 characters, LF line
/// ends, no line for empty DER. The string is allocated once at its final size and each line is
/// encoded straight into it, so a secret (a private key) leaves no copy behind in freed memory.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let lines = der.len().div_ceil(PEM_LINE_OCTETS);
    let body = der.len().div_ceil(3) * 4 + lines;
    let len = "-----BEGIN -----\n".len() + "-----END -----\n".len() + 2 * label.len() + body;
    let mut out = String::with_capacity(len);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    let mut line = Zeroizing::new([0u8; 4 * PEM_LINE_OCTETS / 3]);
    for chunk in der.chunks(PEM_LINE_OCTETS) {
        // A chunk of at most 48 octets always fits the 64-character buffer.
        if let Ok(text) = Base64::encode(chunk, line.as_mut_slice()) {
            out.push_str(text);
        }
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

/// Decodes a block's Base64 body, skipping RFC 1421 headers (`Name: value` lines, their
/// indented continuations, and the blank line after them), spaces, tabs and CRs, and accepting
/// the final padding or its absence. An error names the line and column of the offending
/// character: one outside the alphabet, data after padding, or the last character of a body that
/// is not whole octets (a dangling character, non-zero bits past the last octet).
pub(crate) fn decode_body(body: &[(usize, &[u8])]) -> Result<Vec<u8>, ParseError> {
    // The Base64 characters alone; zeroized, as they may encode a private key.
    let mut text = Zeroizing::new(Vec::with_capacity(body.iter().map(|(_, l)| l.len()).sum::<usize>()));
    let mut padding = false;
    let mut last = (0, 0);
    for &(number, line) in body {
        let is_header = text.is_empty()
            && (line.contains(&b':')
                || line.first().is_some_and(|b| b.is_ascii_whitespace()) && !trim(line).is_empty());
        if is_header {
            continue;
        }
        for (col, &c) in line.iter().enumerate() {
            let column = col + 1;
            match c {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' if !padding => {
                    text.push(c);
                    last = (number, column);
                }
                b'=' => padding = true,
                b' ' | b'\t' | b'\r' => {}
                _ => return Err(ParseError::PemBase64 { line: number, column }),
            }
        }
    }
    let mut out = vec![0u8; text.len() * 3 / 4];
    let len = Base64Unpadded::decode(text.as_slice(), &mut out)
        .map_err(|_| ParseError::PemBase64 { line: last.0, column: last.1 })?
        .len();
    out.truncate(len);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(text: &str) -> Result<Vec<u8>, ParseError> {
        let lines: Vec<(usize, &[u8])> =
            text.lines().enumerate().map(|(i, l)| (i + 1, l.as_bytes())).collect();
        decode_body(&lines)
    }

    #[test]
    fn base64_with_headers_and_odd_lines() {
        assert_eq!(decode("Proc-Type: 4,ENCRYPTED\n  continued\n\nTWFu\nTQ==\r"), Ok(b"ManM".to_vec()));
        assert_eq!(decode("TW\nFu TWE="), Ok(b"ManMa".to_vec()));
        assert_eq!(decode("TWFuTQ"), Ok(b"ManM".to_vec()));
    }

    #[test]
    fn base64_round_trips() {
        for data in [&b""[..], b"M", b"Ma", b"Man", b"ManMa", &[0xFF, 0x00, 0x80, 0x7F]] {
            let text = base64_encode(data);
            assert_eq!(decode_body(&[(1, text.as_bytes())]), Ok(data.to_vec()), "{text}");
        }
        assert_eq!(base64_encode(b"Ma"), "TWE=");
    }

    #[test]
    fn base64_errors_name_line_and_column() {
        assert_eq!(decode("TWFu\nTW*u"), Err(ParseError::PemBase64 { line: 2, column: 3 }));
        assert_eq!(decode("TQ==TQ=="), Err(ParseError::PemBase64 { line: 1, column: 5 }));
        assert_eq!(decode("TWFuT"), Err(ParseError::PemBase64 { line: 1, column: 5 }));
    }

    #[test]
    fn block_structure_errors() {
        let unterminated = b"junk\n-----BEGIN CERTIFICATE-----\nTWFu\n";
        assert_eq!(
            blocks(unterminated).map(|b| b.len()),
            Err(ParseError::PemUnterminated { label: "CERTIFICATE".into(), line: 2 })
        );
        let mismatch = b"-----BEGIN CERTIFICATE-----\nTWFu\n-----END X509 CRL-----\n";
        assert_eq!(
            blocks(mismatch).map(|b| b.len()),
            Err(ParseError::PemLabelMismatch {
                begin: "CERTIFICATE".into(),
                end: "X509 CRL".into(),
                line: 3
            })
        );
        let two = b"a\r\n-----BEGIN A-----\r\n-----END A-----\r\nb\n  -----BEGIN B-----  \n-----END B-----";
        assert_eq!(labels(two), vec!["A".to_owned(), "B".to_owned()]);
    }
}
