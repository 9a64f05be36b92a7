//! The coordinators' election: one key, `/certslot/<cluster>/coordinator`, created under the
//! candidate's lease only if it does not exist (a transaction comparing its create revision
//! with 0). The holder leads while its lease lives; the others watch the key and campaign again
//! when it is deleted (the leader resigned, or died and its lease expired).
//!
//! The election runs as a task ([`Election::spawn`]): it campaigns, hands a won [`Leadership`]
//! to the coordinator and waits until that leadership is over (resigned, dropped, lost) before
//! campaigning again; while another leads, it waits for the key's deletion. The leadership's
//! lease is a [`KeptLease`], renewed by its own task whatever the coordinator is busy with.
//!
//! Leadership fences its writes: a leader's updates also compare the key's create revision
//! with the one it won ([`Guard`]), so a leader that lost its lease (paused, partitioned) cannot
//! write after another has taken over.

use std::time::Duration;

use etcd_client::{Compare, CompareOp, EventType, PutOptions, Txn, TxnOp, TxnOpResponse, WatchOptions};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::etcd::{Cluster, Connection, EtcdError, KeptLease};
use crate::state::{Guard, retry_wait};

/// An election among coordinators, as one candidate sees it.
#[derive(Clone, Debug)]
pub struct Election {
    conn: Connection,
    key: String,
    id: String,
    ttl: Duration,
}

/// A won election: the lease that holds the key, and the guard for the leader's writes.
pub struct Leadership {
    lease: KeptLease,
    guard: Guard,
}

impl core::fmt::Debug for Leadership {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Leadership").field("lease", &self.lease.id()).field("guard", &self.guard).finish()
    }
}

/// How a campaign ended.
#[derive(Debug)]
pub enum Campaign {
    /// This candidate leads.
    Won(Leadership),
    /// Another does.
    Lost {
        /// The leader's id.
        leader: String,
        /// The etcd revision of the answer: watch for the key's deletion after it.
        revision: i64,
    },
}

/// What the election task tells its coordinator.
#[derive(Debug)]
pub(crate) enum Elected {
    /// This candidate leads, until the leadership is dropped, resigned or lost.
    Leading(Leadership),
    /// Another leads.
    Following {
        /// The leader's id.
        leader: String,
    },
    /// etcd could not be reached; the task campaigns again after a backoff.
    Unavailable(EtcdError),
}

impl Election {
    /// The election of `cluster`'s coordinators, for the candidate `id`, with leases of `ttl`.
    pub fn new(conn: Connection, cluster: &Cluster, id: impl Into<String>, ttl: Duration) -> Self {
        Self { conn, key: cluster.coordinator_key(), id: id.into(), ttl }
    }

    /// The candidate's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Campaigns once: takes the key if it is free.
    ///
    /// # Errors
    /// [`EtcdError`] when etcd cannot be reached (the lease granted for the campaign is
    /// revoked, so a lost answer leaves no leader behind).
    pub async fn campaign(&self) -> Result<Campaign, EtcdError> {
        self.campaign_under(&CancellationToken::new()).await
    }

    /// Campaigns once, with the lease kept until `parent` is cancelled at the latest.
    async fn campaign_under(&self, parent: &CancellationToken) -> Result<Campaign, EtcdError> {
        let lease = KeptLease::grant(&self.conn, self.ttl, parent).await?;
        let txn = Txn::new()
            .when([Compare::create_revision(self.key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(
                self.key.clone(),
                self.id.clone(),
                Some(PutOptions::new().with_lease(lease.id())),
            )])
            .or_else([TxnOp::get(self.key.clone(), None)]);
        let sent = self.conn.call("campaign", |mut c| {
            let txn = txn.clone();
            async move { c.kv.txn(txn).await }
        });
        let answer = match sent.await {
            Ok(answer) => answer,
            Err(e) => {
                let _ = lease.revoke().await;
                return Err(e);
            }
        };
        let revision = answer.header().map(|h| h.revision()).unwrap_or_default();
        if answer.succeeded() {
            return Ok(Campaign::Won(Leadership { lease, guard: Guard::new(self.key.clone(), revision) }));
        }
        let _ = lease.revoke().await;
        let leader = answer
            .op_responses()
            .into_iter()
            .find_map(|r| match r {
                TxnOpResponse::Get(get) => {
                    get.kvs().first().map(|kv| String::from_utf8_lossy(kv.value()).into_owned())
                }
                _ => None,
            })
            .unwrap_or_default();
        Ok(Campaign::Lost { leader, revision })
    }

    /// Waits until the key is deleted after `revision` (or `limit` passes): the moment to
    /// campaign again.
    ///
    /// # Errors
    /// [`EtcdError`] when the watch cannot be made or breaks.
    pub async fn vacancy(&self, revision: i64, limit: Duration) -> Result<(), EtcdError> {
        let wait = async {
            let watched = self.conn.call("watch election", |mut c| {
                let key = self.key.clone();
                async move {
                    c.watch.watch(key, Some(WatchOptions::new().with_start_revision(revision + 1))).await
                }
            });
            let mut stream = watched.await?;
            loop {
                let message = stream
                    .message()
                    .await
                    .map_err(|source| EtcdError::from_client("watch election", source))?;
                let Some(answer) = message else { return Ok(()) };
                if answer.canceled() || answer.events().iter().any(|e| e.event_type() == EventType::Delete) {
                    return Ok(());
                }
            }
        };
        tokio::time::timeout(limit, wait).await.unwrap_or(Ok(()))
    }
}

impl Election {
    /// Runs the election as a task until `stop` is cancelled or the receiver is dropped; see
    /// the module documentation. `resync` bounds a wait for a vacancy.
    pub(crate) fn spawn(self, resync: Duration, stop: CancellationToken) -> mpsc::Receiver<Elected> {
        let (sender, receiver) = mpsc::channel(4);
        tokio::spawn(async move {
            tokio::select! {
                () = stop.cancelled() => {}
                () = self.campaigns(resync, &stop, &sender) => {}
            }
        });
        receiver
    }

    async fn campaigns(&self, resync: Duration, stop: &CancellationToken, sender: &mpsc::Sender<Elected>) {
        let mut failures = 0u32;
        loop {
            match self.campaign_under(stop).await {
                Ok(Campaign::Won(leadership)) => {
                    failures = 0;
                    let finished = leadership.lease.finished();
                    if sender.send(Elected::Leading(leadership)).await.is_err() {
                        return;
                    }
                    finished.cancelled().await;
                }
                Ok(Campaign::Lost { leader, revision }) => {
                    failures = 0;
                    if sender.send(Elected::Following { leader }).await.is_err() {
                        return;
                    }
                    if let Err(error) = self.vacancy(revision, resync).await {
                        if sender.send(Elected::Unavailable(error)).await.is_err() {
                            return;
                        }
                        failures = failures.saturating_add(1);
                    }
                }
                Err(error) => {
                    if sender.send(Elected::Unavailable(error)).await.is_err() {
                        return;
                    }
                    failures = failures.saturating_add(1);
                }
            }
            if failures > 0 {
                tokio::time::sleep(retry_wait(failures)).await;
            }
        }
    }
}

impl Leadership {
    /// The guard for the leader's writes.
    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// The lease holding the key.
    pub fn lease(&self) -> i64 {
        self.lease.id()
    }

    /// A token cancelled once the lease is gone: the leadership is lost.
    pub(crate) fn lost(&self) -> CancellationToken {
        self.lease.lost()
    }

    /// The next failed renewal of the lease (etcd unreachable; the renewals go on).
    pub(crate) async fn trouble(&mut self) -> Option<EtcdError> {
        self.lease.trouble().await
    }

    /// Resigns: revokes the lease, deleting the key, so another candidate takes over at once.
    /// Waits at most half a second for etcd.
    ///
    /// # Errors
    /// [`EtcdError`] when etcd cannot be reached or is slow (the lease then expires by itself).
    pub async fn resign(self) -> Result<(), EtcdError> {
        self.lease.revoke().await
    }
}
