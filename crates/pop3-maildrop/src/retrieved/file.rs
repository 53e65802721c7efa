//! `.pop3d.retrieved` on disk: read as a stream against the listing, written as a stream
//! through [`atomic::replace_durable_with`]. The format is in the parent module's docs.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::hash::BuildHasherDefault;
use std::io::{BufRead, BufReader, Read, Write};

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use super::clock::{
    BootTime, CARRY_TOLERANCE, Moment, WALL_FLOOR, carried_wall, days_secs, elapsed_from,
    valid_boot_id,
};
use crate::atomic;
use crate::error::{Error, Result, io_error};
use crate::index::{Fnv, escape_into, unescape};
use crate::maildir::Maildir;
use crate::message::Message;

/// The file's name inside the Maildir.
pub const RETRIEVED_FILE: &str = ".pop3d.retrieved";
/// Where a damaged file is set aside, for an administrator to look at (replacing an older one).
pub const RETRIEVED_DAMAGED_FILE: &str = ".pop3d.retrieved.damaged";
const HEADER: &[u8] = b"pop3d-retrieved 1";
/// A file larger than this is damaged (an entry is about 80 bytes: 3 million messages).
const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;
/// The longest line: a unique part of 255 octets, all escaped, and the three numbers.
const MAX_LINE: u64 = 1024;

pub(crate) type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// A first retrieval as held in memory: the boot id interned in [`Times::boots`].
#[derive(Debug, Clone, Copy)]
struct Stamp {
    wall: i64,
    boot: Option<(u32, i64)>,
}

/// The first-retrieval times of the listed messages, by message index (about 32 bytes a
/// message), and how many entries matched no listed message.
#[derive(Debug)]
pub(crate) struct Times {
    stamps: Vec<Option<Stamp>>,
    boots: Vec<String>,
    boot_index: FnvMap<String, u32>,
    /// Entries of messages not listed (gone, or left out by the scan) or of a unique part two
    /// listed files share: dropped at the next write.
    pub(crate) unmatched: usize,
}

impl Times {
    /// No times for `messages` messages.
    pub(crate) fn new(messages: usize) -> Times {
        Times {
            stamps: vec![None; messages],
            boots: Vec::new(),
            boot_index: FnvMap::default(),
            unmatched: 0,
        }
    }

    /// When message `index` was first retrieved, if recorded.
    pub(crate) fn get(&self, index: usize) -> Option<Moment> {
        let stamp = (*self.stamps.get(index)?)?;
        let boot = stamp.boot.and_then(|(b, secs)| {
            let id = self.boots.get(b as usize)?.clone();
            Some(BootTime { id, secs })
        });
        Some(Moment {
            wall: stamp.wall,
            boot,
        })
    }

    /// Whether message `index` has a time at least `days` days before `now` (see
    /// [`super::clock::has_expired`]), without building a [`Moment`].
    pub(crate) fn expired(&self, index: usize, now: &Moment, days: u32) -> bool {
        let Some(Some(stamp)) = self.stamps.get(index) else {
            return false;
        };
        let boot = stamp
            .boot
            .and_then(|(b, secs)| Some((self.boots.get(b as usize)?.as_str(), secs)));
        elapsed_from(stamp.wall, boot, now) >= days_secs(days)
    }

    /// Whether message `index` has a time.
    pub(crate) fn has(&self, index: usize) -> bool {
        matches!(self.stamps.get(index), Some(Some(_)))
    }

    /// Records `moment` for message `index`, its wall time no earlier than [`WALL_FLOOR`].
    pub(crate) fn set(&mut self, index: usize, moment: &Moment) {
        let boot = moment.boot.as_ref().map(|b| (b.id.as_str(), b.secs));
        self.set_raw(index, moment.wall.max(WALL_FLOOR), boot);
    }

    /// Moves every wall time forward to [`carried_wall`] at `now` (never back); how many
    /// moved by more than [`CARRY_TOLERANCE`], which are worth a rewrite of the file.
    pub(crate) fn carry_forward(&mut self, now: &Moment) -> usize {
        let mut moved = 0;
        for stamp in self.stamps.iter_mut().flatten() {
            let boot = stamp
                .boot
                .and_then(|(b, secs)| Some((self.boots.get(b as usize)?.as_str(), secs)));
            let carried = carried_wall(stamp.wall, boot, now);
            if carried > stamp.wall {
                if carried.saturating_sub(stamp.wall) > CARRY_TOLERANCE {
                    moved += 1;
                }
                stamp.wall = carried;
            }
        }
        moved
    }

    /// [`Times::set`] from borrowed parts (the parser's, allocating nothing per entry).
    fn set_raw(&mut self, index: usize, wall: i64, boot: Option<(&str, i64)>) {
        let boot = boot.map(|(id, secs)| (self.intern(id), secs));
        if let Some(slot) = self.stamps.get_mut(index) {
            *slot = Some(Stamp { wall, boot });
        }
    }

    /// Forgets message `index`'s time; whether it had one.
    pub(crate) fn clear(&mut self, index: usize) -> bool {
        self.stamps.get_mut(index).and_then(Option::take).is_some()
    }

    fn intern(&mut self, id: &str) -> u32 {
        if let Some(&b) = self.boot_index.get(id) {
            return b;
        }
        let b = u32::try_from(self.boots.len()).unwrap_or(u32::MAX);
        self.boots.push(id.to_owned());
        self.boot_index.insert(id.to_owned(), b);
        b
    }
}

/// What reading the file found.
#[derive(Debug)]
pub(crate) enum Loaded {
    /// No file: nothing was recorded (or it was lost).
    Missing,
    /// The file, matched against the listing.
    Read(Times),
    /// The file is not a whole, valid retrieval file; why.
    Damaged(String),
}

/// Reads the file a line at a time, keeping only the entries of listed messages: `by_base`
/// maps a unique part to its message index, `None` for one two listed files share. An I/O
/// error other than a missing file is an `Err` (the file may be fine: it must not be
/// replaced).
pub(crate) fn load(
    maildir: &Maildir,
    messages: usize,
    by_base: &FnvMap<&[u8], Option<usize>>,
) -> Result<Loaded> {
    let path = maildir.path().join(RETRIEVED_FILE);
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
    let fd = match rustix::fs::openat(&maildir.root, RETRIEVED_FILE, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(Loaded::Missing),
        Err(Errno::LOOP) => return Ok(Loaded::Damaged("is a symbolic link".into())),
        Err(e) => return Err(io_error("open", path)(e.into())),
    };
    let stat = rustix::fs::fstat(&fd).map_err(|e| io_error("stat", &path)(e.into()))?;
    if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::RegularFile {
        return Ok(Loaded::Damaged("not a regular file".into()));
    }
    let mut reader = BufReader::new(File::from(fd).take(MAX_FILE_BYTES + 1));
    let mut times = Times::new(messages);
    match parse(&mut reader, &mut times, by_base) {
        Ok(Ok(())) => Ok(Loaded::Read(times)),
        Ok(Err(reason)) => Ok(Loaded::Damaged(reason)),
        Err(e) => Err(io_error("read", path)(e)),
    }
}

/// The parse proper: `Ok(Err(reason))` for a damaged file. Entries are applied as they are
/// read; the caller keeps them only if the whole file, trailer and checksum, is good.
fn parse(
    reader: &mut impl BufRead,
    times: &mut Times,
    by_base: &FnvMap<&[u8], Option<usize>>,
) -> std::io::Result<Result<(), String>> {
    let mut line = Vec::with_capacity(256);
    let mut sum = FNV_OFFSET;
    let mut total = 0u64;
    let mut entries = 0usize;
    let mut trailer: Option<(usize, u64)> = None;
    let mut number = 0usize;
    loop {
        line.clear();
        let n = (&mut *reader)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        number += 1;
        total = total.saturating_add(n as u64);
        if total > MAX_FILE_BYTES {
            return Ok(Err("larger than 256 MiB".into()));
        }
        if trailer.is_some() {
            return Ok(Err("text after the `end` line".into()));
        }
        let Some(body) = line.strip_suffix(b"\n") else {
            return Ok(Err(if n as u64 > MAX_LINE {
                format!("line {number}: too long")
            } else {
                "truncated: no final newline".into()
            }));
        };
        if number == 1 {
            if body != HEADER {
                return Ok(Err("not a `pop3d-retrieved 1` file".into()));
            }
        } else if let Some(rest) = body.strip_prefix(b"end ") {
            match parse_trailer(rest) {
                Some(parsed) => trailer = Some(parsed),
                None => return Ok(Err("damaged `end` line".into())),
            }
            continue;
        } else {
            let Some((base, wall, boot)) = parse_entry(body) else {
                return Ok(Err(format!("line {number}: not a valid entry")));
            };
            entries += 1;
            match by_base.get(&*base) {
                Some(Some(index)) if times.has(*index) => {
                    return Ok(Err(format!("line {number}: unique part listed twice")));
                }
                Some(Some(index)) => times.set_raw(*index, wall, boot),
                _ => times.unmatched += 1,
            }
        }
        sum = fnv(sum, &line);
    }
    let Some((count, expected)) = trailer else {
        return Ok(Err(if number == 0 {
            "empty".into()
        } else {
            "no `end` line: truncated or damaged".into()
        }));
    };
    if count != entries {
        return Ok(Err(format!(
            "{entries} entries where the end line says {count}"
        )));
    }
    if sum != expected {
        return Ok(Err("checksum mismatch: the file is damaged".into()));
    }
    Ok(Ok(()))
}

/// `<count> <checksum>` after `end `.
fn parse_trailer(rest: &[u8]) -> Option<(usize, u64)> {
    let text = std::str::from_utf8(rest).ok()?;
    let (count, sum) = text.split_once(' ')?;
    if sum.len() != 16 {
        return None;
    }
    Some((count.parse().ok()?, u64::from_str_radix(sum, 16).ok()?))
}

/// The parts of one entry: unique part, wall time, boot (id and boot clock) if known.
type Entry<'a> = (Cow<'a, [u8]>, i64, Option<(&'a str, i64)>);

/// `<unique part, %-escaped> <wall> <boot id or -> <boot secs>`.
fn parse_entry(line: &[u8]) -> Option<Entry<'_>> {
    let mut fields = line.split(|&b| b == b' ');
    let (Some(base), Some(wall), Some(boot_id), Some(boot_secs), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return None;
    };
    let base = if base.contains(&b'%') {
        Cow::Owned(unescape(base)?)
    } else if base.is_empty() || !base.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return None;
    } else {
        Cow::Borrowed(base)
    };
    let number = |field: &[u8]| -> Option<i64> {
        let text = std::str::from_utf8(field).ok()?;
        let digits = text.strip_prefix('-').unwrap_or(text);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse().ok()
    };
    let wall = number(wall)?;
    let secs = number(boot_secs)?;
    let boot = match std::str::from_utf8(boot_id).ok()? {
        "-" => None,
        id if valid_boot_id(id) => Some((id, secs)),
        _ => return None,
    };
    Some((base, wall, boot))
}

/// Writes the times of `messages` that have one, in listing order, atomically and durably.
pub(crate) fn store(maildir: &Maildir, messages: &[Message], times: &Times) -> Result<()> {
    atomic::replace_durable_with(maildir, RETRIEVED_FILE, &mut |out| {
        write_all(out, messages, times)
    })
}

fn write_all(out: &mut dyn Write, messages: &[Message], times: &Times) -> std::io::Result<()> {
    let mut line = Vec::with_capacity(256);
    line.extend_from_slice(HEADER);
    line.push(b'\n');
    out.write_all(&line)?;
    let mut sum = fnv(FNV_OFFSET, &line);
    let mut count = 0usize;
    for (index, message) in messages.iter().enumerate() {
        let Some(moment) = times.get(index) else {
            continue;
        };
        line.clear();
        encode_entry(message.base(), &moment, &mut line);
        out.write_all(&line)?;
        sum = fnv(sum, &line);
        count += 1;
    }
    writeln!(out, "end {count} {sum:016x}")
}

/// One entry's line, newline included.
pub(crate) fn encode_entry(base: &[u8], moment: &Moment, out: &mut Vec<u8>) {
    escape_into(base, out);
    // Writing into a Vec cannot fail.
    let _ = match &moment.boot {
        Some(boot) => writeln!(out, " {} {} {}", moment.wall, boot.id, boot.secs),
        None => writeln!(out, " {} - 0", moment.wall),
    };
}

/// Moves a damaged file aside to [`RETRIEVED_DAMAGED_FILE`] (best effort: if it cannot be
/// moved, the next write replaces it).
pub(crate) fn set_aside(maildir: &Maildir) -> Result<()> {
    rustix::fs::renameat(
        &maildir.root,
        RETRIEVED_FILE,
        &maildir.root,
        RETRIEVED_DAMAGED_FILE,
    )
    .map_err(|e| io_error("rename", maildir.path().join(RETRIEVED_FILE))(e.into()))
}

/// The damage error, naming the file.
pub(crate) fn damaged(maildir: &Maildir, reason: String) -> Error {
    Error::RetrievedFile {
        path: maildir.path().join(RETRIEVED_FILE),
        reason,
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a 64, continued from `hash` over `bytes` (the same however the input is split).
fn fnv(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The text of a whole file with these entries, for tests that write one by hand.
#[cfg(test)]
pub(crate) fn encode(entries: &[(&[u8], Moment)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(HEADER);
    out.push(b'\n');
    for (base, moment) in entries {
        encode_entry(base, moment, &mut out);
    }
    let sum = fnv(FNV_OFFSET, &out);
    out.extend_from_slice(format!("end {} {sum:016x}\n", entries.len()).as_bytes());
    out
}

/// The header, `body` (entry lines as given, each to end in LF) and a correct `end` line:
/// for tests that feed the entry parser arbitrary lines past the checksum.
#[cfg(test)]
pub(crate) fn seal(body: &[u8], count: usize) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(HEADER);
    out.push(b'\n');
    out.extend_from_slice(body);
    let sum = fnv(FNV_OFFSET, &out);
    out.extend_from_slice(format!("end {count} {sum:016x}\n").as_bytes());
    out
}

/// [`parse`] of `text` against `bases` (message `i` has `bases[i]`), in memory.
#[cfg(test)]
pub(crate) fn parse_bytes(text: &[u8], bases: &[&[u8]]) -> Result<Times, String> {
    let mut by_base: FnvMap<&[u8], Option<usize>> = FnvMap::default();
    for (i, base) in bases.iter().enumerate() {
        by_base.insert(base, Some(i));
    }
    let mut times = Times::new(bases.len());
    match parse(&mut std::io::Cursor::new(text), &mut times, &by_base) {
        Ok(Ok(())) => Ok(times),
        Ok(Err(reason)) => Err(reason),
        Err(e) => Err(e.to_string()),
    }
}
