//! The `.pop3` transcript format, shared by the in-memory tests here and the real-server tests.
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
//! SECRET, so APOP transcripts run against any server.

use std::path::{Path, PathBuf};

/// A parsed transcript.
#[derive(Debug)]
pub struct Transcript {
    pub name: String,
    pub setup: Vec<Setup>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Setup {
    Config(Vec<(String, String)>),
    Connection {
        secure: bool,
        loopback: bool,
    },
    User {
        name: String,
        password: String,
        apop: Option<String>,
    },
    Message {
        user: String,
        file: PathBuf,
    },
    Locked(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Bytes the client sends (a C: line with CRLF, or a C> line).
    Send(Vec<u8>),
    Expect(Expect),
    Closed,
    Drop,
    Messages {
        user: String,
        count: usize,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    Exact(String),
    Glob(String),
}

impl Expect {
    pub fn matches(&self, line: &str) -> bool {
        match self {
            Expect::Exact(text) => text == line,
            Expect::Glob(pattern) => glob(pattern.as_bytes(), line.as_bytes()),
        }
    }
}

/// The folder of the transcripts, `tests/transcripts` at the workspace root.
pub fn transcripts_dir() -> PathBuf {
    workspace_root().join("tests/transcripts")
}

pub fn messages_dir() -> PathBuf {
    workspace_root().join("tests/messages")
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every transcript, sorted by name.
pub fn all() -> Vec<Transcript> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(transcripts_dir())
        .expect("tests/transcripts exists")
        .map(|entry| entry.expect("readable dir entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "pop3"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).expect("transcript is UTF-8");
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            parse(&name, &text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect()
}

pub fn parse(name: &str, text: &str) -> Result<Transcript, String> {
    let mut setup = Vec::new();
    let mut steps = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}", n + 1);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (tag, rest) = line.split_at(line.len().min(3));
        match tag {
            "C: " => {
                let mut bytes = rest.as_bytes().to_vec();
                bytes.extend_from_slice(b"\r\n");
                steps.push(Step::Send(bytes));
            }
            "C> " => steps.push(Step::Send(unescape(rest).map_err(at)?)),
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
            file: messages_dir().join(file),
        },
        ["locked", user] => Setup::Locked(user.to_owned()),
        _ => return Err(format!("unknown setup {line:?}")),
    })
}

/// Replaces `{apop:SECRET}` with the digest the `digest` function computes for SECRET.
pub fn substitute(bytes: &[u8], digest: impl Fn(&str) -> String) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    let Some(start) = text.find("{apop:") else {
        return bytes.to_vec();
    };
    let end = start + text[start..].find('}').expect("closing brace");
    let secret = &text[start + 6..end];
    format!("{}{}{}", &text[..start], digest(secret), &text[end + 1..]).into_bytes()
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

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
