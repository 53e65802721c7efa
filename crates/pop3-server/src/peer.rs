//! Who a connection's client is: its address in one canonical form, whether it came through a
//! proxy, and the key its limits are counted under.
//!
//! **The client's address enters in one place, [`identify`]**, called for every accepted
//! connection before anything else looks at it (the connection limits, the throttle, the
//! cleartext policy, the registry, the metrics, every log line). On a listener with
//! `proxy_protocol = true` it is the source the PROXY header names (`proxy.rs`), **read only
//! from a peer in `trusted_proxies`**; anyone else, a missing, malformed or late header, is
//! closed without a reply. **A proxied client is never loopback**, whatever its header says:
//! the cleartext policy's exception is for programs on this host, and a header is a claim.
//!
//! The address is made canonical there:
//! an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a dual-stack `[::]` listener reports
//! for an IPv4 client) becomes the IPv4 address, so limits, the throttle, the loopback policy,
//! the registry and every log line (fail2ban's `auth failed:` included) see one client as one
//! address. **Limits and penalties are counted by [`limit_key`]**: an IPv6 client by its
//! prefix (`[limits] ipv6_prefix`, default /64), since one host rotates freely through its
//! /64; an IPv4 client by its address.

mod proxy;

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use pop3_config::Cidr;
use tokio::io::AsyncRead;

use proxy::Header;
pub(crate) use proxy::HeaderError;

/// A connection's client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Peer {
    /// The client's address, canonical: the socket's peer, or the source the PROXY header
    /// names.
    pub(crate) addr: SocketAddr,
    /// The proxy that relayed the connection, on a PROXY protocol listener.
    pub(crate) proxy: Option<SocketAddr>,
}

impl Peer {
    /// Whether the client is a program on this host: a loopback address reached directly,
    /// never through a proxy.
    pub(crate) fn is_loopback(&self) -> bool {
        self.proxy.is_none() && self.addr.ip().is_loopback()
    }
}

/// Why a connection was closed before a byte was written to it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refused {
    /// A PROXY listener's peer is not in `trusted_proxies`.
    #[error("the peer is not in `trusted_proxies`")]
    Untrusted,
    /// No complete header within `timeouts.proxy_header_secs`.
    #[error("no complete PROXY header in time")]
    Timeout,
    /// A missing or malformed header.
    #[error(transparent)]
    Header(#[from] HeaderError),
}

impl Refused {
    /// The `reason` label of `pop3_connections_rejected_total`: a fixed set.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Refused::Untrusted => "proxy-untrusted",
            Refused::Timeout => "proxy-timeout",
            Refused::Header(_) => "proxy-header",
        }
    }
}

/// The client of a connection whose socket peer is `socket_peer`: that address, canonical;
/// or, when the listener expects PROXY headers from `trusted` proxies, the header's source,
/// read from `stream` within `timeout` (and not an octet past the header). See the module's
/// documentation for the rules.
pub(crate) async fn identify<S: AsyncRead + Unpin>(
    stream: &mut S,
    socket_peer: SocketAddr,
    trusted: Option<&[Cidr]>,
    timeout: Duration,
) -> Result<Peer, Refused> {
    let socket_peer = canonical_peer(socket_peer);
    let Some(trusted) = trusted else {
        return Ok(Peer {
            addr: socket_peer,
            proxy: None,
        });
    };
    if !trusted.iter().any(|block| block.contains(socket_peer.ip())) {
        return Err(Refused::Untrusted);
    }
    let header = tokio::time::timeout(timeout, proxy::read_header(stream))
        .await
        .map_err(|_| Refused::Timeout)??;
    let addr = match header {
        Header::Relayed(source) => canonical_peer(source),
        Header::Local => socket_peer,
    };
    Ok(Peer {
        addr,
        proxy: Some(socket_peer),
    })
}

/// `ip` in canonical form: IPv4-mapped IPv6 addresses become IPv4.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// `peer` with its address in canonical form.
pub(crate) fn canonical_peer(peer: SocketAddr) -> SocketAddr {
    SocketAddr::new(canonical(peer.ip()), peer.port())
}

/// The key the connection limits and the login throttle count `ip` under: the canonical
/// IPv4 address, or the IPv6 address with all but its first `ipv6_prefix` bits cleared
/// (`ipv6_prefix` is validated to 32..=128 by the configuration; larger values keep the
/// whole address).
pub(crate) fn limit_key(ip: IpAddr, ipv6_prefix: u8) -> IpAddr {
    match canonical(ip) {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let mask = match u32::from(ipv6_prefix) {
                0 => 0,
                n if n >= 128 => u128::MAX,
                n => u128::MAX << (128 - n),
            };
            IpAddr::V6(Ipv6Addr::from(bits & mask))
        }
    }
}

#[cfg(test)]
mod tests;
