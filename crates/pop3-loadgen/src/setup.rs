//! Benchmark fixtures: users in pop3d's database and a Dovecot passwd-file with the same
//! argon2id hashes, and deterministic Maildir corpora.

use std::fmt::Write as _;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{Context, Result};
use pop3_auth::UserStore as _;
use pop3_auth::{HashParams, PasswordHasher, UserDb, UserName, default_maildir};
use pop3_maildrop::Maildir;

/// Creates `<prefix>0..<prefix>count-1` with `password` hashed once with `params` (the same
/// PHC string for all, which costs the same to verify), their Maildirs under `mail_root`, and
/// appends `name:{ARGON2ID}<phc>` lines to the Dovecot passwd-file.
pub fn users(
    db: &Path,
    mail_root: &Path,
    passwd: &Path,
    prefix: &str,
    count: usize,
    password: &str,
    params: HashParams,
) -> Result<()> {
    let db = UserDb::open(db)?;
    let hasher = PasswordHasher::new(params)?;
    let phc = hasher.hash(password.as_bytes())?;
    let mut lines = String::new();
    for n in 0..count {
        let name = UserName::parse(&format!("{prefix}{n}"))?;
        let maildir = default_maildir(mail_root, &name);
        if db.get(&name)?.is_none() {
            db.add(&name, password.as_bytes(), &maildir, &hasher)?;
        }
        db.replace_hash(&name, &phc)?;
        Maildir::create(&maildir)?;
        let _ = writeln!(lines, "{name}:{{ARGON2ID}}{phc}::::::");
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(passwd)
        .and_then(|mut f| f.write_all(lines.as_bytes()))
        .with_context(|| format!("cannot write {}", passwd.display()))?;
    Ok(())
}

/// How the messages of a corpus are named.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Style {
    /// As Postfix's `local`/`virtual` name them: `<secs>.M<usecs>P<pid>Q<n>.<host>`, no sizes
    /// in the name, so a server must read or stat each file to learn its size.
    Postfix,
    /// As pop3d's own delivery names them: the same unique part with `,S=<raw>,W=<wire>`.
    Pop3d,
}

/// Fills a Maildir with `count` deterministic messages of about `size` octets each, named in
/// `style`; the first `in_cur` are in `cur/` with the info `:2,S` (seen by an earlier reader),
/// the rest in `new/`. Lines end in LF, as an MTA stores mail on Unix (the server converts to
/// CRLF on the wire); one line in eight starts with a dot.
pub fn fill(
    maildir: &Path,
    count: usize,
    size: usize,
    seed: u64,
    style: Style,
    in_cur: usize,
) -> Result<()> {
    let maildir = Maildir::create(maildir)?;
    let mut state = seed | 1;
    for n in 0..count {
        let message = message(n, size, seed, &mut state);
        let (dir, info) = if n < in_cur {
            ("cur", ":2,S")
        } else {
            ("new", "")
        };
        let name = format!("{}{info}", name(style, n as u64, &message));
        std::fs::write(maildir.path().join(dir).join(name), &message)?;
    }
    Ok(())
}

/// Delivers one new message the way Postfix does: written to `tmp/`, fsynced, owned by the
/// Maildir's owner, renamed into `new/` under a Postfix-style name. Returns the name.
pub fn deliver_postfix(maildir: &Path, n: u64) -> Result<String> {
    let owner =
        std::fs::metadata(maildir).with_context(|| format!("cannot stat {}", maildir.display()))?;
    let mut state = n | 1;
    let message = message(n as usize, 2_000, n, &mut state);
    let name = name(Style::Postfix, n, &message);
    let tmp = maildir.join("tmp").join(&name);
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(&message)?;
    file.sync_all()?;
    std::os::unix::fs::chown(&tmp, Some(owner.uid()), Some(owner.gid()))?;
    std::fs::rename(&tmp, maildir.join("new").join(&name))?;
    Ok(name)
}

/// The unique name of message `n`: one second and one microsecond apart per message, a fixed
/// pid, the queue counter `n`.
fn name(style: Style, n: u64, message: &[u8]) -> String {
    let unique = format!(
        "{}.M{:06}P4000Q{n}",
        1_767_225_628 + n / 7,
        (n * 104_729) % 1_000_000
    );
    match style {
        Style::Postfix => format!("{unique}.mail.example.net"),
        Style::Pop3d => {
            let lines = message.iter().filter(|&&b| b == b'\n').count();
            let raw = message.len();
            format!("{unique}.mail.example.net,S={raw},W={}", raw + lines)
        }
    }
}

/// Message `n`: a header and xorshift-random lines of 40 to 75 letters up to `size` octets.
fn message(n: usize, size: usize, seed: u64, state: &mut u64) -> Vec<u8> {
    let mut message = format!(
        "From: bench@example.org\nTo: user@example.org\nSubject: message {n}\n\
         Message-ID: <{seed}.{n}@bench>\n\n"
    )
    .into_bytes();
    let mut line = 0;
    while message.len() < size {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        if line % 8 == 0 {
            message.push(b'.');
        }
        let len = 40 + (*state % 36) as usize;
        message.extend((0..len).map(|i| b'a' + ((*state >> (i % 48)) % 26) as u8));
        message.push(b'\n');
        line += 1;
    }
    message
}

#[cfg(test)]
mod tests;
