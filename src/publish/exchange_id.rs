//! The id Exchange gives its metadata document when none is configured: derived from the
//! service name and realm.

use sha1::{Digest as _, Sha1};

/// `_` and the UUID version 5 (RFC 9562 5.5) of `service_name@realm` in the URL namespace
/// (RFC 9562 6.6), lowercase, as Exchange writes its id.
pub(super) fn derived_id(service_name: &str, realm: &str) -> String {
    // NameSpace_URL, 6ba7b811-9dad-11d1-80b4-00c04fd430c8.
    const NAMESPACE_URL: [u8; 16] =
        [0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8];
    let digest: [u8; 20] = Sha1::new()
        .chain_update(NAMESPACE_URL)
        .chain_update(service_name.as_bytes())
        .chain_update(b"@")
        .chain_update(realm.as_bytes())
        .finalize()
        .into();
    let mut uuid = [0u8; 16];
    uuid.iter_mut().zip(digest).for_each(|(u, d)| *u = d);
    // RFC 9562 5.5: version 5 in the high nibble of octet 6, variant 10 in the top bits of octet 8.
    uuid[6] = (uuid[6] & 0x0f) | 0x50;
    uuid[8] = (uuid[8] & 0x3f) | 0x80;
    let mut out = String::with_capacity(37);
    out.push('_');
    for (i, byte) in uuid.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push_str(&format!("{byte:02x}"));
    }
    out
}
