//! Medians and percentiles of single runs, for work whose time varies from run to run (RSA prime
//! search): criterion reports means and medians of sample averages, these are of single calls.
//! Included by the benches with `#[path = "shared/percentiles.rs"] mod percentiles;`.

use std::time::{Duration, Instant};

/// The durations of `n` calls of `f`, sorted.
pub fn timings(n: usize, mut f: impl FnMut()) -> Vec<Duration> {
    let mut out: Vec<Duration> = (0..n)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    out.sort();
    out
}

/// The `p`-th percentile of sorted durations (nearest rank).
pub fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted.get(rank - 1).copied().unwrap_or_default()
}

/// Prints `group/name`, the count, median, 90th percentile, minimum and maximum to stderr.
pub fn report(group: &str, name: &str, sorted: &[Duration]) {
    eprintln!(
        "{group}/{name:<9} n={:<3} median {:>7.1} ms  p90 {:>7.1} ms  min {:>7.1} ms  max {:>7.1} ms",
        sorted.len(),
        percentile(sorted, 50).as_secs_f64() * 1e3,
        percentile(sorted, 90).as_secs_f64() * 1e3,
        sorted.first().copied().unwrap_or_default().as_secs_f64() * 1e3,
        sorted.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}
