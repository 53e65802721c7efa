//! `[quota]`: the site's Maildir++ quota (issue 19), and [`quota_for`], the one place a
//! user's limit is decided.
//!
//! ```toml
//! [quota]
//! messages = 1000        # 0 (the default): no limit on the number of messages
//! bytes = "500M"         # an integer of octets, or a string with K, M, G or T (powers of 1024)
//! over_quota = "reject"  # or "defer": 452 4.2.2 instead of 552 5.2.2
//! ```

use pop3_auth::Resolved;
use pop3_maildrop::QuotaLimit;
use serde::Deserialize;
use toml::Spanned;

use crate::error::{Invalid, invalid};

/// The largest limit: `maildirsize` holds signed 64-bit numbers (Dovecot truncates there).
pub const MAX_QUOTA: u64 = i64::MAX as u64;

/// The site's quota, validated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quota {
    /// The site default limit.
    pub limit: QuotaLimit,
    /// What a recipient over quota is told.
    pub over_quota: OverQuota,
}

/// What an over-quota recipient gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OverQuota {
    /// Refused for good: LMTP `552 5.2.2`, `deliver` exit 73 (the MTA bounces).
    #[default]
    Reject,
    /// Refused for now: LMTP `452 4.2.2`, `deliver` exit 75 (the MTA keeps the message and
    /// retries until the user makes room or it expires from the queue).
    Defer,
}

/// The limit for `user`: **the one function the server and `pop3-admin` ask**. Each of the
/// user's own values (`pop3-admin user set --quota-messages/--quota-bytes`) replaces the
/// site's; **a stored value that cannot be read gives the site's, never "unlimited"**, and
/// is handed to `unreadable` for the caller to report.
pub fn quota_for(
    site: &Quota,
    user: &pop3_auth::User,
    unreadable: &mut dyn FnMut(&pop3_auth::InvalidSetting),
) -> QuotaLimit {
    let mut value = |resolved: Resolved<Option<u64>>| match resolved {
        Resolved::Own(limit) | Resolved::Site(limit) => limit,
        Resolved::Unreadable(limit, invalid) => {
            unreadable(&invalid);
            limit
        }
    };
    QuotaLimit {
        messages: value(user.policy.quota_messages(site.limit.messages)),
        bytes: value(user.policy.quota_bytes(site.limit.bytes)),
    }
}

/// `[quota]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawQuota {
    messages: Option<Spanned<i64>>,
    /// An integer or a string with a suffix: taken as a TOML value, so that anything else
    /// (a float, a table) gets this key's own message.
    bytes: Option<Spanned<toml::Value>>,
    over_quota: Option<Spanned<String>>,
}

impl RawQuota {
    pub(crate) fn validate(self) -> Result<Quota, Invalid> {
        let messages = match &self.messages {
            None => None,
            Some(value) => match u64::try_from(*value.get_ref()) {
                Ok(0) => None,
                Ok(n) => Some(n),
                Err(_) => {
                    let why = "must be 0 (no limit) or a positive number";
                    return Err(invalid("quota.messages", value, why));
                }
            },
        };
        let bytes = match &self.bytes {
            None => None,
            Some(value) => {
                let parsed = match value.get_ref() {
                    toml::Value::Integer(n) => u64::try_from(*n).ok(),
                    toml::Value::String(text) => parse_size(text),
                    _ => None,
                };
                match parsed {
                    Some(0) => None,
                    Some(n) if n <= MAX_QUOTA => Some(n),
                    _ => {
                        return Err(invalid(
                            "quota.bytes",
                            value,
                            "must be 0 (no limit), a number of octets, or a size such as \
                             \"500M\" or \"2G\" (K, M, G, T: powers of 1024), at most 2^63-1 octets",
                        ));
                    }
                }
            }
        };
        let over_quota = match &self.over_quota {
            None => OverQuota::Reject,
            Some(value) => match value.get_ref().as_str() {
                "reject" => OverQuota::Reject,
                "defer" => OverQuota::Defer,
                _ => {
                    return Err(invalid(
                        "quota.over_quota",
                        value,
                        "must be \"reject\" (552 5.2.2) or \"defer\" (452 4.2.2)",
                    ));
                }
            },
        };
        Ok(Quota {
            limit: QuotaLimit { messages, bytes },
            over_quota,
        })
    }
}

/// `"500M"`, `"2G"`, `"1024"`, `"10k"`: decimal digits, then at most one of K, M, G, T
/// (either case; powers of 1024, as Dovecot reads its quota sizes). `None` on anything else
/// or on overflow.
pub(crate) fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, shift) = match text.as_bytes().last()?.to_ascii_uppercase() {
        b'K' => (&text[..text.len() - 1], 10),
        b'M' => (&text[..text.len() - 1], 20),
        b'G' => (&text[..text.len() - 1], 30),
        b'T' => (&text[..text.len() - 1], 40),
        _ => (text, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(1u64 << shift)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("500M"), Some(500 << 20));
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("10k"), Some(10 << 10));
        assert_eq!(parse_size("1T"), Some(1 << 40));
        assert_eq!(parse_size("1234"), Some(1234));
        for bad in [
            "",
            "M",
            "-1M",
            "1.5G",
            "1 G",
            "1MB",
            "99999999999999999999",
            "20000000T",
        ] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
    }
}
