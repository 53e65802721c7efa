//! The password of an imported user: the field classified by `pop3-auth`
//! ([`classify_imported`]), with the source's own conventions applied first, and what the
//! report says about it. The row itself is written by [`pop3_auth::UserStore::add_imported`].

use pop3_auth::{ImportedPassword, classify_imported};

/// A Dovecot passwd-file password field, classified as Dovecot's passdb would read it with
/// `scheme=default_scheme` (`src/auth/password-scheme.c`, `password_get_scheme`): a
/// `{SCHEME}` prefix wins; a bare `$1$` string is always MD5-CRYPT; any other bare field is
/// in the default scheme. The default, CRYPT, hands the field to crypt(3), which goes by the
/// string's own `$id$`, and so does [`classify_imported`] with a bare field: only another
/// default (`--scheme PLAIN`, `SSHA512`, ...) is written in front of the field.
pub fn dovecot_field(field: &str, default_scheme: &str) -> ImportedPassword {
    let prefixed = field.starts_with('{') && field.contains('}');
    if prefixed || field.starts_with("$1$") || default_scheme.eq_ignore_ascii_case("CRYPT") {
        classify_imported(field)
    } else {
        classify_imported(&format!("{{{default_scheme}}}{field}"))
    }
}

/// A password field of `/etc/shadow` (or of `/etc/passwd` without shadow): crypt(3) strings
/// and the locked forms (`!`, `*`) only; a Dovecot `{SCHEME}` prefix is nothing crypt(3)
/// knows, so such a field is not taken for one.
pub fn crypt_field(field: &str) -> ImportedPassword {
    if field.starts_with('{') {
        return ImportedPassword::Unknown {
            scheme: "not a crypt(3) string".to_owned(),
        };
    }
    classify_imported(field)
}

/// The scheme's name for the report.
pub fn scheme_of(password: &ImportedPassword) -> String {
    match password {
        ImportedPassword::Stored { scheme, .. } | ImportedPassword::Invalid { scheme, .. } => {
            (*scheme).to_owned()
        }
        ImportedPassword::Plain(_) => "PLAIN".to_owned(),
        ImportedPassword::Unknown { scheme } => scheme.clone(),
        ImportedPassword::Empty => "(empty)".to_owned(),
        ImportedPassword::Locked => "(locked)".to_owned(),
    }
}

/// Why a user with this password is imported disabled, if it is.
pub fn disabled_because(password: &ImportedPassword) -> Option<String> {
    const FIX: &str = "set a password with `pop3-admin user passwd`, then `user enable`";
    match password {
        ImportedPassword::Stored { .. } | ImportedPassword::Plain(_) => None,
        ImportedPassword::Unknown { scheme } => Some(format!(
            "password scheme {scheme} is not supported: imported disabled ({FIX})"
        )),
        ImportedPassword::Invalid { scheme, reason } => Some(format!(
            "the {scheme} password cannot verify ({reason}): imported disabled ({FIX})"
        )),
        ImportedPassword::Empty => Some(format!("no password: imported disabled ({FIX})")),
        ImportedPassword::Locked => Some(format!("locked account: imported disabled ({FIX})")),
    }
}
