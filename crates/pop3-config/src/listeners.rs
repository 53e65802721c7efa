//! `[[listener]]` and `[tls]`: where pop3d listens and with which certificate.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use crate::error::{Invalid, invalid};

/// How a listener speaks TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plaintext with STLS (RFC 2595); the usual port 110.
    Starttls,
    /// TLS from the first byte; the usual port 995.
    Implicit,
    /// Plaintext only, no STLS.
    None,
}

/// One listening socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    /// The address to bind, IPv4 or IPv6.
    pub address: SocketAddr,
    /// Its TLS mode.
    pub tls: TlsMode,
}

/// TLS certificate files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub certificate: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

/// One `[[listener]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawListener {
    address: Spanned<String>,
    tls: TlsMode,
}

/// `[tls]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTls {
    certificate: PathBuf,
    key: PathBuf,
}

/// At least one listener, each with an address and a port; `[tls]` whenever a listener uses
/// TLS. The certificate files are only named here, not read.
pub(crate) fn validate(
    raw: &Spanned<Vec<RawListener>>,
    tls: Option<RawTls>,
) -> Result<(Vec<Listener>, Option<TlsFiles>), Invalid> {
    if raw.get_ref().is_empty() {
        return Err(invalid("listener", raw, "at least one listener is needed"));
    }
    let mut listeners = Vec::new();
    for listener in raw.get_ref() {
        let address = listener.address.get_ref().parse().map_err(|_| {
            invalid(
                "listener.address",
                &listener.address,
                "not an address with a port, e.g. 0.0.0.0:110 or [::]:995",
            )
        })?;
        listeners.push(Listener {
            address,
            tls: listener.tls,
        });
    }
    let needs_tls = listeners.iter().any(|l| l.tls != TlsMode::None);
    let tls = tls.map(|t| TlsFiles {
        certificate: t.certificate,
        key: t.key,
    });
    if needs_tls && tls.is_none() {
        return Err(invalid(
            "tls",
            raw,
            "a listener uses TLS, so [tls] certificate and key are needed",
        ));
    }
    Ok((listeners, tls))
}
