//! The persistent listing, `.pop3d.listing`: the result of the last full scan of `cur/`, kept
//! so that a login to an unchanged maildrop costs one `fstat` and one file read instead of a
//! readdir, a parse and a sort of every name (the difference at 100,000 messages is a
//! readdir's worth of kernel time).
//!
//! # When it is trusted
//! The listing records `cur/`'s stamp (device, inode, modification and change times, to the
//! nanosecond) taken *before* the readdir that produced it. Any rename into or out of `cur/`,
//! any unlink in it, changes the stamp, so the next scan ignores the listing and rescans.
//! One race remains: a change within the same timestamp tick as the stamp, after the
//! readdir. So a listing is only written when `cur/` was last modified more than [`SETTLE`]
//! before the moment its stamp was taken (not the end of the scan: a slow readdir must not
//! make an unsettled stamp look settled; the same rule git uses for its index); a maildrop changed in the last two seconds is
//! always rescanned. File systems whose directory times do not move on rename/unlink (some
//! network file systems) must not host maildrops with this cache; no local one does that.
//!
//! # Why it is safe
//! The listing names files that `DELE` unlinks, so a damaged listing could delete mail the
//! user never saw. It is written atomically (temp file, fsync, rename), carries a checksum,
//! and every field is checked on load (names must be plain file names, sizes plausible);
//! anything wrong and the listing is ignored. Message contents are still checked when read
//! (size against the listing), as after a full scan.
//!
//! # Format (little-endian)
//! `pop3d-listing\0`, version `u32`, the stamp (6 × `u64`), the count `u64`, then per message:
//! name length `u16`, name, base length `u16`, raw size `u64` (`u64::MAX`: unknown), wire
//! size `u64`, digest-UIDL length `u8` and the digest UIDL; finally the checksum `u64` of
//! everything before it.

use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, Mode, OFlags};

use crate::atomic;
use crate::error::Result;
use crate::maildir::Maildir;
use crate::message::Message;
use crate::name::MAX_MESSAGE_SIZE;

/// The listing file's name inside the Maildir.
pub const LISTING_FILE: &str = ".pop3d.listing";
const MAGIC: &[u8] = b"pop3d-listing\0";
const VERSION: u32 = 1;
/// A stamp must be this old before a listing taken under it is written.
pub(crate) const SETTLE: Duration = Duration::from_secs(2);
/// Listings larger than this are neither written nor read (about 80 bytes per message).
const MAX_LISTING_BYTES: u64 = 512 * 1024 * 1024;
/// The largest listing [`totals`] reads: 32 MiB, about 350,000 messages at the usual 90
/// bytes or so per record (a 100,000-message listing is about 9 MB). `totals` serves the
/// admin tool, which runs as root over every user's Maildir, so **a user's own file must
/// not make it allocate hundreds of megabytes** (a sparse file with a forged count costs
/// the user no disk); a larger maildrop shows unknown counts, as without a listing.
const MAX_TOTALS_BYTES: u64 = 32 * 1024 * 1024;
/// The smallest and the largest record: the length fields and sizes (21 bytes) with a
/// one-byte name, and with a 255-byte name and a [`MAX_UID`]-byte digest. A listing's size
/// must fall between its count times these, so its count (in the header) bounds what is
/// read, and a lying count is refused before the body is read.
const MIN_RECORD_BYTES: u64 = 2 + 1 + 2 + 8 + 8 + 1;
const MAX_RECORD_BYTES: u64 = 2 + 255 + 2 + 8 + 8 + 1 + MAX_UID as u64;
/// The header: magic, version, stamp, count.
const HEADER_BYTES: usize = MAGIC.len() + 4 + 8 * 6 + 8;
/// The longest UIDL (RFC 1939 §7); digests are shorter.
const MAX_UID: usize = 70;

/// What identifies one state of `cur/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DirStamp([u64; 6]);

impl DirStamp {
    /// `cur/`'s stamp now.
    pub(crate) fn of(dir: &OwnedFd) -> rustix::io::Result<DirStamp> {
        let stat = rustix::fs::fstat(dir)?;
        // Times before 1970 or negative nanoseconds do not occur on a live directory; they
        // wrap into values that simply never match a later stamp.
        Ok(DirStamp([
            stat.st_dev,
            stat.st_ino,
            stat.st_mtime as u64,
            stat.st_mtime_nsec as u64,
            stat.st_ctime as u64,
            stat.st_ctime_nsec as u64,
        ]))
    }

    /// Whether the modification time is at least [`SETTLE`] before `now`. Entries created,
    /// renamed or unlinked in a directory set its modification time to the current time, so
    /// that is the time the race is about; the change time takes part in the stamp only.
    pub(crate) fn is_settled(&self, now: SystemTime) -> bool {
        let Some(limit) = now
            .duration_since(UNIX_EPOCH)
            .ok()
            .and_then(|now| now.checked_sub(SETTLE))
        else {
            return false;
        };
        let limit = limit.as_secs();
        // Whole seconds, rounded up: a stamp of 10.999 s is not settled at 12.5 s.
        let (secs, nanos) = (self.0[2], self.0[3]);
        secs < i64::MAX as u64 && secs.saturating_add(u64::from(nanos > 0)) <= limit
    }
}

/// The listing, if one exists for exactly this stamp and is intact.
pub(crate) fn load(maildir: &Maildir, stamp: &DirStamp) -> Option<Vec<Message>> {
    decode(&read_matching(maildir, stamp, MAX_LISTING_BYTES)?, stamp)
}

/// The listing file's bytes if its header names this stamp: **a stale listing costs one
/// small read, not a read of the whole file** (`visit` checks everything again, the header
/// included, against the checksum).
///
/// The file is in a directory its user can write, and this runs as root (the admin tool)
/// or on a login: **only a regular file is read, opened without blocking** (a FIFO put in
/// its place would hang the reader in `open`; a symlink is refused by `O_NOFOLLOW`), and
/// **what is read is bounded by the file's size, which must agree with the header's
/// count** and stay within `limit`, so neither a device, a growing file nor a forged count
/// makes it read or allocate more than `limit`.
fn read_matching(maildir: &Maildir, stamp: &DirStamp, limit: u64) -> Option<Vec<u8>> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
    let fd = rustix::fs::openat(&maildir.root, LISTING_FILE, flags, Mode::empty()).ok()?;
    let stat = rustix::fs::fstat(&fd).ok()?;
    if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::RegularFile {
        return None;
    }
    let size = u64::try_from(stat.st_size).ok()?;
    if size > limit || size < HEADER_BYTES as u64 + 8 {
        return None;
    }
    let mut file = File::from(fd).take(size);
    let mut bytes = vec![0u8; HEADER_BYTES];
    file.read_exact(&mut bytes).ok()?;
    let mut header = Reader(&bytes);
    if header.take(MAGIC.len())? != MAGIC || header.u32()? != VERSION {
        return None;
    }
    for field in stamp.0 {
        if header.u64()? != field {
            return None;
        }
    }
    let count = header.u64()?;
    let fixed = HEADER_BYTES as u64 + 8;
    let least = count.saturating_mul(MIN_RECORD_BYTES).saturating_add(fixed);
    let most = count.saturating_mul(MAX_RECORD_BYTES).saturating_add(fixed);
    if size < least || size > most {
        return None;
    }
    // `size` is at most `limit`, which fits in memory by construction.
    bytes.reserve_exact(usize::try_from(size).ok()?.saturating_sub(HEADER_BYTES));
    file.read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// Writes the listing atomically. Failure (a full disk) only costs the next login a rescan.
pub(crate) fn store(maildir: &Maildir, stamp: &DirStamp, messages: &[Message]) -> Result<()> {
    let bytes = encode(stamp, messages);
    if bytes.len() as u64 > MAX_LISTING_BYTES {
        return Ok(());
    }
    // The Maildir is not synced after the rename: a crash may bring back the previous listing
    // (or none), and a loaded listing is used only if its stamp matches `cur/`.
    atomic::replace(maildir, LISTING_FILE, &bytes)
}

/// Removes a listing (after a scan that could not be stamped), so a stale one is never used.
pub(crate) fn remove(maildir: &Maildir) {
    let _ = rustix::fs::unlinkat(&maildir.root, LISTING_FILE, AtFlags::empty());
}

fn encode(stamp: &DirStamp, messages: &[Message]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + messages.len() * 96);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    for field in stamp.0 {
        out.extend_from_slice(&field.to_le_bytes());
    }
    out.extend_from_slice(&(messages.len() as u64).to_le_bytes());
    for message in messages {
        let parts = message.parts();
        out.extend_from_slice(&(parts.name.len() as u16).to_le_bytes());
        out.extend_from_slice(parts.name);
        out.extend_from_slice(&(parts.base_len as u16).to_le_bytes());
        out.extend_from_slice(&parts.raw_size.unwrap_or(u64::MAX).to_le_bytes());
        out.extend_from_slice(&parts.wire_size.to_le_bytes());
        let digest = parts.digest_uid.unwrap_or_default().as_bytes();
        out.push(digest.len() as u8);
        out.extend_from_slice(digest);
    }
    let sum = checksum(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

fn decode(bytes: &[u8], stamp: &DirStamp) -> Option<Vec<Message>> {
    let mut messages = Vec::new();
    visit(bytes, stamp, &mut |hint, record| {
        if messages.is_empty() {
            messages.reserve(hint);
        }
        messages.push(Message::from_parts(
            record.name.into(),
            record.base_len,
            record.digest.map(Into::into),
            record.raw_size,
            record.wire_size,
        ));
    })?;
    Some(messages)
}

/// What a listing says in sum, read as [`load`] reads it (same checks) without building its
/// messages: the count, the wire sizes' total, and the oldest delivery time among the names.
pub(crate) struct Totals {
    pub(crate) messages: u64,
    pub(crate) wire_bytes: u64,
    pub(crate) oldest: Option<u64>,
}

/// The listing's [`Totals`], if one exists for exactly this stamp and is intact.
pub(crate) fn totals(maildir: &Maildir, stamp: &DirStamp) -> Option<Totals> {
    let bytes = read_matching(maildir, stamp, MAX_TOTALS_BYTES)?;
    let mut totals = Totals {
        messages: 0,
        wire_bytes: 0,
        oldest: None,
    };
    visit(&bytes, stamp, &mut |_, record| {
        totals.messages += 1;
        totals.wire_bytes = totals.wire_bytes.saturating_add(record.wire_size);
        if let Some(at) = crate::name::delivered_at(record.name) {
            totals.oldest = Some(totals.oldest.map_or(at, |o| o.min(at)));
        }
    })?;
    Some(totals)
}

/// One record of a listing, checked.
struct Record<'a> {
    name: &'a [u8],
    base_len: usize,
    raw_size: Option<u64>,
    wire_size: u64,
    digest: Option<&'a str>,
}

/// Checks a whole listing and hands each record to `each`, with the number of records
/// (bounded by the file's size) to reserve room for; `None` if anything is wrong, in which
/// case the caller must discard what it was given.
fn visit<'a>(
    bytes: &'a [u8],
    stamp: &DirStamp,
    each: &mut dyn FnMut(usize, Record<'a>),
) -> Option<()> {
    let body_len = bytes.len().checked_sub(8)?;
    let (body, sum) = bytes.split_at(body_len);
    if checksum(body) != u64::from_le_bytes(sum.try_into().ok()?) {
        return None;
    }
    let mut input = Reader(body);
    if input.take(MAGIC.len())? != MAGIC || input.u32()? != VERSION {
        return None;
    }
    for field in stamp.0 {
        if input.u64()? != field {
            return None;
        }
    }
    let records = usize::try_from(input.u64()?).ok()?;
    // Each record is at least 21 bytes: a lying count cannot make us allocate much.
    let hint = records.min(body.len() / 21);
    for _ in 0..records {
        let name_len = usize::from(input.u16()?);
        let name = input.take(name_len)?;
        let base_len = usize::from(input.u16()?);
        let raw_size = Some(input.u64()?).filter(|&raw| raw != u64::MAX);
        let wire_size = input.u64()?;
        let digest_len = usize::from(input.take(1)?[0]);
        let digest = std::str::from_utf8(input.take(digest_len)?).ok()?;
        let plain_name = !name.is_empty()
            && name[0] != b'.'
            && !name.iter().any(|&b| b == b'/' || b == 0)
            && name_len <= 255;
        let plausible = base_len <= name.len()
            && wire_size <= MAX_MESSAGE_SIZE
            && raw_size.is_none_or(|raw| raw <= wire_size && wire_size <= raw.saturating_mul(2))
            && digest.len() <= MAX_UID
            && digest.bytes().all(|b| (0x21..=0x7e).contains(&b));
        if !plain_name || !plausible {
            return None;
        }
        each(
            hint,
            Record {
                name,
                base_len,
                raw_size,
                wire_size,
                digest: (!digest.is_empty()).then_some(digest),
            },
        );
    }
    input.0.is_empty().then_some(())
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

/// A fast non-cryptographic checksum over 8-byte words: it detects torn and damaged files,
/// not tampering (whoever can write the Maildir can write mail anyway).
fn checksum(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0x9e37_79b9_7f4a_7c15 ^ bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut array = [0u8; 8];
        array.copy_from_slice(word);
        hash = (hash ^ u64::from_le_bytes(array))
            .wrapping_mul(0x0100_0000_01b3)
            .rotate_left(29);
    }
    for &b in words.remainder() {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    hash ^ (hash >> 32)
}

#[cfg(test)]
mod tests;
