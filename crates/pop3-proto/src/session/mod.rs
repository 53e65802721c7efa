//! The session state machine: one per connection, fed bytes and driver answers, producing
//! output bytes and [`Event`]s.
//!
//! # Call order (the driver's loop)
//!
//! 1. [`Session::new`] writes the greeting into the output.
//! 2. Send [`Session::poll_transmit`] to the peer, then [`Session::advance_transmit`] by what
//!    was written. Output is generated in pieces of about `output_high_water` octets: advancing
//!    may produce more (a long LIST, pipelined commands), so loop until it is empty.
//! 3. Take [`Session::poll_event`]:
//!    - [`Event::Request`]: do the work (authenticate, open the maildrop, open a message,
//!      commit) and answer with the matching `handle_*` call. Nothing else is executed until
//!      then, so replies always come out in order;
//!    - [`Event::StartTls`]: flush the output, run the handshake, call
//!      [`Session::handle_tls_established`];
//!    - [`Event::Close`]: flush the output and close.
//! 4. While [`Session::wants_input`], read from the peer and call [`Session::handle_input`].
//!    At end of input, or on a timeout, just drop the session: nothing is ever deleted unless a
//!    [`Request::Commit`] was completed.
//!
//! For RETR and TOP, after a successful [`Session::handle_retrieve_opened`] the driver feeds
//! the raw message in chunks with [`Session::handle_body`] (draining the output between
//! chunks, which bounds memory) and ends with [`Session::handle_body_end`], or
//! [`Session::handle_body_failed`] if reading failed midway.
//!
//! # What the driver owns
//! Sockets, TLS, time (timeouts, login delays, throttling), randomness (the APOP timestamp),
//! the user database and the maildrop. The session owns the protocol: parsing, state,
//! replies, limits, and the order of everything.
//!
//! # States
//! AUTHORIZATION ([`authorization::Authorization`]), TRANSACTION
//! ([`transaction::Transaction`]) and UPDATE are separate types; a transition consumes the old
//! state.

mod authorization;
mod capa;
mod driver_types;
mod transaction;

use std::collections::VecDeque;
use std::sync::Arc;

pub use driver_types::{
    Abort, AuthOutcome, CommitOutcome, Credentials, Event, Listing, OpenError, Request,
    RetrieveError, Secret, SharedListing,
};

use crate::body::Progress;
use crate::config::{Config, Connection};
use crate::line::{InvalidLine, Line, LineReader};
use crate::reply::{self, ResponseCode};
use authorization::Authorization;
use transaction::Transaction;

/// Output buffers larger than this are given back to the allocator once drained, so an idle
/// session holds no large buffer.
const RETAINED_BUFFER: usize = 8 * 1024;

/// A POP3 session. See the module documentation for the call order.
pub struct Session {
    config: Arc<Config>,
    conn: Connection,
    phase: Phase,
    reader: LineReader,
    out: Vec<u8>,
    /// How much of `out` the driver has sent.
    sent: usize,
    event: Option<Event>,
    /// Consecutive invalid commands (parse errors, unknown or wrong-state commands, bad lines).
    bad_commands: u32,
    /// Failed authentications on this connection.
    failed_auths: u32,
    /// The command being handled, for [`CommandRecord`]s.
    current: &'static str,
    /// Answered commands the driver has not polled yet (bounded).
    records: VecDeque<CommandRecord>,
}

/// A command the session has answered, for the driver's metrics and logs. `command` is one of
/// the 16 keywords, `UNKNOWN` (not a POP3 command) or `INVALID` (a malformed line), so the set
/// of values is bounded whatever clients send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandRecord {
    /// The keyword.
    pub command: &'static str,
    /// Whether the final status line was `+OK`.
    pub ok: bool,
}

/// How many unpolled records are kept; older ones are dropped.
const MAX_RECORDS: usize = 256;

/// The RFC 1939 states.
enum Phase {
    Authorization(Authorization),
    Transaction(Transaction),
    /// QUIT was given in TRANSACTION; the commit is with the driver.
    Update {
        /// Messages left after the commit, for the QUIT reply.
        remaining: usize,
    },
    /// The session has asked to be closed; nothing more happens.
    Closed,
}

/// The protocol state, for the driver's logs, metrics and admin views.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Before login.
    Authorization,
    /// Logged in, maildrop open.
    Transaction,
    /// Committing deletions.
    Update,
    /// Finished.
    Closed,
}

impl Session {
    /// Starts a session and writes the greeting (with the APOP timestamp when APOP is enabled
    /// and the driver supplied one).
    pub fn new(config: Arc<Config>, conn: Connection) -> Session {
        let mut session = Session {
            config,
            conn,
            phase: Phase::Authorization(Authorization::default()),
            reader: LineReader::default(),
            out: Vec::new(),
            sent: 0,
            event: None,
            bad_commands: 0,
            failed_auths: 0,
            current: "INVALID",
            records: VecDeque::new(),
        };
        let greeting = match (&session.conn.apop_timestamp, session.config.apop) {
            (Some(timestamp), true) => format!("{} {timestamp}", session.config.greeting),
            _ => session.config.greeting.clone(),
        };
        reply::ok(&mut session.out, &greeting);
        session
    }

    /// The current protocol state.
    pub fn state(&self) -> State {
        match self.phase {
            Phase::Authorization(_) => State::Authorization,
            Phase::Transaction(_) => State::Transaction,
            Phase::Update { .. } => State::Update,
            Phase::Closed => State::Closed,
        }
    }

    /// Whether the connection is TLS now.
    pub fn is_secure(&self) -> bool {
        self.conn.secure
    }

    /// Feeds bytes read from the client. Complete lines are executed at once, up to the first
    /// one that needs the driver.
    pub fn handle_input(&mut self, bytes: &[u8]) {
        if matches!(self.phase, Phase::Closed) || self.awaiting_tls() {
            // Plaintext that arrives between STLS and the handshake is never used.
            return;
        }
        self.reader.push(bytes);
        self.process();
    }

    /// Whether the driver should read more input now. False while a request is out, while
    /// output waits to be sent, and after the session asked to close; that is what bounds the
    /// memory a client can make the session hold.
    pub fn wants_input(&self) -> bool {
        !self.is_blocked() && self.pending_output() < self.config.limits.output_high_water
    }

    /// The output waiting to be sent (may be empty).
    pub fn poll_transmit(&self) -> &[u8] {
        &self.out[self.sent..]
    }

    /// Marks `n` octets of [`Session::poll_transmit`] as sent, and continues any work that was
    /// waiting for the output to drain.
    pub fn advance_transmit(&mut self, n: usize) {
        self.sent = (self.sent + n).min(self.out.len());
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
            if self.out.capacity() > RETAINED_BUFFER {
                self.out.shrink_to(RETAINED_BUFFER);
            }
        }
        self.process();
    }

    /// The next answered command, oldest first. Drain it after each call that feeds the
    /// session; at most 256 are kept.
    pub fn poll_command_record(&mut self) -> Option<CommandRecord> {
        self.records.pop_front()
    }

    /// The keyword of the command being executed now (waiting for the driver), if any.
    pub fn current_command(&self) -> Option<&'static str> {
        self.is_blocked().then_some(self.current)
    }

    /// The next event for the driver, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.event.take()
    }

    /// Answers [`Request::Authenticate`].
    pub fn handle_auth_result(&mut self, outcome: AuthOutcome) {
        self.on_auth_result(outcome);
        self.process();
    }

    /// Answers [`Request::OpenMaildrop`]. On success the session enters TRANSACTION.
    pub fn handle_maildrop_opened(&mut self, result: Result<SharedListing, OpenError>) {
        self.on_maildrop_opened(result);
        self.process();
    }

    /// Call after the TLS handshake that [`Event::StartTls`] asked for succeeded.
    ///
    /// Every byte buffered before the handshake is dropped here: plaintext pipelined behind
    /// STLS is never executed (RFC 2595 §4, CVE-2011-0411).
    pub fn handle_tls_established(&mut self) {
        self.conn.secure = true;
        self.reader.discard_all();
        if let Phase::Authorization(auth) = &mut self.phase {
            auth.tls_established();
        }
        self.process();
    }

    /// Answers [`Request::Retrieve`]: `Ok` sends the `+OK` line and starts the body.
    pub fn handle_retrieve_opened(&mut self, result: Result<(), RetrieveError>) {
        self.on_retrieve_opened(result);
        self.process();
    }

    /// Feeds the next chunk of the raw message. Returns [`Progress::Complete`] when no more is
    /// needed (TOP reached its count, or the message turned out longer than listed and the
    /// session is closing); then call [`Session::handle_body_end`] (or stop, if closing).
    pub fn handle_body(&mut self, chunk: &[u8]) -> Progress {
        self.on_body(chunk)
    }

    /// The message ended (or TOP completed): writes the terminator and continues.
    pub fn handle_body_end(&mut self) {
        self.on_body_end();
        self.process();
    }

    /// Reading the message failed after its `+OK` went out. There is no way to signal that
    /// within the reply, so the session closes without a terminator, and the client sees a
    /// broken transfer rather than a wrong message.
    pub fn handle_body_failed(&mut self) {
        self.record(false);
        self.close();
    }

    /// Answers [`Request::Commit`] and closes.
    pub fn handle_commit_result(&mut self, outcome: CommitOutcome) {
        if let Phase::Update { remaining } = self.phase {
            self.record(outcome == CommitOutcome::Removed);
            match outcome {
                CommitOutcome::Removed => {
                    let left = transaction::messages(remaining);
                    reply::ok(&mut self.out, &format!("signing off ({left} left)"));
                }
                CommitOutcome::Partial { .. } => reply::err(
                    &mut self.out,
                    Some(ResponseCode::SysTemp),
                    "some deleted messages not removed",
                ),
            }
            self.close();
        }
    }

    /// Ends the session early. In AUTHORIZATION or TRANSACTION it sends a final `-ERR` and
    /// closes without UPDATE, so nothing is deleted. An UPDATE in progress completes first (the
    /// call is ignored). In the middle of a message body the session closes without a reply.
    pub fn handle_abort(&mut self, reason: Abort) {
        match &self.phase {
            Phase::Update { .. } | Phase::Closed => return,
            Phase::Transaction(tx) if tx.is_streaming() => {}
            _ => {
                let text = match reason {
                    Abort::Shutdown => "server shutting down",
                    Abort::Kicked => "disconnected by administrator",
                };
                reply::err(&mut self.out, Some(ResponseCode::SysTemp), text);
            }
        }
        self.close();
    }

    /// Executes buffered lines and continues listings until the session must wait.
    fn process(&mut self) {
        let mut reader = std::mem::take(&mut self.reader);
        while !self.is_blocked() && self.pending_output() < self.config.limits.output_high_water {
            if let Phase::Transaction(tx) = &mut self.phase
                && tx.is_listing()
            {
                tx.continue_listing(&mut self.out, self.config.limits.output_high_water);
                continue;
            }
            match reader.next_line(self.config.limits.max_line_octets) {
                None => break,
                Some(Line::Complete(line)) => self.handle_line(line),
                Some(Line::Invalid(InvalidLine::Nul)) => {
                    self.current = "INVALID";
                    self.bad_command("NUL byte in command line");
                }
                Some(Line::Invalid(InvalidLine::BareCr)) => {
                    self.current = "INVALID";
                    self.bad_command("bare CR in command line");
                }
                Some(Line::TooLong) => {
                    self.current = "INVALID";
                    self.bad_command("line too long");
                }
            }
        }
        self.reader = reader;
    }

    /// Whether the session is waiting for the driver (or closed) and must not execute input.
    fn is_blocked(&self) -> bool {
        self.event.is_some()
            || match &self.phase {
                Phase::Authorization(auth) => auth.is_waiting(),
                Phase::Transaction(tx) => tx.is_waiting(),
                Phase::Update { .. } | Phase::Closed => true,
            }
    }

    fn awaiting_tls(&self) -> bool {
        matches!(&self.phase, Phase::Authorization(auth) if auth.awaiting_tls())
    }

    fn pending_output(&self) -> usize {
        self.out.len() - self.sent
    }

    fn handle_line(&mut self, line: &[u8]) {
        match &self.phase {
            Phase::Authorization(_) => self.authorization_line(line),
            Phase::Transaction(_) => self.transaction_line(line),
            Phase::Update { .. } | Phase::Closed => {}
        }
    }

    /// A command that succeeded resets the count of consecutive invalid ones.
    fn command_ok(&mut self) {
        self.bad_commands = 0;
        self.record(true);
    }

    /// Records the current command's outcome.
    fn record(&mut self, ok: bool) {
        if self.records.len() == MAX_RECORDS {
            self.records.pop_front();
        }
        self.records.push_back(CommandRecord {
            command: self.current,
            ok,
        });
    }

    /// Answers the current command with `-ERR` and records the failure.
    fn record_err(&mut self, code: Option<ResponseCode>, text: &str) {
        self.record(false);
        reply::err(&mut self.out, code, text);
    }

    /// Notes which command a parsed line is (or why none), for its record.
    fn set_current(
        &mut self,
        parsed: &Result<crate::command::Command, crate::command::ParseError>,
    ) {
        self.current = match parsed {
            Ok(command) => command.keyword(),
            Err(
                crate::command::ParseError::MissingArgument(k)
                | crate::command::ParseError::TooManyArguments(k),
            ) => k,
            Err(
                crate::command::ParseError::UnknownCommand(_) | crate::command::ParseError::Empty,
            ) => "UNKNOWN",
            Err(_) => "INVALID",
        };
    }

    /// Answers an invalid command; the one that reaches the limit is answered and closes.
    fn bad_command(&mut self, text: &str) {
        self.record(false);
        self.bad_commands += 1;
        let limit = match self.phase {
            Phase::Authorization(_) => self.config.limits.bad_commands_before_login,
            _ => self.config.limits.bad_commands_after_login,
        };
        if self.bad_commands >= limit {
            reply::err(
                &mut self.out,
                None,
                &format!("{text}; too many invalid commands, closing connection"),
            );
            self.close();
        } else {
            reply::err(&mut self.out, None, text);
        }
    }

    fn wrong_state(&mut self, keyword: &str) {
        let state = match self.phase {
            Phase::Authorization(_) => "before login",
            _ => "after login",
        };
        self.bad_command(&format!("{keyword} not allowed {state}"));
    }

    fn close(&mut self) {
        self.phase = Phase::Closed;
        self.event = Some(Event::Close);
    }
}
