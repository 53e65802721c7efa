//! The corpus: users with argon2id hashes in pop3d's database and Dovecot's passwd-file, and
//! deterministic maildrops, generated once as templates and hard-linked into each server's
//! tree.
//!
//! **Mail is named as Postfix's `local`/`virtual` store it** (`<secs>.M<usecs>P<pid>Q<n>.<host>`,
//! no `,S=`/`,W=`, LF line endings), as an outsider's server holds it; pop3d's own delivery
//! style (`,S=<raw>,W=<wire>`) is the second variant of the idle sessions only.

use std::io::Read;
use std::path::Path;

use anyhow::Result;

use super::{Bench, Kind};
use crate::process::run;

/// argon2id as deployed (pop3d's default, and the server configured for it), and as cheap
/// as the hash allows (for the cheap logins and the idle sessions, on a server configured so).
pub(super) const REALISTIC: (u32, u32) = (19_456, 2);
pub(super) const CHEAP: (u32, u32) = (8, 1);

impl Bench {
    /// Users and maildrops, generated once as templates and hard-linked for each server.
    pub(super) fn corpus(&self, kinds: &[Kind]) -> Result<()> {
        let s = &self.sizes;
        let idle = s.idle.iter().copied().max().unwrap_or(0);
        let users = [
            ("bench", s.login_clients, REALISTIC),
            ("retr", 4, REALISTIC),
            ("big", 4, REALISTIC),
            ("huge", 1, REALISTIC),
            ("fresh", 1, REALISTIC),
            ("dele", 1, REALISTIC),
            ("pipe", 1, REALISTIC),
            ("cheap", s.login_clients, CHEAP),
            ("idlep", idle, CHEAP),
            ("idlew", idle, CHEAP),
        ];
        for &kind in kinds {
            std::fs::create_dir_all(self.tree(kind).join("mail"))?;
            for &(prefix, count, params) in &users {
                self.setup_users(kind, prefix, count, params)?;
            }
        }
        let huge_in_cur = (s.huge * 9 / 10).to_string();
        for (name, (count, size), style, in_cur) in [
            ("retr", s.retr, "postfix", "0"),
            ("big", s.big, "postfix", "0"),
            ("huge", (s.huge, 600), "postfix", huge_in_cur.as_str()),
            ("dele", (s.dele, 600), "postfix", "0"),
            ("pipe", (s.mixed, 1000), "postfix", "0"),
            ("idlep", (3, 2000), "postfix", "0"),
            ("idlew", (3, 2000), "pop3d", "0"),
        ] {
            self.fill(name, count, size, style, in_cur)?;
        }
        for &kind in kinds {
            self.link_all(kind, idle)?;
        }
        Ok(())
    }

    /// `pop3-loadgen setup-users` for one prefix in one server's tree.
    fn setup_users(
        &self,
        kind: Kind,
        prefix: &str,
        count: usize,
        params: (u32, u32),
    ) -> Result<()> {
        let tree = self.tree(kind);
        let path = |p: &str| tree.join(p).display().to_string();
        run(
            &self.loadgen.display().to_string(),
            &[
                "--user-prefix",
                prefix,
                "--password",
                "bench",
                "setup-users",
                "--db",
                &path("users.db"),
                "--mail-root",
                &path("mail"),
                "--passwd",
                &path("passwd"),
                "--count",
                &count.to_string(),
                "--m-kib",
                &params.0.to_string(),
                "--t",
                &params.1.to_string(),
            ],
            &[],
        )
    }

    /// `pop3-loadgen fill` of one template Maildir.
    fn fill(&self, name: &str, count: usize, size: usize, style: &str, in_cur: &str) -> Result<()> {
        let maildir = self.work.join("templates").join(name);
        run(
            &self.loadgen.display().to_string(),
            &[
                "fill",
                "--maildir",
                &maildir.display().to_string(),
                "--count",
                &count.to_string(),
                "--size",
                &size.to_string(),
                "--style",
                style,
                "--in-cur",
                in_cur,
            ],
            &[],
        )
    }

    /// Every user's maildrop in one server's tree, linked from the templates.
    fn link_all(&self, kind: Kind, idle: usize) -> Result<()> {
        let template = self.work.join("templates");
        let mail = self.tree(kind).join("mail");
        for n in 0..4 {
            link_maildir(
                &template.join("retr"),
                &mail.join(format!("retr{n}/Maildir")),
            )?;
            link_maildir(&template.join("big"), &mail.join(format!("big{n}/Maildir")))?;
        }
        link_maildir(&template.join("huge"), &mail.join("huge0/Maildir"))?;
        link_maildir(&template.join("huge"), &mail.join("fresh0/Maildir"))?;
        link_maildir(&template.join("pipe"), &mail.join("pipe0/Maildir"))?;
        for n in 0..idle {
            for style in ["idlep", "idlew"] {
                link_maildir(
                    &template.join(style),
                    &mail.join(format!("{style}{n}/Maildir")),
                )?;
            }
        }
        if kind == Kind::Dovecot {
            chown_nobody(&mail)?;
        }
        Ok(())
    }
}

/// Hard-links a template Maildir's messages into a fresh Maildir (as `cp -al`, without a
/// process per maildrop).
pub(crate) fn link_maildir(template: &Path, target: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(target);
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(target.join(sub))?;
        for entry in std::fs::read_dir(template.join(sub))? {
            let entry = entry?;
            std::fs::hard_link(entry.path(), target.join(sub).join(entry.file_name()))?;
        }
    }
    Ok(())
}

/// Dovecot's mail processes run as `nobody`.
pub(super) fn chown_nobody(dir: &Path) -> Result<()> {
    run(
        "chown",
        &["-R", "nobody:nogroup", &dir.display().to_string()],
        &[],
    )
}

/// Reads every file below `dir`, so "cold" means a fresh server with a warm page cache.
pub(super) fn warm(dir: &Path) -> Result<()> {
    let mut stack = vec![dir.to_owned()];
    let mut buf = vec![0u8; 1 << 20];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(mut file) = std::fs::File::open(&path) {
                while file.read(&mut buf)? > 0 {}
            }
        }
    }
    Ok(())
}
