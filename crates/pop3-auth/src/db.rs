//! The SQLite user store: one file, WAL mode and a busy timeout so the admin tool can write
//! while the server reads; the migrations of `schema.rs`, run on open.
//!
//! **The server reads a user's row on every login and keeps no cache**, so a password change,
//! a disable or a delete takes effect on the next login.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};

use crate::error::{Error, Result};
use crate::name::UserName;
use crate::policy::{PolicyOverrides, UserPolicy};
use crate::schema::OVERRIDES_QUERIES;
use crate::schema::{COLUMNS, MIGRATIONS, MIN_READER_SINCE, SCHEMA_VERSION, assignment};
use crate::schema::{
    INSERT_SECRET, SCRAM_FAKE_KEY, SELECT_SECRET, SERVER_SECRETS_SINCE, new_secret,
};
use crate::store::{Field, NewRow, User, UserStore, now};

/// How long a statement waits for a writer before failing with [`Error::Busy`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a best-effort write of a login waits for another writer ([`UserStore::best_effort`]).
const BEST_EFFORT_BUSY_TIMEOUT: Duration = Duration::from_millis(50);

/// An open SQLite user database.
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

    /// Creates or brings a database to exactly `version` (at most [`SCHEMA_VERSION`]), for
    /// migration tests: a file at every earlier version can then be opened and upgraded.
    #[doc(hidden)]
    pub fn migrate_to(path: &Path, version: i64) -> Result<()> {
        let mut conn = Connection::open(path)?;
        let found = version_of(&conn)?;
        apply_migrations(&mut conn, found, version.min(SCHEMA_VERSION))
    }

    fn migrate(&mut self) -> Result<()> {
        let found = version_of(&self.conn)?;
        if found > SCHEMA_VERSION {
            return Err(Error::SchemaTooNew {
                found,
                known: SCHEMA_VERSION,
            });
        }
        apply_migrations(&mut self.conn, found, SCHEMA_VERSION)
    }
}

impl UserStore for UserDb {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn schema_version(&self) -> Result<i64> {
        version_of(&self.conn)
    }

    fn get(&self, name: &UserName) -> Result<Option<User>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM users WHERE name = ?1"),
                [name.as_str()],
                user_from_row,
            )
            .optional()?)
    }

    fn list(&self) -> Result<Vec<User>> {
        let mut statement = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM users ORDER BY name"))?;
        let users = statement
            .query_map([], user_from_row)?
            .collect::<rusqlite::Result<Vec<User>>>()?;
        Ok(users)
    }

    fn insert_row(&self, row: NewRow<'_>) -> Result<User> {
        let inserted = self.conn.execute(
            "INSERT INTO users (name, password_hash, maildir, enabled, uidl_map, created_at,
                                updated_at, scram_sha256)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7) ON CONFLICT (name) DO NOTHING",
            params![
                row.name.as_str(),
                row.hash,
                row.maildir,
                row.enabled,
                row.uidl_map,
                now(),
                row.scram,
            ],
        )?;
        if inserted == 0 {
            return Err(Error::UserExists(row.name.to_string()));
        }
        self.get(row.name)?
            .ok_or_else(|| Error::NoSuchUser(row.name.to_string()))
    }

    fn update_field(&self, name: &UserName, field: Field<'_>) -> Result<bool> {
        // The assignment is one of `schema.rs`'s constants; values are bound parameters.
        let sql = format!(
            "UPDATE users SET {}, updated_at = ?4 WHERE name = ?1",
            assignment(&field).replace('$', "?")
        );
        let now = now();
        let changed = match field {
            Field::PasswordHash(hash) => self
                .conn
                .execute(&sql, params![name.as_str(), hash, None::<bool>, now])?,
            Field::ScramSha256(text) | Field::Policy(_, text) => self
                .conn
                .execute(&sql, params![name.as_str(), text, None::<bool>, now])?,
            Field::Enabled(value) | Field::UidlMap(value) => self
                .conn
                .execute(&sql, params![name.as_str(), value, None::<bool>, now])?,
            Field::Password { hash, scram } => self
                .conn
                .execute(&sql, params![name.as_str(), hash, scram, now])?,
            Field::Apop { secret, only } => self
                .conn
                .execute(&sql, params![name.as_str(), secret, only, now])?,
        };
        Ok(changed > 0)
    }

    fn remove_row(&self, name: &UserName) -> Result<Option<User>> {
        let Some(user) = self.get(name)? else {
            return Ok(None);
        };
        self.conn
            .execute("DELETE FROM users WHERE name = ?1", [name.as_str()])?;
        Ok(Some(user))
    }

    fn rename(&self, from: &UserName, to: &UserName) -> Result<()> {
        if self.get(to)?.is_some() {
            return Err(Error::UserExists(to.to_string()));
        }
        let changed = self.conn.execute(
            "UPDATE users SET name = ?2, updated_at = ?3 WHERE name = ?1",
            params![from.as_str(), to.as_str(), now()],
        )?;
        if changed == 0 {
            return Err(Error::NoSuchUser(from.to_string()));
        }
        Ok(())
    }

    fn record_login(&self, name: &UserName) -> Result<()> {
        self.conn.execute(
            "UPDATE users SET last_login_at = ?2 WHERE name = ?1",
            params![name.as_str(), now()],
        )?;
        Ok(())
    }

    fn policy_overrides(&self) -> Result<PolicyOverrides> {
        let mut values: [Vec<String>; 2] = Default::default();
        for (query, found) in OVERRIDES_QUERIES.iter().zip(values.iter_mut()) {
            let mut statement = self.conn.prepare(query)?;
            *found = statement
                .query_map([], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()?;
        }
        Ok(PolicyOverrides::from_values(&values[0], &values[1]))
    }

    fn server_secret(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(&SELECT_SECRET.replace('$', "?"), [name], |row| row.get(0))
            .optional()?)
    }

    fn best_effort(&self, write: &mut dyn FnMut(&dyn UserStore) -> Result<()>) -> Result<()> {
        self.conn.busy_timeout(BEST_EFFORT_BUSY_TIMEOUT)?;
        let result = write(self);
        let restored = self.conn.busy_timeout(BUSY_TIMEOUT);
        result?;
        restored?;
        Ok(())
    }
}

/// The version of a file: the `schema_version` table's (version 4 on) or `user_version`'s,
/// whichever is higher (an older pop3d only ever raised `user_version`).
fn version_of(conn: &Connection) -> Result<i64> {
    let pragma: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let table: Option<i64> = conn
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
            [],
            |_| Ok(()),
        )
        .optional()?
        .map(|()| conn.query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0)))
        .transpose()?
        .flatten();
    Ok(pragma.max(table.unwrap_or(0)))
}

/// Applies the migrations after `from` up to `to`, each in its own transaction with its
/// version, so a crash between two leaves a consistent, resumable file.
fn apply_migrations(conn: &mut Connection, from: i64, to: i64) -> Result<()> {
    for (version, migration) in (1..=to)
        .zip(MIGRATIONS)
        .skip(usize::try_from(from).unwrap_or(0))
    {
        let tx = conn.transaction()?;
        tx.execute_batch(migration.sqlite)?;
        if version == SERVER_SECRETS_SINCE {
            tx.execute(
                &INSERT_SECRET.replace('$', "?"),
                params![SCRAM_FAKE_KEY, new_secret()?],
            )?;
        }
        tx.pragma_update(None, "user_version", version)?;
        let has_table: Option<()> = tx
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
                [],
                |_| Ok(()),
            )
            .optional()?;
        if has_table.is_some() {
            tx.execute("UPDATE schema_version SET version = ?1", [version])?;
            if version >= MIN_READER_SINCE {
                tx.execute(
                    "UPDATE schema_version SET min_reader = ?1",
                    [migration.min_reader],
                )?;
            }
        }
        tx.commit()?;
    }
    Ok(())
}

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
        policy: UserPolicy {
            expire: row.get(10)?,
            login_delay: row.get(11)?,
            quota_messages: row.get(12)?,
            quota_bytes: row.get(13)?,
        },
        scram_sha256: row.get(14)?,
    })
}
