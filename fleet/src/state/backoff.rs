//! Jittered exponential backoff ("full jitter": a uniform wait up to the capped exponential),
//! and random identifiers, both from the operating system's generator.

use std::time::Duration;

/// A wait for retry `n` (0 first): uniform in `[0, min(cap, base * 2^n)]`.
pub(crate) fn jitter(base: Duration, cap: Duration, n: u32) -> Duration {
    let ceiling = base.saturating_mul(1u32.checked_shl(n.min(20)).unwrap_or(u32::MAX)).min(cap);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    // If the generator fails, wait the full ceiling: still bounded, only less spread.
    let random = getrandom::u64().unwrap_or(u64::MAX);
    Duration::from_nanos(random % nanos.saturating_add(1))
}

/// `bytes` random octets as lowercase hex.
pub(crate) fn random_hex(bytes: usize) -> Result<String, getrandom::Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_under_the_capped_exponential() {
        let (base, cap) = (Duration::from_millis(2), Duration::from_millis(100));
        for n in 0..40 {
            let ceiling = (base * 2u32.pow(n.min(20))).min(cap);
            for _ in 0..50 {
                assert!(jitter(base, cap, n) <= ceiling, "retry {n}");
            }
        }
        assert_eq!(jitter(Duration::ZERO, cap, 3), Duration::ZERO);
    }

    #[test]
    fn random_hex_has_two_digits_an_octet() {
        let id = random_hex(16).unwrap();
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_ne!(id, random_hex(16).unwrap());
    }
}
