//! A message being sent by RETR or TOP, read from its file in chunks on the blocking pool.
//!
//! **At most one chunk is read ahead of the socket**: the driver hands the current chunk to
//! the session (which encodes it into its output), starts reading the next one, and writes
//! the output meanwhile; it waits for both before going on. That overlap is the read-ahead;
//! waiting for the write is the backpressure, so a session holds at most about two chunks
//! and the session's output high-water mark.

use pop3_maildrop::{Maildrop, MessageReader};
use tokio::task::JoinHandle;

/// Bytes of a message read from its file at once.
pub(crate) const BODY_CHUNK: usize = 256 * 1024;

/// An open message and its current chunk.
pub(crate) struct MessageBody {
    reader: MessageReader,
    buf: Vec<u8>,
    /// The current chunk's length and whether it is the last, or why reading it failed.
    filled: pop3_maildrop::Result<(usize, bool)>,
}

impl MessageBody {
    /// Opens message `index` and reads its first chunk. Blocking: the caller runs it on the
    /// blocking pool, so that opening and the first read cost a single trip there (and a
    /// message that fits in one chunk costs no other).
    pub(crate) fn open(maildrop: &Maildrop, index: usize) -> pop3_maildrop::Result<MessageBody> {
        let mut body = MessageBody {
            reader: maildrop.open_message(index)?,
            buf: vec![0u8; BODY_CHUNK],
            filled: Ok((0, false)),
        };
        body.fill();
        Ok(body)
    }

    /// The current chunk and whether the message ends with it (its size was verified then),
    /// or the error that reading it met.
    pub(crate) fn chunk(&self) -> Result<(&[u8], bool), &pop3_maildrop::Error> {
        match &self.filled {
            Ok((n, at_end)) => Ok((&self.buf[..*n], *at_end)),
            Err(e) => Err(e),
        }
    }

    /// The wire size the file must have, as listed.
    pub(crate) fn expected_wire_size(&self) -> u64 {
        self.reader.expected_wire_size()
    }

    /// Starts reading the next chunk on the blocking pool; the current one must have been
    /// handed to the session already (its buffer is reused).
    pub(crate) fn read_next(mut self) -> JoinHandle<MessageBody> {
        tokio::task::spawn_blocking(move || {
            self.fill();
            self
        })
    }

    /// Reads until the buffer is full or the message ends.
    fn fill(&mut self) {
        let mut filled = 0;
        while filled < self.buf.len() {
            match self.reader.read_chunk(&mut self.buf[filled..]) {
                Ok(0) => {
                    self.filled = Ok((filled, true));
                    return;
                }
                Ok(n) => filled += n,
                Err(e) => {
                    self.filled = Err(e);
                    return;
                }
            }
        }
        self.filled = Ok((filled, false));
    }
}
