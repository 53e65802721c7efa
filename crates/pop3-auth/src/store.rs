//! [`UserStore`]: the user database as callers see it, whatever holds it (issue 18): SQLite
//! ([`crate::UserDb`], the embedded default) or PostgreSQL ([`crate::PgStore`]).
//!
//! **A backend implements a few primitives (read a row, insert one, change one field, remove
//! one, the schema version); every rule lives once, in the provided methods here**: the
//! checks of a password, an APOP secret or an imported hash, hashing, the last-login
//! precision. So both stores refuse the same inputs and write the same rows.
//!
//! Why a trait object rather than an enum of the two: the callers (the authenticator, the
//! admin commands, the server's login and LMTP lookups) only need `&dyn UserStore`, a test
//! written once runs against both, and a store that a test makes (a failing one) needs no
//! variant. Every method takes `&self`: the SQLite store is one connection, the PostgreSQL
//! store a pool that checks a connection out per call.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::name::UserName;
use crate::password::{ImportedPassword, LOCKED_HASH, PasswordHasher, check_password};
use crate::policy::{PolicyOverrides, Setting, UserPolicy};

/// How stale `last_login_at` may be: logins within this many seconds of the recorded one are
/// not written again.
pub const LAST_LOGIN_PRECISION_SECS: i64 = 60;

/// One user, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// The normalised name.
    pub name: UserName,
    /// The stored hash: an argon2id PHC string, or a hash imported from another system
    /// (`{SSHA512}...`, `$6$...`, ...) until the first login replaces it, or [`LOCKED_HASH`](crate::LOCKED_HASH).
    pub password_hash: String,
    /// The APOP shared secret, if the administrator set one.
    pub apop_secret: Option<String>,
    /// The Maildir, fixed when the user was created.
    pub maildir: PathBuf,
    /// Whether the user may log in.
    pub enabled: bool,
    /// Whether the user may log in only with APOP (RFC 1939 §7: a server may refuse USER/PASS
    /// to a user with an APOP secret). Off by default: an APOP secret adds APOP and takes
    /// nothing away. Meaningless without a secret.
    pub apop_only: bool,
    /// Whether the maildrop has a map of UIDLs carried over from the previous server
    /// (`pop3_maildrop::carry_over`): the server then requires it, so a map deleted or
    /// damaged later fails the login (`-ERR [SYS/TEMP]`) rather than changing UIDLs.
    pub uidl_map: bool,
    /// Seconds since the epoch.
    pub created_at: i64,
    /// Seconds since the epoch.
    pub updated_at: i64,
    /// Seconds since the epoch of the last successful login.
    pub last_login_at: Option<i64>,
    /// The user's own EXPIRE, LOGIN-DELAY and quotas, as stored (`None`: the site's).
    pub policy: UserPolicy,
    /// The SCRAM-SHA-256 keys derived from the password, in PostgreSQL's format
    /// (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`); cleared whenever the
    /// password hash changes.
    pub scram_sha256: Option<String>,
}

/// Debug never shows the hash or the APOP secret.
impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("maildir", &self.maildir)
            .field("enabled", &self.enabled)
            .field("apop", &self.apop_secret.is_some())
            .field("apop_only", &self.apop_only)
            .field("uidl_map", &self.uidl_map)
            .field("last_login_at", &self.last_login_at)
            .field("policy", &self.policy)
            .field("scram", &self.scram_sha256.is_some())
            .finish_non_exhaustive()
    }
}

/// How an imported user's row starts ([`UserStore::add_imported`]): written with the row, in
/// the same INSERT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportFlags {
    /// Whether the user may log in. Only a password that can verify is ever enabled: a
    /// locked, empty, unknown or invalid one makes a disabled row whatever this says.
    pub enabled: bool,
    /// Whether the maildrop has a map of carried-over UIDLs ([`User::uidl_map`]), written
    /// before the row.
    pub uidl_map: bool,
}

/// A row to insert ([`UserStore::insert_row`]): the hash is stored as given.
#[derive(Debug, Clone, Copy)]
pub struct NewRow<'a> {
    /// The name.
    pub name: &'a UserName,
    /// The hash, already checked or made by the caller.
    pub hash: &'a str,
    /// The Maildir, absolute UTF-8.
    pub maildir: &'a str,
    /// [`User::enabled`].
    pub enabled: bool,
    /// [`User::uidl_map`].
    pub uidl_map: bool,
    /// [`User::scram_sha256`], derived from the same password as `hash`.
    pub scram: Option<&'a str>,
}

/// One field of a row to change ([`UserStore::update_field`]); `updated_at` is set with it.
#[derive(Debug, Clone, Copy)]
pub enum Field<'a> {
    /// The stored hash.
    PasswordHash(&'a str),
    /// [`User::enabled`].
    Enabled(bool),
    /// [`User::uidl_map`].
    UidlMap(bool),
    /// The APOP secret and [`User::apop_only`], in one write.
    Apop {
        /// The secret, already checked.
        secret: Option<&'a str>,
        /// APOP-only; false whenever `secret` is `None`.
        only: bool,
    },
    /// [`User::scram_sha256`].
    ScramSha256(Option<&'a str>),
    /// A new password: its hash and its SCRAM keys (`None`: cleared), **in one UPDATE**, so
    /// keys of the old password never outlive it.
    Password {
        /// The stored hash.
        hash: &'a str,
        /// The SCRAM-SHA-256 keys of the same password, or `None`.
        scram: Option<&'a str>,
    },
    /// One of [`User::policy`], already in canonical form ([`Setting::canonical`]).
    Policy(Setting, Option<&'a str>),
}

/// The user database, SQLite or PostgreSQL. **No cache: every call reads or writes the store
/// now**, so a password change, a disable or a delete takes effect on the next login.
///
/// The required methods are a backend's primitives; use the provided ones (`add`,
/// `set_password`, `remove`, …), which hold the rules.
pub trait UserStore: Send {
    /// Where the store is, for messages: a file path, or a PostgreSQL URL (which never holds
    /// a password: the configuration refuses one).
    fn location(&self) -> String;

    /// The schema version of the store ([`crate::SCHEMA_VERSION`] once opened).
    fn schema_version(&self) -> Result<i64>;

    /// A user by name, or `None`.
    fn get(&self, name: &UserName) -> Result<Option<User>>;

    /// All users, by name.
    fn list(&self) -> Result<Vec<User>>;

    /// Inserts a row as given, [`Error::UserExists`] if the name is taken. Low level: the
    /// `add*` methods check what they store, this does not.
    fn insert_row(&self, row: NewRow<'_>) -> Result<User>;

    /// Sets one field and `updated_at`; false if there is no such user.
    fn update_field(&self, name: &UserName, field: Field<'_>) -> Result<bool>;

    /// Deletes a row and returns it, or `None`.
    fn remove_row(&self, name: &UserName) -> Result<Option<User>>;

    /// Renames a user ([`Error::UserExists`], [`Error::NoSuchUser`]). The Maildir path stays.
    fn rename(&self, from: &UserName, to: &UserName) -> Result<()>;

    /// Records a successful login now (no `updated_at`: nothing of the account changed).
    fn record_login(&self, name: &UserName) -> Result<()>;

    /// Which settings some user has a value of their own for (one aggregate query).
    fn policy_overrides(&self) -> Result<PolicyOverrides>;

    /// The value of the site's secret `name` (`server_secrets`, schema version 6 on),
    /// created by whoever migrated the database; `None` when there is none (a row removed,
    /// or a PostgreSQL schema older than the table, which the server uses as it is).
    fn server_secret(&self, name: &str) -> Result<Option<String>>;

    /// Runs the best-effort writes of a login (last login, rehash) with a short wait for
    /// locks: **a writer holding the store must not hold up a correct login** (nor the hash
    /// permit it runs under); a write that cannot get its lock at once fails and is reported.
    fn best_effort(&self, write: &mut dyn FnMut(&dyn UserStore) -> Result<()>) -> Result<()>;

    /// Adds a user with a password and a Maildir path (absolute; see [`default_maildir`]).
    fn add(
        &self,
        name: &UserName,
        password: &[u8],
        maildir: &Path,
        hasher: &PasswordHasher,
    ) -> Result<User> {
        self.add_with_uidl_map(name, password, maildir, hasher, false)
    }

    /// [`UserStore::add`] with the UIDL-map flag ([`User::uidl_map`]) in the same INSERT: for
    /// `pop3-admin user add --maildir`, which carries the old server's UIDLs into the
    /// maildrop's map before the row exists, so no login sees the maildrop without the flag.
    fn add_with_uidl_map(
        &self,
        name: &UserName,
        password: &[u8],
        maildir: &Path,
        hasher: &PasswordHasher,
        uidl_map: bool,
    ) -> Result<User> {
        let maildir = maildir_text(maildir)?;
        let hash = hasher.hash(password)?;
        let scram = hasher.scram_keys(password)?;
        self.insert_row(NewRow {
            name,
            hash: &hash,
            maildir,
            enabled: true,
            uidl_map,
            scram: scram.as_deref(),
        })
    }

    /// Adds a user with a hash imported from another system, stored as it is (issue 16): the
    /// user logs in with the old password, and the first successful login replaces the hash
    /// with argon2id at the current parameters. **Only a hash that verification accepts is
    /// stored** ([`crate::hash_scheme`]: a known scheme, well formed, within its cost bounds);
    /// anything else is [`Error::UnsupportedHash`], so an import cannot create a user who
    /// could never log in, nor store a cleartext password.
    fn add_with_hash(&self, name: &UserName, hash: &str, maildir: &Path) -> Result<User> {
        let maildir = maildir_text(maildir)?;
        import::verifiable(hash)?;
        self.insert_row(NewRow {
            name,
            hash,
            maildir,
            enabled: true,
            uidl_map: false,
            scram: None,
        })
    }

    /// Adds a user who cannot log in: disabled, with [`LOCKED_HASH`] as the stored hash, which
    /// no password verifies (an imported locked or password-less entry; never an empty
    /// password). Enabling the user is not enough: an administrator sets a password too.
    fn add_locked(&self, name: &UserName, maildir: &Path) -> Result<User> {
        let maildir = maildir_text(maildir)?;
        self.insert_row(NewRow {
            name,
            hash: LOCKED_HASH,
            maildir,
            enabled: false,
            uidl_map: false,
            scram: None,
        })
    }

    /// Adds a user imported from another system (`pop3-admin migrate`) **in one INSERT**: the
    /// password as [`crate::classify_imported`] found it, the enabled flag and the UIDL-map
    /// flag together, so no login ever sees the row without its flags. `Stored` is stored as
    /// it is ([`UserStore::add_with_hash`]'s checks), `Plain` hashed with argon2id (never
    /// stored), and every other kind is [`LOCKED_HASH`], disabled ([`UserStore::add_locked`]).
    fn add_imported(
        &self,
        name: &UserName,
        password: &ImportedPassword,
        maildir: &Path,
        hasher: &PasswordHasher,
        flags: ImportFlags,
    ) -> Result<User> {
        let maildir = maildir_text(maildir)?;
        let (hash, enabled) = import::imported_hash(password, hasher, flags.enabled)?;
        self.insert_row(NewRow {
            name,
            hash: &hash,
            maildir,
            enabled,
            uidl_map: flags.uidl_map,
            scram: None,
        })
    }

    /// Removes a user and returns the row (so the caller can remove its mail if asked).
    fn remove(&self, name: &UserName) -> Result<User> {
        self.remove_row(name)?
            .ok_or_else(|| Error::NoSuchUser(name.to_string()))
    }

    /// Sets a new password.
    fn set_password(
        &self,
        name: &UserName,
        password: &[u8],
        hasher: &PasswordHasher,
    ) -> Result<()> {
        check_password(password)?;
        let hash = hasher.hash(password)?;
        let scram = hasher.scram_keys(password)?;
        self.update(
            name,
            Field::Password {
                hash: &hash,
                scram: scram.as_deref(),
            },
        )
    }

    /// Replaces the stored hash (a rehash with current parameters after a login).
    fn replace_hash(&self, name: &UserName, hash: &str) -> Result<()> {
        self.update(name, Field::PasswordHash(hash))
    }

    /// Enables or disables logins.
    fn set_enabled(&self, name: &UserName, enabled: bool) -> Result<()> {
        self.update(name, Field::Enabled(enabled))
    }

    /// Sets or clears the APOP secret (printable ASCII, 8 to 255 characters); password logins
    /// keep working ([`UserStore::set_apop`] with `only = false`).
    fn set_apop_secret(&self, name: &UserName, secret: Option<&str>) -> Result<()> {
        self.set_apop(name, secret, false)
    }

    /// Sets or clears the APOP secret and, in the same write, whether the user may log in
    /// only with APOP (`only`; RFC 1939 §7). Clearing the secret always clears `only`.
    fn set_apop(&self, name: &UserName, secret: Option<&str>, only: bool) -> Result<()> {
        if let Some(secret) = secret {
            if !(8..=255).contains(&secret.len()) {
                return Err(Error::InvalidApopSecret("must be 8 to 255 characters"));
            }
            if !secret.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
                return Err(Error::InvalidApopSecret("must be printable ASCII"));
            }
        }
        let only = only && secret.is_some();
        self.update(name, Field::Apop { secret, only })
    }

    /// Sets a user's own value of `setting` as typed (`"30"`, `"never"`, `"2G"`), or with
    /// `None` returns them to the site default; the value is checked and stored in
    /// canonical form ([`Error::InvalidSetting`]).
    fn set_policy(&self, name: &UserName, setting: Setting, value: Option<&str>) -> Result<()> {
        let canonical = value.map(|text| setting.canonical(text)).transpose()?;
        self.update(name, Field::Policy(setting, canonical.as_deref()))
    }

    /// Records whether the user's maildrop has a map of carried-over UIDLs (set after
    /// `carry_over` wrote it; cleared only to give up the carried UIDLs on purpose).
    fn set_uidl_map(&self, name: &UserName, has_map: bool) -> Result<()> {
        self.update(name, Field::UidlMap(has_map))
    }

    /// Records a successful login of `user` (as read for this login), to the minute: when the
    /// recorded time is less than [`LAST_LOGIN_PRECISION_SECS`] old, nothing is written, so a
    /// client that logs in every few seconds costs no write transaction each time. Returns
    /// whether it wrote.
    fn record_login_of(&self, user: &User) -> Result<bool> {
        let now = now();
        if user
            .last_login_at
            .is_some_and(|at| at <= now && now - at < LAST_LOGIN_PRECISION_SECS)
        {
            return Ok(false);
        }
        self.record_login(&user.name)?;
        Ok(true)
    }

    /// [`UserStore::update_field`], with [`Error::NoSuchUser`] when nothing changed.
    fn update(&self, name: &UserName, field: Field<'_>) -> Result<()> {
        if self.update_field(name, field)? {
            Ok(())
        } else {
            Err(Error::NoSuchUser(name.to_string()))
        }
    }
}

/// The default Maildir of a new user: `<mail root>/<name>/Maildir`. The name is a validated
/// [`UserName`], a single safe path component.
pub fn default_maildir(mail_root: &Path, name: &UserName) -> PathBuf {
    mail_root.join(name.as_str()).join("Maildir")
}

/// A Maildir path as stored: absolute and UTF-8.
fn maildir_text(maildir: &Path) -> Result<&str> {
    maildir
        .to_str()
        .filter(|_| maildir.is_absolute())
        .ok_or_else(|| Error::InvalidMaildir(maildir.to_owned()))
}

/// Seconds since the epoch, for `created_at`, `updated_at` and `last_login_at`.
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

mod import;
