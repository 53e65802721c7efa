//! `[[listener]]` and `[tls]`: where pop3d listens and with which certificate.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::cidr::Cidr;
use crate::error::{Invalid, invalid};
use crate::sni::{self, RawSni, SniPair};

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
    /// The name a socket passed by systemd (`FileDescriptorName=`) must carry to be used
    /// instead of binding `address`: `name` as written, else `pop3s` for implicit TLS and
    /// `pop3` otherwise.
    pub name: String,
    /// The address to bind, IPv4 or IPv6.
    pub address: SocketAddr,
    /// Its TLS mode.
    pub tls: TlsMode,
    /// `Some` when every connection must open with a PROXY protocol header (v1 or v2) and come
    /// from one of these blocks (`proxy_protocol = true`, `trusted_proxies`); never empty.
    pub trusted_proxies: Option<Vec<Cidr>>,
}

/// TLS certificate files: the default pair, and the pairs chosen by SNI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The default certificate chain, leaf first: for clients that send no SNI or a name no
    /// `[[tls.sni]]` entry lists.
    pub certificate: PathBuf,
    /// The default private key.
    pub key: PathBuf,
    /// `[[tls.sni]]`: pairs for named hosts, each name in one pair only.
    pub sni: Vec<SniPair>,
}

impl TlsFiles {
    /// Every file named, with its key as written (`tls.key`, `tls.sni[1].certificate`), in
    /// file order: for the checks that must cover them all (readable after the privilege
    /// drop).
    pub fn paths(&self) -> Vec<(String, &Path)> {
        let mut paths = vec![
            ("tls.certificate".to_owned(), self.certificate.as_path()),
            ("tls.key".to_owned(), self.key.as_path()),
        ];
        for (i, pair) in self.sni.iter().enumerate() {
            paths.push((
                format!("tls.sni[{i}].certificate"),
                pair.certificate.as_path(),
            ));
            paths.push((format!("tls.sni[{i}].key"), pair.key.as_path()));
        }
        paths
    }
}

/// One `[[listener]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawListener {
    name: Option<Spanned<String>>,
    address: Spanned<String>,
    tls: TlsMode,
    proxy_protocol: Option<Spanned<bool>>,
    trusted_proxies: Option<Spanned<Vec<Spanned<String>>>>,
}

/// `[tls]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTls {
    certificate: PathBuf,
    key: PathBuf,
    #[serde(default)]
    sni: Vec<RawSni>,
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
            name: listener_name(listener)?,
            address,
            tls: listener.tls,
            trusted_proxies: trusted_proxies(listener)?,
        });
    }
    let needs_tls = listeners.iter().any(|l| l.tls != TlsMode::None);
    let tls = match tls {
        Some(t) => Some(TlsFiles {
            certificate: t.certificate,
            key: t.key,
            sni: sni::validate(t.sni)?,
        }),
        None => None,
    };
    if needs_tls && tls.is_none() {
        return Err(invalid(
            "tls",
            raw,
            "a listener uses TLS, so [tls] certificate and key are needed",
        ));
    }
    Ok((listeners, tls))
}

/// The listener's activation name: as written (what systemd accepts in
/// `FileDescriptorName=`: 1 to 255 printable ASCII characters, no `:`), else derived from the
/// TLS mode, so the shipped socket units match an unnamed configuration.
fn listener_name(listener: &RawListener) -> Result<String, Invalid> {
    let Some(name) = &listener.name else {
        let derived = match listener.tls {
            TlsMode::Implicit => "pop3s",
            TlsMode::Starttls | TlsMode::None => "pop3",
        };
        return Ok(derived.to_owned());
    };
    let text = name.get_ref();
    let printable = text.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    if text.is_empty() || text.len() > 255 || !printable {
        return Err(invalid(
            "listener.name",
            name,
            "1 to 255 printable ASCII characters without spaces or `:` (systemd's FileDescriptorName)",
        ));
    }
    Ok(text.clone())
}

/// `proxy_protocol` and `trusted_proxies` go together: a PROXY listener names the proxies it
/// believes (a header from anyone else would let them choose their own address), and a list
/// without `proxy_protocol = true` is a mistake, not a silent no-op.
fn trusted_proxies(listener: &RawListener) -> Result<Option<Vec<Cidr>>, Invalid> {
    proxy_blocks(
        "listener",
        listener.proxy_protocol.as_ref(),
        listener.trusted_proxies.as_ref(),
    )
}

/// [`trusted_proxies`] for any section (`[[listener]]`, `[lmtp]`): the two keys as written,
/// checked together; errors name `<section>.<key>`.
pub(crate) fn proxy_blocks(
    section: &str,
    proxy_protocol: Option<&Spanned<bool>>,
    trusted_proxies: Option<&Spanned<Vec<Spanned<String>>>>,
) -> Result<Option<Vec<Cidr>>, Invalid> {
    let on = proxy_protocol.filter(|on| *on.get_ref());
    let (on_key, list_key) = (
        format!("{section}.proxy_protocol"),
        format!("{section}.trusted_proxies"),
    );
    let Some(raw) = trusted_proxies else {
        if let Some(on) = on {
            return Err(invalid(
                &on_key,
                on,
                "needs `trusted_proxies`, the address blocks of the proxies, e.g. [\"10.0.0.5/32\"]",
            ));
        }
        return Ok(None);
    };
    if on.is_none() {
        return Err(invalid(
            &list_key,
            raw,
            "is only read with `proxy_protocol = true` in the same section",
        ));
    }
    if raw.get_ref().is_empty() {
        return Err(invalid(&list_key, raw, "is empty: name at least one proxy"));
    }
    let mut blocks = Vec::new();
    for text in raw.get_ref() {
        let block = text
            .get_ref()
            .parse::<Cidr>()
            .map_err(|why| invalid(&list_key, text, why))?;
        blocks.push(block);
    }
    Ok(Some(blocks))
}
