//! [`Maildrop`]: one POP3 session's locked view of a Maildir.

use std::ffi::OsString;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::fs::{AtFlags, FileType};
use rustix::io::Errno;

use crate::carried::{self, Carried, UidlMapPolicy};
use crate::error::{Error, Result, io_error};
use crate::filesystem::ListingCache;
use crate::holder::Holder;
use crate::index;
use crate::listing;
use crate::lock::{self, LockGuard};
use crate::maildir::{Maildir, open_dir, sync_dir};
use crate::message::Message;
use crate::name::{ParsedName, with_seen_flag};
use crate::quota::{self, signed};
use crate::reader::MessageReader;
use crate::scan::{self, ScanReport, rename_no_replace};
use crate::wire::SizeCounter;

/// How a session opens its maildrop.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// The session id recorded as the lock holder.
    pub session: String,
    /// How long to wait for another session to release the lock (zero: fail at once).
    pub lock_wait: Duration,
    /// Whether the maildrop must have a map of carried-over UIDLs (the user database says it
    /// had one); see [`UidlMapPolicy`].
    pub uidl_map: UidlMapPolicy,
    /// Whether to use the persistent listing (off on network file systems by default).
    pub listing_cache: ListingCache,
}

/// A locked, scanned maildrop. Messages are numbered by their index in
/// [`Maildrop::messages`], which never changes while it is open; messages delivered after
/// the scan stay invisible until the next open. Dropping it releases the lock.
#[derive(Debug)]
pub struct Maildrop {
    path: PathBuf,
    /// `cur/`, the only directory a session needs after the scan...
    cur: OwnedFd,
    /// ...and `new/`, only when a full disk left messages there (see
    /// [`ScanReport::left_in_new`]).
    new: Option<OwnedFd>,
    lock: LockGuard,
    messages: Vec<Message>,
    report: ScanReport,
    /// The carried-over UIDLs applied, to drop the entries of deleted messages at commit.
    carried: Option<Carried>,
}

/// What [`Maildrop::commit`] did.
#[derive(Debug, Default)]
pub struct CommitReport {
    /// Messages unlinked now.
    pub removed: usize,
    /// Messages that were already gone (another client removed them): counted as removed.
    pub already_gone: usize,
    /// Deletions that failed, by message index.
    pub failed: Vec<(usize, Error)>,
    /// Retrieved messages renamed with the seen flag.
    pub marked_seen: usize,
    /// The directory could not be synced: the removals happened but may not survive a crash.
    pub sync_error: Option<Error>,
    /// Readdirs of `cur/` made to find messages renamed since the scan: at most one per
    /// commit, however many were renamed.
    pub dir_reads: usize,
    /// Whether the map of carried-over UIDLs was rewritten (entries of removed messages, or
    /// stale ones, dropped).
    pub uidl_map_rewritten: bool,
    /// The map could not be rewritten: the removals happened, and the entries of removed
    /// messages stay in the map, harmless, until a later commit rewrites it.
    pub uidl_map_error: Option<Error>,
    /// The removals could not be recorded in `maildirsize` (the quota lock could not be
    /// taken, or the append failed): the removals happened anyway (**POP3 never refuses to
    /// delete because of quota**), and the file was removed so that the next delivery under
    /// a quota recounts.
    pub quota_error: Option<Error>,
}

impl Maildrop {
    /// Opens the Maildir at `path` (which comes from the user database, never from a client),
    /// takes the lock, then scans and applies the map of carried-over UIDLs (as
    /// `options.uidl_map` says; a damaged map, or a missing one that is required, is an
    /// [`Error::UidlMap`]). The lock is taken before the scan, so two sessions never move or
    /// list the same files.
    pub fn open(path: &Path, options: &OpenOptions) -> Result<Maildrop> {
        let maildir = Maildir::open(path)?;
        let lock = lock::lock(&maildir, &options.session, options.lock_wait)?;
        let (mut messages, mut report) = scan::scan(&maildir, options.listing_cache)?;
        let carried =
            carried::load_and_apply(&maildir, options.uidl_map, &mut messages, &mut report)?;
        let (path, cur, new) = maildir.into_session(report.left_in_new > 0);
        Ok(Maildrop {
            path,
            cur,
            new,
            lock,
            messages,
            report,
            carried,
        })
    }

    /// The messages, in POP3 order (message number = index + 1).
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// What the scan did.
    pub fn scan_report(&self) -> &ScanReport {
        &self.report
    }

    /// Who holds the lock (this process and session).
    pub fn holder(&self) -> &Holder {
        self.lock.holder()
    }

    /// The Maildir's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn cur_path(&self, name: &std::ffi::OsStr) -> PathBuf {
        self.path.join("cur").join(name)
    }

    /// The directory holding `message` as listed (`cur/`, or `new/` for one a full disk left
    /// there), and its path for messages.
    fn dir_of(&self, message: &Message) -> (&OwnedFd, PathBuf) {
        match (&self.new, message.in_new) {
            (Some(new), true) => (new, self.path.join("new").join(message.file_name())),
            _ => (&self.cur, self.cur_path(message.file_name())),
        }
    }

    /// Opens message `index` for reading. Fails with [`Error::Vanished`] if another program
    /// removed it, [`Error::SizeChanged`] if it no longer has its listed size, and
    /// [`Error::NotRegular`] if it was replaced by a symlink or another kind of file.
    pub fn open_message(&self, index: usize) -> Result<MessageReader> {
        let message = self
            .messages
            .get(index)
            .ok_or(Error::NoSuchMessage(index))?;
        let shown = || String::from_utf8_lossy(&message.name).into_owned();
        let fd = match self.open_current(message)? {
            Some(fd) => fd,
            None => return Err(Error::Vanished { name: shown() }),
        };
        let stat = rustix::fs::fstat(&fd)
            .map_err(|e| io_error("stat", self.cur_path(message.file_name()))(e.into()))?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return Err(Error::NotRegular { name: shown() });
        }
        let size = u64::try_from(stat.st_size).unwrap_or(u64::MAX);
        let size_ok = match message.raw_size {
            Some(raw) => raw == size,
            // Without a known raw size, the wire size still bounds it.
            None => size <= message.wire_size && message.wire_size <= size.saturating_mul(2),
        };
        if !size_ok {
            self.forget_sizes(message);
            return Err(Error::SizeChanged { name: shown() });
        }
        Ok(MessageReader {
            file: File::from(fd),
            name: shown(),
            expected_wire: message.wire_size,
            counter: SizeCounter::default(),
        })
    }

    /// UPDATE (RFC 1939 §6): unlinks exactly the messages at `deleted`, then syncs `cur/`. A
    /// message already gone counts as removed; a failure is reported by index. With
    /// `mark_seen`, the messages at `retrieved` that were not deleted get the `S` flag, for
    /// users who also read this Maildir over IMAP. No other message is touched.
    pub fn commit(&self, deleted: &[usize], retrieved: &[usize], mark_seen: bool) -> CommitReport {
        self.commit_observed(deleted, retrieved, mark_seen, &mut |_| {})
    }

    /// [`Maildrop::commit`], calling `after_unlink` with the number of files unlinked so far
    /// after each unlink (progress reporting, and the server's fault-injection tests, which
    /// stop a process at that point).
    pub fn commit_observed(
        &self,
        deleted: &[usize],
        retrieved: &[usize],
        mark_seen: bool,
        after_unlink: &mut dyn FnMut(usize),
    ) -> CommitReport {
        let mut report = CommitReport::default();
        // `cur/` read at most once, at the first message not found under its listed name.
        let mut renamed: Option<RenamedFiles> = None;
        let mut gone = std::collections::HashSet::new();
        // The quota lock is held across the unlinks and the append of their line, so a
        // concurrent recount sees either the messages or the negative line, never both or
        // neither (`quota.rs`).
        let quota = match deleted.is_empty() {
            true => None,
            false => Some(self.quota_lock()),
        };
        let mut freed = 0u64;
        for &index in deleted {
            let Some(message) = self.messages.get(index) else {
                report.failed.push((index, Error::NoSuchMessage(index)));
                continue;
            };
            let size = self.quota_size(message);
            match self.unlink_current(message, &mut renamed, &mut report.dir_reads) {
                Ok(true) => {
                    report.removed += 1;
                    freed = freed.saturating_add(size);
                    gone.insert(index);
                    after_unlink(report.removed);
                }
                Ok(false) => {
                    report.already_gone += 1;
                    gone.insert(index);
                }
                Err(e) => report.failed.push((index, e)),
            }
        }
        report.quota_error = match quota {
            Some(Ok((root, lock))) => {
                let count = i64::try_from(report.removed).unwrap_or(i64::MAX);
                quota::append(&root, &self.path, -signed(freed), -count, &lock).err()
            }
            Some(Err(e)) => {
                // Without the lock the line could race a recount: the file goes instead, and
                // the next check recounts.
                let _ = Maildir::open(&self.path).map(|m| quota::forget(&m));
                Some(e)
            }
            None => None,
        };
        if mark_seen {
            for &index in retrieved.iter().filter(|i| !deleted.contains(i)) {
                // One left in `new/` by a full disk stays there unflagged (as delivered).
                let Some(message) = self.messages.get(index).filter(|m| !m.in_new) else {
                    continue;
                };
                let Some(renamed) = with_seen_flag(&message.name) else {
                    continue;
                };
                let renamed = std::ffi::OsStr::from_bytes(&renamed);
                let cur = &self.cur;
                if rename_no_replace(cur, message.file_name(), cur, renamed).is_ok() {
                    report.marked_seen += 1;
                }
            }
        }
        if report.removed > 0 || report.marked_seen > 0 {
            report.sync_error = sync_dir(&self.cur, &self.path.join("cur"))
                .and_then(|()| match &self.new {
                    Some(new) => sync_dir(new, &self.path.join("new")),
                    None => Ok(()),
                })
                .err();
        }
        // After the unlinks and their sync: a crash before this leaves entries for vanished
        // files, which are harmless and dropped at the next rewrite.
        if let Some(carried) = &self.carried {
            match carried.after_commit(&self.path, &self.messages, &gone) {
                Ok(written) => report.uidl_map_rewritten = written,
                Err(e) => report.uidl_map_error = Some(e),
            }
        }
        report
    }

    /// The Maildir's root and the quota lock on it.
    fn quota_lock(&self) -> Result<(OwnedFd, quota::QuotaLock)> {
        let root = open_dir(rustix::fs::CWD, &self.path, &self.path)?;
        let lock = quota::lock(&root, &self.path)?;
        Ok((root, lock))
    }

    /// A message's size as Maildir++ counts it: `S=` (the listed raw size), else the file's
    /// size, else the wire size (an upper bound; a later recount corrects it).
    fn quota_size(&self, message: &Message) -> u64 {
        if let Some(raw) = message.raw_size {
            return raw;
        }
        let (dir, _) = self.dir_of(message);
        match rustix::fs::statat(dir, message.file_name(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => u64::try_from(stat.st_size).unwrap_or(message.wire_size),
            Err(_) => message.wire_size,
        }
    }

    /// A message no longer has the size it was listed with: a scan took its sizes from the
    /// index by name (files are never modified in place, so it did not stat it), and the file
    /// was changed or replaced anyway. Its index entry and the listing are dropped, so the
    /// next session measures it again instead of failing on it forever. Best effort: this
    /// session keeps answering "changed on disk" for it either way.
    fn forget_sizes(&self, message: &Message) {
        if ParsedName::parse(&message.name)
            .plausible_wire_size()
            .is_some()
        {
            // The sizes come from the name, not the index or the listing: nothing to forget.
            return;
        }
        if let Ok(maildir) = Maildir::open(&self.path) {
            let _ = index::forget(&maildir, message.base());
            listing::remove(&maildir);
        }
    }

    /// Opens a message by its listed name or, if another program renamed it since (a flag
    /// change), by its base name. `None` if it is gone.
    ///
    /// Opened with `O_NONBLOCK` and checked with `fstat` before anything reads it
    /// ([`scan::open_regular`]): a message swapped for a FIFO is [`Error::NotRegular`] at once
    /// instead of a blocking thread that holds the maildrop until a writer appears.
    fn open_current(&self, message: &Message) -> Result<Option<std::os::fd::OwnedFd>> {
        let name = message.file_name();
        let not_regular = || Error::NotRegular {
            name: String::from_utf8_lossy(name.as_bytes()).into_owned(),
        };
        let (dir, shown) = self.dir_of(message);
        match scan::open_regular(dir, name) {
            Ok(Some(fd)) => return Ok(Some(fd)),
            Ok(None) | Err(Errno::LOOP) => return Err(not_regular()),
            // Renamed (in `cur/`), or moved from `new/` to `cur/` by another program.
            Err(Errno::NOENT) => {}
            Err(e) => return Err(io_error("open", shown)(e.into())),
        }
        let mut reads = 0;
        let Some(renamed) = self.find_renamed(message, &mut None, &mut reads)? else {
            return Ok(None);
        };
        match scan::open_regular(&self.cur, renamed.as_os_str()) {
            Ok(Some(fd)) => Ok(Some(fd)),
            Err(Errno::NOENT) => Ok(None),
            Ok(None) | Err(Errno::LOOP) => Err(not_regular()),
            Err(e) => Err(io_error("open", self.cur_path(&renamed))(e.into())),
        }
    }

    /// Unlinks a message by its listed name or its renamed form. `Ok(false)`: already gone.
    fn unlink_current(
        &self,
        message: &Message,
        renamed: &mut Option<RenamedFiles>,
        dir_reads: &mut usize,
    ) -> Result<bool> {
        let cur = &self.cur;
        let (dir, shown) = self.dir_of(message);
        match rustix::fs::unlinkat(dir, message.file_name(), AtFlags::empty()) {
            Ok(()) => return Ok(true),
            Err(Errno::NOENT) => {}
            Err(e) => return Err(io_error("unlink", shown)(e.into())),
        }
        let Some(renamed) = self.find_renamed(message, renamed, dir_reads)? else {
            return Ok(false);
        };
        match rustix::fs::unlinkat(cur, renamed.as_os_str(), AtFlags::empty()) {
            Ok(()) => Ok(true),
            Err(Errno::NOENT) => Ok(false),
            Err(e) => Err(io_error("unlink", self.cur_path(&renamed))(e.into())),
        }
    }

    /// Looks in `cur/` for `message` renamed by another program (a flag change): a file with
    /// the same unique part **and the same size** (its `S=`, else its `stat` size, against
    /// the listed raw size, or the listed wire size's bounds when the raw size is unknown).
    /// A file that only shares the base (another message, in a broken maildrop) is never
    /// taken for it, nor is another listed message, nor one of two look-alikes, so DELE
    /// cannot remove it. `cur/` is read into `files` once, at the first
    /// miss (`dir_reads` counts it), and reused for every later miss of the same commit.
    fn find_renamed(
        &self,
        message: &Message,
        files: &mut Option<RenamedFiles>,
        dir_reads: &mut usize,
    ) -> Result<Option<OsString>> {
        if files.is_none() {
            let mut ignored = ScanReport::default();
            let entries = scan::list(&self.cur, &self.path.join("cur"), &mut ignored)?;
            *dir_reads += 1;
            // A file listed in `cur/` under its own name is another message of this session,
            // never a renamed one: it is no candidate.
            let listed: std::collections::HashSet<&[u8]> = self
                .messages
                .iter()
                .filter(|m| !m.in_new)
                .map(|m| &*m.name)
                .collect();
            let mut by_base = RenamedFiles::default();
            for entry in entries {
                if listed.contains(&*entry.name) {
                    continue;
                }
                let base = ParsedName::parse(&entry.name).base.to_vec();
                by_base.entry(base).or_default().push(entry.name);
            }
            *files = Some(by_base);
        }
        let Some(candidates) = files.as_mut().and_then(|f| f.get_mut(message.base())) else {
            return Ok(None);
        };
        let matching: Vec<usize> = candidates
            .iter()
            .enumerate()
            .filter(|(_, candidate)| {
                (message.in_new || **candidate != message.name)
                    && self.same_size(message, candidate)
            })
            .map(|(i, _)| i)
            .collect();
        // None, or several that cannot be told apart: never guess which to unlink. A file
        // taken is taken out of the cache, so no later miss takes it again.
        let [only] = matching[..] else {
            return Ok(None);
        };
        let name = candidates.swap_remove(only);
        Ok(Some(OsString::from_vec(name.into_vec())))
    }

    /// Whether the file `candidate` in `cur/` has `message`'s size.
    fn same_size(&self, message: &Message, candidate: &[u8]) -> bool {
        let parsed = ParsedName::parse(candidate);
        let listed_wire = ParsedName::parse(&message.name).plausible_wire_size();
        if let (Some(theirs), Some(ours)) = (parsed.plausible_wire_size(), listed_wire)
            && theirs != ours
        {
            return false;
        }
        let size = match parsed.raw_size {
            Some(size) => size,
            None => {
                let name = std::ffi::OsStr::from_bytes(candidate);
                match rustix::fs::statat(&self.cur, name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(stat) => u64::try_from(stat.st_size).unwrap_or(u64::MAX),
                    Err(_) => return false,
                }
            }
        };
        match message.raw_size {
            Some(raw) => raw == size,
            None => size <= message.wire_size && message.wire_size <= size.saturating_mul(2),
        }
    }
}

/// `cur/` read once by a commit: file names by their unique part.
type RenamedFiles = std::collections::HashMap<Vec<u8>, Vec<Box<[u8]>>>;
