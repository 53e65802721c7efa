//! Helpers for tests, compiled only with the `test-util` feature, which this crate's own tests
//! and the server's tests enable (as a dev-dependency); a normal build never contains them.
//!
//! - [`transcript`]: the `.pop3` transcript format, parsed from a `&str`, so the same files of
//!   POP3 conversations run against the session in memory (here) and against the real server
//!   over a socket (`pop3-server`'s tests).
//!
//! Like the rest of the crate this does no I/O: reading `tests/transcripts/*.pop3` and
//! `tests/messages/*.eml` from disk is left to each test crate's small loader.

pub mod transcript;
