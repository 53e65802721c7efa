//! LOGIN-DELAY (RFC 2449 §6.5) enforced: a user who logged in less than the delay ago is
//! refused with `-ERR [LOGIN-DELAY]` (RFC 2449 §8.1.2).
//!
//! **The check runs only after the credentials were verified**, so the refusal never tells a
//! guesser that a name exists. **Only admitted logins start a delay**: a refused attempt does
//! not push the next allowed login further away. Times are monotonic (`Instant`), so a wall
//! clock jump neither refuses nor admits early. The record is this process's memory: a
//! restart or another node of a cluster does not see it (the `last_login_at` column is
//! written at most once a minute and also by refused attempts, so it cannot carry this).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Past this many recorded users, entries older than their delay are dropped on the next login.
const PRUNE_ABOVE: usize = 4096;

/// The time of each user's last admitted login (and the delay then, to prune by). **The delay
/// checked is the user's current one** (issue 19: their own value, else the site's), given
/// with each login: an administrator who lowers it sees it apply at once.
#[derive(Default)]
pub(crate) struct LoginDelays {
    last: Mutex<HashMap<String, (Instant, Duration)>>,
}

impl LoginDelays {
    /// An empty tracker.
    pub(crate) fn new() -> LoginDelays {
        LoginDelays::default()
    }

    /// Whether `user`, whose credentials were just verified and whose delay is `secs`, may
    /// log in at `now`: refused less than `secs` after their last admitted login. An
    /// admitted login with a delay is recorded. A poisoned lock admits (the delay is a
    /// courtesy to the server, not a security boundary).
    pub(crate) fn admit(&self, user: &str, secs: u32, now: Instant) -> bool {
        let Ok(mut last) = self.last.lock() else {
            return true;
        };
        let delay = Duration::from_secs(u64::from(secs));
        if last
            .get(user)
            .is_some_and(|&(at, _)| now.saturating_duration_since(at) < delay)
        {
            return false;
        }
        if secs == 0 {
            last.remove(user);
            return true;
        }
        if last.len() >= PRUNE_ABOVE {
            last.retain(|_, (at, delay)| now.saturating_duration_since(*at) < *delay);
        }
        last.insert(user.to_owned(), (now, delay));
        true
    }
}

#[cfg(test)]
mod tests;
