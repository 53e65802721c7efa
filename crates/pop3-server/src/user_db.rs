//! The user store of the server: one SQLite connection per blocking thread, or one shared
//! pool of PostgreSQL connections (issue 18).
//!
//! This is no cache of user data: each query runs in a fresh read transaction (SQLite with
//! WAL, or PostgreSQL), so it sees every change committed since (a password change applies at
//! the next login). The runtime caps blocking threads (64), which caps the SQLite
//! connections; `[data.postgres] pool_size` caps PostgreSQL's.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use pop3_auth::{PgSettings, PgStore, UserDb, UserDbLocation, UserStore};

thread_local! {
    /// This thread's SQLite connection and the path it was opened for, opened on first use.
    static USER_DB: RefCell<Option<(PathBuf, UserDb)>> = const { RefCell::new(None) };
}

/// The process's PostgreSQL pool and the settings it was made for (a reload that changes
/// them makes a new one).
static PG_POOL: Mutex<Option<(PgSettings, PgStore)>> = Mutex::new(None);

/// How much longer than its statement and connect timeouts a PostgreSQL lookup may take in
/// all (a checkout, a query, the retry of a stale connection, the hash) before the caller
/// gives up on it.
const DEADLINE_SLACK: Duration = Duration::from_secs(2);

/// How long a login's verification or an LMTP recipient's lookup may take before it is
/// answered as a temporary failure (`[SYS/TEMP]`, `451 4.3.0`): `connect_timeout +
/// statement_timeout + 2 s` with PostgreSQL (9 s by default), **whose queries have no
/// client-side deadline otherwise** (a stopped backend, or a host gone before TCP notices,
/// never answers); none with SQLite, whose busy timeout bounds every wait.
pub(crate) fn deadline(location: &UserDbLocation) -> Option<Duration> {
    match location {
        UserDbLocation::Sqlite(_) => None,
        UserDbLocation::Postgres(settings) => {
            Some(settings.connect_timeout + settings.statement_timeout + DEADLINE_SLACK)
        }
    }
}

/// Runs `f` with the store at `location`. Call only from a blocking thread.
///
/// **The server never creates the database** (`pop3-admin` and the package do): a missing
/// SQLite file (a typo, a restore in progress) or a PostgreSQL database without the schema
/// is an error, so logins answer `-ERR [SYS/TEMP]` and LMTP `451`; an empty new database
/// would make every user unknown, and every LMTP recipient a bounce (issue 17). **A
/// PostgreSQL database that is down is an error at once** (the pool connects in this thread,
/// with `connect_timeout`), and the next call connects again, so the server recovers by
/// itself when it returns.
pub(crate) fn with_user_db<T>(
    location: &UserDbLocation,
    f: impl FnOnce(&dyn UserStore) -> pop3_auth::Result<T>,
) -> pop3_auth::Result<T> {
    match location {
        UserDbLocation::Sqlite(path) => with_sqlite(path, f),
        UserDbLocation::Postgres(settings) => f(&pg_pool(settings)),
    }
}

/// This thread's SQLite connection, opened if needed; after an error the connection is
/// dropped, so the next query opens a fresh one.
fn with_sqlite<T>(
    path: &Path,
    f: impl FnOnce(&dyn UserStore) -> pop3_auth::Result<T>,
) -> pop3_auth::Result<T> {
    USER_DB.with(|cell| {
        let mut slot = cell.borrow_mut();
        let db = match slot.take() {
            Some((open_path, db)) if open_path == path => db,
            _ => UserDb::open_existing(path)?,
        };
        let result = f(&db);
        if result.is_ok() {
            *slot = Some((path.to_owned(), db));
        }
        result
    })
}

/// The shared pool for `settings` (a handle: clones share the connections).
fn pg_pool(settings: &PgSettings) -> PgStore {
    let mut slot = PG_POOL.lock().unwrap_or_else(|p| p.into_inner());
    match &*slot {
        Some((made_for, store)) if made_for == settings => store.clone(),
        _ => {
            let store = PgStore::new(settings, false);
            *slot = Some((settings.clone(), store.clone()));
            store
        }
    }
}
