//! `[metrics]` and `[admin]`: pop3d's own HTTP listener and its admin socket.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::error::{Invalid, invalid};

/// Where the admin socket is unless `admin.socket` says otherwise; the systemd unit creates
/// `/run/pop3d`. **The one spelling of this default**, used by the server and `pop3-admin`.
pub const DEFAULT_ADMIN_SOCKET: &str = "/run/pop3d/admin.sock";

/// `[metrics]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawMetrics {
    enabled: bool,
    address: Spanned<String>,
    connections: Spanned<u64>,
    idle_secs: Spanned<u64>,
}

impl Default for RawMetrics {
    fn default() -> RawMetrics {
        RawMetrics {
            enabled: true,
            address: Spanned::new(0..0, "127.0.0.1:9110".into()),
            connections: Spanned::new(0..0, 32),
            idle_secs: Spanned::new(0..0, 30),
        }
    }
}

/// The limits of each HTTP listener (`/metrics`, the admin socket): **connections to them
/// are capped and an idle one is closed, so they never use up the descriptors POP3 needs.**
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// Open connections at most, per listener; more are closed at once.
    pub connections: usize,
    /// A connection that sends nothing this long is closed.
    pub idle: Duration,
}

impl RawMetrics {
    /// The limits of the HTTP listeners (`metrics.connections`, `metrics.idle_secs`).
    pub(crate) fn limits(&self) -> Result<HttpLimits, Invalid> {
        let connections = *self.connections.get_ref();
        if !(1..=10_000).contains(&connections) {
            return Err(invalid(
                "metrics.connections",
                &self.connections,
                "must be 1 to 10000",
            ));
        }
        let idle = *self.idle_secs.get_ref();
        if !(1..=3_600).contains(&idle) {
            return Err(invalid(
                "metrics.idle_secs",
                &self.idle_secs,
                "must be 1 to 3600",
            ));
        }
        Ok(HttpLimits {
            connections: usize::try_from(connections).unwrap_or(usize::MAX),
            idle: Duration::from_secs(idle),
        })
    }

    /// Where `/metrics` and `/healthz` are served, if enabled.
    pub(crate) fn validate(self) -> Result<Option<SocketAddr>, Invalid> {
        if !self.enabled {
            return Ok(None);
        }
        let address = self.address.get_ref().parse().map_err(|_| {
            invalid(
                "metrics.address",
                &self.address,
                "not an address with a port, e.g. 127.0.0.1:9110",
            )
        })?;
        Ok(Some(address))
    }
}

/// The longest node name (`[admin.nodes]`, `pop3-admin --node`): a short label for a column.
pub const MAX_NODE_NAME: usize = 32;

/// One pop3d that `pop3-admin` watches: its name and its admin socket (`[admin.nodes]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminNode {
    /// A short label, checked by [`check_node_name`].
    pub name: String,
    /// Its admin socket: the local one, or a remote one forwarded here (`ssh -L`).
    pub socket: PathBuf,
}

/// Whether `name` may name a node: 1 to [`MAX_NODE_NAME`] characters of `a-z 0-9 - _ .`,
/// starting with a letter or digit. **The one rule for both `[admin.nodes]` and `pop3-admin
/// --node`**; the error says what is wrong. A name never holds `:` or `=`, so `NODE:ID` and
/// `NAME=SOCKET` split without ambiguity.
pub fn check_node_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c);
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if name.is_empty() || name.len() > MAX_NODE_NAME || !first_ok || !name.chars().all(allowed) {
        return Err(format!(
            "`{}` is not a node name: 1 to {MAX_NODE_NAME} of a-z 0-9 - _ . starting with a \
             letter or digit",
            name.escape_debug()
        ));
    }
    Ok(())
}

/// The bounds of the server's per-user session history (`GET /v1/users/{name}/sessions`):
/// the last `sessions_per_user` ended sessions of each of the last `users` users to end one
/// (`[admin] history_users`, `history_sessions_per_user`).
///
/// **Its memory is at most about `users × (700 + 256 × sessions_per_user)` bytes**: a
/// session's record is 128 bytes and its three short strings (address, mechanism, how it
/// ended) at most about 128 more; a user costs two copies of the name (at most 255 bytes
/// each, with the allocator's rounding) and the maps' entries. The defaults, 20,000 users ×
/// 10 sessions (a site of 20,000 mailboxes polling every 5 minutes keeps its last 50
/// minutes), come to at most about 65 MB, and about 55 MB with names of 20 characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryBounds {
    /// Users kept; the one whose last session ended longest ago is forgotten first.
    pub users: usize,
    /// Sessions kept per user; older ones are forgotten.
    pub sessions_per_user: usize,
}

impl Default for HistoryBounds {
    fn default() -> HistoryBounds {
        HistoryBounds {
            users: DEFAULT_HISTORY_USERS,
            sessions_per_user: DEFAULT_HISTORY_SESSIONS,
        }
    }
}

/// `admin.history_users` unless set.
pub const DEFAULT_HISTORY_USERS: usize = 20_000;
/// `admin.history_sessions_per_user` unless set.
pub const DEFAULT_HISTORY_SESSIONS: usize = 10;
/// The most users `admin.history_users` may name.
const MAX_HISTORY_USERS: u64 = 1_000_000;
/// The most sessions per user `admin.history_sessions_per_user` may name.
const MAX_HISTORY_SESSIONS: u64 = 1_000;
/// The most sessions the two together may keep: about 260 MB at worst.
const MAX_HISTORY_TOTAL: u64 = 1_000_000;

/// `[admin]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawAdmin {
    pub(crate) enabled: bool,
    pub(crate) socket: PathBuf,
    history_users: Spanned<u64>,
    history_sessions_per_user: Spanned<u64>,
    /// `[admin.nodes]`: the pop3d nodes `pop3-admin` watches, name = admin socket. The
    /// server does not use it, but checks it as the tool does, so `pop3d check-config`
    /// reports a bad entry.
    nodes: BTreeMap<Spanned<String>, Spanned<PathBuf>>,
}

impl Default for RawAdmin {
    fn default() -> RawAdmin {
        RawAdmin {
            enabled: true,
            socket: PathBuf::from(DEFAULT_ADMIN_SOCKET),
            history_users: Spanned::new(0..0, DEFAULT_HISTORY_USERS as u64),
            history_sessions_per_user: Spanned::new(0..0, DEFAULT_HISTORY_SESSIONS as u64),
            nodes: BTreeMap::new(),
        }
    }
}

impl RawAdmin {
    /// `admin.history_users` and `admin.history_sessions_per_user`, checked: each at least
    /// 1 and at most a million users and a thousand sessions, and at most a million sessions
    /// together (about 260 MB), so a typo cannot make the server's memory unbounded in
    /// practice.
    pub(crate) fn history(&self) -> Result<HistoryBounds, Invalid> {
        let users = *self.history_users.get_ref();
        if !(1..=MAX_HISTORY_USERS).contains(&users) {
            return Err(invalid(
                "admin.history_users",
                &self.history_users,
                &format!("must be 1 to {MAX_HISTORY_USERS}"),
            ));
        }
        let sessions = *self.history_sessions_per_user.get_ref();
        if !(1..=MAX_HISTORY_SESSIONS).contains(&sessions) {
            return Err(invalid(
                "admin.history_sessions_per_user",
                &self.history_sessions_per_user,
                &format!("must be 1 to {MAX_HISTORY_SESSIONS}"),
            ));
        }
        if users.saturating_mul(sessions) > MAX_HISTORY_TOTAL {
            return Err(invalid(
                "admin.history_sessions_per_user",
                &self.history_sessions_per_user,
                &format!(
                    "history_users × history_sessions_per_user must be at most \
                     {MAX_HISTORY_TOTAL} sessions (about 260 MB of memory)"
                ),
            ));
        }
        Ok(HistoryBounds {
            users: usize::try_from(users).unwrap_or(usize::MAX),
            sessions_per_user: usize::try_from(sessions).unwrap_or(usize::MAX),
        })
    }

    /// `[admin.nodes]`, checked, in name order: each name by [`check_node_name`], each
    /// socket absolute (the tool may run from any directory).
    pub(crate) fn nodes(&self) -> Result<Vec<AdminNode>, Invalid> {
        self.nodes
            .iter()
            .map(|(name, socket)| {
                check_node_name(name.get_ref())
                    .map_err(|why| invalid("admin.nodes", name, &why))?;
                if !socket.get_ref().is_absolute() {
                    return Err(invalid(
                        &format!("admin.nodes.{}", name.get_ref()),
                        socket,
                        "must be an absolute path to an admin socket",
                    ));
                }
                Ok(AdminNode {
                    name: name.get_ref().clone(),
                    socket: socket.get_ref().clone(),
                })
            })
            .collect()
    }
}
