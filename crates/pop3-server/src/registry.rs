//! The live session registry: the one truth about who is connected and who holds which
//! maildrop lock. Metrics gauges and the admin socket read it; nothing else counts sessions.
//!
//! **Entries are RAII guards** ([`SessionEntry`], [`LockEntry`]) removed by `Drop` on every
//! exit path, so the registry — and every gauge computed from it — returns to zero whatever
//! way a session ends.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use pop3_admin_api::{EndedSession, LockInfo, RetrProgress, SessionInfo};
use pop3_metrics::LiveCounts;
use pop3_proto::State;
use tokio::sync::Notify;

use crate::user_history::UserHistory;

/// The registry, shared by the server, its sessions and its HTTP endpoints.
#[derive(Default)]
pub(crate) struct Registry {
    inner: Mutex<Inner>,
    /// The ended sessions of the users seen last (bounded: `user_history.rs`); a lock of its
    /// own, taken once per session end and per admin request.
    history: Mutex<UserHistory>,
}

#[derive(Default)]
struct Inner {
    sessions: BTreeMap<u64, Live>,
    locks: BTreeMap<u64, LockInfo>,
    /// Octets sent by the sessions that have ended (the overview's bytes per second is this
    /// plus the live sessions' own counts, sampled each second).
    ended_bytes_sent: u64,
}

/// A session's live record and its kick signal.
struct Live {
    info: SessionInfo,
    kick: Arc<Notify>,
    /// `bytes_sent` at the last [`Registry::sample_rates`].
    sampled: u64,
}

impl Registry {
    /// An empty registry whose per-user history keeps at most `history`'s bounds.
    pub(crate) fn new(history: pop3_config::HistoryBounds) -> Registry {
        Registry {
            inner: Mutex::default(),
            history: Mutex::new(UserHistory::with_bounds(
                history.sessions_per_user,
                history.users,
            )),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the maps half-updated (every update
        // is a single insert, remove or field store), so a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a new session; the entry removes it when dropped.
    pub(crate) fn open_session(
        self: &Arc<Self>,
        id: u64,
        remote: SocketAddr,
        listener: &'static str,
        tls: bool,
    ) -> SessionEntry {
        let now = unix_now();
        let kick = Arc::new(Notify::new());
        self.lock().sessions.insert(
            id,
            Live {
                info: SessionInfo {
                    id,
                    remote: remote.to_string(),
                    listener: listener.to_owned(),
                    tls,
                    state: state_name(State::Authorization).to_owned(),
                    user: None,
                    started: now,
                    last_activity: now,
                    command: None,
                    bytes_sent: 0,
                    retrieved: 0,
                    deleted: 0,
                    bytes_per_second: 0,
                    retr: None,
                },
                kick: kick.clone(),
                sampled: 0,
            },
        );
        SessionEntry {
            registry: self.clone(),
            id,
            kick,
        }
    }

    /// All live sessions, by id.
    pub(crate) fn sessions(&self) -> Vec<SessionInfo> {
        self.lock()
            .sessions
            .values()
            .map(|l| l.info.clone())
            .collect()
    }

    /// All held locks, by session.
    pub(crate) fn locks(&self) -> Vec<LockInfo> {
        self.lock().locks.values().cloned().collect()
    }

    /// Tells session `id` to end; false if there is no such session.
    pub(crate) fn kick(&self, id: u64) -> bool {
        match self.lock().sessions.get(&id) {
            Some(live) => {
                live.kick.notify_one();
                true
            }
            None => false,
        }
    }

    /// Octets sent to clients since the server started: every ended session's, and the live
    /// ones' so far.
    pub(crate) fn bytes_sent(&self) -> u64 {
        let inner = self.lock();
        let live = inner.sessions.values().map(|l| l.info.bytes_sent);
        live.fold(inner.ended_bytes_sent, u64::saturating_add)
    }

    /// Sets each live session's octets per second to what it sent since the last call (the
    /// overview's sampler calls it once a second).
    pub(crate) fn sample_rates(&self) {
        for live in self.lock().sessions.values_mut() {
            live.info.bytes_per_second = live.info.bytes_sent.saturating_sub(live.sampled);
            live.sampled = live.info.bytes_sent;
        }
    }

    /// Records an authenticated session that ended, in `user`'s bounded history.
    pub(crate) fn record_ended(&self, user: &str, session: EndedSession) {
        self.history().record(user, session);
    }

    /// `user`'s recent ended sessions, most recent first.
    pub(crate) fn user_sessions(&self, user: &str) -> Vec<EndedSession> {
        self.history().sessions(user)
    }

    fn history(&self) -> MutexGuard<'_, UserHistory> {
        // Every update is one `record`, which leaves the maps consistent at each step but
        // the last push; a poisoned lock is still usable.
        self.history
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The lock held longest, if any.
    pub(crate) fn oldest_lock(&self) -> Option<LockInfo> {
        let inner = self.lock();
        inner
            .locks
            .values()
            .min_by_key(|l| (l.since, l.session))
            .cloned()
    }

    /// The counts the metrics gauges report.
    pub(crate) fn counts(&self) -> LiveCounts {
        let inner = self.lock();
        let now = unix_now();
        let oldest = inner.locks.values().map(|l| l.since).min().unwrap_or(now);
        let mut counts = LiveCounts {
            locks: inner.locks.len() as i64,
            oldest_lock_seconds: i64::try_from(now.saturating_sub(oldest)).unwrap_or(i64::MAX),
            ..LiveCounts::default()
        };
        for live in inner.sessions.values() {
            match live.info.state.as_str() {
                "TRANSACTION" => counts.transaction += 1,
                "UPDATE" => counts.update += 1,
                _ => counts.authorization += 1,
            }
        }
        counts
    }
}

/// A session's registry entry; removed on drop.
pub(crate) struct SessionEntry {
    registry: Arc<Registry>,
    id: u64,
    kick: Arc<Notify>,
}

/// A session's progress, as the registry shows it.
pub(crate) struct SessionProgress {
    /// The protocol state's name ([`state_name`]).
    pub(crate) state: &'static str,
    /// The command waiting for the server, if any.
    pub(crate) command: Option<&'static str>,
    /// Whether the connection is TLS now.
    pub(crate) tls: bool,
    /// Octets written to the client.
    pub(crate) bytes_sent: u64,
    /// Messages sent by RETR.
    pub(crate) retrieved: u64,
    /// Messages marked deleted now.
    pub(crate) marked: u64,
}

impl SessionEntry {
    /// Shows the session's progress.
    pub(crate) fn show_progress(&self, progress: SessionProgress) {
        self.update(|info| {
            if info.state != progress.state {
                info.state = progress.state.to_owned();
            }
            info.command = progress.command.map(str::to_owned);
            info.tls = progress.tls;
            info.bytes_sent = progress.bytes_sent;
            info.retrieved = progress.retrieved;
            info.deleted = progress.marked;
        });
    }

    /// Shows how far the RETR of message `number` (1-based) of `size` octets is: `sent`
    /// octets written since it began; `None` when no RETR is being sent. `bytes_sent` is
    /// the client stream's octet count now: **it moves the session's `bytes_sent` with each
    /// chunk**, so the octets per second and the overview's bytes move during a long RETR,
    /// not in one spike after it. It is the same running count [`Self::show_progress`]
    /// stores, never an increment, so the total of ended sessions counts it once.
    pub(crate) fn show_retr(&self, retr: Option<(u64, u64, u64)>, bytes_sent: u64) {
        self.update(|info| {
            info.retr = retr.map(|(message, sent, size)| RetrProgress {
                message,
                sent: sent.min(size),
                size,
            });
            info.bytes_sent = info.bytes_sent.max(bytes_sent);
        });
    }

    /// Completes when an administrator kicks this session.
    pub(crate) fn kicked(&self) -> Arc<Notify> {
        self.kick.clone()
    }

    /// Updates this session's record.
    pub(crate) fn update(&self, f: impl FnOnce(&mut SessionInfo)) {
        if let Some(live) = self.registry.lock().sessions.get_mut(&self.id) {
            f(&mut live.info);
        }
    }

    /// Records that this session holds `user`'s maildrop lock until the entry is dropped.
    pub(crate) fn hold_lock(&self, user: &str) -> LockEntry {
        self.registry.lock().locks.insert(
            self.id,
            LockInfo {
                user: user.to_owned(),
                session: self.id,
                since: unix_now(),
            },
        );
        LockEntry {
            registry: self.registry.clone(),
            session: self.id,
            taken: Instant::now(),
        }
    }
}

impl Drop for SessionEntry {
    fn drop(&mut self) {
        let mut inner = self.registry.lock();
        if let Some(live) = inner.sessions.remove(&self.id) {
            inner.ended_bytes_sent = inner.ended_bytes_sent.saturating_add(live.info.bytes_sent);
        }
    }
}

/// A held lock's registry entry; removed on drop. Dropped together with the maildrop.
pub(crate) struct LockEntry {
    registry: Arc<Registry>,
    session: u64,
    taken: Instant,
}

impl LockEntry {
    /// How long the lock has been held.
    pub(crate) fn held_for(&self) -> f64 {
        self.taken.elapsed().as_secs_f64()
    }
}

impl Drop for LockEntry {
    fn drop(&mut self) {
        self.registry.lock().locks.remove(&self.session);
    }
}

/// The name of a state in the registry and the API.
pub(crate) fn state_name(state: State) -> &'static str {
    match state {
        State::Authorization => "AUTHORIZATION",
        State::Transaction => "TRANSACTION",
        State::Update => "UPDATE",
        State::Closed => "CLOSED",
    }
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests;
