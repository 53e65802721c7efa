//! Maildir++ quotas: the `maildirsize` file in the Maildir's root, so that Courier, Dovecot's
//! `maildir` quota backend, maildrop and Exim read the usage pop3d keeps, and pop3d reads
//! theirs.
//!
//! # The file
//! Its first line holds the limits, every other line a delta `<bytes> <messages>`; the usage is
//! the sum of the deltas (`format.rs`). Sizes are counted the Maildir++ way: the `S=` of the
//! file name when present, else the file's size; messages in `new/` and `cur/` of the Maildir
//! and of its Maildir++ folders (`.Name/`), except `.Trash`, which the Courier specification
//! leaves out (Dovecot counts it; POP3 users rarely have folders).
//!
//! # Kept current without rescanning
//! A delivery appends `<size> 1`, QUIT's deletions `-<sizes> -<count>`, each as **one
//! `write(2)` of a whole line under `O_APPEND`**, which the kernel makes atomic on a local file
//! system, so concurrent writers (pop3d's threads, `pop3-admin deliver`, Dovecot) never tear
//! or lose each other's lines. The file is never created by an append: without it, nothing is
//! appended, and the next check that needs it recounts.
//!
//! # Recalculated when the specification says
//! The file is recounted from the directories (`recalc.rs`) when it is missing, when it is
//! 5120 bytes or more, when it is damaged (**a damaged file is recounted, never taken for "no
//! quota"**), when its limits are not the ones configured, and when a delivery would be
//! refused on its figures while they are not fresh (more than one delta line, or older than
//! 15 minutes): the specification recounts when over quota on such figures; recounting when a
//! refusal is about to be made on them is the same rule seen from the delivery, and means a
//! message is never refused on drifted figures.
//!
//! # Safe recalculation
//! **Every pop3d process that changes what the file counts holds the quota lock**: an
//! exclusive `flock` on the Maildir directory itself (no extra file), taken by a delivery
//! around its check, its rename into `new/` and its append, by QUIT around its unlinks and its
//! append, and by a recount around the count and the rename of the new file over the old. So
//! no delivery of ours can land between a recount's listing and its rename (which would count
//! it twice, or not at all). Other programs do not take this lock: against them the recount
//! follows the specification, noting each directory's modification time before listing it and
//! comparing after the new file is in place; if one changed, it counts again (three times at
//! most), and if the directories keep changing it removes the file, so the next check
//! recounts. The new file is written in `tmp/` under a unique name, synced and renamed over
//! `maildirsize`, so a reader sees the old file or the new one. It is given to the Maildir's
//! owner like every file this crate creates ([`Maildir::give_to_owner`]), read-write for
//! the group like the lock file when a delivering user shares the Maildir through its group
//! (0660), since both sides append to it. A recount whose file cannot be written (a full
//! disk, a root the delivering user may not write) still decides with its count.
//!
//! # The rule
//! **A delivery is refused when the usage plus this message would exceed a limit** (one more
//! message than `C`, or more bytes than `S`), as Dovecot checks, rather than only when the
//! Maildir is over already (the oldest Maildir++ rule): a limit then bounds the usage, which
//! other tools report as at most 100 %. POP3 itself never refuses to serve or delete.

mod format;
mod recalc;

use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::{Duration, SystemTime};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use crate::error::{Result, io_error};
use crate::maildir::{Maildir, open_dir};

/// The file's name, in the Maildir's root.
pub const MAILDIRSIZE: &str = "maildirsize";

/// A file this long or longer is recounted (the specification's 5120 bytes).
pub const RECOUNT_AT_BYTES: u64 = 5120;

/// Figures older than this are not trusted for a refusal (the specification's 15 minutes).
pub const STALE_AFTER: Duration = Duration::from_secs(15 * 60);

/// The longest file [`read_usage`] reads: it is meant to stay under 5120 bytes.
const READ_LIMIT: u64 = 1 << 20;

/// A user's limits. `None` is no limit; Maildir++ writes it as 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaLimit {
    /// Messages at most.
    pub messages: Option<u64>,
    /// Octets at most, as Maildir++ counts them (`S=`, else the file size).
    pub bytes: Option<u64>,
}

/// What a Maildir holds, as Maildir++ counts it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Messages.
    pub messages: u64,
    /// Octets.
    pub bytes: u64,
}

impl QuotaLimit {
    /// No limit at all: nothing is checked (an existing `maildirsize` is still kept current).
    pub const UNLIMITED: QuotaLimit = QuotaLimit {
        messages: None,
        bytes: None,
    };

    /// Whether neither limit is set.
    pub fn is_unlimited(&self) -> bool {
        self.messages.is_none() && self.bytes.is_none()
    }

    /// Whether one more message of `bytes` octets fits: **usage + this message ≤ limit**.
    pub fn admits(&self, usage: Usage, bytes: u64) -> bool {
        let messages_fit = self
            .messages
            .is_none_or(|max| usage.messages.saturating_add(1) <= max);
        let bytes_fit = self
            .bytes
            .is_none_or(|max| usage.bytes.saturating_add(bytes) <= max);
        messages_fit && bytes_fit
    }

    /// Whether `usage` is over a limit already.
    pub fn is_exceeded_by(&self, usage: Usage) -> bool {
        self.messages.is_some_and(|max| usage.messages > max)
            || self.bytes.is_some_and(|max| usage.bytes > max)
    }
}

/// The usage `maildirsize` records, read without the lock and without recounting (for
/// `pop3-admin user list`): `None` when the file is missing, unreadable or damaged.
pub fn read_usage(maildir: &Path) -> Option<Usage> {
    let root = open_dir(rustix::fs::CWD, maildir, maildir).ok()?;
    let (bytes, _) = read_file(&root, maildir).ok()??;
    format::parse(&bytes).map(|parsed| parsed.usage)
}

/// The quota lock (see the module): an exclusive `flock` on the Maildir directory, released
/// when dropped.
pub(crate) struct QuotaLock {
    _dir: File,
}

/// Takes the quota lock, waiting for it. The directory is opened afresh: `flock` belongs to
/// an open file description, so two of this process's threads exclude each other too.
pub(crate) fn lock(root: &OwnedFd, shown: &Path) -> Result<QuotaLock> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(root, ".", flags, Mode::empty())
        .map_err(|e| io_error("open", shown)(e.into()))?;
    let dir = File::from(fd);
    dir.lock().map_err(io_error("lock", shown))?;
    Ok(QuotaLock { _dir: dir })
}

/// [`lock`] without waiting: `None` when another holds it (tests).
#[cfg(test)]
pub(crate) fn try_lock(root: &OwnedFd, shown: &Path) -> Result<Option<QuotaLock>> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(root, ".", flags, Mode::empty())
        .map_err(|e| io_error("open", shown)(e.into()))?;
    let dir = File::from(fd);
    match dir.try_lock() {
        Ok(()) => Ok(Some(QuotaLock { _dir: dir })),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(io_error("lock", shown)(e)),
    }
}

/// Whether a delivery of `bytes` octets fits under `limit`: `Err(usage)` when it does not.
/// Reads `maildirsize`, recounting when the module's rules say. Call with the lock held.
pub(crate) fn admit(
    maildir: &Maildir,
    limit: &QuotaLimit,
    bytes: u64,
    _lock: &QuotaLock,
) -> Result<std::result::Result<Usage, Usage>> {
    let usage = match recorded(maildir, limit)? {
        Some((usage, fresh)) if fresh || limit.admits(usage, bytes) => usage,
        _ => recalc::recount(maildir, limit)?,
    };
    Ok(if limit.admits(usage, bytes) {
        Ok(usage)
    } else {
        Err(usage)
    })
}

/// Appends one line of deltas, in one `write`, if the file exists (`Ok(false)` if not). A
/// failed or short write removes the file, so the next check recounts rather than trusting a
/// count that misses this change. Call with the lock held.
pub(crate) fn append(
    root: &OwnedFd,
    shown: &Path,
    bytes: i64,
    messages: i64,
    _lock: &QuotaLock,
) -> Result<bool> {
    if bytes == 0 && messages == 0 {
        return Ok(false);
    }
    let flags = OFlags::WRONLY | OFlags::APPEND | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(root, MAILDIRSIZE, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(false),
        Err(e) => return Err(failed_append(root, shown, e)),
    };
    let line = format::delta_line(bytes, messages);
    match rustix::io::write(&fd, line.as_bytes()) {
        Ok(n) if n == line.len() => Ok(true),
        Ok(_) => Err(failed_append(root, shown, Errno::IO)),
        Err(e) => Err(failed_append(root, shown, e)),
    }
}

/// A size as a `maildirsize` delta (sizes past `i64::MAX` do not occur: 1 TiB is the most a
/// name is believed).
pub(crate) fn signed(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

/// Removes `maildirsize`, so that the next check recounts (best effort).
pub(crate) fn forget(maildir: &Maildir) {
    let _ = rustix::fs::unlinkat(&maildir.root, MAILDIRSIZE, AtFlags::empty());
}

fn failed_append(root: &OwnedFd, shown: &Path, errno: Errno) -> crate::Error {
    let _ = rustix::fs::unlinkat(root, MAILDIRSIZE, AtFlags::empty());
    io_error("append to", shown.join(MAILDIRSIZE))(errno.into())
}

/// The usage the file records, if it can be used as it is for `limit` (well-formed, under
/// 5120 bytes, with these limits), and whether it is fresh (one delta line, written within
/// [`STALE_AFTER`]).
fn recorded(maildir: &Maildir, limit: &QuotaLimit) -> Result<Option<(Usage, bool)>> {
    let Some((bytes, modified)) = read_file(&maildir.root, maildir.path())? else {
        return Ok(None);
    };
    if bytes.len() as u64 >= RECOUNT_AT_BYTES {
        return Ok(None);
    }
    let Some(parsed) = format::parse(&bytes) else {
        return Ok(None);
    };
    if parsed.limit != *limit {
        return Ok(None);
    }
    let age = SystemTime::now()
        .duration_since(modified)
        .unwrap_or_default();
    Ok(Some((parsed.usage, parsed.lines == 1 && age < STALE_AFTER)))
}

/// The file's bytes (at most [`READ_LIMIT`]) and modification time; `None` if missing.
fn read_file(root: &OwnedFd, shown: &Path) -> Result<Option<(Vec<u8>, SystemTime)>> {
    let path = shown.join(MAILDIRSIZE);
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(root, MAILDIRSIZE, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(None),
        // A symbolic link is never followed: damaged, and replaced by the recount's rename.
        Err(Errno::LOOP) => return Ok(Some((Vec::new(), SystemTime::UNIX_EPOCH))),
        Err(e) => return Err(io_error("open", &path)(e.into())),
    };
    let file = File::from(fd);
    let meta = file.metadata().map_err(io_error("stat", &path))?;
    if !meta.is_file() {
        // Not a regular file: treated as damaged, and replaced by the recount's rename.
        return Ok(Some((Vec::new(), SystemTime::UNIX_EPOCH)));
    }
    let modified = meta.modified().map_err(io_error("stat", &path))?;
    let mut bytes = Vec::new();
    file.take(READ_LIMIT)
        .read_to_end(&mut bytes)
        .map_err(io_error("read", &path))?;
    Ok(Some((bytes, modified)))
}

#[cfg(test)]
mod tests;
