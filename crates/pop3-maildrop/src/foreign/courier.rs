//! Courier's POP3 UIDLs, as Courier's `pop3dserver.c` serves them.
//!
//! `courierpop3dsizelist`: a header `/<version> <next uid> [<uidvalidity>]` (versions 2 and
//! 3, the ones Courier reads), then one line per message: `<file name> <size> <n>:<uidv>`
//! (version 2) or `<file name> <size> <n>:<uidv>:<utf8>` (version 3). The file name is
//! everything before the last two spaces (Courier splits from the right). The UIDL is
//! `UID<n>-<uidv>`, or `UID<n>` when `<uidv>` is 0, or for `<n>` 0 the file-name UIDL below.
//! Courier lists messages sorted by the delivery time at the start of the file name, then
//! by the name up to `:`; so do we.
//!
//! Without a size list (Courier before it kept one), the UIDL was the file name up to `:`,
//! each byte outside `0x21..=0x7E`, and `'`, `"` and `+`, written as `+XX` (upper-case
//! hex): [`courier_filenames`].
//!
//! Courier skips a line it cannot parse and ignores a last line without a newline; here
//! either is an error naming the line, so nothing is carried over from a damaged file.

use std::cmp::Ordering;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::{ForeignUidl, ForeignUidls, before_info, decimal, foreign, lines, read_file, shown};
use crate::error::{Result, io_error};

/// Reads a `courierpop3dsizelist` and computes the UIDL Courier served for each line.
pub fn courier_sizelist(path: &Path) -> Result<ForeignUidls> {
    let bytes = read_file(path)?;
    let lines = lines(path, &bytes)?;
    let Some((header, records)) = lines.split_first() else {
        return Err(foreign(path, 1, "no header line"));
    };
    check_header(path, header)?;
    let mut entries = Vec::with_capacity(records.len());
    for (i, text) in records.iter().enumerate() {
        let line = i + 2;
        let bad = || {
            foreign(
                path,
                line,
                format!("not `<file> <size> <n>:<uidv>`: {}", shown(text)),
            )
        };
        let mut fields = text.rsplitn(3, |&b| b == b' ');
        let (Some(uid), Some(size), Some(name)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(bad());
        };
        let mut parts = uid.split(|&b| b == b':');
        let (n, uidv) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(uidv), utf8, None)
                if utf8.is_none_or(|flag| decimal(flag).is_some()) =>
            {
                (decimal(n), decimal(uidv))
            }
            _ => return Err(bad()),
        };
        let (Some(n), Some(uidv), Some(_)) = (n, uidv, decimal(size)) else {
            return Err(bad());
        };
        if name.is_empty() || name.contains(&b'/') {
            return Err(bad());
        }
        let uidl = match (n, uidv) {
            (0, _) => filename_uidl(name),
            (n, 0) => format!("UID{n}"),
            (n, uidv) => format!("UID{n}-{uidv}"),
        };
        entries.push(ForeignUidl {
            file_name: name.to_vec(),
            uidl,
            line,
        });
    }
    entries.sort_by(|a, b| courier_order(&a.file_name, &b.file_name));
    Ok(ForeignUidls {
        source: format!("courierpop3dsizelist {}", path.display()),
        entries,
        superseded: Vec::new(),
    })
}

/// The UIDLs Courier served from the Maildir at `maildir` before it kept a size list: the
/// file names in `cur/` and `new/`, in Courier's order.
pub fn courier_filenames(maildir: &Path) -> Result<ForeignUidls> {
    let mut entries = Vec::new();
    for sub in ["cur", "new"] {
        let dir = maildir.join(sub);
        for entry in std::fs::read_dir(&dir).map_err(io_error("list", &dir))? {
            let entry = entry.map_err(io_error("list", &dir))?;
            let name = entry.file_name();
            let name = name.as_bytes();
            if name.first() == Some(&b'.') {
                continue;
            }
            entries.push(ForeignUidl {
                file_name: name.to_vec(),
                uidl: filename_uidl(name),
                line: 0,
            });
        }
    }
    entries.sort_by(|a, b| courier_order(&a.file_name, &b.file_name));
    Ok(ForeignUidls {
        source: format!("courier file names in {}", maildir.display()),
        entries,
        superseded: Vec::new(),
    })
}

fn check_header(path: &Path, header: &[u8]) -> Result<()> {
    let Some(rest) = header.strip_prefix(b"/") else {
        return Err(foreign(
            path,
            1,
            "no `/<version> <next> <uidv>` header: an old-format size list, from a Courier \
             that served file-name UIDLs (carry those over with courier_filenames, \
             --from-courier-filenames)",
        ));
    };
    let fields: Vec<&[u8]> = rest.split(|&b| b == b' ').collect();
    let numbers = fields.iter().all(|f| decimal(f).is_some());
    match fields[..] {
        [b"2" | b"3", _] | [b"2" | b"3", _, _] if numbers => Ok(()),
        [version, ..] if numbers && version != b"2" && version != b"3" => Err(foreign(
            path,
            1,
            format!("unsupported version {}", shown(version)),
        )),
        _ => Err(foreign(path, 1, format!("broken header {}", shown(header)))),
    }
}

/// Courier's file-name UIDL (its "version 0").
fn filename_uidl(name: &[u8]) -> String {
    let mut uidl = String::new();
    for &b in before_info(name) {
        if !(0x21..=0x7e).contains(&b) || matches!(b, b'\'' | b'"' | b'+') {
            uidl.push_str(&format!("+{b:02X}"));
        } else {
            uidl.push(char::from(b));
        }
    }
    uidl
}

/// Courier's message order: the number at the start of the name (C `atol`), then the bytes
/// up to the first `:` both names reach at once.
fn courier_order(a: &[u8], b: &[u8]) -> Ordering {
    atol(a).cmp(&atol(b)).then_with(|| {
        let (mut i, mut j) = (a.iter(), b.iter());
        loop {
            match (i.next(), j.next()) {
                (None, None) | (Some(b':'), Some(b':')) => return Ordering::Equal,
                // C `char` is signed on the platforms Courier ran on.
                (x, y) => match signed(x).cmp(&signed(y)) {
                    Ordering::Equal => {}
                    other => return other,
                },
            }
        }
    })
}

fn signed(byte: Option<&u8>) -> i8 {
    byte.map_or(0, |&b| b as i8)
}

/// C's `atol`: leading white space, an optional sign, digits; saturating.
fn atol(name: &[u8]) -> i64 {
    let start = name.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let rest = &name[start..];
    let (negative, rest) = match rest.first() {
        Some(b'-') => (true, &rest[1..]),
        Some(b'+') => (false, &rest[1..]),
        _ => (false, rest),
    };
    let value = rest
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0i64, |v, &d| {
            v.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
    if negative { -value } else { value }
}
