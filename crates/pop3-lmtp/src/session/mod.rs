//! The LMTP session: commands in, replies and requests out.
//!
//! # The driver's loop
//! 1. [`Session::new`] writes the greeting.
//! 2. While [`Session::wants_input`], read bytes and pass them to [`Session::handle_input`].
//! 3. After each call, send [`Session::take_output`], write [`Session::take_body`] to the
//!    deliveries in progress, and answer [`Session::poll_event`]:
//!    - [`Event::Recipient`]: is this a user? [`Session::handle_recipient`].
//!    - [`Event::MessageBegin`]: make one delivery (a file in `tmp/`) per accepted recipient,
//!      then [`Session::handle_message_begin`].
//!    - [`Event::MessageEnd`]: commit every delivery (fsync, rename, fsync), then
//!      [`Session::handle_delivered`] with one [`Outcome`] per accepted recipient, in order.
//!    - [`Event::MessageAborted`]: discard the deliveries (the session has replied).
//!    - [`Event::Close`]: send what is left and close.
//!
//! While a request is out, the session reads no further command, so replies come in order.

use crate::address::Address;
use crate::command::Command;
use crate::config::Config;
use crate::data::{DotDecoder, Progress};
use crate::reply::reply;

mod dispatch;

use dispatch::{outcome_reply, parse_error_reply};

/// Body octets the session holds for the driver before it stops asking for input.
const BODY_HIGH_WATER: usize = 256 * 1024;

/// What the session asks of the driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// RCPT TO this address: answer with [`Session::handle_recipient`].
    Recipient(Address),
    /// DATA with these recipients accepted ([`Session::recipients`]): prepare the deliveries
    /// and answer with [`Session::handle_message_begin`].
    MessageBegin,
    /// The message is complete: commit and answer with [`Session::handle_delivered`].
    MessageEnd,
    /// The message was refused (too big); discard what was written. No answer.
    MessageAborted,
    /// The session is over; close after sending the output.
    Close,
}

/// The driver's answer about one recipient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A user: `250 2.1.5`.
    Accept,
    /// No such user: `550 5.1.1` (the MTA bounces).
    Unknown,
    /// The user database cannot answer now: `451 4.3.0` (the MTA retries).
    TempFail,
}

/// How a delivery (or the start of the deliveries) went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Durably in the Maildir: `250 2.0.0`.
    Delivered,
    /// The disk is full: `452 4.3.1` (retried).
    DiskFull,
    /// Any other failure: `451 4.3.0` (retried).
    TempFail,
    /// The recipient's mailbox is over quota, refused for good: `552 5.2.2` (RFC 3463 §3.3,
    /// "mailbox full"; the MTA bounces).
    OverQuota,
    /// Over quota, where the site wants the MTA to retry: `452 4.2.2`.
    OverQuotaDeferred,
}

/// One transaction, from MAIL to the end of DATA.
#[derive(Debug, Default)]
struct Transaction {
    /// MAIL's reverse path; `None` for the null path `<>` (bounces).
    sender: Option<Address>,
    /// The recipients accepted so far, in RCPT order.
    recipients: Vec<Address>,
    /// The RCPT waiting for the driver's verdict.
    pending: Option<Address>,
}

#[derive(Debug)]
enum Phase {
    /// Before LHLO.
    Greeted,
    /// After LHLO, outside a transaction.
    Ready,
    /// After MAIL, collecting recipients.
    Mail(Transaction),
    /// DATA accepted, waiting for the driver to prepare the deliveries.
    Preparing(Transaction),
    /// Reading the message.
    Data(Transaction, DotDecoder),
    /// The message is complete; the driver is committing it.
    Committing(Transaction),
    /// Over.
    Closed,
}

/// One LMTP connection.
#[derive(Debug)]
pub struct Session {
    config: Config,
    phase: Phase,
    input: Vec<u8>,
    output: Vec<u8>,
    body: Vec<u8>,
    /// The request or notice waiting for [`Session::poll_event`].
    event: Option<Event>,
    /// A request was polled and its answer has not come yet.
    awaiting: bool,
    /// Dropping an overlong line up to its LF.
    discarding: bool,
    bad_commands: u32,
}

impl Session {
    /// A session that has written its greeting.
    pub fn new(config: Config) -> Session {
        let greeting = format!("220 {} LMTP pop3d ready\r\n", config.hostname);
        Session {
            config,
            phase: Phase::Greeted,
            input: Vec::new(),
            output: greeting.into_bytes(),
            body: Vec::new(),
            event: None,
            awaiting: false,
            discarding: false,
            bad_commands: 0,
        }
    }

    /// Bytes from the client.
    pub fn handle_input(&mut self, bytes: &[u8]) {
        if matches!(self.phase, Phase::Closed) {
            return;
        }
        self.input.extend_from_slice(bytes);
        self.process();
    }

    /// Whether the driver should read more: not while a request is out, nor while body
    /// octets or input wait to be processed.
    pub fn wants_input(&self) -> bool {
        !matches!(self.phase, Phase::Closed)
            && self.event.is_none()
            && !self.awaiting
            && self.body.len() < BODY_HIGH_WATER
            && self.input.len() < self.config.max_line
    }

    /// The replies written so far.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// Message octets decoded so far (LF line ends), to append to every delivery.
    pub fn take_body(&mut self) -> Vec<u8> {
        let body = std::mem::take(&mut self.body);
        // Input held back by the body's high-water mark can be decoded now.
        if matches!(self.phase, Phase::Data(..)) && !self.input.is_empty() {
            self.process();
        }
        body
    }

    /// Whether output, body octets or an event wait for the driver.
    pub fn has_pending(&self) -> bool {
        !self.output.is_empty() || !self.body.is_empty() || self.event.is_some()
    }

    /// The next request or notice.
    ///
    /// **Progress contract**: after the driver has taken the output and the body and polled
    /// until `None`, either [`Session::wants_input`] is true, a request is out, or the
    /// session is closed; so a driver that reads only while `wants_input` never waits on
    /// itself. (A notice, such as [`Event::MessageAborted`], needs no answer: polling it lets
    /// the commands pipelined behind it run.)
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.event.take()?;
        self.awaiting = matches!(
            event,
            Event::Recipient(_) | Event::MessageBegin | Event::MessageEnd
        );
        if !self.awaiting {
            self.process();
        }
        Some(event)
    }

    /// The accepted recipients of the transaction, in RCPT order.
    pub fn recipients(&self) -> &[Address] {
        match &self.phase {
            Phase::Mail(t) | Phase::Preparing(t) | Phase::Data(t, _) | Phase::Committing(t) => {
                &t.recipients
            }
            _ => &[],
        }
    }

    /// The transaction's reverse path (`None` for `<>`, or outside a transaction), for the
    /// `Return-Path` header.
    pub fn sender(&self) -> Option<&Address> {
        match &self.phase {
            Phase::Mail(t) | Phase::Preparing(t) | Phase::Data(t, _) | Phase::Committing(t) => {
                t.sender.as_ref()
            }
            _ => None,
        }
    }

    /// Whether the session is between transactions or before one (where a shutdown may
    /// close it without losing a message in flight).
    pub fn is_idle(&self) -> bool {
        !self.awaiting && matches!(self.phase, Phase::Greeted | Phase::Ready | Phase::Mail(_))
    }

    /// Whether the session is over.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// The answer to [`Event::Recipient`].
    pub fn handle_recipient(&mut self, verdict: Verdict) {
        let Phase::Mail(transaction) = &mut self.phase else {
            return;
        };
        let Some(address) = transaction.pending.take() else {
            return;
        };
        self.awaiting = false;
        match verdict {
            Verdict::Accept => {
                reply(
                    &mut self.output,
                    250,
                    "2.1.5",
                    format_args!("<{address}> OK"),
                );
                transaction.recipients.push(address);
            }
            Verdict::Unknown => reply(
                &mut self.output,
                550,
                "5.1.1",
                format_args!("<{address}>: no such user here"),
            ),
            Verdict::TempFail => reply(
                &mut self.output,
                451,
                "4.3.0",
                format_args!("<{address}>: user database unavailable, try again later"),
            ),
        }
        self.process();
    }

    /// The answer to [`Event::MessageBegin`]: `Ok` to read the message, or why not (the DATA
    /// command then fails with a temporary error and the transaction stays open).
    pub fn handle_message_begin(&mut self, ready: Result<(), Outcome>) {
        if !matches!(self.phase, Phase::Preparing(_)) {
            return;
        }
        self.awaiting = false;
        let Phase::Preparing(transaction) = std::mem::replace(&mut self.phase, Phase::Closed)
        else {
            return;
        };
        match ready {
            Ok(()) => {
                self.output
                    .extend_from_slice(b"354 Start mail input; end with <CRLF>.<CRLF>\r\n");
                let decoder = DotDecoder::new(self.config.max_message_octets);
                self.phase = Phase::Data(transaction, decoder);
            }
            Err(outcome) => {
                outcome_reply(&mut self.output, outcome, None);
                self.phase = Phase::Mail(transaction);
            }
        }
        self.process();
    }

    /// The answer to [`Event::MessageEnd`]: one outcome per accepted recipient, in order; a
    /// recipient without one gets a temporary failure (never a false `250`).
    pub fn handle_delivered(&mut self, outcomes: &[Outcome]) {
        if !matches!(self.phase, Phase::Committing(_)) {
            return;
        }
        self.awaiting = false;
        if let Phase::Committing(transaction) = std::mem::replace(&mut self.phase, Phase::Ready) {
            for (i, address) in transaction.recipients.iter().enumerate() {
                let outcome = outcomes.get(i).copied().unwrap_or(Outcome::TempFail);
                outcome_reply(&mut self.output, outcome, Some(address));
            }
        }
        self.process();
    }

    /// The server is stopping: `421` and close, unless a message is in flight (the driver
    /// waits for [`Session::is_idle`], within its grace period).
    pub fn shutdown(&mut self) {
        self.close_with(421, "4.3.2", "service shutting down");
    }

    /// The client was silent too long: `421` and close.
    pub fn timeout(&mut self) {
        self.close_with(421, "4.4.2", "timeout, closing");
    }

    fn close_with(&mut self, code: u16, status: &str, text: &str) {
        if matches!(self.phase, Phase::Closed) {
            return;
        }
        reply(
            &mut self.output,
            code,
            status,
            format_args!("{} {text}", self.config.hostname),
        );
        self.close();
    }

    fn close(&mut self) {
        self.phase = Phase::Closed;
        self.awaiting = false;
        self.event = Some(Event::Close);
        self.input.clear();
    }

    /// Runs what the input holds until a request is out, the input is used up, or the body
    /// buffer is full.
    fn process(&mut self) {
        while self.event.is_none() && !self.awaiting {
            if matches!(self.phase, Phase::Data(..)) {
                if !self.process_data() {
                    return;
                }
                continue;
            }
            if matches!(self.phase, Phase::Closed) {
                return;
            }
            let Some(line) = self.next_line() else {
                return;
            };
            self.on_line(&line);
        }
    }

    /// Decodes buffered input into the body; false when it needs more input.
    fn process_data(&mut self) -> bool {
        if self.body.len() >= BODY_HIGH_WATER || self.input.is_empty() {
            return false;
        }
        let Phase::Data(_, decoder) = &mut self.phase else {
            return false;
        };
        let room = BODY_HIGH_WATER.saturating_sub(self.body.len()).max(1);
        let take = self.input.len().min(room);
        match decoder.decode(&self.input[..take], &mut self.body) {
            Progress::NeedMore => {
                self.input.drain(..take);
                true
            }
            Progress::Ended { consumed } => {
                self.input.drain(..consumed);
                self.end_of_data();
                true
            }
        }
    }

    fn end_of_data(&mut self) {
        let Phase::Data(transaction, decoder) = std::mem::replace(&mut self.phase, Phase::Ready)
        else {
            return;
        };
        if decoder.over_limit() {
            self.body.clear();
            for address in &transaction.recipients {
                reply(
                    &mut self.output,
                    552,
                    "5.3.4",
                    format_args!("<{address}> message too big"),
                );
            }
            self.event = Some(Event::MessageAborted);
        } else {
            self.phase = Phase::Committing(transaction);
            self.event = Some(Event::MessageEnd);
        }
    }

    /// The next complete command line without its line ending; an overlong one is answered
    /// once and its tail discarded.
    fn next_line(&mut self) -> Option<Vec<u8>> {
        loop {
            let Some(lf) = memchr::memchr(b'\n', &self.input) else {
                if self.input.len() >= self.config.max_line && !self.discarding {
                    self.discarding = true;
                    self.input.clear();
                    self.bad_command(500, "5.5.2", "line too long");
                } else if self.discarding {
                    self.input.clear();
                }
                return None;
            };
            let mut line: Vec<u8> = self.input.drain(..=lf).collect();
            if std::mem::take(&mut self.discarding) {
                continue;
            }
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if line.len() + 2 > self.config.max_line {
                self.bad_command(500, "5.5.2", "line too long");
                if matches!(self.phase, Phase::Closed) {
                    return None;
                }
                continue;
            }
            return Some(line);
        }
    }

    fn on_line(&mut self, line: &[u8]) {
        match Command::parse(line) {
            Ok(command) => self.on_command(command),
            Err(error) => {
                let (code, status, text) = parse_error_reply(error);
                self.bad_command(code, status, text);
            }
        }
    }

    fn bad_command(&mut self, code: u16, status: &str, text: &str) {
        reply(&mut self.output, code, status, text);
        self.bad_commands += 1;
        if self.bad_commands >= self.config.max_bad_commands {
            self.close_with(421, "4.7.0", "too many errors");
        }
    }
}
