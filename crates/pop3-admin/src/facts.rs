//! The overview's facts as `status` and the TUI's Overview tab both word them: uptime, byte
//! counts, and **the verdict on a certificate's expiry** (the 14 days of warning), so the two
//! can never disagree on what "expires soon" means.

use pop3_admin_api::CertificateFacts;
use pop3_maildrop::utc_timestamp;

/// A certificate expiring in fewer days than this is reported (`status` exit 1, red and
/// `EXPIRES SOON` in the TUI).
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// What a certificate's not-after means now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// More than [`EXPIRY_WARNING_DAYS`] left.
    Fine { days: i64 },
    /// Fewer than [`EXPIRY_WARNING_DAYS`] left.
    Soon { days: i64 },
    /// Past its not-after: clients refuse it.
    Expired,
    /// The server could not read it.
    Unknown,
}

impl Expiry {
    /// The expiry of `certificate` at `now` (the server's clock, from the same answer).
    pub fn of(certificate: &CertificateFacts, now: u64) -> Expiry {
        let Some(not_after) = certificate.not_after else {
            return Expiry::Unknown;
        };
        let left = not_after.saturating_sub(i64::try_from(now).unwrap_or(i64::MAX));
        let days = left.div_euclid(86_400);
        if left <= 0 {
            Expiry::Expired
        } else if left < EXPIRY_WARNING_DAYS * 86_400 {
            Expiry::Soon { days }
        } else {
            Expiry::Fine { days }
        }
    }

    /// Whether an administrator must act.
    pub fn is_alarming(self) -> bool {
        !matches!(self, Expiry::Fine { .. })
    }

    /// The word that says it without colour: `EXPIRES SOON`, `EXPIRED`, `UNKNOWN` or "".
    pub fn word(self) -> &'static str {
        match self {
            Expiry::Fine { .. } => "",
            Expiry::Soon { .. } => "EXPIRES SOON",
            Expiry::Expired => "EXPIRED",
            Expiry::Unknown => "EXPIRY UNKNOWN",
        }
    }

    /// How soon, for sorting: the soonest first, expired ones first of all, then the
    /// unreadable ones (an unreadable certificate must not hide an expired one).
    pub fn rank(self) -> i64 {
        match self {
            Expiry::Expired => i64::MIN,
            Expiry::Unknown => i64::MIN + 1,
            Expiry::Soon { days } | Expiry::Fine { days } => days,
        }
    }

    /// How bad, for the verdict over several certificates: expired (clients refuse it)
    /// over unknown (it may be either) over soon over fine.
    pub fn severity(self) -> u8 {
        match self {
            Expiry::Fine { .. } => 0,
            Expiry::Soon { .. } => 1,
            Expiry::Unknown => 2,
            Expiry::Expired => 3,
        }
    }
}

/// A certificate in a few words, the alarm first so that a narrow screen keeps it:
/// `EXPIRES SOON mail.example.org.pem: 2026-12-05 (5 days)`.
pub fn certificate_text(certificate: &CertificateFacts, now: u64) -> String {
    let expiry = Expiry::of(certificate, now);
    let date = certificate
        .not_after
        .and_then(|t| u64::try_from(t).ok())
        .map_or_else(|| "?".to_owned(), date);
    let left = match expiry {
        Expiry::Fine { days } | Expiry::Soon { days } => format!(" ({days} days)"),
        Expiry::Expired | Expiry::Unknown => String::new(),
    };
    let word = match expiry.word() {
        "" => String::new(),
        word => format!("{word} "),
    };
    let file = certificate
        .file
        .rsplit('/')
        .next()
        .unwrap_or(&certificate.file);
    format!("{word}{file}: {date}{left}")
}

/// The certificate whose expiry is the worst ([`Expiry::severity`]; among equals the one
/// with the fewest days left), if any: the one that decides `status`' verdict.
pub fn worst(certificates: &[CertificateFacts], now: u64) -> Option<&CertificateFacts> {
    certificates.iter().min_by_key(|c| {
        let expiry = Expiry::of(c, now);
        (std::cmp::Reverse(expiry.severity()), expiry.rank())
    })
}

/// The earliest not-after among the certificates that have one (an unreadable certificate
/// has no date to report).
pub fn soonest_date(certificates: &[CertificateFacts]) -> Option<i64> {
    certificates.iter().filter_map(|c| c.not_after).min()
}

/// `YYYY-MM-DD`, UTC.
pub fn date(unix: u64) -> String {
    utc_timestamp(unix).chars().take(10).collect()
}

/// A duration in its two largest units: `3d 4h`, `4h 12m`, `12m 5s`, `15m`, `5s`.
pub fn duration(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3_600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    let (big, small) = match (d, h, m) {
        (0, 0, 0) => return format!("{s}s"),
        (0, 0, _) => ((m, "m"), (s, "s")),
        (0, _, _) => ((h, "h"), (m, "m")),
        _ => ((d, "d"), (h, "h")),
    };
    if small.0 == 0 {
        format!("{}{}", big.0, big.1)
    } else {
        format!("{}{} {}{}", big.0, big.1, small.0, small.1)
    }
}

/// Octets in binary units, one decimal: `512 B`, `1.5 KiB`, `3.2 MiB`.
pub fn bytes(octets: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = octets as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{octets} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
