//! Dovecot's passwd-file, read as Dovecot reads it (`src/auth/db-passwd-file.c`):
//!
//! - `user:password:uid:gid:gecos:home:shell:extra_fields`; a line may stop after any field
//!   (a passdb needs only the first two). Empty lines, lines starting with `#` and lines
//!   starting with `:` (no user name) are ignored, as by Dovecot; a trailing CR is dropped.
//! - The password is `{SCHEME}hash`, or a bare hash in the passdb's default scheme (`scheme=`,
//!   CRYPT unless set; a bare `$1$` is MD5-CRYPT whatever the default), or libpam-pwdfile's
//!   `hash[13]` (CRYPT) and `hash[34]` (PLAIN-MD5).
//! - Everything after the shell field is joined back with `:` (extra fields may contain
//!   colons, as `userdb_mail=maildir:~/Maildir` does) and split at spaces into `key=value`
//!   fields. The old format, an empty eighth field, makes the rest the mail location.
//! - A user listed twice: the first line counts (Dovecot logs "exists more than once").
//!
//! Extra fields that matter here: `userdb_mail` and `userdb_home` (override the template and
//! the home field), `nopassword` (Dovecot took any password: imported disabled), `nologin`
//! (imported disabled), `proxy` (the mail is on another server: not imported).

use std::path::Path;

use pop3_auth::{ImportedPassword, classify_imported};

use super::password::dovecot_field;
use super::template::MailLocation;
use super::uidls::UidlSource;
use super::{Candidate, Line};

/// What a Dovecot migration reads besides the file.
pub struct Options<'a> {
    /// `--maildir`.
    pub location: &'a MailLocation,
    /// `--scheme`: the scheme of a password without `{SCHEME}`.
    pub default_scheme: &'a str,
    /// `--uidlist-format`.
    pub uidl_format: &'a str,
}

/// Every line of the file that names a user (or should have), in order.
pub fn parse(bytes: &[u8], file: &Path, options: &Options<'_>) -> Vec<Line> {
    let mut lines = Vec::new();
    for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let origin = format!("{}:{}", file.display(), index + 1);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let Ok(text) = std::str::from_utf8(raw) else {
            lines.push(Line::Malformed {
                origin,
                name: None,
                reason: "the line is not UTF-8".to_owned(),
            });
            continue;
        };
        if text.is_empty() || text.starts_with('#') || text.starts_with(':') {
            continue;
        }
        lines.push(parse_line(text, origin, options));
    }
    lines
}

fn parse_line(text: &str, origin: String, options: &Options<'_>) -> Line {
    let fields: Vec<&str> = text.split(':').collect();
    let name = fields[0].to_owned();
    let password = password(fields.get(1).copied(), options.default_scheme);
    let home = fields.get(5).copied().unwrap_or("");
    let extra = extra_fields(&fields);
    let mut disabled = None;
    let mut location = None;
    let mut home = home.to_owned();
    for field in extra.split_whitespace() {
        let (key, value) = field.split_once('=').unwrap_or((field, ""));
        match key {
            "userdb_mail" => location = Some(value.to_owned()),
            "userdb_home" => home = value.to_owned(),
            "nopassword" if !matches!(value, "n" | "no" | "0") => {
                disabled = Some(
                    "nopassword: Dovecot took any password for this user; imported disabled \
                     (set a password with `pop3-admin user passwd`, then `user enable`)"
                        .to_owned(),
                );
            }
            "nologin" if !matches!(value, "n" | "no" | "0") => {
                disabled = Some("nologin: imported disabled, as Dovecot had it".to_owned());
            }
            "proxy" | "proxy_maybe" => {
                return Line::Malformed {
                    origin,
                    name: Some(name),
                    reason: format!(
                        "{key}: Dovecot proxied this user to another server, whose mail is not \
                         here; not imported"
                    ),
                };
            }
            _ => {}
        }
    }
    let expanded = match location {
        Some(own) => MailLocation::parse(&own).and_then(|l| l.expand(&name, &home)),
        None => options.location.expand(&name, &home),
    };
    let expanded = match expanded {
        Ok(expanded) => expanded,
        Err(reason) => {
            return Line::Malformed {
                origin,
                name: Some(name),
                reason: format!("no Maildir: {reason}"),
            };
        }
    };
    Line::Candidate(Candidate {
        origin,
        name,
        password,
        uidls: vec![UidlSource::Dovecot {
            path: expanded.control.join("dovecot-uidlist"),
            format: options.uidl_format.to_owned(),
        }],
        maildir: expanded.maildir,
        disabled,
    })
}

/// The password field, classified as Dovecot reads it: libpam-pwdfile's `hash[34]`
/// (PLAIN-MD5) and `hash[13]` (CRYPT) suffixes, else [`dovecot_field`] with the passdb's
/// default scheme.
fn password(field: Option<&str>, default_scheme: &str) -> ImportedPassword {
    let Some(field) = field.filter(|f| !f.is_empty()) else {
        return ImportedPassword::Empty;
    };
    if field.starts_with('{') {
        return dovecot_field(field, default_scheme);
    }
    let len = field.len();
    let bytes = field.as_bytes();
    if len > 4
        && !field.starts_with('$')
        && bytes[len - 1] == b']'
        && bytes[len - 4] == b'['
        && field.is_char_boundary(len - 4)
    {
        let hash = &field[..len - 4];
        return match &field[len - 3..len - 1] {
            "34" => classify_imported(&format!("{{PLAIN-MD5}}{hash}")),
            _ => classify_imported(&format!("{{CRYPT}}{hash}")),
        };
    }
    dovecot_field(field, default_scheme)
}

/// Fields 8 and up, joined with `:` again; the old format (an empty eighth field) makes the
/// rest a mail location.
fn extra_fields(fields: &[&str]) -> String {
    match fields.get(7..) {
        Some(["", rest @ ..]) => {
            if rest.is_empty() || rest.iter().all(|f| f.is_empty()) {
                String::new()
            } else {
                format!("userdb_mail={}", rest.join(":"))
            }
        }
        Some(extra) => extra.join(":"),
        None => String::new(),
    }
}
