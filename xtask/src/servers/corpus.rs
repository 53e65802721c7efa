//! The corpus: users with argon2id hashes in pop3d's database and Dovecot's passwd-file, and
//! deterministic maildrops, generated once as templates and hard-linked into each server's
//! tree.

use std::io::Read;
use std::path::Path;

use anyhow::Result;

use super::{Bench, Kind};
use crate::process::run;

impl Bench {
    /// Users and maildrops, generated once for pop3d and hard-linked for Dovecot.
    pub(super) fn corpus(&self, kinds: &[Kind]) -> Result<()> {
        let s = &self.sizes;
        let users: Vec<(&str, usize, u32, u32)> = vec![
            ("bench", s.login_clients, 19_456, 2),
            ("cheap", s.login_clients, 8, 1),
            ("retr", 4, 8, 1),
            ("big", 4, 8, 1),
            ("huge", 1, 8, 1),
            ("dele", 1, 8, 1),
            ("idle", s.idle.iter().copied().max().unwrap_or(0), 8, 1),
        ];
        for &kind in kinds {
            let tree = self.tree(kind);
            std::fs::create_dir_all(tree.join("mail"))?;
            for (prefix, count, m, t) in &users {
                let (m, t) = (m.to_string(), t.to_string());
                run(
                    &self.loadgen.display().to_string(),
                    &[
                        "--user-prefix",
                        prefix,
                        "--password",
                        "bench",
                        "setup-users",
                        "--db",
                        &tree.join("users.db").display().to_string(),
                        "--mail-root",
                        &tree.join("mail").display().to_string(),
                        "--passwd",
                        &tree.join("passwd").display().to_string(),
                        "--count",
                        &count.to_string(),
                        "--m-kib",
                        &m,
                        "--t",
                        &t,
                    ],
                    &[],
                )?;
            }
        }
        let template = self.work.join("templates");
        for (name, (count, size)) in [
            ("retr", s.retr),
            ("big", s.big),
            ("huge", (s.huge, 600)),
            ("dele", (s.dele, 600)),
        ] {
            let maildir = template.join(name);
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
                ],
                &[],
            )?;
        }
        for &kind in kinds {
            let mail = self.tree(kind).join("mail");
            for n in 0..4 {
                link_maildir(
                    &template.join("retr"),
                    &mail.join(format!("retr{n}/Maildir")),
                )?;
                link_maildir(&template.join("big"), &mail.join(format!("big{n}/Maildir")))?;
            }
            link_maildir(&template.join("huge"), &mail.join("huge0/Maildir"))?;
            if kind == Kind::Dovecot {
                run(
                    "chown",
                    &["-R", "nobody:nogroup", &mail.display().to_string()],
                    &[],
                )?;
            }
        }
        Ok(())
    }
}

/// Hard-links a template Maildir's files into a fresh Maildir (cp -al).
pub(super) fn link_maildir(template: &Path, target: &Path) -> Result<()> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let _ = std::fs::remove_dir_all(target);
    run(
        "cp",
        &[
            "-al",
            &template.display().to_string(),
            &target.display().to_string(),
        ],
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
