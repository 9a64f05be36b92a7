//! A lease kept alive by its holder: granted with a TTL, renewed by keep-alive requests on one
//! stream, revoked on a clean stop. Keys put under it disappear when it expires, which is how a
//! dead agent or coordinator shows: its key is gone.

use std::time::Duration;

use etcd_client::{LeaseKeepAliveStream, LeaseKeeper};

use crate::etcd::connection::{Connection, EtcdError};

/// A granted lease and its keep-alive stream.
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

    /// Revokes the lease: its keys are deleted at once.
    pub(crate) async fn revoke(self) -> Result<(), EtcdError> {
        let id = self.id;
        self.conn.call("lease revoke", |mut c| async move { c.lease.revoke(id).await }).await.map(|_| ())
    }
}
