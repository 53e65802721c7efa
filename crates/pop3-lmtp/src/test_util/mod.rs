//! The `.lmtp` transcript format, shared by this crate's in-memory tests and the server's
//! socket tests (only with the `test-util` feature, which only tests enable). No file access:
//! the tests read the files.
//!
//! A transcript is a list of lines: `C: text` is a line the client sends (CRLF added), `S:
//! text` a line the server must answer; a `S:` line ending in `*` matches any line starting
//! with what comes before it (host names differ between runs). Client lines in a row are sent
//! together (pipelined); the server lines after them are the replies. `#` starts a comment.
//! The users `alice`, `bob` and `carol` exist; every delivery succeeds.

/// One line of a transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A line the client sends, without its CRLF.
    Client(String),
    /// A line the server must answer (a trailing `*` matches any rest).
    Server(String),
}

/// Parses a transcript; an error names the line.
pub fn parse(text: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let step = if let Some(rest) = line.strip_prefix("C: ") {
            Step::Client(rest.to_owned())
        } else if line == "C:" {
            Step::Client(String::new())
        } else if let Some(rest) = line.strip_prefix("S: ") {
            Step::Server(rest.to_owned())
        } else {
            return Err(format!("line {}: neither `C: ` nor `S: `: {line:?}", n + 1));
        };
        steps.push(step);
    }
    Ok(steps)
}

/// Whether the server line `got` matches the expected `want`.
pub fn matches(want: &str, got: &str) -> bool {
    match want.strip_suffix('*') {
        Some(prefix) => got.starts_with(prefix),
        None => got == want,
    }
}

/// The transcript in groups: the client lines sent together (as bytes, CRLF-terminated) and
/// the server lines that answer them.
pub fn exchanges(steps: &[Step]) -> Vec<(Vec<u8>, Vec<String>)> {
    let mut groups: Vec<(Vec<u8>, Vec<String>)> = Vec::new();
    for step in steps {
        match step {
            Step::Client(line) => {
                if groups.last().is_none_or(|(_, replies)| !replies.is_empty()) {
                    groups.push((Vec::new(), Vec::new()));
                }
                if let Some((sent, _)) = groups.last_mut() {
                    sent.extend_from_slice(line.as_bytes());
                    sent.extend_from_slice(b"\r\n");
                }
            }
            Step::Server(line) => match groups.last_mut() {
                Some((_, replies)) => replies.push(line.clone()),
                // The greeting: answered to no client line.
                None => groups.push((Vec::new(), vec![line.clone()])),
            },
        }
    }
    groups
}

pub mod files;
