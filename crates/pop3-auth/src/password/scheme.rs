//! What a stored or imported password field is, told from its form alone, without hashing.
//!
//! The forms, as Dovecot's passwd-file and `/etc/shadow` write them:
//! - `{SCHEME}rest`, Dovecot's prefix: the name is case-insensitive and may carry an encoding
//!   suffix (`.B64`, `.BASE64`, `.HEX`), which only the SSHA and PLAIN schemes use here.
//!   `{CRYPT}`, `{MD5-CRYPT}`, `{SHA256-CRYPT}`, `{SHA512-CRYPT}`, `{BLF-CRYPT}` and
//!   `{DES-CRYPT}` all hand the rest to crypt(3) in Dovecot, which goes by the string's own
//!   `$id$`; so do we. `{MD5}` is MD5-crypt when the rest starts with `$1$` (else it is
//!   Dovecot's PLAIN-MD5, which we do not verify).
//! - a bare crypt string, `$id$...`; `$argon2id$` is our own PHC string.
//! - `!...` or `*...`: a locked or password-less `/etc/shadow` entry.

use zeroize::Zeroizing;

use super::crypt::{Crypt, Refusal};
use super::ssha::{Ssha, unhex};
use super::{Encoding, Scheme};

/// A field, recognised.
pub(crate) enum Form<'a> {
    /// An argon2 PHC string (bare `$argon2id$`, or under `{ARGON2ID}` / `{ARGON2I}`); its
    /// parameters are bounded when it is parsed for use.
    Argon2 { scheme: Scheme, phc: &'a str },
    /// A crypt string, parsed and bounded.
    Crypt(Crypt<'a>),
    /// A salted SHA-2 hash, decoded.
    Ssha(Ssha),
    /// A cleartext password (`{PLAIN}`, `{CLEAR}`, `{CLEARTEXT}`), decoded: imported by
    /// hashing it, never stored, never verified.
    Plain(Zeroizing<Vec<u8>>),
    /// A locked or password-less shadow entry (`!`, `!!`, `*`, `!$6$...`).
    Locked,
    /// Nothing at all.
    Empty,
    /// A scheme we do not verify, by name.
    Unknown(String),
    /// One of ours, malformed or over its bounds.
    Invalid {
        scheme: &'static str,
        reason: &'static str,
    },
}

/// The longest field recognised; nothing legitimate comes near it (an SSHA512.HEX with a
/// 256-byte salt is 650 characters).
pub(crate) const MAX_FIELD: usize = 1024;

/// Recognises `field` (see the module's list of forms).
pub(crate) fn recognise(field: &str) -> Form<'_> {
    if field.is_empty() {
        return Form::Empty;
    }
    if field.len() > MAX_FIELD {
        return Form::Unknown("unrecognised (over 1024 bytes)".to_owned());
    }
    if let Some(rest) = field.strip_prefix('{') {
        return match rest.split_once('}') {
            Some((name, value)) => dovecot(name, value),
            None => Form::Unknown("unrecognised".to_owned()),
        };
    }
    if field.starts_with('!') || field.starts_with('*') {
        return Form::Locked;
    }
    bare(field)
}

/// A field without a Dovecot prefix: a crypt string, our own argon2id, or a DES crypt.
fn bare(field: &str) -> Form<'_> {
    if field.starts_with("$argon2id$") {
        return Form::Argon2 {
            scheme: Scheme::Argon2id,
            phc: field,
        };
    }
    if field.starts_with('$') {
        return crypt(field);
    }
    if field.len() == 13 && field.bytes().all(super::md5_crypt::is_crypt64) {
        return Form::Unknown("DES-CRYPT".to_owned());
    }
    Form::Unknown("unrecognised".to_owned())
}

fn crypt(field: &str) -> Form<'_> {
    match Crypt::parse(field) {
        Ok(crypt) => Form::Crypt(crypt),
        Err(Refusal::Unknown(name)) => Form::Unknown(name),
        Err(Refusal::Invalid { scheme, reason }) => Form::Invalid {
            scheme: scheme.name(),
            reason,
        },
    }
}

/// `{name}value`.
fn dovecot<'a>(name: &str, value: &'a str) -> Form<'a> {
    let (base, suffix) = match name.split_once('.') {
        Some((base, suffix)) => (base, Some(suffix)),
        None => (name, None),
    };
    let encoding = match suffix.map(str::to_ascii_uppercase).as_deref() {
        None => None,
        Some("B64" | "BASE64") => Some(Encoding::Base64),
        Some("HEX") => Some(Encoding::Hex),
        Some(_) => return Form::Unknown(printable(name)),
    };
    let base = base.to_ascii_uppercase();
    match (base.as_str(), encoding) {
        ("ARGON2ID", None) => argon2(Scheme::Argon2id, "$argon2id$", value),
        ("ARGON2I", None) => argon2(Scheme::Argon2i, "$argon2i$", value),
        (
            "CRYPT" | "MD5-CRYPT" | "SHA256-CRYPT" | "SHA512-CRYPT" | "BLF-CRYPT" | "DES-CRYPT",
            None,
        ) => bare_crypt(value),
        ("MD5", None) if value.starts_with("$1$") => crypt(value),
        ("SSHA256", _) => ssha(Scheme::Ssha256, encoding, value),
        ("SSHA512", _) => ssha(Scheme::Ssha512, encoding, value),
        ("PLAIN" | "CLEAR" | "CLEARTEXT", _) => plain(encoding, value),
        _ => Form::Unknown(printable(name)),
    }
}

/// The rest of a crypt-family scheme: a `$id$` string, else (Dovecot's default crypt) DES.
fn bare_crypt(value: &str) -> Form<'_> {
    match bare(value) {
        // `{CRYPT}$argon2id$...` is nothing crypt(3) knows.
        Form::Argon2 { .. } => Form::Unknown("$argon2id$ under CRYPT".to_owned()),
        other => other,
    }
}

fn argon2<'a>(scheme: Scheme, ident: &str, value: &'a str) -> Form<'a> {
    if value.starts_with(ident) {
        Form::Argon2 { scheme, phc: value }
    } else {
        Form::Invalid {
            scheme: scheme.name(),
            reason: "not a PHC string of that variant",
        }
    }
}

fn ssha(scheme: Scheme, encoding: Option<Encoding>, value: &str) -> Form<'_> {
    match Ssha::decode(scheme, encoding.unwrap_or(Encoding::Base64), value) {
        Ok(ssha) => Form::Ssha(ssha),
        Err(reason) => Form::Invalid {
            scheme: scheme.name(),
            reason,
        },
    }
}

fn plain<'a>(encoding: Option<Encoding>, value: &str) -> Form<'a> {
    use base64::Engine as _;
    let decoded = match encoding {
        None => Some(value.as_bytes().to_vec()),
        Some(Encoding::Base64) => base64::engine::general_purpose::STANDARD.decode(value).ok(),
        Some(Encoding::Hex) => unhex(value),
    };
    match decoded {
        Some(password) => Form::Plain(Zeroizing::new(password)),
        None => Form::Invalid {
            scheme: if encoding == Some(Encoding::Hex) {
                "PLAIN.HEX"
            } else {
                "PLAIN.B64"
            },
            reason: "not valid in its encoding",
        },
    }
}

/// At most 32 printable ASCII characters of a scheme name, for reports.
fn printable(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(32)
        .collect()
}
