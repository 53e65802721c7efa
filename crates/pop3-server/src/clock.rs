//! "Now" for `EXPIRE n` (RFC 2449 §6.7): the wall clock, the boot id and `CLOCK_BOOTTIME`,
//! read here and handed to `pop3-maildrop`, whose time logic takes them as a value
//! (`pop3_maildrop::has_expired`). Within one boot the boot clock measures elapsed time, so
//! no jump of the wall clock makes a message expire early.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use nix::time::{ClockId, clock_gettime};
use pop3_maildrop::{BootTime, Moment};

/// The clocks now. Without a boot id (not Linux, `/proc` not mounted) or a boot clock, the
/// moment has only the wall clock, and elapsed time is measured on it.
pub(crate) fn now() -> Moment {
    let wall = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    };
    let boot = boot_id().and_then(|id| {
        let since_boot = clock_gettime(ClockId::CLOCK_BOOTTIME).ok()?;
        BootTime::new(id, since_boot.tv_sec())
    });
    Moment { wall, boot }
}

/// This boot's id, read once: a process never outlives its boot.
fn boot_id() -> Option<&'static str> {
    static BOOT_ID: OnceLock<Option<String>> = OnceLock::new();
    BOOT_ID
        .get_or_init(|| {
            std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
                .ok()
                .map(|text| text.trim().to_owned())
        })
        .as_deref()
}
