//! Key derivations on the raw compression functions of SHA-1 and SHA-256.
//!
//! A PFX import spends nearly all its time in its key derivations: the RFC 7292 KDF of the MAC
//! and of PKCS #12 PBE, and PBKDF2 of PBES2, each thousands of rounds over one short block. Through
//! the `Digest` and `Mac` traits every round also pays for buffering, state copies and
//! finalisation; here each round is exactly its compression calls (one for the PKCS #12 KDF, two
//! for HMAC with the keyed states computed once), on `sha1::block_api::compress` and
//! `sha2::block_api::compress256`. Written by hand because no maintained crate offers these
//! derivations on the block API; the tests check them against the `pkcs12` and `pbkdf2` crates.
//! Other hashes take the generic paths.

use zeroize::{Zeroize, Zeroizing};

/// A Merkle–Damgård hash with 64-octet blocks and a 64-bit big-endian length (SHA-1, SHA-256).
pub(crate) trait Compress {
    /// The digest length in octets.
    const OUT: usize;
    /// The chaining state.
    type State: Copy + Zeroize;
    /// The initial state.
    fn iv() -> Self::State;
    /// Compresses one block into the state.
    fn compress(state: &mut Self::State, block: &[u8; 64]);
    /// Writes the state as the digest (big-endian words) into `out` (`OUT` octets).
    fn digest(state: &Self::State, out: &mut [u8]);
}

/// SHA-1 on its block API.
pub(crate) struct Sha1Block;
/// SHA-256 on its block API.
pub(crate) struct Sha256Block;

impl Compress for Sha1Block {
    const OUT: usize = 20;
    type State = [u32; 5];

    fn iv() -> Self::State {
        [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0]
    }

    fn compress(state: &mut Self::State, block: &[u8; 64]) {
        sha1::block_api::compress(state, core::slice::from_ref(block));
    }

    fn digest(state: &Self::State, out: &mut [u8]) {
        for (chunk, word) in out.chunks_mut(4).zip(state) {
            for (o, b) in chunk.iter_mut().zip(word.to_be_bytes()) {
                *o = b;
            }
        }
    }
}

impl Compress for Sha256Block {
    const OUT: usize = 32;
    type State = [u32; 8];

    fn iv() -> Self::State {
        [
            0x6A09_E667,
            0xBB67_AE85,
            0x3C6E_F372,
            0xA54F_F53A,
            0x510E_527F,
            0x9B05_688C,
            0x1F83_D9AB,
            0x5BE0_CD19,
        ]
    }

    fn compress(state: &mut Self::State, block: &[u8; 64]) {
        sha2::block_api::compress256(state, core::slice::from_ref(block));
    }

    fn digest(state: &Self::State, out: &mut [u8]) {
        for (chunk, word) in out.chunks_mut(4).zip(state) {
            for (o, b) in chunk.iter_mut().zip(word.to_be_bytes()) {
                *o = b;
            }
        }
    }
}

/// Continues a hash whose state has absorbed `done` octets (a multiple of 64) over `message`,
/// then pads and finishes it.
#[expect(clippy::indexing_slicing, reason = "fixed 64-octet blocks; every index is below 64 by construction")]
fn finish<C: Compress>(mut state: C::State, done: usize, message: &[u8]) -> C::State {
    let mut chunks = message.chunks_exact(64);
    for block in chunks.by_ref() {
        let mut b = [0u8; 64];
        b.copy_from_slice(block);
        C::compress(&mut state, &b);
    }
    let rest = chunks.remainder();
    let bits = ((done + message.len()) as u64).wrapping_mul(8);
    let mut block = [0u8; 64];
    block[..rest.len()].copy_from_slice(rest);
    block[rest.len()] = 0x80;
    if rest.len() >= 56 {
        C::compress(&mut state, &block);
        block = [0u8; 64];
    }
    block[56..].copy_from_slice(&bits.to_be_bytes());
    C::compress(&mut state, &block);
    block.zeroize();
    state
}

/// `H(message)` on the block API.
fn hash<C: Compress>(message: &[u8], out: &mut [u8]) {
    let state = finish::<C>(C::iv(), 0, message);
    C::digest(&state, out);
}

/// The single-block message of a digest `d` (of `C::OUT` octets) hashed after `done` octets.
#[expect(clippy::indexing_slicing, reason = "fixed 64-octet blocks; every index is below 64 by construction")]
fn short_block<C: Compress>(d: &[u8], done: usize) -> [u8; 64] {
    let mut block = [0u8; 64];
    block[..d.len()].copy_from_slice(d);
    block[d.len()] = 0x80;
    block[56..].copy_from_slice(&(((done + d.len()) as u64) * 8).to_be_bytes());
    block
}

/// The RFC 7292 appendix B.2 KDF (see `kdf::derive`, which it replaces for SHA-1 and SHA-256).
#[expect(clippy::indexing_slicing, reason = "fixed 64-octet blocks; every index is below 64 by construction")]
pub(crate) fn pkcs12_kdf<C: Compress>(
    password: &[u8],
    salt: &[u8],
    id: u8,
    iterations: u32,
    len: usize,
) -> Zeroizing<Vec<u8>> {
    const V: usize = 64;
    let repeat = |src: &[u8]| -> Vec<u8> {
        if src.is_empty() {
            return Vec::new();
        }
        let n = V * src.len().div_ceil(V);
        src.iter().cycle().take(n).copied().collect()
    };
    // D || I, with I = S || P.
    let mut input = Zeroizing::new(vec![id; V]);
    input.extend_from_slice(&repeat(salt));
    let mut p = Zeroizing::new(repeat(password));
    input.append(&mut p);
    let mut out = Zeroizing::new(Vec::with_capacity(len + C::OUT));
    // One block holds A_i between rounds: its padding and length never change.
    let mut block = short_block::<C>(&[0u8; 64][..C::OUT], 0);
    while out.len() < len {
        let mut state = finish::<C>(C::iv(), 0, &input);
        C::digest(&state, &mut block[..C::OUT]);
        for _ in 1..iterations {
            state = C::iv();
            C::compress(&mut state, &block);
            C::digest(&state, &mut block[..C::OUT]);
        }
        state.zeroize();
        let a = &block[..C::OUT];
        out.extend_from_slice(a);
        if out.len() >= len {
            break;
        }
        // I_j = (I_j + B + 1) mod 2^(8v) for each v-octet block of I, B = A repeated to v octets.
        let b: Zeroizing<Vec<u8>> = Zeroizing::new(a.iter().cycle().take(V).copied().collect());
        for chunk in input[V..].chunks_mut(V) {
            let mut carry = 1u16;
            for (x, y) in chunk.iter_mut().rev().zip(b.iter().rev()) {
                let sum = u16::from(*x) + u16::from(*y) + carry;
                *x = sum as u8;
                carry = sum >> 8;
            }
        }
    }
    block.zeroize();
    out.truncate(len);
    out
}

/// PBKDF2 with HMAC over `C` (RFC 8018 5.2), filling `out`.
#[expect(clippy::indexing_slicing, reason = "fixed 64-octet blocks; every index is below 64 by construction")]
pub(crate) fn pbkdf2_hmac<C: Compress>(password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) {
    // HMAC's keyed states (RFC 2104): the key, hashed if longer than a block, xored with the pads.
    let mut key = [0u8; 64];
    if password.len() > 64 {
        hash::<C>(password, &mut key[..C::OUT]);
    } else {
        key[..password.len()].copy_from_slice(password);
    }
    let (mut inner, mut outer) = (C::iv(), C::iv());
    let mut pad = [0u8; 64];
    for (p, k) in pad.iter_mut().zip(&key) {
        *p = k ^ 0x36;
    }
    C::compress(&mut inner, &pad);
    for (p, k) in pad.iter_mut().zip(&key) {
        *p = k ^ 0x5C;
    }
    C::compress(&mut outer, &pad);
    key.zeroize();
    pad.zeroize();

    let mut u = Zeroizing::new(vec![0u8; C::OUT]);
    let mut t = Zeroizing::new(vec![0u8; C::OUT]);
    for (index, chunk) in out.chunks_mut(C::OUT).enumerate() {
        // U_1 = HMAC(P, S || INT(i)).
        let mut message = Zeroizing::new(salt.to_vec());
        message.extend_from_slice(&(index as u32 + 1).to_be_bytes());
        let state = finish::<C>(inner, 64, &message);
        C::digest(&state, &mut u);
        let state = finish::<C>(outer, 64, &u);
        C::digest(&state, &mut u);
        t.copy_from_slice(&u);
        // U_j = HMAC(P, U_{j-1}): one block through each keyed state. The inner block holds
        // U_{j-1}, the outer block the inner digest; padding and lengths never change.
        let mut inner_block = short_block::<C>(&u, 64);
        let mut outer_block = short_block::<C>(&u, 64);
        for _ in 1..iterations {
            let mut state = inner;
            C::compress(&mut state, &inner_block);
            C::digest(&state, &mut outer_block[..C::OUT]);
            state = outer;
            C::compress(&mut state, &outer_block);
            C::digest(&state, &mut inner_block[..C::OUT]);
            for (x, y) in t.iter_mut().zip(&inner_block[..C::OUT]) {
                *x ^= y;
            }
        }
        inner_block.zeroize();
        outer_block.zeroize();
        chunk.copy_from_slice(&t[..chunk.len()]);
    }
    inner.zeroize();
    outer.zeroize();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference_pbkdf2<D: hmac::EagerHash>(
        password: &[u8],
        salt: &[u8],
        iterations: u32,
        len: usize,
    ) -> Vec<u8> {
        let mut out = vec![0u8; len];
        pbkdf2::pbkdf2_hmac::<D>(password, salt, iterations, &mut out);
        out
    }

    #[test]
    fn pbkdf2_matches_the_pbkdf2_crate() {
        for (password, salt, iterations, len) in [
            (&b"P@ssw0rd"[..], &b"saltsalt"[..], 1, 32),
            (b"P@ssw0rd", b"saltsalt", 2048, 32),
            (b"", b"", 3, 20),
            (&[0x61; 100][..], &[7u8; 70][..], 5, 64),
            (&[0x62; 64][..], &[1u8; 55][..], 2, 45),
        ] {
            let mut fast = vec![0u8; len];
            pbkdf2_hmac::<Sha256Block>(password, salt, iterations, &mut fast);
            assert_eq!(fast, reference_pbkdf2::<sha2::Sha256>(password, salt, iterations, len));
            pbkdf2_hmac::<Sha1Block>(password, salt, iterations, &mut fast);
            assert_eq!(fast, reference_pbkdf2::<sha1::Sha1>(password, salt, iterations, len));
        }
    }

    #[test]
    fn pkcs12_kdf_matches_the_pkcs12_crate() {
        use pkcs12::kdf::{Pkcs12KeyType, derive_key};
        let bmp = [0x00, 0x73, 0x00, 0x6D, 0x00, 0x65, 0x00, 0x67, 0x00, 0x00];
        for (password, salt, iterations, len) in [
            (&bmp[..], &[0x0A, 0x58, 0xCF, 0x64, 0x53, 0x0D, 0x82, 0x3F][..], 1, 24),
            (&bmp[..], &[1, 2, 3][..], 2048, 40),
            (&[0, 0][..], &[9u8; 70][..], 3, 8),
            (&[][..], &[][..], 2, 33),
            (&[0xFF; 130][..], &[0xFF; 64][..], 4, 70),
        ] {
            for (id, kind) in
                [(1, Pkcs12KeyType::EncryptionKey), (2, Pkcs12KeyType::Iv), (3, Pkcs12KeyType::Mac)]
            {
                let fast = pkcs12_kdf::<Sha1Block>(password, salt, id, iterations, len);
                let slow = derive_key::<sha1::Sha1>(password, salt, kind, iterations as i32, len);
                assert_eq!(fast.as_slice(), slow.as_slice(), "sha1 id {id}");
            }
            let fast = pkcs12_kdf::<Sha256Block>(password, salt, 3, iterations, len);
            let slow = derive_key::<sha2::Sha256>(password, salt, Pkcs12KeyType::Mac, iterations as i32, len);
            assert_eq!(fast.as_slice(), slow.as_slice(), "sha256");
        }
    }
}
