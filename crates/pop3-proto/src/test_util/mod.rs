//! Helpers for tests, compiled only with the `test-util` feature, which this crate's own tests
//! and the server's tests enable (as a dev-dependency); a normal build never contains them.
//!
//! - [`transcript`]: the `.pop3` transcript format, parsed from a `&str`, so the same files of
//!   POP3 conversations run against the session in memory (here) and against the real server
//!   over a socket (`pop3-server`'s tests).
//!
//! - [`files::load_all`]: every transcript of the workspace, read from disk. This is the only
//!   file of the crate that does I/O (tidy allows it there alone); the parser itself reads
//!   from a `&str`.

pub mod files;
pub mod transcript;
