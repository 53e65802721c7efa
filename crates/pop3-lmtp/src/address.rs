//! Reverse and forward paths (RFC 5321 §4.1.2): `<local@domain>`, the null path `<>`, and
//! source routes (`<@relay:local@domain>`), whose route is dropped (§C).

use std::fmt;

/// The longest path accepted, brackets included (RFC 5321 §4.5.3.1.3).
pub const MAX_PATH: usize = 256;

/// A mailbox from a path: the local part and, if given, the domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// The local part as sent (a quoted local part keeps its quotes).
    pub local: String,
    /// The domain, without the `@`; `None` for a bare local part (`<postmaster>`).
    pub domain: Option<String>,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.domain {
            Some(domain) => write!(f, "{}@{domain}", self.local),
            None => f.write_str(&self.local),
        }
    }
}

/// Why a path was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathError {
    /// No `<...>` where a path belongs.
    NotBracketed,
    /// Longer than [`MAX_PATH`].
    TooLong,
    /// Spaces, control characters, non-ASCII, or an empty local part or domain.
    Invalid,
}

/// Parses a path at the start of `text`: `Ok((None, rest))` for `<>`, else the mailbox; `rest`
/// is what follows the closing bracket.
pub fn parse_path(text: &str) -> Result<(Option<Address>, &str), PathError> {
    let inner_start = text.strip_prefix('<').ok_or(PathError::NotBracketed)?;
    let close = closing_bracket(inner_start).ok_or(PathError::NotBracketed)?;
    if close + 2 > MAX_PATH {
        return Err(PathError::TooLong);
    }
    let (inner, rest) = (&inner_start[..close], &inner_start[close + 1..]);
    if inner.is_empty() {
        return Ok((None, rest));
    }
    let mailbox = strip_route(inner)?;
    Ok((Some(parse_mailbox(mailbox)?), rest))
}

/// The index of the `>` ending the path, skipping quoted strings (a quoted local part may
/// hold `>`).
fn closing_bracket(text: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '>' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// `@a,@b:user@domain` → `user@domain`.
fn strip_route(inner: &str) -> Result<&str, PathError> {
    if !inner.starts_with('@') {
        return Ok(inner);
    }
    match inner.find(':') {
        Some(colon) => Ok(&inner[colon + 1..]),
        None => Err(PathError::Invalid),
    }
}

fn parse_mailbox(mailbox: &str) -> Result<Address, PathError> {
    let (local, domain) = split_at_domain(mailbox);
    if local.is_empty() || !valid_local(local) {
        return Err(PathError::Invalid);
    }
    let domain = match domain {
        Some(d) if d.is_empty() || !d.bytes().all(domain_byte) => return Err(PathError::Invalid),
        Some(d) => Some(d.to_owned()),
        None => None,
    };
    Ok(Address {
        local: local.to_owned(),
        domain,
    })
}

/// Splits at the last `@` outside a quoted string.
fn split_at_domain(mailbox: &str) -> (&str, Option<&str>) {
    let mut quoted = false;
    let mut escaped = false;
    let mut at = None;
    for (i, c) in mailbox.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '@' if !quoted => at = Some(i),
            _ => {}
        }
    }
    match at {
        Some(i) => (&mailbox[..i], Some(&mailbox[i + 1..])),
        None => (mailbox, None),
    }
}

/// A dot-string of printable ASCII, or a quoted string (printable ASCII and spaces inside).
fn valid_local(local: &str) -> bool {
    if local.len() >= 2 && local.starts_with('"') && local.ends_with('"') {
        return local.bytes().all(|b| b == b' ' || b.is_ascii_graphic());
    }
    local
        .bytes()
        .all(|b| b.is_ascii_graphic() && !b"<>()[]\\,;:\"@".contains(&b))
}

/// Letters, digits, `-`, `.`, and an address literal's `[`, `]`, `:`.
fn domain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.[]:_".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(text: &str) -> String {
        match parse_path(text) {
            Ok((Some(a), _)) => a.to_string(),
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn paths() {
        assert_eq!(mailbox("<alice@example.org>"), "alice@example.org");
        assert_eq!(mailbox("<postmaster>"), "postmaster");
        assert_eq!(
            mailbox("<@relay.example,@b.example:bob@example.org>"),
            "bob@example.org"
        );
        assert_eq!(
            mailbox("<\"a>b c\"@example.org> SIZE=1"),
            "\"a>b c\"@example.org"
        );
        assert_eq!(parse_path("<> BODY=8BITMIME"), Ok((None, " BODY=8BITMIME")));
        assert_eq!(
            parse_path("alice@example.org"),
            Err(PathError::NotBracketed)
        );
        assert_eq!(
            parse_path("<alice@example.org"),
            Err(PathError::NotBracketed)
        );
        assert_eq!(parse_path("<a b@example.org>"), Err(PathError::Invalid));
        assert_eq!(parse_path("<alice@>"), Err(PathError::Invalid));
        assert_eq!(parse_path("<@x>"), Err(PathError::Invalid));
        assert_eq!(
            parse_path("<al\u{e9}@example.org>"),
            Err(PathError::Invalid)
        );
        let long = format!("<{}@example.org>", "a".repeat(250));
        assert_eq!(parse_path(&long), Err(PathError::TooLong));
    }
}
