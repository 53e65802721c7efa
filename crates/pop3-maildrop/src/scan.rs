//! Opening a maildrop's contents: `new/` moved to `cur/`, then `cur/` listed with readdir
//! only, sizes resolved without reading bodies where the names or the index allow.

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::SystemTime;

use hashbrown::{HashSet, HashTable};
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

use crate::error::{Result, io_error};
use crate::filesystem::ListingCache;
use crate::index::{self, Sizes, Tail};
use crate::listing::{self, DirStamp};
use crate::maildir::Maildir;
use crate::message::Message;
use crate::name::{ParsedName, uid_of};
use crate::wire::count_stream;

/// The read buffer for measuring bodies: most messages fit in one read.
const MEASURE_BUF: usize = 16 * 1024;

/// What a scan found besides the messages.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScanReport {
    /// Messages moved from `new/` to `cur/`.
    pub moved: usize,
    /// Messages whose bodies had to be read to learn their wire size (files opened).
    pub measured: usize,
    /// Messages whose sizes came from `.pop3d.index` by name, without a stat or an open.
    pub indexed: usize,
    /// Files statted: only where the file system hides an entry's type or a name has no
    /// delivery time.
    pub statted: usize,
    /// Entries skipped: dotfiles, directories, symlinks, FIFOs, vanished files.
    pub skipped: usize,
    /// Why the persistent listing was not used, when it is off: the network file system the
    /// Maildir is on ([`ListingCache::Auto`]), or the configuration.
    pub listing_off: Option<&'static str>,
    /// Whether the messages came from the persistent listing (`cur/` unchanged since a
    /// settled scan) rather than from a readdir.
    pub from_listing: bool,
    /// A cache file (size index or listing) could not be written, for example on a full
    /// disk. The scan itself succeeded; the next one redoes the work.
    pub cache_error: Option<String>,
    /// Messages left out of the listing because their sizes had to be measured and the file
    /// could not be read (`EACCES`, `EPERM`, `EIO`), each as the error naming the file. The
    /// others are served: one bad file must not lock the user out of the whole maildrop.
    /// **A scan with such a message writes no listing**, so the message reappears (with the
    /// same UIDL, which comes from its name) at the first login after an administrator
    /// repairs it, without waiting for `cur/` to change.
    pub unreadable: Vec<String>,
    /// Messages left in `new/` because moving them to `cur/` failed with `ENOSPC`, `EDQUOT`
    /// or `EIO` (a directory that must grow on a full disk): they are served from `new/`, and
    /// a later login moves them. Such a scan neither reads nor writes the listing.
    pub left_in_new: usize,
    /// The first error that left a message in `new/`.
    pub move_error: Option<String>,
    /// Messages serving a UIDL carried over from another server (`.pop3d.uidl`); they come
    /// first, in that server's order.
    pub carried: usize,
    /// Entries of the UIDL map matching no listed message (deleted by another program, or
    /// left out as unreadable); dropped at the next rewrite of the map unless left out.
    pub stale_carried: usize,
    /// Messages whose own UIDL equalled a carried-over UIDL of another message: the carried
    /// one is kept and these got the digest of their whole file name instead.
    pub uidl_collisions: usize,
}

/// Moves `new/` into `cur/`, lists `cur/`, resolves sizes and UIDLs, updates the index, and
/// returns the messages in delivery order (time from the name, then the name).
pub(crate) fn scan(maildir: &Maildir, cache: ListingCache) -> Result<(Vec<Message>, ScanReport)> {
    scan_with_clock(maildir, cache, &SystemTime::now)
}

/// [`scan`] with the clock it reads to decide whether `cur/` has settled (tests make the
/// scan look slow with it).
pub(crate) fn scan_with_clock(
    maildir: &Maildir,
    cache: ListingCache,
    clock: &dyn Fn() -> SystemTime,
) -> Result<(Vec<Message>, ScanReport)> {
    let mut report = ScanReport::default();
    let (moved, left) = move_new_to_cur(maildir, &mut report)?;
    // Untrusted directory times: no stamp, so no listing read or written (an old one removed).
    let trusted = cache.decide(&maildir.cur);
    if let Err(kind) = trusted {
        report.listing_off = Some(kind.unwrap_or("off in the configuration"));
    }
    // Taken before the readdir: a change during it moves the stamp past this one. The settle
    // rule is checked against the time the stamp was taken, not the end of the scan: a
    // rename in the stamp's timestamp tick but after the readdir passed its entry leaves the
    // stamp unchanged, and only "the stamp was already old when taken" rules that out,
    // however long the scan takes.
    let stamp = trusted.ok().and_then(|()| DirStamp::of(&maildir.cur).ok());
    let stamped_at = clock();
    // The listing describes `cur/` alone: with messages left in `new/`, list both directories.
    if let Some(messages) = stamp
        .as_ref()
        .filter(|_| left.is_empty())
        .and_then(|stamp| listing::load(maildir, stamp))
    {
        report.from_listing = true;
        return Ok((messages, report));
    }
    let cacheable = left.is_empty();
    let left = left.into_iter().map(Extra::in_place).collect();
    let (messages, index_error) = scan_cur(maildir, &moved, left, true, &mut report)?;
    report.cache_error = index_error.map(|e| e.to_string());
    match stamp {
        Some(_) if !cacheable => {}
        Some(stamp) if report.unreadable.is_empty() && stamp.is_settled(stamped_at) => {
            if let Err(e) = listing::store(maildir, &stamp, &messages) {
                report.cache_error.get_or_insert(e.to_string());
            }
        }
        // A listing for an older state no longer matches the stamp; one for this state must
        // not exist if this state is not settled yet. Nothing to do in either case.
        Some(_) => {}
        None => listing::remove(maildir),
    }
    Ok((messages, report))
}

/// A file of `new/` listed with the messages of `cur/`: one a full disk left there, or (for a
/// read-only look, `peek.rs`) one the next session will move, listed under the name it
/// will then have.
pub(crate) struct Extra {
    /// The name it is listed under.
    pub(crate) listed: Box<[u8]>,
    /// Its name in `new/`.
    pub(crate) on_disk: Box<[u8]>,
}

impl Extra {
    fn in_place(entry: Entry) -> Extra {
        Extra {
            listed: entry.name.clone(),
            on_disk: entry.name,
        }
    }
}

/// The full scan: lists `cur/`, resolves sizes and UIDLs, updates the size index (when
/// `write_index`). An index that cannot be written is returned beside the messages, not as a
/// failure. `moved` are the names this scan just moved from `new/`: new messages, measured
/// even if their base is indexed (a base reused after a deletion the index has not seen yet);
/// so are the `extra` files, read from `new/`.
pub(crate) fn scan_cur(
    maildir: &Maildir,
    moved: &Moved,
    extra: Vec<Extra>,
    write_index: bool,
    report: &mut ScanReport,
) -> Result<(Vec<Message>, Option<crate::error::Error>)> {
    let (mut index, tail) = index::load(maildir);
    let mut added: Vec<(Box<[u8]>, Sizes)> = Vec::new();
    let in_cur = list(&maildir.cur, &maildir.path().join("cur"), report)?;
    let in_cur = in_cur.into_iter().map(|entry| (entry.name, None));
    let in_new = extra.into_iter().map(|e| (e.listed, Some(e.on_disk)));
    let mut found: Vec<Found> = Vec::with_capacity(in_cur.len() + in_new.len());
    for (listed, on_disk) in in_cur.chain(in_new) {
        let time = match ParsedName::parse(&listed).time {
            Some(time) => time,
            None => {
                let dir = if on_disk.is_some() {
                    &maildir.new
                } else {
                    &maildir.cur
                };
                let name = OsStr::from_bytes(on_disk.as_deref().unwrap_or(&listed));
                match mtime(dir, name, report) {
                    Some(time) => time,
                    None => {
                        report.skipped += 1;
                        continue;
                    }
                }
            }
        };
        found.push(Found {
            time,
            listed,
            on_disk,
        });
    }
    // Sizes are resolved in delivery order, which for the usual names (a time, then a
    // counter) is close to name order, the order the index file is written in: its entries
    // are then visited front to back rather than at random (issue 14: the lookups were a
    // quarter of a rescan, mostly cache misses).
    let found = delivery_order(found);
    let mut messages = Vec::with_capacity(found.len());
    // One read buffer for every message measured in this scan, on the stack: a heap buffer
    // freed after the scan stays resident in the allocator's arenas, pinned there by the
    // long-lived allocations each session makes around it (the messages).
    let mut buf = [0u8; MEASURE_BUF];
    for Found {
        listed, on_disk, ..
    } in found
    {
        let in_new = on_disk.is_some();
        let (dir, sub) = if in_new {
            (&maildir.new, "new")
        } else {
            (&maildir.cur, "cur")
        };
        let name = OsStr::from_bytes(on_disk.as_deref().unwrap_or(&listed));
        let parsed = ParsedName::parse(&listed);
        // Maildir files are never modified in place (a name is one message), so a name found
        // in the index gets its sizes from there: no stat, no open. A file changed anyway is
        // caught when read (`open_message` against the raw size, `MessageReader` against the
        // wire size), and `open_message` then forgets its entry so the next scan measures it.
        let sizes = match parsed.plausible_wire_size() {
            Some(wire) => Some((parsed.raw_size, wire)),
            None if in_new || moved.contains(&listed) => None,
            None => {
                let hash = index.hasher().hash(parsed.base);
                index.get_hashed(parsed.base, hash).map(|sizes| {
                    report.indexed += 1;
                    (Some(sizes.raw), sizes.wire)
                })
            }
        };
        let (raw_size, wire_size) = match sizes {
            Some(sizes) => sizes,
            None => match measure(dir, &maildir.path().join(sub).join(name), name, &mut buf) {
                Ok(Some(sizes)) => {
                    report.measured += 1;
                    index.insert(parsed.base, sizes);
                    added.push((parsed.base.into(), sizes));
                    (Some(sizes.raw), sizes.wire)
                }
                Ok(None) => {
                    report.skipped += 1;
                    continue;
                }
                // Left out, not a failure of the whole open: its size cannot be known, and a
                // listed size must be exact (RFC 1939 §5, LIST).
                Err(e) if is_unreadable(&e) => {
                    report.unreadable.push(e.to_string());
                    continue;
                }
                Err(e) => return Err(e),
            },
        };
        let base_len = parsed.base.len();
        let digest_uid = (!parsed.base_is_uid()).then(|| parsed.uid().into_boxed_str());
        let mut message = Message::from_parts(listed, base_len, digest_uid, raw_size, wire_size);
        message.in_new = in_new;
        messages.push(message);
    }
    // Exactly sized: the messages live as long as the session.
    messages.shrink_to_fit();
    let duplicates = duplicate_bases(&messages, index.hasher());
    // Keep only index entries of messages that exist (and lack a usable W=): the ones this
    // scan looked up or added.
    let pruned = index.retain_used();
    // Two files with one base name (a broken maildir): the later one gets the digest of its
    // whole name, so UIDLs stay unique and still deterministic.
    for i in duplicates {
        let uid = uid_of(&messages[i].name).into_boxed_str();
        messages[i].set_digest_uid(uid);
    }
    // No usable file, or entries removed: write it whole. Only additions: append them.
    let index_error = match tail {
        _ if !write_index => None,
        Tail::Missing if index.is_empty() => None,
        Tail::Missing => index::store(maildir, &index).err(),
        _ if pruned => index::store(maildir, &index).err(),
        _ if added.is_empty() => None,
        _ => index::append(maildir, tail, &added).err(),
    };
    Ok((messages, index_error))
}

/// The positions of messages whose base an earlier message already has.
fn duplicate_bases(messages: &[Message], hasher: &index::NameHasher) -> Vec<usize> {
    // Each message's position, by the hash of its base; sized once, so never rehashed.
    let mut seen: HashTable<usize> = HashTable::with_capacity(messages.len());
    let mut duplicates = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let base = message.base();
        let hash = hasher.hash(base);
        if seen.find(hash, |&j| messages[j].base() == base).is_some() {
            duplicates.push(i);
        } else {
            seen.insert_unique(hash, i, |&j| hasher.hash(messages[j].base()));
        }
    }
    duplicates
}

/// A file listed, with its delivery time (from its name, else its mtime).
struct Found {
    time: u64,
    /// The name it is listed under.
    listed: Box<[u8]>,
    /// Its name in `new/`, for a file read from there (see [`Extra`]).
    on_disk: Option<Box<[u8]>>,
}

/// Sorts by delivery time, then name (names in one directory are unique, and a name in `new/`
/// never equals one in `cur/`, which has an info part, so the order is total). Sorts small
/// keys: the time and the name's first 16 bytes, big-endian, which order names as their
/// bytes do; only names equal that far are compared whole (issue 14: comparing whole names,
/// each behind a pointer, was most of the sort).
fn delivery_order(found: Vec<Found>) -> Vec<Found> {
    let prefix = |name: &[u8]| {
        let mut bytes = [0u8; 16];
        let len = name.len().min(16);
        bytes[..len].copy_from_slice(&name[..len]);
        u128::from_be_bytes(bytes)
    };
    let mut keys: Vec<(u64, u128, usize)> = found
        .iter()
        .zip(0..)
        .map(|(f, i)| (f.time, prefix(&f.listed), i))
        .collect();
    keys.sort_unstable_by(|(ta, pa, a), (tb, pb, b)| {
        (ta, pa)
            .cmp(&(tb, pb))
            .then_with(|| found[*a].listed.cmp(&found[*b].listed))
            // Two files listed under one name (a `new/` file kept there and its `cur/` twin):
            // still a fixed order, so the same one gets the digest UIDL every time.
            .then_with(|| found[*a].on_disk.cmp(&found[*b].on_disk))
    });
    let mut slots: Vec<Option<Found>> = found.into_iter().map(Some).collect();
    keys.iter()
        .filter_map(|&(_, _, i)| slots[i].take())
        .collect()
}

/// A directory entry that is a regular file and not a dotfile.
pub(crate) struct Entry {
    pub(crate) name: Box<[u8]>,
}

/// Lists regular, non-dot files of a directory: readdir only, a stat only where the file
/// system does not report the type.
pub(crate) fn list(dir: &OwnedFd, shown: &Path, report: &mut ScanReport) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    let reader = Dir::read_from(dir).map_err(|e| io_error("list", shown)(e.into()))?;
    for entry in reader {
        let entry = entry.map_err(|e| io_error("list", shown)(e.into()))?;
        let name = entry.file_name().to_bytes();
        if name.first() == Some(&b'.') {
            if name != b"." && name != b".." {
                report.skipped += 1;
            }
            continue;
        }
        let file_type = match entry.file_type() {
            FileType::Unknown => {
                report.statted += 1;
                match rustix::fs::statat(dir, OsStr::from_bytes(name), AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(stat) => FileType::from_raw_mode(stat.st_mode),
                    Err(_) => FileType::Unknown,
                }
            }
            known => known,
        };
        if file_type == FileType::RegularFile {
            entries.push(Entry { name: name.into() });
        } else {
            report.skipped += 1;
        }
    }
    Ok(entries)
}

/// Names moved from `new/` into `cur/` by one scan.
pub(crate) type Moved = HashSet<Box<[u8]>>;

/// Dovecot's way: a session opens the maildrop by moving `new/` entries to `cur/` with an empty
/// `:2,` info. The rename never replaces an existing file. Returns the names now in `cur/`,
/// and the entries left in `new/` because the rename failed for lack of space or an I/O
/// error: **a full disk never blocks a login**; those are served from `new/`.
fn move_new_to_cur(maildir: &Maildir, report: &mut ScanReport) -> Result<(Moved, Vec<Entry>)> {
    let mut moved = Moved::default();
    let mut left = Vec::new();
    for entry in list(&maildir.new, &maildir.path().join("new"), report)? {
        let mut target = entry.name.to_vec();
        if memchr::memchr(b':', &target).is_none() {
            target.extend_from_slice(b":2,");
        }
        let name = OsStr::from_bytes(&entry.name);
        match rename_new_to_cur(maildir, name, OsStr::from_bytes(&target)) {
            Ok(()) => {
                report.moved += 1;
                moved.insert(target.into_boxed_slice());
            }
            // Gone (another session took it) or a name clash: leave it, never overwrite.
            Err(Errno::NOENT | Errno::EXIST) => report.skipped += 1,
            // `cur/` cannot grow (a full disk or quota) or the disk fails: serve it from
            // `new/` rather than refuse the login; a later login moves it.
            Err(e @ (Errno::NOSPC | Errno::DQUOT | Errno::IO)) => {
                report.left_in_new += 1;
                let path = maildir.path().join("new").join(name);
                report
                    .move_error
                    .get_or_insert_with(|| format!("rename {}: {}", path.display(), e));
                left.push(entry);
            }
            Err(e) => {
                return Err(io_error("rename", maildir.path().join("new").join(name))(
                    e.into(),
                ));
            }
        }
    }
    Ok((moved, left))
}

/// The rename of one message from `new/` to `cur/`; tests make it fail with
/// [`RENAME_FAULT`] (a real `ENOSPC` needs a directory that must grow on a full file system,
/// which tmpfs never has).
fn rename_new_to_cur(maildir: &Maildir, from: &OsStr, to: &OsStr) -> rustix::io::Result<()> {
    #[cfg(test)]
    if let Some(errno) = RENAME_FAULT.with(std::cell::Cell::get) {
        return Err(errno);
    }
    rename_no_replace(&maildir.new, from, &maildir.cur, to)
}

#[cfg(test)]
thread_local! {
    /// Test-only: the error every rename from `new/` to `cur/` on this thread fails with.
    pub(crate) static RENAME_FAULT: std::cell::Cell<Option<Errno>> =
        const { std::cell::Cell::new(None) };
}

/// `renameat2(RENAME_NOREPLACE)`, with a checked plain rename where the file system lacks it.
pub(crate) fn rename_no_replace(
    from_dir: &OwnedFd,
    from: &OsStr,
    to_dir: &OwnedFd,
    to: &OsStr,
) -> rustix::io::Result<()> {
    match rustix::fs::renameat_with(from_dir, from, to_dir, to, RenameFlags::NOREPLACE) {
        Err(Errno::INVAL | Errno::NOSYS) => {
            match rustix::fs::statat(to_dir, to, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(_) => Err(Errno::EXIST),
                Err(Errno::NOENT) => rustix::fs::renameat(from_dir, from, to_dir, to),
                Err(e) => Err(e),
            }
        }
        other => other,
    }
}

fn mtime(dir: &OwnedFd, name: &OsStr, report: &mut ScanReport) -> Option<u64> {
    report.statted += 1;
    let stat = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
    u64::try_from(stat.st_mtime).ok()
}

/// Reads a message once to learn its sizes; `None` if it vanished or is not a regular file.
fn measure(dir: &OwnedFd, shown: &Path, name: &OsStr, buf: &mut [u8]) -> Result<Option<Sizes>> {
    let fd = match open_regular(dir, name) {
        Ok(Some(fd)) => fd,
        Ok(None) | Err(Errno::NOENT | Errno::LOOP) => return Ok(None),
        Err(e) => return Err(io_error("open", shown)(e.into())),
    };
    let counter = count_stream(File::from(fd), buf).map_err(io_error("read", shown))?;
    Ok(Some(Sizes {
        raw: counter.raw(),
        wire: counter.wire(),
    }))
}

/// Whether measuring a message failed for that file alone (no permission, a bad sector),
/// rather than for the whole maildrop (out of descriptors or memory: those fail the open).
fn is_unreadable(error: &crate::error::Error) -> bool {
    match error {
        crate::error::Error::Io { source, .. } => {
            source.kind() == std::io::ErrorKind::PermissionDenied
                || source.raw_os_error() == Some(Errno::IO.raw_os_error())
        }
        _ => false,
    }
}

/// Opens a message file for reading: `O_NOFOLLOW` (a symlink fails with `ELOOP`), and
/// `O_NONBLOCK`, so a file swapped for a FIFO cannot block the opening thread (and with it
/// the maildrop's lock) until a writer appears. `Ok(None)` if it is not a regular file
/// (`fstat` on the opened descriptor, so the check and the read are of the same file). Reads
/// of a regular file ignore `O_NONBLOCK`.
pub(crate) fn open_regular(dir: &OwnedFd, name: &OsStr) -> rustix::io::Result<Option<OwnedFd>> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, name, flags, Mode::empty())?;
    let stat = rustix::fs::fstat(&fd)?;
    Ok((FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile).then_some(fd))
}

#[cfg(test)]
mod tests;
