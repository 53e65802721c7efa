//! The parts of pop3d's configuration the admin tool needs: where the user database, the mail
//! root and the admin socket are, the argon2 parameters new passwords are hashed with, and the
//! user new Maildirs belong to. Unknown keys are the server's business and are ignored here;
//! the server's own `check-config` validates the whole file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use pop3_auth::HashParams;
use serde::Deserialize;

/// What the admin tool reads from `pop3d.toml`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub user_db: PathBuf,
    pub mail_root: PathBuf,
    pub admin_socket: PathBuf,
    pub argon2: HashParams,
    /// The user and group the server runs as; new Maildirs are given to them.
    pub owner: Option<(String, String)>,
}

#[derive(Deserialize)]
struct Raw {
    data: RawData,
    #[serde(default)]
    auth: RawAuth,
    #[serde(default)]
    admin: RawAdmin,
    privileges: Option<RawPrivileges>,
}

#[derive(Deserialize)]
struct RawData {
    user_db: PathBuf,
    mail_root: PathBuf,
}

#[derive(Deserialize)]
#[serde(default)]
struct RawAuth {
    argon2_m_kib: u32,
    argon2_t: u32,
    argon2_p: u32,
}

impl Default for RawAuth {
    fn default() -> RawAuth {
        let p = HashParams::default();
        RawAuth {
            argon2_m_kib: p.m_kib,
            argon2_t: p.t,
            argon2_p: p.p,
        }
    }
}

#[derive(Deserialize)]
#[serde(default)]
struct RawAdmin {
    socket: PathBuf,
}

impl Default for RawAdmin {
    fn default() -> RawAdmin {
        RawAdmin {
            socket: PathBuf::from("/run/pop3d/admin.sock"),
        }
    }
}

#[derive(Deserialize)]
struct RawPrivileges {
    user: String,
    group: String,
}

impl Settings {
    /// Reads the settings from a pop3d config file.
    pub fn load(path: &Path) -> Result<Settings> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the pop3d config {}", path.display()))?;
        let raw: Raw = toml::from_str(&text)
            .with_context(|| format!("{}: not a pop3d config", path.display()))?;
        if !raw.data.mail_root.is_absolute() {
            bail!("{}: `data.mail_root` must be absolute", path.display());
        }
        let argon2 = HashParams {
            m_kib: raw.auth.argon2_m_kib,
            t: raw.auth.argon2_t,
            p: raw.auth.argon2_p,
        };
        argon2
            .validate()
            .with_context(|| format!("{}: `auth.argon2_*`", path.display()))?;
        Ok(Settings {
            user_db: raw.data.user_db,
            mail_root: raw.data.mail_root,
            admin_socket: raw.admin.socket,
            argon2,
            owner: raw.privileges.map(|p| (p.user, p.group)),
        })
    }
}
