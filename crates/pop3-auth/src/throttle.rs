//! The login throttle the server consults around every verification. In memory, bounded in
//! size, and driven by the caller's clock (an `Instant` passed in), so its arithmetic is
//! tested without sleeping.
//!
//! - **Failure delay**: every failed attempt is answered only after `failure_delay` (2 s).
//! - **Per-address penalty**: each failure from an address doubles its penalty, from
//!   `penalty_start` up to `penalty_max` (15 s); the penalty halves for every `penalty_half_life`
//!   without failures, and a success from that address clears it. The server waits the current
//!   penalty before verifying the next attempt from that address.
//! - **Per-user signal**: failures for one user name from any address are counted over
//!   `user_window`; past `user_threshold` the user is reported as a spraying target (for logs
//!   and metrics). It adds no delay, so **the real user logging in from another address is not
//!   locked out**.
//! - The per-connection limit on failures is the protocol core's (`Limits::failed_auths`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Throttle settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Delay before answering a failed attempt.
    pub failure_delay: Duration,
    /// An address's penalty after its first failure.
    pub penalty_start: Duration,
    /// The highest penalty.
    pub penalty_max: Duration,
    /// The penalty halves for each of these without a failure.
    pub penalty_half_life: Duration,
    /// The window over which failures per user name are counted.
    pub user_window: Duration,
    /// Failures per user name in the window that mark a spraying target.
    pub user_threshold: u32,
    /// The most addresses and user names tracked each; the least recent go first.
    pub max_tracked: usize,
}

impl Default for ThrottleConfig {
    fn default() -> ThrottleConfig {
        ThrottleConfig {
            failure_delay: Duration::from_secs(2),
            penalty_start: Duration::from_secs(1),
            penalty_max: Duration::from_secs(15),
            penalty_half_life: Duration::from_secs(60),
            user_window: Duration::from_secs(600),
            user_threshold: 20,
            max_tracked: 65_536,
        }
    }
}

/// What to do after a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailureVerdict {
    /// Wait this long before sending the `-ERR`.
    pub delay: Duration,
    /// The user name is the target of many failures from anywhere (password spraying).
    pub spraying_target: bool,
}

/// The throttle state.
#[derive(Debug)]
pub struct Throttle {
    config: ThrottleConfig,
    addresses: HashMap<IpAddr, Penalty>,
    users: HashMap<String, Window>,
}

#[derive(Clone, Copy, Debug)]
struct Penalty {
    value: Duration,
    last_failure: Instant,
}

#[derive(Clone, Copy, Debug)]
struct Window {
    failures: u32,
    start: Instant,
}

impl Throttle {
    /// An empty throttle.
    pub fn new(config: ThrottleConfig) -> Throttle {
        Throttle {
            config,
            addresses: HashMap::new(),
            users: HashMap::new(),
        }
    }

    /// How long to wait before verifying an attempt from `address`.
    pub fn before_attempt(&self, address: IpAddr, now: Instant) -> Duration {
        self.addresses
            .get(&address)
            .map_or(Duration::ZERO, |p| self.decayed(p, now))
    }

    /// Records a failure; returns the delay before answering and the per-user signal.
    pub fn after_failure(&mut self, address: IpAddr, user: &str, now: Instant) -> FailureVerdict {
        let current = self.before_attempt(address, now);
        let next = if current.is_zero() {
            self.config.penalty_start
        } else {
            (current * 2).min(self.config.penalty_max)
        };
        make_room(&mut self.addresses, self.config.max_tracked, |p| {
            p.last_failure
        });
        self.addresses.insert(
            address,
            Penalty {
                value: next,
                last_failure: now,
            },
        );
        let window = self.config.user_window;
        let entry = self
            .users
            .get(user)
            .copied()
            .filter(|w| now.duration_since(w.start) < window);
        let failures = entry.map_or(0, |w| w.failures) + 1;
        make_room(&mut self.users, self.config.max_tracked, |w| w.start);
        self.users.insert(
            user.to_owned(),
            Window {
                failures,
                start: entry.map_or(now, |w| w.start),
            },
        );
        FailureVerdict {
            delay: self.config.failure_delay,
            spraying_target: failures >= self.config.user_threshold,
        }
    }

    /// Records a success: the address's penalty is cleared.
    pub fn after_success(&mut self, address: IpAddr) {
        self.addresses.remove(&address);
    }

    /// How many addresses and user names are tracked (for metrics and tests).
    pub fn tracked(&self) -> (usize, usize) {
        (self.addresses.len(), self.users.len())
    }

    /// The penalty halved once per half-life elapsed since the last failure; below the start
    /// value it is gone.
    fn decayed(&self, penalty: &Penalty, now: Instant) -> Duration {
        let half_life = self.config.penalty_half_life.as_nanos().max(1);
        let halvings = now.duration_since(penalty.last_failure).as_nanos() / half_life;
        let value = if halvings >= 32 {
            Duration::ZERO
        } else {
            penalty.value / (1u32 << halvings)
        };
        if value < self.config.penalty_start {
            Duration::ZERO
        } else {
            value
        }
    }
}

/// Keeps a map below `max` entries by dropping the least recent one first.
fn make_room<K: Clone + Eq + std::hash::Hash, V>(
    map: &mut HashMap<K, V>,
    max: usize,
    recency: impl Fn(&V) -> Instant,
) {
    while map.len() >= max.max(1) {
        let Some(oldest) = map
            .iter()
            .min_by_key(|(_, v)| recency(v))
            .map(|(k, _)| k.clone())
        else {
            return;
        };
        map.remove(&oldest);
    }
}
