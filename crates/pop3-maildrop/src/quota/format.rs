//! The `maildirsize` file of Maildir++ quotas, as text: parsed and written here, with no I/O.
//!
//! The format (Courier's `README.maildirquota`, which Dovecot's `maildir` quota backend, Exim
//! and maildrop also follow):
//!
//! ```text
//! 1048576S,1000C      the limits: bytes (`S`) and messages (`C`), either may be absent; 0 is none
//! 123456 42           a line of two signed integers: bytes and messages
//! 2048 1              ...one appended per delivery...
//! -2048 -1            ...and a negative one per removal
//! ```
//!
//! The usage is the sum of every line after the first. **A file that does not parse is
//! damaged, never "no quota"**: [`parse`] says so and the caller recalculates it.

use super::{QuotaLimit, Usage};

/// What a well-formed `maildirsize` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// The limits of its first line.
    pub(crate) limit: QuotaLimit,
    /// The sum of its other lines.
    pub(crate) usage: Usage,
    /// How many lines follow the first (a freshly recalculated file has one).
    pub(crate) lines: usize,
}

/// Parses a whole `maildirsize`. `None`: damaged (no header, a bad line, a NUL, a negative
/// total, or no line after the header), to be recalculated.
///
/// A last line without its LF is ignored: every writer appends a whole line in one `write`,
/// so an unterminated tail is a write that another process has not finished, or a torn one.
pub(crate) fn parse(text: &[u8]) -> Option<Parsed> {
    if text.contains(&0) {
        return None;
    }
    let complete = match text.iter().rposition(|&b| b == b'\n') {
        Some(last_lf) => &text[..last_lf],
        None => return None,
    };
    let text = std::str::from_utf8(complete).ok()?;
    let mut lines = text.split('\n');
    let limit = parse_limits(lines.next()?)?;
    let (mut bytes, mut messages, mut count) = (0i128, 0i128, 0usize);
    for line in lines {
        let mut fields = line.split_ascii_whitespace();
        let (Some(b), Some(m), None) = (fields.next(), fields.next(), fields.next()) else {
            return None;
        };
        // Checked, though i128 holds the sum of far more i64 lines than a file of
        // `READ_LIMIT` bytes can have: file input never overflows silently or panics.
        bytes = bytes.checked_add(i128::from(b.parse::<i64>().ok()?))?;
        messages = messages.checked_add(i128::from(m.parse::<i64>().ok()?))?;
        count = count.checked_add(1)?;
    }
    if count == 0 {
        return None;
    }
    let usage = Usage {
        bytes: u64::try_from(bytes).ok()?,
        messages: u64::try_from(messages).ok()?,
    };
    Some(Parsed {
        limit,
        usage,
        lines: count,
    })
}

/// The first line: `<n>S`, `<n>C` or both, comma-separated; a zero means no limit.
pub(crate) fn parse_limits(line: &str) -> Option<QuotaLimit> {
    let mut limit = QuotaLimit::UNLIMITED;
    for item in line.trim().split(',') {
        // By suffix, never by byte index: the line is any UTF-8 a file holds (`1€` must be
        // refused, not split inside a character).
        let (digits, slot) = if let Some(digits) = item.strip_suffix('S') {
            (digits, &mut limit.bytes)
        } else if let Some(digits) = item.strip_suffix('C') {
            (digits, &mut limit.messages)
        } else {
            return None;
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let value = digits.parse::<u64>().ok()?;
        *slot = (value != 0).then_some(value);
    }
    Some(limit)
}

/// The first line for `limit`, with its LF: `0S` when there is none (so the line is never
/// empty, as Dovecot also writes it).
pub(crate) fn header(limit: &QuotaLimit) -> String {
    match (limit.bytes, limit.messages) {
        (Some(b), Some(m)) => format!("{b}S,{m}C\n"),
        (Some(b), None) => format!("{b}S\n"),
        (None, Some(m)) => format!("{m}C\n"),
        (None, None) => "0S\n".to_owned(),
    }
}

/// A line of deltas, with its LF: what one `write` appends.
pub(crate) fn delta_line(bytes: i64, messages: i64) -> String {
    format!("{bytes} {messages}\n")
}
