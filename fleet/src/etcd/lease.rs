//! Leases: granted with a TTL, renewed by keep-alive requests on one stream, revoked on a clean
//! stop. Keys put under one disappear when it expires, which is how a dead agent or coordinator
//! shows: its key is gone.
//!
//! [`KeptLease`] is the lease an agent's report and a coordinator's leadership live under. Its
//! keep-alive runs in a task of its own, so the holder can wait as long as it likes (an update
//! waiting out conflicts, an endpoint that does not answer, a slow disk) without the lease
//! expiring: a lease is lost only when etcd says so, or when the process really stopped.

use std::time::Duration;

use etcd_client::{LeaseKeepAliveStream, LeaseKeeper};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::etcd::connection::{Connection, EtcdError};

/// How long a clean stop waits for etcd to revoke a lease: past it the lease expires by itself,
/// and the process does not wait for that.
pub(crate) const REVOKE_WITHIN: Duration = Duration::from_millis(500);

/// A granted lease renewed by a task of its own until it is revoked or dropped (dropping stops
/// the renewals; the lease then expires after its TTL).
pub(crate) struct KeptLease {
    conn: Connection,
    id: i64,
    ttl: Duration,
    /// Cancelled once etcd says the lease is gone (expired: its keys are deleted).
    lost: CancellationToken,
    /// Stops the keep-alive task; cancelled by `revoke`, by dropping, and with the parent token.
    stop: CancellationToken,
    /// Renewals that failed (etcd unreachable or slow): the lease may still live.
    troubles: mpsc::UnboundedReceiver<EtcdError>,
}

impl KeptLease {
    /// Grants a lease of `ttl` and starts renewing it, until `parent` is cancelled at the
    /// latest.
    pub(crate) async fn grant(
        conn: &Connection,
        ttl: Duration,
        parent: &CancellationToken,
    ) -> Result<Self, EtcdError> {
        let lease = Lease::grant(conn, ttl).await?;
        let (id, ttl) = (lease.id(), lease.ttl());
        let (lost, stop) = (CancellationToken::new(), parent.child_token());
        let (report, troubles) = mpsc::unbounded_channel();
        tokio::spawn(keep_alive(lease, stop.clone(), lost.clone(), report));
        Ok(Self { conn: conn.clone(), id, ttl, lost, stop, troubles })
    }

    /// The lease's id.
    pub(crate) fn id(&self) -> i64 {
        self.id
    }

    /// The TTL etcd granted.
    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A token cancelled once etcd says the lease is gone.
    pub(crate) fn lost(&self) -> CancellationToken {
        self.lost.clone()
    }

    /// A token cancelled once this lease is no longer kept: revoked, dropped, or its parent
    /// cancelled.
    pub(crate) fn finished(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// The next renewal that failed (etcd unreachable or slow; the task goes on trying).
    pub(crate) async fn trouble(&mut self) -> Option<EtcdError> {
        self.troubles.recv().await
    }

    /// Stops the renewals and revokes the lease, so its keys go at once; waits at most
    /// [`REVOKE_WITHIN`] for etcd (the lease then expires by itself).
    pub(crate) async fn revoke(self) -> Result<(), EtcdError> {
        self.stop.cancel();
        let id = self.id;
        let revoked = self.conn.call("lease revoke", |mut c| async move { c.lease.revoke(id).await });
        match tokio::time::timeout(REVOKE_WITHIN, revoked).await {
            Ok(result) => result.map(|_| ()),
            Err(_) => Err(EtcdError::Timeout { what: "lease revoke", timeout: REVOKE_WITHIN }),
        }
    }
}

impl Drop for KeptLease {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The keep-alive task: renews every third of the TTL, sooner after a failed renewal, until
/// `stop`; cancels `lost` and ends when etcd says the lease is gone.
async fn keep_alive(
    mut lease: Lease,
    stop: CancellationToken,
    lost: CancellationToken,
    report: mpsc::UnboundedSender<EtcdError>,
) {
    let mut next = Instant::now() + lease.renew_every();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep_until(next) => {}
        }
        let renewed = tokio::select! {
            () = stop.cancelled() => return,
            renewed = lease.renew() => renewed,
        };
        match renewed {
            Ok(true) => next = Instant::now() + lease.renew_every(),
            Ok(false) => {
                lost.cancel();
                return;
            }
            Err(error) => {
                // The holder may have gone; the renewals go on until `stop` regardless.
                let _ = report.send(error);
                next = Instant::now() + lease.renew_every().min(Duration::from_millis(500));
            }
        }
    }
}

/// A granted lease and its keep-alive stream, renewed by whoever holds it.
pub(crate) struct Lease {
    conn: Connection,
    id: i64,
    ttl: Duration,
    /// Boxed: a keep-alive stream is several kilobytes.
    keeper: Option<Box<(LeaseKeeper, LeaseKeepAliveStream)>>,
}

impl Lease {
    /// Grants a lease of `ttl` (whole seconds, at least 1; etcd may raise it to its minimum).
    pub(crate) async fn grant(conn: &Connection, ttl: Duration) -> Result<Self, EtcdError> {
        let seconds = i64::try_from(ttl.as_secs().max(1)).unwrap_or(i64::MAX);
        let granted =
            conn.call("lease grant", |mut c| async move { c.lease.grant(seconds, None).await }).await?;
        let ttl = Duration::from_secs(u64::try_from(granted.ttl()).unwrap_or(1).max(1));
        Ok(Self { conn: conn.clone(), id: granted.id(), ttl, keeper: None })
    }

    /// The lease's id.
    pub(crate) fn id(&self) -> i64 {
        self.id
    }

    /// The TTL etcd granted.
    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    /// How often to renew: three times a TTL.
    pub(crate) fn renew_every(&self) -> Duration {
        (self.ttl / 3).max(Duration::from_millis(200))
    }

    /// Renews the lease once: `Ok(true)` while it lives, `Ok(false)` once etcd says it is gone
    /// (expired or revoked; its keys are deleted), an error while etcd cannot be reached (the
    /// lease may still live: etcd extends leases when it restarts).
    pub(crate) async fn renew(&mut self) -> Result<bool, EtcdError> {
        let result = match self.keeper.as_mut() {
            None => {
                let id = self.id;
                match self
                    .conn
                    .call("lease keep-alive", |mut c| async move { c.lease.keep_alive(id).await })
                    .await
                {
                    Ok(keeper) => {
                        // Opening the stream renewed the lease once already.
                        self.keeper = Some(Box::new(keeper));
                        Ok(true)
                    }
                    Err(e) => Err(e),
                }
            }
            Some(held) => {
                let (keeper, stream) = &mut **held;
                let exchange = async {
                    keeper.keep_alive().await?;
                    stream.message().await
                };
                match self.conn.within("lease keep-alive", exchange).await {
                    Ok(Some(answer)) => Ok(answer.ttl() > 0),
                    Ok(None) => Err(EtcdError::Unexpected {
                        what: "lease keep-alive",
                        detail: "the keep-alive stream ended",
                    }),
                    Err(e) => Err(e),
                }
            }
        };
        match result {
            Ok(true) => Ok(true),
            Ok(false) => {
                self.keeper = None;
                Ok(false)
            }
            Err(e) if e.is_lease_not_found() => {
                self.keeper = None;
                Ok(false)
            }
            Err(e) => {
                // A broken stream is opened again at the next renewal.
                self.keeper = None;
                Err(e)
            }
        }
    }
}
