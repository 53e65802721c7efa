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
/// after an error the connection is dropped, so the next query opens a fresh one. Call only
/// from a blocking thread.
///
/// **The server never creates the database** (`pop3-admin` and the package do): a missing
/// one (a typo, a restore in progress) is an error, so logins answer `-ERR [SYS/TEMP]` and
/// LMTP `451`; an empty new database would make every user unknown, and every LMTP
/// recipient a bounce (issue 17).
pub(crate) fn with_user_db<T>(
    path: &Path,
    f: impl FnOnce(&UserDb) -> pop3_auth::Result<T>,
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
