//! Running totals for the server's per-second history (the admin socket's overview): read
//! from the counters the families already keep, plus logins counted across mechanisms (a
//! family cannot be summed without knowing every label). **Reading them takes no lock on the
//! command path**: plain atomic loads, once a second.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{CommandResultLabels, Metrics};

/// Totals since the server started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Successful logins, every mechanism.
    pub logins_ok: u64,
    /// Failed logins, every mechanism: wrong credentials (`failure`), and SCRAM exchanges
    /// given up after the server's challenge (`abandoned`), which the throttle and fail2ban
    /// count as failures too (a client probing SCRAM must show in the chart).
    pub logins_failed: u64,
    /// Messages sent by RETR.
    pub retrieved: u64,
    /// DELE commands answered `+OK`.
    pub deleted: u64,
}

/// Logins by outcome, every mechanism together.
#[derive(Debug, Default)]
pub(super) struct Logins {
    ok: AtomicU64,
    failed: AtomicU64,
}

impl Logins {
    /// Counts an attempt's `result` as [`Metrics::auth`] takes it.
    pub(super) fn count(&self, result: &str) {
        match result {
            "success" => self.ok.fetch_add(1, Ordering::Relaxed),
            "failure" | "abandoned" => self.failed.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
    }
}

impl Metrics {
    /// The totals the per-second history is made of.
    pub fn totals(&self) -> Totals {
        let dele = CommandResultLabels {
            command: "DELE",
            result: "ok",
        };
        Totals {
            logins_ok: self.logins.ok.load(Ordering::Relaxed),
            logins_failed: self.logins.failed.load(Ordering::Relaxed),
            retrieved: self.messages_retrieved.get(),
            deleted: self.commands.get(&dele).map_or(0, |c| c.get()),
        }
    }
}
