//! What the connection loop reads the client into, and what can interrupt waiting for it.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{Notify, watch};

/// Bytes read from the client at once, at first: enough for any command, small for the many
/// idle sessions a server holds.
const READ_CHUNK: usize = 1024;
/// The read buffer doubles up to this whenever a read fills it (a client pipelining).
const READ_CHUNK_MAX: usize = 16 * 1024;

/// The client's input buffer, when input last arrived, and the signals that end a wait.
pub(crate) struct Input {
    pub(crate) buf: Vec<u8>,
    pub(crate) last: Instant,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) kicked: Arc<Notify>,
}

impl Input {
    /// A small buffer, and the server's shutdown and this session's kick signals.
    pub(crate) fn new(shutdown: watch::Receiver<bool>, kicked: Arc<Notify>) -> Input {
        Input {
            buf: vec![0u8; READ_CHUNK],
            last: Instant::now(),
            shutdown,
            kicked,
        }
    }

    /// After a read of `n` octets: a read that filled the buffer doubles it, up to the most.
    pub(crate) fn grow_if_filled(&mut self, n: usize) {
        if n == self.buf.len() && n < READ_CHUNK_MAX {
            self.buf.resize(n * 2, 0);
        }
    }
}
