//! The persistent per-maildrop size index, `.pop3d.index`: the raw and wire sizes of messages
//! whose names carry no valid `W=`, so their bodies are read once, not at every login.
//!
//! Format: a header line `pop3d-index 1`, then one line per message:
//! `<base name, %-escaped> <raw size> <wire size>`; a later line for a base replaces an
//! earlier one. New entries are appended (write, fsync); the file is rewritten atomically
//! (temp file, fsync, rename) only when entries must go. A damaged line is ignored (that
//! message is measured again); a damaged file is ignored as a whole. UIDLs never come from
//! here, so losing the index costs time, never correctness.
//!
//! # Why an append cannot leave a wrong entry
//! A torn last line (a crash or a full disk mid-append) is rejected by the parser: cut in the
//! name or the raw size, it lacks a field; cut in the wire size, what is left is at most a
//! tenth of a wire size, which is at most twice the raw size, so it is below the raw size and
//! fails the `raw ≤ wire ≤ 2 × raw` check. The next append starts on a new line.
//!
//! # Why a crash may roll it back
//! The Maildir is not fsynced after a rewrite. A crash may bring back the previous index, whose
//! entries were all measured from files that are never modified in place: it lacks new
//! entries (measured again) or keeps those of removed messages (pruned by the next scan).

use std::fs::File;
use std::hash::Hasher;
use std::io::{Read, Write};

use rustix::fs::{Mode, OFlags};

use crate::atomic;
use crate::error::{Result, io_error};
use crate::maildir::Maildir;

/// The index file's name inside the Maildir.
pub const INDEX_FILE: &str = ".pop3d.index";
const HEADER: &str = "pop3d-index 1";
/// An index larger than this is ignored rather than read (about 100 bytes per message).
const MAX_INDEX_BYTES: u64 = 256 * 1024 * 1024;

mod table;

pub(crate) use table::{NameHasher, SizeIndex};

/// How the index file on disk ends, which decides how new entries are added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tail {
    /// No usable file (missing, unreadable, or not an index): write a whole one.
    Missing,
    /// A valid header and a last line ended by a newline.
    Line,
    /// A valid header and a torn last line: the next append starts a new line.
    Torn,
}

/// A message's stored and wire sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sizes {
    pub raw: u64,
    pub wire: u64,
}

/// Reads the index; a missing or unreadable one is empty.
pub(crate) fn load(maildir: &Maildir) -> (SizeIndex, Tail) {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let Ok(fd) = rustix::fs::openat(&maildir.root, INDEX_FILE, flags, Mode::empty()) else {
        return (SizeIndex::default(), Tail::Missing);
    };
    let mut text = Vec::new();
    match File::from(fd)
        .take(MAX_INDEX_BYTES + 1)
        .read_to_end(&mut text)
    {
        // Too large to append to: the next store rewrites it from what was read.
        Ok(_) if text.len() as u64 > MAX_INDEX_BYTES => (SizeIndex::default(), Tail::Missing),
        Ok(_) => {
            let index = parse(&text);
            // The whole header line: `pop3d-index 10` is another format, not this one.
            let tail = if !text.starts_with(format!("{HEADER}\n").as_bytes()) {
                Tail::Missing
            } else if text.last() == Some(&b'\n') {
                Tail::Line
            } else {
                Tail::Torn
            };
            (index, tail)
        }
        Err(_) => (SizeIndex::default(), Tail::Missing),
    }
}

fn parse(text: &[u8]) -> SizeIndex {
    let mut lines = text.split(|&b| b == b'\n');
    if lines.next() != Some(HEADER.as_bytes()) {
        return SizeIndex::default();
    }
    let mut index = SizeIndex::with_capacity(memchr::memchr_iter(b'\n', text).count(), text.len());
    // One buffer for every unescaped name: the index copies each into its own.
    let mut name = Vec::new();
    for line in lines {
        if let Some(sizes) = parse_line(line, &mut name) {
            index.insert_loaded(&name, sizes);
        }
    }
    index
}

/// One entry: its name unescaped into `name`, and its sizes; `None` for a damaged line.
fn parse_line(line: &[u8], name: &mut Vec<u8>) -> Option<Sizes> {
    let mut fields = line.split(|&b| b == b' ');
    let (Some(escaped), Some(raw), Some(wire), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return None;
    };
    let raw = std::str::from_utf8(raw).ok()?.parse().ok()?;
    let wire = std::str::from_utf8(wire).ok()?.parse().ok()?;
    // The same bound as a W= field: a wire size is between raw and twice raw.
    if !(raw <= wire && wire <= u64::saturating_mul(raw, 2)) {
        return None;
    }
    unescape_into(escaped, name)?;
    Some(Sizes { raw, wire })
}

/// Writes the index atomically: temp file, fsync, rename over the old one (no fsync of the
/// Maildir: an index rolled back by a crash is harmless, see the module documentation).
pub(crate) fn store(maildir: &Maildir, index: &SizeIndex) -> Result<()> {
    let mut entries: Vec<(&[u8], Sizes)> = index.iter().collect();
    entries.sort_unstable_by_key(|(name, _)| *name);
    let mut text = Vec::with_capacity(32 + entries.len() * 64);
    text.extend_from_slice(HEADER.as_bytes());
    text.push(b'\n');
    for (name, sizes) in entries {
        escape_into(name, &mut text);
        push_sizes(&mut text, &sizes);
    }
    // The Maildir is not fsynced: a rolled-back index is harmless (see the module docs).
    atomic::replace(maildir, INDEX_FILE, &text)
}

/// Appends entries to an existing index (`tail` is not [`Tail::Missing`]): one write, then an
/// fsync. On a full disk a torn line may stay behind, which the parser rejects.
pub(crate) fn append(maildir: &Maildir, tail: Tail, entries: &[(Box<[u8]>, Sizes)]) -> Result<()> {
    let mut text = Vec::with_capacity(1 + entries.len() * 64);
    if tail == Tail::Torn {
        text.push(b'\n');
    }
    for (name, sizes) in entries {
        escape_into(name, &mut text);
        push_sizes(&mut text, sizes);
    }
    let path = maildir.path().join(INDEX_FILE);
    let flags = OFlags::WRONLY | OFlags::APPEND | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(&maildir.root, INDEX_FILE, flags, Mode::empty())
        .map_err(|e| io_error("open", &path)(e.into()))?;
    let mut file = File::from(fd);
    file.write_all(&text)
        .and_then(|()| file.sync_data())
        .map_err(io_error("append", &path))
}

/// Forgets the sizes of `base` (a message found changed on disk when read), so the next scan
/// measures it. Best effort: if the index cannot be rewritten the entry stays, and the message
/// keeps failing to open until it can; it is never sent with a wrong size.
pub(crate) fn forget(maildir: &Maildir, base: &[u8]) -> Result<()> {
    let (mut index, _) = load(maildir);
    if index.remove(base).is_some() {
        store(maildir, &index)?;
    }
    Ok(())
}

fn push_sizes(text: &mut Vec<u8>, sizes: &Sizes) {
    // Writing into a Vec cannot fail.
    let _ = writeln!(text, " {} {}", sizes.raw, sizes.wire);
}

pub(crate) fn escape_into(name: &[u8], out: &mut Vec<u8>) {
    for &b in name {
        if (0x21..=0x7e).contains(&b) && b != b'%' {
            out.push(b);
        } else {
            let _ = write!(out, "%{b:02x}");
        }
    }
}

/// Undoes [`escape_into`]; `None` for a bad escape or an empty name.
pub(crate) fn unescape(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    unescape_into(text, &mut out)?;
    Some(out)
}

/// Undoes [`escape_into`] into `out` (cleared first); `None` for a bad escape or an empty name.
fn unescape_into(text: &[u8], out: &mut Vec<u8>) -> Option<()> {
    out.clear();
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
    (!out.is_empty()).then_some(())
}

/// FNV-1a, byte at a time: the checksum of the UIDL map (`carried/`), whose file format fixes
/// it. Tables of names hash with foldhash ([`NameHasher`]), which is faster.
#[derive(Default)]
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }
}

#[cfg(test)]
mod tests;
