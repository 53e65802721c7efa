//! `[lmtp]`: where pop3d takes mail from the MTA (RFC 2033), and its limits. No section, no
//! LMTP.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::error::{Invalid, invalid};

/// The LMTP service, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lmtp {
    /// The Unix socket to listen on, if any. Created mode 0666: who may deliver is decided by
    /// the peer's credentials ([`Lmtp::clients`]), not by the file's mode.
    pub socket: Option<PathBuf>,
    /// A TCP address to listen on, if any (keep it on loopback or a private network: TCP
    /// peers cannot be checked like Unix-socket peers).
    pub address: Option<SocketAddr>,
    /// Unix users allowed on the socket besides root and the server's own user.
    pub clients: Vec<String>,
    /// With `proxy_protocol = true`, the TCP listener takes a PROXY header first, and only
    /// from these blocks (an MTA behind HAProxy); the socket never does.
    pub trusted_proxies: Option<Vec<crate::Cidr>>,
    /// The session limits; the host name is the server's.
    pub protocol: pop3_lmtp::Config,
    /// `user+tag` is delivered to `user` when this is `Some('+')`.
    pub recipient_delimiter: Option<char>,
    /// Open LMTP connections at most.
    pub connections: usize,
    /// A connection silent this long is closed with `421`.
    pub idle: Duration,
}

/// `[lmtp]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLmtp {
    socket: Option<Spanned<PathBuf>>,
    address: Option<Spanned<String>>,
    #[serde(default = "default_clients")]
    clients: Vec<String>,
    proxy_protocol: Option<Spanned<bool>>,
    trusted_proxies: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default = "default_max_message_bytes")]
    max_message_bytes: Spanned<u64>,
    #[serde(default = "default_max_recipients")]
    max_recipients: Spanned<u64>,
    #[serde(default = "default_delimiter")]
    recipient_delimiter: Spanned<String>,
    #[serde(default = "default_connections")]
    connections: Spanned<u64>,
    #[serde(default = "default_idle")]
    idle_secs: Spanned<u64>,
}

fn default_clients() -> Vec<String> {
    vec!["postfix".to_owned()]
}

fn default_max_message_bytes() -> Spanned<u64> {
    Spanned::new(0..0, 50 * 1024 * 1024)
}

fn default_max_recipients() -> Spanned<u64> {
    Spanned::new(0..0, 50)
}

fn default_delimiter() -> Spanned<String> {
    Spanned::new(0..0, "+".to_owned())
}

fn default_connections() -> Spanned<u64> {
    Spanned::new(0..0, 32)
}

fn default_idle() -> Spanned<u64> {
    Spanned::new(0..0, 300)
}

/// `key` as a number in `range`.
fn in_range(
    key: &str,
    value: &Spanned<u64>,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, Invalid> {
    let v = *value.get_ref();
    if range.contains(&v) {
        Ok(v)
    } else {
        let why = format!("must be {} to {}", range.start(), range.end());
        Err(invalid(key, value, &why))
    }
}

impl RawLmtp {
    /// Checks the section; `section` is its span, for errors about the whole of it.
    pub(crate) fn validate(self, section: &Spanned<()>, hostname: &str) -> Result<Lmtp, Invalid> {
        let address = match &self.address {
            Some(text) => Some(text.get_ref().parse().map_err(|_| {
                invalid(
                    "lmtp.address",
                    text,
                    "not an address with a port, e.g. 127.0.0.1:24",
                )
            })?),
            None => None,
        };
        if self.socket.is_none() && address.is_none() {
            return Err(invalid(
                "lmtp",
                section,
                "give `socket` or `address` (or remove the section)",
            ));
        }
        if let Some(socket) = &self.socket
            && !socket.get_ref().is_absolute()
        {
            return Err(invalid("lmtp.socket", socket, "must be an absolute path"));
        }
        let max_octets = in_range(
            "lmtp.max_message_bytes",
            &self.max_message_bytes,
            1024..=(1 << 32),
        )?;
        let max_recipients = in_range("lmtp.max_recipients", &self.max_recipients, 1..=1000)?;
        let connections = in_range("lmtp.connections", &self.connections, 1..=10_000)?;
        let idle = in_range("lmtp.idle_secs", &self.idle_secs, 1..=3_600)?;
        let trusted_proxies = crate::listeners::proxy_blocks(
            "lmtp",
            self.proxy_protocol.as_ref(),
            self.trusted_proxies.as_ref(),
        )?;
        if let (Some(on), None) = (&self.proxy_protocol, address)
            && *on.get_ref()
        {
            return Err(invalid(
                "lmtp.proxy_protocol",
                on,
                "applies to `lmtp.address` (TCP), which is not set",
            ));
        }
        let delimiter = self.recipient_delimiter.get_ref();
        let recipient_delimiter = match delimiter.chars().collect::<Vec<_>>()[..] {
            [] => None,
            [c] if "+-_=.#~".contains(c) => Some(c),
            _ => {
                return Err(invalid(
                    "lmtp.recipient_delimiter",
                    &self.recipient_delimiter,
                    "one of + - _ = . # ~, or \"\" for none",
                ));
            }
        };
        Ok(Lmtp {
            socket: self.socket.map(Spanned::into_inner),
            address,
            clients: self.clients,
            trusted_proxies,
            protocol: pop3_lmtp::Config {
                hostname: hostname.to_owned(),
                max_message_octets: max_octets,
                max_recipients: usize::try_from(max_recipients).unwrap_or(usize::MAX),
                ..pop3_lmtp::Config::default()
            },
            recipient_delimiter,
            connections: usize::try_from(connections).unwrap_or(usize::MAX),
            idle: Duration::from_secs(idle),
        })
    }
}
