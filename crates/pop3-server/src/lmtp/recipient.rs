//! Which user an LMTP recipient is: `alice`, `alice@example.org` and, with the recipient
//! delimiter, `alice+tag@example.org` are all `alice` (or the user named with the domain, if
//! there is one: user names may hold `@`).

use std::path::PathBuf;

use pop3_auth::{UserDbLocation, UserName};
use pop3_lmtp::Address;
use pop3_maildrop::QuotaLimit;
use tracing::warn;

use crate::user_db::with_user_db;

/// The answer for one recipient.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// A user (enabled or not: a disabled user still receives mail): their Maildir and their
    /// quota ([`pop3_config::quota_for`]).
    User {
        /// The Maildir.
        maildir: PathBuf,
        /// The limit a delivery is checked against.
        quota: QuotaLimit,
    },
    /// No user by any of the names the address can stand for.
    Unknown,
    /// The database could not answer (busy, missing, unreadable): the MTA retries.
    TempFail,
}

/// The names `address` may stand for, most specific first: `local@domain`, `base@domain`,
/// `local`, `base` (`base` is the local part up to the delimiter), without repeats.
pub(crate) fn candidates(address: &Address, delimiter: Option<char>) -> Vec<String> {
    let base = delimiter
        .and_then(|d| address.local.split_once(d))
        .map(|(base, _)| base)
        .filter(|base| !base.is_empty());
    let mut names = Vec::with_capacity(4);
    if let Some(domain) = &address.domain {
        names.push(format!("{}@{domain}", address.local));
        if let Some(base) = base {
            names.push(format!("{base}@{domain}"));
        }
    }
    names.push(address.local.clone());
    if let Some(base) = base {
        names.push(base.to_owned());
    }
    names.dedup();
    names
}

/// Looks the address up. Call from a blocking thread.
pub(crate) fn resolve(
    db_path: &UserDbLocation,
    address: &Address,
    delimiter: Option<char>,
    site_quota: &pop3_config::Quota,
) -> Resolved {
    let names: Vec<UserName> = candidates(address, delimiter)
        .iter()
        .filter_map(|name| UserName::parse(name).ok())
        .collect();
    if names.is_empty() {
        return Resolved::Unknown;
    }
    let found = with_user_db(db_path, |db| {
        for name in &names {
            if let Some(user) = db.get(name)? {
                let quota = pop3_config::quota_for(site_quota, &user, &mut |invalid| {
                    warn!(user = %user.name, error = %invalid,
                        "per-user quota unreadable; the site's applies");
                });
                return Ok(Some((user.maildir, quota)));
            }
        }
        Ok(None)
    });
    match found {
        Ok(Some((maildir, quota))) => Resolved::User { maildir, quota },
        Ok(None) => Resolved::Unknown,
        Err(e) => {
            tracing::warn!(error = %e, "LMTP: user database unavailable; answering 451");
            Resolved::TempFail
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(local: &str, domain: Option<&str>) -> Address {
        Address {
            local: local.to_owned(),
            domain: domain.map(str::to_owned),
        }
    }

    #[test]
    fn candidates_most_specific_first() {
        let tagged = address("alice+lists", Some("example.org"));
        assert_eq!(
            candidates(&tagged, Some('+')),
            [
                "alice+lists@example.org",
                "alice@example.org",
                "alice+lists",
                "alice"
            ]
        );
        assert_eq!(
            candidates(&tagged, None),
            ["alice+lists@example.org", "alice+lists"]
        );
        assert_eq!(candidates(&address("+x", None), Some('+')), ["+x"]);
        assert_eq!(candidates(&address("bob", None), Some('+')), ["bob"]);
    }
}
