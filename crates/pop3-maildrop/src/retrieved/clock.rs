//! When a message was first retrieved, and whether `EXPIRE n` days have passed since: the time
//! logic, on values passed in (the server reads the clocks), so it is tested without sleeping.
//!
//! **A clock jump never deletes a message early.** Within one boot, elapsed time is measured
//! on `CLOCK_BOOTTIME`, which the wall clock's jumps (forwards or backwards, by an
//! administrator or NTP) do not move. Across boots only the wall clock remains; a recorded
//! time ahead of the wall clock (it went backwards) counts as no time elapsed. A wall clock
//! that jumped forwards across a reboot cannot be told from time that passed: the one case
//! where a jump can shorten the wait, documented in `docs/protocol.md`.

/// The earliest wall time ever recorded: 2026-01-01T00:00:00Z, before any pop3d with
/// `EXPIRE n` ran. A clock behind it (a machine without an RTC booting in 1970) records this
/// instead, and entries below it are raised to it: a time later than the true one only
/// delays a deletion.
pub const WALL_FLOOR: i64 = 1_767_225_600;

/// How far a recorded wall time must move forward ([`carried_wall`]) for a commit to rewrite
/// the file for it alone: smaller moves are the wall clock's ordinary drift from the boot
/// clock, and a missed one is taken at the next write.
pub(crate) const CARRY_TOLERANCE: i64 = 3_600;

/// The wall time to keep for an entry recorded at `wall` (in boot `boot`, at boot clock
/// `secs`) seen at `now`: raised to [`WALL_FLOOR`], and, when recorded in `now`'s boot, to
/// `now.wall − (now.boot − secs)`, the wall time the boot clock says it happened at by
/// today's wall clock. **Never earlier than `wall`**, so it only ever delays a deletion: a
/// wall time recorded while the clock was years behind (no RTC, before NTP) is corrected
/// while the boot lasts, and the next boot's wall-clock measure does not see years elapsed.
pub(crate) fn carried_wall(wall: i64, boot: Option<(&str, i64)>, now: &Moment) -> i64 {
    let mut carried = wall.max(WALL_FLOOR);
    if let (Some((id, secs)), Some(current)) = (boot, &now.boot)
        && id == current.id
    {
        let since = current.secs.saturating_sub(secs).max(0);
        carried = carried.max(now.wall.saturating_sub(since));
    }
    carried
}

/// The longest boot id accepted (Linux's is a 36-character UUID).
pub const MAX_BOOT_ID: usize = 64;

/// A moment as both clocks saw it: what is recorded at a message's first retrieval, and
/// "now" at a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moment {
    /// The wall clock: seconds since the Unix epoch (`CLOCK_REALTIME`).
    pub wall: i64,
    /// The boot it was in and the boot clock, when the system tells them.
    pub boot: Option<BootTime>,
}

/// A boot and a reading of its `CLOCK_BOOTTIME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootTime {
    /// The boot's id (Linux: `/proc/sys/kernel/random/boot_id`): 1 to [`MAX_BOOT_ID`]
    /// characters among ASCII letters, digits and `-`.
    pub id: String,
    /// Seconds since that boot, suspend included (`CLOCK_BOOTTIME`).
    pub secs: i64,
}

impl BootTime {
    /// `Some` if `id` is a valid boot id (see [`BootTime::id`]).
    pub fn new(id: &str, secs: i64) -> Option<BootTime> {
        valid_boot_id(id).then(|| BootTime {
            id: id.to_owned(),
            secs,
        })
    }
}

/// Whether `id` can stand for a boot in the retrieval file.
pub(crate) fn valid_boot_id(id: &str) -> bool {
    (1..=MAX_BOOT_ID).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Seconds in `days` days.
pub(crate) fn days_secs(days: u32) -> i64 {
    i64::from(days) * 86_400
}

/// The seconds known to have passed from `recorded` to `now`, never negative: on the boot
/// clock when both are of the same boot, else on the wall clock; a recorded time ahead of
/// now counts as none.
pub fn elapsed_secs(recorded: &Moment, now: &Moment) -> i64 {
    let boot = recorded.boot.as_ref().map(|b| (b.id.as_str(), b.secs));
    elapsed_from(recorded.wall, boot, now)
}

/// [`elapsed_secs`] from a recorded wall time and boot (id and boot clock), borrowed.
pub(crate) fn elapsed_from(wall: i64, boot: Option<(&str, i64)>, now: &Moment) -> i64 {
    let delta = match (boot, &now.boot) {
        (Some((id, secs)), Some(current)) if id == current.id => current.secs.saturating_sub(secs),
        _ => now.wall.saturating_sub(wall),
    };
    delta.max(0)
}

/// Whether a message first retrieved at `recorded` is due for removal at `now` under
/// `EXPIRE days`: at least `days` days have passed.
pub fn has_expired(recorded: &Moment, now: &Moment, days: u32) -> bool {
    elapsed_secs(recorded, now) >= days_secs(days)
}
