//! Issue 15 item 11: the keying of client addresses.

use std::net::IpAddr;

use super::{canonical, limit_key};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn issue_15_mapped_ipv4_is_the_ipv4_address() {
    assert_eq!(canonical(ip("::ffff:127.0.0.1")), ip("127.0.0.1"));
    assert!(canonical(ip("::ffff:127.0.0.1")).is_loopback());
    assert_eq!(canonical(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
    assert_eq!(canonical(ip("2001:db8::1")), ip("2001:db8::1"));
    assert_eq!(
        limit_key(ip("::ffff:192.0.2.7"), 64),
        limit_key(ip("192.0.2.7"), 64)
    );
    // The IPv4 address is never masked by the IPv6 prefix.
    assert_eq!(limit_key(ip("192.0.2.7"), 32), ip("192.0.2.7"));
}

#[test]
fn issue_15_ipv6_addresses_in_one_prefix_share_a_key() {
    let a = limit_key(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), 64);
    let b = limit_key(ip("2001:db8:1:2::1"), 64);
    let other = limit_key(ip("2001:db8:1:3::1"), 64);
    assert_eq!(a, ip("2001:db8:1:2::"));
    assert_eq!(a, b);
    assert_ne!(a, other);
    // A /48 lumps the /64s together; /128 keeps each address.
    assert_eq!(
        limit_key(ip("2001:db8:1:2::1"), 48),
        limit_key(ip("2001:db8:1:3::1"), 48)
    );
    assert_ne!(
        limit_key(ip("2001:db8:1:2::1"), 128),
        limit_key(ip("2001:db8:1:2::2"), 128)
    );
    assert_eq!(limit_key(ip("2001:db8::ff"), 120), ip("2001:db8::"));
    assert_eq!(limit_key(ip("::1"), 64), ip("::"));
}
