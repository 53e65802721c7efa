//! Protocol behaviour over the real socket: locks, drops, UPDATE, timeouts, limits, TLS,
//! shutdown of the real binary.

use pop3_auth::UserStore as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use crate::daemon::{Daemon, cert_of};
use crate::support::{Client, PATIENCE, Sections, TestServer};

fn message(n: usize) -> Vec<u8> {
    format!("From: test@example.org\r\nSubject: message {n}\r\n\r\nbody of message {n}\r\n")
        .into_bytes()
}

fn server_with_mail(count: usize) -> TestServer {
    let server = TestServer::start("", "", "");
    server.add_user("alice", "secret");
    for n in 1..=count {
        server.deliver("alice", &message(n));
    }
    server
}

#[test]
fn a_locked_maildrop_answers_in_use_only_after_the_credentials() {
    let server = server_with_mail(1);
    let mut first = server.greet();
    first.login("alice", "secret");
    let mut second = server.greet();
    assert_eq!(second.command("USER alice"), "+OK");
    assert_eq!(
        second.command("PASS wrong"),
        "-ERR [AUTH] Authentication failed"
    );
    assert_eq!(second.command("USER alice"), "+OK");
    let reply = second.command("PASS secret");
    assert!(reply.starts_with("-ERR [IN-USE] "), "{reply}");
    assert!(reply.contains("pid"), "the holder is named: {reply}");
    assert!(first.command("QUIT").starts_with("+OK"));
}

/// Issue 15: a client that reconnects as soon as its QUIT is answered never meets its own
/// previous session's lock (the lock is released before the reply). No lock wait, so a lock
/// still held would answer `[IN-USE]` at once. 20,000 cycles (100,000 with `POP3D_SOAK`).
#[test]
fn reconnecting_right_after_quit_never_meets_the_old_lock() {
    let server = TestServer::start_with(Sections {
        mailbox: "lock_wait_ms = 0",
        ..Sections::default()
    });
    server.add_user("alice", "secret");
    server.deliver("alice", &message(1));
    let cycles = if std::env::var_os("POP3D_SOAK").is_some() {
        100_000
    } else {
        20_000
    };
    for cycle in 0..cycles {
        let mut client = server.greet();
        assert!(client.command("USER alice").starts_with("+OK"));
        let reply = client.command("PASS secret");
        assert!(reply.starts_with("+OK"), "cycle {cycle}: {reply}");
        assert!(client.command("STAT").starts_with("+OK 1 "));
        assert!(client.command("QUIT").starts_with("+OK"));
    }
}

#[test]
fn a_dropped_connection_deletes_nothing_and_releases_the_lock() {
    // The server's bounded lock wait covers the moment until it notices the EOF.
    let server = TestServer::start_with(Sections {
        mailbox: "lock_wait_ms = 10000",
        ..Sections::default()
    });
    server.add_user("alice", "secret");
    server.deliver("alice", &message(1));
    server.deliver("alice", &message(2));
    let mut client = server.greet();
    client.login("alice", "secret");
    assert!(client.command("DELE 1").starts_with("+OK"));
    assert!(client.command("DELE 2").starts_with("+OK"));
    drop(client);
    assert_eq!(server.message_count("alice"), 2);
    let mut again = server.greet();
    assert_eq!(again.command("USER alice"), "+OK");
    let reply = again.command("PASS secret");
    assert!(reply.starts_with("+OK maildrop has 2 messages"), "{reply}");
}

#[test]
fn quit_deletes_exactly_the_deleted_messages() {
    let server = server_with_mail(3);
    let mut client = server.greet();
    client.login("alice", "secret");
    assert!(client.command("DELE 1").starts_with("+OK"));
    assert!(client.command("DELE 3").starts_with("+OK"));
    assert_eq!(client.command("QUIT"), "+OK signing off (1 message left)");
    assert!(client.line().is_none());
    let cur = server.maildir("alice").join("cur");
    let left: Vec<_> = std::fs::read_dir(&cur)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(left.len(), 1);
    assert_eq!(std::fs::read(&left[0]).unwrap(), message(2));
}

#[test]
fn a_message_delivered_mid_session_waits_for_the_next_session() {
    let server = server_with_mail(1);
    let mut client = server.greet();
    client.login("alice", "secret");
    server.deliver("alice", &message(2));
    assert_eq!(
        client.command("STAT"),
        format!("+OK 1 {}", message(1).len())
    );
    assert!(client.command("QUIT").starts_with("+OK"));
    let mut next = server.greet();
    next.login("alice", "secret");
    assert_eq!(
        next.command("STAT"),
        format!("+OK 2 {}", message(1).len() + message(2).len())
    );
}

#[test]
fn stls_injection_is_never_executed() {
    let server = server_with_mail(0);
    let mut client = Client::connect(server.addrs.starttls, server.client_config(), false);
    client.line().unwrap();
    client.send(b"STLS\r\nCAPA\r\n");
    assert_eq!(client.line().unwrap(), "+OK Begin TLS negotiation");
    client.upgrade();
    // The first reply after the handshake answers NOOP, not the injected CAPA.
    assert_eq!(client.command("NOOP"), "-ERR NOOP not allowed before login");
}

#[test]
fn the_idle_timeout_ends_a_session_without_update() {
    let server = TestServer::start_with(Sections {
        timeouts: "idle_secs = 1",
        ..Sections::default()
    });
    server.add_user("alice", "secret");
    server.deliver("alice", &message(1));
    let mut client = server.greet();
    client.login("alice", "secret");
    assert!(client.command("DELE 1").starts_with("+OK"));
    // RFC 1939 §3: the autologout closes without a reply (bounded by PATIENCE).
    assert_eq!(client.line(), None);
    assert_eq!(server.message_count("alice"), 1);
}

/// Issue 15: a login that failed only on `[IN-USE]` is still before TRANSACTION, so the login
/// deadline (1 s here), not the idle timer (600 s), ends the session.
#[test]
fn the_login_deadline_holds_after_a_login_that_met_in_use() {
    let server = TestServer::start_with(Sections {
        timeouts: "login_secs = 1",
        mailbox: "lock_wait_ms = 0",
        ..Sections::default()
    });
    server.add_user("alice", "secret");
    let mut holder = server.greet();
    holder.login("alice", "secret");
    let mut client = server.greet();
    assert!(client.command("USER alice").starts_with("+OK"));
    assert!(client.command("PASS secret").starts_with("-ERR [IN-USE]"));
    // Closed without a reply once the deadline passes (bounded by PATIENCE, far below 600 s).
    assert_eq!(client.line(), None);
    assert!(holder.command("QUIT").starts_with("+OK"));
}

#[test]
fn the_login_deadline_holds_however_slowly_bytes_trickle() {
    let server = TestServer::start_with(Sections {
        timeouts: "login_secs = 1",
        ..Sections::default()
    });
    let mut tcp = TcpStream::connect(server.addrs.plain).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_millis(100)))
        .unwrap();
    let started = std::time::Instant::now();
    let mut received = Vec::new();
    // One byte of a never-ending line every 100 ms, until the server hangs up.
    loop {
        assert!(started.elapsed() < PATIENCE, "the server never closed");
        if tcp.write_all(b"N").is_err() {
            break;
        }
        let mut buf = [0u8; 256];
        match tcp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("+OK"), "{text}");
    assert_eq!(text.lines().count(), 1, "closed without a reply: {text}");
}

#[test]
fn over_the_per_address_limit_is_refused_with_sys_temp() {
    let server = TestServer::start("", "connections_per_ip = 2", "");
    let _a = server.greet();
    let _b = server.greet();
    let mut third = Client::connect(server.addrs.plain, server.client_config(), false);
    assert_eq!(
        third.line().unwrap(),
        "-ERR [SYS/TEMP] too many connections, try again later"
    );
    assert_eq!(third.line(), None);
}

#[test]
fn implicit_tls_never_sends_plaintext() {
    let server = server_with_mail(0);
    let mut tcp = TcpStream::connect(server.addrs.implicit).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    tcp.write_all(b"CAPA\r\nUSER alice\r\n").unwrap();
    let mut received = Vec::new();
    let _ = tcp.read_to_end(&mut received);
    assert!(
        !received.windows(3).any(|w| w == b"+OK" || w == b"-ER"),
        "plaintext on an implicit-TLS port: {received:?}"
    );
}

#[test]
fn alpn_pop3_or_none_is_accepted_and_another_protocol_refused() {
    let server = server_with_mail(0);
    for (alpn, accepted) in [
        (vec![], true),
        (vec![b"pop3".to_vec()], true),
        (vec![b"imap".to_vec()], false),
    ] {
        let mut config = (*server.client_config()).clone();
        config.alpn_protocols = alpn.clone();
        let tcp = TcpStream::connect(server.addrs.implicit).unwrap();
        tcp.set_read_timeout(Some(PATIENCE)).unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        let mut greeting = [0u8; 3];
        let result = stream.read_exact(&mut greeting);
        assert_eq!(
            result.is_ok() && &greeting == b"+OK",
            accepted,
            "ALPN {alpn:?}: {result:?}"
        );
    }
}

#[test]
fn sigterm_ends_sessions_cleanly_without_update() {
    let mut daemon = Daemon::start(Sections::default(), "");
    let dir = daemon.dir.path().to_owned();
    let maildir = daemon.add_user("alice", "secret");
    let md = pop3_maildrop::Maildir::open(&maildir).unwrap();
    pop3_maildrop::deliver(&md, &message(1)[..]).unwrap();

    let tls = crate::support::client_config(&cert_of(&dir));
    let mut client = Client::connect(daemon.addr(2), tls, false);
    client.line().unwrap();
    client.login("alice", "secret");
    assert!(client.command("DELE 1").starts_with("+OK"));
    daemon.signal("TERM");
    assert_eq!(
        client.line().unwrap(),
        "-ERR [SYS/TEMP] server shutting down"
    );
    assert_eq!(client.line(), None);
    assert!(daemon.child.wait().unwrap().success());
    assert_eq!(
        std::fs::read_dir(maildir.join("cur")).unwrap().count(),
        1,
        "nothing deleted"
    );
    assert_eq!(
        pop3_maildrop::lock_status(&maildir).unwrap(),
        None,
        "no lock left"
    );
}

#[test]
fn the_lock_is_free_as_soon_as_the_client_sees_the_close() {
    // No lock wait: a reconnect right after QUIT (or after a refused login) must never meet
    // its own previous session's lock.
    let server = server_with_mail(1);
    let maildir = server.maildir("alice");
    for round in 0..300 {
        let mut client = server.greet();
        client.login("alice", "secret");
        assert!(client.command("QUIT").starts_with("+OK"));
        assert_eq!(client.line(), None, "round {round}");
        // The instant the client sees the close, the lock must already be gone.
        assert_eq!(
            pop3_maildrop::lock_status(&maildir).unwrap(),
            None,
            "round {round}"
        );
    }
}

#[test]
fn a_password_change_by_another_process_applies_at_the_next_login() {
    let server = server_with_mail(0);
    // Warm the server's database connections.
    for _ in 0..4 {
        let mut client = server.greet();
        client.login("alice", "secret");
        client.command("QUIT");
    }
    let hasher = pop3_auth::PasswordHasher::new(pop3_auth::HashParams {
        m_kib: 64,
        t: 1,
        p: 1,
    })
    .unwrap();
    let alice = pop3_auth::UserName::parse("alice").unwrap();
    server
        .db()
        .set_password(&alice, b"changed", &hasher)
        .unwrap();
    for _ in 0..4 {
        let mut client = server.greet();
        assert_eq!(client.command("USER alice"), "+OK");
        assert_eq!(
            client.command("PASS secret"),
            "-ERR [AUTH] Authentication failed"
        );
        assert_eq!(client.command("USER alice"), "+OK");
        assert!(client.command("PASS changed").starts_with("+OK"));
    }
}
