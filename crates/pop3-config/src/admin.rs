//! `[metrics]` and `[admin]`: pop3d's own HTTP listener and its admin socket.

use std::net::SocketAddr;
use std::path::PathBuf;

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
}

impl Default for RawMetrics {
    fn default() -> RawMetrics {
        RawMetrics {
            enabled: true,
            address: Spanned::new(0..0, "127.0.0.1:9110".into()),
        }
    }
}

impl RawMetrics {
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
