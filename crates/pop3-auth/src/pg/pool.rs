//! A small bounded pool of PostgreSQL connections, a `Mutex` and a `Condvar`.
//!
//! **A dead database fails fast**: a checkout with no idle connection connects in the calling
//! thread, so the error of that connect (refused, no socket, or `connect_timeout`) is the
//! answer, at once; a checkout waits for a busy connection at most `wait` and then fails.
//! **A connection found closed is dropped together with every idle one** (after a restart
//! of the database they are all dead), so the pool recovers by itself when the database
//! returns: the next checkout connects afresh.
//!
//! Why not `r2d2`: it opens connections on threads of its own and answers a caller only when
//! its `connection_timeout` runs out, so a dead database costs every login that timeout;
//! and `r2d2_postgres` has had no release for years. This is the part we need, in a page.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use postgres::Client;

use crate::error::{Error, Result};

/// Opens one connection, ready for use (session settings and schema checked).
pub(crate) type Connect = dyn Fn() -> Result<Client> + Send + Sync;

/// The pool; clones share it.
#[derive(Clone)]
pub(crate) struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    connect: Box<Connect>,
    max: usize,
    wait: Duration,
    state: Mutex<State>,
    freed: Condvar,
}

#[derive(Default)]
struct State {
    idle: Vec<Client>,
    /// Connections that exist: idle, checked out, or being opened.
    open: usize,
}

/// A checked-out connection, returned to the pool (or dropped if it is closed) by `Drop`.
pub(crate) struct Conn {
    inner: Arc<Inner>,
    client: Option<Client>,
    reused: bool,
}

impl Pool {
    /// A pool of at most `max` connections (at least 1), each opened by `connect`; a
    /// checkout waits at most `wait` for a busy one. Connects nothing now.
    pub(crate) fn new(connect: Box<Connect>, max: usize, wait: Duration) -> Pool {
        Pool {
            inner: Arc::new(Inner {
                connect,
                max: max.max(1),
                wait,
                state: Mutex::new(State::default()),
                freed: Condvar::new(),
            }),
        }
    }

    /// An idle connection, else a new one if fewer than `max` exist, else the first one
    /// returned within `wait`.
    pub(crate) fn get(&self) -> Result<Conn> {
        let deadline = Instant::now() + self.inner.wait;
        let mut state = self.inner.lock();
        loop {
            if let Some(client) = state.idle.pop() {
                return Ok(self.conn(client, true));
            }
            if state.open < self.inner.max {
                state.open += 1;
                drop(state);
                return match (self.inner.connect)() {
                    Ok(client) => Ok(self.conn(client, false)),
                    Err(error) => {
                        self.inner.release_slot();
                        Err(error)
                    }
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Unavailable(format!(
                    "all {} PostgreSQL connections stayed busy for {:?}",
                    self.inner.max, self.inner.wait
                )));
            }
            state = match self.inner.freed.wait_timeout(state, left) {
                Ok((state, _)) => state,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    fn conn(&self, client: Client, reused: bool) -> Conn {
        Conn {
            inner: self.inner.clone(),
            client: Some(client),
            reused,
        }
    }
}

impl Inner {
    /// The state; a panic elsewhere while it was held leaves counts that are still right.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn release_slot(&self) {
        let mut state = self.lock();
        state.open = state.open.saturating_sub(1);
        drop(state);
        self.freed.notify_one();
    }
}

impl Conn {
    /// The connection.
    pub(crate) fn client(&mut self) -> Option<&mut Client> {
        self.client.as_mut()
    }

    /// Whether it came from the idle list (so it may have died unseen since).
    pub(crate) fn reused(&self) -> bool {
        self.reused
    }

    /// Whether the connection is gone (a query failed on a closed socket).
    pub(crate) fn is_closed(&self) -> bool {
        self.client.as_ref().is_none_or(Client::is_closed)
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let closed = self.is_closed();
        let mut state = self.inner.lock();
        let dead = match self.client.take() {
            Some(client) if !closed => {
                state.idle.push(client);
                Vec::new()
            }
            client => {
                // The database went away or restarted: the idle ones are dead too.
                let mut dead = std::mem::take(&mut state.idle);
                state.open = state.open.saturating_sub(1 + dead.len());
                dead.extend(client);
                dead
            }
        };
        drop(state);
        self.inner.freed.notify_all();
        // Closed outside the lock: closing a connection talks to the socket.
        drop(dead);
    }
}
