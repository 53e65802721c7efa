//! Splitting the client's byte stream into lines.
//!
//! CRLF and a bare LF both end a line; a bare CR does not (it stays in the line, which then
//! fails as [`Line::Invalid`]). A line longer than the limit yields exactly one
//! [`Line::TooLong`], and everything up to the next LF is discarded without ever being parsed.
//! Bytes are held only until their line is complete, so the buffer stays below the limit plus
//! one read, provided the driver respects [`crate::Session::wants_input`].

/// One unit the reader hands to the session.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line<'a> {
    /// A complete line without its line ending.
    Complete(&'a [u8]),
    /// A complete line holding a NUL or a bare CR: the whole line is invalid.
    Invalid(InvalidLine),
    /// A line passed the length limit; its tail will be discarded up to the next LF.
    TooLong,
}

/// Why a line was invalid as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InvalidLine {
    /// The line holds a NUL byte.
    Nul,
    /// The line holds a CR that is not part of its CRLF ending.
    BareCr,
}

#[derive(Debug, Default)]
pub(crate) struct LineReader {
    buf: Vec<u8>,
    /// Where the next line starts in `buf`.
    start: usize,
    /// How much of `buf[start..]` is known to hold no LF.
    scanned: usize,
    /// We are inside an overlong line, dropping bytes until its LF.
    discarding: bool,
}

impl LineReader {
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
            self.scanned = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Drops everything buffered (STLS: plaintext sent before the handshake is never used).
    pub(crate) fn discard_all(&mut self) {
        self.buf.clear();
        self.start = 0;
        self.scanned = 0;
        self.discarding = false;
    }

    /// The next line, if one is complete. `max_octets` counts the line ending.
    pub(crate) fn next_line(&mut self, max_octets: usize) -> Option<Line<'_>> {
        loop {
            let pending = &self.buf[self.start..];
            let Some(lf) =
                memchr::memchr(b'\n', &pending[self.scanned..]).map(|i| i + self.scanned)
            else {
                self.scanned = pending.len();
                if self.discarding {
                    self.compact_discarding();
                    return None;
                }
                // Without its LF the line is already `pending.len() + 1` octets long.
                if pending.len() >= max_octets {
                    self.discarding = true;
                    self.compact_discarding();
                    return Some(Line::TooLong);
                }
                self.compact();
                return None;
            };
            let line_start = self.start;
            self.start += lf + 1;
            self.scanned = 0;
            if self.discarding {
                self.discarding = false;
                continue;
            }
            if lf + 1 > max_octets {
                return Some(Line::TooLong);
            }
            let mut line = &self.buf[line_start..line_start + lf];
            if let [rest @ .., b'\r'] = line {
                line = rest;
            }
            return Some(if memchr::memchr(0, line).is_some() {
                Line::Invalid(InvalidLine::Nul)
            } else if memchr::memchr(b'\r', line).is_some() {
                Line::Invalid(InvalidLine::BareCr)
            } else {
                Line::Complete(line)
            });
        }
    }

    /// The complete lines buffered now, without their line ends, oldest first; nothing is
    /// consumed. The tail of a line being discarded (over the limit) is skipped.
    pub(crate) fn buffered_lines(&self) -> impl Iterator<Item = &[u8]> {
        let pending = &self.buf[self.start..];
        let complete = memchr::memrchr(b'\n', pending).map_or(&pending[..0], |lf| &pending[..lf]);
        let skip = usize::from(self.discarding);
        complete
            .split(|&b| b == b'\n')
            .skip(skip)
            .filter(|_| !complete.is_empty())
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
    }

    /// Moves a partial line to the front of the buffer, so consumed lines do not pile up.
    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    /// While discarding, nothing before the next LF is kept.
    fn compact_discarding(&mut self) {
        self.buf.clear();
        self.start = 0;
        self.scanned = 0;
    }
}
