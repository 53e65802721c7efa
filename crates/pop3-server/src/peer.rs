//! What a client's address means to the server: one canonical form, and the key its limits
//! are counted under.
//!
//! **The peer address is made canonical once, where it enters (`server.rs`' accept loop)**:
//! an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a dual-stack `[::]` listener reports
//! for an IPv4 client) becomes the IPv4 address, so limits, the throttle, the loopback policy,
//! the registry and every log line (fail2ban's `auth failed:` included) see one client as one
//! address. **Limits and penalties are counted by [`limit_key`]**: an IPv6 client by its
//! prefix (`[limits] ipv6_prefix`, default /64), since one host rotates freely through its
//! /64; an IPv4 client by its address.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

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
