//! User management, used by the CLI and the TUI alike: everything goes through `pop3-auth`
//! (the database) and `pop3-maildrop` (creating a new user's Maildir).

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use pop3_auth::{PasswordHasher, Setting, User, UserName, UserStore, default_maildir};
use pop3_maildrop::{Existing, Maildir, Provisioned};

use crate::migrate;
use crate::migrate::maildir::{Found, ServerUser};
use crate::migrate::uidls;
use crate::server_user;
use crate::settings::Settings;
use crate::user_db;

/// How [`Users::add_existing`] takes a Maildir.
pub struct ExistingOptions<'a> {
    /// Add the user even if pop3d's user could not use the Maildir (with a warning).
    pub adopt: bool,
    /// Dovecot's `pop3_uidl_format`, for a `dovecot-uidlist` beside `cur/`.
    pub uidlist_format: &'a str,
    /// Add the user even if the Maildir has messages and no UIDL file of the old server.
    pub native_uidls: bool,
}

/// What [`Users::add_existing`] did.
pub struct Added {
    /// The user.
    pub user: User,
    /// Why pop3d's user could not use the Maildir, when added with `adopt`.
    pub warning: Option<String>,
    /// `N of M UIDLs carried over from FILE`, when the old server's file was found.
    pub uidls: Option<String>,
    /// What did not carry, and why; or the `native_uidls` note.
    pub notes: Vec<String>,
}

/// An open user database with the hashing parameters of the server's config.
pub struct Users {
    settings: Settings,
    db: Box<dyn UserStore>,
    hasher: PasswordHasher,
    warnings: Vec<String>,
}

impl Users {
    /// Opens the user database (creating it 0640, the server's when run as root:
    /// [`crate::user_db`]); what it had to warn about is in [`Users::warnings`].
    pub fn open(settings: &Settings) -> Result<Users> {
        let mut warnings = Vec::new();
        let db = user_db::open(settings, &mut warnings)?;
        Ok(Users {
            hasher: PasswordHasher::new(settings.argon2)?.with_scram(settings.scram_iterations)?,
            settings: settings.clone(),
            db,
            warnings,
        })
    }

    /// Warnings about the user database, for the caller to print.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn list(&self) -> Result<Vec<User>> {
        Ok(self.db.list()?)
    }

    /// One user, if they exist.
    pub fn get(&self, name: &str) -> Result<Option<User>> {
        Ok(self.db.get(&UserName::parse(name)?)?)
    }

    /// Adds a user and creates its Maildir (mode 0700; run as root, owned by the server's user,
    /// from `[privileges]` or the systemd unit: [`crate::server_user`]; with a warning in the
    /// answer when neither names one) without trusting what is under the mail root: a
    /// symlink, a file, someone else's or a non-empty directory at `<mail root>/<name>` is
    /// refused, unless `adopt`, which takes the Maildir found there as it is (nothing created
    /// or chowned). Returns the user, whether its Maildir was adopted, and a warning.
    pub fn add(
        &self,
        name: &str,
        password: &[u8],
        adopt: bool,
    ) -> Result<(User, bool, Option<String>)> {
        let name = UserName::parse(name)?;
        let (owner, unknown) = self.owner()?;
        let user = self.db.add(
            &name,
            password,
            &default_maildir(&self.settings.mail_root, &name),
            &self.hasher,
        )?;
        let existing = if adopt {
            Existing::Adopt
        } else {
            Existing::Refuse
        };
        match Maildir::provision(&self.settings.mail_root, name.as_str(), owner, existing) {
            Ok((_, Provisioned::Adopted)) => Ok((user, true, None)),
            Ok((maildir, Provisioned::Created)) => {
                let warning = unknown.then(|| {
                    server_user::unknown_warning(&format!(
                        "the new Maildir {} is",
                        maildir.path().display()
                    ))
                });
                Ok((user, false, warning))
            }
            Err(e) => {
                // Without a Maildir the account is useless: take it back.
                let _ = self.db.remove(&name);
                let hint = if matches!(e, pop3_maildrop::Error::Exists { .. }) {
                    " (to give this user the Maildir that is there, add --adopt)"
                } else {
                    ""
                };
                Err(anyhow!(e)).context(format!("cannot create the Maildir of {name}{hint}"))
            }
        }
    }

    /// Adds a user whose Maildir already exists at `maildir` (absolute), recording it as it is:
    /// **nothing is created, chmod-ed or chowned** (but for the map of carried-over UIDLs),
    /// and symlinks are never followed (the Maildir is opened as the server opens it). A
    /// Maildir pop3d's user could not read and write is refused, unless `options.adopt`,
    /// which adds the user anyway and returns the reason as a warning.
    ///
    /// **The old server's UIDLs are carried over before the row exists**, as `migrate` does:
    /// a `dovecot-uidlist` or `courierpop3dsizelist` beside `cur/` is read and written into
    /// the maildrop's map, and the row is inserted with its `uidl_map` flag in the same
    /// INSERT, so no client polling in between sees pop3d's own UIDLs. A Maildir with
    /// messages and neither file is refused unless `options.native_uidls`.
    pub fn add_existing(
        &self,
        name: &str,
        password: &[u8],
        maildir: &Path,
        options: &ExistingOptions<'_>,
    ) -> Result<Added> {
        let name = UserName::parse(name)?;
        if !maildir.is_absolute() {
            bail!("--maildir {} must be an absolute path", maildir.display());
        }
        let messages = match migrate::maildir::inspect(maildir) {
            Found::Maildir { messages } => messages,
            Found::Missing => bail!(
                "no Maildir at {} (--maildir takes an existing Maildir and never creates one; \
                 leave it out to create one under the mail root)",
                maildir.display()
            ),
            Found::Unusable(why) => bail!("cannot use {}: {why}", maildir.display()),
        };
        if self.db.get(&name)?.is_some() {
            bail!("user {name} exists; nothing was changed");
        }
        let server = ServerUser::of(&self.settings)?;
        let problem = server
            .check(&[maildir.to_owned()])?
            .into_iter()
            .next()
            .flatten();
        if let (Some(problem), false) = (&problem, options.adopt) {
            bail!(
                "{problem}. Give pop3d's user access (chown, or [privileges] in pop3d.toml), or \
                 add --adopt to add the user anyway; nothing was changed"
            );
        }
        let sources = uidls::beside(maildir, options.uidlist_format);
        let mut carried = None;
        let mut notes = Vec::new();
        match sources.iter().find(|s| s.path().exists()) {
            Some(source) => {
                let foreign = source.read().with_context(|| {
                    format!(
                        "{name} not added: without the old server's UIDLs every client would \
                         download everything again (fix or remove {})",
                        source.path().display()
                    )
                })?;
                let report = pop3_maildrop::carry_over(maildir, &foreign).with_context(|| {
                    format!(
                        "{name} not added: cannot carry the UIDLs of {} over",
                        source.path().display()
                    )
                })?;
                notes = uidls::notes(&report, source.path());
                carried = Some(format!(
                    "{} of {} UIDLs carried over from {}",
                    report.carried,
                    foreign.entries.len(),
                    source.path().display()
                ));
            }
            None if messages > 0 && !options.native_uidls => bail!(
                "{} has {messages} messages and no {}: pop3d would serve its own UIDLs and \
                 every client would download every message again. Put the old server's file \
                 there and run again, or add --native-uidls to serve pop3d's own UIDLs \
                 (every client downloads everything again); nothing was changed",
                maildir.display(),
                uidls::looked_for(&sources)
            ),
            None if messages > 0 => notes.push(format!(
                "--native-uidls: pop3d serves its own UIDLs; every client downloads these \
                 {messages} messages again"
            )),
            None => {}
        }
        let user =
            self.db
                .add_with_uidl_map(&name, password, maildir, &self.hasher, carried.is_some())?;
        Ok(Added {
            user,
            warning: problem,
            uidls: carried,
            notes,
        })
    }

    /// The uid and gid new Maildirs are given to: run as root, the server's user
    /// ([`server_user::find`]: `[privileges]`, else the systemd unit), or none and a warning
    /// (the Maildir is root's: true); run as anyone else, none (it is the caller's).
    fn owner(&self) -> Result<(Option<(u32, u32)>, bool)> {
        if !nix::unistd::Uid::effective().is_root() {
            return Ok((None, false));
        }
        Ok(match server_user::find(&self.settings)? {
            Some(server) => (Some((server.uid, server.gid)), false),
            None => (None, true),
        })
    }

    pub fn set_password(&self, name: &str, password: &[u8]) -> Result<()> {
        Ok(self
            .db
            .set_password(&UserName::parse(name)?, password, &self.hasher)?)
    }

    pub fn set_enabled(&self, name: &str, enabled: bool) -> Result<()> {
        Ok(self.db.set_enabled(&UserName::parse(name)?, enabled)?)
    }

    /// Sets a user's own policy values as typed (`default`: back to the site's), **all checked
    /// before any is written**, and returns the user as now stored.
    pub fn set_policy(&self, name: &str, changes: &[(Setting, Option<String>)]) -> Result<User> {
        let name = UserName::parse(name)?;
        let mut checked = Vec::new();
        for (setting, value) in changes {
            match value.as_deref() {
                None => {}
                Some("default") => checked.push((*setting, None)),
                Some(text) => checked.push((*setting, Some(setting.canonical(text)?))),
            }
        }
        for (setting, value) in &checked {
            self.db.set_policy(&name, *setting, value.as_deref())?;
        }
        self.db
            .get(&name)?
            .ok_or_else(|| anyhow!("no such user: {name}"))
    }

    /// Sets (with `only`: APOP-only, RFC 1939 §7) or clears the APOP secret.
    pub fn set_apop(&self, name: &str, secret: Option<&str>, only: bool) -> Result<()> {
        Ok(self.db.set_apop(&UserName::parse(name)?, secret, only)?)
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

fn purge(maildir: &Path) -> Result<()> {
    // A symlink anywhere on the recorded path (say `<mail_root>/<name>` replaced by a link
    // to someone's home) would make the recursive removal delete what it points at.
    match std::fs::canonicalize(maildir) {
        Ok(real) if real != maildir => bail!(
            "{} goes through a symbolic link (to {}); not removed",
            maildir.display(),
            real.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        _ => {}
    }
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
