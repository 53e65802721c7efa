//! The integration tests of `pop3-proto`: one binary, one module per boundary.

// Test helpers are `pub` for use across modules of this one binary, and a test may panic on a
// broken fixture.
#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod driver;
mod encoder;
mod model;
mod parser;
mod properties;
mod scram;
mod session;
mod transcripts;
mod user_terms;
