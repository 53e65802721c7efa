//! An existing Maildir as an import finds it, and whether pop3d could use it.
//!
//! **Nothing here writes**: the Maildir is opened the way the server opens it (no symbolic
//! link as the Maildir or one of `new/`, `cur/`, `tmp/`), its messages are counted by listing
//! `new/` and `cur/`, and access is checked with `access(2)` **as the user pop3d runs as**
//! (`[privileges]`): when that is another user, in a child process of this binary started as
//! that user (`pop3-admin internal-access-check`), so ACLs, groups and every directory above
//! the Maildir count exactly as they will for the server.

use std::io::{BufRead, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use nix::unistd::{AccessFlags, Gid, Uid, User};

use crate::settings::Settings;

/// What is at a Maildir's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Nothing.
    Missing,
    /// Something pop3d would refuse (a symlink, a directory without `cur/`, …): why.
    Unusable(String),
    /// A Maildir with this many messages in `new/` and `cur/`.
    Maildir {
        /// Messages.
        messages: usize,
    },
}

/// Looks at `path` without changing anything.
pub fn inspect(path: &Path) -> Found {
    match pop3_maildrop::Maildir::open(path) {
        Ok(_) => {}
        Err(pop3_maildrop::Error::Missing { path: missing }) if missing == path => {
            return Found::Missing;
        }
        Err(e) => return Found::Unusable(e.to_string()),
    }
    let mut messages = 0;
    for sub in ["new", "cur"] {
        let dir = path.join(sub);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => return Found::Unusable(format!("cannot list {}: {e}", dir.display())),
        };
        messages += entries
            .filter_map(|entry| entry.ok())
            .filter(|entry| !entry.file_name().as_encoded_bytes().starts_with(b"."))
            .count();
    }
    Found::Maildir { messages }
}

/// Who pop3d runs as, for the access check.
#[derive(Debug, Clone)]
pub struct ServerUser {
    /// For messages: `nobody (uid 65534, gid 65534)`.
    pub shown: String,
    uid: u32,
    gid: u32,
    /// Supplementary groups (the user's, under systemd's `User=`; none with `[privileges]`).
    groups: Vec<u32>,
    /// Whether checking needs a child process started as that user.
    switch: bool,
}

impl ServerUser {
    /// When this runs as root, the user pop3d runs as ([`crate::server_user::find`]: the
    /// `[privileges]` user, which pop3d drops to keeping only that group, else systemd's
    /// `User=` with the user's groups); else, or when neither names one, the caller: pop3d
    /// started by this user keeps its identity.
    pub fn of(settings: &Settings) -> Result<ServerUser> {
        let root = Uid::effective().is_root();
        if root && let Some(server) = crate::server_user::find(settings)? {
            return Ok(ServerUser {
                shown: format!("{}, from {}", server.shown(), server.from),
                uid: server.uid,
                gid: server.gid,
                groups: server.groups,
                switch: server.uid != 0,
            });
        }
        let (uid, gid) = (Uid::effective(), Gid::effective());
        let name = User::from_uid(uid)
            .ok()
            .flatten()
            .map_or_else(|| uid.to_string(), |u| u.name);
        Ok(ServerUser {
            shown: format!("{name} (uid {uid}, gid {gid}; no [privileges] drop)"),
            uid: uid.as_raw(),
            gid: gid.as_raw(),
            groups: Vec::new(),
            switch: false,
        })
    }

    /// For each Maildir, `None` if pop3d could read and write it and its three directories,
    /// else why not, with the owner and mode of what is in the way.
    pub fn check(&self, maildirs: &[PathBuf]) -> Result<Vec<Option<String>>> {
        let verdicts = if self.switch {
            self.check_in_child(maildirs)?
        } else {
            maildirs.iter().map(|m| access(m).err()).collect()
        };
        Ok(verdicts
            .into_iter()
            .zip(maildirs)
            .map(|(verdict, maildir)| {
                verdict.map(|why| {
                    format!(
                        "pop3d, running as {}, could not use it: {why}{}",
                        self.shown,
                        owner_of(maildir)
                    )
                })
            })
            .collect())
    }

    fn check_in_child(&self, maildirs: &[PathBuf]) -> Result<Vec<Option<String>>> {
        let mut input = String::new();
        for maildir in maildirs {
            let Some(text) = maildir.to_str().filter(|t| !t.contains('\n')) else {
                bail!("{} is not a path this tool can check", maildir.display());
            };
            input.push_str(text);
            input.push('\n');
        }
        let exe = std::env::current_exe().context("cannot find this program's path")?;
        // The child drops to the server's user itself, as pop3d does: started as that user,
        // it would need the right to execute this binary where it lies.
        let groups: Vec<String> = self.groups.iter().map(u32::to_string).collect();
        let groups = (!groups.is_empty()).then(|| format!("--groups={}", groups.join(",")));
        let mut child = Command::new(exe)
            .args([
                "internal-access-check",
                &self.uid.to_string(),
                &self.gid.to_string(),
            ])
            .args(groups)
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start the access check as {}", self.shown))?;
        let mut stdin = child
            .stdin
            .take()
            .context("no stdin for the access check")?;
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let output = child.wait_with_output()?;
        let _ = writer.join();
        if !output.status.success() {
            bail!(
                "the access check as {} failed: {}",
                self.shown,
                output.status
            );
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let verdicts: Vec<Option<String>> = text
            .lines()
            .map(|line| (line != "ok").then(|| line.to_owned()))
            .collect();
        if verdicts.len() != maildirs.len() {
            bail!("the access check as {} answered badly", self.shown);
        }
        Ok(verdicts)
    }
}

/// `pop3-admin internal-access-check UID GID [--groups=G,...]`: drops to `uid`:`gid` with
/// only the given supplementary groups (none, as pop3d's privilege drop; the user's, as
/// systemd's `User=`), then one verdict a line for each Maildir on stdin.
pub fn access_check_child(
    uid: u32,
    gid: u32,
    groups: &[u32],
    input: impl BufRead,
    mut out: impl Write,
) -> Result<()> {
    let (uid, gid) = (Uid::from_raw(uid), Gid::from_raw(gid));
    if Uid::effective() != uid {
        let mut all = vec![gid];
        all.extend(groups.iter().map(|&g| Gid::from_raw(g)));
        nix::unistd::setgroups(&all).context("setgroups")?;
        nix::unistd::setgid(gid).context("setgid")?;
        nix::unistd::setuid(uid).context("setuid")?;
    }
    for line in input.lines() {
        let line = line?;
        match access(Path::new(&line)) {
            Ok(()) => writeln!(out, "ok")?,
            Err(why) => writeln!(out, "{}", why.replace('\n', " "))?,
        }
    }
    Ok(())
}

/// Whether this process can read, write and search the Maildir and its three directories.
fn access(maildir: &Path) -> std::result::Result<(), String> {
    let all = AccessFlags::R_OK | AccessFlags::W_OK | AccessFlags::X_OK;
    for dir in [
        maildir.to_owned(),
        maildir.join("new"),
        maildir.join("cur"),
        maildir.join("tmp"),
    ] {
        if let Err(errno) = nix::unistd::access(&dir, all) {
            return Err(format!(
                "cannot read and write {} ({})",
                dir.display(),
                errno.desc()
            ));
        }
    }
    Ok(())
}

/// `; <maildir> belongs to alice (uid 1001), group 1001, mode 0700` (read as the caller).
fn owner_of(maildir: &Path) -> String {
    let Ok(meta) = std::fs::symlink_metadata(maildir) else {
        return String::new();
    };
    let user = User::from_uid(Uid::from_raw(meta.uid()))
        .ok()
        .flatten()
        .map_or_else(|| "no user".to_owned(), |u| u.name);
    format!(
        "; {} belongs to {user} (uid {}), group {}, mode {:04o}",
        maildir.display(),
        meta.uid(),
        meta.gid(),
        meta.permissions().mode() & 0o7777
    )
}
