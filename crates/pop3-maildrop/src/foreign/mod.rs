//! The UIDLs another POP3 server served from this Maildir, read from that server's own files,
//! so that a switch to pop3d does not make every client download everything again.
//!
//! - [`dovecot_uidlist`]: Dovecot's `dovecot-uidlist` (versions 1 and 3) and its
//!   `pop3_uidl_format` ([`UidlFormat`]), with a saved `P` field winning as in Dovecot, and
//!   Dovecot's POP3 order (`O` field, else UID order).
//! - [`courier_sizelist`]: Courier's `courierpop3dsizelist` (`/2` and `/3`), `UID<n>-<uidv>`.
//! - [`courier_filenames`]: the older Courier UIDL, the file name up to `:` with `+XX`
//!   escapes, for a Maildir that Courier served without a size list.
//!
//! Parsers are strict: a file that is not exactly in its documented format (a garbage line, a
//! torn last line, an unknown version) is an [`Error::Foreign`] naming the file and the line,
//! and nothing is carried over from it. What is carried, and how, is `carry_over`'s business.

mod courier;
mod dovecot;
mod format;

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result, io_error};

pub use courier::{courier_filenames, courier_sizelist};
pub use dovecot::dovecot_uidlist;
pub use format::UidlFormat;

/// The UIDLs an old server served, in its POP3 order (message 1 first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignUidls {
    /// What they were read from, for reports: `dovecot-uidlist <path>`, ...
    pub source: String,
    /// One per message the old server knew, in its POP3 order.
    pub entries: Vec<ForeignUidl>,
    /// Lines an identical file name on a later line replaced (Dovecot keeps the later one,
    /// so do we), by line number.
    pub superseded: Vec<usize>,
}

/// One message's UIDL on the old server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignUidl {
    /// The file name the old server recorded (flags and all; only its unique part matters).
    pub file_name: Vec<u8>,
    /// The UIDL it served for it.
    pub uidl: String,
    /// The line of the file it came from (1-based; 0 when read from a directory).
    pub line: usize,
}

/// The largest foreign file read (a uidlist line is about 80 bytes: a million messages).
const MAX_FOREIGN_BYTES: u64 = 256 * 1024 * 1024;

/// Reads a whole foreign file, bounded.
fn read_file(path: &Path) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(io_error("open", path))?;
    let mut bytes = Vec::new();
    file.take(MAX_FOREIGN_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error("read", path))?;
    if bytes.len() as u64 > MAX_FOREIGN_BYTES {
        return Err(foreign(path, 0, "larger than 256 MiB; not a UIDL file"));
    }
    Ok(bytes)
}

/// The lines of a file that must end with a newline: a last line without one is a torn
/// write (both servers replace these files whole, by rename), so the file is refused.
fn lines<'a>(path: &Path, bytes: &'a [u8]) -> Result<Vec<&'a [u8]>> {
    let Some(body) = bytes.strip_suffix(b"\n") else {
        return Err(if bytes.is_empty() {
            foreign(path, 0, "empty file: no header line")
        } else {
            let line = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
            foreign(path, line, "truncated: the last line has no newline")
        });
    };
    Ok(body.split(|&b| b == b'\n').collect())
}

fn foreign(path: &Path, line: usize, reason: impl Into<String>) -> Error {
    Error::Foreign {
        path: path.to_owned(),
        line,
        reason: reason.into(),
    }
}

/// A file name's part up to `:` (its info, the flags): what both Dovecot's storage ID and
/// Courier's UIDLs are made of.
fn before_info(name: &[u8]) -> &[u8] {
    match memchr::memchr(b':', name) {
        Some(colon) => &name[..colon],
        None => name,
    }
}

/// ASCII decimal digits only, fitting in `u64`.
fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |value, &d| {
        value.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Text of a line for an error message: lossy, cut to 60 characters.
fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut cut: String = text.chars().take(60).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

#[cfg(test)]
mod tests;
