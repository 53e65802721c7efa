//! System accounts: `/etc/passwd` (name, uid, home) joined with `/etc/shadow` (the hash),
//! mail where Postfix's `home_mailbox = Maildir/` puts it, `~/Maildir`.
//!
//! Accounts outside the uid range are left out silently (system users, `nobody`); the rest
//! are candidates. The hash comes from `/etc/shadow` when the passwd field is `x`; a locked
//! (`!`, `*`) or empty hash, a missing shadow line or an expired account is imported
//! disabled. A Maildir that Dovecot or Courier served has its `dovecot-uidlist` or
//! `courierpop3dsizelist` beside `cur/`; whichever is there is carried over.

use std::collections::HashMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use pop3_auth::ImportedPassword;

use super::password::crypt_field;
use super::template::MailLocation;
use super::uidls::UidlSource;
use super::{Candidate, Line};

/// What a system migration reads besides the files.
pub struct Options<'a> {
    /// Only these names, if any.
    pub names: &'a [String],
    /// The uid range.
    pub uids: std::ops::RangeInclusive<u32>,
    /// `--maildir`, `~/Maildir` by default.
    pub location: &'a MailLocation,
    /// `--uidlist-format`, for Maildirs Dovecot served.
    pub uidl_format: &'a str,
}

/// The accounts of `passwd` in the range (or named), in file order, with their shadow hashes.
pub fn parse(passwd: &str, passwd_file: &Path, shadow: &str, options: &Options<'_>) -> Vec<Line> {
    let shadow: HashMap<&str, Vec<&str>> = shadow
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let fields: Vec<&str> = l.split(':').collect();
            (fields[0], fields)
        })
        .collect();
    let today = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    let mut lines = Vec::new();
    for (index, text) in passwd.lines().enumerate() {
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let origin = format!("{}:{}", passwd_file.display(), index + 1);
        let fields: Vec<&str> = text.split(':').collect();
        let name = fields[0];
        let wanted = options.names.is_empty() || options.names.iter().any(|n| n == name);
        if !wanted {
            continue;
        }
        let (Some(uid), Some(home)) = (fields.get(2), fields.get(5)) else {
            lines.push(Line::Malformed {
                origin,
                name: Some(name.to_owned()),
                reason: "not a passwd line (name:password:uid:gid:gecos:home:shell)".to_owned(),
            });
            continue;
        };
        let Ok(uid) = uid.parse::<u32>() else {
            lines.push(Line::Malformed {
                origin,
                name: Some(name.to_owned()),
                reason: format!("uid {uid:?} is not a number"),
            });
            continue;
        };
        if !options.uids.contains(&uid) {
            if !options.names.is_empty() {
                lines.push(Line::Malformed {
                    origin,
                    name: Some(name.to_owned()),
                    reason: format!("uid {uid} is outside --min-uid/--max-uid; not imported"),
                });
            }
            continue;
        }
        let (password, disabled) = match (fields.get(1).copied(), shadow.get(name)) {
            (Some("x"), Some(entry)) => (
                crypt_field(entry.get(1).copied().unwrap_or("")),
                expired(entry, today),
            ),
            (Some("x"), None) => (
                ImportedPassword::Empty,
                Some("no line in the shadow file: imported disabled".to_owned()),
            ),
            (Some(field), _) => (crypt_field(field), None),
            (None, _) => (ImportedPassword::Empty, None),
        };
        let expanded = match options.location.expand(name, home) {
            Ok(expanded) => expanded,
            Err(reason) => {
                lines.push(Line::Malformed {
                    origin,
                    name: Some(name.to_owned()),
                    reason: format!("no Maildir: {reason}"),
                });
                continue;
            }
        };
        lines.push(Line::Candidate(Candidate {
            origin,
            name: name.to_owned(),
            password,
            uidls: vec![
                UidlSource::Dovecot {
                    path: expanded.control.join("dovecot-uidlist"),
                    format: options.uidl_format.to_owned(),
                },
                UidlSource::Courier {
                    path: expanded.maildir.join("courierpop3dsizelist"),
                },
            ],
            maildir: expanded.maildir,
            disabled,
        }));
    }
    for name in options.names {
        let listed = lines.iter().any(|line| match line {
            Line::Candidate(c) => &c.name == name,
            Line::Malformed { name: n, .. } => n.as_ref() == Some(name),
        });
        if !listed {
            lines.push(Line::Malformed {
                origin: passwd_file.display().to_string(),
                name: Some(name.clone()),
                reason: "no such account".to_owned(),
            });
        }
    }
    lines
}

/// Why a shadow entry's account is expired (field 8, days since the epoch), if it is.
fn expired(entry: &[&str], today: u64) -> Option<String> {
    let day: u64 = entry.get(7)?.parse().ok()?;
    (day <= today).then(|| "the account expired (shadow): imported disabled".to_owned())
}
