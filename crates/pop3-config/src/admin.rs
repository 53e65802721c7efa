//! `[metrics]` and `[admin]`: pop3d's own HTTP listener and its admin socket.

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

/// `[admin]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawAdmin {
    pub(crate) enabled: bool,
    pub(crate) socket: PathBuf,
}

impl Default for RawAdmin {
    fn default() -> RawAdmin {
        RawAdmin {
            enabled: true,
            socket: PathBuf::from(DEFAULT_ADMIN_SOCKET),
        }
    }
}
