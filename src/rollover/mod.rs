//! Layer 8, unattended rollover: the planner that says what every slot needs and by when
//! ([`plan`], [`next_plan_due`]), and renewal: in one call through a caller's
//! [`Issuer`](crate::obtain::Issuer) ([`renew`]), or in two halves around a CA that answers
//! later ([`start_renewal`], [`finish_renewal`]).
//!
//! Uses the layers below it, through their public API only: `x509` (certificates), `policy`
//! (rollover policies and their milestones), `obtain` (request templates, the issuer) and
//! `store` (slots, found through its index of milestones, and the one operation a renewal
//! makes, [`Store::add_and_roll`](crate::Store::add_and_roll)).
//!
//! No I/O and no clock: every call takes its instant; the issuer is the caller's.

mod plan;
mod renew;

pub use self::plan::{Action, next_plan_due, plan};
pub use self::renew::{
    RenewError, RenewOptions, Renewal, StartedRenewal, finish_renewal, renew, start_renewal,
};
