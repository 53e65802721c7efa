//! How a session ended and what it did: the `session end` log line, one per connection, and
//! the record of an authenticated session in its user's history (`user_history.rs`).

use std::net::SocketAddr;
use std::time::Duration;

use pop3_admin_api::EndedSession;
use pop3_proto::{Secret, Session};
use tracing::info;

use crate::registry::{self, Registry, SessionProgress};

/// How a session ended, for the log.
#[derive(Debug, Clone, Copy)]
pub(crate) enum End {
    /// QUIT (or an abort) was answered and the connection closed.
    Closed,
    ClientGone,
    LoginTimeout,
    IdleTimeout,
    OutputStalled,
    TlsFailed,
    Error,
}

impl End {
    /// The word in the log line.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            End::Closed => "closed",
            End::ClientGone => "client-gone",
            End::LoginTimeout => "login-timeout",
            End::IdleTimeout => "idle-timeout",
            End::OutputStalled => "output-stalled",
            End::TlsFailed => "tls-failed",
            End::Error => "error",
        }
    }
}

/// Why a session closed with a reply although the client did not ask: an administrator's
/// kick or the server's shutdown (the driver sees [`End::Closed`] for both, as for QUIT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Abort {
    Kicked,
    Shutdown,
}

impl End {
    /// The word in the user's history ([`pop3_admin_api::EndedSession::end`]).
    pub(crate) fn history_word(self, abort: Option<Abort>) -> &'static str {
        match (self, abort) {
            (_, Some(Abort::Kicked)) => "kicked",
            (_, Some(Abort::Shutdown)) => "shutdown",
            (End::Closed, None) => "quit",
            (End::ClientGone, None) => "dropped",
            (other, None) => other.as_str(),
        }
    }
}

/// How the client logged in, as the history names it.
pub(crate) fn mechanism(secret: &Secret) -> &'static str {
    match secret {
        Secret::Password {
            mechanism: None, ..
        } => "USER",
        Secret::Password {
            mechanism: Some(mechanism),
            ..
        } => mechanism.name(),
        Secret::Scram { .. } | Secret::ScramAbandoned => "SCRAM-SHA-256",
        Secret::Apop { .. } => "APOP",
        _ => "other",
    }
}

/// The facts of an ended session, for [`record`].
pub(crate) struct Ended<'a> {
    pub(crate) id: u64,
    pub(crate) user: &'a str,
    pub(crate) peer: SocketAddr,
    pub(crate) tls: bool,
    pub(crate) mechanism: &'static str,
    pub(crate) elapsed: Duration,
    pub(crate) end: &'static str,
}

/// Records an authenticated session that ended in its user's bounded history.
pub(crate) fn record(registry: &Registry, ended: Ended<'_>, stats: &Stats) {
    let now = registry::unix_now();
    registry.record_ended(
        ended.user,
        EndedSession {
            id: ended.id,
            started: now.saturating_sub(ended.elapsed.as_secs()),
            ended: now,
            remote: ended.peer.to_string(),
            tls: ended.tls,
            mechanism: ended.mechanism.to_owned(),
            retrieved: stats.retr,
            deleted: stats.dele,
            bytes_sent: stats.bytes,
            end: ended.end.to_owned(),
        },
    );
}

/// What the session did, for the `session end` log line and the registry.
#[derive(Default)]
pub(crate) struct Stats {
    /// RETR commands that sent a message.
    pub(crate) retr: u64,
    /// TOP commands that sent a message.
    pub(crate) top: u64,
    /// Messages given to the commit (UPDATE).
    pub(crate) dele: u64,
    /// Octets written to the client.
    pub(crate) bytes: u64,
    /// Messages marked deleted now (DELE minus RSET), for the registry.
    pub(crate) marked: u64,
}

impl Stats {
    /// The session's progress for the registry: its state, the command waiting for the
    /// server, TLS, and these counts.
    pub(crate) fn progress(&self, session: &Session) -> SessionProgress {
        SessionProgress {
            state: registry::state_name(session.state()),
            command: session.current_command(),
            tls: session.is_secure(),
            bytes_sent: self.bytes,
            retrieved: self.retr,
            marked: self.marked,
        }
    }
}

/// Writes the `session end` line: user, address, TLS, what was done, how long, how it ended.
pub(crate) fn log(
    session: u64,
    user: &str,
    peer: SocketAddr,
    tls: bool,
    stats: &Stats,
    elapsed: Duration,
    end: End,
) {
    info!(
        session,
        user,
        rip = %peer.ip(),
        tls,
        retr = stats.retr,
        top = stats.top,
        dele = stats.dele,
        bytes = stats.bytes,
        duration_ms = elapsed.as_millis() as u64,
        end = end.as_str(),
        "session end"
    );
}
