//! The compare-and-swap updates of a process as Prometheus metrics: how long each update took
//! (reads, conflicts and retries included), how each ended, and how many conflicts it met.
//!
//! | Metric | Labels | Kind |
//! |---|---|---|
//! | `certslot_state_update_duration_seconds` | | histogram |
//! | `certslot_state_updates_total` | `result` (`written`, `unchanged`, `refused`, `failed`) | counter |
//! | `certslot_state_update_conflicts_total` | | counter |

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The update metrics of an [`crate::EtcdStore`] ([`crate::EtcdStore::with_metrics`]); clones
/// share the same series.
#[derive(Clone, Debug)]
pub struct StoreMetrics {
    duration: Histogram,
    results: Family<Vec<(&'static str, &'static str)>, Counter>,
    conflicts: Counter,
}

impl StoreMetrics {
    /// The metrics, registered in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        // 0.5 ms to about 8 s.
        let metrics = Self {
            duration: Histogram::new(exponential_buckets(0.0005, 2.0, 15)),
            results: Family::default(),
            conflicts: Counter::default(),
        };
        registry.register(
            "certslot_state_update_duration_seconds",
            "How long each compare-and-swap update of the state took, reads, conflicts and retries included",
            metrics.duration.clone(),
        );
        registry.register(
            "certslot_state_updates",
            "Compare-and-swap updates of the state, by how they ended",
            metrics.results.clone(),
        );
        registry.register(
            "certslot_state_update_conflicts",
            "Writes of the state refused because another writer changed it first",
            metrics.conflicts.clone(),
        );
        metrics
    }

    /// One update's time and end.
    pub(crate) fn update(&self, took: Duration, result: &'static str) {
        self.duration.observe(took.as_secs_f64());
        self.results.get_or_create(&vec![("result", result)]).inc();
    }

    /// One conflict.
    pub(crate) fn conflict(&self) {
        self.conflicts.inc();
    }
}
