//! `pop3-auth`: pop3d's user database and every authentication decision.
//!
//! Synchronous: the server runs it on a bounded blocking pool; the admin tool calls it
//! directly. It knows nothing of POP3's wire format: SASL PLAIN and LOGIN are decoded by
//! `pop3-proto`, which hands over a name and a password.
//!
//! # Main types
//! - [`UserDb`]: the SQLite user database (WAL, migrations) and the admin API: add, remove,
//!   rename, set password, enable/disable, set/clear the APOP secret, the carried-over UIDL
//!   map flag ([`UserDb::set_uidl_map`]), list, get.
//! - [`Authenticator`]: verifies a [`Credential`] for a name and returns an [`Outcome`] (with
//!   [`Authenticator::attempt_with`], also the best-effort writes that failed).
//! - [`UserName`]: the allowlist and case folding every name goes through before any lookup.
//! - [`PasswordHasher`] and [`HashParams`]: argon2id, bounded on the way in and out.
//! - [`HashMemory`]: argon2's block memory, kept by the caller and reused hash after hash.
//! - [`apop`]: the greeting timestamp and the digest check.
//! - [`Throttle`]: failure delays, per-address penalties, the per-user spraying signal.
//!
//! # Invariants
//! - **No user name reaches a query or a path unchecked**: [`UserName::parse`] first; SQL
//!   values are always bound parameters.
//! - **Unknown, disabled and real users with a wrong secret get the same outcome in the same
//!   time** (a dummy hash is verified), and secrets are compared in constant time.
//! - **A stored hash with absurd parameters or a malformed one fails closed**, without a panic
//!   or a large allocation.
//! - **argon2 memory is the caller's**: the `*_with` methods hash in a [`HashMemory`] the
//!   caller keeps (the server: one per hash permit), never growing it past the configured
//!   cost; the others use a temporary one.
//! - **No cache**: every login reads the row, so changes apply at the next login.
//!
//! # Non-goals
//! Sessions, sockets and timing of replies belong to the server; the throttle only computes.

pub mod apop;
mod authenticator;
mod db;
mod error;
mod memory;
mod name;
mod password;
mod throttle;

pub use authenticator::{
    Attempt, Authenticator, BestEffortWrite, Credential, Outcome, RejectReason, SkippedWrite,
};
pub use db::{LAST_LOGIN_PRECISION_SECS, SCHEMA_VERSION, User, UserDb, default_maildir};
pub use error::{Error, Result};
pub use memory::HashMemory;
pub use name::{MAX_NAME, UserName};
pub use password::{HashParams, MAX_PASSWORD, PasswordHasher, Verification};
pub use throttle::{FailureVerdict, Throttle, ThrottleConfig};
