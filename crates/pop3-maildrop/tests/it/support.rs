//! Fixtures: temporary Maildirs and files placed in them.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pop3_maildrop::{Maildir, Maildrop, OpenOptions};

pub struct TempMaildir {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl TempMaildir {
    pub fn new() -> TempMaildir {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Maildir");
        Maildir::create(&path).unwrap();
        TempMaildir { dir, path }
    }

    pub fn maildir(&self) -> Maildir {
        Maildir::open(&self.path).unwrap()
    }

    /// Writes a file directly into `sub/` (as another program would).
    pub fn put(&self, sub: &str, name: &[u8], bytes: &[u8]) -> PathBuf {
        let path = self.path.join(sub).join(OsStr::from_bytes(name));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    pub fn open(&self) -> Maildrop {
        self.open_as("test-session").unwrap()
    }

    pub fn open_as(&self, session: &str) -> pop3_maildrop::Result<Maildrop> {
        Maildrop::open(&self.path, &options(session))
    }

    /// File names in `sub/`, sorted.
    pub fn names(&self, sub: &str) -> Vec<Vec<u8>> {
        names_in(&self.path.join(sub))
    }
}

pub fn names_in(dir: &Path) -> Vec<Vec<u8>> {
    let mut names: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().as_bytes().to_vec())
        .collect();
    names.sort();
    names
}

pub fn options(session: &str) -> OpenOptions {
    OpenOptions {
        session: session.to_owned(),
        lock_wait: Duration::ZERO,
        ..Default::default()
    }
}

/// The wire form of a message, computed the simple way.
pub fn crlf(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &b) in message.iter().enumerate() {
        if b == b'\n' && (i == 0 || message[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// Reads a message through the crate's reader, in small chunks.
pub fn read_all(maildrop: &Maildrop, index: usize) -> pop3_maildrop::Result<Vec<u8>> {
    let mut reader = maildrop.open_message(index)?;
    let mut out = Vec::new();
    let mut buf = [0u8; 7];
    loop {
        let n = reader.read_chunk(&mut buf)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// A small deterministic PRNG (xorshift64*), so fault tests are reproducible from a seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

impl TempMaildir {
    /// Sets `cur/`'s modification time a minute back, as if it last changed long ago (its
    /// change time becomes now, which the listing's stamp also records).
    pub fn settle_cur(&self) {
        let minute_ago = std::time::SystemTime::now() - Duration::from_secs(60);
        std::fs::File::open(self.path.join("cur"))
            .unwrap()
            .set_modified(minute_ago)
            .unwrap();
    }
}

/// What a session would tell a client: every message's UIDL, wire size and file name.
pub fn listed(maildrop: &Maildrop) -> Vec<(String, u64, Vec<u8>)> {
    maildrop
        .messages()
        .iter()
        .map(|m| {
            (
                m.uid().to_owned(),
                m.wire_size(),
                m.file_name().as_bytes().to_vec(),
            )
        })
        .collect()
}
