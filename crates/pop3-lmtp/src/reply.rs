//! Reply lines: a code, an enhanced status code (RFC 3463) and text. Addresses echoed back
//! were checked to be printable ASCII by the parser, and paths are at most 256 octets, so a
//! reply line stays short.

use std::fmt::Write as _;

/// Appends `code status text\r\n` to `out`.
pub(crate) fn reply(out: &mut Vec<u8>, code: u16, status: &str, text: impl std::fmt::Display) {
    let mut line = String::new();
    let _ = write!(line, "{code} {status} {text}\r\n");
    out.extend_from_slice(line.as_bytes());
}

/// Appends a multi-line reply (`code-` lines, then `code ` on the last), without status codes
/// (LHLO's, as with EHLO).
pub(crate) fn multiline(out: &mut Vec<u8>, code: u16, lines: &[String]) {
    for (i, line) in lines.iter().enumerate() {
        let sep = if i + 1 == lines.len() { ' ' } else { '-' };
        out.extend_from_slice(format!("{code}{sep}{line}\r\n").as_bytes());
    }
}
