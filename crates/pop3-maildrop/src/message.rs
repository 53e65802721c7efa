//! [`Message`]: one message of an open maildrop, as the scan found it or the persistent
//! listing recorded it. Its own module so that `scan` (which makes messages from `cur/`) and
//! `listing` (which stores and loads them) depend on it and not on each other.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// One message of an open maildrop.
#[derive(Debug, Clone)]
pub struct Message {
    /// The file name in `cur/` when the maildrop was opened.
    pub(crate) name: Box<[u8]>,
    /// The length of the name's base (its unique part), which is the UIDL when printable.
    base_len: usize,
    /// The UIDL when it is not the base itself (a digest).
    digest_uid: Option<Box<str>>,
    /// The stored size, when known without a stat (from `S=` or the index).
    pub(crate) raw_size: Option<u64>,
    pub(crate) wire_size: u64,
    /// The file is still in `new/`: the move to `cur/` failed (a full disk or an I/O error),
    /// so it is served from `new/` and left there. Never stored in the persistent listing.
    pub(crate) in_new: bool,
}

impl Message {
    /// The UIDL.
    pub fn uid(&self) -> &str {
        match &self.digest_uid {
            Some(uid) => uid,
            // A base used as UIDL is printable ASCII (checked when parsed), so valid UTF-8.
            None => std::str::from_utf8(self.base()).unwrap_or_default(),
        }
    }

    /// The size on the wire.
    pub fn wire_size(&self) -> u64 {
        self.wire_size
    }

    /// The file name in `cur/`.
    pub fn file_name(&self) -> &OsStr {
        OsStr::from_bytes(&self.name)
    }

    /// The base of the name (its unique part).
    pub(crate) fn base(&self) -> &[u8] {
        &self.name[..self.base_len]
    }

    /// Replaces the UIDL by a digest (for the later of two files with one base name).
    pub(crate) fn set_digest_uid(&mut self, uid: Box<str>) {
        self.digest_uid = Some(uid);
    }

    pub(crate) fn parts(&self) -> MessageParts<'_> {
        MessageParts {
            name: &self.name,
            base_len: self.base_len,
            digest_uid: self.digest_uid.as_deref(),
            raw_size: self.raw_size,
            wire_size: self.wire_size,
        }
    }

    pub(crate) fn from_parts(
        name: Box<[u8]>,
        base_len: usize,
        digest_uid: Option<Box<str>>,
        raw_size: Option<u64>,
        wire_size: u64,
    ) -> Message {
        Message {
            name,
            base_len,
            digest_uid,
            raw_size,
            wire_size,
            in_new: false,
        }
    }
}

/// A [`Message`]'s fields, for the persistent listing.
pub(crate) struct MessageParts<'a> {
    pub(crate) name: &'a [u8],
    pub(crate) base_len: usize,
    pub(crate) digest_uid: Option<&'a str>,
    pub(crate) raw_size: Option<u64>,
    pub(crate) wire_size: u64,
}
