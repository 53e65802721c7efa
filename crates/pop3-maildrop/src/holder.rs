//! Who holds a maildrop lock, as recorded in the lock file and shown in `[IN-USE]` replies and
//! the admin tools. Its own module so that the error type can carry it without depending on
//! the lock's machinery.

use std::fmt;

/// Who holds a maildrop lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The holding process.
    pub pid: u32,
    /// The server's session id (empty if unknown).
    pub session: String,
    /// When the lock was taken, in seconds since the Unix epoch (0 if unknown).
    pub since: u64,
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.session.is_empty() {
            write!(f, "session {} ", self.session)?;
        }
        write!(f, "(pid {})", self.pid)?;
        if self.since > 0 {
            write!(f, " since {}", utc_timestamp(self.since))?;
        }
        Ok(())
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch (civil-from-days, proleptic Gregorian).
pub fn utc_timestamp(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}
