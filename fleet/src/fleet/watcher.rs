//! A watch kept open by a task of its own: on a key (the agent: the state) or on a prefix (the
//! coordinator: the cluster's keys). When the watch breaks (etcd unreachable, the stream
//! cancelled or compacted past), the task opens it again after a jittered backoff, and says so
//! with [`Seen::Started`], so the holder reads afresh what it may have missed. The holder reads
//! the task's findings from a channel, in its own loop, and stops the task with a cancellation
//! token (or by dropping the receiver).

use etcd_client::{EventType, WatchOptions, WatchStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::etcd::{Connection, EtcdError};
use crate::state::retry_wait;

/// What the watch task saw.
#[derive(Debug)]
pub(crate) enum Seen {
    /// The watch (re)started. For a key watch, what the key held when it started (as a put;
    /// `None`: no such key); every change after that follows.
    Started {
        /// The key's value, for a key watch.
        value: Option<Change>,
    },
    /// Keys changed.
    Changed(Vec<Change>),
    /// etcd cannot be reached or the watch broke; it opens again after a backoff.
    Unavailable(EtcdError),
}

/// One change of a key.
#[derive(Debug)]
pub(crate) struct Change {
    /// The key.
    pub(crate) key: String,
    /// Put or delete.
    pub(crate) kind: EventType,
    /// The new value (empty for a delete).
    pub(crate) value: Vec<u8>,
    /// The change's revision.
    pub(crate) mod_revision: i64,
    /// The key's version after the change (etcd counts the puts since it was created; 0 after
    /// a delete).
    pub(crate) version: i64,
}

/// What to watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Watched {
    /// One key, read when the watch starts.
    Key,
    /// Every key under a prefix, not read.
    Prefix,
}

/// Starts watching `key` (or the keys under it) until `stop` is cancelled or the receiver is
/// dropped.
pub(crate) fn spawn_watch(
    conn: Connection,
    key: String,
    watched: Watched,
    stop: CancellationToken,
) -> mpsc::Receiver<Seen> {
    let (sender, receiver) = mpsc::channel(64);
    tokio::spawn(async move {
        tokio::select! {
            () = stop.cancelled() => {}
            () = watch_loop(&conn, &key, watched, &sender) => {}
        }
    });
    receiver
}

/// Runs until the receiver is dropped.
async fn watch_loop(conn: &Connection, key: &str, watched: Watched, sender: &mpsc::Sender<Seen>) {
    let mut failures = 0u32;
    loop {
        let broke = match start(conn, key, watched).await {
            Ok((value, mut stream)) => {
                failures = 0;
                if sender.send(Seen::Started { value }).await.is_err() {
                    return;
                }
                loop {
                    match stream.message().await {
                        Ok(Some(answer)) if answer.canceled() || answer.compact_revision() > 0 => {
                            // Cancelled, or compacted past what was seen: start afresh at once.
                            break None;
                        }
                        Ok(Some(answer)) => {
                            let changes: Vec<Change> = answer
                                .events()
                                .iter()
                                .filter_map(|event| {
                                    let kv = event.kv()?;
                                    Some(Change {
                                        key: String::from_utf8_lossy(kv.key()).into_owned(),
                                        kind: event.event_type(),
                                        value: kv.value().to_vec(),
                                        mod_revision: kv.mod_revision(),
                                        version: kv.version(),
                                    })
                                })
                                .collect();
                            if !changes.is_empty() && sender.send(Seen::Changed(changes)).await.is_err() {
                                return;
                            }
                        }
                        Ok(None) => break None,
                        Err(source) => break Some(EtcdError::from_client("watch", source)),
                    }
                }
            }
            Err(error) => Some(error),
        };
        if let Some(error) = broke {
            if sender.send(Seen::Unavailable(error)).await.is_err() {
                return;
            }
            failures = failures.saturating_add(1);
            // A watch that breaks at once must not spin.
            tokio::time::sleep(retry_wait(failures)).await;
        }
    }
}

/// Reads the key (for a key watch) and opens the watch from the revision after the read.
async fn start(
    conn: &Connection,
    key: &str,
    watched: Watched,
) -> Result<(Option<Change>, WatchStream), EtcdError> {
    let (value, options) = match watched {
        Watched::Key => {
            let answer = conn
                .call("read", |mut c| {
                    let key = key.to_owned();
                    async move { c.kv.get(key, None).await }
                })
                .await?;
            let revision = answer.header().map(|h| h.revision()).unwrap_or_default();
            let value = answer.kvs().first().map(|kv| Change {
                key: key.to_owned(),
                kind: EventType::Put,
                value: kv.value().to_vec(),
                mod_revision: kv.mod_revision(),
                version: kv.version(),
            });
            (value, WatchOptions::new().with_start_revision(revision + 1))
        }
        Watched::Prefix => (None, WatchOptions::new().with_prefix()),
    };
    let stream = conn
        .call("watch", |mut c| {
            let (key, options) = (key.to_owned(), options.clone());
            async move { c.watch.watch(key, Some(options)).await }
        })
        .await?;
    Ok((value, stream))
}
