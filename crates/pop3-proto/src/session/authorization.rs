//! The AUTHORIZATION state (RFC 1939 §4): USER/PASS, APOP, AUTH, STLS, CAPA and QUIT.
//!
//! [`Authorization`] handles its own commands and the driver's answers to its requests; each
//! handler takes the state by value with the session's [`Common`] part and returns the next
//! state, so the move to TRANSACTION consumes it.

use super::common::Common;
use super::transaction::Transaction;
use super::{
    AuthOutcome, ChallengeAnswer, Credentials, Event, OpenError, Phase, Request, Secret,
    SharedListing,
};
use crate::command::Command;
use crate::reply::{self, ResponseCode};
use crate::sasl::{self, Exchange, Mechanism, SaslError, Step};

/// The reply to every failed authentication, whatever the reason, so that it reveals nothing
/// about which users exist (RFC 3206 §5 `[AUTH]`).
const AUTH_FAILED: &str = "Authentication failed";
const CLEARTEXT_REFUSED: &str = "Plaintext authentication disallowed on non-secure connection";

/// AUTHORIZATION: what the client has said so far, and what the session waits for.
#[derive(Debug, Default)]
pub(super) struct Authorization {
    /// The name from USER, until PASS uses it.
    user: Option<String>,
    /// A SASL exchange between two client lines.
    sasl: Option<Exchange>,
    waiting: Option<Waiting>,
}

#[derive(Debug)]
enum Waiting {
    /// [`Request::SaslChallenge`] is with the driver; the exchange resumes with its answer.
    Challenge(Exchange),
    /// [`Request::Authenticate`] is with the driver.
    Verifying,
    /// [`Request::OpenMaildrop`] is with the driver.
    Opening,
    /// STLS was answered; the handshake is with the driver.
    Tls,
}

impl Authorization {
    pub(super) fn is_waiting(&self) -> bool {
        self.waiting.is_some()
    }

    pub(super) fn awaiting_tls(&self) -> bool {
        matches!(self.waiting, Some(Waiting::Tls))
    }

    /// After STLS the client starts over: a USER given in plaintext is forgotten.
    pub(super) fn tls_established(&mut self) {
        *self = Authorization::default();
    }

    /// Takes the running SASL exchange, if any: then the next line is its response, not a
    /// command (RFC 5034 §4).
    pub(super) fn take_exchange(&mut self) -> Option<Exchange> {
        self.sasl.take()
    }

    /// One parsed command.
    pub(super) fn on_command(self, cx: &mut Common, command: Command) -> Phase {
        match command {
            Command::User(name) => self.user(cx, name),
            Command::Pass(password) => self.pass(cx, password),
            Command::Apop { name, digest } => self.apop(cx, name, digest),
            Command::AuthList => self.auth_list(cx),
            Command::Auth {
                mechanism,
                initial_response,
            } => self.auth(cx, mechanism, initial_response),
            Command::Capa => {
                cx.command_ok();
                cx.write_capa(true);
                Phase::Authorization(self)
            }
            Command::Stls => self.stls(cx),
            Command::Quit => {
                cx.record(true);
                reply::ok(&mut cx.out, "signing off");
                cx.close()
            }
            Command::Last if !cx.config.last_command => {
                self.bad_command(cx, "unknown command: LAST")
            }
            other => {
                let text = format!("{} not allowed before login", other.keyword());
                self.bad_command(cx, &text)
            }
        }
    }

    /// A client line answering a challenge of `exchange`.
    pub(super) fn on_sasl_response(
        self,
        cx: &mut Common,
        mut exchange: Exchange,
        line: &[u8],
    ) -> Phase {
        let step = exchange.step(line);
        self.sasl_step(cx, exchange, step)
    }

    /// Answers [`Request::SaslChallenge`]; ignored unless that is what the state waits for.
    pub(super) fn on_sasl_challenge(mut self, cx: &mut Common, answer: ChallengeAnswer) -> Phase {
        if !matches!(self.waiting, Some(Waiting::Challenge(_))) {
            return Phase::Authorization(self);
        }
        let Some(Waiting::Challenge(mut exchange)) = self.waiting.take() else {
            return Phase::Authorization(self);
        };
        match answer {
            ChallengeAnswer::Challenge { user, data } => {
                write_challenge(cx, &data);
                exchange.challenge_sent(user);
                self.sasl = Some(exchange);
                Phase::Authorization(self)
            }
            ChallengeAnswer::Invalid(reason) => self.bad_command(cx, &reason),
            ChallengeAnswer::Unavailable => {
                cx.record_err(
                    Some(ResponseCode::SysTemp),
                    "authentication temporarily unavailable",
                );
                Phase::Authorization(self)
            }
        }
    }

    /// Answers [`Request::Authenticate`]; ignored unless that is what the state waits for.
    pub(super) fn on_auth_result(mut self, cx: &mut Common, outcome: AuthOutcome) -> Phase {
        if !matches!(self.waiting, Some(Waiting::Verifying)) {
            return Phase::Authorization(self);
        }
        self.waiting = None;
        match outcome {
            AuthOutcome::Accepted => {
                self.waiting = Some(Waiting::Opening);
                cx.event = Some(Event::Request(Request::OpenMaildrop));
            }
            AuthOutcome::AcceptedWith(data) => {
                // RFC 5034 §4: additional data with success goes in a challenge, which the
                // client answers with an empty response; the maildrop is opened after it.
                write_challenge(cx, &data);
                self.sasl = Some(Exchange::server_final_sent(Mechanism::ScramSha256));
            }
            AuthOutcome::Invalid(reason) => return self.bad_command(cx, &reason),
            AuthOutcome::Rejected => {
                cx.record(false);
                cx.failed_auths += 1;
                reply::err(&mut cx.out, Some(ResponseCode::Auth), AUTH_FAILED);
                if cx.failed_auths >= cx.config.limits.failed_auths {
                    return cx.close();
                }
            }
            AuthOutcome::LoginDelay => cx.record_err(
                Some(ResponseCode::LoginDelay),
                "login delay in effect, try again later",
            ),
            AuthOutcome::Unavailable => cx.record_err(
                Some(ResponseCode::SysTemp),
                "authentication temporarily unavailable",
            ),
        }
        Phase::Authorization(self)
    }

    /// Answers [`Request::OpenMaildrop`]: on success the state becomes TRANSACTION.
    pub(super) fn on_maildrop_opened(
        mut self,
        cx: &mut Common,
        result: Result<SharedListing, OpenError>,
    ) -> Phase {
        if !matches!(self.waiting, Some(Waiting::Opening)) {
            return Phase::Authorization(self);
        }
        self.waiting = None;
        match result {
            Ok(listing) => self.into_transaction(cx, listing),
            Err(error) => {
                let (code, text) = open_error_reply(error);
                cx.record_err(Some(code), &text);
                Phase::Authorization(self)
            }
        }
    }

    /// Enters TRANSACTION with the opened maildrop. **Only reached through a successful
    /// authentication and a successful open**, in that order.
    fn into_transaction(self, cx: &mut Common, listing: SharedListing) -> Phase {
        let transaction = Transaction::new(listing);
        cx.command_ok();
        reply::ok(&mut cx.out, &transaction.summary("maildrop has"));
        Phase::Transaction(transaction)
    }

    fn bad_command(self, cx: &mut Common, text: &str) -> Phase {
        let limit = cx.config.limits.bad_commands_before_login;
        cx.bad_command(text, limit, Phase::Authorization(self))
    }

    fn user(mut self, cx: &mut Common, name: String) -> Phase {
        if !cx.cleartext_allowed() {
            return self.refuse(cx, CLEARTEXT_REFUSED);
        }
        cx.command_ok();
        self.user = Some(name);
        reply::ok(&mut cx.out, "");
        Phase::Authorization(self)
    }

    fn pass(mut self, cx: &mut Common, password: Vec<u8>) -> Phase {
        if !cx.cleartext_allowed() {
            return self.refuse(cx, CLEARTEXT_REFUSED);
        }
        let Some(user) = self.user.take() else {
            return self.bad_command(cx, "PASS without USER");
        };
        self.request_auth(
            cx,
            Credentials {
                user,
                secret: Secret::Password {
                    password,
                    mechanism: None,
                },
            },
        )
    }

    fn apop(self, cx: &mut Common, user: String, digest: String) -> Phase {
        let timestamp = match (&cx.conn.apop_timestamp, cx.config.apop) {
            (Some(timestamp), true) => timestamp.clone(),
            _ => return self.bad_command(cx, "APOP is not enabled"),
        };
        self.request_auth(
            cx,
            Credentials {
                user,
                secret: Secret::Apop { timestamp, digest },
            },
        )
    }

    /// `AUTH` alone lists the mechanisms usable now (the form RFC 1734 clients use).
    fn auth_list(self, cx: &mut Common) -> Phase {
        cx.command_ok();
        reply::ok(&mut cx.out, "");
        for mechanism in cx.offered_mechanisms() {
            cx.out.extend_from_slice(mechanism.name().as_bytes());
            cx.out.extend_from_slice(b"\r\n");
        }
        cx.out.extend_from_slice(b".\r\n");
        Phase::Authorization(self)
    }

    fn auth(
        mut self,
        cx: &mut Common,
        mechanism: Result<Mechanism, String>,
        initial: Option<Vec<u8>>,
    ) -> Phase {
        let mechanism = match mechanism {
            Ok(m) if cx.config.sasl_mechanisms.contains(&m) => m,
            Ok(m) => {
                let text = format!("unsupported mechanism: {}", m.name());
                return self.bad_command(cx, &text);
            }
            Err(name) => {
                return self.bad_command(cx, &format!("unsupported mechanism: {name}"));
            }
        };
        // PLAIN and LOGIN both carry the password in the clear; SCRAM does not.
        if mechanism.carries_cleartext() && !cx.cleartext_allowed() {
            return self.refuse(cx, CLEARTEXT_REFUSED);
        }
        self.user = None;
        match Exchange::start(mechanism, initial.as_deref()) {
            Ok((exchange, step)) => self.sasl_step(cx, exchange, Ok(step)),
            Err(error) => self.sasl_failed(cx, error),
        }
    }

    fn sasl_step(
        mut self,
        cx: &mut Common,
        exchange: Exchange,
        step: Result<Step, SaslError>,
    ) -> Phase {
        match step {
            Ok(Step::Challenge(challenge)) => {
                cx.out.extend_from_slice(b"+ ");
                cx.out.extend_from_slice(challenge.as_bytes());
                cx.out.extend_from_slice(b"\r\n");
                self.sasl = Some(exchange);
                Phase::Authorization(self)
            }
            Ok(Step::Relay(response)) => {
                let mechanism = exchange.mechanism();
                self.waiting = Some(Waiting::Challenge(exchange));
                cx.event = Some(Event::Request(Request::SaslChallenge {
                    mechanism,
                    response,
                }));
                Phase::Authorization(self)
            }
            Ok(Step::Verify { user, response }) => self.request_auth(
                cx,
                Credentials {
                    user,
                    secret: Secret::Scram {
                        client_final: response,
                    },
                },
            ),
            Ok(Step::Abandoned { user }) => self.request_auth(
                cx,
                Credentials {
                    user,
                    secret: Secret::ScramAbandoned,
                },
            ),
            Ok(Step::Acknowledged) => {
                self.waiting = Some(Waiting::Opening);
                cx.event = Some(Event::Request(Request::OpenMaildrop));
                Phase::Authorization(self)
            }
            Ok(Step::Done(credentials)) => self.request_auth(
                cx,
                Credentials {
                    user: credentials.user,
                    secret: Secret::Password {
                        password: credentials.password,
                        mechanism: Some(exchange.mechanism()),
                    },
                },
            ),
            Err(error) => self.sasl_failed(cx, error),
        }
    }

    fn sasl_failed(self, cx: &mut Common, error: SaslError) -> Phase {
        if error == SaslError::Cancelled {
            // RFC 5034 §4: a cancelled exchange is answered with -ERR but is no protocol error.
            // (A SCRAM exchange cancelled after its server-first-message never comes here: it
            // is a failed authentication, `Step::Abandoned`.)
            cx.bad_commands = 0;
            cx.record_err(None, &error.to_string());
            Phase::Authorization(self)
        } else {
            self.bad_command(cx, &error.to_string())
        }
    }

    fn stls(self, cx: &mut Common) -> Phase {
        if cx.conn.secure {
            return self.bad_command(cx, "already using TLS");
        }
        if !cx.config.starttls {
            return self.bad_command(cx, "STLS not available");
        }
        cx.command_ok();
        reply::ok(&mut cx.out, "Begin TLS negotiation");
        cx.event = Some(Event::StartTls);
        // RFC 2595 §4: everything the client sent after STLS, and any USER before it, came in
        // plaintext and must not be acted on after the handshake. Nothing more is executed
        // until the handshake, and `handle_tls_established` drops the buffered input.
        Phase::Authorization(Authorization {
            waiting: Some(Waiting::Tls),
            ..Authorization::default()
        })
    }

    /// A policy refusal of a cleartext method: `[AUTH]`, counted as an invalid command.
    fn refuse(self, cx: &mut Common, text: &str) -> Phase {
        cx.record(false);
        cx.bad_commands += 1;
        reply::err(&mut cx.out, Some(ResponseCode::Auth), text);
        if cx.bad_commands >= cx.config.limits.bad_commands_before_login {
            cx.close()
        } else {
            Phase::Authorization(self)
        }
    }

    fn request_auth(mut self, cx: &mut Common, credentials: Credentials) -> Phase {
        self.waiting = Some(Waiting::Verifying);
        cx.event = Some(Event::Request(Request::Authenticate(credentials)));
        Phase::Authorization(self)
    }
}

/// A SASL challenge carrying data: `+ <base64>`.
fn write_challenge(cx: &mut Common, data: &[u8]) {
    cx.out.extend_from_slice(b"+ ");
    cx.out.extend_from_slice(sasl::encode(data).as_bytes());
    cx.out.extend_from_slice(b"\r\n");
}

/// The reply to a maildrop that could not be opened.
fn open_error_reply(error: OpenError) -> (ResponseCode, String) {
    match error {
        OpenError::InUse {
            holder: Some(holder),
        } => (
            ResponseCode::InUse,
            format!("maildrop is locked by another session ({holder})"),
        ),
        OpenError::InUse { holder: None } => (
            ResponseCode::InUse,
            "maildrop is locked by another session".to_owned(),
        ),
        OpenError::Permanent => (
            ResponseCode::SysPerm,
            "maildrop cannot be opened, contact your administrator".to_owned(),
        ),
        OpenError::Temporary => (
            ResponseCode::SysTemp,
            "maildrop temporarily unavailable".to_owned(),
        ),
    }
}
