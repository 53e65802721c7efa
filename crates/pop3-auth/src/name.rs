//! User names: validated against an allowlist before any lookup, and folded to one form.

use std::fmt;

use crate::error::{Error, Result};

/// The longest user name, in bytes.
pub const MAX_NAME: usize = 255;

/// A validated, normalised user name: 1 to 255 of `a-z 0-9 . _ - + @` (ASCII letters are
/// folded to lower case, so `Alice` and `alice` are one account), not starting with `.` or
/// `-`, and without `..`. Such a name can never be a path other than a single harmless
/// component, nor carry SQL, control characters or spaces; it is still never used to build a
/// path (the Maildir path is stored when the user is created).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserName(String);

impl UserName {
    /// Validates and normalises a name as typed by a client or an administrator.
    pub fn parse(name: &str) -> Result<UserName> {
        if name.is_empty() {
            return Err(Error::InvalidName("empty"));
        }
        if name.len() > MAX_NAME {
            return Err(Error::InvalidName("longer than 255 bytes"));
        }
        if let Some(bad) = name.bytes().find(|b| !allowed(*b)) {
            return Err(Error::InvalidName(match bad {
                b'/' => "contains '/'",
                b'%' => "contains '%'",
                b' ' => "contains a space",
                0 => "contains NUL",
                b if b.is_ascii_control() => "contains a control character",
                b if b >= 0x80 => "contains a non-ASCII character",
                _ => "contains a character outside a-z 0-9 . _ - + @",
            }));
        }
        if name.contains("..") {
            return Err(Error::InvalidName("contains '..'"));
        }
        if name.starts_with(['.', '-']) {
            return Err(Error::InvalidName("starts with '.' or '-'"));
        }
        Ok(UserName(name.to_ascii_lowercase()))
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn allowed(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'@')
}
