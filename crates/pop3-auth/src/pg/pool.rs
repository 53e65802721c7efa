//! A small bounded pool of PostgreSQL connections, a `Mutex` and a `Condvar`.
//!
//! **A dead database fails fast**: a checkout with no idle connection connects at once, so
//! the error of that connect (refused, no socket) is the answer, and a database that takes
//! the connection but does not answer is given up on after `wait`; a checkout waits for a
//! busy connection at most `wait` too, then fails.
//! **A connection found closed is dropped together with every idle one** (after a restart
//! of the database they are all dead), so the pool recovers by itself when the database
//! returns: the next checkout connects afresh.
//! **A short circuit breaker**: a connect that fails or is given up on, or a checkout that
//! found every connection busy for `wait`, opens it for [`BREAKER`]; meanwhile every checkout
//! fails at once, so a dead (or frozen) database costs later logins nothing. The first
//! checkout after it closes tries again, so recovery takes at most [`BREAKER`].
//!
//! **What bounds the threads a frozen database holds**: a query on a connection whose server
//! stopped answering (a stopped backend; a host gone, until TCP's `tcp_user_timeout` or
//! keepalives notice) blocks its thread until the server answers again. Such a thread holds a
//! connection, so at most `max` of them exist; a connect given up on holds a slot too (the
//! same `max`); every other checkout waits at most `wait`, or not at all while the breaker is
//! open.
//!
//! Why not `r2d2`: it opens connections on threads of its own and answers a caller only when
//! its `connection_timeout` runs out, so a dead database costs every login that timeout;
//! and `r2d2_postgres` has had no release for years. This is the part we need, in a page.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use postgres::Client;

use crate::error::{Error, Result};

/// How long checkouts fail at once after a failure to reach the database.
pub(crate) const BREAKER: Duration = Duration::from_secs(1);

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
    /// Until when checkouts fail at once (the breaker is open).
    broken_until: Option<Instant>,
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
        let now = Instant::now();
        let deadline = now + self.inner.wait;
        let mut state = self.inner.lock();
        if let Some(until) = state.broken_until {
            if now < until {
                return Err(Error::Unavailable(format!(
                    "PostgreSQL failed in the last {BREAKER:?}; not trying again yet"
                )));
            }
            state.broken_until = None;
        }
        loop {
            if let Some(client) = state.idle.pop() {
                return Ok(self.conn(client, true));
            }
            if state.open < self.inner.max {
                state.open += 1;
                drop(state);
                return self.connect();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                state.broken_until = Some(Instant::now() + BREAKER);
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

    /// Opens a connection in a thread of its own, waiting at most `wait` for it: the
    /// client's `connect_timeout` covers only the socket's connect, and **a database that
    /// accepts the connection but never answers (a stopped postmaster) must not hang a
    /// login**. A connect given up on keeps its slot until its thread ends, so at most `max`
    /// such threads exist.
    fn connect(&self) -> Result<Conn> {
        let (sender, receiver) = mpsc::sync_channel(1);
        let inner = self.inner.clone();
        let spawned = std::thread::Builder::new()
            .name("pop3d-pg-connect".to_owned())
            .spawn(move || {
                let opened = (inner.connect)().map(|client| Slot {
                    client: Some(client),
                    inner: inner.clone(),
                });
                if opened.is_err() {
                    inner.release_slot();
                }
                // Unsent (the caller gave up), a client is dropped with its slot.
                let _ = sender.send(opened);
            });
        if let Err(error) = spawned {
            self.inner.release_slot();
            return Err(Error::Unavailable(format!(
                "cannot start a PostgreSQL connect: {error}"
            )));
        }
        let opened = match receiver.recv_timeout(self.inner.wait) {
            Ok(Ok(mut slot)) => match slot.client.take() {
                Some(client) => Ok(self.conn(client, false)),
                None => Err(Error::Unavailable("PostgreSQL connect lost".to_owned())),
            },
            Ok(Err(error)) => Err(error),
            Err(_) => Err(Error::Unavailable(format!(
                "PostgreSQL did not answer within {:?}",
                self.inner.wait
            ))),
        };
        if let Err(error) = &opened
            && breaks(error)
        {
            self.inner.lock().broken_until = Some(Instant::now() + BREAKER);
        }
        opened
    }

    fn conn(&self, client: Client, reused: bool) -> Conn {
        Conn {
            inner: self.inner.clone(),
            client: Some(client),
            reused,
        }
    }
}

/// Whether a failed connect means the database is unreachable (so the breaker opens), rather
/// than a refusal it answered (a wrong password, no schema), which the next try repeats
/// quickly anyway.
fn breaks(error: &Error) -> bool {
    match error {
        Error::Postgres(e) => e.as_db_error().is_none(),
        Error::Unavailable(_) => true,
        _ => false,
    }
}

/// A new connection and its slot in the pool: dropped unused (its caller gave up waiting),
/// it closes the connection and frees the slot.
struct Slot {
    client: Option<Client>,
    inner: Arc<Inner>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.client.take().is_some() {
            self.inner.release_slot();
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
