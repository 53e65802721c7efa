//! Atomic delivery (the Maildir protocol): write `tmp/<unique>`, fsync it, rename it into
//! `new/<unique>,S=<raw>,W=<wire>`, fsync `new/`. Run as root, the message is given to the
//! Maildir's owner and group before it is written ([`Maildir::give_to_owner`]).
//!
//! **A partial message never appears in `new/`**: the rename happens only after the whole
//! message is on disk, and on any error (ENOSPC, EIO, a failing reader) the temporary file is
//! removed and the error returned for the caller to report as a temporary failure.

use std::borrow::Borrow;
use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, Mode, OFlags};

use crate::error::{Error, Result, io_error};
use crate::maildir::{Maildir, sync_dir};
use crate::quota::{self, QuotaLimit, signed};
use crate::scan::rename_no_replace;
use crate::wire::SizeCounter;

/// Deliveries made by this process, for unique names (`Q<n>`).
static DELIVERIES: AtomicU64 = AtomicU64::new(0);

/// A delivered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Its file name in `new/`.
    pub name: OsString,
    /// Octets as stored.
    pub raw_size: u64,
    /// Octets on the wire (LF→CRLF).
    pub wire_size: u64,
}

/// Delivers the message read from `message` into the Maildir.
pub fn deliver(maildir: &Maildir, mut message: impl Read) -> Result<Delivered> {
    let mut delivery = Delivery::begin(maildir)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match message.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_error("read", &delivery.tmp_path())(e)),
        };
        delivery.write(&buf[..n])?;
    }
    delivery.commit()
}

/// A delivery in progress: a file in `tmp/` written piece by piece, for callers that receive
/// the message in pieces (LMTP, one delivery per recipient). [`Delivery::commit`] syncs it and
/// renames it into `new/`; **dropped without a commit, or after any failed step, the temporary
/// file is removed**, so nothing partial is ever visible to readers.
///
/// `M` is the Maildir, owned or borrowed, so a delivery can move to a blocking thread with
/// its Maildir.
pub struct Delivery<M: Borrow<Maildir>> {
    maildir: M,
    /// `None` once committed or failed: nothing is left to remove.
    file: Option<File>,
    unique: String,
    counter: SizeCounter,
}

impl<M: Borrow<Maildir>> Delivery<M> {
    /// Creates the temporary file (mode 0600, given to the Maildir's owner when run as root).
    pub fn begin(maildir: M) -> Result<Delivery<M>> {
        let unique = unique_name();
        let md: &Maildir = maildir.borrow();
        let tmp_path = md.path().join("tmp").join(&unique);
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&md.tmp, unique.as_str(), flags, Mode::RUSR | Mode::WUSR)
            .map_err(|e| io_error("create", &tmp_path)(e.into()))?;
        let file = File::from(fd);
        let delivery = Delivery {
            maildir,
            file: Some(file),
            unique,
            counter: SizeCounter::default(),
        };
        // Delivered as root (`pop3-admin deliver` from an MTA running it as root), the
        // message must still be readable by pop3d running as the Maildir's owner.
        if let Some(file) = &delivery.file {
            delivery.maildir().give_to_owner(file, &tmp_path)?;
        }
        Ok(delivery)
    }

    /// Appends `bytes` to the message. After an error the delivery is dead: the temporary
    /// file is removed and every later call fails.
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Err(self.dead());
        };
        if let Err(e) = file.write_all(bytes) {
            self.discard();
            return Err(io_error("write", &self.tmp_path())(e));
        }
        self.counter.update(bytes);
        Ok(())
    }

    /// Octets written so far, as stored.
    pub fn raw_size(&self) -> u64 {
        self.counter.raw()
    }

    /// Syncs the file, renames it into `new/` and syncs `new/`: on `Ok` the message is
    /// durably delivered; on `Err` it was not (the temporary file is removed), except when
    /// only the final sync of `new/` failed, where the message may be in `new/` without being
    /// durable. **Report success to the sender only on `Ok`**: a retry after an error may
    /// deliver a second copy, never lose the message. No quota is checked; an existing
    /// `maildirsize` is kept current.
    pub fn commit(self) -> Result<Delivered> {
        self.commit_within(&QuotaLimit::UNLIMITED)
    }

    /// [`Delivery::commit`] under a quota: **a message that would take the Maildir past
    /// `limit` is not delivered** ([`Error::OverQuota`], the temporary file removed). The
    /// check, the rename into `new/` and the line appended to `maildirsize` happen under the
    /// quota lock (`quota.rs`), so concurrent deliveries cannot both take the last place, and
    /// a recount never sees the message without its line or the line without the message.
    pub fn commit_within(mut self, limit: &QuotaLimit) -> Result<Delivered> {
        let Some(file) = self.file.take() else {
            return Err(self.dead());
        };
        let tmp_path = self.tmp_path();
        if let Err(e) = file.sync_all() {
            drop(file);
            remove_tmp(self.maildir(), &self.unique);
            return Err(io_error("sync", &tmp_path)(e));
        }
        drop(file);
        let (raw, wire) = (self.counter.raw(), self.counter.wire());
        let final_name = OsString::from(format!("{},S={raw},W={wire}", self.unique));
        let md = self.maildir();
        let lock = match quota::lock(&md.root, md.path()) {
            Ok(lock) => lock,
            Err(e) => {
                remove_tmp(md, &self.unique);
                return Err(e);
            }
        };
        if !limit.is_unlimited() {
            match quota::admit(md, limit, raw, &lock) {
                Ok(Ok(_)) => {}
                Ok(Err(usage)) => {
                    remove_tmp(md, &self.unique);
                    return Err(Error::OverQuota {
                        path: md.path().to_owned(),
                        usage,
                        limit: *limit,
                        size: raw,
                    });
                }
                Err(e) => {
                    remove_tmp(md, &self.unique);
                    return Err(e);
                }
            }
        }
        if let Err(e) = rename_no_replace(&md.tmp, self.unique.as_ref(), &md.new, &final_name) {
            remove_tmp(md, &self.unique);
            return Err(io_error("rename", &tmp_path)(e.into()));
        }
        #[cfg(test)]
        tests::AFTER_RENAME.with(|hook| {
            if let Some(hook) = hook.borrow_mut().as_mut() {
                hook(md);
            }
        });
        // Delivered: counted. A failed append removed the file (the next check recounts), so
        // it is not an error of the delivery.
        let _ = quota::append(&md.root, md.path(), signed(raw), 1, &lock);
        drop(lock);
        // Once renamed the message is delivered; the sync makes that survive a power cut. If
        // it fails the caller must not report success, or the sender would drop a message
        // that may not be on disk: report the error (a temporary failure), and a retry
        // delivers a copy.
        sync_dir(&md.new, &md.path().join("new"))?;
        Ok(Delivered {
            name: final_name,
            raw_size: raw,
            wire_size: wire,
        })
    }

    fn maildir(&self) -> &Maildir {
        self.maildir.borrow()
    }

    fn tmp_path(&self) -> PathBuf {
        self.maildir().path().join("tmp").join(&self.unique)
    }

    fn discard(&mut self) {
        if self.file.take().is_some() {
            remove_tmp(self.maildir(), &self.unique);
        }
    }

    fn dead(&self) -> Error {
        io_error("write", &self.tmp_path())(std::io::Error::other(
            "the delivery failed earlier and was discarded",
        ))
    }
}

impl<M: Borrow<Maildir>> Drop for Delivery<M> {
    fn drop(&mut self) {
        self.discard();
    }
}

fn remove_tmp(maildir: &Maildir, unique: &str) {
    // Best effort: the error that caused this is the one worth reporting, and a leftover in
    // tmp/ is never visible to readers.
    let _ = rustix::fs::unlinkat(&maildir.tmp, unique, AtFlags::empty());
}

/// `<seconds>.M<microseconds>P<pid>Q<n>.<host>`, the usual Maildir unique name, with `/`, `:`
/// and `,` in the host name escaped as the Maildir specification asks.
fn unique_name() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let n = DELIVERIES.fetch_add(1, Ordering::Relaxed);
    let uname = rustix::system::uname();
    let host = String::from_utf8_lossy(uname.nodename().to_bytes()).into_owned();
    format_unique(now, std::process::id(), n, &host)
}

/// The microseconds and the counter are zero-padded, so that names of one second sort in
/// delivery order (the scan orders by time, then name).
fn format_unique(now: std::time::Duration, pid: u32, n: u64, host: &str) -> String {
    let host: String = host
        .chars()
        .map(|c| match c {
            '/' => "\\057".to_owned(),
            ':' => "\\072".to_owned(),
            ',' => "\\054".to_owned(),
            c if c.is_ascii_graphic() => c.to_string(),
            _ => "_".to_owned(),
        })
        .collect();
    format!(
        "{}.M{:06}P{pid}Q{n:010}.{host}",
        now.as_secs(),
        now.subsec_micros(),
    )
}

#[cfg(test)]
pub(crate) mod tests;
