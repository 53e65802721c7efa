//! The `.pop3` transcript format, shared by the in-memory tests of `pop3-proto` and the
//! real-server tests of `pop3-server`.
//!
//! ```text
//! # comment
//! ! config KEY=VALUE ...        policy (cleartext, starttls, apop, last, max-line, bad-before,
//!                               bad-after, failed-auths, login-delay, expire, implementation)
//! ! connection secure|plain loopback|remote
//! ! user NAME PASSWORD [APOP-SECRET]   (PASSWORD takes the escapes of C>, e.g. \x20)
//! ! message NAME FILE           a file of tests/messages/ delivered to NAME
//! ! locked NAME                 another session holds NAME's maildrop
//! C: text                       the client sends text + CRLF; consecutive C lines go in one write
//! C> escaped                    the client sends bytes (\r \n \t \0 \xHH \\), nothing appended
//! S: text                       the next server line is exactly text
//! S~ pattern                    the next server line matches pattern (* = any run of characters)
//! S> escaped                    the next server line is exactly these bytes (escapes as in C>)
//! -- closed                     the server has closed the connection, with nothing more sent
//! -- drop                       the client drops the connection
//! = messages NAME N             NAME's maildrop holds N messages now
//! ```
//!
//! In client text, `{apop:SECRET}` becomes the APOP digest of the greeting's timestamp and
//! SECRET ([`substitute`]), so APOP transcripts run against any server.
//!
//! The files live in [`TRANSCRIPTS_DIR`] and the messages they deliver in [`MESSAGES_DIR`],
//! both relative to the workspace root; the tests read them and call [`parse`], then
//! [`Transcript::resolve_messages`].

use std::path::{Path, PathBuf};

/// Where the transcripts are, relative to the workspace root.
pub const TRANSCRIPTS_DIR: &str = "tests/transcripts";

/// Where the messages named by `! message` are, relative to the workspace root.
pub const MESSAGES_DIR: &str = "tests/messages";

/// A parsed transcript.
#[derive(Debug)]
pub struct Transcript {
    /// The file name without `.pop3`, for failure messages.
    pub name: String,
    /// The `!` lines, in order.
    pub setup: Vec<Setup>,
    /// The conversation.
    pub steps: Vec<Step>,
}

/// A `!` line: what the server and its storage look like before the client connects.
#[derive(Debug, Clone, PartialEq)]
pub enum Setup {
    /// `! config KEY=VALUE ...`, the pairs as written.
    Config(Vec<(String, String)>),
    /// `! connection secure|plain loopback|remote`.
    Connection {
        /// The connection is TLS from the start.
        secure: bool,
        /// The client is on loopback.
        loopback: bool,
    },
    /// `! user NAME PASSWORD [APOP-SECRET]`.
    User {
        /// The user name as written.
        name: String,
        /// The password, unescaped.
        password: String,
        /// The APOP secret, if any.
        apop: Option<String>,
    },
    /// `! message NAME FILE`.
    Message {
        /// The user the message is delivered to.
        user: String,
        /// The file as written, relative to [`MESSAGES_DIR`], until
        /// [`Transcript::resolve_messages`] makes it a path to read.
        file: PathBuf,
    },
    /// `! locked NAME`: another session holds this user's maildrop.
    Locked(String),
}

/// One line of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Bytes the client sends (a C: line with CRLF, or a C> line).
    Send(Vec<u8>),
    /// The next line the server sends.
    Expect(Expect),
    /// The server has closed the connection, with nothing more sent.
    Closed,
    /// The client drops the connection.
    Drop,
    /// `= messages NAME N`: the user's maildrop holds this many messages now.
    Messages {
        /// The user.
        user: String,
        /// The number of messages.
        count: usize,
    },
}

/// What a server line must be.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// Exactly this text (without the CRLF).
    Exact(String),
    /// This pattern, where `*` matches any run of characters.
    Glob(String),
}

impl Expect {
    /// Whether a server line (without its CRLF) is what was expected.
    pub fn matches(&self, line: &str) -> bool {
        match self {
            Expect::Exact(text) => text == line,
            Expect::Glob(pattern) => glob(pattern.as_bytes(), line.as_bytes()),
        }
    }
}

impl Transcript {
    /// Makes the files of `! message` lines paths below `messages_dir` (the workspace's
    /// [`MESSAGES_DIR`]), ready to read. Joins paths only; reads nothing.
    pub fn resolve_messages(&mut self, messages_dir: &Path) {
        for setup in &mut self.setup {
            if let Setup::Message { file, .. } = setup {
                *file = messages_dir.join(&*file);
            }
        }
    }
}

/// Parses the text of a transcript; `name` is only for messages. Errors name the line.
pub fn parse(name: &str, text: &str) -> Result<Transcript, String> {
    let mut setup = Vec::new();
    let mut steps = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}", n + 1);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (tag, rest) = match (line.get(..3), line.get(3..)) {
            (Some(tag), Some(rest)) => (tag, rest),
            _ => (line, ""),
        };
        match tag {
            "C: " => {
                check_substitution(rest).map_err(at)?;
                let mut bytes = rest.as_bytes().to_vec();
                bytes.extend_from_slice(b"\r\n");
                steps.push(Step::Send(bytes));
            }
            "C> " => {
                check_substitution(rest).map_err(at)?;
                steps.push(Step::Send(unescape(rest).map_err(at)?));
            }
            "S: " => steps.push(Step::Expect(Expect::Exact(rest.to_owned()))),
            "S~ " => steps.push(Step::Expect(Expect::Glob(rest.to_owned()))),
            "S> " => {
                let bytes = unescape(rest).map_err(at)?;
                steps.push(Step::Expect(Expect::Exact(lossy(&bytes))));
            }
            "S:" if rest.is_empty() => steps.push(Step::Expect(Expect::Exact(String::new()))),
            "-- " => match rest {
                "closed" => steps.push(Step::Closed),
                "drop" => steps.push(Step::Drop),
                other => return Err(at(format!("unknown event {other:?}"))),
            },
            "= m" => {
                let words: Vec<&str> = line.split_whitespace().collect();
                let ["=", "messages", user, count] = words[..] else {
                    return Err(at("expected `= messages NAME N`".into()));
                };
                steps.push(Step::Messages {
                    user: user.to_owned(),
                    count: count.parse().map_err(|e| at(format!("{e}")))?,
                });
            }
            "! c" | "! u" | "! m" | "! l" => {
                setup.push(parse_setup(&line[2..]).map_err(at)?);
            }
            _ => return Err(at(format!("unknown line {line:?}"))),
        }
    }
    Ok(Transcript {
        name: name.to_owned(),
        setup,
        steps,
    })
}

/// Replaces `{apop:SECRET}` with the digest the `digest` function computes for SECRET. An
/// unterminated `{apop:` is left as it is ([`parse`] rejects it in a transcript).
pub fn substitute(bytes: &[u8], digest: impl Fn(&str) -> String) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    let Some(start) = text.find("{apop:") else {
        return bytes.to_vec();
    };
    let Some(end) = text[start..].find('}').map(|end| start + end) else {
        return bytes.to_vec();
    };
    let secret = &text[start + 6..end];
    format!("{}{}{}", &text[..start], digest(secret), &text[end + 1..]).into_bytes()
}

/// Splits server output into lines, checking that each ends with CRLF and none has a bare LF.
pub fn split_lines(output: &[u8]) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    let mut rest = output;
    while !rest.is_empty() {
        let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
            return Err(format!(
                "output ends without a line ending: {:?}",
                lossy(rest)
            ));
        };
        if lf == 0 || rest[lf - 1] != b'\r' {
            return Err(format!("bare LF in output after {:?}", lossy(&rest[..lf])));
        }
        lines.push(lossy(&rest[..lf - 1]));
        rest = &rest[lf + 1..];
    }
    Ok(lines)
}

fn parse_setup(line: &str) -> Result<Setup, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    Ok(match words[..] {
        ["config", ref pairs @ ..] => Setup::Config(
            pairs
                .iter()
                .map(|pair| {
                    pair.split_once('=')
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .ok_or_else(|| format!("expected KEY=VALUE, got {pair:?}"))
                })
                .collect::<Result<_, _>>()?,
        ),
        ["connection", security, origin] => Setup::Connection {
            secure: security == "secure",
            loopback: origin == "loopback",
        },
        ["user", name, password] => Setup::User {
            name: name.to_owned(),
            password: lossy(&unescape(password)?),
            apop: None,
        },
        ["user", name, password, apop] => Setup::User {
            name: name.to_owned(),
            password: lossy(&unescape(password)?),
            apop: Some(apop.to_owned()),
        },
        ["message", user, file] => Setup::Message {
            user: user.to_owned(),
            file: PathBuf::from(file),
        },
        ["locked", user] => Setup::Locked(user.to_owned()),
        _ => return Err(format!("unknown setup {line:?}")),
    })
}

/// A `{apop:` in client text must be closed, so that [`substitute`] replaces it.
fn check_substitution(text: &str) -> Result<(), String> {
    match text.find("{apop:") {
        Some(start) if !text[start..].contains('}') => Err("unterminated {apop:".to_owned()),
        _ => Ok(()),
    }
}

fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'0') => out.push(0),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex: Vec<u8> = bytes.by_ref().take(2).collect();
                let hex = std::str::from_utf8(&hex).map_err(|e| e.to_string())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?);
            }
            other => return Err(format!("bad escape {other:?}")),
        }
    }
    Ok(out)
}

fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| glob(rest, &text[skip..])),
        Some((&p, rest)) => text.first() == Some(&p) && glob(rest, &text[1..]),
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
