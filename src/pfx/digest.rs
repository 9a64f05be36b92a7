//! The hashes PFX MACs and key derivations run, over certslot's one hash enum
//! ([`HashAlgorithm`], in `x509`): which of them pfx can run, HMAC over each, PBKDF2 over them,
//! and the HMAC OIDs that name PBKDF2's PRF.
//!
//! ```text
//! DigestAlgorithmIdentifier ::= AlgorithmIdentifier  -- the hash's OID, NULL or absent parameters
//! ```
//! Hash OIDs are read by `x509::algorithm`; HMAC OIDs as PBKDF2's PRF (RFC 8018 B.1.2) here. The
//! SHA-3 and BLAKE2 MACs are those `openssl pkcs12 -export -macalg` writes beyond SHA-1 and SHA-2
//! (`sha3-256`, `blake2b512`, ...).

use const_oid::ObjectIdentifier;
use const_oid::db::rfc6268;
use hmac::{KeyInit, Mac};

use crate::x509::algorithm::HashAlgorithm;

/// The HMAC algorithm identifiers PBKDF2 and PBMAC1 name their PRF and MAC with (RFC 8018 B.1.2),
/// by hash. `hmacWithSHA1` is the `pkcs5` crate's: const-oid's db lacks it.
const HMACS: [(ObjectIdentifier, HashAlgorithm); 5] = [
    (pkcs5::pbes2::HMAC_WITH_SHA1_OID, HashAlgorithm::Sha1),
    (rfc6268::ID_HMAC_WITH_SHA_224, HashAlgorithm::Sha224),
    (rfc6268::ID_HMAC_WITH_SHA_256, HashAlgorithm::Sha256),
    (rfc6268::ID_HMAC_WITH_SHA_384, HashAlgorithm::Sha384),
    (rfc6268::ID_HMAC_WITH_SHA_512, HashAlgorithm::Sha512),
];

/// The hash of a PFX MAC's `digestAlgorithm` OID, when pfx can run HMAC and the RFC 7292 KDF
/// over it (SHA-1, SHA-2, SHA-3, BLAKE2; not MD2, MD5 or a hash certslot does not know).
pub(crate) fn mac_hash(oid: ObjectIdentifier) -> Option<HashAlgorithm> {
    Some(HashAlgorithm::from_oid(oid)).filter(|hash| runs(*hash))
}

/// The hash of an HMAC algorithm identifier (`hmacWithSHA256`, ...), as PBKDF2 and PBMAC1 name it.
pub(crate) fn hmac_hash(oid: ObjectIdentifier) -> Option<HashAlgorithm> {
    HMACS.iter().find(|(o, _)| *o == oid).map(|(_, hash)| *hash)
}

/// True for the hashes pfx runs HMAC, PBKDF2 and the RFC 7292 KDF over (those of [`with_hash`]).
pub(crate) fn runs(hash: HashAlgorithm) -> bool {
    fn yes<D: HmacHash>() -> bool {
        true
    }
    with_hash!(hash, yes(), else false)
}

/// The length of the hash's output in octets (1 for a hash pfx does not run, so that dividing by
/// it never fails).
pub(crate) fn output_len(hash: HashAlgorithm) -> usize {
    hash.output_len().unwrap_or(1)
}

/// Calls `$f::<H>(args)` with `H` the hash type of `$hash` (a [`HashAlgorithm`]; `H` a
/// [`HmacHash`]), or evaluates `$other` for a hash pfx does not run (MD2, MD5, unknown OIDs: the
/// parsers refuse them with `UnsupportedAlgorithm`, so no PFX algorithm holds one).
macro_rules! with_hash {
    ($hash:expr, $f:ident ( $($arg:expr),* ), else $other:expr) => {
        match $hash {
            HashAlgorithm::Sha1 => $f::<sha1::Sha1>($($arg),*),
            HashAlgorithm::Sha224 => $f::<sha2::Sha224>($($arg),*),
            HashAlgorithm::Sha256 => $f::<sha2::Sha256>($($arg),*),
            HashAlgorithm::Sha384 => $f::<sha2::Sha384>($($arg),*),
            HashAlgorithm::Sha512 => $f::<sha2::Sha512>($($arg),*),
            HashAlgorithm::Sha512_224 => $f::<sha2::Sha512_224>($($arg),*),
            HashAlgorithm::Sha512_256 => $f::<sha2::Sha512_256>($($arg),*),
            HashAlgorithm::Sha3_224 => $f::<sha3::Sha3_224>($($arg),*),
            HashAlgorithm::Sha3_256 => $f::<sha3::Sha3_256>($($arg),*),
            HashAlgorithm::Sha3_384 => $f::<sha3::Sha3_384>($($arg),*),
            HashAlgorithm::Sha3_512 => $f::<sha3::Sha3_512>($($arg),*),
            HashAlgorithm::Blake2b512 => $f::<blake2::Blake2b512>($($arg),*),
            HashAlgorithm::Blake2s256 => $f::<blake2::Blake2s256>($($arg),*),
            HashAlgorithm::Md2 | HashAlgorithm::Md5 | HashAlgorithm::Other(_) => $other,
        }
    };
}

pub(crate) use with_hash;

/// A hash and its HMAC (RFC 2104, the block of the key pads being the hash's block size, as
/// OpenSSL's HMAC takes it). `hmac::Hmac` for the hashes with an eager block buffer (SHA-1,
/// SHA-2, SHA-3), which keeps the keyed inner and outer states; `hmac::SimpleHmac` for BLAKE2,
/// whose lazy buffer (the last block is compressed with a finalization flag) gives it no
/// `EagerHash` core.
pub(crate) trait HmacHash {
    /// The HMAC over the hash.
    type Hmac: KeyInit + Mac + digest::Update + digest::FixedOutput + Clone;
}

macro_rules! hmac_over {
    ($hmac:ident: $($hash:ty),* $(,)?) => {
        $(impl HmacHash for $hash {
            type Hmac = hmac::$hmac<$hash>;
        })*
    };
}

hmac_over!(Hmac: sha1::Sha1, sha2::Sha224, sha2::Sha256, sha2::Sha384, sha2::Sha512, sha2::Sha512_224,
    sha2::Sha512_256, sha3::Sha3_224, sha3::Sha3_256, sha3::Sha3_384, sha3::Sha3_512);
hmac_over!(SimpleHmac: blake2::Blake2b512, blake2::Blake2s256);

/// PBKDF2 with HMAC over `prf` (RFC 8018 5.2): on the block API for SHA-1 and SHA-256 (see
/// `fast`), with the `pbkdf2` crate for the other hashes.
pub(crate) fn pbkdf2(prf: HashAlgorithm, password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) {
    use crate::pfx::fast::{Sha1Block, Sha256Block, pbkdf2_hmac};
    fn run<D: HmacHash>(password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) {
        // HMAC takes a key of any length, so this never fails; were it to, the key stays
        // zeroed and the decryption or MAC it feeds fails.
        if pbkdf2::pbkdf2::<D::Hmac>(password, salt, iterations, out).is_err() {
            out.fill(0);
        }
    }
    match prf {
        HashAlgorithm::Sha1 => pbkdf2_hmac::<Sha1Block>(password, salt, iterations, out),
        HashAlgorithm::Sha256 => pbkdf2_hmac::<Sha256Block>(password, salt, iterations, out),
        // No PRF pfx does not run is ever parsed; the key stays zeroed and its user fails.
        other => with_hash!(other, run(password, salt, iterations, out), else out.fill(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [HashAlgorithm; 13] = [
        HashAlgorithm::Sha1,
        HashAlgorithm::Sha224,
        HashAlgorithm::Sha256,
        HashAlgorithm::Sha384,
        HashAlgorithm::Sha512,
        HashAlgorithm::Sha512_224,
        HashAlgorithm::Sha512_256,
        HashAlgorithm::Sha3_224,
        HashAlgorithm::Sha3_256,
        HashAlgorithm::Sha3_384,
        HashAlgorithm::Sha3_512,
        HashAlgorithm::Blake2b512,
        HashAlgorithm::Blake2s256,
    ];

    #[test]
    fn every_digest_round_trips_its_oid_and_knows_its_length() {
        fn output_len<D: digest::Digest>() -> Option<usize> {
            Some(<D as digest::Digest>::output_size())
        }
        for d in ALL {
            assert_eq!(mac_hash(d.oid()), Some(d), "{d}");
            assert_eq!(d.output_len(), with_hash!(d, output_len(), else None), "{d}");
        }
        for weak in [HashAlgorithm::Md2, HashAlgorithm::Md5] {
            assert_eq!((runs(weak), mac_hash(weak.oid())), (false, None), "{weak}");
        }
        let oids: Vec<String> = ALL.iter().skip(7).map(|d| d.oid().to_string()).collect();
        assert_eq!(
            oids,
            [
                "2.16.840.1.101.3.4.2.7",
                "2.16.840.1.101.3.4.2.8",
                "2.16.840.1.101.3.4.2.9",
                "2.16.840.1.101.3.4.2.10",
                "1.3.6.1.4.1.1722.12.2.1.16",
                "1.3.6.1.4.1.1722.12.2.2.8"
            ]
        );
        let names: Vec<String> = ALL.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "SHA-1",
                "SHA-224",
                "SHA-256",
                "SHA-384",
                "SHA-512",
                "SHA-512/224",
                "SHA-512/256",
                "SHA3-224",
                "SHA3-256",
                "SHA3-384",
                "SHA3-512",
                "BLAKE2b-512",
                "BLAKE2s-256"
            ]
        );
    }

    #[test]
    fn hmac_follows_rfc_4231_and_rfc_2104_for_lazy_hashes() {
        fn mac<D: HmacHash>(key: &[u8], data: &[u8]) -> Vec<u8> {
            let mut m = <D::Hmac as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        // RFC 4231 4.2 test case 1, HMAC-SHA-256.
        let key = [0x0B; 20];
        assert_eq!(
            with_hash!(HashAlgorithm::Sha256, mac(&key, b"Hi There"), else Vec::new()).get(..8),
            Some(&[0xB0, 0x34, 0x4C, 0x61, 0xD8, 0xDB, 0x38, 0x53][..])
        );
        // BLAKE2s-256 through SimpleHmac equals HMAC computed by hand from RFC 2104's definition
        // H((K ^ opad) || H((K ^ ipad) || text)) with the 64-octet block.
        let h = |parts: &[&[u8]]| {
            let mut d = <blake2::Blake2s256 as digest::Digest>::new();
            parts.iter().for_each(|p| digest::Digest::update(&mut d, p));
            digest::Digest::finalize(d).to_vec()
        };
        let ipad: Vec<u8> = key.iter().copied().chain([0; 44]).map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = key.iter().copied().chain([0; 44]).map(|b| b ^ 0x5C).collect();
        let by_hand = h(&[&opad, &h(&[&ipad, b"Hi There"])]);
        assert_eq!(with_hash!(HashAlgorithm::Blake2s256, mac(&key, b"Hi There"), else Vec::new()), by_hand);
    }
}
