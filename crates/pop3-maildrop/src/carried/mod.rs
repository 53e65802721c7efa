//! The map of carried-over UIDLs, `.pop3d.uidl`: for each message another server served from
//! this Maildir, the UIDL clients know it by and its place in that server's order, keyed by
//! the unique part of the file name (so renames by other programs keep it).
//!
//! **A carried-over UIDL is never silently replaced.** The map is written atomically and
//! durably (temp file, fsync, rename, fsync of the Maildir), carries a checksum, and every
//! line is checked on load: anything wrong and the maildrop is not opened
//! ([`Error::UidlMap`]), whatever the policy, because serving pop3d's own UIDLs instead would
//! make every client download everything again. A maildrop that had a map must keep it: the
//! user database records that it has one, and the server opens it with
//! [`UidlMapPolicy::Required`], which makes a missing map the same error.
//!
//! Mail delivered after the switch is not in the map and gets pop3d's own UIDL; a deletion
//! drops its entry at the commit that removed the file (after the unlinks: a crash in between
//! leaves an entry for a vanished file, harmless, dropped at the next rewrite).
//!
//! # Format
//! ```text
//! pop3d-uidl 1
//! <unique part, %-escaped> <rank> <uidl>
//! ...
//! end <count> <checksum>
//! ```
//! The rank orders carried messages as the old server did; the checksum is FNV-1a 64 over
//! everything before the `end` line, in 16 lower-case hex digits. UIDLs are 1 to 255
//! characters in `0x21..=0x7E` (RFC 1939 says 70; older servers served longer ones, such as
//! Dovecot's `%f`, and clients know them by those), unique; unique parts are unique.

mod apply;
mod carry;

use std::borrow::Cow;
use std::collections::HashSet;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{Read, Write};

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use crate::atomic;
use crate::error::{Error, Result, io_error};
use crate::index::{Fnv, escape_into, unescape};
use crate::maildir::Maildir;

pub(crate) use apply::{Carried, load_and_apply};
pub use carry::{CarryReport, carry_over, plan_carry_over};

/// The map's file name inside the Maildir.
pub const UIDL_MAP_FILE: &str = ".pop3d.uidl";
const HEADER: &str = "pop3d-uidl 1";
/// The longest carried UIDL accepted.
pub const MAX_CARRIED_UIDL: usize = 255;
/// A map larger than this is refused as damaged (about 100 bytes per message).
const MAX_MAP_BYTES: u64 = 256 * 1024 * 1024;

/// Whether opening a maildrop needs its UIDL map.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UidlMapPolicy {
    /// Use the map if there is one (one failed `openat` when there is none); a damaged one
    /// fails the open.
    #[default]
    IfPresent,
    /// The maildrop had a map (the user database says so): a missing one fails the open too.
    Required,
}

/// One entry of the map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MapEntry {
    pub(crate) base: Vec<u8>,
    pub(crate) rank: u64,
    pub(crate) uidl: String,
}

impl MapEntry {
    fn borrowed(&self) -> EntryRef<'_> {
        EntryRef {
            base: Cow::Borrowed(&self.base),
            rank: self.rank,
            uidl: &self.uidl,
        }
    }
}

/// One entry as read, borrowing from the file's bytes (a login with a map of 100,000
/// entries allocates for none of them but the UIDLs it serves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryRef<'a> {
    pub(crate) base: Cow<'a, [u8]>,
    pub(crate) rank: u64,
    pub(crate) uidl: &'a str,
}

impl EntryRef<'_> {
    pub(crate) fn to_owned(&self) -> MapEntry {
        MapEntry {
            base: self.base.to_vec(),
            rank: self.rank,
            uidl: self.uidl.to_owned(),
        }
    }
}

/// A hash set of borrowed keys with the crate's FNV hasher.
type FnvSet<T> = HashSet<T, BuildHasherDefault<Fnv>>;

/// Whether `uidl` can be served as a carried-over UIDL.
pub(crate) fn valid_uidl(uidl: &str) -> bool {
    (1..=MAX_CARRIED_UIDL).contains(&uidl.len()) && uidl.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// The map, `None` if there is none; a damaged one is an [`Error::UidlMap`].
pub(crate) fn load(maildir: &Maildir) -> Result<Option<Vec<MapEntry>>> {
    let Some(bytes) = read(maildir)? else {
        return Ok(None);
    };
    let entries = parse(maildir, &bytes)?;
    Ok(Some(entries.iter().map(EntryRef::to_owned).collect()))
}

/// [`decode`] with its error as an [`Error::UidlMap`] naming the file.
pub(crate) fn parse<'a>(maildir: &Maildir, bytes: &'a [u8]) -> Result<Vec<EntryRef<'a>>> {
    decode(bytes).map_err(|reason| Error::UidlMap {
        path: maildir.path().join(UIDL_MAP_FILE),
        reason,
    })
}

/// The map file's bytes, `None` if there is none.
pub(crate) fn read(maildir: &Maildir) -> Result<Option<Vec<u8>>> {
    let path = maildir.path().join(UIDL_MAP_FILE);
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(&maildir.root, UIDL_MAP_FILE, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(None),
        Err(Errno::LOOP) => {
            return Err(Error::UidlMap {
                path,
                reason: "is a symbolic link".into(),
            });
        }
        Err(e) => return Err(io_error("open", path)(e.into())),
    };
    let mut bytes = Vec::new();
    File::from(fd)
        .take(MAX_MAP_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error("read", &path))?;
    Ok(Some(bytes))
}

/// Writes the map atomically and durably.
pub(crate) fn store(maildir: &Maildir, entries: &[MapEntry]) -> Result<()> {
    let entries: Vec<EntryRef<'_>> = entries.iter().map(MapEntry::borrowed).collect();
    store_refs(maildir, &entries)
}

/// [`store`] of borrowed entries.
pub(crate) fn store_refs(maildir: &Maildir, entries: &[EntryRef<'_>]) -> Result<()> {
    atomic::replace_durable(maildir, UIDL_MAP_FILE, &encode(entries))
}

fn encode(entries: &[EntryRef<'_>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + entries.len() * 96);
    out.extend_from_slice(HEADER.as_bytes());
    out.push(b'\n');
    for entry in entries {
        escape_into(&entry.base, &mut out);
        // Writing into a Vec cannot fail.
        let _ = writeln!(out, " {} {}", entry.rank, entry.uidl);
    }
    let sum = checksum(&out);
    let _ = writeln!(out, "end {} {sum:016x}", entries.len());
    out
}

fn decode(bytes: &[u8]) -> Result<Vec<EntryRef<'_>>, String> {
    if bytes.len() as u64 > MAX_MAP_BYTES {
        return Err("larger than 256 MiB".into());
    }
    let body = bytes
        .strip_suffix(b"\n")
        .ok_or("truncated: no final newline")?;
    let trailer_at = memchr::memrchr(b'\n', body).map_or(0, |i| i + 1);
    let (content, trailer) = body.split_at(trailer_at);
    let trailer = std::str::from_utf8(trailer).map_err(|_| "damaged trailer")?;
    let (count, sum) = match trailer.split(' ').collect::<Vec<_>>()[..] {
        ["end", count, sum] if sum.len() == 16 => {
            (count.parse::<usize>(), u64::from_str_radix(sum, 16))
        }
        _ => return Err("no `end` line: truncated or damaged".into()),
    };
    let (Ok(count), Ok(sum)) = (count, sum) else {
        return Err("damaged `end` line".into());
    };
    if checksum(content) != sum {
        return Err("checksum mismatch: the file is damaged".into());
    }
    let mut lines = content.split(|&b| b == b'\n');
    if lines.next() != Some(HEADER.as_bytes()) {
        return Err(format!("not a `{HEADER}` file"));
    }
    let mut entries: Vec<EntryRef<'_>> = Vec::with_capacity(count.min(content.len() / 6));
    for (i, line) in lines.enumerate().filter(|(_, line)| !line.is_empty()) {
        let bad = |what: &str| format!("line {}: {what}", i + 2);
        let mut fields = line.split(|&b| b == b' ');
        let (Some(base), Some(rank), Some(uidl), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(bad("not `<unique part> <rank> <uidl>`"));
        };
        let base = if base.contains(&b'%') {
            Cow::Owned(unescape(base).ok_or_else(|| bad("bad unique part"))?)
        } else if base.is_empty() || !base.iter().all(|b| (0x21..=0x7e).contains(b)) {
            return Err(bad("bad unique part"));
        } else {
            Cow::Borrowed(base)
        };
        let rank = std::str::from_utf8(rank)
            .ok()
            .and_then(|r| r.parse::<u64>().ok())
            .ok_or_else(|| bad("bad rank"))?;
        let uidl = std::str::from_utf8(uidl)
            .ok()
            .filter(|u| valid_uidl(u))
            .ok_or_else(|| bad("bad UIDL"))?;
        entries.push(EntryRef { base, rank, uidl });
    }
    if entries.len() != count {
        return Err(format!(
            "{} entries where the end line says {count}",
            entries.len()
        ));
    }
    let mut bases: FnvSet<&[u8]> = FnvSet::with_capacity_and_hasher(count, Default::default());
    let mut uidls: FnvSet<&str> = FnvSet::with_capacity_and_hasher(count, Default::default());
    for entry in &entries {
        if !bases.insert(&entry.base) {
            let shown = String::from_utf8_lossy(&entry.base);
            return Err(format!("unique part {shown} listed twice"));
        }
        if !uidls.insert(entry.uidl) {
            return Err(format!("UIDL {} listed twice", entry.uidl));
        }
    }
    Ok(entries)
}

fn checksum(bytes: &[u8]) -> u64 {
    let mut hasher = Fnv::default();
    hasher.write(bytes);
    hasher.finish()
}

#[cfg(test)]
mod tests;
