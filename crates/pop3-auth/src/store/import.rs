//! Users imported from another system (issue 16): which hash an imported password becomes,
//! and which stored hashes are acceptable as they are.

use crate::error::{Error, Result};
use crate::password::{ImportedPassword, LOCKED_HASH, NotUsable, PasswordHasher, usable_scheme};

/// The hash to store for an imported password and whether the row may be enabled: `Stored`
/// as it is (only a verifiable one), `Plain` hashed with argon2id (never stored), every other
/// kind [`LOCKED_HASH`] and disabled.
pub(super) fn imported_hash(
    password: &ImportedPassword,
    hasher: &PasswordHasher,
    enabled: bool,
) -> Result<(String, bool)> {
    match password {
        ImportedPassword::Stored { hash, .. } => {
            verifiable(hash)?;
            Ok((hash.clone(), enabled))
        }
        ImportedPassword::Plain(password) => Ok((hasher.hash(password)?, enabled)),
        ImportedPassword::Locked
        | ImportedPassword::Unknown { .. }
        | ImportedPassword::Invalid { .. }
        | ImportedPassword::Empty => Ok((LOCKED_HASH.to_owned(), false)),
    }
}

/// Ok for a hash that verification accepts (a known scheme, well formed, within its cost
/// bounds), else [`Error::UnsupportedHash`].
pub(super) fn verifiable(hash: &str) -> Result<()> {
    match usable_scheme(hash) {
        Ok(_) => Ok(()),
        Err(NotUsable::NotAHash) => Err(Error::UnsupportedHash(
            "not a hash of a scheme pop3d verifies".to_owned(),
        )),
        Err(NotUsable::Invalid { scheme, reason }) => {
            Err(Error::UnsupportedHash(format!("{scheme}: {reason}")))
        }
    }
}
