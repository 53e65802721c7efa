//! Issue 15 item 11: one client is one address. A dual-stack `[::]` listener reports an IPv4
//! client as `::ffff:a.b.c.d`; the server counts, throttles, trusts and logs it as `a.b.c.d`.
//! (Only `::1` exists on this host's loopback, so IPv6 addresses of one /64 sharing a limit
//! are unit-tested on the keying function, `src/peer/tests.rs`.)

use std::net::SocketAddr;

use crate::support::{Client, Sections, TestServer};

/// A test server whose plaintext listener is dual-stack `[::]:0` (the STLS listener stays on
/// `127.0.0.1`), with extra `[limits]` keys.
fn dual_stack(limits: &str) -> (TestServer, SocketAddr) {
    let server = TestServer::start_edited(
        Sections {
            limits,
            ..Sections::default()
        },
        |text| {
            text.replacen(
                "address = \"127.0.0.1:0\"\ntls = \"none\"",
                "address = \"[::]:0\"\ntls = \"none\"",
                1,
            )
        },
    );
    let mapped = SocketAddr::from(([127, 0, 0, 1], server.addrs.plain.port()));
    (server, mapped)
}

#[test]
fn issue_15_mapped_ipv4_counts_as_the_same_address() {
    let (server, mapped) = dual_stack("connections_per_ip = 1");
    assert!(server.addrs.plain.is_ipv6(), "{:?}", server.addrs.plain);
    // Peer 127.0.0.1 on the IPv4 listener.
    let mut first = Client::connect(server.addrs.starttls, server.client_config(), false);
    assert!(first.line().unwrap().starts_with("+OK"));
    // Peer ::ffff:127.0.0.1 on the dual-stack one: the same address, over its limit.
    let mut second = Client::connect(mapped, server.client_config(), false);
    let reply = second.line().unwrap();
    assert!(
        reply.starts_with("-ERR [SYS/TEMP]"),
        "the mapped form is the same address: {reply}"
    );
    first.close();
}

#[test]
fn issue_15_mapped_loopback_is_loopback() {
    // Cleartext passwords are accepted from loopback only (the default policy).
    let (server, mapped) = dual_stack("");
    server.add_user("alice", "secret");
    let mut client = Client::connect(mapped, server.client_config(), false);
    assert!(client.line().unwrap().starts_with("+OK"));
    let user = client.command("USER alice");
    assert!(
        user.starts_with("+OK"),
        "USER from ::ffff:127.0.0.1: {user}"
    );
    let pass = client.command("PASS secret");
    assert!(
        pass.starts_with("+OK"),
        "PASS from ::ffff:127.0.0.1: {pass}"
    );
    client.close();
}
