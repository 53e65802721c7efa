//! `GET /v1/overview` (issue 20): what an administrator asks first — version, uptime,
//! listeners, certificate expiry, sessions, locks, the addresses failing to log in — and the
//! last 15 minutes of activity, one slot per second.
//!
//! **One task samples once a second** what the server already counts (the registry's
//! sessions and octets, the metrics' login, RETR and DELE totals) into a fixed-size ring
//! (`ring.rs`); no lock or counter is added to the command path. The rest is read when the
//! admin asks.

mod ring;

use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pop3_admin_api::{
    API_VERSION, FAILURES_SHOWN, FailingAddress, ListenerFacts, LockSummary, OverviewResponse,
    ServerFacts, SessionCounts,
};
use tokio::time::MissedTickBehavior;

use crate::registry::unix_now;
use crate::shared::Shared;
use ring::{Reading, Ring};

/// The overview's own state: when the server started, its listeners, and the ring.
pub(crate) struct Overview {
    started: u64,
    listeners: Vec<ListenerFacts>,
    ring: Mutex<Ring>,
}

impl Overview {
    /// The overview of a server starting now with these listeners.
    pub(crate) fn new(listeners: Vec<ListenerFacts>) -> Overview {
        Overview {
            started: unix_now(),
            listeners,
            ring: Mutex::new(Ring::new()),
        }
    }

    /// Samples once a second until the task is dropped (the first sample at once).
    pub(crate) async fn sample_every_second(self: Arc<Self>, shared: Arc<Shared>) {
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            shared.registry.sample_rates();
            let reading = Reading {
                sessions: shared.registry.counts(),
                totals: shared.metrics.totals(),
                bytes_sent: shared.registry.bytes_sent(),
            };
            self.ring().record(Instant::now(), unix_now(), reading);
        }
    }

    /// The answer to `GET /v1/overview`.
    pub(crate) fn answer(&self, shared: &Shared) -> OverviewResponse {
        let counts = shared.registry.counts();
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        let now = unix_now();
        OverviewResponse {
            version: API_VERSION,
            server: ServerFacts {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                started: self.started,
                now,
                listeners: self.listeners.clone(),
                certificates: shared
                    .tls
                    .as_ref()
                    .map(|tls| tls.certificates())
                    .unwrap_or_default(),
            },
            sessions: SessionCounts {
                authorization: count(counts.authorization),
                transaction: count(counts.transaction),
                update: count(counts.update),
            },
            history: self.ring().history(),
            locks: LockSummary {
                held: count(counts.locks),
                oldest: shared.registry.oldest_lock(),
            },
            failures: shared
                .login
                .recent_failures(Instant::now(), FAILURES_SHOWN)
                .into_iter()
                .map(|f| FailingAddress {
                    address: shown_address(f.address, shared.config.ipv6_prefix),
                    last_failure: now.saturating_sub(f.age.as_secs()),
                    penalty_ms: u64::try_from(f.penalty.as_millis()).unwrap_or(u64::MAX),
                })
                .collect(),
        }
    }

    fn ring(&self) -> MutexGuard<'_, Ring> {
        // Every update is one `record`, which leaves the ring whole even if it panicked
        // half-way (at worst a slot short), so a poisoned lock is still usable.
        self.ring
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// An address as the throttle keys it: an IPv6 one by its prefix.
fn shown_address(address: IpAddr, ipv6_prefix: u8) -> String {
    match address {
        IpAddr::V6(_) if ipv6_prefix < 128 => format!("{address}/{ipv6_prefix}"),
        _ => address.to_string(),
    }
}
