//! Users imported from another system (issue 16): a legacy hash stored as it is, a locked
//! user, or an entry of `pop3-admin migrate` in one INSERT with its flags.

use std::path::Path;

use super::{ImportFlags, UserDb, maildir_text};
use crate::User;
use crate::error::{Error, Result};
use crate::name::UserName;
use crate::password::{ImportedPassword, LOCKED_HASH, NotUsable, PasswordHasher, usable_scheme};

impl UserDb {
    /// Adds a user with a hash imported from another system, stored as it is (issue 16): the
    /// user logs in with the old password, and the first successful login replaces the hash
    /// with argon2id at the current parameters. **Only a hash that verification accepts is
    /// stored** ([`crate::hash_scheme`]: a known scheme, well formed, within its cost bounds);
    /// anything else is [`Error::UnsupportedHash`], so an import cannot create a user who
    /// could never log in, nor store a cleartext password.
    pub fn add_with_hash(&self, name: &UserName, hash: &str, maildir: &Path) -> Result<User> {
        let maildir = maildir_text(maildir)?;
        verifiable(hash)?;
        self.insert(name, hash, maildir, true, false)
    }

    /// Adds a user who cannot log in: disabled, with [`LOCKED_HASH`] as the stored hash, which
    /// no password verifies (an imported locked or password-less entry; never an empty
    /// password). Enabling the user is not enough: an administrator sets a password too.
    pub fn add_locked(&self, name: &UserName, maildir: &Path) -> Result<User> {
        let maildir = maildir_text(maildir)?;
        self.insert(name, LOCKED_HASH, maildir, false, false)
    }

    /// Adds a user imported from another system (`pop3-admin migrate`) **in one INSERT**: the
    /// password as [`crate::classify_imported`] found it, the enabled flag and the UIDL-map
    /// flag together, so no login ever sees the row without its flags. `Stored` is stored as
    /// it is ([`UserDb::add_with_hash`]'s checks), `Plain` hashed with argon2id (never
    /// stored), and every other kind is [`LOCKED_HASH`], disabled ([`UserDb::add_locked`]).
    pub fn add_imported(
        &self,
        name: &UserName,
        password: &ImportedPassword,
        maildir: &Path,
        hasher: &PasswordHasher,
        flags: ImportFlags,
    ) -> Result<User> {
        let maildir = maildir_text(maildir)?;
        let ImportFlags { enabled, uidl_map } = flags;
        match password {
            ImportedPassword::Stored { hash, .. } => {
                verifiable(hash)?;
                self.insert(name, hash, maildir, enabled, uidl_map)
            }
            ImportedPassword::Plain(password) => {
                let hash = hasher.hash(password)?;
                self.insert(name, &hash, maildir, enabled, uidl_map)
            }
            ImportedPassword::Locked
            | ImportedPassword::Unknown { .. }
            | ImportedPassword::Invalid { .. }
            | ImportedPassword::Empty => self.insert(name, LOCKED_HASH, maildir, false, uidl_map),
        }
    }
}

/// Ok for a hash that verification accepts (a known scheme, well formed, within its cost
/// bounds), else [`Error::UnsupportedHash`].
fn verifiable(hash: &str) -> Result<()> {
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
