//! [`peek`]: the listing the next session would serve — numbers, sizes, UIDLs — computed by the
//! same scan and the same UIDL map, **read-only and without the lock**, for the admin tool.
//!
//! Nothing is written, moved or locked: `new/` is listed as the session would list it after
//! moving it (each file under its `cur/` name, `:2,` added when it has no info, measured
//! unless its name has a `W=`); the size index and the persistent listing are read, never
//! written; the listing is used only where a session would use it (nothing in `new/`, `cur/`
//! unchanged). A session holding the lock is neither waited for nor disturbed. What a live
//! session shows is the listing it scanned at its login; `peek` shows what the next login
//! would see, which differs only by what changed since (new mail, deletions by the live
//! session at its QUIT).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::AtFlags;

use crate::carried::{self, UidlMapPolicy};
use crate::error::Result;
use crate::filesystem::ListingCache;
use crate::listing::{self, DirStamp};
use crate::maildir::Maildir;
use crate::message::Message;
use crate::scan::{Extra, Moved, ScanReport, list, scan_cur};

/// A read-only listing of a maildrop (see [`peek`]).
#[derive(Debug)]
pub struct Peek {
    messages: Vec<Message>,
    report: ScanReport,
}

impl Peek {
    /// The messages, in POP3 order (message number = index + 1).
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// What the scan found.
    pub fn scan_report(&self) -> &ScanReport {
        &self.report
    }
}

/// The messages the next session of the Maildir at `path` would list, with their UIDLs, read
/// without taking the lock and without writing anything. `uidl_map` as for
/// [`OpenOptions::uidl_map`](crate::OpenOptions::uidl_map): a damaged or required-but-missing
/// map is the same [`Error::UidlMap`](crate::Error::UidlMap) a login would get.
pub fn peek(path: &Path, uidl_map: UidlMapPolicy) -> Result<Peek> {
    let maildir = Maildir::open(path)?;
    let mut report = ScanReport::default();
    let in_new = list(&maildir.new, &path.join("new"), &mut report)?;
    // As a login with the default policy would: no listing on a network file system.
    let trusted = ListingCache::Auto.decide(&maildir.cur).is_ok();
    let stamp = DirStamp::of(&maildir.cur).ok().filter(|_| trusted);
    let from_listing = stamp
        .as_ref()
        .filter(|_| in_new.is_empty())
        .and_then(|stamp| listing::load(&maildir, stamp));
    let mut messages = match from_listing {
        Some(messages) => {
            report.from_listing = true;
            messages
        }
        None => {
            let extra = in_new
                .into_iter()
                .filter_map(|entry| {
                    let mut target = entry.name.to_vec();
                    if memchr::memchr(b':', &target).is_none() {
                        target.extend_from_slice(b":2,");
                    }
                    // The session's rename never replaces a file: one whose `cur/` name is
                    // taken stays in `new/`, unlisted.
                    let taken = rustix::fs::statat(
                        &maildir.cur,
                        OsStr::from_bytes(&target),
                        AtFlags::SYMLINK_NOFOLLOW,
                    )
                    .is_ok();
                    (!taken).then(|| Extra {
                        listed: target.into_boxed_slice(),
                        on_disk: entry.name,
                    })
                })
                .collect();
            let (messages, _) = scan_cur(&maildir, &Moved::default(), extra, false, &mut report)?;
            messages
        }
    };
    carried::load_and_apply(&maildir, uidl_map, &mut messages, &mut report)?;
    Ok(Peek { messages, report })
}
