//! A message being sent by RETR or TOP, read from its file in chunks on the blocking pool.
//!
//! **At most one chunk is read ahead of the socket**: the driver hands the current chunk to
//! the session (which encodes it into its output), starts reading the next one, and writes
//! the output meanwhile; it waits for both before going on. That overlap is the read-ahead;
//! waiting for the write is the backpressure, so a session holds at most about two chunks
//! and the session's output high-water mark.
//!
//! A message that fits in its first chunk is read whole when it is opened, and its file is
//! closed at once: such bodies are what the mailbox reads ahead for pipelined RETRs.

use pop3_maildrop::{Maildrop, MessageReader};
use pop3_proto::{Progress, Session};
use tokio::task::JoinHandle;
use tracing::warn;

use crate::fault;
use crate::registry::SessionEntry;
use crate::session_end::End;
use crate::stream::Client;

/// Bytes of a message read from its file at once.
pub(crate) const BODY_CHUNK: usize = 256 * 1024;

/// Sends an opened message: each chunk goes through the session's encoder into its output,
/// the next is read while that output is written to `client`, then the session is told the
/// message ended. Returns the octets for the metrics, or `None` if reading failed midway
/// (the session was told, and closes); `Err` if the client is gone. With `watch` (the
/// session's registry entry, the message number and the client's octet count when the
/// RETR began), each chunk written shows the RETR's progress, and the session's octets
/// sent, in the registry.
pub(crate) async fn send(
    mut body: MessageBody,
    session: &mut Session,
    client: &mut Client,
    id: u64,
    watch: Option<(&SessionEntry, u64, u64)>,
) -> Result<Option<u64>, End> {
    let mut sent: u64 = 0;
    let size = body.expected_wire_size();
    let show = |client: &Client| {
        if let Some((entry, number, began)) = watch {
            let now = client.sent();
            entry.show_retr(Some((number, now.saturating_sub(began), size)), now);
        }
    };
    show(client);
    loop {
        let (chunk, at_end) = match body.chunk() {
            Ok(chunk) => chunk,
            Err(e) => {
                warn!(session = id, error = %e, "message changed while being sent");
                session.handle_body_failed();
                return Ok(None);
            }
        };
        sent += chunk.len() as u64;
        let complete = session.handle_body(chunk) == Progress::Complete;
        if at_end || complete {
            session.handle_body_end();
            return Ok(Some(if complete {
                sent
            } else {
                body.expected_wire_size()
            }));
        }
        let next = body.read_next();
        client.flush(session).await?;
        show(client);
        let Ok(Ok(read)) = tokio::time::timeout(client.stall(), next).await else {
            warn!(session = id, "reading a message took too long or failed");
            session.handle_body_failed();
            return Ok(None);
        };
        body = read;
    }
}

/// An open message and its current chunk.
pub(crate) struct MessageBody {
    /// The open file; `None` once the message was read to its end.
    reader: Option<MessageReader>,
    /// The wire size the file must have, as listed.
    expected_wire: u64,
    buf: Vec<u8>,
    /// The current chunk's length and whether it is the last, or why reading it failed.
    filled: pop3_maildrop::Result<(usize, bool)>,
}

impl MessageBody {
    /// Opens message `index` and reads its first chunk. Blocking: the caller runs it on the
    /// blocking pool, so that opening and the first read cost a single trip there (and a
    /// message that fits in one chunk costs no other).
    pub(crate) fn open(maildrop: &Maildrop, index: usize) -> pop3_maildrop::Result<MessageBody> {
        fault::before_message_open();
        let reader = maildrop.open_message(index)?;
        let expected_wire = reader.expected_wire_size();
        // The raw message is at most its wire size: a small message gets a small buffer (one
        // octet more, so the read that fills it also sees the end).
        let size = usize::try_from(expected_wire).unwrap_or(usize::MAX);
        let mut body = MessageBody {
            reader: Some(reader),
            expected_wire,
            buf: vec![0u8; size.saturating_add(1).min(BODY_CHUNK)],
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

    /// Whether the whole message was read, size verified, and its file closed.
    pub(crate) fn is_whole(&self) -> bool {
        matches!(self.filled, Ok((_, true)))
    }

    /// The octets of memory this body holds.
    pub(crate) fn held(&self) -> usize {
        self.buf.len()
    }

    /// The wire size the file must have, as listed.
    pub(crate) fn expected_wire_size(&self) -> u64 {
        self.expected_wire
    }

    /// Starts reading the next chunk on the blocking pool; the current one must have been
    /// handed to the session already (its buffer is reused).
    pub(crate) fn read_next(mut self) -> JoinHandle<MessageBody> {
        tokio::task::spawn_blocking(move || {
            self.fill();
            self
        })
    }

    /// Reads until the buffer is full or the message ends; at the end the file is closed.
    fn fill(&mut self) {
        let Some(reader) = self.reader.as_mut() else {
            self.filled = Ok((0, true));
            return;
        };
        let mut filled = 0;
        while filled < self.buf.len() {
            match reader.read_chunk(&mut self.buf[filled..]) {
                Ok(0) => {
                    self.filled = Ok((filled, true));
                    self.reader = None;
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
