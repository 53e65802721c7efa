//! [`summarize`]: a maildrop's message count, size and oldest message for the admin tool's
//! user list (issue 20), **without reading a message or listing `cur/`**, so a list of
//! users with 100,000 messages each costs a few small reads per user, not a scan.
//!
//! Where the numbers come from, in order: `maildirsize` ([`read_usage`], kept current by
//! every delivery and commit under a quota); else the persistent listing `.pop3d.listing`
//! (`listing.rs`), used only where a login would use it (its stamp matches `cur/`, not a
//! network file system), **plus what waits in `new/`** (usually little: one readdir, each
//! size from the name's `W=` or `S=`, else one `fstatat`; **more than [`NEW_LIMIT`]
//! entries and the counts are unknown**, so the work stays bounded); else nothing, shown as
//! unknown. A size from `S=` or from the file is the stored size, a little below the wire
//! size the listing holds (LF becomes CRLF). The oldest message is the smallest delivery
//! time in the listing and `new/` (a Maildir name starts with the delivery's seconds since
//! the epoch), whenever the listing matches `cur/`.
//!
//! **Read-only and without the lock**: nothing is written, created, moved or locked, and a
//! session holding the maildrop is not disturbed. What is shown is what the last login (or
//! delivery) recorded; a listing that no longer matches is ignored, never trusted.

use std::path::Path;

use rustix::fs::{AtFlags, FileType};

use crate::filesystem::ListingCache;
use crate::listing::{self, DirStamp};
use crate::maildir::Maildir;
use crate::name::{MAX_MESSAGE_SIZE, ParsedName};
use crate::quota::read_usage;

/// The most entries of `new/` that [`summarize`] adds up; with more, the counts are unknown
/// (a delivery backlog that large is worth a login's scan, not the admin tool's).
pub(crate) const NEW_LIMIT: usize = 10_000;

/// What [`summarize`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailSummary {
    /// Messages, if known.
    pub messages: Option<u64>,
    /// Octets, if known: `maildirsize`'s (stored sizes) or the listing's wire sizes.
    pub bytes: Option<u64>,
    /// The oldest message's delivery time, seconds since the epoch, if the listing says.
    pub oldest: Option<u64>,
    /// Where `messages` and `bytes` come from.
    pub source: CountSource,
}

/// Where a [`MailSummary`]'s counts come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountSource {
    /// The Maildir++ `maildirsize` file.
    Maildirsize,
    /// pop3d's persistent listing, as of the last login.
    Listing,
    /// Neither could be used: the counts are unknown (a scan would tell, and is not done).
    Unknown,
}

impl CountSource {
    /// The word for it: `maildirsize`, `listing` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            CountSource::Maildirsize => "maildirsize",
            CountSource::Listing => "listing",
            CountSource::Unknown => "unknown",
        }
    }
}

/// The summary of the Maildir at `path` (see the module); a missing or unreadable Maildir
/// is all unknown.
pub fn summarize(path: &Path) -> MailSummary {
    let usage = read_usage(path);
    let listed = listed(path);
    let oldest = listed.as_ref().and_then(|l| l.oldest);
    match (usage, listed) {
        (Some(usage), _) => MailSummary {
            messages: Some(usage.messages),
            bytes: Some(usage.bytes),
            oldest,
            source: CountSource::Maildirsize,
        },
        (
            None,
            Some(Listed {
                counts: Some((messages, bytes)),
                ..
            }),
        ) => MailSummary {
            messages: Some(messages),
            bytes: Some(bytes),
            oldest,
            source: CountSource::Listing,
        },
        _ => MailSummary {
            messages: None,
            bytes: None,
            oldest,
            source: CountSource::Unknown,
        },
    }
}

/// What the listing and `new/` tell: the counts (unknown when `new/` could not be counted)
/// and the oldest message.
struct Listed {
    counts: Option<(u64, u64)>,
    oldest: Option<u64>,
}

fn listed(path: &Path) -> Option<Listed> {
    let maildir = Maildir::open(path).ok()?;
    ListingCache::Auto.decide(&maildir.cur).ok()?;
    let stamp = DirStamp::of(&maildir.cur).ok()?;
    let totals = listing::totals(&maildir, &stamp)?;
    let new = count_new(&maildir);
    let counts = new.as_ref().map(|new| {
        (
            totals.messages.saturating_add(new.messages),
            totals.wire_bytes.saturating_add(new.bytes),
        )
    });
    let oldest = match (totals.oldest, new.and_then(|n| n.oldest)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Some(Listed { counts, oldest })
}

/// What waits in `new/`.
struct NewMail {
    messages: u64,
    bytes: u64,
    oldest: Option<u64>,
}

/// Counts `new/` (names starting with `.` are not messages): each size from `W=`, else
/// `S=`, else the file's own (`fstatat`, not following a link; an entry gone meanwhile, to
/// `cur/` by a login, is skipped). `None` when it cannot be read or holds more than
/// [`NEW_LIMIT`] entries.
fn count_new(maildir: &Maildir) -> Option<NewMail> {
    let mut dir = rustix::fs::Dir::read_from(&maildir.new).ok()?;
    let mut new = NewMail {
        messages: 0,
        bytes: 0,
        oldest: None,
    };
    let mut seen = 0usize;
    for entry in dir.by_ref() {
        let entry = entry.ok()?;
        let name = entry.file_name();
        if name.to_bytes().starts_with(b".") {
            continue;
        }
        seen += 1;
        if seen > NEW_LIMIT {
            return None;
        }
        let parsed = ParsedName::parse(name.to_bytes());
        let named = parsed
            .plausible_wire_size()
            .or(parsed.raw_size.filter(|&raw| raw <= MAX_MESSAGE_SIZE));
        let size = match named {
            Some(size) => size,
            None => match rustix::fs::statat(&maildir.new, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile => {
                    u64::try_from(stat.st_size).unwrap_or(0)
                }
                Ok(_) | Err(rustix::io::Errno::NOENT) => continue,
                Err(_) => return None,
            },
        };
        new.messages += 1;
        new.bytes = new.bytes.saturating_add(size);
        if let Some(at) = crate::name::delivered_at(name.to_bytes()) {
            new.oldest = Some(new.oldest.map_or(at, |o| o.min(at)));
        }
    }
    Some(new)
}

#[cfg(test)]
mod tests;
