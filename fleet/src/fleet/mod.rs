//! Layer 3, the fleet: front-end agents that hold what the store assigns them and report it
//! under a lease ([`Agent`]), the live view of those reports ([`fleet_status`]), and the
//! coordinator that feeds the reports into the store and applies due changes, one at a time
//! through an election ([`Coordinator`], [`Election`]).
//!
//! Uses the `state` layer (reads and compare-and-swap updates) and the `etcd` layer (watches,
//! leases).

mod acme_renewal;
mod agent;
mod alert;
mod cert_dir;
mod coordinator;
mod election;
mod partners;
mod report;
mod status;
mod watcher;

pub use self::acme_renewal::{AcmeEvent, AcmeTiming};
pub use self::agent::{Agent, AgentError, AgentEvent};
pub use self::alert::Alert;
pub use self::cert_dir::CertDirError;
pub use self::coordinator::{Coordinator, CoordinatorEvent, Renewals, Step, keys_for_renewals, step};
pub use self::election::{Campaign, Election, Leadership};
pub use self::partners::{FetchRecord, PartnerToken, PartnerView, PendingSeen, fetch_records, partner_views};
pub(crate) use self::partners::{credential_of, write_fetch_record};
pub use self::report::{HoldingsReport, LiveReport, ReportError, live_reports};
pub use self::status::{ServerStatus, WaitingRoll, fleet_status, waiting_rolls};
pub(crate) use self::watcher::{Change, Seen, Watched, spawn_watch};
