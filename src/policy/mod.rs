//! Layer 4, policy data: what names a slot and what rules it. Certificate types ([`CertType`])
//! and scopes ([`Scope`]); each type's configuration ([`TypeConfig`]: the validation policy its
//! certificates must pass, its lead time, whether verifiers keep the previous certificate, the
//! staging gate) and its rollover policy ([`RolloverPolicy`], with the presets of Lync,
//! Exchange, AD FS and Duende); and the instants a policy implies for a certificate
//! ([`Milestones`]) and for a slot ([`SlotMilestones`]).
//!
//! Uses the layers below it: `x509` (instants and durations only) and `validate` (the rules a
//! type's certificates must pass). Plain data and pure functions: the store, the planner and
//! obtaining certificates all read it.

mod cert_type;
mod error;
mod milestones;
mod rollover;
mod scope;
mod type_config;
mod window;

pub use self::cert_type::CertType;
pub use self::error::{NameError, RolloverError};
pub use self::milestones::{Milestones, SlotMilestones};
pub(crate) use self::milestones::{TICK, retire_at};
pub use self::rollover::{RenewBefore, Retention, RolloverPolicy};
pub use self::scope::Scope;
pub(crate) use self::scope::normalize;
pub use self::type_config::TypeConfig;
pub use self::window::{RenewalWindow, Weekdays, WindowError};
