//! Layer 4, metrics in the Prometheus text format (OpenMetrics), through `prometheus-client`:
//! the fleet's state as cert-manager exports certificates ([`FleetCollector`], on the key
//! server), an agent's and a coordinator's own ([`AgentMetrics`], [`CoordinatorMetrics`]), the
//! state's updates ([`crate::StoreMetrics`]), and the HTTP endpoint that serves a registry
//! ([`serve_metrics`]).
//!
//! Uses the `fleet` layer (reports, events) and the `state` layer.

mod daemons;
mod endpoint;
mod fleet_collector;

pub use self::daemons::{AgentMetrics, CoordinatorMetrics};
pub(crate) use self::endpoint::metrics_router;
pub use self::endpoint::serve_metrics;
pub use self::fleet_collector::FleetCollector;
pub use prometheus_client::registry::Registry;
