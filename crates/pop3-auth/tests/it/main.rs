//! The integration tests of `pop3-auth`: real SQLite files in temp dirs, real processes.

// Test helpers are `pub` for use across modules of this one binary, and a test may panic on a
// broken fixture.
#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod apop;
mod authenticate;
mod best_effort;
mod concurrency;
mod db;
mod import;
mod legacy;
mod legacy_login;
mod mutations;
mod names;
mod passwords;
mod pg_outage;
mod policy;
mod scram;
mod stores;
mod support;
mod throttle;
mod tools;
