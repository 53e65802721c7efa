//! The integration tests of `pop3-server`: a real server on 127.0.0.1, real files, real TLS,
//! real clients.

// Test helpers are `pub` for use across modules of this one binary, and a test may panic on a
// broken fixture.
#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used, dead_code)]

mod addresses;
mod apop_only;
mod attacks;
mod behaviour;
mod clients;
mod cluster;
mod daemon;
mod exhaustion;
mod expire;
mod faults;
mod haproxy;
mod lmtp;
mod lmtp_transcripts;
mod login_delay;
mod metrics;
mod operations;
mod overview;
mod per_user;
mod pipelining;
mod postfix;
mod postgres;
mod postgres_frozen;
mod quota;
mod scram;
mod scram_saslprep;
mod sni;
mod socket_activation;
mod storage;
mod support;
mod transcripts;
mod two_nodes;
mod uidl;
mod user_sessions;
