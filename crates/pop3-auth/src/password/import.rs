//! Password fields of other systems, classified for import (`pop3-admin migrate`).
//!
//! **A hash we verify is stored as it is** and replaced by argon2id at the user's first login;
//! **a cleartext password is hashed at import and never stored**; **a locked or empty entry
//! never becomes a password**: the user is created disabled with [`LOCKED_HASH`], which no
//! password verifies.

use std::fmt;

use zeroize::Zeroizing;

use super::scheme::{Form, recognise};
use super::{NotUsable, check_password};
use crate::error::Error;

/// The stored hash of a user created without a password ([`crate::UserStore::add_locked`]): no
/// password verifies against it (it is recognised as a locked entry, like shadow's `!`), so the
/// user can log in only after an administrator sets a password.
pub const LOCKED_HASH: &str = "!locked: no password was imported";

/// What a password field of a passwd-file (`user:{SCHEME}value:...`) or `/etc/shadow`
/// (`user:$id$...:...`) is, for the migration command.
///
/// Not `#[non_exhaustive]`, on purpose: the migration command is in this workspace, and a new
/// kind of field must be a compile error there until it is handled.
pub enum ImportedPassword {
    /// A hash we verify: store `hash` as it is ([`crate::UserStore::add_with_hash`]); the first
    /// successful login replaces it with argon2id.
    Stored {
        /// The field, unchanged.
        hash: String,
        /// The scheme's name (Dovecot's: `SHA512-CRYPT`, `BLF-CRYPT`, `SSHA512`, ...; and
        /// `YESCRYPT`).
        scheme: &'static str,
        /// Something to tell the administrator (a weak scheme), if anything.
        warning: Option<&'static str>,
    },
    /// A cleartext password (`{PLAIN}`, `{CLEAR}`, `{CLEARTEXT}`, with `.B64`/`.HEX` decoded):
    /// hash it with argon2id at import ([`crate::UserStore::add`]); never store it. Zeroed when
    /// dropped.
    Plain(Zeroizing<Vec<u8>>),
    /// A locked or password-less entry (`!`, `!!`, `*`, or `!` before a hash): create the user
    /// disabled, without a password ([`crate::UserStore::add_locked`]).
    Locked,
    /// A scheme we do not verify: Dovecot's name as written (`{SCHEME}`), the crypt method
    /// (`$7$`, `$2x$`, `DES-CRYPT`), or `unrecognised`.
    Unknown {
        /// The scheme's name.
        scheme: String,
    },
    /// One of our schemes, but this value is malformed or over its cost bounds: it could
    /// never verify here.
    Invalid {
        /// The scheme's name.
        scheme: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An empty field: no password at all (shadow lets such a user in without one). Never
    /// imported as an empty password: create the user locked or skip it.
    Empty,
}

/// Debug never shows a cleartext password or a hash.
impl fmt::Debug for ImportedPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportedPassword::Stored {
                scheme, warning, ..
            } => f
                .debug_struct("Stored")
                .field("scheme", scheme)
                .field("warning", warning)
                .finish_non_exhaustive(),
            ImportedPassword::Plain(_) => f.write_str("Plain(..)"),
            ImportedPassword::Locked => f.write_str("Locked"),
            ImportedPassword::Unknown { scheme } => {
                f.debug_struct("Unknown").field("scheme", scheme).finish()
            }
            ImportedPassword::Invalid { scheme, reason } => f
                .debug_struct("Invalid")
                .field("scheme", scheme)
                .field("reason", reason)
                .finish(),
            ImportedPassword::Empty => f.write_str("Empty"),
        }
    }
}

/// The warning given with an MD5-crypt hash.
const MD5_CRYPT_WARNING: &str = "MD5-crypt is weak (1000 rounds of MD5): the hash is kept only \
                                 until the user's first login replaces it with argon2id";

/// Classifies a password field as it appears in a passwd-file or `/etc/shadow`, without
/// hashing anything. Never panics, whatever `field` holds. The field is taken as it is: the
/// caller splits the line and trims nothing (a cleartext password may end in a space).
pub fn classify_imported(field: &str) -> ImportedPassword {
    match recognise(field) {
        Form::Argon2 { .. } | Form::Crypt(_) | Form::Ssha(_) => match super::usable_scheme(field) {
            Ok(scheme) => ImportedPassword::Stored {
                hash: field.to_owned(),
                scheme,
                warning: (scheme == "MD5-CRYPT").then_some(MD5_CRYPT_WARNING),
            },
            Err(NotUsable::Invalid { scheme, reason }) => {
                ImportedPassword::Invalid { scheme, reason }
            }
            Err(NotUsable::NotAHash) => ImportedPassword::Unknown {
                scheme: "unrecognised".to_owned(),
            },
        },
        Form::Plain(password) if password.is_empty() => ImportedPassword::Empty,
        Form::Plain(password) => match check_password(&password) {
            Ok(()) => ImportedPassword::Plain(password),
            Err(Error::InvalidPassword(reason)) => ImportedPassword::Invalid {
                scheme: "PLAIN",
                reason,
            },
            Err(_) => ImportedPassword::Invalid {
                scheme: "PLAIN",
                reason: "invalid",
            },
        },
        Form::Locked => ImportedPassword::Locked,
        Form::Empty => ImportedPassword::Empty,
        Form::Unknown(scheme) => ImportedPassword::Unknown { scheme },
        Form::Invalid { scheme, reason } => ImportedPassword::Invalid { scheme, reason },
    }
}
