//! [`summarize`]: a maildrop's message count, size and oldest message for the admin tool's
//! user list (issue 20), **without reading a message or listing `cur/`**, so a list of
//! users with 100,000 messages each costs a few small reads per user, not a scan.
//!
//! Where the numbers come from, in order: `maildirsize` ([`read_usage`], kept current by
//! every delivery and commit under a quota); else the persistent listing `.pop3d.listing`
//! (`listing.rs`), used only where a login would use it (its stamp matches `cur/`, nothing
//! waits in `new/`, not a network file system); else nothing, shown as unknown. The oldest
//! message is the smallest delivery time in the listing (a Maildir name starts with the
//! delivery's seconds since the epoch), whenever the listing matches `cur/`.
//!
//! **Read-only and without the lock**: nothing is written, created, moved or locked, and a
//! session holding the maildrop is not disturbed. What is shown is what the last login (or
//! delivery) recorded; a listing that no longer matches is ignored, never trusted.

use std::path::Path;

use crate::filesystem::ListingCache;
use crate::listing::{self, DirStamp};
use crate::maildir::Maildir;
use crate::quota::read_usage;

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

/// What the listing tells: the counts (only with nothing in `new/`) and the oldest message.
struct Listed {
    counts: Option<(u64, u64)>,
    oldest: Option<u64>,
}

fn listed(path: &Path) -> Option<Listed> {
    let maildir = Maildir::open(path).ok()?;
    ListingCache::Auto.decide(&maildir.cur).ok()?;
    let stamp = DirStamp::of(&maildir.cur).ok()?;
    let totals = listing::totals(&maildir, &stamp)?;
    let counts = new_is_empty(&maildir).then_some((totals.messages, totals.wire_bytes));
    Some(Listed {
        counts,
        oldest: totals.oldest,
    })
}

/// Whether `new/` holds no message (its first entry is enough to say no).
fn new_is_empty(maildir: &Maildir) -> bool {
    let Ok(mut dir) = rustix::fs::Dir::read_from(&maildir.new) else {
        return false;
    };
    for entry in dir.by_ref() {
        let Ok(entry) = entry else {
            return false;
        };
        if !entry.file_name().to_bytes().starts_with(b".") {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests;
