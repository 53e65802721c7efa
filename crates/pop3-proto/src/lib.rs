//! `pop3-proto`: the POP3 protocol as a sans-IO state machine.
//!
//! Bytes go in, replies and requests come out. This crate has no sockets, no files, no clock
//! and no randomness: the driver (the `pop3d` server, or a test) passes in the APOP timestamp,
//! whether the connection is secure or from loopback, and the server's policy, and it carries
//! out the requests the session makes (verify credentials, lock and scan the maildrop, read a
//! message, commit deletions).
//!
//! It implements RFC 1939 (POP3), RFC 2449 (CAPA, response codes, PIPELINING), RFC 2595
//! (STLS), RFC 5034 (AUTH, with PLAIN, LOGIN and SCRAM-SHA-256, whose
//! messages the driver reads and writes with `pop3-auth`), RFC 3206 (SYS and AUTH response codes) and,
//! when enabled, the RFC 1460 LAST command.
//!
//! # Main types
//! - [`Session`]: one per connection; its docs give the driver's call order.
//! - [`Event`] and [`Request`]: what the session asks of the driver.
//! - [`Config`] and [`Connection`]: the policy and the facts about one connection.
//! - [`Command`]: the parser, usable on its own.
//! - [`BodyEncoder`]: the streaming LF→CRLF and dot-stuffing encoder for RETR and TOP.
//!
//! # Features
//! - `test-util` (off by default): `test_util::transcript`, the parser of the `.pop3`
//!   transcripts that run against this crate in memory and against the real server. Only
//!   tests enable it.
//!
//! # Invariants kept here
//! - **Network input never panics**; a client's mistake is an `-ERR`, never an error value.
//! - **Replies come out in command order**, even when commands are pipelined behind a request.
//! - **A status line never exceeds 512 octets**; echoed client text is escaped and cut short.
//! - **Plaintext pipelined behind STLS is discarded**, never executed after the handshake.
//! - **Nothing is deleted unless QUIT reached UPDATE** and the driver completed the commit.
//! - **The bytes of a RETR equal the listed size** before stuffing, or the transfer is cut.
//!
//! # Non-goals
//! Storage, password checking, TLS and timing live in the driver. The APOP digest is checked by
//! the auth layer, which holds the shared secret.

mod body;
mod command;
mod config;
mod line;
mod reply;
pub mod sasl;
mod session;
#[cfg(feature = "test-util")]
pub mod test_util;

pub use body::{BodyEncoder, Progress, WireSizeCounter, wire_size};
pub use command::{Command, MessageNumber, ParseError, parse_message_number};
pub use config::{
    CleartextPolicy, Config, Connection, Expire, Limits, MIN_LINE_OCTETS, PerUser, UserTerms,
};
pub use reply::{MAX_STATUS_LINE, ResponseCode, escape_client_text};
pub use session::{
    Abort, AuthOutcome, ChallengeAnswer, CommandRecord, CommitOutcome, Credentials, Event, Listing,
    OpenError, Request, RetrieveError, Secret, Session, SharedListing, State,
};
