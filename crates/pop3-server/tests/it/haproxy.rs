//! Issue 18: pop3d behind the real HAProxy (TCP mode, PROXY v2 and v1): the client's address
//! from the header is the one the server uses everywhere; TLS and STLS work through it; a
//! header from anyone but the proxy, or none, gets no reply.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::cluster::{Cluster, Front, PROXY_SOURCE, closed_without_reply};
use crate::support::{Client, Sections, TestServer, scrape};

/// A message with a dot-stuffed line, CRLF throughout.
const MESSAGE: &[u8] = b"Subject: through HAProxy\r\n\r\nfirst line\r\n.dotted line\r\nlast\r\n";

fn deliver(cluster: &Cluster, user: &str, message: &[u8]) {
    let name = pop3_auth::UserName::parse(user).unwrap();
    let path = pop3_auth::default_maildir(&cluster.shared.path().join("mail"), &name);
    let maildir = pop3_maildrop::Maildir::open(&path).unwrap();
    pop3_maildrop::deliver(&maildir, message).unwrap();
}

/// The body of a RETR, CRLF restored: what the message was.
fn retr(client: &mut Client, n: usize) -> Vec<u8> {
    let reply = client.command(&format!("RETR {n}"));
    assert!(reply.starts_with("+OK"), "{reply}");
    client
        .body()
        .iter()
        .flat_map(|line| format!("{line}\r\n").into_bytes())
        .collect()
}

#[test]
fn issue_18_sessions_through_haproxy_v1_and_v2_stls_and_implicit_tls() {
    let Some(cluster) = Cluster::start("issue_18_sessions_through_haproxy", "") else {
        return;
    };
    cluster.add_user("alice", "secret");
    for _ in 0..3 {
        deliver(&cluster, "alice", MESSAGE);
    }
    // One message removed per session, on either node, over each kind of frontend.
    let fronts = [(0, Front::Stls), (1, Front::Implicit), (1, Front::StlsV1)];
    for (round, (node, front)) in fronts.into_iter().enumerate() {
        let mut client = cluster.client(node, front, "127.0.0.1");
        client.login("alice", "secret");
        let left = 3 - round;
        assert_eq!(
            client.command("STAT"),
            format!("+OK {left} {}", left * MESSAGE.len())
        );
        assert_eq!(retr(&mut client, 1), MESSAGE, "{front:?} on node {node}");
        assert!(client.command("DELE 1").starts_with("+OK"));
        assert!(client.command("QUIT").starts_with("+OK"));
        assert!(client.line().is_none(), "closed after QUIT");
    }
    let mut client = cluster.client(0, Front::Stls, "127.0.0.1");
    client.login("alice", "secret");
    assert_eq!(client.command("STAT"), "+OK 0 0", "every DELE committed");
    client.close();
}

#[test]
fn issue_18_the_client_address_from_the_header_is_used_everywhere() {
    let auth = "penalty_start_ms = 400\npenalty_max_secs = 4\nfailure_delay_ms = 0";
    let Some(cluster) = Cluster::start("issue_18_the_client_address", auth) else {
        return;
    };
    cluster.add_user("alice", "secret");
    // Never loopback: plaintext from 127.0.0.1 through the proxy is refused before PASS.
    let mut plain = cluster.client(0, Front::Plain, "127.0.0.1");
    let user = plain.command("USER alice");
    assert!(
        user.starts_with("-ERR [AUTH]"),
        "a proxied client is not local: {user}"
    );
    plain.close();
    // The session registry shows the client, not the proxy.
    let mut held = cluster.client(0, Front::Stls, "127.0.0.2");
    held.login("alice", "secret");
    let sessions = cluster.admin_get(0, "/v1/sessions");
    assert!(sessions.contains("\"remote\":\"127.0.0.2:"), "{sessions}");
    assert!(!sessions.contains(PROXY_SOURCE), "{sessions}");
    assert!(held.command("QUIT").starts_with("+OK"));
    // Failed logins from 127.0.0.2 slow 127.0.0.2 and are logged with its address.
    let mut last = Duration::ZERO;
    for _ in 0..4 {
        let mut client = cluster.client(0, Front::Stls, "127.0.0.2");
        assert!(client.command("USER alice").starts_with("+OK"));
        let started = Instant::now();
        assert!(client.command("PASS guess").starts_with("-ERR"));
        last = started.elapsed();
    }
    assert!(
        last >= Duration::from_millis(1600),
        "4th failure took {last:?}"
    );
    cluster.nodes[0].wait_for("auth failed: user=alice rip=127.0.0.2 ", 4);
    let log = cluster.nodes[0].log();
    assert!(!log.contains(&format!("rip={PROXY_SOURCE}")), "{log}");
    // Another client through the same proxy is not slowed.
    let mut real = cluster.client(0, Front::Stls, "127.0.0.1");
    let started = Instant::now();
    real.login("alice", "secret");
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(400),
        "127.0.0.1 was slowed: {took:?}"
    );
    real.close();
}

#[test]
fn issue_18_headers_from_untrusted_peers_or_none_get_no_reply() {
    let Some(cluster) = Cluster::start("issue_18_headers_from_untrusted_peers", "") else {
        return;
    };
    let node = &cluster.nodes[0];
    let header = b"PROXY TCP4 192.0.2.7 127.0.0.1 51000 110\r\n";
    // A header sent straight to the node from 127.0.0.1, which is not the proxy.
    for listener in 0..3 {
        let mut direct = TcpStream::connect(node.addr(listener)).unwrap();
        direct.write_all(header).unwrap();
        assert!(closed_without_reply(&mut direct), "listener {listener}");
    }
    node.wait_for("reason=the peer is not in `trusted_proxies`", 3);
    // From the proxy's address, but without a header: a POP3 command, then silence.
    let source = PROXY_SOURCE.parse().unwrap();
    let mut bare = Client::connect_from(source, node.addr(2), cluster.tls());
    bare.send(b"CAPA\r\n");
    assert!(
        bare.line().is_none(),
        "a connection without a header got a reply"
    );
    node.wait_for("no PROXY protocol header", 1);
}

/// HAProxy's health checks open with a v2 LOCAL header: served as the proxy's own
/// connection (greeted, so a check expecting `+OK` passes), not refused.
#[test]
fn issue_18_health_checks_with_a_local_header_are_greeted() {
    let Some(cluster) = Cluster::start_checked("issue_18_health_checks", "", true) else {
        return;
    };
    let node = &cluster.nodes[0];
    // Each check is a session of the proxy's own address that ends without a login.
    node.wait_for(&format!("rip={PROXY_SOURCE} "), 3);
    let log = node.log();
    assert!(!log.contains("closed without a reply"), "{log}");
    let haproxy = cluster.haproxy_log();
    assert!(!haproxy.contains("is DOWN"), "{haproxy}");
}

/// The same rules in-process, where the metrics are at hand: untrusted, missing, malformed
/// and late headers are counted by reason; a trusted header is served.
#[test]
fn issue_18_refusals_are_counted_by_reason() {
    let server = TestServer::start_edited(
        Sections {
            timeouts: "proxy_header_secs = 1",
            ..Sections::default()
        },
        |text| {
            text.replace(
                "address = \"127.0.0.1:0\"\ntls = \"none\"",
                "address = \"127.0.0.1:0\"\ntls = \"none\"\nproxy_protocol = true\n\
                 trusted_proxies = [\"127.0.0.3\"]",
            )
        },
    );
    let plain = server.addrs.plain;
    let from_proxy =
        || Client::connect_from(PROXY_SOURCE.parse().unwrap(), plain, server.client_config());
    let mut untrusted = TcpStream::connect(plain).unwrap();
    untrusted.write_all(b"PROXY UNKNOWN\r\n").unwrap();
    assert!(closed_without_reply(&mut untrusted));
    let mut malformed = from_proxy();
    malformed.send(b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n");
    assert!(malformed.line().is_none());
    let mut silent = from_proxy();
    assert!(silent.line().is_none(), "the deadline closes a silent peer");
    let mut good = from_proxy();
    good.send(b"PROXY TCP4 192.0.2.9 127.0.0.1 40000 110\r\n");
    assert!(good.line().unwrap().starts_with("+OK"));
    let metrics = scrape(&server);
    for reason in ["proxy-untrusted", "proxy-header", "proxy-timeout"] {
        let line = format!("pop3_connections_rejected_total{{reason=\"{reason}\"}} 1");
        assert!(metrics.contains(&line), "no {line} in:\n{metrics}");
    }
    good.close();
}
