//! The persistent per-maildrop size index, `.pop3d.index`: the raw and wire sizes of messages
//! whose names carry no valid `W=`, so their bodies are read once, not at every login.
//!
//! Format: a header line `pop3d-index 1`, then one line per message:
//! `<base name, %-escaped> <raw size> <wire size>`. It is rewritten atomically (temp file,
//! fsync, rename, fsync of the directory) and only when it changed. A damaged line is ignored
//! (that message is measured again); a damaged file is ignored as a whole. UIDLs never come
//! from here, so losing the index costs time, never correctness.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;

use rustix::fs::{Mode, OFlags};

use crate::atomic::{self, SyncDir};
use crate::error::Result;
use crate::maildir::Maildir;

/// The index file's name inside the Maildir.
pub const INDEX_FILE: &str = ".pop3d.index";
const HEADER: &str = "pop3d-index 1";
/// An index larger than this is ignored rather than read (about 100 bytes per message).
const MAX_INDEX_BYTES: u64 = 256 * 1024 * 1024;

/// Sizes by base name.
pub(crate) type SizeIndex = HashMap<Vec<u8>, Sizes>;

/// A message's stored and wire sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sizes {
    pub raw: u64,
    pub wire: u64,
}

/// Reads the index; a missing or unreadable one is empty.
pub(crate) fn load(maildir: &Maildir) -> SizeIndex {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let Ok(fd) = rustix::fs::openat(&maildir.root, INDEX_FILE, flags, Mode::empty()) else {
        return SizeIndex::new();
    };
    let mut text = Vec::new();
    if File::from(fd)
        .take(MAX_INDEX_BYTES)
        .read_to_end(&mut text)
        .is_err()
    {
        return SizeIndex::new();
    }
    parse(&text)
}

fn parse(text: &[u8]) -> SizeIndex {
    let mut lines = text.split(|&b| b == b'\n');
    if lines.next() != Some(HEADER.as_bytes()) {
        return SizeIndex::new();
    }
    lines
        .filter_map(|line| {
            let mut fields = line.split(|&b| b == b' ');
            let (Some(name), Some(raw), Some(wire), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                return None;
            };
            let raw = std::str::from_utf8(raw).ok()?.parse().ok()?;
            let wire = std::str::from_utf8(wire).ok()?.parse().ok()?;
            // The same bound as a W= field: a wire size is between raw and twice raw.
            (raw <= wire && wire <= u64::saturating_mul(raw, 2))
                .then(|| Some((unescape(name)?, Sizes { raw, wire })))
                .flatten()
        })
        .collect()
}

/// Writes the index atomically: temp file, fsync, rename over the old one, fsync the dir.
pub(crate) fn store(maildir: &Maildir, index: &SizeIndex) -> Result<()> {
    let mut entries: Vec<(&Vec<u8>, &Sizes)> = index.iter().collect();
    entries.sort_by_key(|(name, _)| *name);
    let mut text = Vec::with_capacity(32 + entries.len() * 64);
    text.extend_from_slice(HEADER.as_bytes());
    text.push(b'\n');
    for (name, sizes) in entries {
        escape_into(name, &mut text);
        text.extend_from_slice(format!(" {} {}\n", sizes.raw, sizes.wire).as_bytes());
    }
    atomic::replace(maildir, INDEX_FILE, &text, SyncDir::Yes)
}

fn escape_into(name: &[u8], out: &mut Vec<u8>) {
    for &b in name {
        if (0x21..=0x7e).contains(&b) && b != b'%' {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02x}").as_bytes());
        }
    }
}

fn unescape(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.iter();
    while let Some(&b) = bytes.next() {
        if b == b'%' {
            let hi = char::from(*bytes.next()?).to_digit(16)?;
            let lo = char::from(*bytes.next()?).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
        } else {
            out.push(b);
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests;
