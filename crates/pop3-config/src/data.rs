//! `[data]`: the user database and the mail root, needed by the server and the admin tool.

use std::path::PathBuf;
use std::time::Duration;

use pop3_auth::{PgSettings, UserDbLocation};
use serde::Deserialize;
use toml::Spanned;

use crate::error::{Invalid, invalid};

/// `[data]` as written; `user_db` and `mail_root` are required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawData {
    /// A SQLite file, or a `postgresql://` URL (issue 18).
    user_db: Spanned<String>,
    mail_root: Spanned<PathBuf>,
    postgres: Option<Spanned<RawPostgres>>,
}

/// `[data.postgres]`: how to use a PostgreSQL `user_db`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPostgres {
    password_file: Option<PathBuf>,
    pool_size: Option<Spanned<usize>>,
    connect_timeout_secs: Option<Spanned<u64>>,
    statement_timeout_secs: Option<Spanned<u64>>,
}

/// `[data]`, validated.
pub(crate) struct Data {
    pub(crate) user_db: UserDbLocation,
    pub(crate) mail_root: PathBuf,
}

impl RawData {
    /// **The mail root is absolute**: new Maildirs are made under it by `pop3-admin`, whatever
    /// its working directory, and their paths are stored in the user database. **A PostgreSQL
    /// URL holds no password** (`pop3_auth::PgSettings::parse`; the message never repeats the
    /// URL), and `[data.postgres]` goes only with one.
    pub(crate) fn validate(self) -> Result<Data, Invalid> {
        if !self.mail_root.get_ref().is_absolute() {
            return Err(invalid(
                "data.mail_root",
                &self.mail_root,
                "must be an absolute path",
            ));
        }
        let mut user_db = UserDbLocation::parse(self.user_db.get_ref())
            .map_err(|e| invalid("data.user_db", &self.user_db, &e.to_string()))?;
        if let Some(raw) = &self.postgres {
            let UserDbLocation::Postgres(settings) = &mut user_db else {
                return Err(invalid(
                    "data.postgres",
                    raw,
                    "is only for a PostgreSQL user_db (postgresql://...)",
                ));
            };
            raw.get_ref().apply(settings)?;
        }
        Ok(Data {
            user_db,
            mail_root: self.mail_root.into_inner(),
        })
    }
}

impl RawPostgres {
    fn apply(&self, settings: &mut PgSettings) -> Result<(), Invalid> {
        if let Some(file) = &self.password_file {
            settings.password_file = Some(file.clone());
        }
        if let Some(size) = &self.pool_size {
            if !(1..=256).contains(size.get_ref()) {
                return Err(invalid("data.postgres.pool_size", size, "must be 1 to 256"));
            }
            settings.pool_size = *size.get_ref();
        }
        for (key, value, target) in [
            (
                "data.postgres.connect_timeout_secs",
                &self.connect_timeout_secs,
                &mut settings.connect_timeout,
            ),
            (
                "data.postgres.statement_timeout_secs",
                &self.statement_timeout_secs,
                &mut settings.statement_timeout,
            ),
        ] {
            if let Some(secs) = value {
                if !(1..=60).contains(secs.get_ref()) {
                    return Err(invalid(key, secs, "must be 1 to 60 seconds"));
                }
                *target = Duration::from_secs(*secs.get_ref());
            }
        }
        Ok(())
    }
}
