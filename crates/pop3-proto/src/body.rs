//! The streaming encoder for multi-line message replies (RETR and TOP, RFC 1939 §3).
//!
//! It turns raw message bytes into wire bytes, chunk by chunk, holding only two bits of state
//! between chunks, so a message is never held in memory:
//!
//! - **bare LF becomes CRLF**; a CRLF stays as it is; a CR not followed by LF is data;
//! - **every line that starts with `.` gets one more `.`**, the first line included;
//! - [`BodyEncoder::finish`] adds CRLF when the message does not end with a newline, then the
//!   terminating `.` CRLF.
//!
//! The octets it writes before the stuffing equal [`wire_size`] of the input, the size that
//! STAT and LIST report for the same bytes.
//!
//! For TOP it passes the header, the blank line and then at most `n` body lines, and reports
//! [`Progress::Complete`] when it has written all it will, so the driver can stop reading.

use memchr::memchr_iter;

/// Whether the encoder wants more input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Feed the next chunk, or call [`BodyEncoder::finish`] at the end of the message.
    NeedMore,
    /// TOP reached its line count: call [`BodyEncoder::finish`]; further input is ignored.
    Complete,
}

/// A stateful dot-stuffer with an optional TOP line limit. See the module docs.
#[derive(Clone, Debug)]
pub struct BodyEncoder {
    /// The next byte starts a line (true before the first byte).
    at_line_start: bool,
    /// The last byte seen was CR, so an LF right after it needs no CR of its own.
    last_was_cr: bool,
    /// Octets written so far, not counting dot-stuffing or the terminator.
    wire_octets: u64,
    limit: Limit,
}

#[derive(Clone, Copy, Debug)]
enum Limit {
    /// RETR: everything.
    Whole,
    /// TOP, still in the header. `blank_so_far` is true while the current line holds nothing
    /// but an optional CR, i.e. could still be the blank line that ends the header.
    Header { body_lines: u64, blank_so_far: bool },
    /// TOP, in the body, with this many lines still to send.
    Body { remaining: u64 },
    /// TOP, all lines sent.
    Done,
}

impl BodyEncoder {
    /// An encoder for a whole message (RETR).
    pub fn whole() -> BodyEncoder {
        BodyEncoder {
            at_line_start: true,
            last_was_cr: false,
            wire_octets: 0,
            limit: Limit::Whole,
        }
    }

    /// An encoder for the header and the first `body_lines` lines of the body (TOP).
    pub fn top(body_lines: u64) -> BodyEncoder {
        BodyEncoder {
            limit: Limit::Header {
                body_lines,
                blank_so_far: true,
            },
            ..BodyEncoder::whole()
        }
    }

    /// Encodes the next chunk of the message onto `out`.
    pub fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Progress {
        if input.is_empty() {
            return self.progress();
        }
        match self.limit {
            Limit::Whole => {
                self.encode_span(input, out);
                Progress::NeedMore
            }
            Limit::Done => Progress::Complete,
            Limit::Header { .. } | Limit::Body { .. } => self.encode_limited(input, out),
        }
    }

    /// The octets written so far before dot-stuffing: equal to [`wire_size`] of the input.
    pub fn wire_octets(&self) -> u64 {
        self.wire_octets
    }

    /// Ends the message: CRLF if the last line lacks one, then `.` CRLF.
    pub fn finish(self, out: &mut Vec<u8>) {
        if !self.at_line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }

    fn progress(&self) -> Progress {
        match self.limit {
            Limit::Done => Progress::Complete,
            _ => Progress::NeedMore,
        }
    }

    /// The fast path: copies runs of lines that need nothing in one go, breaking the copy only
    /// at a bare LF (to insert CR) or before a line that starts with `.` (to insert a dot).
    fn encode_span(&mut self, input: &[u8], out: &mut Vec<u8>) {
        // Worst case: every byte is a bare LF followed by a dot.
        out.reserve(input.len() + input.len() / 8 + 4);
        if self.at_line_start && input[0] == b'.' {
            out.push(b'.');
        }
        let mut copied = 0;
        let mut inserted_crs = 0;
        for lf in memchr_iter(b'\n', input) {
            let after_cr = match lf {
                0 => self.last_was_cr,
                _ => input[lf - 1] == b'\r',
            };
            if !after_cr {
                out.extend_from_slice(&input[copied..lf]);
                out.extend_from_slice(b"\r\n");
                copied = lf + 1;
                inserted_crs += 1;
            }
            if input.get(lf + 1) == Some(&b'.') {
                out.extend_from_slice(&input[copied..=lf]);
                out.push(b'.');
                copied = lf + 1;
            }
        }
        out.extend_from_slice(&input[copied..]);
        self.wire_octets += (input.len() + inserted_crs) as u64;
        let last = input[input.len() - 1];
        self.at_line_start = last == b'\n';
        self.last_was_cr = last == b'\r';
    }

    /// TOP: goes line by line, counting the header's end and the body lines.
    fn encode_limited(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Progress {
        while !input.is_empty() {
            if let Limit::Done = self.limit {
                break;
            }
            let (line, complete) = match memchr::memchr(b'\n', input) {
                Some(lf) => (&input[..=lf], true),
                None => (input, false),
            };
            if let Limit::Header { blank_so_far, .. } = &mut self.limit {
                let content = if complete {
                    &line[..line.len() - 1]
                } else {
                    line
                };
                let only_cr = match content {
                    [] => true,
                    [b'\r'] => self.at_line_start,
                    _ => false,
                };
                *blank_so_far = *blank_so_far && only_cr;
            }
            self.encode_span(line, out);
            input = &input[line.len()..];
            if complete {
                self.end_line();
            }
        }
        self.progress()
    }

    /// Called after each complete line in TOP mode.
    fn end_line(&mut self) {
        self.limit = match self.limit {
            Limit::Header {
                body_lines,
                blank_so_far: true,
            } => match body_lines {
                0 => Limit::Done,
                n => Limit::Body { remaining: n },
            },
            Limit::Header { body_lines, .. } => Limit::Header {
                body_lines,
                blank_so_far: true,
            },
            Limit::Body { remaining: 1 } => Limit::Done,
            Limit::Body { remaining } => Limit::Body {
                remaining: remaining - 1,
            },
            other => other,
        };
    }
}

/// The wire size of a message: its octets after LF→CRLF normalisation, before dot-stuffing
/// (RFC 1939 §5 LIST: "the exact size of the message"). Streaming form: [`WireSizeCounter`].
pub fn wire_size(message: &[u8]) -> u64 {
    let mut counter = WireSizeCounter::default();
    counter.update(message);
    counter.size()
}

/// Counts wire octets across chunks, like [`BodyEncoder`] without the output.
#[derive(Clone, Debug, Default)]
pub struct WireSizeCounter {
    size: u64,
    last_was_cr: bool,
}

impl WireSizeCounter {
    /// Adds the next chunk.
    pub fn update(&mut self, chunk: &[u8]) {
        let Some(&last) = chunk.last() else { return };
        let bare_lfs = memchr_iter(b'\n', chunk)
            .filter(|&lf| match lf {
                0 => !self.last_was_cr,
                _ => chunk[lf - 1] != b'\r',
            })
            .count();
        self.size += (chunk.len() + bare_lfs) as u64;
        self.last_was_cr = last == b'\r';
    }

    /// The wire size so far.
    pub fn size(&self) -> u64 {
        self.size
    }
}
