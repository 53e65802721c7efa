//! Atomic delivery (the Maildir protocol): write `tmp/<unique>`, fsync it, rename it into
//! `new/<unique>,S=<raw>,W=<wire>`, fsync `new/`. Run as root, the message is given to the
//! Maildir's owner and group before it is written ([`Maildir::give_to_owner`]).
//!
//! **A partial message never appears in `new/`**: the rename happens only after the whole
//! message is on disk, and on any error (ENOSPC, EIO, a failing reader) the temporary file is
//! removed and the error returned for the caller to report as a temporary failure.

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, Mode, OFlags};

use crate::error::{Result, io_error};
use crate::maildir::{Maildir, sync_dir};
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
pub fn deliver(maildir: &Maildir, message: impl Read) -> Result<Delivered> {
    let unique = unique_name();
    let tmp_path = maildir.path().join("tmp").join(&unique);
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(
        &maildir.tmp,
        unique.as_str(),
        flags,
        Mode::RUSR | Mode::WUSR,
    )
    .map_err(|e| io_error("create", &tmp_path)(e.into()))?;
    let file = File::from(fd);
    // Delivered as root (`pop3-admin deliver` from an MTA running it as root), the message
    // must still be readable by pop3d running as the Maildir's owner.
    if let Err(e) = maildir.give_to_owner(&file, &tmp_path) {
        remove_tmp(maildir, &unique);
        return Err(e);
    }
    let written = write_all(file, message).map_err(io_error("write", &tmp_path));
    let counter = match written {
        Ok(counter) => counter,
        Err(e) => {
            remove_tmp(maildir, &unique);
            return Err(e);
        }
    };
    let final_name = OsString::from(format!("{unique},S={},W={}", counter.raw(), counter.wire()));
    if let Err(e) = rename_no_replace(&maildir.tmp, unique.as_ref(), &maildir.new, &final_name) {
        remove_tmp(maildir, &unique);
        return Err(io_error("rename", &tmp_path)(e.into()));
    }
    // Once renamed the message is delivered; the sync makes that survive a power cut. If it
    // fails the caller must not report success, or the sender would drop a message that may
    // not be on disk: report the error (a temporary failure), and a retry delivers a copy.
    sync_dir(&maildir.new, &maildir.path().join("new"))?;
    Ok(Delivered {
        name: final_name,
        raw_size: counter.raw(),
        wire_size: counter.wire(),
    })
}

/// Copies the message in 64 KiB pieces, counting sizes, then fsyncs the file.
fn write_all(mut file: File, mut message: impl Read) -> std::io::Result<SizeCounter> {
    let mut counter = SizeCounter::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match message.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        file.write_all(&buf[..n])?;
        counter.update(&buf[..n]);
    }
    file.sync_all()?;
    Ok(counter)
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
mod tests;
