//! `[data]`: the user database and the mail root, needed by the server and the admin tool.

use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use crate::error::{Invalid, invalid};

/// `[data]` as written; both keys are required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawData {
    user_db: PathBuf,
    mail_root: Spanned<PathBuf>,
}

/// `[data]`, validated.
pub(crate) struct Data {
    pub(crate) user_db: PathBuf,
    pub(crate) mail_root: PathBuf,
}

impl RawData {
    /// **The mail root is absolute**: new Maildirs are made under it by `pop3-admin`, whatever
    /// its working directory, and their paths are stored in the user database.
    pub(crate) fn validate(self) -> Result<Data, Invalid> {
        if !self.mail_root.get_ref().is_absolute() {
            return Err(invalid(
                "data.mail_root",
                &self.mail_root,
                "must be an absolute path",
            ));
        }
        Ok(Data {
            user_db: self.user_db,
            mail_root: self.mail_root.into_inner(),
        })
    }
}
