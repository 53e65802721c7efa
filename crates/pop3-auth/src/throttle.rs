//! The login throttle the server consults around every verification. In memory, bounded in
//! size, and driven by the caller's clock (an `Instant` passed in), so its arithmetic is
//! tested without sleeping.
//!
//! - **Failure delay**: every failed attempt is answered only after `failure_delay` (2 s).
//! - **Per-address penalty**: each failure from an address doubles its penalty, from
//!   `penalty_start` up to `penalty_max` (15 s); the penalty halves for every `penalty_half_life`
//!   without failures. The server waits the current penalty before verifying the next attempt
//!   from that address. **A success does not clear it** (issue 15 item 10): one valid account,
//!   or a NAT shared with real users, would otherwise reset it between guesses; it only decays.
//! - **Per-user signal**: failures for one user name from any address are counted over
//!   `user_window`; past `user_threshold` the user is reported as a spraying target (for logs
//!   and metrics). It adds no delay, so **the real user logging in from another address is not
//!   locked out**. A success clears that user's own count, and no one else's.
//! - **Bounded**: at most `max_tracked` addresses and names each; a name is kept as a keyed
//!   64-bit hash (never the raw text, which may be 2 KB), and entries expire (an address once
//!   its penalty has decayed away, a name once its window is over). When a map is full, the
//!   expired entries go first, then the least recent eighth, so a flood of new names costs
//!   amortised O(log n) per failure.
//! - The per-connection limit on failures is the protocol core's (`Limits::failed_auths`).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
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

/// An address's last failure and current penalty ([`Throttle::recent_failures`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecentFailure {
    /// The address (an IPv6 one as the prefix the server keys penalties by).
    pub address: IpAddr,
    /// When it last failed.
    pub last_failure: Instant,
    /// What its next attempt waits now.
    pub penalty: Duration,
}

/// The throttle state.
#[derive(Debug)]
pub struct Throttle {
    config: ThrottleConfig,
    addresses: HashMap<IpAddr, Penalty>,
    /// Keyed by [`Throttle::user_key`]: bounded keys, and a hash an attacker cannot aim at
    /// another user's entry (the key is random per process).
    users: HashMap<u64, Window>,
    user_hasher: RandomState,
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
            user_hasher: RandomState::new(),
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
        if !self.addresses.contains_key(&address) {
            let horizon = self.penalty_lifetime();
            make_room(&mut self.addresses, self.config.max_tracked, |p| {
                (
                    p.last_failure,
                    now.saturating_duration_since(p.last_failure) >= horizon,
                )
            });
        }
        self.addresses.insert(
            address,
            Penalty {
                value: next,
                last_failure: now,
            },
        );
        let window = self.config.user_window;
        let key = self.user_key(user);
        let entry = self
            .users
            .get(&key)
            .copied()
            .filter(|w| now.saturating_duration_since(w.start) < window);
        let failures = entry.map_or(0, |w| w.failures) + 1;
        if !self.users.contains_key(&key) {
            make_room(&mut self.users, self.config.max_tracked, |w| {
                (w.start, now.saturating_duration_since(w.start) >= window)
            });
        }
        self.users.insert(
            key,
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

    /// Records a success of `user` (as passed to [`Throttle::after_failure`]): that user's
    /// failure count is cleared. **The address's penalty stays** and decays as usual, so a
    /// success on one account does not reset the penalty earned by guesses on another.
    pub fn after_success(&mut self, user: &str) {
        let key = self.user_key(user);
        self.users.remove(&key);
    }

    /// The `limit` addresses whose last failure is the most recent, most recent first: each
    /// with that failure's time and the penalty its next attempt waits at `now` (zero once
    /// decayed). For the admin socket; **O(n) in the tracked addresses** (at most
    /// `max_tracked`), so it is asked on an administrator's request, never per attempt.
    pub fn recent_failures(&self, now: Instant, limit: usize) -> Vec<RecentFailure> {
        let mut recent: Vec<RecentFailure> = Vec::with_capacity(limit.saturating_add(1));
        for (address, penalty) in &self.addresses {
            let at = recent.partition_point(|r| r.last_failure >= penalty.last_failure);
            if at < limit {
                recent.insert(
                    at,
                    RecentFailure {
                        address: *address,
                        last_failure: penalty.last_failure,
                        penalty: self.decayed(penalty, now),
                    },
                );
                recent.truncate(limit);
            }
        }
        recent
    }

    /// How many addresses and user names are tracked (for metrics and tests).
    pub fn tracked(&self) -> (usize, usize) {
        (self.addresses.len(), self.users.len())
    }

    /// The bounded key of a user name.
    fn user_key(&self, user: &str) -> u64 {
        self.user_hasher.hash_one(user)
    }

    /// How long after its last failure a penalty of `penalty_max` has decayed to nothing:
    /// past this, an address's entry is expired whatever its value.
    fn penalty_lifetime(&self) -> Duration {
        let max = self.config.penalty_max.as_nanos();
        let start = self.config.penalty_start.as_nanos().max(1);
        // Halvings until max / 2^k < start, at most 32 (then `decayed` gives zero anyway).
        let mut halvings = 0u32;
        while halvings < 32 && max >> halvings >= start {
            halvings += 1;
        }
        self.config.penalty_half_life.saturating_mul(halvings)
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

/// Makes room for one more entry in a map of at most `max`: when it is full, drops the
/// expired entries, then, if it is still full, the least recent eighth (at least one), so
/// that the cost of eviction is amortised over many inserts. `state` gives an entry's
/// recency and whether it has expired.
fn make_room<K: Copy + Eq + std::hash::Hash, V>(
    map: &mut HashMap<K, V>,
    max: usize,
    state: impl Fn(&V) -> (Instant, bool),
) {
    let max = max.max(1);
    if map.len() < max {
        return;
    }
    map.retain(|_, v| !state(v).1);
    if map.len() < max {
        return;
    }
    let mut by_age: Vec<(Instant, K)> = map.iter().map(|(k, v)| (state(v).0, *k)).collect();
    let count = (map.len() / 8).max(map.len() + 1 - max);
    let (oldest, _, _) = by_age.select_nth_unstable_by_key(count - 1, |(at, _)| *at);
    let mut victims: Vec<K> = oldest.iter().map(|(_, k)| *k).collect();
    victims.push(by_age[count - 1].1);
    for key in victims {
        map.remove(&key);
    }
}
