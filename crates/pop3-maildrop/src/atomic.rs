//! Atomic replacement of a file in the Maildir's root, for the caches `.pop3d.index` and
//! `.pop3d.listing` and, durably, the map of carried-over UIDLs `.pop3d.uidl` and the
//! retrieval times `.pop3d.retrieved`: a reader sees
//! the old file or the new one, never a torn one.
//!
//! The steps: create `<name>.tmp.<pid>` afresh (a leftover of that name is removed first,
//! then `O_CREAT | O_EXCL`, mode 0600, `O_NOFOLLOW`), give it to the Maildir's owner when
//! running as root ([`Maildir::give_to_owner`]), write, fsync, rename over `<name>`. The Maildir is not fsynced after the rename: both files are caches whose
//! previous version is harmless after a crash (the listing is checked against `cur/`'s stamp;
//! the index only lacks new entries or keeps removed ones). On any error before the rename is
//! done the temp file is removed (best effort) and the old file stays as it was. One session holds the maildrop's lock, so one process at a time writes
//! these files, and the pid keeps a crashed writer's leftover from being mistaken for ours
//! (the next store of the same process removes it and creates its own).

use std::fs::File;
use std::io::{BufWriter, Write};

use rustix::fs::{AtFlags, Mode, OFlags};

use crate::error::{Result, io_error};
use crate::maildir::{Maildir, sync_dir};

/// Replaces `name` in the Maildir's root with `bytes`, atomically. Errors name the temp
/// file's path (`create`, `write`, `rename`).
pub(crate) fn replace(maildir: &Maildir, name: &str, bytes: &[u8]) -> Result<()> {
    replace_with(maildir, name, &mut |file| file.write_all(bytes))
}

/// [`replace`], the content written by `write` through a buffer, so a large file is
/// streamed out instead of built in memory first.
pub(crate) fn replace_with(
    maildir: &Maildir,
    name: &str,
    write: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let tmp_name = format!("{name}.tmp.{}", std::process::id());
    let tmp_path = maildir.path().join(&tmp_name);
    // A leftover (a crashed writer of the same pid) is removed, never truncated and reused:
    // the file written is always one this call created, so giving it away is safe.
    let _ = rustix::fs::unlinkat(&maildir.root, tmp_name.as_str(), AtFlags::empty());
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mode = Mode::RUSR | Mode::WUSR;
    let fd = rustix::fs::openat(&maildir.root, tmp_name.as_str(), flags, mode)
        .map_err(|e| io_error("create", &tmp_path)(e.into()))?;
    let file = File::from(fd);
    let renamed = maildir
        .give_to_owner(&file, &tmp_path)
        .and_then(|()| {
            let mut buffered = BufWriter::new(&file);
            write(&mut buffered)
                .and_then(|()| buffered.flush())
                .map_err(io_error("write", &tmp_path))
        })
        .and_then(|()| file.sync_all().map_err(io_error("write", &tmp_path)))
        .and_then(|()| {
            rustix::fs::renameat(&maildir.root, tmp_name.as_str(), &maildir.root, name)
                .map_err(|e| io_error("rename", &tmp_path)(e.into()))
        });
    if let Err(e) = renamed {
        // The error being returned matters more than a leftover temp file, which the next
        // store overwrites.
        let _ = rustix::fs::unlinkat(&maildir.root, tmp_name.as_str(), AtFlags::empty());
        return Err(e);
    }
    Ok(())
}

/// [`replace`], then an fsync of the Maildir, so the new file survives a crash: for the
/// UIDL map, which is not a cache (a rolled-back map would bring back entries of deleted
/// messages, harmless, but a map written by `carry_over` must not vanish).
pub(crate) fn replace_durable(maildir: &Maildir, name: &str, bytes: &[u8]) -> Result<()> {
    replace(maildir, name, bytes)?;
    sync_dir(&maildir.root, maildir.path())
}

/// [`replace_with`], then an fsync of the Maildir: for the retrieval times of `EXPIRE n`
/// (`.pop3d.retrieved`), not a cache either.
pub(crate) fn replace_durable_with(
    maildir: &Maildir,
    name: &str,
    write: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    replace_with(maildir, name, write)?;
    sync_dir(&maildir.root, maildir.path())
}

#[cfg(test)]
mod tests;
