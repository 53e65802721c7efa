//! Usage against quota for `user list` and the TUI's Users tab, read from each Maildir's
//! `maildirsize` (`pop3_maildrop::read_usage`): **never a rescan**, so listing thousands of
//! users costs one small read each; a missing or damaged file shows `-`.

use pop3_auth::User;
use pop3_config::{Quota, quota_for};
use pop3_maildrop::{QuotaLimit, Usage};

/// One user's usage and limit, as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageCells {
    /// `12/1000`, `12` without a limit, `-/1000` when the usage is unknown.
    pub messages: String,
    /// `3.1M/500M`, likewise.
    pub bytes: String,
    /// What `maildirsize` records, if it can be read.
    pub usage: Option<Usage>,
    /// The user's limit ([`quota_for`]).
    pub limit: QuotaLimit,
}

/// Reads `user`'s usage and formats it against their limit.
pub fn usage_of(site: &Quota, user: &User) -> UsageCells {
    // An unreadable value of the user's own shows as the site's limit (what applies);
    // `user list --json` shows the stored text.
    let limit = quota_for(site, user, &mut |_| {});
    let usage = pop3_maildrop::read_usage(&user.maildir);
    cells(usage, limit)
}

/// The cells for a usage (if known) and a limit.
pub fn cells(usage: Option<Usage>, limit: QuotaLimit) -> UsageCells {
    let messages = against(
        usage.map(|u| u.messages.to_string()),
        limit.messages.map(|m| m.to_string()),
    );
    let bytes = against(usage.map(|u| human(u.bytes)), limit.bytes.map(human));
    UsageCells {
        messages,
        bytes,
        usage,
        limit,
    }
}

fn against(used: Option<String>, limit: Option<String>) -> String {
    let used = used.unwrap_or_else(|| "-".to_owned());
    match limit {
        Some(limit) => format!("{used}/{limit}"),
        None => used,
    }
}

/// Octets in powers of 1024, as `[quota] bytes` is written: `512`, `3.1M`, `500M`, `2G`.
/// One decimal below 10 units, none above (rounded down, so a usage is never shown above
/// what it is).
pub fn human(bytes: u64) -> String {
    const UNITS: [(u32, &str); 4] = [(40, "T"), (30, "G"), (20, "M"), (10, "K")];
    for (shift, unit) in UNITS {
        let size = 1u64 << shift;
        if bytes >= size {
            let whole = bytes / size;
            let tenths = (bytes % size) * 10 / size;
            return if whole < 10 && tenths > 0 {
                format!("{whole}.{tenths}{unit}")
            } else {
                format!("{whole}{unit}")
            };
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_against_the_limit() {
        let usage = Usage {
            messages: 12,
            bytes: 3_250_000,
        };
        let limit = QuotaLimit {
            messages: Some(1000),
            bytes: Some(500 << 20),
        };
        let c = cells(Some(usage), limit);
        assert_eq!(
            (c.messages.as_str(), c.bytes.as_str()),
            ("12/1000", "3M/500M")
        );
        let c = cells(None, limit);
        assert_eq!(
            (c.messages.as_str(), c.bytes.as_str()),
            ("-/1000", "-/500M")
        );
        let c = cells(Some(usage), QuotaLimit::UNLIMITED);
        assert_eq!((c.messages.as_str(), c.bytes.as_str()), ("12", "3M"));
        let c = cells(None, QuotaLimit::UNLIMITED);
        assert_eq!((c.messages.as_str(), c.bytes.as_str()), ("-", "-"));
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(0), "0");
        assert_eq!(human(1023), "1023");
        assert_eq!(human(1024), "1K");
        assert_eq!(human(3 * (1 << 20) + (1 << 20) / 10 + 1), "3.1M");
        assert_eq!(human(500 << 20), "500M");
        assert_eq!(human((2 << 30) - 1), "1.9G");
        assert_eq!(human(u64::MAX), "16777215T");
    }
}
