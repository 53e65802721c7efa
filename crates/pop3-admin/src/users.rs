//! User management, used by the CLI and the TUI alike: everything goes through `pop3-auth`
//! (the database) and `pop3-maildrop` (creating a new user's Maildir).

use std::path::Path;

use anyhow::{Context, Result, bail};
use pop3_auth::{PasswordHasher, User, UserDb, UserName, default_maildir};
use pop3_maildrop::Maildir;

use crate::settings::Settings;

/// An open user database with the hashing parameters of the server's config.
pub struct Users {
    settings: Settings,
    db: UserDb,
    hasher: PasswordHasher,
}

impl Users {
    pub fn open(settings: &Settings) -> Result<Users> {
        let db = UserDb::open(&settings.user_db).with_context(|| {
            format!(
                "cannot open the user database {}",
                settings.user_db.display()
            )
        })?;
        Ok(Users {
            hasher: PasswordHasher::new(settings.argon2)?,
            settings: settings.clone(),
            db,
        })
    }

    pub fn list(&self) -> Result<Vec<User>> {
        Ok(self.db.list()?)
    }

    /// Adds a user and creates its Maildir (mode 0700, owned by the server's user when one is
    /// configured and this runs as root).
    pub fn add(&self, name: &str, password: &[u8]) -> Result<User> {
        let name = UserName::parse(name)?;
        let maildir = default_maildir(&self.settings.mail_root, &name);
        let user = self.db.add(&name, password, &maildir, &self.hasher)?;
        if let Err(e) = create_maildir(&maildir, self.settings.owner.as_ref()) {
            // Without a Maildir the account is useless: take it back.
            let _ = self.db.remove(&name);
            return Err(e);
        }
        Ok(user)
    }

    pub fn set_password(&self, name: &str, password: &[u8]) -> Result<()> {
        Ok(self
            .db
            .set_password(&UserName::parse(name)?, password, &self.hasher)?)
    }

    pub fn set_enabled(&self, name: &str, enabled: bool) -> Result<()> {
        Ok(self.db.set_enabled(&UserName::parse(name)?, enabled)?)
    }

    pub fn set_apop(&self, name: &str, secret: Option<&str>) -> Result<()> {
        Ok(self.db.set_apop_secret(&UserName::parse(name)?, secret)?)
    }

    /// Removes a user; with `purge_mail`, its Maildir too (never following a symlink, and only
    /// the Maildir recorded for the user).
    pub fn remove(&self, name: &str, purge_mail: bool) -> Result<User> {
        let user = self.db.remove(&UserName::parse(name)?)?;
        if purge_mail {
            purge(&user.maildir)?;
        }
        Ok(user)
    }
}

fn create_maildir(path: &Path, owner: Option<&(String, String)>) -> Result<()> {
    Maildir::create(path)
        .with_context(|| format!("cannot create the Maildir {}", path.display()))?;
    let Some((user, group)) = owner else {
        return Ok(());
    };
    if !nix::unistd::Uid::effective().is_root() {
        return Ok(());
    }
    let uid = nix::unistd::User::from_name(user)?
        .with_context(|| format!("no user {user} (from [privileges])"))?
        .uid;
    let gid = nix::unistd::Group::from_name(group)?
        .with_context(|| format!("no group {group} (from [privileges])"))?
        .gid;
    // The user's directory and the Maildir with its three subdirectories.
    let mut dirs = vec![path.to_owned()];
    if let Some(parent) = path.parent() {
        dirs.push(parent.to_owned());
    }
    dirs.extend(["new", "cur", "tmp"].iter().map(|sub| path.join(sub)));
    for dir in dirs {
        std::os::unix::fs::chown(&dir, Some(uid.as_raw()), Some(gid.as_raw()))
            .with_context(|| format!("cannot give {} to {user}:{group}", dir.display()))?;
    }
    Ok(())
}

fn purge(maildir: &Path) -> Result<()> {
    match std::fs::symlink_metadata(maildir) {
        Ok(meta) if meta.is_dir() => {
            std::fs::remove_dir_all(maildir)
                .with_context(|| format!("cannot remove {}", maildir.display()))?;
            // The per-user directory above it, if that is now empty.
            if let Some(parent) = maildir.parent() {
                let _ = std::fs::remove_dir(parent);
            }
            Ok(())
        }
        Ok(_) => bail!("{} is not a directory; not removed", maildir.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot inspect {}", maildir.display())),
    }
}
