//! The integration tests of `pop3-maildrop`: real Maildirs in temp dirs, real child processes.

// Test helpers are `pub` for use across modules of this one binary, and a test may panic on a
// broken fixture.
#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod child;
mod deliver;
mod expire;
mod faults;
mod issue15;
mod listing;
mod lock;
mod names;
mod ownership;
mod read_commit;
mod rescan;
mod scan;
mod support;
mod uidl;
