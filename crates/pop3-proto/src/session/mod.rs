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
//! ([`transaction::Transaction`]) and UPDATE ([`update::Update`]) are separate types, each
//! handling its own commands and driver answers. A handler takes the state by value with
//! [`common::Common`], the part every state shares, and returns the next state, so a
//! transition consumes the old one. The [`Session`] holds the two side by side, parses each
//! line once and hands it to the current state.

mod authorization;
mod bitset;
mod capa;
mod common;
mod driver_types;
mod transaction;
mod update;

use std::sync::Arc;

pub use common::CommandRecord;
pub use driver_types::{
    Abort, AuthOutcome, ChallengeAnswer, CommitOutcome, Credentials, Event, Listing, OpenError,
    Request, RetrieveError, Secret, SharedListing,
};

use crate::body::Progress;
use crate::command::Command;
use crate::config::{Config, Connection, UserTerms};
use crate::line::{InvalidLine, Line, LineReader};
use crate::reply::{self, ResponseCode};
use authorization::Authorization;
use common::Common;
use transaction::Transaction;
use update::Update;

/// Output buffers larger than this are given back to the allocator once drained, so an idle
/// session holds no large buffer.
const RETAINED_BUFFER: usize = 8 * 1024;

/// A POP3 session. See the module documentation for the call order.
pub struct Session {
    /// What every state shares; the state handlers borrow it as their context.
    common: Common,
    /// The current RFC 1939 state, which handles the commands.
    phase: Phase,
    /// Client bytes not yet executed. Beside, not in, `common`: a line borrows it while the
    /// state handles the line.
    reader: LineReader,
}

/// The RFC 1939 states.
enum Phase {
    Authorization(Authorization),
    Transaction(Transaction),
    /// QUIT was given in TRANSACTION; the commit is with the driver.
    Update(Update),
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
        let mut common = Common::new(config, conn);
        let greeting = match (&common.conn.apop_timestamp, common.config.apop) {
            (Some(timestamp), true) => format!("{} {timestamp}", common.config.greeting),
            _ => common.config.greeting.clone(),
        };
        reply::ok(&mut common.out, &greeting);
        Session {
            common,
            phase: Phase::Authorization(Authorization::default()),
            reader: LineReader::default(),
        }
    }

    /// The current protocol state.
    pub fn state(&self) -> State {
        match self.phase {
            Phase::Authorization(_) => State::Authorization,
            Phase::Transaction(_) => State::Transaction,
            Phase::Update(_) => State::Update,
            Phase::Closed => State::Closed,
        }
    }

    /// Whether the connection is TLS now.
    pub fn is_secure(&self) -> bool {
        self.common.conn.secure
    }

    /// How many messages are marked deleted: in TRANSACTION those DELE marked and no RSET
    /// unmarked since, in UPDATE those being committed, otherwise none. For the driver's
    /// registry and metrics.
    pub fn marked_count(&self) -> usize {
        match &self.phase {
            Phase::Transaction(tx) => tx.marked_count(),
            Phase::Update(update) => update.marked_count(),
            Phase::Authorization(_) | Phase::Closed => 0,
        }
    }

    /// The messages that RETR commands among the next `lines` complete lines buffered behind
    /// the current command name, in order, as indices into the listing. A hint for a driver
    /// that reads ahead (RFC 2449 PIPELINING), never an answer: a DELE, a TOP or a failed
    /// command may come between, so the driver must still serve exactly the requests it
    /// gets. Nothing is parsed for execution or consumed; empty outside TRANSACTION.
    pub fn upcoming_retrievals(&self, lines: usize) -> Vec<usize> {
        match &self.phase {
            Phase::Transaction(tx) => self
                .reader
                .buffered_lines()
                .take(lines)
                .filter_map(|line| tx.retrieval_in(line))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Feeds bytes read from the client. Complete lines are executed at once, up to the first
    /// one that needs the driver.
    pub fn handle_input(&mut self, bytes: &[u8]) {
        if matches!(self.phase, Phase::Closed) || self.phase.awaiting_tls() {
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
        !self.is_blocked()
            && self.common.pending_output() < self.common.config.limits.output_high_water
    }

    /// The output waiting to be sent (may be empty).
    pub fn poll_transmit(&self) -> &[u8] {
        &self.common.out[self.common.sent..]
    }

    /// Marks `n` octets of [`Session::poll_transmit`] as sent, and continues any work that was
    /// waiting for the output to drain.
    pub fn advance_transmit(&mut self, n: usize) {
        let out = &mut self.common;
        out.sent = (out.sent + n).min(out.out.len());
        if out.sent == out.out.len() {
            out.out.clear();
            out.sent = 0;
            if out.out.capacity() > RETAINED_BUFFER {
                out.out.shrink_to(RETAINED_BUFFER);
            }
        }
        self.process();
    }

    /// The next answered command, oldest first. Drain it after each call that feeds the
    /// session; at most 256 are kept.
    pub fn poll_command_record(&mut self) -> Option<CommandRecord> {
        self.common.poll_record()
    }

    /// The keyword of the command being executed now (waiting for the driver), if any.
    pub fn current_command(&self) -> Option<&'static str> {
        self.is_blocked().then_some(self.common.current())
    }

    /// The next event for the driver, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.common.event.take()
    }

    /// The EXPIRE in effect (RFC 2449 §6.7): the logged-in user's
    /// ([`Session::handle_user_terms`]), else the site's.
    pub fn expire(&self) -> Option<crate::Expire> {
        self.common.expire()
    }

    /// Answers [`Request::SaslChallenge`].
    pub fn handle_sasl_challenge(&mut self, answer: ChallengeAnswer) {
        self.step(|phase, cx| match phase {
            Phase::Authorization(auth) => auth.on_sasl_challenge(cx, answer),
            other => other,
        });
        self.process();
    }

    /// The values that apply to the user being accepted (their own LOGIN-DELAY and EXPIRE,
    /// or the site's): call before [`Session::handle_auth_result`] with
    /// [`AuthOutcome::Accepted`]. Without it the site's values apply.
    pub fn handle_user_terms(&mut self, terms: UserTerms) {
        self.common.terms = Some(terms);
    }

    /// Answers [`Request::Authenticate`].
    pub fn handle_auth_result(&mut self, outcome: AuthOutcome) {
        self.step(|phase, cx| match phase {
            Phase::Authorization(auth) => auth.on_auth_result(cx, outcome),
            other => other,
        });
        self.process();
    }

    /// Answers [`Request::OpenMaildrop`]. On success the session enters TRANSACTION.
    pub fn handle_maildrop_opened(&mut self, result: Result<SharedListing, OpenError>) {
        self.step(|phase, cx| match phase {
            Phase::Authorization(auth) => auth.on_maildrop_opened(cx, result),
            other => other,
        });
        self.process();
    }

    /// Call after the TLS handshake that [`Event::StartTls`] asked for succeeded.
    ///
    /// Every byte buffered before the handshake is dropped here: plaintext pipelined behind
    /// STLS is never executed (RFC 2595 §4, CVE-2011-0411).
    pub fn handle_tls_established(&mut self) {
        self.common.conn.secure = true;
        self.reader.discard_all();
        if let Phase::Authorization(auth) = &mut self.phase {
            auth.tls_established();
        }
        self.process();
    }

    /// Answers [`Request::Retrieve`]: `Ok` sends the `+OK` line and starts the body.
    pub fn handle_retrieve_opened(&mut self, result: Result<(), RetrieveError>) {
        if let Phase::Transaction(tx) = &mut self.phase {
            tx.on_retrieve_opened(&mut self.common, result);
        }
        self.process();
    }

    /// Feeds the next chunk of the raw message. Returns [`Progress::Complete`] when no more is
    /// needed (TOP reached its count, or the message turned out longer than listed and the
    /// session is closing); then call [`Session::handle_body_end`] (or stop, if closing).
    pub fn handle_body(&mut self, chunk: &[u8]) -> Progress {
        let mut progress = Progress::Complete;
        self.step(|phase, cx| match phase {
            Phase::Transaction(tx) => {
                let (next, made) = tx.on_body(cx, chunk);
                progress = made;
                next
            }
            other => other,
        });
        progress
    }

    /// The message ended (or TOP completed): writes the terminator and continues.
    pub fn handle_body_end(&mut self) {
        self.step(|phase, cx| match phase {
            Phase::Transaction(tx) => tx.on_body_end(cx),
            other => other,
        });
        self.process();
    }

    /// Reading the message failed after its `+OK` went out. There is no way to signal that
    /// within the reply, so the session closes without a terminator, and the client sees a
    /// broken transfer rather than a wrong message.
    pub fn handle_body_failed(&mut self) {
        self.common.record(false);
        self.phase = self.common.close();
    }

    /// Answers [`Request::Commit`] and closes.
    pub fn handle_commit_result(&mut self, outcome: CommitOutcome) {
        self.step(|phase, cx| match phase {
            Phase::Update(update) => update.on_commit_result(cx, outcome),
            other => other,
        });
    }

    /// Ends the session early. In AUTHORIZATION or TRANSACTION it sends a final `-ERR` and
    /// closes without UPDATE, so nothing is deleted. An UPDATE in progress completes first (the
    /// call is ignored). In the middle of a message body the session closes without a reply.
    pub fn handle_abort(&mut self, reason: Abort) {
        match &self.phase {
            Phase::Update(_) | Phase::Closed => return,
            Phase::Transaction(tx) if tx.is_streaming() => {}
            Phase::Authorization(_) | Phase::Transaction(_) => {
                let text = match reason {
                    Abort::Shutdown => "server shutting down",
                    Abort::Kicked => "disconnected by administrator",
                };
                reply::err(&mut self.common.out, Some(ResponseCode::SysTemp), text);
            }
        }
        self.phase = self.common.close();
    }

    /// Executes buffered lines and continues listings until the session must wait.
    fn process(&mut self) {
        let high_water = self.common.config.limits.output_high_water;
        while !self.is_blocked() && self.common.pending_output() < high_water {
            if let Phase::Transaction(tx) = &mut self.phase
                && tx.is_listing()
            {
                tx.continue_listing(&mut self.common.out, high_water);
                continue;
            }
            let invalid = match self
                .reader
                .next_line(self.common.config.limits.max_line_octets)
            {
                None => break,
                Some(Line::Complete(line)) => {
                    let phase = self.phase.take();
                    self.phase = phase.on_line(&mut self.common, line);
                    continue;
                }
                Some(Line::Invalid(InvalidLine::Nul)) => "NUL byte in command line",
                Some(Line::Invalid(InvalidLine::BareCr)) => "bare CR in command line",
                Some(Line::TooLong) => "line too long",
            };
            self.common.set_invalid();
            self.step(|phase, cx| phase.on_invalid(cx, invalid));
        }
    }

    /// Hands the current state and the shared part to `f`, which returns the next state.
    fn step(&mut self, f: impl FnOnce(Phase, &mut Common) -> Phase) {
        let phase = self.phase.take();
        self.phase = f(phase, &mut self.common);
    }

    /// Whether the session is waiting for the driver (or closed) and must not execute input.
    fn is_blocked(&self) -> bool {
        self.common.event.is_some() || self.phase.is_waiting()
    }
}

impl Phase {
    /// Moves the state out, leaving `Closed` until the handler returns the next one.
    fn take(&mut self) -> Phase {
        std::mem::replace(self, Phase::Closed)
    }

    fn is_waiting(&self) -> bool {
        match self {
            Phase::Authorization(auth) => auth.is_waiting(),
            Phase::Transaction(tx) => tx.is_waiting(),
            Phase::Update(_) | Phase::Closed => true,
        }
    }

    fn awaiting_tls(&self) -> bool {
        matches!(self, Phase::Authorization(auth) if auth.awaiting_tls())
    }

    /// One complete client line: a SASL response while an exchange runs, else a command,
    /// parsed here and only here and handed to the state. Lines are only executed while the
    /// session is not blocked, so UPDATE and CLOSED never see one.
    fn on_line(self, cx: &mut Common, line: &[u8]) -> Phase {
        let phase = match self {
            Phase::Authorization(mut auth) => match auth.take_exchange() {
                Some(exchange) => return auth.on_sasl_response(cx, exchange, line),
                None => Phase::Authorization(auth),
            },
            other => other,
        };
        let parsed = Command::parse(line);
        cx.set_current(&parsed);
        match (phase, parsed) {
            (phase, Err(error)) => phase.on_invalid(cx, &error.to_string()),
            (Phase::Authorization(auth), Ok(command)) => auth.on_command(cx, command),
            (Phase::Transaction(tx), Ok(command)) => tx.on_command(cx, command),
            (phase @ (Phase::Update(_) | Phase::Closed), Ok(_)) => phase,
        }
    }

    /// A line that is not a command: answered and counted towards the state's limit of
    /// invalid commands.
    fn on_invalid(self, cx: &mut Common, text: &str) -> Phase {
        let limits = &cx.config.limits;
        let limit = match self {
            Phase::Authorization(_) => limits.bad_commands_before_login,
            Phase::Transaction(_) | Phase::Update(_) | Phase::Closed => {
                limits.bad_commands_after_login
            }
        };
        cx.bad_command(text, limit, self)
    }
}
