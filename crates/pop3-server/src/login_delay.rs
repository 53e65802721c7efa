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

/// Past this many recorded users, entries older than the delay are dropped on the next login.
const PRUNE_ABOVE: usize = 4096;

/// The time of each user's last admitted login, for one delay.
pub(crate) struct LoginDelays {
    delay: Duration,
    last: Mutex<HashMap<String, Instant>>,
}

impl LoginDelays {
    /// A tracker for `secs` seconds between logins; `None` when there is no delay (`None` or 0).
    pub(crate) fn new(secs: Option<u32>) -> Option<LoginDelays> {
        let secs = secs.filter(|&secs| secs > 0)?;
        Some(LoginDelays {
            delay: Duration::from_secs(u64::from(secs)),
            last: Mutex::new(HashMap::new()),
        })
    }

    /// Whether `user`, whose credentials were just verified, may log in at `now`; an admitted
    /// login is recorded. A poisoned lock admits (the delay is a courtesy to the server, not
    /// a security boundary).
    pub(crate) fn admit(&self, user: &str, now: Instant) -> bool {
        let Ok(mut last) = self.last.lock() else {
            return true;
        };
        if last
            .get(user)
            .is_some_and(|&at| now.saturating_duration_since(at) < self.delay)
        {
            return false;
        }
        if last.len() >= PRUNE_ABOVE {
            let delay = self.delay;
            last.retain(|_, at| now.saturating_duration_since(*at) < delay);
        }
        last.insert(user.to_owned(), now);
        true
    }
}

#[cfg(test)]
mod tests;
