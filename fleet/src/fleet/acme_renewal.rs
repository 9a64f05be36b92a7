//! The ACME side of a coordinator's renewals: for a slot whose type has ACME settings, the step
//! starts the renewal ([`certslot::rollover::start_renewal`]: key and request kept in the
//! state); then this task, one per renewal in progress, takes it to its end outside the
//! compare-and-swap:
//!
//! 1. the account: its credentials opened from the roster, or registered now and kept there
//!    (sealed, written once, so every later coordinator uses the same account);
//! 2. the order: the one the state names, or one placed now for the request's names, whose URL
//!    is written into the state ([`certslot::Store::set_renewal_order`]) before anything else
//!    happens, so that a coordinator that takes over resumes that order rather than place
//!    another;
//! 3. the challenges answered (http-01: the key authorization put in etcd under the token, where
//!    `certslot-fleet serve` reads it), the order finalized with certslot's own request, the
//!    chain downloaded;
//! 4. the chain given to [`certslot::rollover::finish_renewal`] in one guarded update: paired
//!    with the kept key, checked against the type's policy, rolled in at the planned date.
//!
//! Failures that may pass (the CA unreachable, a timeout, a problem document) are tried again
//! after a wait that doubles from one second up to a cap, each reported as an
//! [`Alert::AcmeFailing`], `critical` once the renewal has been in progress for the alert
//! threshold. An order the CA declared invalid, or a renewal whose key was lost, is cancelled:
//! the coordinator starts a fresh one after a wait (a minute, doubling with each cancellation in
//! a row, no longer than the retry cap), so an order that keeps failing is not placed at every
//! step. An order the CA no longer has (or not for this account) is cancelled likewise; an
//! account the CA no longer knows is forgotten, the next attempt registers another, and the
//! order the old account placed is cancelled (orders belong to their account). An answer the type's policy refuses is reported
//! ([`Alert::RenewalRefused`]) and not tried again by this coordinator: nothing rolls, the
//! renewal stays in progress for a person to look at (`certslot-fleet renew --cancel`).
//! Every write is guarded by the leadership: a deposed coordinator's task changes nothing.

use std::time::Duration;

use certslot::rollover::RenewError;
use certslot::{CertType, Event, OffsetDateTime, Scope, SlotError, Store, Thumbprint};
use instant_acme::{ChallengeType, RetryPolicy};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::acme::{AcmeError, ChallengeAnswer, Responder, account_label};
use crate::clock::Clock;
use crate::etcd::{Cluster, Connection};
use crate::fleet::alert::Alert;
use crate::state::{EtcdStore, Guard, UpdateError};

/// What the ACME side of a renewal did, for the coordinator's log.
#[derive(Debug)]
#[non_exhaustive]
pub enum AcmeEvent {
    /// An account was registered with the CA at `directory` and kept in the state.
    AccountRegistered {
        /// The directory URL.
        directory: String,
    },
    /// An order was placed and its URL written into the state.
    OrderPlaced {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The order's URL.
        url: String,
    },
    /// The CA's certificate was rolled in: the renewal is done.
    Renewed {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The new certificate.
        thumbprint: Thumbprint,
        /// When it rolls in.
        effective_at: OffsetDateTime,
        /// What the roll's scheduling did.
        events: Vec<Event>,
    },
    /// The renewal was cancelled (an order the CA declared invalid, a key lost): the next step
    /// starts another.
    Cancelled {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// Why.
        reason: String,
    },
    /// Something needs a person: an attempt failed ([`Alert::AcmeFailing`]), or the CA's
    /// answer was refused ([`Alert::RenewalRefused`]).
    Alert(Alert),
}

impl core::fmt::Display for AcmeEvent {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::AccountRegistered { directory } => write!(f, "ACME account registered at {directory}"),
            Self::OrderPlaced { cert_type, scope, url } => {
                write!(f, "{cert_type} at {scope}: ACME order placed: {url}")
            }
            Self::Renewed { cert_type, scope, thumbprint, effective_at, events } => {
                write!(
                    f,
                    "{cert_type} at {scope}: renewed through ACME: {thumbprint} rolls in at {}",
                    certslot::validate::HumanTime(*effective_at)
                )?;
                events.iter().try_for_each(|e| write!(f, "; {e}"))
            }
            Self::Cancelled { cert_type, scope, reason } => {
                write!(f, "{cert_type} at {scope}: renewal cancelled, to start afresh: {reason}")
            }
            Self::Alert(alert) => write!(f, "ALERT {alert}"),
        }
    }
}

/// How a coordinator drives ACME renewals: the waits between attempts and when failing becomes
/// critical.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcmeTiming {
    /// The longest wait between two attempts (the wait doubles from one second up to it).
    pub retry_cap: Duration,
    /// A renewal in progress for this long while failing raises a critical alert.
    pub alert_after: Duration,
    /// How long to wait for the CA to decide an order (validation, issuance) in one attempt.
    pub order_timeout: Duration,
}

impl Default for AcmeTiming {
    /// Retries up to every 5 minutes, critical after an hour, 2 minutes for an order.
    fn default() -> Self {
        Self {
            retry_cap: Duration::from_secs(300),
            alert_after: Duration::from_secs(3600),
            order_timeout: Duration::from_secs(120),
        }
    }
}

/// One renewal in progress through ACME, as the state names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct InProgress {
    pub(crate) cert_type: CertType,
    pub(crate) scope: Scope,
    pub(crate) started_at: OffsetDateTime,
    pub(crate) current: Thumbprint,
}

/// The renewals in progress in `store` whose type has ACME settings in `loaded`'s roster.
pub(crate) fn in_progress(loaded: &crate::state::Loaded) -> Vec<InProgress> {
    loaded
        .store
        .renewal_requests()
        .into_iter()
        .filter(|(cert_type, _, _)| loaded.roster().acme(&cert_type.to_string()).is_some())
        .map(|(cert_type, scope, request)| InProgress {
            cert_type,
            scope,
            started_at: request.started_at(),
            current: request.current(),
        })
        .collect()
}

/// What one attempt came to.
enum Ended {
    /// Rolled in.
    Renewed { thumbprint: Thumbprint, effective_at: OffsetDateTime, events: Vec<Event> },
    /// The renewal is no longer the one this task drives (finished, cancelled, restarted).
    Gone,
}

/// Why an attempt stopped short.
enum Failed {
    /// Worth another attempt later.
    Retry(String),
    /// Start the renewal afresh.
    Cancel(String),
    /// The CA's answer was refused: a person must look.
    Refused(String),
    /// The CA no longer knows the account: register another.
    AccountUnknown(String),
    /// This coordinator leads no more.
    NotLeader,
}

impl From<AcmeError> for Failed {
    fn from(e: AcmeError) -> Self {
        // Settings that do not work (roots, directory, a sealed key, a TSIG key) are tried
        // again too: an admin's `configure` fixes them, and the next attempt reads them afresh.
        match e {
            AcmeError::OrderInvalid { .. } | AcmeError::OrderGone { .. } => Self::Cancel(e.to_string()),
            _ if e.account_unknown() => Self::AccountUnknown(e.to_string()),
            _ => Self::Retry(e.to_string()),
        }
    }
}

impl<E: core::fmt::Display> From<UpdateError<E>> for Failed {
    fn from(e: UpdateError<E>) -> Self {
        match e {
            UpdateError::NotLeader { .. } => Self::NotLeader,
            other => Self::Retry(other.to_string()),
        }
    }
}

/// Drives `renewal` to its end (see the module documentation), reporting on `events`, until it
/// is done, this coordinator stops leading, or `stop` is cancelled.
pub(crate) async fn drive(
    store: std::sync::Arc<EtcdStore>,
    guard: Guard,
    clock: Clock,
    timing: AcmeTiming,
    renewal: InProgress,
    events: mpsc::UnboundedSender<AcmeEvent>,
    stop: CancellationToken,
) {
    let mut failures = 0u32;
    loop {
        let attempt = tokio::select! {
            () = stop.cancelled() => return,
            attempt = attempt(&store, &guard, &clock, timing, &renewal, &events) => attempt,
        };
        let (cert_type, scope) = (renewal.cert_type.clone(), renewal.scope.clone());
        match attempt {
            Ok(Ended::Renewed { thumbprint, effective_at, events: rolled }) => {
                let _ = events.send(AcmeEvent::Renewed {
                    cert_type,
                    scope,
                    thumbprint,
                    effective_at,
                    events: rolled,
                });
                return;
            }
            Ok(Ended::Gone) | Err(Failed::NotLeader) => return,
            Err(Failed::Cancel(reason)) => {
                let cancelled = store
                    .update_guarded(&guard, |s: &mut Store| {
                        same_renewal(s, &renewal)?;
                        let at = clock.instant_for(s);
                        s.cancel_renewal(&renewal.cert_type, &renewal.scope, at)
                    })
                    .await;
                if cancelled.is_ok() {
                    let _ = events.send(AcmeEvent::Cancelled { cert_type, scope, reason });
                    return;
                }
                // Not cancelled (etcd unreachable): tried again after the wait.
                failures = failures.saturating_add(1);
            }
            Err(Failed::Refused(reason)) => {
                let at = clock.now();
                let current = renewal.current;
                let _ = events.send(AcmeEvent::Alert(Alert::RenewalRefused {
                    cert_type,
                    scope,
                    current,
                    at,
                    reason,
                }));
                return;
            }
            // (`attempt` turns an unknown account into a retry.)
            Err(Failed::Retry(reason) | Failed::AccountUnknown(reason)) => {
                failures = failures.saturating_add(1);
                let at = clock.now();
                let wait = retry_wait(failures, timing.retry_cap);
                let critical = at - renewal.started_at >= timing.alert_after;
                let _ = events.send(AcmeEvent::Alert(Alert::AcmeFailing {
                    cert_type,
                    scope,
                    current: renewal.current,
                    started_at: renewal.started_at,
                    attempts: failures,
                    at,
                    retry_at: at + wait,
                    critical,
                    reason,
                }));
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(retry_wait(failures, timing.retry_cap)) => {}
        }
    }
}

/// The wait before attempt `failures + 1`: one second doubling up to `cap`.
fn retry_wait(failures: u32, cap: Duration) -> Duration {
    let doublings = failures.saturating_sub(1).min(20);
    Duration::from_secs(1u64 << doublings).min(cap)
}

/// The renewal in progress in `store` is still `renewal` (not finished, cancelled or restarted
/// by someone else).
fn same_renewal(store: &Store, renewal: &InProgress) -> Result<(), SlotError> {
    match store.renewal_request(&renewal.cert_type, &renewal.scope) {
        Some(request) if request.started_at() == renewal.started_at => Ok(()),
        _ => Err(SlotError::NoRenewalRequest {
            cert_type: renewal.cert_type.clone(),
            scope: renewal.scope.clone(),
        }),
    }
}

async fn attempt(
    store: &EtcdStore,
    guard: &Guard,
    clock: &Clock,
    timing: AcmeTiming,
    renewal: &InProgress,
    events: &mpsc::UnboundedSender<AcmeEvent>,
) -> Result<Ended, Failed> {
    let loaded = store.latest_loaded().await.map_err(|e| Failed::Retry(e.to_string()))?;
    let Some(request) = loaded.store.renewal_request(&renewal.cert_type, &renewal.scope) else {
        return Ok(Ended::Gone);
    };
    if request.started_at() != renewal.started_at {
        return Ok(Ended::Gone);
    }
    if request.key().is_none() {
        return Err(Failed::Cancel("the renewal's key is not in the state".into()));
    }
    let (csr, order, names) =
        (request.csr_der().to_vec(), request.order().map(str::to_owned), request.dns_names());
    let Some(settings) = loaded.roster().acme(&renewal.cert_type.to_string()).cloned() else {
        return Err(Failed::Refused(format!("{} has no ACME settings any more", renewal.cert_type)));
    };
    let keys = store.derive_writer_keys().await.map_err(|e| Failed::Retry(e.to_string()))?;
    let label = account_label(&settings.directory);
    let sealed_account = loaded.roster().acme_account(&settings.directory).map(str::to_owned);
    let with_account = async {
        let saved = match &sealed_account {
            Some(sealed) => Some(
                keys.open_secret(&label, sealed)
                    .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
                    .ok_or(AcmeError::Sealed { what: "the ACME account's credentials" })?,
            ),
            None => None,
        };
        let (account, registered) = settings.ca(keys)?.account(saved.as_deref()).await?;
        let registered_now = registered.is_some();
        if let Some(credentials) = registered {
            let sealed = keys.seal_secret(&label, credentials.as_bytes());
            let kept = store
                .update_roster_guarded(guard, |s: &mut Store, roster| {
                    if roster.keep_acme_account(&settings.directory, sealed.clone()) {
                        s.continue_after(s.revision());
                    }
                    Ok::<_, SlotError>(())
                })
                .await?;
            if kept.written {
                let _ = events.send(AcmeEvent::AccountRegistered { directory: settings.directory.clone() });
            }
        }
        // An order belongs to the account that placed it: one placed by an account the CA no
        // longer knows (just registered anew) cannot be used.
        if registered_now && order.is_some() {
            return Err(Failed::Cancel("the order belongs to an account the CA no longer knows".into()));
        }
        let url = match order {
            Some(url) => url,
            None => {
                if names.is_empty() {
                    return Err(Failed::Cancel("the request names no DNS name to order".into()));
                }
                let url = crate::acme::place_order(&account, &names).await?;
                store
                    .update_guarded(guard, |s: &mut Store| {
                        same_renewal(s, renewal)?;
                        let at = clock.instant_for(s);
                        s.set_renewal_order(&renewal.cert_type, &renewal.scope, &url, at)
                    })
                    .await?;
                let _ = events.send(AcmeEvent::OrderPlaced {
                    cert_type: renewal.cert_type.clone(),
                    scope: renewal.scope.clone(),
                    url: url.clone(),
                });
                url
            }
        };
        let policy = RetryPolicy::new()
            .initial_delay(Duration::from_millis(250))
            .backoff(1.5)
            .timeout(timing.order_timeout);
        let chain = match settings.dns_update(keys)? {
            Some(responder) => crate::acme::complete_order(&account, &url, &csr, &responder, &policy).await?,
            None => {
                let responder =
                    EtcdHttp01 { conn: store.connection().clone(), cluster: store.cluster().clone() };
                crate::acme::complete_order(&account, &url, &csr, &responder, &policy).await?
            }
        };
        Ok(chain)
    };
    let chain = match with_account.await {
        Err(Failed::AccountUnknown(reason)) => {
            // Forget the account the CA no longer knows (if no one replaced it meanwhile): the
            // next attempt registers another.
            if let Some(sealed) = sealed_account {
                store
                    .update_roster_guarded(guard, |s: &mut Store, roster| {
                        if roster.forget_acme_account(&settings.directory, &sealed) {
                            s.continue_after(s.revision());
                        }
                        Ok::<_, SlotError>(())
                    })
                    .await?;
            }
            return Err(Failed::Retry(format!(
                "{reason}; the account is registered anew at the next attempt"
            )));
        }
        other => other?,
    };
    let finished = store
        .update_guarded(guard, |s: &mut Store| {
            same_renewal(s, renewal).map_err(RenewError::Slot)?;
            let at = clock.instant_for(s);
            certslot::rollover::finish_renewal(s, &renewal.cert_type, &renewal.scope, chain.as_bytes(), at)
        })
        .await;
    match finished {
        Ok(updated) => Ok(Ended::Renewed {
            thumbprint: updated.value.thumbprint,
            effective_at: updated.value.effective_at,
            events: updated.value.outcome.events,
        }),
        Err(UpdateError::Operation(RenewError::Slot(SlotError::NoRenewalRequest { .. }))) => Ok(Ended::Gone),
        Err(UpdateError::Operation(RenewError::RequestKeyMissing)) => {
            Err(Failed::Cancel(RenewError::RequestKeyMissing.to_string()))
        }
        Err(UpdateError::Operation(refused)) => Err(Failed::Refused(refused.to_string())),
        Err(other) => Err(other.into()),
    }
}

/// How long an http-01 answer outlives a coordinator that died before withdrawing it: an hour,
/// far longer than a CA takes to validate.
const ANSWER_TTL_SECONDS: i64 = 3600;

/// http-01 answers published in etcd, under the token, for the key server to serve.
struct EtcdHttp01 {
    conn: Connection,
    cluster: Cluster,
}

impl Responder for EtcdHttp01 {
    fn kind(&self) -> ChallengeType {
        ChallengeType::Http01
    }

    async fn present(&self, answer: &ChallengeAnswer) -> Result<(), String> {
        // The key server answers only such tokens; and a token is a key's last segment.
        if !crate::acme::is_token(&answer.token) {
            return Err(format!("the token {:?} is not a base64url token", answer.token));
        }
        let (key, value) = (self.cluster.acme_challenge_key(&answer.token), answer.key_authorization.clone());
        // Under a lease, so that an answer a dead coordinator left behind goes by itself.
        let lease = self
            .conn
            .call("lease grant", |mut c| async move { c.lease.grant(ANSWER_TTL_SECONDS, None).await })
            .await
            .map_err(|e| e.to_string())?
            .id();
        self.conn
            .call("publish an http-01 answer", |mut c| {
                let (key, value) = (key.clone(), value.clone());
                let options = etcd_client::PutOptions::new().with_lease(lease);
                async move { c.kv.put(key, value, Some(options)).await }
            })
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn clean_up(&self, answer: &ChallengeAnswer) -> Result<(), String> {
        let key = self.cluster.acme_challenge_key(&answer.token);
        self.conn
            .call("withdraw an http-01 answer", |mut c| {
                let key = key.clone();
                async move { c.kv.delete(key, None).await }
            })
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_from_a_second_up_to_the_cap() {
        let cap = Duration::from_secs(300);
        let waits: Vec<u64> = (1..=11).map(|n| retry_wait(n, cap).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(retry_wait(u32::MAX, cap), cap);
        assert_eq!(retry_wait(3, Duration::from_secs(2)), Duration::from_secs(2));
    }
}
