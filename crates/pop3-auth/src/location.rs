//! [`UserDbLocation`]: which store `[data] user_db` names, and opening it.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::db::UserDb;
use crate::error::Result;
use crate::pg::{PgSettings, PgStore};
use crate::store::UserStore;

/// The user store of a configuration: a SQLite file (the embedded default) or a PostgreSQL
/// database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserDbLocation {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database (boxed: the settings are much larger than a path).
    Postgres(Box<PgSettings>),
}

impl UserDbLocation {
    /// `user_db` as written: a `postgresql://` (or `postgres://`) URL, else a file path.
    pub fn parse(text: &str) -> Result<UserDbLocation> {
        if PgSettings::is_url(text) {
            Ok(UserDbLocation::Postgres(Box::new(PgSettings::parse(text)?)))
        } else {
            Ok(UserDbLocation::Sqlite(PathBuf::from(text)))
        }
    }

    /// The SQLite file, or `None` for PostgreSQL.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            UserDbLocation::Sqlite(path) => Some(path),
            UserDbLocation::Postgres(_) => None,
        }
    }

    /// Opens the store, creating it (the SQLite file, the PostgreSQL schema) if needed: for
    /// the admin tool. A PostgreSQL store is connected to once, so errors show now.
    pub fn open(&self) -> Result<Box<dyn UserStore>> {
        match self {
            UserDbLocation::Sqlite(path) => Ok(Box::new(UserDb::open(path)?)),
            UserDbLocation::Postgres(settings) => Ok(Box::new(PgStore::open(settings, true)?)),
        }
    }

    /// Opens an existing store, never creating one (a missing file, a database without the
    /// schema are errors): for delivery. An older schema is migrated.
    pub fn open_existing(&self) -> Result<Box<dyn UserStore>> {
        match self {
            UserDbLocation::Sqlite(path) => Ok(Box::new(UserDb::open_existing(path)?)),
            UserDbLocation::Postgres(settings) => Ok(Box::new(PgStore::open(settings, false)?)),
        }
    }
}

/// The path, or the URL (which never holds a password).
impl fmt::Display for UserDbLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserDbLocation::Sqlite(path) => write!(f, "{}", path.display()),
            UserDbLocation::Postgres(settings) => f.write_str(settings.url()),
        }
    }
}
