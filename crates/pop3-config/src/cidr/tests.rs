//! Issue 18: the blocks of `trusted_proxies`.

#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use super::Cidr;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn issue_18_blocks_contain_their_addresses_only() {
    let block: Cidr = "10.1.0.0/16".parse().unwrap();
    assert!(block.contains(ip("10.1.255.3")));
    assert!(!block.contains(ip("10.2.0.1")));
    assert!(
        !block.contains(ip("::ffff:10.1.0.1")),
        "peers are canonical first"
    );
    let single: Cidr = "127.0.0.3".parse().unwrap();
    assert_eq!(single.to_string(), "127.0.0.3/32");
    assert!(single.contains(ip("127.0.0.3")));
    assert!(!single.contains(ip("127.0.0.1")));
    let all: Cidr = "0.0.0.0/0".parse().unwrap();
    assert!(all.contains(ip("192.0.2.1")));
    assert!(!all.contains(ip("::1")));
    let v6: Cidr = "fd00::/8".parse().unwrap();
    assert!(v6.contains(ip("fd12::1")));
    assert!(!v6.contains(ip("fe80::1")));
    let every_v6: Cidr = "::/0".parse().unwrap();
    assert!(every_v6.contains(ip("2001:db8::1")));
}

#[test]
fn issue_18_ambiguous_blocks_are_refused() {
    for bad in [
        "10.0.0.1/8",
        "10.0.0.0/33",
        "10.0.0.0/",
        "10.0.0.0/+8",
        "10.0.0.0/08x",
        "::ffff:10.0.0.0/104",
        "fd00::1/8",
        "example.org",
        "",
    ] {
        assert!(bad.parse::<Cidr>().is_err(), "{bad:?} was accepted");
    }
}
