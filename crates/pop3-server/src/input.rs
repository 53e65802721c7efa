//! What the connection loop reads the client into, and what can interrupt waiting for it or
//! for a request in progress.

use std::future::Future;
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

/// Why waiting for a request was cut short.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interruption {
    /// An administrator kicked the session.
    Kicked,
    /// The server is shutting down.
    Shutdown,
    /// The deadline passed (the login deadline, before TRANSACTION).
    Deadline,
}

impl Input {
    /// Awaits `work` unless, first, the session is kicked, the server starts shutting down or
    /// `deadline` passes; then `work` is dropped unfinished. **Every request the driver awaits
    /// (but UPDATE's commit, which always completes) goes through here**, so a kick, a
    /// shutdown or a deadline is seen even while a request is with the blocking pool.
    pub(crate) async fn race<T>(
        &mut self,
        deadline: Option<Instant>,
        work: impl Future<Output = T>,
    ) -> Result<T, Interruption> {
        let expiry = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            value = work => Ok(value),
            () = self.kicked.notified() => Err(Interruption::Kicked),
            Ok(()) = self.shutdown.changed() => Err(Interruption::Shutdown),
            () = expiry => Err(Interruption::Deadline),
        }
    }
}
