//! `pop3-admin-api`: the admin socket's API, small versioned JSON over HTTP on a Unix socket.
//! These types are shared by the server (which answers) and `pop3-admin` (which asks), so they
//! cannot drift; they live in their own crate so that the admin tool links neither the server
//! nor the metrics encoder (`prometheus-client`).
//!
//! # Main types
//! - `GET /v1/sessions` ([`SESSIONS_PATH`]) → [`SessionsResponse`] of [`SessionInfo`]
//! - `GET /v1/locks` ([`LOCKS_PATH`]) → [`LocksResponse`] of [`LockInfo`]
//! - `GET /v1/overview` ([`OVERVIEW_PATH`]) → [`OverviewResponse`]: version, uptime,
//!   listeners, certificate expiry, locks, failing addresses and the last 15 minutes per
//!   second ([`History`], [`HISTORY_SLOTS`] slots at most)
//! - `GET /v1/users/{name}/sessions` ([`user_sessions_path`]) → [`UserSessionsResponse`] of
//!   [`EndedSession`]: a user's recent sessions from a bounded history (the server's
//!   `[admin] history_sessions_per_user` each, for `history_users` users)
//! - `POST /v1/sessions/{id}/kick` ([`kick_path`]) → [`KickResponse`]; the session gets
//!   `-ERR [SYS/TEMP] disconnected by administrator`, no UPDATE runs, and its lock is released.
//!
//! Errors come back as [`ApiError`] with a 4xx/5xx status. Every response carries
//! [`API_VERSION`]. **Nothing here carries a password, a message or a secret.**
//!
//! # Non-goals
//! No HTTP, no sockets, no I/O: the server's `http.rs` serves these types and `pop3-admin`'s
//! `live.rs` asks for them. A leaf: it depends on no crate of this workspace.

mod overview;
mod users;

use serde::{Deserialize, Serialize};

pub use overview::{
    CertificateFacts, FAILURES_SHOWN, FailingAddress, HISTORY_SLOTS, History, ListenerFacts,
    LockSummary, OVERVIEW_PATH, OverviewResponse, ServerFacts, SessionCounts,
};
pub use users::{EndedSession, UserSessionsResponse, user_sessions_path};

/// The API version in every response; bumped on an incompatible change.
pub const API_VERSION: u32 = 1;

/// `GET` this for the live sessions.
pub const SESSIONS_PATH: &str = "/v1/sessions";
/// `GET` this for the held maildrop locks.
pub const LOCKS_PATH: &str = "/v1/locks";

/// The path that kicks session `id`.
pub fn kick_path(id: u64) -> String {
    format!("/v1/sessions/{id}/kick")
}

/// One live session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The server's session id.
    pub id: u64,
    /// The client's address and port.
    pub remote: String,
    /// The listener kind: `starttls`, `implicit` or `none`.
    pub listener: String,
    /// Whether the connection is TLS now.
    pub tls: bool,
    /// `AUTHORIZATION`, `TRANSACTION` or `UPDATE`.
    pub state: String,
    /// The user, once authenticated.
    pub user: Option<String>,
    /// When the session started, seconds since the epoch.
    pub started: u64,
    /// When the client last sent something, seconds since the epoch.
    pub last_activity: u64,
    /// The command being executed, if one is waiting on storage or authentication.
    pub command: Option<String>,
    /// Octets sent to the client.
    pub bytes_sent: u64,
    /// Messages retrieved (RETR).
    pub retrieved: u64,
    /// Messages marked deleted.
    pub deleted: u64,
    /// Octets sent in the last second the server sampled (added in issue 20; absent from
    /// older servers, read as 0).
    #[serde(default)]
    pub bytes_per_second: u64,
    /// The RETR being sent now, if any (added in issue 20; absent from older servers).
    #[serde(default)]
    pub retr: Option<RetrProgress>,
}

/// How far a RETR in progress is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetrProgress {
    /// The message number.
    pub message: u64,
    /// Octets written to the client since the RETR began (its `+OK` line and dot-stuffing
    /// included, so capped at `size`).
    pub sent: u64,
    /// The message's size as listed (octets, as `LIST` gives it).
    pub size: u64,
}

impl RetrProgress {
    /// How far, in whole percent (100 for an empty message).
    pub fn percent(&self) -> u64 {
        if self.size == 0 {
            return 100;
        }
        (u128::from(self.sent.min(self.size)) * 100 / u128::from(self.size)) as u64
    }
}

/// One held maildrop lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// The user whose maildrop is locked.
    pub user: String,
    /// The session holding it.
    pub session: u64,
    /// Since when, seconds since the epoch.
    pub since: u64,
}

/// The answer to `GET /v1/sessions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionsResponse {
    /// [`API_VERSION`].
    pub version: u32,
    /// The sessions, by id.
    pub sessions: Vec<SessionInfo>,
}

/// The answer to `GET /v1/locks`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocksResponse {
    /// [`API_VERSION`].
    pub version: u32,
    /// The locks, by user.
    pub locks: Vec<LockInfo>,
}

/// The answer to a kick.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KickResponse {
    /// [`API_VERSION`].
    pub version: u32,
    /// The session asked for.
    pub session: u64,
    /// Whether it existed and was told to end.
    pub kicked: bool,
}

/// An error answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// [`API_VERSION`].
    pub version: u32,
    /// What went wrong.
    pub error: String,
}
