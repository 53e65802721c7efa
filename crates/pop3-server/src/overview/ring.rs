//! The ring of per-second slots behind `GET /v1/overview`: **fixed size**
//! ([`HISTORY_SLOTS`], 15 minutes), fed one [`Reading`] of running totals per second and
//! keeping the differences. Pure: the caller passes the second, so it is tested on a clock
//! moved by hand.

use std::collections::VecDeque;

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
    /// The last second recorded and its reading, which the next one is compared with.
    last: Option<(u64, Reading)>,
}

impl Ring {
    /// An empty ring; its memory is taken once, here.
    pub(crate) fn new() -> Ring {
        Ring {
            slots: VecDeque::with_capacity(HISTORY_SLOTS),
            last: None,
        }
    }

    /// Records the reading taken at `second`. The first reading counts from zero (the totals
    /// start with the server). **Seconds the sampler missed** (a busy runtime) get slots with
    /// the previous sessions and nothing happening, and the next slot carries what happened
    /// meanwhile; a second already recorded (a clock stepped back) adds to the last slot.
    pub(crate) fn record(&mut self, second: u64, reading: Reading) {
        let (previous_second, previous) = self.last.unwrap_or((second, Reading::default()));
        let mut slot = difference(&previous, &reading);
        match self.slots.back_mut() {
            Some(last) if second <= previous_second => {
                slot.logins_ok = slot.logins_ok.saturating_add(last.logins_ok);
                slot.logins_failed = slot.logins_failed.saturating_add(last.logins_failed);
                slot.bytes_sent = slot.bytes_sent.saturating_add(last.bytes_sent);
                slot.retrieved = slot.retrieved.saturating_add(last.retrieved);
                slot.deleted = slot.deleted.saturating_add(last.deleted);
                *last = slot;
            }
            _ => {
                let missed = second.saturating_sub(previous_second).saturating_sub(1);
                let idle = self.slots.back().map(|last| Slot {
                    authorization: last.authorization,
                    transaction: last.transaction,
                    update: last.update,
                    ..Slot::default()
                });
                let missed = usize::try_from(missed).unwrap_or(usize::MAX);
                for _ in 0..missed.min(HISTORY_SLOTS) {
                    self.push(idle.unwrap_or_default());
                }
                self.push(slot);
            }
        }
        self.last = Some((second.max(previous_second), reading));
    }

    /// The slots, oldest first, as the API carries them.
    pub(crate) fn history(&self) -> History {
        let series = |f: fn(&Slot) -> u32| self.slots.iter().map(f).collect();
        History {
            end: self.last.map_or(0, |(second, _)| second),
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
