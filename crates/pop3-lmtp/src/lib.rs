//! `pop3-lmtp`: LMTP (RFC 2033) as a sans-IO state machine, for mail handed to pop3d by an MTA.
//!
//! Bytes go in, replies and requests come out; no sockets, files or clock. The driver (the
//! server's LMTP listener, or a test) answers the session's requests: whether a recipient is a
//! user, whether the delivery files could be made, and, once the message is complete, how the
//! delivery went **for each recipient**. The session writes one reply per accepted recipient
//! after the final dot, in RCPT order (RFC 2033 §4.2).
//!
//! Extensions announced by LHLO: PIPELINING (RFC 2920), ENHANCEDSTATUSCODES (RFC 2034, codes
//! of RFC 3463), 8BITMIME (RFC 6152) and SIZE (RFC 1870).
//!
//! # Main types
//! - [`Session`]: one per connection; its docs give the driver's call order.
//! - [`Event`]: what the session asks of the driver.
//! - [`Outcome`] and [`Verdict`]: the driver's answers.
//! - [`Config`]: the limits and the host name.
//! - [`DotDecoder`]: the streaming dot-unstuffing, CRLF→LF decoder of the DATA phase.
//!
//! # Features
//! - `test-util` (off by default): `test_util`, the parser of the `.lmtp` transcripts
//!   (`tests/transcripts/*.lmtp`) that run against this crate in memory and against the real
//!   server over its socket. Only tests enable it.
//!
//! # Invariants kept here
//! - **Network input never panics**; a client's mistake is a 5xx reply, never an error value.
//! - **Replies come out in command order**: while a request is out, no further line runs.
//! - **A recipient gets `250` after DATA only if the driver said it was delivered**, which the
//!   driver says only after the message is durably in the Maildir.
//! - **A message over the size limit is never handed on whole**: the decoder stops passing
//!   body octets at the limit, and every recipient gets `552 5.3.4`.
//! - **Memory is bounded**: command lines by `max_line`, body octets by what the driver takes
//!   out before feeding more ([`Session::wants_input`]).

mod address;
mod command;
mod config;
mod data;
mod reply;
mod session;
#[cfg(feature = "test-util")]
pub mod test_util;

pub use address::{Address, MAX_PATH, PathError, parse_path};
pub use command::{Command, MailParams, ParseError};
pub use config::Config;
pub use data::{DotDecoder, Progress};
pub use session::{Event, Outcome, Session, Verdict};
