//! `GET /v1/overview`: the facts an administrator asks for first, and the last 15 minutes of
//! the server's activity, one slot per second, so that a dashboard opened now shows history at
//! once instead of accumulating its own.

use serde::{Deserialize, Serialize};

use crate::LockInfo;

/// `GET` this for the [`OverviewResponse`].
pub const OVERVIEW_PATH: &str = "/v1/overview";

/// How many one-second slots the server keeps: 15 minutes. **The history never holds more**,
/// whatever the traffic.
pub const HISTORY_SLOTS: usize = 900;

/// The answer to `GET /v1/overview`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverviewResponse {
    /// [`crate::API_VERSION`].
    pub version: u32,
    /// Version, start time, listeners and certificates.
    pub server: ServerFacts,
    /// Live sessions by state, counted when the request was answered.
    pub sessions: SessionCounts,
    /// The per-second history, oldest first.
    pub history: History,
    /// Maildrop locks held now.
    pub locks: LockSummary,
    /// The addresses that failed to authenticate most recently, most recent first (at most
    /// [`FAILURES_SHOWN`]).
    pub failures: Vec<FailingAddress>,
}

/// The most failing addresses an overview lists.
pub const FAILURES_SHOWN: usize = 10;

/// What the server is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerFacts {
    /// pop3d's version (`CARGO_PKG_VERSION`).
    pub version: String,
    /// When the server started, seconds since the epoch.
    pub started: u64,
    /// When this answer was made, seconds since the epoch (the clock uptimes and ages use).
    pub now: u64,
    /// The POP3 listeners in configuration order, then LMTP's socket and TCP address.
    pub listeners: Vec<ListenerFacts>,
    /// Every certificate in use: the default one first, then the `[[tls.sni]]` ones. Empty
    /// without TLS.
    pub certificates: Vec<CertificateFacts>,
}

/// One POP3 listener.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerFacts {
    /// The bound address.
    pub address: String,
    /// POP3's `starttls`, `implicit` or `none`, or `lmtp`.
    pub kind: String,
}

/// One certificate in use (the leaf of its chain).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateFacts {
    /// The certificate file.
    pub file: String,
    /// The SNI names it serves; empty for the default certificate.
    pub names: Vec<String>,
    /// Its not-after, seconds since the epoch; `None` if the server could not read it.
    pub not_after: Option<i64>,
}

/// Live sessions by protocol state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionCounts {
    /// In AUTHORIZATION.
    pub authorization: u64,
    /// In TRANSACTION.
    pub transaction: u64,
    /// In UPDATE.
    pub update: u64,
}

impl SessionCounts {
    /// Every live session.
    pub fn total(&self) -> u64 {
        // Saturating: the numbers come from the server, and a wrong one must not panic.
        self.authorization
            .saturating_add(self.transaction)
            .saturating_add(self.update)
    }
}

/// The per-second history: parallel series of equal length (at most [`HISTORY_SLOTS`]),
/// oldest first; the last slot is the second ending at `end`. Sessions are sampled once per
/// second; the other series are what happened during that second.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// The second of the last slot, seconds since the epoch (0 before the first sample).
    pub end: u64,
    /// Sessions in AUTHORIZATION.
    pub authorization: Vec<u32>,
    /// Sessions in TRANSACTION.
    pub transaction: Vec<u32>,
    /// Sessions in UPDATE.
    pub update: Vec<u32>,
    /// Successful logins.
    pub logins_ok: Vec<u32>,
    /// Failed logins (wrong credentials; not database errors).
    pub logins_failed: Vec<u32>,
    /// Octets sent to clients.
    pub bytes_sent: Vec<u64>,
    /// Messages retrieved (RETR).
    pub retrieved: Vec<u32>,
    /// Messages marked deleted (DELE answered `+OK`).
    pub deleted: Vec<u32>,
}

impl History {
    /// How many slots the series hold.
    pub fn len(&self) -> usize {
        self.authorization.len()
    }

    /// Whether no sample was taken yet.
    pub fn is_empty(&self) -> bool {
        self.authorization.is_empty()
    }
}

/// The maildrop locks held now.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockSummary {
    /// How many are held.
    pub held: u64,
    /// The one held longest.
    pub oldest: Option<LockInfo>,
}

/// An address that failed to authenticate, as the login throttle knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailingAddress {
    /// The address (an IPv6 address as the prefix penalties apply to, `2001:db8::/64`).
    pub address: String,
    /// Its last failure, seconds since the epoch.
    pub last_failure: u64,
    /// What its next attempt waits now, in milliseconds (0 once decayed).
    pub penalty_ms: u64,
}
