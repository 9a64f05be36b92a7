//! A lenient PEM reader (RFC 7468 with the leniency of the tools admins use).
//!
//! Written by hand rather than with `pem-rfc7468`, which by design refuses what real files hold:
//! text before and between blocks, RFC 1421 headers, lines of any length, CRLF, and the old labels
//! `X509 CERTIFICATE` and `TRUSTED CERTIFICATE`.

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

/// Encodes Base64 with padding, on one line.
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let index = ((n >> (18 - 6 * i)) & 0x3F) as usize;
                out.push(char::from(ALPHABET.get(index).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes a block's Base64 body, skipping RFC 1421 headers (`Name: value` lines, their
/// indented continuations, and the blank line after them).
pub(crate) fn decode_body(body: &[(usize, &[u8])]) -> Result<Vec<u8>, ParseError> {
    let mut out = Vec::with_capacity(body.iter().map(|(_, l)| l.len()).sum::<usize>() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut padding = false;
    let mut seen_data = false;
    let mut last = (0, 0);
    for &(number, line) in body {
        let is_header = !seen_data
            && (line.contains(&b':')
                || line.first().is_some_and(|b| b.is_ascii_whitespace()) && !trim(line).is_empty());
        if is_header {
            continue;
        }
        for (col, &c) in line.iter().enumerate() {
            let column = col + 1;
            let value = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                b'=' => {
                    padding = true;
                    continue;
                }
                b' ' | b'\t' | b'\r' => continue,
                _ => return Err(ParseError::PemBase64 { line: number, column }),
            };
            if padding {
                return Err(ParseError::PemBase64 { line: number, column });
            }
            seen_data = true;
            last = (number, column);
            acc = (acc << 6) | u32::from(value);
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push(((acc >> bits) & 0xFF) as u8);
            }
        }
    }
    // A final quantum of one character (6 bits) cannot encode an octet; leftover bits must be 0.
    if bits >= 6 || acc & ((1 << bits) - 1) != 0 {
        return Err(ParseError::PemBase64 { line: last.0, column: last.1 });
    }
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
