//! The open maildrop of one session: opened (lock and scan) after a successful login, read by
//! RETR/TOP, committed by QUIT.
//!
//! **The maildrop's flock lives as long as the `Mailbox` and the session's listing, which share
//! the maildrop; the driver drops both on every ending — committed or not — and dropping the
//! `Mailbox` removes the lock's registry entry.** Nothing is
//! removed except by [`Mailbox::commit`], which the driver calls only for the session's
//! `Request::Commit` (UPDATE after QUIT).

use std::sync::Arc;
use std::time::Instant;

use pop3_auth::User;
use pop3_maildrop::{Maildrop, OpenOptions};
use pop3_metrics::Metrics;
use pop3_proto::{CommitOutcome, Listing, OpenError, RetrieveError, SharedListing};
use tracing::{info, warn};

use crate::fault;
use crate::message_body::MessageBody;
use crate::registry::{LockEntry, SessionEntry};
use crate::shared::Shared;

/// A locked, scanned maildrop and its registry record.
pub(crate) struct Mailbox {
    // Field order is drop order: the maildrop (the flock) goes before its registry record.
    maildrop: Arc<Maildrop>,
    lock: LockEntry,
    session: u64,
    metrics: Arc<Metrics>,
}

impl Mailbox {
    /// Locks and scans `user`'s maildrop on the blocking pool (waiting for the lock as the
    /// configuration allows). On success the lock is recorded in the registry under `entry`,
    /// and the listing is what the session serves STAT, LIST and UIDL from.
    pub(crate) async fn open(
        shared: &Shared,
        entry: &SessionEntry,
        session: u64,
        user: &User,
    ) -> Result<(Mailbox, SharedListing), OpenError> {
        let path = user.maildir.clone();
        let options = OpenOptions {
            session: session.to_string(),
            lock_wait: shared.config.lock_wait,
        };
        let started = Instant::now();
        let opened = tokio::task::spawn_blocking(move || Maildrop::open(&path, &options)).await;
        let metrics = &shared.metrics;
        match opened {
            Ok(Ok(maildrop)) => {
                metrics.scanned(started.elapsed().as_secs_f64());
                if let Some(error) = &maildrop.scan_report().cache_error {
                    warn!(session, %error, "maildrop cache not written; the next login rescans");
                }
                let maildrop = Arc::new(maildrop);
                let mailbox = Mailbox {
                    maildrop: maildrop.clone(),
                    lock: entry.hold_lock(user.name.as_str()),
                    session,
                    metrics: metrics.clone(),
                };
                Ok((mailbox, Arc::new(MaildropListing(maildrop))))
            }
            Ok(Err(pop3_maildrop::Error::Locked { holder, .. })) => {
                metrics.lock_conflict();
                info!(session, user = %user.name, "maildrop in use");
                Err(OpenError::InUse {
                    holder: holder.map(|h| h.to_string()),
                })
            }
            Ok(Err(e)) => {
                warn!(session, user = %user.name, error = %e, "cannot open maildrop");
                Err(if e.is_temporary() {
                    OpenError::Temporary
                } else {
                    OpenError::Permanent
                })
            }
            Err(_) => Err(OpenError::Temporary),
        }
    }

    /// Opens message `index` for RETR/TOP and reads its first chunk, in one trip to the
    /// blocking pool.
    pub(crate) async fn open_message(&self, index: usize) -> Result<MessageBody, RetrieveError> {
        let maildrop = self.maildrop.clone();
        let opened = tokio::task::spawn_blocking(move || MessageBody::open(&maildrop, index)).await;
        match opened {
            Ok(Ok(body)) => Ok(body),
            Ok(Err(e)) => {
                warn!(session = self.session, error = %e, "cannot open message");
                Err(match e {
                    pop3_maildrop::Error::Vanished { .. } => RetrieveError::Vanished,
                    pop3_maildrop::Error::SizeChanged { .. } => RetrieveError::SizeChanged,
                    other if other.is_temporary() => RetrieveError::Io,
                    _ => RetrieveError::Permanent,
                })
            }
            Err(_) => Err(RetrieveError::Io),
        }
    }

    /// UPDATE (RFC 1939 §6): removes the `deleted` messages (indices into the listing) and,
    /// with `mark_seen`, flags the `retrieved` ones seen; syncs `cur/`.
    pub(crate) async fn commit(
        &self,
        deleted: Vec<usize>,
        retrieved: Vec<usize>,
        mark_seen: bool,
    ) -> CommitOutcome {
        let maildrop = self.maildrop.clone();
        let report = tokio::task::spawn_blocking(move || {
            maildrop.commit_observed(&deleted, &retrieved, mark_seen, &mut fault::after_unlink)
        })
        .await;
        let Ok(report) = report else {
            return CommitOutcome::Partial { not_removed: 0 };
        };
        let removed = (report.removed + report.already_gone) as u64;
        self.metrics.committed(removed, report.failed.len() as u64);
        for (index, error) in &report.failed {
            warn!(session = self.session, index, error = %error, "deletion failed");
        }
        if let Some(error) = &report.sync_error {
            warn!(session = self.session, error = %error, "cur/ not synced after deletions");
        }
        if report.failed.is_empty() {
            CommitOutcome::Removed
        } else {
            CommitOutcome::Partial {
                not_removed: report.failed.len(),
            }
        }
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        self.metrics.lock_released(self.lock.held_for());
    }
}

/// The maildrop as the session sees it.
struct MaildropListing(Arc<Maildrop>);

impl Listing for MaildropListing {
    fn len(&self) -> usize {
        self.0.messages().len()
    }
    fn wire_size(&self, index: usize) -> u64 {
        self.0.messages().get(index).map_or(0, |m| m.wire_size())
    }
    fn uid(&self, index: usize) -> &str {
        self.0.messages().get(index).map_or("", |m| m.uid())
    }
}
