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

/// `[admin]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawAdmin {
    pub(crate) enabled: bool,
    pub(crate) socket: PathBuf,
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
            nodes: BTreeMap::new(),
        }
    }
}

impl RawAdmin {
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
