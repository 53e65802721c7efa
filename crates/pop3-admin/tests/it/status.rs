//! Issue 20: `pop3-admin status` against a real pop3d: it agrees with `/metrics`, and its exit
//! status is a monitoring plugin's — 0 OK, 1 a certificate within 14 days, 2 down, 3 a pop3d
//! of another admin API version.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixListener;
use std::time::Instant;

use crate::peers::{PATIENCE, Pop3d, free_port};
use crate::support::Site;

/// A site served by a pop3d with `/metrics` on its own port and a certificate whose not-after
/// is `days` from now (a STLS listener needs it).
struct Served {
    site: Site,
    _pop3d: Pop3d,
    pop3: u16,
    metrics: u16,
}

fn serve(days: u64) -> Served {
    let site = Site::new();
    let (code, _, err) = site.run(&["user", "add", "alice", "--password-stdin"], b"pw\n");
    assert_eq!(code, 0, "{err}");
    let (pop3, metrics) = (free_port(), free_port());
    let dir = site.dir.path();
    write_certificate(dir, days);
    site.serve_on(
        pop3,
        &format!(
            "\n[tls]\ncertificate = \"{cert}\"\nkey = \"{key}\"\n",
            cert = dir.join("cert.pem").display(),
            key = dir.join("key.pem").display(),
        ),
    );
    let config = std::fs::read_to_string(&site.config).unwrap();
    let config = config
        .replace("tls = \"none\"", "tls = \"starttls\"")
        .replace(
            "[metrics]\nenabled = false\n",
            &format!("[metrics]\naddress = \"127.0.0.1:{metrics}\"\n"),
        );
    std::fs::write(&site.config, config).unwrap();
    let pop3d = Pop3d::start(&site.config);
    Served {
        site,
        _pop3d: pop3d,
        pop3,
        metrics,
    }
}

/// A self-signed certificate for localhost valid until `days` from today (UTC).
fn write_certificate(dir: &std::path::Path, days: u64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let date = pop3_maildrop::utc_timestamp(now + days * 86_400);
    let (year, month, day) = (&date[0..4], &date[5..7], &date[8..10]);
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
    params.not_after = rcgen::date_time_ymd(
        year.parse().unwrap(),
        month.parse().unwrap(),
        day.parse().unwrap(),
    );
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
}

fn scrape(port: u16) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

/// The value of the one series of `/metrics` starting with `series`.
fn metric(text: &str, series: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(series))
        .unwrap_or_else(|| panic!("{series} missing"))
        .trim()
        .to_owned()
}

/// Logs in as alice and stays in TRANSACTION until dropped.
fn logged_in(port: u16) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    for command in ["USER alice", "PASS pw"] {
        reader
            .get_mut()
            .write_all(format!("{command}\r\n").as_bytes())
            .unwrap();
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with("+OK"), "{command}: {line}");
    }
    reader
}

#[test]
fn status_agrees_with_metrics_and_is_ok_with_a_distant_certificate() {
    let served = serve(200);
    let _alice = logged_in(served.pop3);
    let (code, json, err) = served.site.run(&["status", "--json"], b"");
    assert_eq!(code, 0, "{json}{err}");
    let status: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(status["status"], "ok", "{json}");
    let node = &status["nodes"][0];
    assert_eq!(node["up"], true);
    let server = &node["server"];
    let text = scrape(served.metrics);
    let version = server["version"].as_str().unwrap();
    assert_eq!(
        metric(&text, &format!("pop3_build_info{{version=\"{version}\"}}")),
        "1",
        "{text}"
    );
    for (state, key) in [
        ("AUTHORIZATION", "authorization"),
        ("TRANSACTION", "transaction"),
        ("UPDATE", "update"),
    ] {
        let scraped = metric(&text, &format!("pop3_sessions{{state=\"{state}\"}}"));
        assert_eq!(
            scraped,
            server["sessions"][key].to_string(),
            "{state}: {json}"
        );
    }
    assert_eq!(server["sessions"]["transaction"], 1, "{json}");
    assert_eq!(
        metric(&text, "pop3_mailbox_locks_held"),
        server["locks_held"].to_string()
    );
    let certificate = &server["certificates"][0];
    assert_eq!(certificate["expires_soon"], false, "{json}");
    let days = certificate["days_left"].as_i64().unwrap();
    assert!((199..=200).contains(&days), "{json}");

    let (code, line, _) = served.site.run(&["status"], b"");
    assert_eq!(code, 0);
    assert!(line.starts_with("OK - pop3d "), "{line}");
    assert!(
        line.contains("1 sessions (0 authorization, 1 transaction"),
        "{line}"
    );
    assert_eq!(line.lines().count(), 1, "{line}");
}

#[test]
fn a_certificate_expiring_within_14_days_is_a_warning() {
    let served = serve(5);
    let (code, line, err) = served.site.run(&["status"], b"");
    assert_eq!(code, 1, "{line}{err}");
    assert!(line.starts_with("WARNING - "), "{line}");
    assert!(line.contains("EXPIRES SOON cert.pem"), "{line}");
    let (code, json, _) = served.site.run(&["status", "--json"], b"");
    assert_eq!(code, 1);
    let status: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(status["status"], "warning");
    let certificate = &status["nodes"][0]["server"]["certificates"][0];
    assert_eq!(certificate["expires_soon"], true, "{json}");
}

#[test]
fn a_server_that_is_down_is_critical() {
    let site = Site::new();
    let (code, line, _) = site.run(&["status"], b"");
    assert_eq!(code, 2, "{line}");
    assert!(
        line.starts_with("CRITICAL - pop3d is not running at"),
        "{line}"
    );
    let socket = site.dir.path().join("admin.sock");
    let (code, json, _) = site.run(
        &[
            "--node",
            &format!("a={}", socket.display()),
            "--node",
            "b=/nonexistent/admin.sock",
            "status",
            "--json",
        ],
        b"",
    );
    assert_eq!(code, 2);
    let status: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(status["nodes"].as_array().unwrap().len(), 2, "{json}");
    assert_eq!(status["nodes"][1]["up"], false);
}

/// A socket that answers one request with `status` and `body`, as a pop3d of another
/// release would.
fn answering(status: &'static str, body: &'static str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("admin.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        // The whole request first: closing before it is read would break the client's pipe.
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
            request.push(byte[0]);
        }
        write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
    });
    let node = format!("n={}", socket.display());
    (dir, node)
}

#[test]
fn a_server_of_another_api_version_is_unknown_in_one_line() {
    let (_dir, node) = answering("200 OK", r#"{"version":2,"everything":"different"}"#);
    let started = Instant::now();
    let (code, line, _) = Site::new().run(&["--node", &node, "status"], b"");
    assert!(started.elapsed() < PATIENCE);
    assert_eq!(code, 3, "{line}");
    assert_eq!(
        line.trim_end(),
        "n UNKNOWN - pop3d speaks admin API version 2, this pop3-admin version 1: use the \
         pop3-admin of the same release"
    );
}

/// A pop3d from before the overview answers its 404 for an unknown endpoint.
#[test]
fn a_server_without_the_overview_is_unknown_in_one_line() {
    let (_dir, node) = answering(
        "404 Not Found",
        r#"{"version":1,"error":"no such endpoint"}"#,
    );
    let (code, line, _) = Site::new().run(&["--node", &node, "status"], b"");
    assert_eq!(code, 3, "{line}");
    assert_eq!(
        line.trim_end(),
        "n UNKNOWN - this pop3d has no /v1/overview: it is older than this pop3-admin"
    );
}

/// Issue 20 review S4: two nodes, one down: the first line (the one a monitor reads) is the
/// aggregate — CRITICAL, how many are down, every node's performance data prefixed by
/// node — then a line per node without performance data; exit 2.
#[test]
fn two_nodes_one_down_give_a_critical_aggregate_first() {
    let served = serve(200);
    let socket = served.site.dir.path().join("admin.sock");
    let (code, text, err) = served.site.run(
        &[
            "--node",
            &format!("a={}", socket.display()),
            "--node",
            "b=/nonexistent/admin.sock",
            "status",
        ],
        b"",
    );
    assert_eq!(code, 2, "{text}{err}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("CRITICAL - 1 of 2 nodes down; a OK, b CRITICAL | a_sessions=0 a_locks=0 a_certificate_days="),
        "{text}"
    );
    assert!(lines[1].starts_with("a OK - pop3d "), "{text}");
    assert!(lines[2].starts_with("b CRITICAL - "), "{text}");
    assert_eq!(text.matches('|').count(), 1, "{text}");
}

/// Issue 20 review S4: a usage error of `status` is UNKNOWN (3) for a monitor, not 2
/// (CRITICAL); other commands keep 2.
#[test]
fn a_usage_error_of_status_is_unknown() {
    let site = Site::new();
    let (code, _, err) = site.run(&["status", "--bogus"], b"");
    assert_eq!(code, 3, "{err}");
    let (code, _, err) = site.run(&["--node", "bad name=/x", "status"], b"");
    assert_eq!(code, 3, "{err}");
    let (code, _, err) = site.run(&["sessions", "--bogus"], b"");
    assert_eq!(code, 2, "{err}");
    let (code, out, _) = site.run(&["status", "--help"], b"");
    assert_eq!(code, 0);
    assert!(out.contains("usage error of `status` exits 3"), "{out}");
}

/// Issue 20 review D2, end to end: a node whose overview lists an unreadable certificate
/// next to an expired one is CRITICAL (exit 2), not WARNING; the line names the expired one
/// and the days come from it. (A real pop3d refuses to start with an unreadable certificate
/// file, so the answer is the admin socket's, canned.)
#[test]
fn an_unreadable_certificate_does_not_hide_an_expired_one() {
    let now = 1_795_000_000u64;
    let overview = serde_json::json!({
        "version": 1,
        "server": {
            "version": "1.2.0", "started": now - 60, "now": now, "listeners": [],
            "certificates": [
                {"file": "/etc/pop3d/unreadable.pem", "names": [], "not_after": null},
                {"file": "/etc/pop3d/expired.pem", "names": [], "not_after": now - 86_400},
            ],
        },
        "sessions": {"authorization": 0, "transaction": 0, "update": 0},
        "history": {"end": now, "authorization": [], "transaction": [], "update": [],
            "logins_ok": [], "logins_failed": [], "bytes_sent": [], "retrieved": [],
            "deleted": []},
        "locks": {"held": 0, "oldest": null},
        "failures": [],
    });
    let body: &'static str = Box::leak(overview.to_string().into_boxed_str());
    let (_dir, node) = answering("200 OK", body);
    let (code, line, err) = Site::new().run(&["--node", &node, "status"], b"");
    assert_eq!(code, 2, "{line}{err}");
    assert!(
        line.starts_with("n CRITICAL - ") && line.contains("worst EXPIRED expired.pem"),
        "{line}"
    );
    assert!(
        line.trim_end().ends_with("certificate_days=-1;14:;0:"),
        "{line}"
    );
}
