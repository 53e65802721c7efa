//! The command parser: one line (without its line ending) in, a typed [`Command`] or a
//! [`ParseError`] out.
//!
//! # The argument rule
//!
//! Keywords are case-insensitive ASCII. Arguments are separated by one or more spaces, and
//! trailing spaces are ignored (RFC 1939 §3 asks for single spaces; we accept runs of them, which
//! hurts nobody). **Every command takes an exact number of arguments, and a command with more
//! than it takes is rejected with `-ERR` and not executed**: `STAT 1`, `QUIT now` and
//! `LIST 1 2` are all errors. The one exception is `PASS`, whose argument is the whole rest of the
//! line after the single space following the keyword, spaces included (RFC 1939 §7).
//!
//! Message numbers are ASCII decimal digits only, in `1..=u32::MAX`; `0`, signs, hex, non-ASCII
//! digits and overflowing values are rejected, never wrapped or truncated. Leading zeros are
//! accepted (`007` is message 7). The line count of `TOP` accepts any number of digits and
//! saturates, so a huge count means the whole message.

use std::fmt;
use std::num::NonZeroU32;

use crate::sasl::Mechanism;

/// A message number as the client wrote it: 1-based, not yet checked against the maildrop.
pub type MessageNumber = NonZeroU32;

/// One parsed POP3 command.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// `USER name` (RFC 1939 §7).
    User(String),
    /// `PASS secret`; the secret is the rest of the line, spaces included.
    Pass(Vec<u8>),
    /// `APOP name digest` (RFC 1939 §7); the digest is lower-cased hex.
    Apop {
        /// The user name.
        name: String,
        /// 32 lowercase hexadecimal digits.
        digest: String,
    },
    /// `AUTH` alone: list the SASL mechanisms (the RFC 1734 form, still used by some clients).
    AuthList,
    /// `AUTH mechanism [initial-response]` (RFC 5034).
    Auth {
        /// The mechanism as the client wrote it (matched case-insensitively later).
        mechanism: Result<Mechanism, String>,
        /// The initial response, still base64 (`=` stands for an empty one).
        initial_response: Option<Vec<u8>>,
    },
    /// `STAT`.
    Stat,
    /// `LIST [n]`.
    List(Option<MessageNumber>),
    /// `RETR n`.
    Retr(MessageNumber),
    /// `DELE n`.
    Dele(MessageNumber),
    /// `NOOP`.
    Noop,
    /// `RSET`.
    Rset,
    /// `QUIT`.
    Quit,
    /// `TOP n lines`.
    Top(MessageNumber, u64),
    /// `UIDL [n]`.
    Uidl(Option<MessageNumber>),
    /// `CAPA` (RFC 2449).
    Capa,
    /// `STLS` (RFC 2595).
    Stls,
    /// `LAST` (RFC 1460; off unless enabled).
    Last,
}

impl Command {
    /// The keyword in upper case, for logs and metrics labels.
    pub fn keyword(&self) -> &'static str {
        match self {
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Apop { .. } => "APOP",
            Command::AuthList | Command::Auth { .. } => "AUTH",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Retr(_) => "RETR",
            Command::Dele(_) => "DELE",
            Command::Noop => "NOOP",
            Command::Rset => "RSET",
            Command::Quit => "QUIT",
            Command::Top(..) => "TOP",
            Command::Uidl(_) => "UIDL",
            Command::Capa => "CAPA",
            Command::Stls => "STLS",
            Command::Last => "LAST",
        }
    }

    /// Parses one command line, without its CRLF or LF.
    pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
        let (keyword, rest) = match memchr::memchr(b' ', line) {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &[][..]),
        };
        if keyword.is_empty() {
            return Err(ParseError::Empty);
        }
        let keyword = Keyword::from_bytes(keyword)
            .ok_or_else(|| ParseError::UnknownCommand(keyword.to_vec()))?;
        if keyword == Keyword::Pass {
            return if rest.is_empty() {
                Err(ParseError::MissingArgument("PASS"))
            } else {
                Ok(Command::Pass(rest.to_vec()))
            };
        }
        let mut args = rest.split(|&b| b == b' ').filter(|arg| !arg.is_empty());
        let args: [Option<&[u8]>; 3] = [args.next(), args.next(), args.next()];
        keyword.build(args)
    }
}

/// Debug never shows a password.
impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Pass(_) => f.write_str("Pass(<redacted>)"),
            Command::Auth {
                mechanism,
                initial_response,
            } => f
                .debug_struct("Auth")
                .field("mechanism", mechanism)
                .field(
                    "initial_response",
                    &initial_response.as_ref().map(|_| "<redacted>"),
                )
                .finish(),
            Command::User(name) => f.debug_tuple("User").field(name).finish(),
            Command::Apop { name, .. } => f.debug_struct("Apop").field("name", name).finish(),
            Command::List(n) => f.debug_tuple("List").field(n).finish(),
            Command::Retr(n) => f.debug_tuple("Retr").field(n).finish(),
            Command::Dele(n) => f.debug_tuple("Dele").field(n).finish(),
            Command::Top(n, lines) => f.debug_tuple("Top").field(n).field(lines).finish(),
            Command::Uidl(n) => f.debug_tuple("Uidl").field(n).finish(),
            other => f.write_str(other.keyword()),
        }
    }
}

/// Why a line is not a valid command. Each becomes one `-ERR` reply.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// The line is empty, or starts with a space.
    Empty,
    /// The keyword is not a POP3 command.
    UnknownCommand(Vec<u8>),
    /// A required argument is missing.
    MissingArgument(&'static str),
    /// More arguments than the command takes.
    TooManyArguments(&'static str),
    /// A message number that is not 1..=4294967295 in plain ASCII digits.
    InvalidMessageNumber,
    /// The line count of TOP is not plain ASCII digits.
    InvalidLineCount,
    /// A user name that is not UTF-8 or holds control characters.
    InvalidUserName,
    /// An APOP digest that is not 32 hexadecimal digits.
    InvalidDigest,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => f.write_str("empty command"),
            ParseError::UnknownCommand(keyword) => write!(
                f,
                "unknown command: {}",
                crate::reply::escape_client_text(keyword)
            ),
            ParseError::MissingArgument(keyword) => write!(f, "{keyword}: missing argument"),
            ParseError::TooManyArguments(keyword) => write!(f, "{keyword}: too many arguments"),
            ParseError::InvalidMessageNumber => f.write_str("invalid message number"),
            ParseError::InvalidLineCount => f.write_str("invalid line count"),
            ParseError::InvalidUserName => f.write_str("invalid user name"),
            ParseError::InvalidDigest => f.write_str("invalid APOP digest"),
        }
    }
}

impl std::error::Error for ParseError {}

/// The command keywords, matched case-insensitively.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keyword {
    User,
    Pass,
    Apop,
    Auth,
    Stat,
    List,
    Retr,
    Dele,
    Noop,
    Rset,
    Quit,
    Top,
    Uidl,
    Capa,
    Stls,
    Last,
}

/// Every keyword with its spelling, for lookup.
const KEYWORDS: [(&[u8], Keyword); 16] = [
    (b"USER", Keyword::User),
    (b"PASS", Keyword::Pass),
    (b"APOP", Keyword::Apop),
    (b"AUTH", Keyword::Auth),
    (b"STAT", Keyword::Stat),
    (b"LIST", Keyword::List),
    (b"RETR", Keyword::Retr),
    (b"DELE", Keyword::Dele),
    (b"NOOP", Keyword::Noop),
    (b"RSET", Keyword::Rset),
    (b"QUIT", Keyword::Quit),
    (b"TOP", Keyword::Top),
    (b"UIDL", Keyword::Uidl),
    (b"CAPA", Keyword::Capa),
    (b"STLS", Keyword::Stls),
    (b"LAST", Keyword::Last),
];

impl Keyword {
    fn from_bytes(word: &[u8]) -> Option<Keyword> {
        KEYWORDS
            .iter()
            .find(|(spelling, _)| spelling.eq_ignore_ascii_case(word))
            .map(|&(_, keyword)| keyword)
    }

    fn name(self) -> &'static str {
        KEYWORDS
            .iter()
            .find(|(_, keyword)| *keyword == self)
            .and_then(|(spelling, _)| std::str::from_utf8(spelling).ok())
            .unwrap_or("?")
    }

    /// Builds the command from at most three arguments (a third one is always too many).
    fn build(self, args: [Option<&[u8]>; 3]) -> Result<Command, ParseError> {
        let name = self.name();
        let arity = match self {
            Keyword::User => (1, 1),
            Keyword::Apop | Keyword::Top => (2, 2),
            Keyword::Auth => (0, 2),
            Keyword::List | Keyword::Uidl => (0, 1),
            Keyword::Retr | Keyword::Dele => (1, 1),
            _ => (0, 0),
        };
        let given = args.iter().flatten().count();
        if given < arity.0 {
            return Err(ParseError::MissingArgument(name));
        }
        if given > arity.1 {
            return Err(ParseError::TooManyArguments(name));
        }
        let [first, second, _] = args;
        let first = first.unwrap_or_default();
        let second = second.unwrap_or_default();
        Ok(match self {
            Keyword::User => Command::User(parse_user_name(first)?),
            Keyword::Pass => Command::Pass(first.to_vec()),
            Keyword::Apop => Command::Apop {
                name: parse_user_name(first)?,
                digest: parse_digest(second)?,
            },
            Keyword::Auth if given == 0 => Command::AuthList,
            Keyword::Auth => Command::Auth {
                mechanism: Mechanism::from_name(first)
                    .ok_or_else(|| crate::reply::escape_client_text(first)),
                initial_response: (given == 2).then(|| second.to_vec()),
            },
            Keyword::Stat => Command::Stat,
            Keyword::List => Command::List(parse_optional_number(first)?),
            Keyword::Retr => Command::Retr(parse_message_number(first)?),
            Keyword::Dele => Command::Dele(parse_message_number(first)?),
            Keyword::Noop => Command::Noop,
            Keyword::Rset => Command::Rset,
            Keyword::Quit => Command::Quit,
            Keyword::Top => Command::Top(parse_message_number(first)?, parse_line_count(second)?),
            Keyword::Uidl => Command::Uidl(parse_optional_number(first)?),
            Keyword::Capa => Command::Capa,
            Keyword::Stls => Command::Stls,
            Keyword::Last => Command::Last,
        })
    }
}

/// Parses a message number: ASCII digits only, no sign, no overflow, not zero.
pub fn parse_message_number(arg: &[u8]) -> Result<MessageNumber, ParseError> {
    if arg.is_empty() || !arg.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::InvalidMessageNumber);
    }
    let mut value: u32 = 0;
    for &digit in arg {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u32::from(digit - b'0')))
            .ok_or(ParseError::InvalidMessageNumber)?;
    }
    MessageNumber::new(value).ok_or(ParseError::InvalidMessageNumber)
}

fn parse_optional_number(arg: &[u8]) -> Result<Option<MessageNumber>, ParseError> {
    if arg.is_empty() {
        Ok(None)
    } else {
        parse_message_number(arg).map(Some)
    }
}

/// Parses TOP's line count: ASCII digits only; values past `u64::MAX` saturate.
fn parse_line_count(arg: &[u8]) -> Result<u64, ParseError> {
    if arg.is_empty() || !arg.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::InvalidLineCount);
    }
    Ok(arg.iter().fold(0u64, |value, &digit| {
        value
            .saturating_mul(10)
            .saturating_add(u64::from(digit - b'0'))
    }))
}

/// A user name must be UTF-8 without control characters; the auth layer applies its allowlist.
fn parse_user_name(arg: &[u8]) -> Result<String, ParseError> {
    let name = std::str::from_utf8(arg).map_err(|_| ParseError::InvalidUserName)?;
    if name.chars().any(char::is_control) {
        return Err(ParseError::InvalidUserName);
    }
    Ok(name.to_owned())
}

fn parse_digest(arg: &[u8]) -> Result<String, ParseError> {
    if arg.len() != 32 || !arg.iter().all(u8::is_ascii_hexdigit) {
        return Err(ParseError::InvalidDigest);
    }
    Ok(String::from_utf8_lossy(arg).to_ascii_lowercase())
}
