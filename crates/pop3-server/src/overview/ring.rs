//! The ring of per-second slots behind `GET /v1/overview`: **fixed size**
//! ([`HISTORY_SLOTS`], 15 minutes), fed one [`Reading`] of running totals per second and
//! keeping the differences. Pure: the caller passes the times, so it is tested on clocks
//! moved by hand.
//!
//! **Slots advance by the monotonic clock, one per reading** (more only when whole seconds
//! passed without one); the wall clock only labels the last slot's `end`. Indexing by wall
//! seconds piled a stepped-back clock's traffic into one slot and froze the charts, and a
//! 1 s interval drifting across wall-second boundaries gave an empty slot then a double one.

use std::collections::VecDeque;
use std::time::Instant;

use pop3_admin_api::{HISTORY_SLOTS, History};
use pop3_metrics::{LiveCounts, Totals};

/// What the sampler reads each second: live sessions, and running totals since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Reading {
    /// Sessions by state now (`oldest_lock_seconds` and `locks` are not kept).
    pub(crate) sessions: LiveCounts,
    /// Logins, RETR and DELE since start.
    pub(crate) totals: Totals,
    /// Octets sent since start.
    pub(crate) bytes_sent: u64,
}

/// One second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Slot {
    authorization: u32,
    transaction: u32,
    update: u32,
    logins_ok: u32,
    logins_failed: u32,
    bytes_sent: u64,
    retrieved: u32,
    deleted: u32,
}

/// The last [`HISTORY_SLOTS`] seconds.
#[derive(Debug)]
pub(crate) struct Ring {
    slots: VecDeque<Slot>,
    /// The last reading: when (monotonic, and the wall-clock second that labels it) and
    /// what, which the next one is compared with.
    last: Option<(Instant, u64, Reading)>,
}

impl Ring {
    /// An empty ring; its memory is taken once, here.
    pub(crate) fn new() -> Ring {
        Ring {
            slots: VecDeque::with_capacity(HISTORY_SLOTS),
            last: None,
        }
    }

    /// Records the reading taken at `at` (monotonic), the wall clock then reading `second`.
    /// The first reading counts from zero (the totals start with the server). Each reading
    /// is one slot; **whole seconds the sampler missed** (a busy runtime: `at` two or more
    /// seconds after the last reading) get slots with the previous sessions and nothing
    /// happening, and the next slot carries what happened meanwhile. A wall clock stepped
    /// either way changes only the `end` label.
    pub(crate) fn record(&mut self, at: Instant, second: u64, reading: Reading) {
        let previous = self.last.map_or(Reading::default(), |(_, _, r)| r);
        let slot = difference(&previous, &reading);
        if let Some((before, _, _)) = self.last {
            let elapsed = at.saturating_duration_since(before).as_secs();
            let missed = usize::try_from(elapsed.saturating_sub(1)).unwrap_or(usize::MAX);
            let idle = self.slots.back().map(|last| Slot {
                authorization: last.authorization,
                transaction: last.transaction,
                update: last.update,
                ..Slot::default()
            });
            for _ in 0..missed.min(HISTORY_SLOTS) {
                self.push(idle.unwrap_or_default());
            }
        }
        self.push(slot);
        self.last = Some((at, second, reading));
    }

    /// The slots, oldest first, as the API carries them.
    pub(crate) fn history(&self) -> History {
        let series = |f: fn(&Slot) -> u32| self.slots.iter().map(f).collect();
        History {
            end: self.last.map_or(0, |(_, second, _)| second),
            authorization: series(|s| s.authorization),
            transaction: series(|s| s.transaction),
            update: series(|s| s.update),
            logins_ok: series(|s| s.logins_ok),
            logins_failed: series(|s| s.logins_failed),
            bytes_sent: self.slots.iter().map(|s| s.bytes_sent).collect(),
            retrieved: series(|s| s.retrieved),
            deleted: series(|s| s.deleted),
        }
    }

    /// How many slots are held, and how many fit without reallocating.
    #[cfg(test)]
    pub(crate) fn size(&self) -> (usize, usize) {
        (self.slots.len(), self.slots.capacity())
    }

    /// Appends a slot, dropping the oldest when full: the length never passes
    /// [`HISTORY_SLOTS`], so the deque never grows past its first allocation.
    fn push(&mut self, slot: Slot) {
        if self.slots.len() >= HISTORY_SLOTS {
            self.slots.pop_front();
        }
        self.slots.push_back(slot);
    }
}

/// The slot of `now`: its sessions, and what the totals moved by since `before`.
fn difference(before: &Reading, now: &Reading) -> Slot {
    let gauge = |n: i64| u32::try_from(n).unwrap_or(if n < 0 { 0 } else { u32::MAX });
    let delta = |a: u64, b: u64| u32::try_from(b.saturating_sub(a)).unwrap_or(u32::MAX);
    let (a, b) = (&before.totals, &now.totals);
    Slot {
        authorization: gauge(now.sessions.authorization),
        transaction: gauge(now.sessions.transaction),
        update: gauge(now.sessions.update),
        logins_ok: delta(a.logins_ok, b.logins_ok),
        logins_failed: delta(a.logins_failed, b.logins_failed),
        bytes_sent: now.bytes_sent.saturating_sub(before.bytes_sent),
        retrieved: delta(a.retrieved, b.retrieved),
        deleted: delta(a.deleted, b.deleted),
    }
}

#[cfg(test)]
mod tests;
