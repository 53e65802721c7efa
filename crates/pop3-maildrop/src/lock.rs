//! The exclusive session lock: `flock(LOCK_EX | LOCK_NB)` on `.pop3d.lock` inside the Maildir.
//!
//! **The lock is held by a [`LockGuard`] and released on every exit path**: by `Drop`, and by
//! the kernel when the process dies, so a crashed server never leaves a user locked out. The
//! holder (pid, session id, since when) is written into the file for `[IN-USE]` replies and the
//! admin tools; [`lock_status`] reads who holds a lock without taking it, from `/proc/locks`.

use std::fs::{File, TryLockError};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::error::{Error, Result, io_error};
use crate::holder::Holder;
use crate::maildir::Maildir;
use crate::ownership::Access;

/// The lock file's name inside the Maildir. A dotfile, so Maildir readers ignore it.
pub const LOCK_FILE: &str = ".pop3d.lock";

/// How long to sleep between attempts while waiting for a lock.
const RETRY: Duration = Duration::from_millis(20);

/// Holds the maildrop's lock; dropping it releases the lock and clears the holder record.
#[derive(Debug)]
pub struct LockGuard {
    file: File,
    holder: Holder,
    /// Whether the holder record may be written: the lock file is a regular file with one
    /// link (see [`lock`]).
    records: bool,
}

impl LockGuard {
    /// Who holds this lock (this process).
    pub fn holder(&self) -> &Holder {
        &self.holder
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Clear the record first, so nobody reads a stale holder; the unlock itself also
        // happens when the descriptor closes. Errors here cannot be reported and leave at
        // worst a stale record, which lock_status ignores since no lock backs it.
        if self.records {
            let _ = self.file.set_len(0);
        }
        let _ = self.file.unlock();
    }
}

/// Takes the maildrop's exclusive lock for `session`, waiting at most `wait` for a holder to
/// let go. The lock file is opened relative to the Maildir, without following symlinks, with
/// `O_CLOEXEC`, so no child process inherits it; run as root, the file is given to the
/// Maildir's owner and group, and run as another user, shared with the Maildir's group, mode
/// 0660 (`Maildir::give_to_owner_for`).
pub fn lock(maildir: &Maildir, session: &str, wait: Duration) -> Result<LockGuard> {
    let path = maildir.path().join(LOCK_FILE);
    let flags = OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(&maildir.root, LOCK_FILE, flags, Mode::RUSR | Mode::WUSR).map_err(
        |e| match e {
            Errno::LOOP => Error::Symlink { path: path.clone() },
            other => Error::Io {
                op: "open",
                path: path.clone(),
                source: other.into(),
            },
        },
    )?;
    let file = File::from(fd);
    // Before the lock is used: a lock file the admin tool creates as root (or as a member of
    // the Maildir's group) must open read-write for pop3d running as the Maildir's owner
    // (and one an older version left root's is given back).
    maildir.give_to_owner_for(&file, &path, Access::ReadWrite)?;
    // The holder record is written (truncate, write) only into a regular file with one link:
    // a hard link planted at the lock's name would otherwise have its target truncated,
    // whoever that file belongs to (pop3d may run as root, or with CAP_DAC_OVERRIDE). The
    // flock holds on any file; without a record, `lock_status` says "holder unknown".
    let records = rustix::fs::fstat(&file).is_ok_and(|stat| {
        FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile && stat.st_nlink == 1
    });
    let deadline = Instant::now() + wait;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) => {
                let now = Instant::now();
                if now >= deadline {
                    return Err(Error::Locked {
                        path: maildir.path().to_owned(),
                        holder: read_holder(&file),
                    });
                }
                std::thread::sleep(RETRY.min(deadline - now));
            }
            Err(TryLockError::Error(e)) => return Err(io_error("lock", &path)(e)),
        }
    }
    let holder = Holder {
        pid: std::process::id(),
        session: sanitize_session(session),
        since: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let record = format!(
        "pid={} session={} since={}\n",
        holder.pid, holder.session, holder.since
    );
    // The record only names the holder for `lock_status`; the flock is the lock. On a full
    // disk the write fails, and the user must still be able to log in and delete mail to
    // free space, so a failed record is left empty ("holder unknown"), never an error.
    if records && file.set_len(0).is_ok() && file.write_all_at(record.as_bytes(), 0).is_err() {
        let _ = file.set_len(0);
    }
    Ok(LockGuard {
        file,
        holder,
        records,
    })
}

/// Whether the maildrop at `path` is locked, and by whom, without taking or disturbing the
/// lock: the kernel's `/proc/locks` is the truth; the file's record only names the holder.
pub fn lock_status(path: &Path) -> Result<Option<Holder>> {
    let maildir = Maildir::open(path)?;
    let stat = match rustix::fs::statat(&maildir.root, LOCK_FILE, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => stat,
        Err(Errno::NOENT) => return Ok(None),
        Err(e) => return Err(io_error("stat", path.join(LOCK_FILE))(e.into())),
    };
    let device = format!(
        "{:02x}:{:02x}:{}",
        rustix::fs::major(stat.st_dev),
        rustix::fs::minor(stat.st_dev),
        stat.st_ino
    );
    let locks = read_proc_locks().map_err(io_error("read", "/proc/locks"))?;
    let Some(pid) = locks.lines().find_map(|line| flock_holder(line, &device)) else {
        return Ok(None);
    };
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let record = rustix::fs::openat(&maildir.root, LOCK_FILE, flags, Mode::empty())
        .ok()
        .and_then(|fd| read_holder(&File::from(fd)));
    Ok(Some(record.unwrap_or(Holder {
        pid,
        session: String::new(),
        since: 0,
    })))
}

/// `/proc/locks` in one `read` call. The kernel builds one read's worth under its lock-list
/// lock, so that is a consistent snapshot; several smaller reads (what `read_to_string` does)
/// can skip a line when another lock goes away between them, and a held lock would then look
/// free. The buffer doubles until the whole table fits in one read.
fn read_proc_locks() -> std::io::Result<String> {
    let mut size = 256 * 1024;
    loop {
        let mut buf = vec![0u8; size];
        let n = std::io::Read::read(&mut File::open("/proc/locks")?, &mut buf)?;
        if n < size || size >= 64 * 1024 * 1024 {
            buf.truncate(n);
            return Ok(String::from_utf8_lossy(&buf).into_owned());
        }
        size *= 2;
    }
}

/// The pid of an exclusive flock on `device` (`maj:min:inode`) in a `/proc/locks` line:
/// `1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF`.
fn flock_holder(line: &str, device: &str) -> Option<u32> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    match fields[..] {
        [_, "FLOCK", _, "WRITE", pid, dev, ..] if dev == device => pid.parse().ok(),
        _ => None,
    }
}

fn read_holder(file: &File) -> Option<Holder> {
    // The record is one short line; never read more than a little.
    let mut buf = [0u8; 512];
    let n = file.read_at(&mut buf, 0).ok()?;
    let text = std::str::from_utf8(&buf[..n]).ok()?;
    let mut holder = Holder {
        pid: 0,
        session: String::new(),
        since: 0,
    };
    for field in text.split_whitespace() {
        match field.split_once('=')? {
            ("pid", pid) => holder.pid = pid.parse().ok()?,
            ("session", session) => holder.session = session.to_owned(),
            ("since", since) => holder.since = since.parse().ok()?,
            _ => {}
        }
    }
    (holder.pid != 0).then_some(holder)
}

/// Session ids go into a one-line record: keep them to `[A-Za-z0-9._-]`, at most 64.
fn sanitize_session(session: &str) -> String {
    session
        .chars()
        .take(64)
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '_',
        })
        .collect()
}
