//! The open maildrop of one session: opened (lock and scan) after a successful login, read by
//! RETR/TOP, committed by QUIT.
//!
//! **The maildrop's flock lives as long as the `Mailbox` and the session's listing, which share
//! the maildrop; the driver drops both on every ending — committed or not — and dropping the
//! `Mailbox` removes the lock's registry entry.** Nothing is
//! removed except by [`Mailbox::commit`], which the driver calls only for the session's
//! `Request::Commit` (UPDATE after QUIT).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use pop3_auth::User;
use pop3_maildrop::{Expiry, ExpiryReport, Maildrop, OpenOptions, UidlMapPolicy};
use pop3_metrics::Metrics;
use pop3_proto::{
    CommitOutcome, Expire, Listing, OpenError, RetrieveError, Session, SharedListing,
};
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use crate::clock;
use crate::fault;
use crate::message_body::{BODY_CHUNK, MessageBody};
use crate::registry::{LockEntry, SessionEntry};
use crate::session_end::End;
use crate::shared::{Commits, Shared};
use crate::stream::Client;

/// A locked, scanned maildrop and its registry record.
pub(crate) struct Mailbox {
    // Field order is drop order: the maildrop (the flock) goes before its registry record.
    maildrop: Arc<Maildrop>,
    lock: LockEntry,
    session: u64,
    metrics: Arc<Metrics>,
    /// Messages read ahead for pipelined RETRs, in the order the client asked for them.
    read_ahead: VecDeque<(usize, MessageBody)>,
    /// The server's count of commits in progress.
    commits: Commits,
}

/// A message being got for RETR/TOP: already read ahead, or being opened.
enum Retrieval {
    Ready(MessageBody),
    Opening(JoinHandle<Opened>),
}

/// What one trip to the blocking pool brings back: the message asked for, and those read
/// ahead with their indices.
type Opened = (
    pop3_maildrop::Result<MessageBody>,
    Vec<(usize, MessageBody)>,
);

/// How many of the client's buffered lines are searched for RETRs to read ahead.
const READ_AHEAD_LINES: usize = 256;
/// The most a session holds of the message asked for and those read ahead: one chunk's worth.
const READ_AHEAD_OCTETS: usize = BODY_CHUNK;

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
        let started = Instant::now();
        let opened = open_waiting(user, session, &shared.config).await;
        let metrics = &shared.metrics;
        match opened {
            Ok(Ok(maildrop)) => {
                metrics.scanned(started.elapsed().as_secs_f64());
                if let Some(error) = &maildrop.scan_report().cache_error {
                    warn!(session, %error, "maildrop cache not written; the next login rescans");
                }
                let report = maildrop.scan_report();
                if let Some(why) = report.listing_off {
                    listing_off_once(why);
                }
                if let Some(error) = &report.move_error {
                    warn!(session, user = %user.name, %error, left = report.left_in_new,
                        "messages served from new/: cannot move them to cur/");
                }
                // Logged once per login, counted, and left out of the listing: the others are
                // served, and the message keeps its UIDL for when an administrator repairs it.
                let unreadable = &maildrop.scan_report().unreadable;
                for error in unreadable {
                    warn!(session, user = %user.name, %error, "message left out of the listing: cannot read it");
                }
                if !unreadable.is_empty() {
                    metrics.unreadable_messages(unreadable.len() as u64);
                }
                if report.uidl_collisions > 0 {
                    warn!(session, user = %user.name, messages = report.uidl_collisions,
                        "own UIDL equal to a carried-over one: given a digest instead");
                }
                let maildrop = Arc::new(maildrop);
                let mailbox = Mailbox {
                    maildrop: maildrop.clone(),
                    lock: entry.hold_lock(user.name.as_str()),
                    session,
                    metrics: metrics.clone(),
                    read_ahead: VecDeque::new(),
                    commits: shared.commits.clone(),
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
            // A carried-over UIDL is never silently replaced: the login fails until an
            // administrator repairs the map (`pop3-admin uidl repair`).
            Ok(Err(e @ pop3_maildrop::Error::UidlMap { .. })) => {
                error!(session, user = %user.name, error = %e,
                    "cannot open maildrop: UIDL map damaged or missing");
                Err(OpenError::Temporary)
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

    /// Message `index` for RETR/TOP (read ahead, or opened now), while `session`'s pending
    /// output is written to `client`; `Err` if the client is gone meanwhile.
    pub(crate) async fn message(
        &mut self,
        index: usize,
        session: &mut Session,
        client: &mut Client,
    ) -> Result<Result<MessageBody, RetrieveError>, End> {
        let retrieval = self.start_retrieval(index, session);
        client.flush(session).await?;
        // A file that cannot be opened and read in this long sits on a stuck disk. The session
        // ends then: its blocking thread stays stuck (holding the maildrop), and a retry
        // would only strand another.
        match tokio::time::timeout(client.stall(), self.finish_retrieval(retrieval)).await {
            Ok(opened) => Ok(opened),
            Err(_) => {
                warn!(
                    session = self.session,
                    index, "opening a message took too long"
                );
                Err(End::Error)
            }
        }
    }

    /// Starts getting message `index` for RETR/TOP: from the read-ahead if it is next there,
    /// else by opening it (and reading its first chunk) on the blocking pool, in the same
    /// trip as a read-ahead of the messages the client's pipelined RETRs will ask for next
    /// (`session`'s hint), each read whole while they fit in [`READ_AHEAD_OCTETS`]. The trip
    /// starts at once, so the caller can write its pending output meanwhile, then calls
    /// [`Mailbox::finish_retrieval`].
    fn start_retrieval(&mut self, index: usize, session: &Session) -> Retrieval {
        match self.read_ahead.pop_front() {
            Some((ahead, body)) if ahead == index => return Retrieval::Ready(body),
            // The client did something else: what was read ahead is not needed.
            Some(_) => self.read_ahead.clear(),
            None => {}
        }
        let then = session.upcoming_retrievals(READ_AHEAD_LINES);
        let maildrop = self.maildrop.clone();
        Retrieval::Opening(tokio::task::spawn_blocking(move || {
            let first = MessageBody::open(&maildrop, index);
            // The budget counts the message asked for: nothing is read ahead of one that does
            // not fit whole in its first chunk.
            let ahead = match &first {
                Ok(body) if body.is_whole() => read_ahead(
                    &maildrop,
                    then,
                    READ_AHEAD_OCTETS.saturating_sub(body.held()),
                ),
                _ => Vec::new(),
            };
            (first, ahead)
        }))
    }

    /// The message a [`Mailbox::start_retrieval`] got, or why it could not be opened (logged).
    async fn finish_retrieval(
        &mut self,
        retrieval: Retrieval,
    ) -> Result<MessageBody, RetrieveError> {
        let opening = match retrieval {
            Retrieval::Ready(body) => return Ok(body),
            Retrieval::Opening(opening) => opening,
        };
        let Ok((first, ahead)) = opening.await else {
            return Err(RetrieveError::Io);
        };
        self.read_ahead.extend(ahead);
        first.map_err(|e| {
            warn!(session = self.session, error = %e, "cannot open message");
            match e {
                pop3_maildrop::Error::Vanished { .. } => RetrieveError::Vanished,
                pop3_maildrop::Error::SizeChanged { .. } => RetrieveError::SizeChanged,
                other if other.is_temporary() => RetrieveError::Io,
                _ => RetrieveError::Permanent,
            }
        })
    }

    /// Frees what was read ahead and not asked for: called when the client has nothing more
    /// buffered, so an idle session holds none of it.
    pub(crate) fn forget_read_ahead(&mut self) {
        if !self.read_ahead.is_empty() {
            self.read_ahead = VecDeque::new();
        }
    }

    /// UPDATE (RFC 1939 §6): removes the `deleted` messages (indices into the listing) and
    /// the ones that expire under `expire` (RFC 2449 §6.7), counted apart; with `mark_seen`,
    /// flags the retrieved ones seen; syncs `cur/`. `expire` is the session's effective
    /// policy, the caller's to choose (site or user value), and the only one that counts. `EXPIRE 0`: the messages `sent` whole in this
    /// session. `EXPIRE n` (n ≥ 1): those first retrieved at least n days ago, and the first
    /// retrievals of this session's `sent` are recorded (`.pop3d.retrieved`, see
    /// `pop3_maildrop::Maildrop::commit_expiring`). `NEVER` or none: nothing expires.
    pub(crate) async fn commit(
        &self,
        deleted: Vec<usize>,
        retrievals: Retrievals,
        mark_seen: bool,
        expire: Option<Expire>,
    ) -> CommitOutcome {
        let maildrop = self.maildrop.clone();
        let Retrievals { retrieved, sent } = retrievals;
        let (expired, days) = match expire {
            Some(Expire::Days(0)) => (sent.clone(), None),
            Some(Expire::Days(days)) => (Vec::new(), Some(days)),
            Some(Expire::Never) | None => (Vec::new(), None),
        };
        let mut deleted = deleted;
        // `sent` leaves out the DELE'd messages; dedup keeps a driver bug from counting twice.
        deleted.extend_from_slice(&expired);
        deleted.sort_unstable();
        deleted.dedup();
        // Counted until the unlinks are done, even if this session's task is aborted, so the
        // process does not exit in the middle of them.
        let running = self.commits.start();
        let report = tokio::task::spawn_blocking(move || {
            let _running = running;
            let after_unlink = &mut fault::after_unlink;
            match days {
                Some(days) => {
                    let expiry = Expiry {
                        days,
                        now: clock::now(),
                        retrieved: &sent,
                    };
                    maildrop.commit_expiring(&deleted, &retrieved, mark_seen, &expiry, after_unlink)
                }
                None => (
                    maildrop.commit_observed(&deleted, &retrieved, mark_seen, after_unlink),
                    ExpiryReport::default(),
                ),
            }
        })
        .await;
        let Ok((report, expiry)) = report else {
            return CommitOutcome::Partial { not_removed: 0 };
        };
        self.log_expiry(&expiry);
        let by_age = expiry.expired.len();
        let mut expired = expired;
        expired.extend_from_slice(&expiry.expired);
        expired.sort_unstable();
        let removed = (report.removed + report.already_gone) as u64;
        let expired_failed = report
            .failed
            .iter()
            .filter(|(index, _)| expired.binary_search(index).is_ok())
            .count();
        let expired_removed = expired.len().saturating_sub(expired_failed) as u64;
        self.metrics.committed(
            removed.saturating_sub(expired_removed),
            expired_removed,
            report.failed.len() as u64,
        );
        for (index, error) in &report.failed {
            warn!(session = self.session, index, error = %error, "deletion failed");
        }
        if let Some(error) = &report.sync_error {
            warn!(session = self.session, error = %error, "cur/ not synced after deletions");
        }
        if let Some(error) = &report.uidl_map_error {
            warn!(session = self.session, error = %error,
                "UIDL map not rewritten after deletions; its stale entries are harmless");
        }
        if let Some(error) = &report.quota_error {
            warn!(session = self.session, error = %error,
                "deletions not recorded in maildirsize; the next delivery under a quota recounts");
        }
        if report.failed.is_empty() && by_age == 0 {
            CommitOutcome::Removed
        } else if report.failed.is_empty() {
            CommitOutcome::RemovedAndExpired { by_age }
        } else {
            CommitOutcome::Partial {
                not_removed: report.failed.len(),
            }
        }
    }
}

impl Mailbox {
    /// Logs what `EXPIRE n` did to the retrieval times, if anything is worth saying.
    fn log_expiry(&self, expiry: &ExpiryReport) {
        if let Some(error) = &expiry.damaged {
            warn!(session = self.session, %error,
                "retrieval times damaged: set aside, times restart now (EXPIRE deletions only delayed)");
        }
        if let Some(error) = &expiry.error {
            warn!(session = self.session, %error,
                "retrieval times not read or written (EXPIRE deletions only delayed)");
        }
        if !expiry.expired.is_empty() || expiry.recorded > 0 {
            debug!(
                session = self.session,
                expired = expiry.expired.len(),
                recorded = expiry.recorded,
                pruned = expiry.pruned,
                "EXPIRE retrieval times"
            );
        }
    }
}

/// What the session retrieved, for the commit: every RETR (for the seen flag), and those
/// sent whole (for `EXPIRE`).
pub(crate) struct Retrievals {
    /// Messages RETR'd, whole or not.
    pub(crate) retrieved: Vec<usize>,
    /// Messages RETR'd whole and not deleted.
    pub(crate) sent: Vec<usize>,
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        self.metrics.lock_released(self.lock.held_for());
    }
}

/// Logs once per process that the persistent listing is off, and why (a network file system
/// under the mail root, or the configuration): every login then scans `cur/`.
fn listing_off_once(why: &'static str) {
    static LOGGED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !LOGGED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        info!(
            reason = why,
            "maildrop listing cache off (directory times not trusted): logins scan cur/"
        );
    }
}

/// Opens the maildrop on the blocking pool; while another session holds its lock, retries
/// for up to `lock_wait`, **waiting on the runtime, not on a blocking thread**, so logins that
/// wait for a lock never fill the blocking pool that hashes and reads need.
async fn open_waiting(
    user: &User,
    session: u64,
    config: &crate::config::Config,
) -> Result<pop3_maildrop::Result<Maildrop>, tokio::task::JoinError> {
    let deadline = tokio::time::Instant::now() + config.lock_wait;
    loop {
        let path = user.maildir.clone();
        let options = OpenOptions {
            listing_cache: config.listing_cache,
            session: session.to_string(),
            lock_wait: std::time::Duration::ZERO,
            // The user database says whether this maildrop had a map: then a missing one is
            // an error, not a maildrop without carried-over UIDLs.
            uidl_map: if user.uidl_map {
                UidlMapPolicy::Required
            } else {
                UidlMapPolicy::IfPresent
            },
        };
        let opened = tokio::task::spawn_blocking(move || Maildrop::open(&path, &options)).await;
        let locked = matches!(opened, Ok(Err(pop3_maildrop::Error::Locked { .. })));
        if !locked || tokio::time::Instant::now() >= deadline {
            return opened;
        }
        tokio::time::sleep(LOCK_RETRY).await;
    }
}

/// How often a login waiting for a maildrop's lock tries again.
const LOCK_RETRY: std::time::Duration = std::time::Duration::from_millis(20);

/// Reads ahead the messages at `indices`, in order, each whole, while they fit in `budget`
/// octets together; stops at the first that does not fit or cannot be read
/// (its RETR will open it again and report the error).
fn read_ahead(
    maildrop: &Maildrop,
    indices: Vec<usize>,
    mut budget: usize,
) -> Vec<(usize, MessageBody)> {
    let mut ahead = Vec::new();
    for index in indices {
        let Some(message) = maildrop.messages().get(index) else {
            break;
        };
        let size = usize::try_from(message.wire_size()).unwrap_or(usize::MAX);
        if size >= budget {
            break;
        }
        match MessageBody::open(maildrop, index) {
            Ok(body) if body.is_whole() => {
                budget -= body.held();
                ahead.push((index, body));
            }
            _ => break,
        }
    }
    ahead
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
