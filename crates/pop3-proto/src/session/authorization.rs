//! The AUTHORIZATION state (RFC 1939 §4): USER/PASS, APOP, AUTH, STLS, CAPA and QUIT.

use super::{
    AuthOutcome, Credentials, Event, OpenError, Phase, Request, Secret, Session, SharedListing,
};
use crate::command::Command;
use crate::reply::{self, ResponseCode};
use crate::sasl::{Exchange, Mechanism, SaslError, Step};

use super::transaction::Transaction;

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

    /// Enters TRANSACTION with the opened maildrop.
    fn into_transaction(self, listing: SharedListing) -> Transaction {
        Transaction::new(listing)
    }
}

impl Session {
    fn auth_state(&mut self) -> Option<&mut Authorization> {
        match &mut self.phase {
            Phase::Authorization(auth) => Some(auth),
            _ => None,
        }
    }

    pub(super) fn cleartext_allowed(&self) -> bool {
        self.conn.cleartext_allowed(self.config.cleartext)
    }

    /// One line in AUTHORIZATION: a SASL response if an exchange is running, else a command.
    pub(super) fn authorization_line(&mut self, line: &[u8]) {
        if let Some(mut exchange) = self.auth_state().and_then(|auth| auth.sasl.take()) {
            let step = exchange.step(line);
            self.sasl_step(exchange, step);
            return;
        }
        let parsed = Command::parse(line);
        self.set_current(&parsed);
        let command = match parsed {
            Ok(command) => command,
            Err(error) => return self.bad_command(&error.to_string()),
        };
        match command {
            Command::User(name) => self.user(name),
            Command::Pass(password) => self.pass(password),
            Command::Apop { name, digest } => self.apop(name, digest),
            Command::AuthList => self.auth_list(),
            Command::Auth {
                mechanism,
                initial_response,
            } => self.auth(mechanism, initial_response),
            Command::Capa => {
                self.command_ok();
                self.write_capa();
            }
            Command::Stls => self.stls(),
            Command::Quit => {
                self.record(true);
                reply::ok(&mut self.out, "signing off");
                self.close();
            }
            Command::Last if !self.config.last_command => self.bad_command("unknown command: LAST"),
            other => self.wrong_state(other.keyword()),
        }
    }

    fn user(&mut self, name: String) {
        if !self.cleartext_allowed() {
            return self.refuse(CLEARTEXT_REFUSED);
        }
        self.command_ok();
        if let Some(auth) = self.auth_state() {
            auth.user = Some(name);
        }
        reply::ok(&mut self.out, "");
    }

    fn pass(&mut self, password: Vec<u8>) {
        if !self.cleartext_allowed() {
            return self.refuse(CLEARTEXT_REFUSED);
        }
        let Some(user) = self.auth_state().and_then(|auth| auth.user.take()) else {
            return self.bad_command("PASS without USER");
        };
        self.request_auth(Credentials {
            user,
            secret: Secret::Password {
                password,
                mechanism: None,
            },
        });
    }

    fn apop(&mut self, user: String, digest: String) {
        let timestamp = match (&self.conn.apop_timestamp, self.config.apop) {
            (Some(timestamp), true) => timestamp.clone(),
            _ => return self.bad_command("APOP is not enabled"),
        };
        self.request_auth(Credentials {
            user,
            secret: Secret::Apop { timestamp, digest },
        });
    }

    /// `AUTH` alone lists the mechanisms usable now (the form RFC 1734 clients use).
    fn auth_list(&mut self) {
        self.command_ok();
        reply::ok(&mut self.out, "");
        for mechanism in self.offered_mechanisms() {
            self.out.extend_from_slice(mechanism.name().as_bytes());
            self.out.extend_from_slice(b"\r\n");
        }
        self.out.extend_from_slice(b".\r\n");
    }

    fn auth(&mut self, mechanism: Result<Mechanism, String>, initial: Option<Vec<u8>>) {
        let mechanism = match mechanism {
            Ok(m) if self.config.sasl_mechanisms.contains(&m) => m,
            Ok(m) => return self.bad_command(&format!("unsupported mechanism: {}", m.name())),
            Err(name) => return self.bad_command(&format!("unsupported mechanism: {name}")),
        };
        // PLAIN and LOGIN both carry the password in the clear.
        if !self.cleartext_allowed() {
            return self.refuse(CLEARTEXT_REFUSED);
        }
        if let Some(auth) = self.auth_state() {
            auth.user = None;
        }
        match Exchange::start(mechanism, initial.as_deref()) {
            Ok((exchange, step)) => self.sasl_step(exchange, Ok(step)),
            Err(error) => self.sasl_failed(error),
        }
    }

    fn sasl_step(&mut self, exchange: Exchange, step: Result<Step, SaslError>) {
        match step {
            Ok(Step::Challenge(challenge)) => {
                self.out.extend_from_slice(b"+ ");
                self.out.extend_from_slice(challenge.as_bytes());
                self.out.extend_from_slice(b"\r\n");
                if let Some(auth) = self.auth_state() {
                    auth.sasl = Some(exchange);
                }
            }
            Ok(Step::Done(credentials)) => self.request_auth(Credentials {
                user: credentials.user,
                secret: Secret::Password {
                    password: credentials.password,
                    mechanism: Some(exchange.mechanism()),
                },
            }),
            Err(error) => self.sasl_failed(error),
        }
    }

    fn sasl_failed(&mut self, error: SaslError) {
        if error == SaslError::Cancelled {
            // RFC 5034 §4: a cancelled exchange is answered with -ERR but is no protocol error.
            self.bad_commands = 0;
            self.record(false);
            reply::err(&mut self.out, None, &error.to_string());
        } else {
            self.bad_command(&error.to_string());
        }
    }

    fn stls(&mut self) {
        if self.conn.secure {
            return self.bad_command("already using TLS");
        }
        if !self.config.starttls {
            return self.bad_command("STLS not available");
        }
        self.command_ok();
        reply::ok(&mut self.out, "Begin TLS negotiation");
        // RFC 2595 §4: everything the client sent after STLS, and any USER before it, came in
        // plaintext and must not be acted on after the handshake. Nothing more is executed
        // until the handshake, and `handle_tls_established` drops the buffered input.
        if let Some(auth) = self.auth_state() {
            *auth = Authorization {
                waiting: Some(Waiting::Tls),
                ..Authorization::default()
            };
        }
        self.event = Some(Event::StartTls);
    }

    /// A policy refusal of a cleartext method: `[AUTH]`, counted as an invalid command.
    fn refuse(&mut self, text: &str) {
        self.record(false);
        self.bad_commands += 1;
        let limit = self.config.limits.bad_commands_before_login;
        reply::err(&mut self.out, Some(ResponseCode::Auth), text);
        if self.bad_commands >= limit {
            self.close();
        }
    }

    fn request_auth(&mut self, credentials: Credentials) {
        if let Some(auth) = self.auth_state() {
            auth.waiting = Some(Waiting::Verifying);
        }
        self.event = Some(Event::Request(Request::Authenticate(credentials)));
    }

    pub(super) fn on_auth_result(&mut self, outcome: AuthOutcome) {
        let Some(auth) = self.auth_state() else {
            return;
        };
        if !matches!(auth.waiting, Some(Waiting::Verifying)) {
            return;
        }
        auth.waiting = None;
        match outcome {
            AuthOutcome::Accepted { user } => {
                auth.waiting = Some(Waiting::Opening);
                self.event = Some(Event::Request(Request::OpenMaildrop { user }));
            }
            AuthOutcome::Rejected => {
                self.record(false);
                self.failed_auths += 1;
                reply::err(&mut self.out, Some(ResponseCode::Auth), AUTH_FAILED);
                if self.failed_auths >= self.config.limits.failed_auths {
                    self.close();
                }
            }
            AuthOutcome::LoginDelay => self.record_err(
                Some(ResponseCode::LoginDelay),
                "login delay in effect, try again later",
            ),
            AuthOutcome::Unavailable => self.record_err(
                Some(ResponseCode::SysTemp),
                "authentication temporarily unavailable",
            ),
        }
    }

    pub(super) fn on_maildrop_opened(&mut self, result: Result<SharedListing, OpenError>) {
        let Some(auth) = self.auth_state() else {
            return;
        };
        if !matches!(auth.waiting, Some(Waiting::Opening)) {
            return;
        }
        auth.waiting = None;
        let listing = match result {
            Ok(listing) => listing,
            Err(error) => {
                let (code, text) = match error {
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
                };
                self.record_err(Some(code), &text);
                return;
            }
        };
        let Phase::Authorization(auth) = std::mem::replace(&mut self.phase, Phase::Closed) else {
            return;
        };
        let transaction = auth.into_transaction(listing);
        self.command_ok();
        reply::ok(&mut self.out, &transaction.summary("maildrop has"));
        self.phase = Phase::Transaction(transaction);
    }

    /// The mechanisms AUTH accepts now: none while cleartext is not allowed.
    pub(super) fn offered_mechanisms(&self) -> Vec<Mechanism> {
        if self.cleartext_allowed() {
            self.config.sasl_mechanisms.clone()
        } else {
            Vec::new()
        }
    }
}
