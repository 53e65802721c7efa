//! The user database: one SQLite file, WAL mode and a busy timeout so the admin tool can write
//! while the server reads; schema migrations by `PRAGMA user_version`, run on open.
//!
//! **The server reads a user's row on every login and keeps no cache**, so a password change,
//! a disable or a delete takes effect on the next login.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};

use crate::error::{Error, Result};
use crate::name::UserName;
use crate::password::{PasswordHasher, check_password};

/// How long a statement waits for a writer before failing with [`Error::Busy`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a best-effort write of a login waits for another writer ([`UserDb::best_effort`]).
const BEST_EFFORT_BUSY_TIMEOUT: Duration = Duration::from_millis(50);

/// The migrations, in order; entry `i` brings the schema to version `i + 1`. Never edit one
/// that has shipped: add another.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE users (
        id                INTEGER PRIMARY KEY,
        name              TEXT NOT NULL UNIQUE,
        password_hash     TEXT NOT NULL,
        apop_secret       TEXT,
        maildir           TEXT NOT NULL,
        enabled           INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
        password_with_apop INTEGER NOT NULL DEFAULT 0 CHECK (password_with_apop IN (0, 1)),
        created_at        INTEGER NOT NULL,
        updated_at        INTEGER NOT NULL,
        last_login_at     INTEGER
    ) STRICT;
",
    "
    -- Issue 15 #8: an APOP secret adds APOP and takes nothing away; `apop_only` is the
    -- RFC 1939 §7 stricter mode, chosen per user. Version 1's `password_with_apop` had no
    -- command to set it, so its 0 was never a choice: every user starts as not APOP-only.
    ALTER TABLE users ADD COLUMN apop_only INTEGER NOT NULL DEFAULT 0 CHECK (apop_only IN (0, 1));
    ALTER TABLE users DROP COLUMN password_with_apop;
",
    "
    -- Issue 16: the user's maildrop has a map of UIDLs carried over from the previous
    -- server. Once set, a missing or damaged map fails the login instead of every client
    -- downloading everything again under new UIDLs; only `pop3-admin uidl` sets or clears it.
    ALTER TABLE users ADD COLUMN uidl_map INTEGER NOT NULL DEFAULT 0 CHECK (uidl_map IN (0, 1));
",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

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
            .finish_non_exhaustive()
    }
}

/// How an imported user's row starts ([`UserDb::add_imported`]): written with the row, in the
/// same INSERT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportFlags {
    /// Whether the user may log in. Only a password that can verify is ever enabled: a
    /// locked, empty, unknown or invalid one makes a disabled row whatever this says.
    pub enabled: bool,
    /// Whether the maildrop has a map of carried-over UIDLs ([`User::uidl_map`]), written
    /// before the row.
    pub uidl_map: bool,
}

/// An open user database.
pub struct UserDb {
    conn: Connection,
    path: PathBuf,
}

impl UserDb {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub fn open(path: &Path) -> Result<UserDb> {
        UserDb::open_with(path, OpenFlags::default())
    }

    /// Opens an existing database (migrating it like [`UserDb::open`]), never creating one:
    /// a missing file is an error. For delivery, where a database that is not there (a typo,
    /// a restore in progress) must make the MTA retry, not bounce every message against a
    /// new, empty database.
    pub fn open_existing(path: &Path) -> Result<UserDb> {
        UserDb::open_with(path, OpenFlags::default() - OpenFlags::SQLITE_OPEN_CREATE)
    }

    fn open_with(path: &Path, flags: OpenFlags) -> Result<UserDb> {
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let mut db = UserDb {
            conn,
            path: path.to_owned(),
        };
        db.migrate()?;
        Ok(db)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the file.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))?)
    }

    /// Creates or brings a database to exactly `version` (at most [`SCHEMA_VERSION`]), for
    /// migration tests: a file at every earlier version can then be opened and upgraded.
    #[doc(hidden)]
    pub fn migrate_to(path: &Path, version: i64) -> Result<()> {
        let mut conn = Connection::open(path)?;
        let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
        apply_migrations(&mut conn, found, version.min(SCHEMA_VERSION))
    }

    fn migrate(&mut self) -> Result<()> {
        let found = self.schema_version()?;
        if found > SCHEMA_VERSION {
            return Err(Error::SchemaTooNew {
                found,
                known: SCHEMA_VERSION,
            });
        }
        apply_migrations(&mut self.conn, found, SCHEMA_VERSION)
    }

    /// A user by name, or `None`.
    pub fn get(&self, name: &UserName) -> Result<Option<User>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM users WHERE name = ?1"),
                [name.as_str()],
                user_from_row,
            )
            .optional()?)
    }

    /// All users, by name.
    pub fn list(&self) -> Result<Vec<User>> {
        let mut statement = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM users ORDER BY name"))?;
        let users = statement
            .query_map([], user_from_row)?
            .collect::<rusqlite::Result<Vec<User>>>()?;
        Ok(users)
    }

    /// Adds a user with a password and a Maildir path (absolute; see [`default_maildir`]).
    pub fn add(
        &self,
        name: &UserName,
        password: &[u8],
        maildir: &Path,
        hasher: &PasswordHasher,
    ) -> Result<User> {
        self.add_with_uidl_map(name, password, maildir, hasher, false)
    }

    /// [`UserDb::add`] with the UIDL-map flag ([`User::uidl_map`]) in the same INSERT: for
    /// `pop3-admin user add --maildir`, which carries the old server's UIDLs into the
    /// maildrop's map before the row exists, so no login sees the maildrop without the flag.
    pub fn add_with_uidl_map(
        &self,
        name: &UserName,
        password: &[u8],
        maildir: &Path,
        hasher: &PasswordHasher,
        uidl_map: bool,
    ) -> Result<User> {
        let maildir = maildir_text(maildir)?;
        let hash = hasher.hash(password)?;
        self.insert(name, &hash, maildir, true, uidl_map)
    }

    fn insert(
        &self,
        name: &UserName,
        hash: &str,
        maildir: &str,
        enabled: bool,
        uidl_map: bool,
    ) -> Result<User> {
        let now = now();
        let inserted = self.conn.execute(
            "INSERT INTO users (name, password_hash, maildir, enabled, uidl_map, created_at,
                                updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (name) DO NOTHING",
            params![name.as_str(), hash, maildir, enabled, uidl_map, now],
        )?;
        if inserted == 0 {
            return Err(Error::UserExists(name.to_string()));
        }
        self.get(name)?
            .ok_or_else(|| Error::NoSuchUser(name.to_string()))
    }

    /// Removes a user and returns the row (so the caller can remove its mail if asked).
    pub fn remove(&self, name: &UserName) -> Result<User> {
        let user = self
            .get(name)?
            .ok_or_else(|| Error::NoSuchUser(name.to_string()))?;
        self.conn
            .execute("DELETE FROM users WHERE name = ?1", [name.as_str()])?;
        Ok(user)
    }

    /// Renames a user. The Maildir path stays as it was.
    pub fn rename(&self, from: &UserName, to: &UserName) -> Result<()> {
        if self.get(to)?.is_some() {
            return Err(Error::UserExists(to.to_string()));
        }
        self.update(from, "name = ?2", to.as_str())
    }

    /// Sets a new password.
    pub fn set_password(
        &self,
        name: &UserName,
        password: &[u8],
        hasher: &PasswordHasher,
    ) -> Result<()> {
        check_password(password)?;
        let hash = hasher.hash(password)?;
        self.update(name, "password_hash = ?2", &hash)
    }

    /// Replaces the stored hash (a rehash with current parameters after a login).
    pub fn replace_hash(&self, name: &UserName, hash: &str) -> Result<()> {
        self.update(name, "password_hash = ?2", hash)
    }

    /// Enables or disables logins.
    pub fn set_enabled(&self, name: &UserName, enabled: bool) -> Result<()> {
        self.update(name, "enabled = ?2", enabled)
    }

    /// Sets or clears the APOP secret (printable ASCII, 8 to 255 characters); password logins
    /// keep working ([`UserDb::set_apop`] with `only = false`).
    pub fn set_apop_secret(&self, name: &UserName, secret: Option<&str>) -> Result<()> {
        self.set_apop(name, secret, false)
    }

    /// Sets or clears the APOP secret and, in the same write, whether the user may log in
    /// only with APOP (`only`; RFC 1939 §7). Clearing the secret always clears `only`.
    pub fn set_apop(&self, name: &UserName, secret: Option<&str>, only: bool) -> Result<()> {
        if let Some(secret) = secret {
            if !(8..=255).contains(&secret.len()) {
                return Err(Error::InvalidApopSecret("must be 8 to 255 characters"));
            }
            if !secret.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
                return Err(Error::InvalidApopSecret("must be printable ASCII"));
            }
        }
        let only = only && secret.is_some();
        let changed = self.conn.execute(
            "UPDATE users SET apop_secret = ?2, apop_only = ?3, updated_at = ?4 WHERE name = ?1",
            params![name.as_str(), secret, only, now()],
        )?;
        if changed == 0 {
            return Err(Error::NoSuchUser(name.to_string()));
        }
        Ok(())
    }

    /// Records whether the user's maildrop has a map of carried-over UIDLs (set after
    /// `carry_over` wrote it; cleared only to give up the carried UIDLs on purpose).
    pub fn set_uidl_map(&self, name: &UserName, has_map: bool) -> Result<()> {
        self.update(name, "uidl_map = ?2", has_map)
    }

    /// Records a successful login of `user` (as read for this login), to the minute: when the
    /// recorded time is less than [`LAST_LOGIN_PRECISION_SECS`] old, nothing is written, so a
    /// client that logs in every few seconds costs no write transaction each time. Returns
    /// whether it wrote.
    pub fn record_login_of(&self, user: &User) -> Result<bool> {
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

    /// Runs the best-effort writes of a login (last login, rehash) with a short busy timeout:
    /// **a writer holding the database must not hold up a correct login** (nor the hash permit
    /// it runs under) for the usual 5 s; a write that cannot get the lock at once is skipped
    /// and reported.
    pub fn best_effort<T>(&self, write: impl FnOnce(&UserDb) -> Result<T>) -> Result<T> {
        self.conn.busy_timeout(BEST_EFFORT_BUSY_TIMEOUT)?;
        let result = write(self);
        let restored = self.conn.busy_timeout(BUSY_TIMEOUT);
        let value = result?;
        restored?;
        Ok(value)
    }

    /// Records a successful login now.
    pub fn record_login(&self, name: &UserName) -> Result<()> {
        self.conn.execute(
            "UPDATE users SET last_login_at = ?2 WHERE name = ?1",
            params![name.as_str(), now()],
        )?;
        Ok(())
    }

    /// `UPDATE users SET <assignment>, updated_at = now WHERE name = ?1`; the assignment is
    /// one of this file's constants, the value always a bound parameter.
    fn update(&self, name: &UserName, assignment: &str, value: impl rusqlite::ToSql) -> Result<()> {
        let changed = self.conn.execute(
            &format!("UPDATE users SET {assignment}, updated_at = ?3 WHERE name = ?1"),
            params![name.as_str(), value, now()],
        )?;
        if changed == 0 {
            return Err(Error::NoSuchUser(name.to_string()));
        }
        Ok(())
    }
}

/// Applies the migrations after `from` up to `to`, each in its own transaction with its
/// version, so a crash between two leaves a consistent, resumable file.
fn apply_migrations(conn: &mut Connection, from: i64, to: i64) -> Result<()> {
    for (version, sql) in (1..=to)
        .zip(MIGRATIONS)
        .skip(usize::try_from(from).unwrap_or(0))
    {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    Ok(())
}

/// A Maildir path as stored: absolute and UTF-8.
fn maildir_text(maildir: &Path) -> Result<&str> {
    maildir
        .to_str()
        .filter(|_| maildir.is_absolute())
        .ok_or_else(|| Error::InvalidMaildir(maildir.to_owned()))
}

/// The default Maildir of a new user: `<mail root>/<name>/Maildir`. The name is a validated
/// [`UserName`], a single safe path component.
pub fn default_maildir(mail_root: &Path, name: &UserName) -> PathBuf {
    mail_root.join(name.as_str()).join("Maildir")
}

const COLUMNS: &str = "name, password_hash, apop_secret, maildir, enabled, apop_only, \
                       created_at, updated_at, last_login_at, uidl_map";

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    let name: String = row.get(0)?;
    let maildir: String = row.get(3)?;
    Ok(User {
        // A stored name was validated when written; re-check rather than trust the file.
        name: UserName::parse(&name).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })?,
        password_hash: row.get(1)?,
        apop_secret: row.get(2)?,
        maildir: PathBuf::from(maildir),
        enabled: row.get(4)?,
        apop_only: row.get(5)?,
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
        last_login_at: row.get(8)?,
        uidl_map: row.get(9)?,
    })
}

/// How stale `last_login_at` may be: logins within this many seconds of the recorded one are
/// not written again.
pub const LAST_LOGIN_PRECISION_SECS: i64 = 60;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

mod import;
