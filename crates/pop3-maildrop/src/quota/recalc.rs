//! Recounting a Maildir for `maildirsize`: the sizes of the messages in `new/` and `cur/` of
//! the Maildir and of its folders (not `.Trash`), written as a new file that replaces the old
//! one by `rename`. Called with the quota lock held (see the module above for why that and
//! the modification-time check make it safe).

use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};

use super::{MAILDIRSIZE, QuotaLimit, Usage, format};
use crate::error::{Result, io_error};
use crate::maildir::{Maildir, open_dir};
use crate::name::ParsedName;
use crate::ownership::Access;
use crate::scan::{self, ScanReport};

/// How many times a recount is repeated while other programs keep changing the directories.
const ATTEMPTS: usize = 3;

/// The folder the specification leaves out of the count.
const TRASH: &[u8] = b".Trash";

/// Counts the Maildir and writes `maildirsize` with `limit` and the count; returns the count.
/// If the directories changed during every attempt, the file is removed (the next check
/// recounts) and the last count is returned.
pub(crate) fn recount(maildir: &Maildir, limit: &QuotaLimit) -> Result<Usage> {
    let mut usage = Usage::default();
    for _ in 0..ATTEMPTS {
        let dirs = counted_dirs(maildir)?;
        let before = mtimes(&dirs)?;
        usage = Usage::default();
        for (dir, shown) in &dirs {
            add_dir(dir, shown, &mut usage)?;
        }
        if write(maildir, limit, usage).is_err() {
            // The count is right, only its record failed (a full disk, or a delivering user
            // who may write `tmp/` and `new/` but not the Maildir's root): the check goes on
            // with the count, and the next one counts again.
            return Ok(usage);
        }
        if mtimes(&dirs)? == before {
            return Ok(usage);
        }
    }
    let _ = rustix::fs::unlinkat(&maildir.root, MAILDIRSIZE, AtFlags::empty());
    Ok(usage)
}

/// `new/` and `cur/` of the Maildir and of every folder `.Name` but `.Trash`. Folders that
/// are not directories, are symbolic links, or lack a subdirectory are skipped.
fn counted_dirs(maildir: &Maildir) -> Result<Vec<(OwnedFd, PathBuf)>> {
    let root = maildir.path();
    let again = |fd: &OwnedFd, name: &str| {
        let path = root.join(name);
        open_dir(fd, Path::new("."), &path).map(|fd| (fd, path))
    };
    let mut dirs = vec![again(&maildir.new, "new")?, again(&maildir.cur, "cur")?];
    let reader = Dir::read_from(&maildir.root).map_err(|e| io_error("list", root)(e.into()))?;
    for entry in reader {
        let entry = entry.map_err(|e| io_error("list", root)(e.into()))?;
        let name = entry.file_name().to_bytes();
        let is_folder = name.len() > 1 && name[0] == b'.' && name[1] != b'.' && name != TRASH;
        if !is_folder || !matches!(entry.file_type(), FileType::Directory | FileType::Unknown) {
            continue;
        }
        let folder = Path::new(std::ffi::OsStr::from_bytes(name));
        // `open_dir` follows no symlink: neither the folder nor its subdirectories.
        let Ok(folder_fd) = open_dir(&maildir.root, folder, &root.join(folder)) else {
            continue;
        };
        for sub in ["new", "cur"] {
            let path = root.join(folder).join(sub);
            if let Ok(fd) = open_dir(&folder_fd, Path::new(sub), &path) {
                dirs.push((fd, path));
            }
        }
    }
    Ok(dirs)
}

fn mtimes(dirs: &[(OwnedFd, PathBuf)]) -> Result<Vec<(i64, u64)>> {
    dirs.iter()
        .map(|(fd, shown)| {
            let stat = rustix::fs::fstat(fd).map_err(|e| io_error("stat", shown)(e.into()))?;
            Ok((stat.st_mtime, stat.st_mtime_nsec))
        })
        .collect()
}

/// Adds the messages of one directory: `S=` from the name, else the file's size. A file
/// removed while counting is not counted.
fn add_dir(dir: &OwnedFd, shown: &Path, usage: &mut Usage) -> Result<()> {
    let mut ignored = ScanReport::default();
    for entry in scan::list(dir, shown, &mut ignored)? {
        let size = match ParsedName::parse(&entry.name).raw_size {
            Some(size) => size,
            None => {
                let name = std::ffi::OsStr::from_bytes(&entry.name);
                match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(stat) => u64::try_from(stat.st_size).unwrap_or(0),
                    Err(rustix::io::Errno::NOENT) => continue,
                    Err(e) => return Err(io_error("stat", shown.join(name))(e.into())),
                }
            }
        };
        usage.messages = usage.messages.saturating_add(1);
        usage.bytes = usage.bytes.saturating_add(size);
    }
    Ok(())
}

/// `<seconds>.M<microseconds>P<pid>Q<n>.maildirsize`: unique among this process's recounts
/// (the counter) and among processes (the pid), like a delivery's name in `tmp/`.
fn temp_name() -> String {
    static RECOUNTS: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let n = RECOUNTS.fetch_add(1, Ordering::Relaxed);
    format!(
        "{}.M{:06}P{}Q{n}.maildirsize",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id()
    )
}

/// Writes the header and one line of totals to `tmp/<unique>`, syncs it, gives it to the
/// Maildir's owner and renames it over `maildirsize`. On error the temporary file is removed.
fn write(maildir: &Maildir, limit: &QuotaLimit, usage: Usage) -> Result<()> {
    let unique = temp_name();
    let tmp_path = maildir.path().join("tmp").join(&unique);
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(
        &maildir.tmp,
        unique.as_str(),
        flags,
        Mode::RUSR | Mode::WUSR,
    )
    .map_err(|e| io_error("create", &tmp_path)(e.into()))?;
    let mut file = std::fs::File::from(fd);
    let messages = i64::try_from(usage.messages).unwrap_or(i64::MAX);
    let bytes = i64::try_from(usage.bytes).unwrap_or(i64::MAX);
    let text = format!(
        "{}{}",
        format::header(limit),
        format::delta_line(bytes, messages)
    );
    // Read-write for the Maildir's group when shared: the server appends to a file a
    // delivering user made, and that user to the server's.
    let written = maildir
        .give_to_owner_for(&file, &tmp_path, Access::ReadWrite)
        .and_then(|()| {
            file.write_all(text.as_bytes())
                .map_err(io_error("write", &tmp_path))
        })
        .and_then(|()| file.sync_all().map_err(io_error("sync", &tmp_path)))
        .and_then(|()| {
            rustix::fs::renameat(&maildir.tmp, unique.as_str(), &maildir.root, MAILDIRSIZE)
                .map_err(|e| io_error("rename", &tmp_path)(e.into()))
        });
    if written.is_err() {
        let _ = rustix::fs::unlinkat(&maildir.tmp, unique.as_str(), AtFlags::empty());
    }
    written
}
