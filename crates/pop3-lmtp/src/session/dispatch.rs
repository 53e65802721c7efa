//! What each command does in each phase, and the reply texts of outcomes and parse errors.

use crate::address::Address;
use crate::command::{Command, ParseError};
use crate::reply::{multiline, reply};

use super::{Event, Outcome, Phase, Session, Transaction};

impl Session {
    pub(super) fn on_command(&mut self, command: Command) {
        let out = &mut self.output;
        match (&mut self.phase, command) {
            (_, Command::Quit) => {
                let host = self.config.hostname.clone();
                reply(out, 221, "2.0.0", format_args!("{host} closing connection"));
                self.close();
                return;
            }
            (_, Command::Noop) => reply(out, 250, "2.0.0", "OK"),
            (_, Command::Vrfy) => reply(out, 252, "2.5.0", "cannot verify, try RCPT"),
            (_, Command::Help) => reply(out, 214, "2.0.0", "see RFC 2033"),
            (_, Command::HeloOrEhlo) => {
                return self.bad_command(500, "5.5.1", "this is LMTP: use LHLO");
            }
            (_, Command::Lhlo(_)) => {
                let lines = [
                    self.config.hostname.clone(),
                    "PIPELINING".to_owned(),
                    "ENHANCEDSTATUSCODES".to_owned(),
                    "8BITMIME".to_owned(),
                    format!("SIZE {}", self.config.max_message_octets),
                ];
                multiline(out, 250, &lines);
                self.phase = Phase::Ready;
            }
            // RSET before LHLO is answered like NOOP (RFC 5321 §4.1.4).
            (Phase::Greeted, Command::Rset) => reply(out, 250, "2.0.0", "OK"),
            (Phase::Greeted, _) => return self.bad_command(503, "5.5.1", "send LHLO first"),
            (phase, Command::Rset) => {
                *phase = Phase::Ready;
                reply(out, 250, "2.0.0", "OK");
            }
            (Phase::Ready, Command::Mail(sender, params)) => {
                if params
                    .size
                    .is_some_and(|s| s > self.config.max_message_octets)
                {
                    reply(out, 552, "5.3.4", "message too big");
                } else {
                    reply(out, 250, "2.1.0", "sender OK");
                    self.phase = Phase::Mail(Transaction {
                        sender,
                        ..Transaction::default()
                    });
                }
            }
            (_, Command::Mail(..)) => {
                return self.bad_command(503, "5.5.1", "nested MAIL command");
            }
            (Phase::Mail(transaction), Command::Rcpt(address)) => {
                if transaction.recipients.len() >= self.config.max_recipients {
                    reply(out, 452, "4.5.3", "too many recipients");
                } else {
                    transaction.pending = Some(address.clone());
                    self.event = Some(Event::Recipient(address));
                }
            }
            (_, Command::Rcpt(_)) => return self.bad_command(503, "5.5.1", "need MAIL first"),
            (Phase::Mail(transaction), Command::Data) if !transaction.recipients.is_empty() => {
                let transaction = std::mem::take(transaction);
                self.phase = Phase::Preparing(transaction);
                self.event = Some(Event::MessageBegin);
            }
            (Phase::Mail(_), Command::Data) => {
                return self.bad_command(503, "5.5.1", "no valid recipients");
            }
            (_, Command::Data) => return self.bad_command(503, "5.5.1", "need MAIL first"),
        }
        self.bad_commands = 0;
    }
}

pub(super) fn outcome_reply(out: &mut Vec<u8>, outcome: Outcome, address: Option<&Address>) {
    let who = address.map(|a| format!("<{a}> ")).unwrap_or_default();
    match outcome {
        Outcome::Delivered => reply(out, 250, "2.0.0", format_args!("{who}delivered")),
        Outcome::DiskFull => reply(
            out,
            452,
            "4.3.1",
            format_args!("{who}insufficient system storage, try again later"),
        ),
        Outcome::TempFail => reply(
            out,
            451,
            "4.3.0",
            format_args!("{who}local error in processing, try again later"),
        ),
        Outcome::OverQuota => reply(out, 552, "5.2.2", format_args!("{who}mailbox full")),
        Outcome::OverQuotaDeferred => reply(
            out,
            452,
            "4.2.2",
            format_args!("{who}mailbox full, try again later"),
        ),
    }
}

pub(super) fn parse_error_reply(error: ParseError) -> (u16, &'static str, &'static str) {
    match error {
        ParseError::Unknown => (500, "5.5.1", "command unrecognized"),
        ParseError::Syntax => (501, "5.5.4", "syntax error in parameters or arguments"),
        ParseError::BadAddress { sender: true } => (501, "5.1.7", "bad sender address syntax"),
        ParseError::BadAddress { sender: false } => (501, "5.1.3", "bad recipient address syntax"),
        ParseError::UnsupportedParameter => (555, "5.5.4", "parameter not supported"),
    }
}
