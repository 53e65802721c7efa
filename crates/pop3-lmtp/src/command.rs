//! The LMTP command parser: one line (without its line ending) to one [`Command`].

use crate::address::{Address, PathError, parse_path};

/// An LMTP command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `LHLO domain` (RFC 2033 §4.1).
    Lhlo(String),
    /// `HELO` or `EHLO`, which LMTP does not have (RFC 2033 §4.1).
    HeloOrEhlo,
    /// `MAIL FROM:<path> [params]`; `None` is the null reverse path `<>`.
    Mail(Option<Address>, MailParams),
    /// `RCPT TO:<path>`.
    Rcpt(Address),
    /// `DATA`.
    Data,
    /// `RSET`.
    Rset,
    /// `NOOP [text]`.
    Noop,
    /// `VRFY text` (answered 252: we do not verify).
    Vrfy,
    /// `HELP [text]`.
    Help,
    /// `QUIT`.
    Quit,
}

/// MAIL's parameters (RFC 1870 SIZE, RFC 6152 BODY).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MailParams {
    /// The size the client declared, if it did.
    pub size: Option<u64>,
}

/// Why a line is not a command we run; each has its reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not a command we know: `500 5.5.1`.
    Unknown,
    /// A known command with a malformed argument: `501 5.5.4`.
    Syntax,
    /// A malformed address: `501 5.1.7` (sender) or `501 5.1.3` (recipient).
    BadAddress {
        /// Whether it was the sender's (MAIL) rather than a recipient's (RCPT).
        sender: bool,
    },
    /// A parameter we do not support (BINARYMIME, DSN's NOTIFY, ...): `555 5.5.4`.
    UnsupportedParameter,
}

impl Command {
    /// Parses one command line.
    pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
        let line = std::str::from_utf8(line).map_err(|_| ParseError::Syntax)?;
        let (verb, rest) = match line.find(' ') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, ""),
        };
        match verb.to_ascii_uppercase().as_str() {
            "LHLO" => parse_lhlo(rest),
            "HELO" | "EHLO" => Ok(Command::HeloOrEhlo),
            "MAIL" => parse_mail(rest),
            "RCPT" => parse_rcpt(rest),
            "DATA" => no_argument(rest, Command::Data),
            "RSET" => no_argument(rest, Command::Rset),
            "QUIT" => no_argument(rest, Command::Quit),
            "NOOP" => Ok(Command::Noop),
            "HELP" => Ok(Command::Help),
            "VRFY" if !rest.trim().is_empty() => Ok(Command::Vrfy),
            "VRFY" => Err(ParseError::Syntax),
            _ => Err(ParseError::Unknown),
        }
    }
}

fn no_argument(rest: &str, command: Command) -> Result<Command, ParseError> {
    if rest.trim().is_empty() {
        Ok(command)
    } else {
        Err(ParseError::Syntax)
    }
}

fn parse_lhlo(rest: &str) -> Result<Command, ParseError> {
    let name = rest.trim();
    if name.is_empty() || name.contains(' ') || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ParseError::Syntax);
    }
    Ok(Command::Lhlo(name.to_owned()))
}

/// `FROM:` (case-insensitive), then the path; a space after the colon is tolerated, as most
/// servers do.
fn after_keyword<'a>(rest: &'a str, keyword: &str) -> Result<&'a str, ParseError> {
    let head = rest.get(..keyword.len()).ok_or(ParseError::Syntax)?;
    if !head.eq_ignore_ascii_case(keyword) {
        return Err(ParseError::Syntax);
    }
    Ok(rest[keyword.len()..].trim_start_matches(' '))
}

fn parse_mail(rest: &str) -> Result<Command, ParseError> {
    let path = after_keyword(rest, "FROM:")?;
    let (address, params) = parse_path(path).map_err(|e| address_error(e, true))?;
    Ok(Command::Mail(address, parse_mail_params(params)?))
}

fn parse_rcpt(rest: &str) -> Result<Command, ParseError> {
    let path = after_keyword(rest, "TO:")?;
    let (address, params) = parse_path(path).map_err(|e| address_error(e, false))?;
    let address = address.ok_or(ParseError::BadAddress { sender: false })?;
    if !params.trim().is_empty() {
        return Err(params_error(params));
    }
    Ok(Command::Rcpt(address))
}

fn address_error(error: PathError, sender: bool) -> ParseError {
    match error {
        PathError::NotBracketed => ParseError::Syntax,
        PathError::TooLong | PathError::Invalid => ParseError::BadAddress { sender },
    }
}

/// Parameters must be separated from the path by a space.
fn params_error(params: &str) -> ParseError {
    if params.starts_with(' ') {
        ParseError::UnsupportedParameter
    } else {
        ParseError::Syntax
    }
}

fn parse_mail_params(params: &str) -> Result<MailParams, ParseError> {
    let mut parsed = MailParams::default();
    if params.is_empty() {
        return Ok(parsed);
    }
    if !params.starts_with(' ') {
        return Err(ParseError::Syntax);
    }
    for param in params.split(' ').filter(|p| !p.is_empty()) {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        if key.eq_ignore_ascii_case("SIZE") {
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ParseError::Syntax);
            }
            // More digits than a u64 holds is a size over any limit, not a syntax error.
            parsed.size = Some(value.parse().unwrap_or(u64::MAX));
        } else if key.eq_ignore_ascii_case("BODY")
            && (value.eq_ignore_ascii_case("7BIT") || value.eq_ignore_ascii_case("8BITMIME"))
        {
            // Both are stored as received.
        } else {
            return Err(ParseError::UnsupportedParameter);
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Command, ParseError> {
        Command::parse(line.as_bytes())
    }

    #[test]
    fn commands() {
        assert_eq!(
            parse("lhlo mx.example"),
            Ok(Command::Lhlo("mx.example".into()))
        );
        assert_eq!(parse("LHLO"), Err(ParseError::Syntax));
        assert_eq!(parse("EHLO x"), Ok(Command::HeloOrEhlo));
        assert_eq!(parse("DATA"), Ok(Command::Data));
        assert_eq!(parse("DATA x"), Err(ParseError::Syntax));
        assert_eq!(parse("STARTTLS"), Err(ParseError::Unknown));
        assert_eq!(parse("VRFY"), Err(ParseError::Syntax));
        assert_eq!(parse("NOOP anything"), Ok(Command::Noop));
    }

    #[test]
    fn mail_and_rcpt() {
        let Ok(Command::Mail(Some(a), p)) = parse("MAIL FROM:<a@x.example> SIZE=42 BODY=8BITMIME")
        else {
            panic!("MAIL");
        };
        assert_eq!((a.to_string(), p.size), ("a@x.example".into(), Some(42)));
        assert_eq!(
            parse("mail from: <>"),
            Ok(Command::Mail(None, MailParams::default()))
        );
        assert_eq!(
            parse("MAIL FROM:<> BODY=BINARYMIME"),
            Err(ParseError::UnsupportedParameter)
        );
        assert_eq!(parse("MAIL FROM:<> SIZE=-1"), Err(ParseError::Syntax));
        assert_eq!(parse("MAIL FROM:<> SIZE=+1"), Err(ParseError::Syntax));
        let Ok(Command::Mail(None, huge)) = parse("MAIL FROM:<> SIZE=99999999999999999999999")
        else {
            panic!("a huge SIZE");
        };
        assert_eq!(huge.size, Some(u64::MAX));
        assert_eq!(parse("MAIL TO:<>"), Err(ParseError::Syntax));
        assert_eq!(parse("MAIL FROM:<>SIZE=1"), Err(ParseError::Syntax));
        assert_eq!(
            parse("MAIL FROM:<a b>"),
            Err(ParseError::BadAddress { sender: true })
        );
        assert_eq!(
            parse("RCPT TO:<>"),
            Err(ParseError::BadAddress { sender: false })
        );
        assert_eq!(
            parse("RCPT TO:<b@x> NOTIFY=NEVER"),
            Err(ParseError::UnsupportedParameter)
        );
        assert!(matches!(
            parse("rcpt to:<B+tag@X.example>"),
            Ok(Command::Rcpt(_))
        ));
        assert_eq!(parse("RCPT FROM:<b@x>"), Err(ParseError::Syntax));
    }
}
