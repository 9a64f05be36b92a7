//! Jittered exponential backoff ("full jitter": a uniform wait up to the capped exponential),
//! and random identifiers, both from the operating system's generator; and the waits and
//! blocking work the fleet's tasks share.

use std::time::Duration;

use tokio::time::Instant;

/// The wait before a task's retry `failures` (etcd unreachable, a watch or a campaign broke):
/// 100 ms doubling to 2 s, jittered.
pub(crate) fn retry_wait(failures: u32) -> Duration {
    jitter(Duration::from_millis(100), Duration::from_secs(2), failures)
}

/// Sleeps until `at`; forever without one (a `select!` arm that is off).
pub(crate) async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => core::future::pending().await,
    }
}

/// Runs `work` on tokio's blocking threads, so that the runtime's threads go on renewing leases
/// and serving watches meanwhile. `None` when the runtime shut down under it; a panic in the
/// work is a bug, and goes on unwinding here.
pub(crate) async fn on_blocking_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    match tokio::task::spawn_blocking(work).await {
        Ok(done) => Some(done),
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(_) => None,
        },
    }
}

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
