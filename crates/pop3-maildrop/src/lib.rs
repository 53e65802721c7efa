//! `pop3-maildrop`: Maildir storage for pop3d, where mail can be lost, so where we are
//! strictest.
//!
//! # Main types
//! - [`Maildir`]: an opened Maildir (directory descriptors; symlinks never followed).
//! - [`Maildrop`]: one session's locked, scanned view: messages with wire sizes and UIDLs,
//!   [`Maildrop::open_message`] to stream one, [`Maildrop::commit`] for UPDATE.
//! - [`deliver`]: atomic delivery through `tmp/`.
//! - [`lock_status`]: who holds a maildrop's lock, without taking it.
//! - Maildir++ quotas ([`QuotaLimit`], [`Usage`]): [`Delivery::commit_within`] refuses a
//!   message over the limit ([`Error::OverQuota`]) and, like [`Maildrop::commit`], keeps
//!   `maildirsize` current by appending; [`read_usage`] reads it for display.
//! - [`summarize`]: a maildrop's count, size and oldest message from `maildirsize` or the
//!   persistent listing, never a scan ([`MailSummary`]), for the admin tool's user list.
//! - [`peek`]: the listing the next session would serve, read-only and without the lock.
//! - UIDLs carried over from another server: [`dovecot_uidlist`], [`courier_sizelist`] and
//!   [`courier_filenames`] read them ([`ForeignUidls`]), [`carry_over`] writes them into the
//!   maildrop's map (`.pop3d.uidl`), which [`Maildrop::open`] applies ([`UidlMapPolicy`]);
//!   [`plan_carry_over`] reports what it would carry, read-only (a migration's dry run).
//! - `EXPIRE n` (RFC 2449 §6.7): [`Maildrop::commit_expiring`] removes the messages whose
//!   first retrieval, kept in `.pop3d.retrieved` ([`RETRIEVED_FILE`]), is n days past, and
//!   records the first retrievals of the session; the time logic is [`has_expired`] on
//!   [`Moment`]s the caller reads from the clocks.
//!
//! # Invariants
//! - **A maildrop's path comes from the user database, never from client text**; the Maildir
//!   and its subdirectories are never symlinks, and every file operation is relative to their
//!   descriptors with `O_NOFOLLOW`.
//! - **One session at a time**: an exclusive `flock` on `.pop3d.lock`, held by a guard,
//!   released on every exit path and by the kernel when a process dies.
//! - **The wire size is the only size reported**: octets after LF→CRLF, equal to what RETR
//!   sends before stuffing; a reader never yields more, and errors if the file changed.
//! - **UIDLs derive from the unique part of the file name only**, so renames by other programs
//!   (flags, `new/`→`cur/`) and a lost index never change them; or, for mail another server
//!   served before the switch, from the UIDL map, keyed by that unique part too.
//! - **A carried-over UIDL is never silently replaced**: a damaged map, or a missing one the
//!   caller requires, fails the open ([`Error::UidlMap`]); a message whose own UIDL collides
//!   with a carried one gets a digest instead, never the carried message.
//! - **Only messages marked deleted are ever unlinked** (a file is taken for a message renamed
//!   since the scan only with the same unique part and size); delivery never exposes a partial
//!   file.
//! - **Losing or damaging `.pop3d.retrieved` can only delay an `EXPIRE n` deletion, never
//!   hasten it**, and a clock jump never hastens one within a boot (`CLOCK_BOOTTIME`).
//! - **One bad file does not fail the open**: a message that cannot be read to be measured is
//!   left out ([`ScanReport::unreadable`]), one a full disk keeps in `new/` is served from
//!   there ([`ScanReport::left_in_new`]); message files are opened non-blocking and checked
//!   to be regular files before any read.
//! - The first scan reads no body whose name has a plausible `W=`; others are measured once
//!   and remembered in `.pop3d.index`, where later scans look them up by name without a stat
//!   (files are never modified in place; one that was is refused when read, then re-measured). A login to a maildrop whose `cur/` has not changed
//!   since a settled scan reads the listing from `.pop3d.listing` instead of listing `cur/`.
//! - **A message over its quota is never renamed into `new/`; every change pop3d makes to what
//!   `maildirsize` counts holds the quota lock; a damaged `maildirsize` is recounted, never
//!   read as "no quota"** (`quota.rs`).
//!
//! # Non-goals
//! No IMAP keywords, no directory creation except [`Maildir::provision`] for the
//! admin tool (and [`Maildir::create`] for tests and tools that own their path). Synchronous: the server calls it from blocking threads.

mod atomic;
mod carried;
mod deliver;
mod error;
mod filesystem;
mod foreign;
mod holder;
mod index;
mod listing;
mod lock;
mod maildir;
mod maildrop;
mod message;
mod name;
mod ownership;
mod peek;
mod provision;
mod quota;
mod reader;
mod retrieved;
mod scan;
mod summary;
mod wire;

pub use carried::{
    CarryReport, MAX_CARRIED_UIDL, UIDL_MAP_FILE, UidlMapPolicy, carry_over, plan_carry_over,
};
pub use deliver::{Delivered, Delivery, deliver};
pub use error::{Error, Result};
pub use filesystem::{ListingCache, network_filesystem, network_kind};
pub use foreign::{
    ForeignUidl, ForeignUidls, UidlFormat, courier_filenames, courier_sizelist, dovecot_uidlist,
};
pub use holder::{Holder, utc_timestamp};
pub use index::INDEX_FILE;
pub use listing::LISTING_FILE;
pub use lock::{LOCK_FILE, LockGuard, lock, lock_status};
pub use maildir::Maildir;
pub use maildrop::{CommitReport, Maildrop, OpenOptions};
pub use message::Message;
pub use name::ParsedName;
pub use peek::{Peek, peek};
pub use provision::{Existing, Provisioned};
pub use quota::{MAILDIRSIZE, QuotaLimit, RECOUNT_AT_BYTES, STALE_AFTER, Usage, read_usage};
pub use reader::MessageReader;
pub use retrieved::{
    BootTime, Expiry, ExpiryReport, MAX_BOOT_ID, Moment, RETRIEVED_DAMAGED_FILE, RETRIEVED_FILE,
    WALL_FLOOR, elapsed_secs, has_expired,
};
pub use scan::ScanReport;
pub use summary::{CountSource, MailSummary, summarize};
pub use wire::{SizeCounter, wire_size};
