//! The PostgreSQL user store (issue 18): [`PgStore`], the same rows and rules as the SQLite
//! store (`store.rs` holds the rules, `schema.rs` the migrations of both), over the
//! synchronous `postgres` client and a small bounded pool (`pg/pool.rs`).
//!
//! Why the synchronous client: this crate is synchronous and the server calls it on its
//! blocking pool, as it does SQLite; `tokio-postgres` would make the authenticator async for
//! one backend. The `postgres` crate is `tokio-postgres` driven by a small runtime of its own
//! per connection, so nothing blocks the server's async threads.
//!
//! **A database that goes away fails fast**: a new connection waits at most
//! `connect_timeout` (nothing at all on a Unix socket with no server: the connect is
//! refused), a statement at most `statement_timeout` (server side, with the same
//! `lock_timeout`), a checkout of a busy pool at most `connect_timeout`; a read on a pooled
//! connection that died unseen (the database restarted) is tried once more on a new one.
//!
//! **The URL never holds a password** ([`PgSettings::parse`] refuses one): it appears in
//! messages and logs. A password comes from `password_file`, read at each new connection;
//! better, peer authentication over the Unix socket needs none.

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postgres::error::SqlState;
use postgres::{Client, Row};

use crate::error::{Error, Result};
use crate::name::UserName;
use crate::policy::{PolicyOverrides, UserPolicy};
use crate::schema::{OVERRIDES_QUERIES, POLICY_SINCE, SCHEMA_VERSION, assignment_at, columns};
use crate::schema::{SELECT_SECRET, SERVER_SECRETS_SINCE};
use crate::store::{Field, NewRow, User, UserStore, now};

use pool::{Conn, Pool};

/// How long a best-effort write of a login waits for a row lock ([`UserStore::best_effort`]).
const BEST_EFFORT_LOCK_TIMEOUT_MS: u64 = 50;

/// Where and how to reach a PostgreSQL user store: `[data] user_db = "postgresql://..."` and
/// `[data.postgres]`.
#[derive(Clone)]
pub struct PgSettings {
    url: String,
    config: postgres::Config,
    /// A file holding the password (its first line), read at each new connection.
    pub password_file: Option<PathBuf>,
    /// At most this many connections per process.
    pub pool_size: usize,
    /// How long a connect, or a wait for a busy pool, may take.
    pub connect_timeout: Duration,
    /// How long a statement, or a wait for a lock, may take (server side).
    pub statement_timeout: Duration,
}

impl PgSettings {
    /// Whether `text` is a PostgreSQL URL (`postgres://` or `postgresql://`) rather than a
    /// SQLite path.
    pub fn is_url(text: &str) -> bool {
        text.starts_with("postgres://") || text.starts_with("postgresql://")
    }

    /// Parses a URL, with the defaults: a pool of 8, 2 s to connect, 5 s per statement.
    /// **A URL with a password is refused** ([`Error::InvalidPgUrl`]): a URL is shown in
    /// messages and logs, and the configuration file is often readable by many; use
    /// `password_file` or peer authentication. Error messages never repeat the URL.
    pub fn parse(url: &str) -> Result<PgSettings> {
        if !PgSettings::is_url(url) {
            return Err(Error::InvalidPgUrl(
                "must start with postgresql:// or postgres://".to_owned(),
            ));
        }
        let config = postgres::Config::from_str(url)
            .map_err(|e| Error::InvalidPgUrl(format!("not a PostgreSQL URL ({e})")))?;
        if config.get_password().is_some() {
            return Err(Error::InvalidPgUrl(
                "must not hold a password: put it in [data.postgres] password_file, or use \
                 peer authentication over the Unix socket"
                    .to_owned(),
            ));
        }
        Ok(PgSettings {
            url: url.to_owned(),
            config,
            password_file: None,
            pool_size: 8,
            connect_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(5),
        })
    }

    /// The URL, which holds no password.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl PartialEq for PgSettings {
    fn eq(&self, other: &PgSettings) -> bool {
        self.url == other.url
            && self.password_file == other.password_file
            && self.pool_size == other.pool_size
            && self.connect_timeout == other.connect_timeout
            && self.statement_timeout == other.statement_timeout
    }
}

impl Eq for PgSettings {}

impl fmt::Debug for PgSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgSettings")
            .field("url", &self.url)
            .field("password_file", &self.password_file)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .finish()
    }
}

/// A PostgreSQL user store: a pool; clones share it. Each call checks a connection out.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    url: String,
    /// The schema version the last connection found (the columns to read depend on it).
    schema: Arc<AtomicI64>,
    /// When the version was last read; it is read again on a checkout after
    /// [`SCHEMA_RECHECK`], so a server running while `pop3-admin` migrates sees the new
    /// columns without a restart.
    schema_checked: Arc<Mutex<Option<Instant>>>,
}

/// How often a long-running store reads the schema version again.
pub(crate) const SCHEMA_RECHECK: Duration = Duration::from_secs(30);

impl PgStore {
    /// A store for the database of `settings`, **connecting nothing now** (a database that is
    /// down when the server starts is an error at the first login, not at startup). With
    /// `create` (the admin tool), the first connection creates the schema in an empty
    /// database and migrates an older one; without (the server), **nothing is ever
    /// migrated**: a database without the schema is [`Error::NotInitialised`], one older than
    /// [`crate::OLDEST_SERVED`] [`Error::SchemaTooOld`], a newer one whose `min_reader` is
    /// above [`crate::SCHEMA_VERSION`] [`Error::SchemaTooNew`].
    pub fn new(settings: &PgSettings, create: bool) -> PgStore {
        let connect_settings = settings.clone();
        let seen = Arc::new(AtomicI64::new(SCHEMA_VERSION));
        let schema = Arc::clone(&seen);
        PgStore {
            pool: Pool::new(
                Box::new(move || schema::connect(&connect_settings, create, &seen)),
                settings.pool_size,
                settings.connect_timeout,
            ),
            url: settings.url.clone(),
            schema,
            schema_checked: Arc::new(Mutex::new(Some(Instant::now()))),
        }
    }

    /// Makes the next checkout read the schema version again (tests; in service it happens
    /// every [`SCHEMA_RECHECK`]).
    #[doc(hidden)]
    pub fn recheck_schema(&self) {
        if let Ok(mut checked) = self.schema_checked.lock() {
            *checked = None;
        }
    }

    /// [`PgStore::new`] that connects once now, so a wrong URL, a refused login or a missing
    /// schema is reported at once (the admin tool).
    pub fn open(settings: &PgSettings, create: bool) -> Result<PgStore> {
        let store = PgStore::new(settings, create);
        drop(store.session()?);
        Ok(store)
    }

    /// Creates or brings the schema of `settings`'s database to exactly `version` (at most
    /// [`crate::SCHEMA_VERSION`]), for migration tests.
    #[doc(hidden)]
    pub fn migrate_to(settings: &PgSettings, version: i64) -> Result<()> {
        schema::migrate(&mut schema::open(settings)?, version)
    }

    /// One connection for a series of calls.
    fn session(&self) -> Result<PgSession> {
        let mut conn = self.pool.get()?;
        let due = self
            .schema_checked
            .lock()
            .map(|mut checked| {
                let due = checked.is_none_or(|at| at.elapsed() >= SCHEMA_RECHECK);
                if due {
                    *checked = Some(Instant::now());
                }
                due
            })
            .unwrap_or(false);
        if due && let Some(client) = conn.client() {
            // A failure here leaves the version as it was; the call itself will report a
            // database that stopped answering.
            if let Ok(found) = schema::version(client) {
                self.schema.store(found, Ordering::Relaxed);
            }
        }
        Ok(PgSession {
            conn: RefCell::new(conn),
            url: self.url.clone(),
            schema: self.schema.load(Ordering::Relaxed),
        })
    }

    /// Runs an idempotent read; **on a pooled connection that turns out to be dead (the
    /// database restarted since it was used), once more on a new one**, so the first login
    /// after a restart does not fail.
    fn read<T>(&self, f: impl Fn(&PgSession) -> Result<T>) -> Result<T> {
        let session = self.session()?;
        match f(&session) {
            Err(_) if session.stale() => {
                drop(session);
                f(&self.session()?)
            }
            result => result,
        }
    }
}

impl UserStore for PgStore {
    fn location(&self) -> String {
        self.url.clone()
    }
    fn schema_version(&self) -> Result<i64> {
        self.read(|s| s.schema_version())
    }
    fn get(&self, name: &UserName) -> Result<Option<User>> {
        self.read(|s| s.get(name))
    }
    fn list(&self) -> Result<Vec<User>> {
        self.read(|s| s.list())
    }
    fn insert_row(&self, row: NewRow<'_>) -> Result<User> {
        self.session()?.insert_row(row)
    }
    fn update_field(&self, name: &UserName, field: Field<'_>) -> Result<bool> {
        self.session()?.update_field(name, field)
    }
    fn remove_row(&self, name: &UserName) -> Result<Option<User>> {
        self.session()?.remove_row(name)
    }
    fn rename(&self, from: &UserName, to: &UserName) -> Result<()> {
        self.session()?.rename(from, to)
    }
    fn record_login(&self, name: &UserName) -> Result<()> {
        self.session()?.record_login(name)
    }
    fn policy_overrides(&self) -> Result<PolicyOverrides> {
        self.read(|s| s.policy_overrides())
    }
    fn server_secret(&self, name: &str) -> Result<Option<String>> {
        self.read(|s| s.server_secret(name))
    }
    fn best_effort(&self, write: &mut dyn FnMut(&dyn UserStore) -> Result<()>) -> Result<()> {
        self.session()?.best_effort(write)
    }
}

/// One checked-out connection as a store: what [`PgStore`] runs each call on, and what a
/// best-effort write runs on (its `lock_timeout` is set on this connection only).
struct PgSession {
    conn: RefCell<Conn>,
    url: String,
    /// The schema version of the database, as its last connection found it.
    schema: i64,
}

impl PgSession {
    fn with<T>(&self, f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>) -> Result<T> {
        let mut conn = self.conn.borrow_mut();
        let client = conn
            .client()
            .ok_or_else(|| Error::Unavailable("PostgreSQL connection closed".to_owned()))?;
        Ok(f(client)?)
    }

    fn stale(&self) -> bool {
        let conn = self.conn.borrow();
        conn.reused() && conn.is_closed()
    }
}

impl UserStore for PgSession {
    fn location(&self) -> String {
        self.url.clone()
    }

    fn schema_version(&self) -> Result<i64> {
        let mut conn = self.conn.borrow_mut();
        let client = conn
            .client()
            .ok_or_else(|| Error::Unavailable("PostgreSQL connection closed".to_owned()))?;
        schema::version(client)
    }

    fn get(&self, name: &UserName) -> Result<Option<User>> {
        let sql = format!("SELECT {} FROM users WHERE name = $1", columns(self.schema));
        self.with(|c| c.query_opt(&sql, &[&name.as_str()]))?
            .map(|row| user_from_row(&row))
            .transpose()
    }

    fn list(&self) -> Result<Vec<User>> {
        let sql = format!("SELECT {} FROM users ORDER BY name", columns(self.schema));
        self.with(|c| c.query(&sql, &[]))?
            .iter()
            .map(user_from_row)
            .collect()
    }

    fn insert_row(&self, row: NewRow<'_>) -> Result<User> {
        let sql = format!(
            "INSERT INTO users (name, password_hash, maildir, enabled, uidl_map, created_at,
                                updated_at, scram_sha256)
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7) ON CONFLICT (name) DO NOTHING
             RETURNING {}",
            columns(self.schema)
        );
        let now = now();
        let params: [&(dyn postgres::types::ToSql + Sync); 7] = [
            &row.name.as_str(),
            &row.hash,
            &row.maildir,
            &row.enabled,
            &row.uidl_map,
            &now,
            &row.scram,
        ];
        match self.with(|c| c.query_opt(&sql, &params))? {
            Some(inserted) => user_from_row(&inserted),
            None => Err(Error::UserExists(row.name.to_string())),
        }
    }

    fn update_field(&self, name: &UserName, field: Field<'_>) -> Result<bool> {
        // The assignment is one of `schema.rs`'s constants; values are bound parameters.
        // PostgreSQL types every parameter, so each gets exactly the ones it uses.
        // Below version 6 (a server upgraded before its database) there are no SCRAM or
        // per-user columns: a new password writes its hash alone, the rest is refused.
        let field = match field {
            Field::Password { hash, .. } if self.schema < POLICY_SINCE => Field::PasswordHash(hash),
            Field::ScramSha256(_) | Field::Policy(..) if self.schema < POLICY_SINCE => {
                return Err(Error::SchemaTooOld {
                    found: self.schema,
                    needs: POLICY_SINCE,
                });
            }
            field => field,
        };
        let set = assignment_at(&field, self.schema);
        let now = now();
        let changed = match field {
            Field::PasswordHash(hash) => {
                let sql = format!("UPDATE users SET {set}, updated_at = $3 WHERE name = $1");
                self.with(|c| c.execute(&sql, &[&name.as_str(), &hash, &now]))?
            }
            Field::Enabled(value) | Field::UidlMap(value) => {
                let sql = format!("UPDATE users SET {set}, updated_at = $3 WHERE name = $1");
                self.with(|c| c.execute(&sql, &[&name.as_str(), &value, &now]))?
            }
            Field::ScramSha256(text) | Field::Policy(_, text) => {
                let sql = format!("UPDATE users SET {set}, updated_at = $3 WHERE name = $1");
                self.with(|c| c.execute(&sql, &[&name.as_str(), &text, &now]))?
            }
            Field::Password { hash, scram } => {
                let sql = format!("UPDATE users SET {set}, updated_at = $4 WHERE name = $1");
                self.with(|c| c.execute(&sql, &[&name.as_str(), &hash, &scram, &now]))?
            }
            Field::Apop { secret, only } => {
                let sql = format!("UPDATE users SET {set}, updated_at = $4 WHERE name = $1");
                self.with(|c| c.execute(&sql, &[&name.as_str(), &secret, &only, &now]))?
            }
        };
        Ok(changed > 0)
    }

    fn remove_row(&self, name: &UserName) -> Result<Option<User>> {
        let sql = format!(
            "DELETE FROM users WHERE name = $1 RETURNING {}",
            columns(self.schema)
        );
        self.with(|c| c.query_opt(&sql, &[&name.as_str()]))?
            .map(|row| user_from_row(&row))
            .transpose()
    }

    fn rename(&self, from: &UserName, to: &UserName) -> Result<()> {
        let result = self.with(|c| {
            c.execute(
                "UPDATE users SET name = $2, updated_at = $3 WHERE name = $1",
                &[&from.as_str(), &to.as_str(), &now()],
            )
        });
        match result {
            Ok(0) => Err(Error::NoSuchUser(from.to_string())),
            Ok(_) => Ok(()),
            Err(Error::Postgres(e)) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                Err(Error::UserExists(to.to_string()))
            }
            Err(e) => Err(e),
        }
    }

    fn record_login(&self, name: &UserName) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE users SET last_login_at = $2 WHERE name = $1",
                &[&name.as_str(), &now()],
            )
        })?;
        Ok(())
    }

    fn policy_overrides(&self) -> Result<PolicyOverrides> {
        if self.schema < POLICY_SINCE {
            return Ok(PolicyOverrides::default());
        }
        let mut values: [Vec<String>; 2] = Default::default();
        for (query, found) in OVERRIDES_QUERIES.iter().zip(values.iter_mut()) {
            *found = self
                .with(|c| c.query(*query, &[]))?
                .iter()
                .map(|row| row.try_get(0))
                .collect::<Result<_, _>>()?;
        }
        Ok(PolicyOverrides::from_values(&values[0], &values[1]))
    }

    fn server_secret(&self, name: &str) -> Result<Option<String>> {
        if self.schema < SERVER_SECRETS_SINCE {
            return Ok(None);
        }
        let row = self.with(|c| c.query_opt(SELECT_SECRET, &[&name]))?;
        Ok(row.map(|row| row.try_get(0)).transpose()?)
    }

    fn best_effort(&self, write: &mut dyn FnMut(&dyn UserStore) -> Result<()>) -> Result<()> {
        // One transaction, so the short lock timeout ends with it (`SET LOCAL`).
        self.with(|c| {
            c.batch_execute(&format!(
                "BEGIN; SET LOCAL lock_timeout = {BEST_EFFORT_LOCK_TIMEOUT_MS}"
            ))
        })?;
        match write(self) {
            Ok(()) => self.with(|c| c.batch_execute("COMMIT")),
            Err(error) => {
                let _ = self.with(|c| c.batch_execute("ROLLBACK"));
                Err(error)
            }
        }
    }
}

fn user_from_row(row: &Row) -> Result<User> {
    let name: String = row.try_get(0)?;
    let maildir: String = row.try_get(3)?;
    Ok(User {
        // A stored name was validated when written; re-check rather than trust the database.
        name: UserName::parse(&name)?,
        password_hash: row.try_get(1)?,
        apop_secret: row.try_get(2)?,
        maildir: Path::new(&maildir).to_owned(),
        enabled: row.try_get(4)?,
        apop_only: row.try_get(5)?,
        created_at: row.try_get(6)?,
        updated_at: row.try_get(7)?,
        last_login_at: row.try_get(8)?,
        uidl_map: row.try_get(9)?,
        policy: UserPolicy {
            expire: row.try_get(10)?,
            login_delay: row.try_get(11)?,
            quota_messages: row.try_get(12)?,
            quota_bytes: row.try_get(13)?,
        },
        scram_sha256: row.try_get(14)?,
    })
}

mod pool;
mod schema;
