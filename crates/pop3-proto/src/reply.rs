//! Status lines: `+OK` / `-ERR`, RFC 2449 / RFC 3206 response codes, and the escaping of any
//! client text that a reply echoes.

use std::fmt::Write as _;

/// RFC 1939 §3 and RFC 2449 §4: a status line, CRLF included, is at most 512 octets.
pub const MAX_STATUS_LINE: usize = 512;

/// How many characters of client text a reply may echo before it is cut short.
const MAX_ECHO_CHARS: usize = 40;

/// An extended response code (RFC 2449 §8, RFC 3206), sent in brackets after `-ERR`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseCode {
    /// `[IN-USE]`: the maildrop is locked by another session (RFC 2449 §8.1.1).
    InUse,
    /// `[LOGIN-DELAY]`: the user logged in too recently (RFC 2449 §8.1.2).
    LoginDelay,
    /// `[AUTH]`: the credentials were wrong or not acceptable (RFC 3206 §5).
    Auth,
    /// `[SYS/TEMP]`: a temporary system problem; try later (RFC 3206 §4).
    SysTemp,
    /// `[SYS/PERM]`: a permanent system problem that needs an administrator (RFC 3206 §4).
    SysPerm,
}

impl ResponseCode {
    /// The code as it appears on the wire, brackets included.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseCode::InUse => "[IN-USE]",
            ResponseCode::LoginDelay => "[LOGIN-DELAY]",
            ResponseCode::Auth => "[AUTH]",
            ResponseCode::SysTemp => "[SYS/TEMP]",
            ResponseCode::SysPerm => "[SYS/PERM]",
        }
    }
}

/// Appends `+OK text` CRLF (or just `+OK` CRLF when `text` is empty).
pub(crate) fn ok(out: &mut Vec<u8>, text: &str) {
    status(out, "+OK", None, text);
}

/// Appends `-ERR [CODE] text` CRLF.
pub(crate) fn err(out: &mut Vec<u8>, code: Option<ResponseCode>, text: &str) {
    status(out, "-ERR", code, text);
}

/// Appends one status line, cut so that it never exceeds [`MAX_STATUS_LINE`] octets.
///
/// Texts are built by this crate from ASCII plus [`escape_client_text`] output, so cutting at a
/// byte boundary never splits a character; the cut still walks back to a char boundary to keep
/// that true even for a future caller.
fn status(out: &mut Vec<u8>, indicator: &str, code: Option<ResponseCode>, text: &str) {
    let start = out.len();
    out.extend_from_slice(indicator.as_bytes());
    if let Some(code) = code {
        out.push(b' ');
        out.extend_from_slice(code.as_str().as_bytes());
    }
    if !text.is_empty() {
        out.push(b' ');
        let room = MAX_STATUS_LINE - 2 - (out.len() - start);
        let mut cut = text.len().min(room);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        out.extend_from_slice(&text.as_bytes()[..cut]);
    }
    out.extend_from_slice(b"\r\n");
}

/// Makes client-supplied bytes safe to echo in a reply or a log line: printable ASCII stays,
/// `\` and every other byte become `\\` / `\xNN`, and the result is cut at 40 characters with
/// `...` appended.
pub fn escape_client_text(bytes: &[u8]) -> String {
    let mut escaped = String::new();
    for (count, &b) in bytes.iter().enumerate() {
        if count == MAX_ECHO_CHARS {
            escaped.push_str("...");
            break;
        }
        match b {
            b'\\' => escaped.push_str("\\\\"),
            0x20..=0x7e => escaped.push(char::from(b)),
            _ => {
                // Writing to a String cannot fail.
                let _ = write!(escaped, "\\x{b:02x}");
            }
        }
    }
    escaped
}

/// `1 message`, `2 messages`.
pub(crate) fn messages(count: usize) -> String {
    if count == 1 {
        "1 message".to_owned()
    } else {
        format!("{count} messages")
    }
}
