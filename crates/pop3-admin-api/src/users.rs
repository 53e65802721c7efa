//! `GET /v1/users/{name}/sessions`: a user's recent sessions, from a bounded history the
//! server keeps in memory (the last `[admin] history_sessions_per_user` sessions of each of
//! the last `[admin] history_users` users to end one; 10 and 20,000 by default), so that
//! "what did this user's client do this morning" is answered without reading logs. Lost at
//! a restart, by design.

use serde::{Deserialize, Serialize};

/// The path of `name`'s recent sessions. The name is percent-encoded where it must be.
pub fn user_sessions_path(name: &str) -> String {
    let mut path = String::from("/v1/users/");
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~@+".contains(&byte) {
            path.push(char::from(byte));
        } else {
            path.push_str(&format!("%{byte:02X}"));
        }
    }
    path.push_str("/sessions");
    path
}

/// The answer to `GET /v1/users/{name}/sessions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSessionsResponse {
    /// [`crate::API_VERSION`].
    pub version: u32,
    /// The user asked about, normalised as a login would.
    pub user: String,
    /// Their ended sessions, most recent first (at most `history_sessions_per_user`); empty
    /// for a user who is not in the server's recent history: not seen since it started, or
    /// forgotten for users seen since (it keeps the last `history_users`).
    pub sessions: Vec<EndedSession>,
}

/// One ended, authenticated session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndedSession {
    /// The server's session id.
    pub id: u64,
    /// When it started, seconds since the epoch.
    pub started: u64,
    /// When it ended, seconds since the epoch.
    pub ended: u64,
    /// The client's address and port.
    pub remote: String,
    /// Whether the connection was TLS at its end.
    pub tls: bool,
    /// How the user logged in: `USER` (USER/PASS), `APOP`, or the SASL mechanism (`PLAIN`,
    /// `LOGIN`, `SCRAM-SHA-256`).
    pub mechanism: String,
    /// Messages retrieved (RETR).
    pub retrieved: u64,
    /// Messages deleted at its UPDATE (0 if it never reached UPDATE).
    pub deleted: u64,
    /// Octets sent to the client.
    pub bytes_sent: u64,
    /// How it ended: `quit`, `dropped` (the client went away), `login-timeout`,
    /// `idle-timeout`, `kicked`, `shutdown`, `output-stalled`, `tls-failed` or `error`.
    pub end: String,
}
