//! [`Common`]: what every state shares, borrowed by the state handlers as their context while
//! the session's current state is moved through them.

use std::collections::VecDeque;
use std::sync::Arc;

use super::{Event, Phase};
use crate::command::{Command, ParseError};
use crate::config::{Config, Connection, Expire, UserTerms};
use crate::reply::{self, ResponseCode};
use crate::sasl::Mechanism;

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

/// The part of a session that outlives every state: policy, connection facts, the output, the
/// pending event, the command records and the counters of invalid commands and failed logins.
/// A state handler takes `&mut Common` beside its own `self`, so both are borrowed at once.
pub(super) struct Common {
    pub(super) config: Arc<Config>,
    pub(super) conn: Connection,
    /// The logged-in user's values, once the driver gave them.
    pub(super) terms: Option<UserTerms>,
    pub(super) out: Vec<u8>,
    /// How much of `out` the driver has sent.
    pub(super) sent: usize,
    /// The event for the driver. **While it is set, no line is executed**, which is what keeps
    /// replies in command order.
    pub(super) event: Option<Event>,
    /// Consecutive invalid commands (parse errors, unknown or wrong-state commands, bad lines).
    pub(super) bad_commands: u32,
    /// Failed authentications on this connection; it survives STLS, which resets the rest of
    /// AUTHORIZATION.
    pub(super) failed_auths: u32,
    /// The command being handled, for [`CommandRecord`]s.
    current: &'static str,
    /// Answered commands the driver has not polled yet (bounded).
    records: VecDeque<CommandRecord>,
}

impl Common {
    pub(super) fn new(config: Arc<Config>, conn: Connection) -> Common {
        Common {
            config,
            conn,
            terms: None,
            out: Vec::new(),
            sent: 0,
            event: None,
            bad_commands: 0,
            failed_auths: 0,
            current: "INVALID",
            records: VecDeque::new(),
        }
    }

    /// The EXPIRE in effect: the user's once logged in, else the site's.
    pub(super) fn expire(&self) -> Option<Expire> {
        match &self.terms {
            Some(terms) => terms.expire,
            None => self.config.expire,
        }
    }

    pub(super) fn pending_output(&self) -> usize {
        self.out.len() - self.sent
    }

    /// The keyword of the command being handled.
    pub(super) fn current(&self) -> &'static str {
        self.current
    }

    pub(super) fn poll_record(&mut self) -> Option<CommandRecord> {
        self.records.pop_front()
    }

    /// Notes which command a parsed line is (or why none), for its record.
    pub(super) fn set_current(&mut self, parsed: &Result<Command, ParseError>) {
        self.current = match parsed {
            Ok(command) => command.keyword(),
            Err(ParseError::MissingArgument(k) | ParseError::TooManyArguments(k)) => k,
            Err(ParseError::UnknownCommand(_) | ParseError::Empty) => "UNKNOWN",
            Err(_) => "INVALID",
        };
    }

    /// A line that is no command at all (NUL, bare CR, too long).
    pub(super) fn set_invalid(&mut self) {
        self.current = "INVALID";
    }

    /// A command that succeeded resets the count of consecutive invalid ones.
    pub(super) fn command_ok(&mut self) {
        self.bad_commands = 0;
        self.record(true);
    }

    /// Records the current command's outcome.
    pub(super) fn record(&mut self, ok: bool) {
        if self.records.len() == MAX_RECORDS {
            self.records.pop_front();
        }
        self.records.push_back(CommandRecord {
            command: self.current,
            ok,
        });
    }

    /// Answers the current command with `-ERR` and records the failure.
    pub(super) fn record_err(&mut self, code: Option<ResponseCode>, text: &str) {
        self.record(false);
        reply::err(&mut self.out, code, text);
    }

    /// Answers an invalid command. **The one that reaches `limit` is answered and closes the
    /// session**; otherwise the session stays in `stay`.
    pub(super) fn bad_command(&mut self, text: &str, limit: u32, stay: Phase) -> Phase {
        self.record(false);
        self.bad_commands += 1;
        if self.bad_commands >= limit {
            reply::err(
                &mut self.out,
                None,
                &format!("{text}; too many invalid commands, closing connection"),
            );
            self.close()
        } else {
            reply::err(&mut self.out, None, text);
            stay
        }
    }

    /// Asks the driver to close; the caller's state becomes [`Phase::Closed`], which drops it
    /// (and with a TRANSACTION its share of the maildrop).
    pub(super) fn close(&mut self) -> Phase {
        self.event = Some(Event::Close);
        Phase::Closed
    }

    /// Whether USER/PASS, PLAIN and LOGIN may be used on this connection now.
    pub(super) fn cleartext_allowed(&self) -> bool {
        self.conn.cleartext_allowed(self.config.cleartext)
    }

    /// The mechanisms AUTH accepts now: those that carry a cleartext password only while
    /// cleartext is allowed (SCRAM-SHA-256 always, like APOP).
    pub(super) fn offered_mechanisms(&self) -> Vec<Mechanism> {
        let cleartext = self.cleartext_allowed();
        self.config
            .sasl_mechanisms
            .iter()
            .copied()
            .filter(|m| cleartext || !m.carries_cleartext())
            .collect()
    }
}
