//! The crate's one error type.

use std::path::PathBuf;

/// What can go wrong in the user database or an admin operation. Authentication failures are
/// not errors: they are [`crate::Outcome::Rejected`], so that callers cannot tell them apart
/// by accident.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A user name outside the allowlist.
    #[error("invalid user name: {0}")]
    InvalidName(&'static str),
    /// A password that cannot be set (empty, too long, or with NUL, CR or LF).
    #[error("invalid password: {0}")]
    InvalidPassword(&'static str),
    /// An APOP secret that cannot be set.
    #[error("invalid APOP secret: {0}")]
    InvalidApopSecret(&'static str),
    /// A per-user setting's value that is not one it takes.
    #[error(transparent)]
    InvalidSetting(#[from] crate::policy::InvalidSetting),
    /// A Maildir path that is not absolute or not valid UTF-8.
    #[error("invalid maildir path {0}: it must be absolute UTF-8")]
    InvalidMaildir(PathBuf),
    /// A password hash to store as it is that verification would not accept: an unknown
    /// scheme, or one of ours malformed or over its cost bounds (issue 16).
    #[error("cannot store this password hash: {0}")]
    UnsupportedHash(String),
    /// Invalid argon2 parameters in the configuration.
    #[error("invalid argon2 parameters: {0}")]
    InvalidParams(String),
    /// The user does not exist.
    #[error("no such user: {0}")]
    NoSuchUser(String),
    /// A user of that name exists already.
    #[error("user {0} exists already")]
    UserExists(String),
    /// The database was written by a newer pop3d.
    #[error(
        "the user database has schema version {found}, which this pop3d (up to {known}) \
         cannot use"
    )]
    SchemaTooNew {
        /// The database's `user_version`.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// The PostgreSQL database's schema is older than the server reads: only `pop3-admin`
    /// migrates it.
    #[error(
        "the user database has schema version {found}; this pop3d needs at least {needs}: \
         migrate it with pop3-admin (`pop3-admin user list` or any `pop3-admin user` command)"
    )]
    SchemaTooOld {
        /// The database's version.
        found: i64,
        /// The oldest this build serves.
        needs: i64,
    },
    /// The database is busy beyond the busy timeout, or locked.
    #[error("the user database is busy: {0}")]
    Busy(#[source] rusqlite::Error),
    /// Any other SQLite error.
    #[error("user database: {0}")]
    Sqlite(#[source] rusqlite::Error),
    /// Any PostgreSQL error: the database's own, or the connection's.
    #[error("user database (PostgreSQL): {0}")]
    Postgres(#[source] postgres::Error),
    /// The store cannot be reached now (a busy pool, a closed connection): retry later.
    #[error("user database unavailable: {0}")]
    Unavailable(String),
    /// The PostgreSQL database has no pop3d schema, and this caller does not create one.
    #[error("{0}")]
    NotInitialised(String),
    /// A `user_db` PostgreSQL URL that cannot be used. The message never repeats the URL.
    #[error("invalid PostgreSQL URL in user_db: {0}")]
    InvalidPgUrl(String),
    /// The PostgreSQL password file cannot be read.
    #[error("cannot read the PostgreSQL password file {}: {source}", path.display())]
    PasswordFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Hashing failed (never expected with valid parameters).
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The OS random number generator failed.
    #[error("random number generator failed: {0}")]
    Random(String),
}

impl Error {
    /// Whether a retry later may succeed (a busy or locked database): the delivery agent maps
    /// this to a temporary failure, the server to `[SYS/TEMP]`.
    pub fn is_temporary(&self) -> bool {
        match self {
            Error::Busy(_) | Error::Unavailable(_) => true,
            Error::Postgres(error) => pg_temporary(error),
            _ => false,
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(error: rusqlite::Error) -> Error {
        use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked};
        match error.sqlite_error_code() {
            Some(DatabaseBusy | DatabaseLocked) => Error::Busy(error),
            _ => Error::Sqlite(error),
        }
    }
}

impl From<postgres::Error> for Error {
    fn from(error: postgres::Error) -> Error {
        Error::Postgres(error)
    }
}

/// A PostgreSQL error that a later try may not meet: no answer from the database at all (a
/// connect refused or timed out, a closed connection), or one of its "try again" classes:
/// connection exceptions (08), insufficient resources (53), operator intervention (57:
/// shutdown, a statement timeout), a lock not available (55P03), serialization and deadlock
/// (40001, 40P01).
fn pg_temporary(error: &postgres::Error) -> bool {
    let Some(code) = error.code() else {
        return true;
    };
    let code = code.code();
    ["08", "53", "57"]
        .iter()
        .any(|class| code.starts_with(class))
        || ["55P03", "40001", "40P01"].contains(&code)
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
