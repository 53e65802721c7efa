//! Benchmark fixtures: users in pop3d's database and a Dovecot passwd-file with the same
//! argon2id hashes, and deterministic Maildir corpora.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
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

/// Fills `maildir/new` with `count` deterministic messages of about `size` octets each, named
/// as a delivery agent names them (with `S=` and `W=`). Lines end in CRLF, one in eight starts
/// with a dot.
pub fn fill(maildir: &Path, count: usize, size: usize, seed: u64) -> Result<()> {
    let maildir = Maildir::create(maildir)?;
    let new = maildir.path().join("new");
    let mut state = seed | 1;
    for n in 0..count {
        let mut message = format!(
            "From: bench@example.org\r\nTo: user@example.org\r\nSubject: message {n}\r\n\
             Message-ID: <{seed}.{n}@bench>\r\n\r\n"
        )
        .into_bytes();
        let mut line = 0;
        while message.len() < size {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if line % 8 == 0 {
                message.push(b'.');
            }
            let len = 40 + (state % 36) as usize;
            message.extend((0..len).map(|i| b'a' + ((state >> (i % 48)) % 26) as u8));
            message.extend_from_slice(b"\r\n");
            line += 1;
        }
        let name = format!(
            "{}.M{n:06}P1Q{n}.bench,S={len},W={len}",
            1_700_000_000 + n as u64,
            len = message.len()
        );
        std::fs::write(new.join(name), &message)?;
    }
    Ok(())
}
