//! Dovecot's `dovecot-uidlist`, as Dovecot's `maildir-uidlist.c` reads it.
//!
//! - Version 1 (Dovecot up to 1.0, Courier's `courierimapuiddb`): header
//!   `1 <uidvalidity> <next uid>`, records `<uid> <file name>`.
//! - Version 3 (Dovecot 1.1 and later): header `3` then space-separated `<key><value>` fields
//!   in any order (`V` UID validity, `N` next UID, `G` mailbox GUID, others kept by Dovecot
//!   and ignored here), records `<uid> [<key><value> ...] :<file name>`. Record keys are
//!   `A`-`Z`: `P` the saved POP3 UIDL (empty: the file name up to `:`), `O` the POP3 order,
//!   `G` the message GUID, `S`/`W` sizes (ignored here). Dovecot drops a field whose key is
//!   not `A`-`Z` and keeps the record; so do we.
//! - Version 2 (a few Dovecot development snapshots) is refused.
//!
//! Dovecot's checks are kept: UID validity and next UID non-zero, UIDs strictly increasing
//! and below 2³²−1 (version 1: below the next UID), no `/` in a file name. A record whose
//! file name (up to `:`) repeats an earlier one replaces it, as in Dovecot
//! ([`ForeignUidls::superseded`]).
//!
//! The UIDL of a record is what Dovecot's POP3 server served: a non-empty `P` field, else for
//! an empty `P` the file name up to `:`, else `pop3_uidl_format` expanded. The order is
//! Dovecot's POP3 order, as `index_sort_get_pop3_order` (lib-storage `index-sort.c`) sorts:
//! by the `O` value read as a 64-bit number (`str_to_uoff`), a record without one counting
//! as `(uint32_t)-1`, ties in UID order. So records with an `O` below 4294967295 come first,
//! an `O` above it after the records without one; a number too large for 64 bits counts as
//! 4294967295, as in Dovecot (`maildir-uidlist.c` keeps the field as text; Dovecot's own
//! writer only ever writes 32-bit values). A value that is not digits is refused (Dovecot
//! would sort it as 4294967295; it never writes one, so it means a damaged file).

use std::collections::HashMap;
use std::path::Path;

use super::format::{UidlFormat, Values};
use super::{ForeignUidl, ForeignUidls, before_info, decimal, foreign, lines, read_file, shown};
use crate::error::Result;

/// Reads a `dovecot-uidlist` and computes the UIDL Dovecot served for each record with
/// `format` (its `pop3_uidl_format`; Dovecot's default is [`UidlFormat::DEFAULT`]).
pub fn dovecot_uidlist(path: &Path, format: &str) -> Result<ForeignUidls> {
    let format = UidlFormat::parse(format)?;
    let bytes = read_file(path)?;
    let lines = lines(path, &bytes)?;
    let Some((header, records)) = lines.split_first() else {
        return Err(foreign(path, 1, "no header line"));
    };
    let header = parse_header(path, header)?;
    let mut parsed: Vec<Record<'_>> = Vec::with_capacity(records.len());
    let mut by_name: HashMap<&[u8], usize> = HashMap::with_capacity(records.len());
    let mut superseded = Vec::new();
    let mut previous_uid = 0u32;
    for (i, text) in records.iter().enumerate() {
        let line = i + 2;
        let record = parse_record(path, line, text, &header, previous_uid)?;
        previous_uid = record.uid;
        // Dovecot: "Duplicate file entry", the later record replaces the earlier one.
        if let Some(earlier) = by_name.insert(before_info(record.name), parsed.len()) {
            superseded.push(parsed[earlier].line);
            parsed[earlier].replaced = true;
        }
        parsed.push(record);
    }
    parsed.retain(|r| !r.replaced);
    // Dovecot's POP3 order: by the `O` key (4294967295 without one), then by UID;
    // `sort_by_key` is stable and the records are in UID order already.
    parsed.sort_by_key(|r| (r.order, r.uid));
    let mut entries = Vec::with_capacity(parsed.len());
    for record in parsed {
        let storage_id = String::from_utf8_lossy(before_info(record.name));
        let uidl = match record.pop3_uidl {
            Some(saved) if !saved.is_empty() => String::from_utf8_lossy(saved).into_owned(),
            Some(_) => storage_id.into_owned(),
            None => {
                let guid = record.guid.map(String::from_utf8_lossy);
                format.expand(Values {
                    uid: record.uid,
                    uid_validity: header.uid_validity,
                    filename: &storage_id,
                    guid: guid.as_deref().unwrap_or(&storage_id),
                })
            }
        };
        entries.push(ForeignUidl {
            file_name: record.name.to_vec(),
            uidl,
            line: record.line,
        });
    }
    Ok(ForeignUidls {
        source: format!("dovecot-uidlist {}", path.display()),
        entries,
        superseded,
    })
}

/// Dovecot's POP3 order key of a record without a usable `O` field: `(uint32_t)-1`.
const NO_ORDER: u64 = u32::MAX as u64;

struct Header {
    version: u8,
    uid_validity: u32,
    next_uid: u32,
}

struct Record<'a> {
    line: usize,
    uid: u32,
    name: &'a [u8],
    pop3_uidl: Option<&'a [u8]>,
    /// The POP3 order key as Dovecot sorts by it ([`NO_ORDER`] without an `O` field).
    order: u64,
    guid: Option<&'a [u8]>,
    replaced: bool,
}

fn parse_header(path: &Path, line: &[u8]) -> Result<Header> {
    let bad = |reason: String| foreign(path, 1, reason);
    let (version, rest) = match line {
        [v @ b'0'..=b'9', b' ', rest @ ..] => (v - b'0', rest),
        _ => {
            return Err(bad(format!(
                "not a dovecot-uidlist header (a version digit and a space): {}",
                shown(line)
            )));
        }
    };
    let (uid_validity, next_uid) = match version {
        1 => {
            let fields: Vec<&[u8]> = rest.split(|&b| b == b' ').collect();
            match fields[..] {
                [v, n] => (number(v), number(n)),
                _ => {
                    return Err(bad(
                        "version 1 header is not `1 <uidvalidity> <next>`".into()
                    ));
                }
            }
        }
        3 => {
            let (mut v, mut n) = (None, None);
            for field in rest.split(|&b| b == b' ').filter(|f| !f.is_empty()) {
                let (key, value) = (field[0], &field[1..]);
                match key {
                    b'V' => v = number(value),
                    b'N' => n = number(value),
                    b'G' if value.len() != 32 || !value.iter().all(u8::is_ascii_hexdigit) => {
                        return Err(bad(format!("invalid mailbox GUID {}", shown(value))));
                    }
                    _ => {}
                }
            }
            (v, n)
        }
        2 => {
            return Err(bad(
                "version 2 (written only by Dovecot development snapshots) is not supported; \
                 let Dovecot 1.1 or later rewrite it as version 3"
                    .into(),
            ));
        }
        other => return Err(bad(format!("unsupported version {other}"))),
    };
    match (uid_validity, next_uid) {
        (Some(uid_validity), Some(next_uid)) if uid_validity != 0 && next_uid != 0 => Ok(Header {
            version,
            uid_validity,
            next_uid,
        }),
        _ => Err(bad(
            "broken header: UID validity and next UID must be non-zero numbers".into(),
        )),
    }
}

fn parse_record<'a>(
    path: &Path,
    line: usize,
    text: &'a [u8],
    header: &Header,
    previous_uid: u32,
) -> Result<Record<'a>> {
    let bad = |reason: String| foreign(path, line, reason);
    let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
    let uid = match (number(&text[..digits]), text.get(digits)) {
        (Some(uid), Some(b' ')) if uid != 0 => uid,
        _ => return Err(bad(format!("not a record (`<uid> ...`): {}", shown(text)))),
    };
    if uid <= previous_uid {
        return Err(bad(format!(
            "UIDs not ordered ({uid} after {previous_uid})"
        )));
    }
    if uid == u32::MAX {
        return Err(bad(format!("UID too high ({uid})")));
    }
    if header.version == 1 && uid >= header.next_uid {
        return Err(bad(format!(
            "UID {uid} not below the next UID {}",
            header.next_uid
        )));
    }
    let mut rest = trim_spaces(&text[digits..]);
    let mut record = Record {
        line,
        uid,
        name: &[],
        pop3_uidl: None,
        order: NO_ORDER,
        guid: None,
        replaced: false,
    };
    if header.version == 3 {
        while let Some(&first) = rest.first() {
            if first == b':' {
                break;
            }
            let end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
            let (field, after) = rest.split_at(end);
            match (field[0], &field[1..]) {
                (b'P', value) => record.pop3_uidl = Some(value),
                (b'O', value) => {
                    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
                        return Err(bad(format!("invalid POP3 order O{}", shown(value))));
                    }
                    // Dovecot's `str_to_uoff` fails past 64 bits, and the key is then
                    // `(uint32_t)-1`, as for a record without the field.
                    record.order = decimal(value).unwrap_or(NO_ORDER);
                }
                (b'G', value) => record.guid = Some(value),
                // S, W and future keys; a field whose key is not A-Z Dovecot drops too.
                _ => {}
            }
            rest = trim_spaces(after);
        }
        rest = rest.strip_prefix(b":").unwrap_or(rest);
    }
    if rest.is_empty() {
        return Err(bad("record without a file name".into()));
    }
    if rest.contains(&b'/') {
        return Err(bad(format!("broken file name {}", shown(rest))));
    }
    record.name = rest;
    Ok(record)
}

fn number(digits: &[u8]) -> Option<u32> {
    decimal(digits).and_then(|n| u32::try_from(n).ok())
}

fn trim_spaces(bytes: &[u8]) -> &[u8] {
    let spaces = bytes.iter().take_while(|&&b| b == b' ').count();
    &bytes[spaces..]
}
