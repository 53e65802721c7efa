//! The DATA phase's decoder: removes the dot-stuffing (RFC 5321 §4.5.2), turns CRLF into the
//! LF a Maildir stores, finds the final `.` line, and counts the message's size as sent.
//!
//! It works byte by byte across chunk boundaries with a few bits of state, so a message is
//! never held whole. **The message ends only at CRLF `.` CRLF** (RFC 5321 §4.1.1.4): a bare
//! LF is stored as a line end (and counted as the CRLF it will be served as), but the line
//! after it is not a new line for the dot rules, so `\n.\n` or `\n.\r\n` can never end a
//! message early (SMTP smuggling) or cut it short. A CR not followed by LF is kept as it is.

/// Where the decoder is within the current line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// At the start of a line: at the start of the message or after CRLF.
    LineStart,
    /// A `.` began the line.
    Dot,
    /// `.` then CR began the line.
    DotCr,
    /// Inside a line.
    Middle,
    /// Inside a line, after a CR.
    MiddleCr,
}

/// What [`DotDecoder::decode`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// All input was consumed; the message goes on.
    NeedMore,
    /// The final `.` line ended after `consumed` octets of the input; the rest belongs to
    /// the next command.
    Ended {
        /// Octets of the input that belonged to the message and its final line.
        consumed: usize,
    },
}

/// The streaming decoder of one message.
#[derive(Clone, Debug)]
pub struct DotDecoder {
    state: State,
    /// Octets of the message as sent with CRLF line ends, without the stuffing dots.
    octets: u64,
    /// Octets past which the decoder stops writing (it still reads to the end).
    limit: u64,
}

impl DotDecoder {
    /// A decoder that writes at most `limit` octets of message (counted as sent, CRLF).
    pub fn new(limit: u64) -> DotDecoder {
        DotDecoder {
            state: State::LineStart,
            octets: 0,
            limit,
        }
    }

    /// Whether the message has passed the limit (its octets are no longer written).
    pub fn over_limit(&self) -> bool {
        self.octets > self.limit
    }

    /// The message's size so far, as sent with CRLF line ends.
    pub fn octets(&self) -> u64 {
        self.octets
    }

    /// Decodes `input`, appending the message's octets (LF line ends) to `out`.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Progress {
        for (i, &b) in input.iter().enumerate() {
            if self.step(b, out) {
                return Progress::Ended { consumed: i + 1 };
            }
        }
        Progress::NeedMore
    }

    /// One octet; true at the end of the final line.
    fn step(&mut self, b: u8, out: &mut Vec<u8>) -> bool {
        match (self.state, b) {
            (State::LineStart, b'.') => self.state = State::Dot,
            (State::DotCr, b'\n') => return true,
            (State::Dot, b'\r') => self.state = State::DotCr,
            (State::DotCr, _) => {
                // ".\rX": the dot was stuffing and the CR is the line's first octet.
                self.emit(b"\r", 1, out);
                self.state = State::Middle;
                return self.step(b, out);
            }
            (State::LineStart | State::Dot | State::Middle, _) => {
                self.state = State::Middle;
                self.middle(b, out);
            }
            (State::MiddleCr, b'\n') => {
                self.emit(b"\n", 2, out);
                self.state = State::LineStart;
            }
            (State::MiddleCr, _) => {
                self.emit(b"\r", 1, out);
                self.state = State::Middle;
                self.middle(b, out);
            }
        }
        false
    }

    fn middle(&mut self, b: u8, out: &mut Vec<u8>) {
        match b {
            b'\r' => self.state = State::MiddleCr,
            b'\n' => {
                // A bare LF: stored as a line end and counted as the CRLF it will be served
                // as, but no line start for the dot rules (only CRLF is).
                self.emit(b"\n", 2, out);
            }
            _ => self.emit(&[b], 1, out),
        }
    }

    /// Writes `bytes`, counting `sent` octets of message, unless over the limit.
    fn emit(&mut self, bytes: &[u8], sent: u64, out: &mut Vec<u8>) {
        self.octets += sent;
        if self.octets <= self.limit {
            out.extend_from_slice(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(input: &[u8], piece: usize) -> (Vec<u8>, Option<usize>, u64) {
        let mut decoder = DotDecoder::new(u64::MAX);
        let mut out = Vec::new();
        let mut offset = 0;
        for chunk in input.chunks(piece) {
            if let Progress::Ended { consumed } = decoder.decode(chunk, &mut out) {
                return (out, Some(offset + consumed), decoder.octets());
            }
            offset += chunk.len();
        }
        (out, None, decoder.octets())
    }

    #[test]
    fn unstuffs_converts_and_ends_in_any_split() {
        let input = b"Subject: x\r\n\r\n..dot\r\n..\r\n\r\nbare\nlf\rcr\r\n.\rx\r\n.\r\nQUIT\r\n";
        let body = b"Subject: x\n\n.dot\n.\n\nbare\nlf\rcr\n\rx\n".to_vec();
        for piece in 1..input.len() {
            let (out, end, octets) = decode_in_pieces(input, piece);
            assert_eq!(out, body, "piece {piece}");
            assert_eq!(end, Some(input.len() - b"QUIT\r\n".len()), "piece {piece}");
            // As sent, less three stuffing dots and the final line, with the bare LF counted
            // as the CRLF it stands for.
            assert_eq!(octets, input.len() as u64 - 3 + 1 - 3 - 6, "piece {piece}");
        }
    }

    #[test]
    fn an_empty_message_and_no_end_but_crlf_dot_crlf() {
        assert_eq!(decode_in_pieces(b".\r\n", 1), (Vec::new(), Some(3), 0));
        assert_eq!(decode_in_pieces(b"a\r\n.x", 5), (b"a\nx".to_vec(), None, 4));
        // Smuggling: a bare LF never starts the final line, nor does a dot line end at one.
        for piece in 1..12 {
            let (out, end, _) = decode_in_pieces(b"a\n.\nMAIL\n.\r\nb", piece);
            assert_eq!(
                (out, end),
                (b"a\n.\nMAIL\n.\nb".to_vec(), None),
                "piece {piece}"
            );
            let (out, end, _) = decode_in_pieces(b"a\r\n.\nQUIT\r\n.\r\n", piece);
            assert_eq!(
                (out, end),
                (b"a\n\nQUIT\n".to_vec(), Some(14)),
                "piece {piece}"
            );
        }
    }

    #[test]
    fn stops_writing_past_the_limit_but_finds_the_end() {
        let mut decoder = DotDecoder::new(4);
        let mut out = Vec::new();
        let progress = decoder.decode(b"abc\r\ndef\r\n.\r\n", &mut out);
        assert_eq!(progress, Progress::Ended { consumed: 13 });
        assert!(decoder.over_limit());
        assert_eq!(out, b"abc");
    }
}
