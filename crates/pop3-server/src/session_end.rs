//! How a session ended and what it did: the `session end` log line, one per connection.

use std::net::SocketAddr;
use std::time::Duration;

use pop3_proto::Session;
use tracing::info;

use crate::registry::{self, SessionProgress};

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
