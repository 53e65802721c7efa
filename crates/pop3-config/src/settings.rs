//! [`AdminSettings`]: the sections of `pop3d.toml` that `pop3-admin` needs, read with the
//! server's own section types, defaults and checks.

use std::path::PathBuf;

use pop3_auth::HashParams;
use serde::Deserialize;

use crate::admin::{AdminNode, RawAdmin};
use crate::auth::RawAuth;
use crate::data::RawData;
use crate::error::{ConfigError, Invalid, parse_and_validate};
use crate::quota::RawQuota;
use crate::server::RawPrivileges;

/// What the admin tool reads from `pop3d.toml`: where the user database, the mail root and
/// the admin socket are, the argon2 parameters new passwords are hashed with, and the user new
/// Maildirs belong to.
///
/// **A section the tool reads is read whole, with the same types and checks as
/// [`crate::Config`]**, so an unknown key or a bad value there is an error for both. Sections
/// it does not read (listeners, TLS, limits, metrics, …) are the server's business and are not
/// looked at: the delivery agent keeps delivering whatever `pop3d check-config` would say
/// about them, and a file with only `[data]` is enough for the tool.
#[derive(Debug, Clone)]
pub struct AdminSettings {
    /// The user database: a SQLite file, or a PostgreSQL database (issue 18).
    pub user_db: pop3_auth::UserDbLocation,
    /// Where the Maildirs of new users go; absolute.
    pub mail_root: PathBuf,
    /// The admin socket's path (`admin.socket`, or [`crate::DEFAULT_ADMIN_SOCKET`]), whether
    /// or not the server has it enabled.
    pub admin_socket: PathBuf,
    /// `[admin.nodes]`: the nodes the live commands and the TUI watch, in name order; empty
    /// when the section is absent (then only [`Self::admin_socket`], unnamed).
    pub nodes: Vec<AdminNode>,
    /// argon2id parameters for new password hashes.
    pub argon2: HashParams,
    /// SCRAM-SHA-256's iterations for the keys of new passwords, when the site enables it;
    /// `None`: a new password clears the keys.
    pub scram_iterations: Option<u32>,
    /// `[privileges]`: the user and group the server drops to. The admin tool, run as root,
    /// gives what it creates (the user database, new Maildirs) to them; without the section
    /// it looks for the systemd unit's `User=`.
    pub owner: Option<(String, String)>,
    /// `[quota]`: `deliver` refuses over it (exit 73), `user list` shows usage against it.
    pub quota: crate::Quota,
    /// The bounds of the server's per-user session history, so `user show` can say how far
    /// back the server remembers.
    pub history: crate::HistoryBounds,
}

impl AdminSettings {
    /// Parses and validates the admin tool's sections of config text; `file` names it in
    /// errors, which name the key and the line like [`crate::Config::parse`]'s.
    pub fn parse(text: &str, file: &str) -> Result<AdminSettings, ConfigError> {
        parse_and_validate(text, file, RawAdminSections::validate)
    }
}

/// The sections the admin tool reads; others are ignored (hence no `deny_unknown_fields` at
/// this level, while each section keeps its own).
#[derive(Debug, Deserialize)]
struct RawAdminSections {
    data: RawData,
    #[serde(default)]
    auth: RawAuth,
    #[serde(default)]
    admin: RawAdmin,
    privileges: Option<RawPrivileges>,
    #[serde(default)]
    quota: RawQuota,
}

impl RawAdminSections {
    fn validate(self) -> Result<AdminSettings, Invalid> {
        let data = self.data.validate()?;
        let argon2 = self.auth.argon2()?;
        let scram_iterations = self.auth.scram()?;
        let nodes = self.admin.nodes()?;
        let history = self.admin.history()?;
        Ok(AdminSettings {
            user_db: data.user_db,
            mail_root: data.mail_root,
            admin_socket: self.admin.socket,
            nodes,
            argon2,
            scram_iterations,
            owner: self.privileges.map(RawPrivileges::into_pair),
            quota: self.quota.validate()?,
            history,
        })
    }
}
