//! `EXPIRE n` (RFC 2449 §6.7, n ≥ 1): when each message was first retrieved, kept in
//! `.pop3d.retrieved`, and the commit that removes the messages whose n days have passed
//! ([`Maildrop::commit_expiring`]).
//!
//! **Losing or damaging the file can only delay a deletion, never hasten one.** A message is
//! removed only on a time read from a whole, valid file (header, every line, count and
//! checksum checked before any time is used); a missing file means no message has a time, a
//! damaged one is moved to `.pop3d.retrieved.damaged`, reported, and counted as missing; a
//! file that cannot be read expires nothing and is not replaced. The times of messages
//! retrieved after that start from then. The listing and index caches play no part: the
//! file stands on its own.
//!
//! **Only a commit (UPDATE after QUIT) writes it**, under the maildrop's lock, after the
//! unlinks, and only when something changed: a first retrieval recorded, or an entry dropped
//! (its message removed, or no longer in the maildrop). A dropped session records nothing.
//! A crash between the unlinks and the write leaves entries of removed messages, dropped at
//! the next write, and loses this session's new times (delay only).
//!
//! Entries are keyed by the message's unique part (the file name before `:2,` and `,S=`), so
//! flag renames by other programs and moves from `new/` keep them. A unique part two listed
//! files share (a broken maildrop) gets no time and expires nothing.
//!
//! # Format
//! ```text
//! pop3d-retrieved 1
//! <unique part, %-escaped> <wall> <boot id or -> <boot secs>
//! ...
//! end <count> <checksum>
//! ```
//! `<wall>` is the first retrieval on the wall clock, seconds since the Unix epoch;
//! `<boot id>` the boot it happened in (`/proc/sys/kernel/random/boot_id`, `-` if unknown)
//! and `<boot secs>` its `CLOCK_BOOTTIME` in seconds (`0` after `-`); both numbers are
//! signed decimal. The unique part is escaped like the index's names (bytes outside
//! `0x21..=0x7E` and `%` as `%xx`). The checksum is FNV-1a 64 over everything before the
//! `end` line, in 16 lower-case hex digits. Mode 0600, owned like the Maildir (as the other
//! `.pop3d.*` files), written through a temp file, fsync, rename and fsync of the Maildir.
//!
//! # Cost
//! A commit under `EXPIRE n` reads the file once, a line at a time (one buffer, no copy of
//! the file), keeps about 32 bytes per listed message plus a map of unique parts to indices,
//! and streams the new file out through a buffer: linear time, memory proportional to the
//! listing the session already holds.

mod clock;
mod file;

use std::collections::HashSet;

pub use clock::{BootTime, MAX_BOOT_ID, Moment, WALL_FLOOR, elapsed_secs, has_expired};
pub use file::{RETRIEVED_DAMAGED_FILE, RETRIEVED_FILE};

use crate::error::Error;
use crate::maildir::Maildir;
use crate::maildrop::{CommitReport, Maildrop};
use file::{FnvMap, Loaded, Times};

/// `EXPIRE n` for one commit.
#[derive(Debug, Clone)]
pub struct Expiry<'a> {
    /// The user's `EXPIRE` days, at least 1 (with 0 the session's own list removes what it
    /// retrieved; 0 here would remove every message with a time at once).
    pub days: u32,
    /// Now, as the server read the clocks.
    pub now: Moment,
    /// The messages sent whole by RETR in this session (indices, any order): those without a
    /// time get `now`.
    pub retrieved: &'a [usize],
}

/// What the `EXPIRE n` part of [`Maildrop::commit_expiring`] did.
#[derive(Debug, Default)]
pub struct ExpiryReport {
    /// Messages given to the commit to remove because their n days had passed (indices,
    /// ascending); those not in [`CommitReport::failed`] are gone.
    pub expired: Vec<usize>,
    /// First retrievals recorded now.
    pub recorded: usize,
    /// Entries dropped: messages removed, gone, or sharing a unique part.
    pub pruned: usize,
    /// Entries whose wall time was moved forward by more than an hour: recorded in this boot
    /// while the wall clock was behind (corrected by the boot clock), or below the floor.
    pub carried: usize,
    /// Whether the file was rewritten.
    pub written: bool,
    /// The file was damaged ([`Error::RetrievedFile`]) and set aside: times restart from now.
    pub damaged: Option<Error>,
    /// The file could not be read (nothing expired, nothing written), set aside or written
    /// (new times lost, entries of removed messages kept until the next write).
    pub error: Option<Error>,
}

impl Maildrop {
    /// UPDATE under `EXPIRE n` (n ≥ 1): [`Maildrop::commit_observed`] of `deleted` together
    /// with every message (not in `deleted`) whose first retrieval, read from
    /// `.pop3d.retrieved`, is at least `expiry.days` days before `expiry.now`; then the file
    /// is rewritten if anything changed: times for `expiry.retrieved` messages that had none,
    /// entries of removed or vanished messages dropped.
    pub fn commit_expiring(
        &self,
        deleted: &[usize],
        retrieved: &[usize],
        mark_seen: bool,
        expiry: &Expiry<'_>,
        after_unlink: &mut dyn FnMut(usize),
    ) -> (CommitReport, ExpiryReport) {
        let mut report = ExpiryReport::default();
        let maildir = match Maildir::open(self.path()) {
            Ok(maildir) => maildir,
            Err(e) => {
                report.error = Some(e);
                let commit = self.commit_observed(deleted, retrieved, mark_seen, after_unlink);
                return (commit, report);
            }
        };
        let messages = self.messages();
        let by_base = index_bases(messages);
        let mut changed = false;
        let mut times = match file::load(&maildir, messages.len(), &by_base) {
            Ok(Loaded::Read(times)) => times,
            Ok(Loaded::Missing) => Times::new(messages.len()),
            Ok(Loaded::Damaged(reason)) => {
                report.damaged = Some(file::damaged(&maildir, reason));
                if let Err(e) = file::set_aside(&maildir) {
                    // The damaged file stays where it is; a write below replaces it.
                    report.error = Some(e);
                    changed = true;
                }
                Times::new(messages.len())
            }
            Err(e) => {
                report.error = Some(e);
                let commit = self.commit_observed(deleted, retrieved, mark_seen, after_unlink);
                return (commit, report);
            }
        };
        // Wall times recorded in this boot while the wall clock was behind are carried
        // forward by the boot clock, and none stays below the floor: only delays (see
        // `clock::carried_wall`); rewritten when one moved by more than the tolerance.
        report.carried = times.carry_forward(&expiry.now);
        changed |= report.carried > 0;
        let mut sorted_deleted = deleted.to_vec();
        sorted_deleted.sort_unstable();
        report.expired = (0..messages.len())
            .filter(|i| sorted_deleted.binary_search(i).is_err())
            .filter(|&i| times.expired(i, &expiry.now, expiry.days))
            .collect();
        let mut removing = sorted_deleted;
        removing.extend_from_slice(&report.expired);
        removing.sort_unstable();
        removing.dedup();
        let commit = self.commit_observed(&removing, retrieved, mark_seen, after_unlink);
        let failed: HashSet<usize> = commit.failed.iter().map(|(i, _)| *i).collect();
        let gone: HashSet<usize> = removing
            .iter()
            .copied()
            .filter(|i| !failed.contains(i))
            .collect();
        report.pruned = times.unmatched;
        for &index in &gone {
            if times.clear(index) {
                report.pruned += 1;
            }
        }
        for &index in expiry.retrieved {
            // A message whose unique part another listed one shares gets no time.
            let own_base = messages
                .get(index)
                .is_some_and(|m| by_base.get(m.base()) == Some(&Some(index)));
            if own_base && !gone.contains(&index) && !times.has(index) {
                times.set(index, &expiry.now);
                report.recorded += 1;
            }
        }
        if changed || report.pruned > 0 || report.recorded > 0 {
            match file::store(&maildir, messages, &times) {
                Ok(()) => report.written = true,
                Err(e) => report.error = Some(e),
            }
        }
        (commit, report)
    }
}

/// Each listed message's unique part to its index; `None` for one two messages share.
fn index_bases(messages: &[crate::message::Message]) -> FnvMap<&[u8], Option<usize>> {
    let mut by_base = FnvMap::with_capacity_and_hasher(messages.len(), Default::default());
    for (index, message) in messages.iter().enumerate() {
        by_base
            .entry(message.base())
            .and_modify(|slot| *slot = None)
            .or_insert(Some(index));
    }
    by_base
}

#[cfg(test)]
mod tests;
