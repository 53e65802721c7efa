//! The per-user session history behind `GET /v1/users/{name}/sessions` (issue 20): the last
//! `[admin] history_sessions_per_user` ended sessions of each of the last `[admin]
//! history_users` users to end a session (`pop3_config::HistoryBounds`, whose doc gives the
//! worst-case memory: about 65 MB for the default 20,000 × 10), in memory, lost at a
//! restart.
//!
//! **Its memory is bounded whatever the traffic**: a user's sessions are a ring of at most
//! `per_user` records, and when a new user would make more than `max_users`, the user whose
//! last session ended longest ago is forgotten (least recently used). Every record is small
//! and bounded (a user name is at most `pop3_auth`'s limit, an address at most a socket
//! address), so the whole is at most `max_users × per_user` records. Only authenticated
//! sessions are recorded: a client cannot create entries without a password.

use std::collections::{BTreeMap, HashMap, VecDeque};

use pop3_admin_api::EndedSession;
use pop3_config::HistoryBounds;

/// The histories of the users seen last.
pub(crate) struct UserHistory {
    per_user: usize,
    max_users: usize,
    users: HashMap<String, Track>,
    /// Users by when they were last recorded (a counter, not a clock, so no two collide):
    /// the first is forgotten first.
    order: BTreeMap<u64, String>,
    tick: u64,
}

/// One user's ring of sessions, oldest first.
struct Track {
    touched: u64,
    sessions: VecDeque<EndedSession>,
}

impl Default for UserHistory {
    fn default() -> UserHistory {
        let bounds = HistoryBounds::default();
        UserHistory::with_bounds(bounds.sessions_per_user, bounds.users)
    }
}

impl UserHistory {
    /// A history of at most `per_user` sessions for each of at most `max_users` users.
    pub(crate) fn with_bounds(per_user: usize, max_users: usize) -> UserHistory {
        UserHistory {
            per_user: per_user.max(1),
            max_users: max_users.max(1),
            users: HashMap::new(),
            order: BTreeMap::new(),
            tick: 0,
        }
    }

    /// Records `user`'s session that just ended, forgetting their oldest session and the
    /// least recently seen user if a bound is reached.
    pub(crate) fn record(&mut self, user: &str, session: EndedSession) {
        self.tick += 1;
        let tick = self.tick;
        if let Some(track) = self.users.get_mut(user) {
            self.order.remove(&track.touched);
            track.touched = tick;
        } else {
            while self.users.len() >= self.max_users {
                let Some((_, oldest)) = self.order.pop_first() else {
                    break;
                };
                self.users.remove(&oldest);
            }
            self.users.insert(
                user.to_owned(),
                Track {
                    touched: tick,
                    sessions: VecDeque::with_capacity(self.per_user),
                },
            );
        }
        self.order.insert(tick, user.to_owned());
        if let Some(track) = self.users.get_mut(user) {
            if track.sessions.len() >= self.per_user {
                track.sessions.pop_front();
            }
            track.sessions.push_back(session);
        }
    }

    /// `user`'s sessions, most recent first.
    pub(crate) fn sessions(&self, user: &str) -> Vec<EndedSession> {
        self.users
            .get(user)
            .map(|track| track.sessions.iter().rev().cloned().collect())
            .unwrap_or_default()
    }

    /// How many users and sessions are held (for the bound's tests).
    #[cfg(test)]
    pub(crate) fn held(&self) -> (usize, usize) {
        let sessions = self.users.values().map(|t| t.sessions.len()).sum();
        (self.users.len(), sessions)
    }
}

#[cfg(test)]
mod tests;
