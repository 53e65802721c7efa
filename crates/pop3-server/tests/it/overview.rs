//! Issue 20: `GET /v1/overview` against a real server with real traffic — its shape, the
//! history moving after logins (one failing from a second address), a RETR and a DELE.
//! The ring's fixed size is unit-tested on a hand-moved clock (`src/overview/ring/tests.rs`).

use std::net::IpAddr;
use std::time::Instant;

use pop3_admin_api::{API_VERSION, HISTORY_SLOTS, History, OVERVIEW_PATH, OverviewResponse};

use crate::support::{Client, PATIENCE, Sections, TestServer, admin_get};

fn overview(server: &TestServer) -> OverviewResponse {
    let (status, body) = admin_get(server, OVERVIEW_PATH);
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Waits (bounded) until the sampler has put `done` into the history.
fn history_until(server: &TestServer, what: &str, done: impl Fn(&History) -> bool) -> History {
    let started = Instant::now();
    loop {
        let history = overview(server).history;
        if done(&history) {
            return history;
        }
        assert!(started.elapsed() < PATIENCE, "{what}: {history:?}");
        std::thread::yield_now();
    }
}

fn sum(series: &[u32]) -> u64 {
    series.iter().map(|&n| u64::from(n)).sum()
}

#[test]
fn overview_has_the_server_facts_and_a_bounded_history() {
    let server = TestServer::start("", "", "");
    let answer = overview(&server);
    assert_eq!(answer.version, API_VERSION);
    let json: serde_json::Value =
        serde_json::from_str(&admin_get(&server, OVERVIEW_PATH).1).unwrap();
    assert_eq!(json["version"], 1, "the API version comes first: {json}");
    let facts = &answer.server;
    assert_eq!(facts.version, env!("CARGO_PKG_VERSION"));
    assert!(facts.started <= facts.now && facts.now - facts.started < 60);
    let listeners: Vec<(String, &str)> = facts
        .listeners
        .iter()
        .map(|l| (l.address.clone(), l.kind.as_str()))
        .collect();
    assert_eq!(
        listeners,
        [
            (server.addrs.starttls.to_string(), "starttls"),
            (server.addrs.implicit.to_string(), "implicit"),
            (server.addrs.plain.to_string(), "none"),
        ]
    );
    // The test certificate is rcgen's default, valid until 4096.
    assert_eq!(facts.certificates.len(), 1, "{:?}", facts.certificates);
    let certificate = &facts.certificates[0];
    assert!(certificate.names.is_empty(), "the default certificate");
    assert!(certificate.file.ends_with("cert.pem"));
    let rcgen_default = rcgen::CertificateParams::default()
        .not_after
        .unix_timestamp();
    assert_eq!(certificate.not_after, Some(rcgen_default));
    assert_eq!(answer.sessions.total(), 0);
    assert_eq!(answer.locks.held, 0);
    assert!(answer.locks.oldest.is_none());
    assert!(answer.failures.is_empty());
    let history = history_until(&server, "a first sample", |h| !h.is_empty());
    assert!(history.len() <= HISTORY_SLOTS);
    for series in [
        &history.authorization,
        &history.transaction,
        &history.update,
        &history.logins_ok,
        &history.logins_failed,
        &history.retrieved,
        &history.deleted,
    ] {
        assert_eq!(series.len(), history.len());
    }
    assert_eq!(history.bytes_sent.len(), history.len());
    assert!(history.end >= facts.started);
}

#[test]
fn overview_counts_logins_failures_retrievals_and_deletions() {
    let server = TestServer::start("penalty_start_ms = 300\npenalty_max_secs = 1", "", "");
    server.add_user("alice", "secret");
    let body = "x".repeat(100_000);
    server.deliver(
        "alice",
        format!("Subject: big\r\n\r\n{body}\r\n").as_bytes(),
    );

    let mut alice = Client::connect(server.addrs.plain, server.client_config(), false);
    alice.line().unwrap();
    alice.login("alice", "secret");
    assert!(alice.command("RETR 1").starts_with("+OK"));
    let lines = alice.body();
    assert!(lines.iter().any(|l| l.contains(&body)));
    assert!(alice.command("DELE 1").starts_with("+OK"));
    let now = overview(&server);
    assert_eq!(now.sessions.transaction, 1, "counted when asked");
    assert_eq!(now.locks.held, 1);
    assert_eq!(
        now.locks.oldest.as_ref().map(|l| l.user.as_str()),
        Some("alice")
    );

    let second: IpAddr = "127.0.0.2".parse().unwrap();
    let mut mallory = Client::connect_from(second, server.addrs.plain, server.client_config());
    mallory.line().unwrap();
    assert!(mallory.command("USER alice").starts_with("+OK"));
    assert!(mallory.command("PASS guess").starts_with("-ERR"));

    let history = history_until(&server, "the traffic in the history", |h| {
        sum(&h.logins_ok) >= 1
            && sum(&h.logins_failed) >= 1
            && sum(&h.retrieved) >= 1
            && sum(&h.deleted) >= 1
            && h.transaction.last() == Some(&1)
            && h.authorization.last() == Some(&1)
    });
    assert_eq!(sum(&history.logins_ok), 1);
    assert_eq!(sum(&history.logins_failed), 1);
    assert_eq!(sum(&history.retrieved), 1);
    assert_eq!(sum(&history.deleted), 1);
    let sent: u64 = history.bytes_sent.iter().sum();
    assert!(sent >= 100_000, "the RETR's octets: {sent}");

    let failures = overview(&server).failures;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].address, "127.0.0.2");
    assert_eq!(failures[0].penalty_ms, 300, "{failures:?}");
    assert!(failures[0].last_failure >= overview(&server).server.started);
    alice.close();
    mallory.close();
}

/// Writes a self-signed pair for `names`, valid until `year`-06-01, as `<stem>.pem` and
/// `<stem>.key` in `dir`; returns that not-after.
fn write_pair_until(dir: &std::path::Path, stem: &str, names: &[&str], year: i32) -> i64 {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .unwrap();
    params.not_after = rcgen::date_time_ymd(year, 6, 1);
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join(format!("{stem}.pem")), cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{stem}.key")), key.serialize_pem()).unwrap();
    params.not_after.unix_timestamp()
}

/// Every certificate in use is listed, the SNI ones with their names, and a reload (SIGHUP)
/// shows the new dates.
#[test]
fn overview_lists_the_sni_certificates_and_follows_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let first = write_pair_until(d, "org", &["mail.example.org"], 2031);
    let sni = format!(
        "\n[[tls.sni]]\nnames = [\"mail.example.org\", \"*.Example.net\"]\n\
         certificate = \"{d}/org.pem\"\nkey = \"{d}/org.key\"\n",
        d = d.display()
    );
    let server = TestServer::start_edited(Sections::default(), |text| {
        text.replacen("\n[data]", &format!("{sni}\n[data]"), 1)
    });
    let certificates = overview(&server).server.certificates;
    assert_eq!(certificates.len(), 2, "{certificates:?}");
    assert!(certificates[0].names.is_empty(), "the default first");
    assert_eq!(certificates[1].names, ["mail.example.org", "*.example.net"]);
    assert_eq!(
        certificates[1].file,
        d.join("org.pem").display().to_string()
    );
    assert_eq!(certificates[1].not_after, Some(first));

    let renewed = write_pair_until(d, "org", &["mail.example.org"], 2032);
    server.tls.as_ref().unwrap().reload().unwrap();
    let certificates = overview(&server).server.certificates;
    assert_eq!(certificates[1].not_after, Some(renewed));
}

/// LMTP's socket and TCP address follow the POP3 listeners.
#[test]
fn overview_lists_the_lmtp_listeners_too() {
    let server = TestServer::start_edited(Sections::default(), |text| {
        let dir = text
            .lines()
            .find_map(|l| l.strip_prefix("certificate = \""))
            .and_then(|l| l.strip_suffix("/cert.pem\""))
            .unwrap()
            .to_owned();
        format!("{text}\n[lmtp]\nsocket = \"{dir}/lmtp.sock\"\naddress = \"127.0.0.1:0\"\n")
    });
    let listeners = overview(&server).server.listeners;
    let lmtp: Vec<(&str, &str)> = listeners[3..]
        .iter()
        .map(|l| (l.address.as_str(), l.kind.as_str()))
        .collect();
    let socket = server.dir.path().join("lmtp.sock").display().to_string();
    let tcp = server.lmtp.unwrap().to_string();
    assert_eq!(lmtp, [(socket.as_str(), "lmtp"), (tcp.as_str(), "lmtp")]);
}
