//! One user-database connection per blocking thread.
//!
//! This is no cache of user data: each query runs in a fresh read transaction, so with WAL it
//! sees every change committed since (a password change applies at the next login). The
//! runtime caps blocking threads (64), which caps these connections.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use pop3_auth::UserDb;

thread_local! {
    /// This thread's connection and the path it was opened for, opened on first use.
    static USER_DB: RefCell<Option<(PathBuf, UserDb)>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's connection to the database at `path`, opening it if needed;
/// after an error the connection is dropped, so the next login opens a fresh one. Call only
/// from a blocking thread.
pub(crate) fn with_user_db<T>(
    path: &Path,
    f: impl FnOnce(&UserDb) -> pop3_auth::Result<T>,
) -> pop3_auth::Result<T> {
    with_user_db_opened_by(path, UserDb::open, f)
}

/// [`with_user_db`], but a missing database is an error, never created: for LMTP delivery,
/// where an empty new database would make every recipient unknown and bounce the mail.
pub(crate) fn with_existing_user_db<T>(
    path: &Path,
    f: impl FnOnce(&UserDb) -> pop3_auth::Result<T>,
) -> pop3_auth::Result<T> {
    with_user_db_opened_by(path, UserDb::open_existing, f)
}

fn with_user_db_opened_by<T>(
    path: &Path,
    open: fn(&Path) -> pop3_auth::Result<UserDb>,
    f: impl FnOnce(&UserDb) -> pop3_auth::Result<T>,
) -> pop3_auth::Result<T> {
    USER_DB.with(|cell| {
        let mut slot = cell.borrow_mut();
        let db = match slot.take() {
            Some((open_path, db)) if open_path == path => db,
            _ => open(path)?,
        };
        let result = f(&db);
        if result.is_ok() {
            *slot = Some((path.to_owned(), db));
        }
        result
    })
}
