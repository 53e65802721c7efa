//! The integration tests of `pop3-admin`: the real binary against a real user database,
//! real Maildirs and, for the live commands and the TUI, a real pop3d.

// Test helpers are `pub` for use across modules of this one binary, and a test may panic on a
// broken fixture.
#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod apop;
mod cli;
mod migrate;
mod migrate_carry;
mod migrate_e2e;
mod migrate_system;
mod nodes;
mod ownership;
mod peers;
mod postgres;
mod quota;
mod status;
mod support;
mod tui_tmux;
mod uidl;
mod user_add;
mod user_set;
mod user_show;
