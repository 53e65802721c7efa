//! Real clients against the real server: Python's poplib, curl, mpop and fetchmail (installed
//! by `.ci/run`). Each downloads mail the test delivered, and the test compares what the client
//! stored with what was delivered, byte for byte after the client's own line-ending
//! convention (CRLF on the wire and for poplib and curl; LF in mpop's and fetchmail's files).

use pop3_auth::UserStore as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Sections, TestServer};

/// The delivered corpus: every line-ending case, dots, no final newline, a large message.
fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/messages");
    let mut messages: Vec<Vec<u8>> = [
        "simple.eml",
        "lf-only.eml",
        "dots.eml",
        "no-final-newline.eml",
        "mixed.eml",
    ]
    .iter()
    .map(|name| std::fs::read(dir.join(name)).unwrap())
    .collect();
    let mut large = b"Subject: large\r\n\r\n".to_vec();
    let mut n = 0u32;
    while large.len() < 300_000 {
        large.extend_from_slice(format!(".line {n} of a large message\n").as_bytes());
        n += 1;
    }
    messages.push(large);
    messages
}

/// The message as it travels: bare LF as CRLF, and a final CRLF if it had no newline.
fn wire(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &b) in message.iter().enumerate() {
        if b == b'\n' && (i == 0 || message[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    if !out.is_empty() && !out.ends_with(b"\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The same with LF line endings, as Unix mail files store it.
fn unix(message: &[u8]) -> Vec<u8> {
    let wire = wire(message);
    let mut out = Vec::with_capacity(wire.len());
    for (i, &b) in wire.iter().enumerate() {
        if !(b == b'\r' && wire.get(i + 1) == Some(&b'\n')) {
            out.push(b);
        }
    }
    out
}

fn server(apop: bool) -> (TestServer, Vec<Vec<u8>>) {
    let auth = if apop { "apop = true" } else { "" };
    let server = TestServer::start_with(Sections {
        auth,
        ..Sections::default()
    });
    server.add_user("alice", "secret");
    if apop {
        let db = server.db();
        let alice = pop3_auth::UserName::parse("alice").unwrap();
        db.set_apop_secret(&alice, Some("apop secret 1")).unwrap();
    }
    let messages = corpus();
    for message in &messages {
        server.deliver("alice", message);
    }
    (server, messages)
}

fn cert(server: &TestServer) -> PathBuf {
    server.dir.path().join("cert.pem")
}

fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Files in a directory, sorted by name, read whole.
fn files_in(dir: &Path) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

/// Compares two sets of messages and reports only the first difference, briefly.
#[track_caller]
fn assert_same(got: &[Vec<u8>], expected: &[Vec<u8>], what: &str) {
    assert_eq!(got.len(), expected.len(), "{what}: message count");
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        if g != e {
            let at = g
                .iter()
                .zip(e.iter())
                .position(|(a, b)| a != b)
                .unwrap_or(g.len().min(e.len()));
            let show = |m: &[u8]| {
                String::from_utf8_lossy(&m[at.saturating_sub(20)..(at + 20).min(m.len())])
                    .into_owned()
            };
            panic!(
                "{what}: message {i} differs at byte {at} (lengths {} and {}): got {:?}, expected {:?}",
                g.len(),
                e.len(),
                show(g),
                show(e)
            );
        }
    }
}

#[test]
fn python_poplib_user_apop_stls_implicit_uidl_top() {
    let (server, messages) = server(true);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/poplib_fetch.py");
    for (mode, auth, port, secret) in [
        ("plain", "user", server.addrs.plain.port(), "secret"),
        ("stls", "user", server.addrs.starttls.port(), "secret"),
        ("ssl", "user", server.addrs.implicit.port(), "secret"),
        ("plain", "apop", server.addrs.plain.port(), "apop secret 1"),
    ] {
        let out = tempfile::tempdir().unwrap();
        let json = run(Command::new("python3")
            .arg(&script)
            .args(["127.0.0.1", &port.to_string(), mode, auth, "alice", secret])
            .arg(cert(&server))
            .arg(out.path()));
        for (n, message) in messages.iter().enumerate() {
            let got = std::fs::read(out.path().join(format!("{}.eml", n + 1))).unwrap();
            assert!(
                got == wire(message),
                "{mode}/{auth}: message {} differs",
                n + 1
            );
        }
        assert!(
            json.contains(&format!("\"count\": {}", messages.len())),
            "{json}"
        );
        assert!(json.contains("\"uidl\": [\"1 "), "{json}");
        assert!(
            json.contains("\"top\": [\"From: Alice <alice@example.org>\""),
            "{json}"
        );
    }
    assert_eq!(server.message_count("alice"), messages.len());
}

#[test]
fn curl_list_retr_stls_implicit_sasl_and_dele() {
    let (server, messages) = server(false);
    let cafile = cert(&server);
    let curl = |url: String, extra: &[&str]| {
        let mut command = Command::new("curl");
        command
            .args([
                "--silent",
                "--show-error",
                "--user",
                "alice:secret",
                "--cacert",
            ])
            .arg(&cafile)
            .args(extra)
            .arg(url);
        run(&mut command)
    };
    let plain = server.addrs.plain.port();
    let starttls = server.addrs.starttls.port();
    let implicit = server.addrs.implicit.port();
    let listing = curl(format!("pop3://127.0.0.1:{plain}/"), &[]);
    assert_eq!(listing.lines().count(), messages.len());
    for (n, message) in messages.iter().enumerate() {
        let expected = String::from_utf8_lossy(&wire(message)).into_owned();
        let n = n + 1;
        for (url, extra) in [
            (format!("pop3://127.0.0.1:{plain}/{n}"), vec![]),
            (
                format!("pop3://localhost:{starttls}/{n}"),
                vec!["--ssl-reqd"],
            ),
            (format!("pop3s://localhost:{implicit}/{n}"), vec![]),
            (
                format!("pop3://127.0.0.1:{plain}/{n}"),
                vec!["--login-options", "AUTH=PLAIN"],
            ),
            (
                format!("pop3://127.0.0.1:{plain}/{n}"),
                vec!["--login-options", "AUTH=LOGIN"],
            ),
        ] {
            let got = curl(url.clone(), &extra);
            assert!(got == expected, "{url} {extra:?}: message {n} differs");
        }
    }
    // DELE through curl, then the file is gone.
    curl(
        format!("pop3://127.0.0.1:{plain}/1"),
        &["--request", "DELE", "--list-only"],
    );
    assert_eq!(server.message_count("alice"), messages.len() - 1);
}

fn mpop_config(server: &TestServer, port: u16, tls: &str, out: &Path, keep: bool) -> PathBuf {
    let path = server.dir.path().join(format!("mpoprc-{port}-{keep}"));
    let text = format!(
        "defaults\nauth user\nuser alice\npassword secret\n{tls}\ntls_trust_file {cafile}\n\
         uidls_file {uidls}\ndelivery maildir {out}\nkeep {keep}\nreceived_header off\n\
         account test\nhost 127.0.0.1\nport {port}\n",
        cafile = cert(server).display(),
        uidls = server.dir.path().join(format!("uidls-{port}")).display(),
        out = out.display(),
        keep = if keep { "on" } else { "off" },
    );
    std::fs::write(&path, text).unwrap();
    let _ = Command::new("chmod").arg("600").arg(&path).status();
    path
}

#[test]
fn mpop_to_a_maildir_leave_on_server_stls_implicit_delete() {
    if !tool_exists("mpop") {
        panic!("mpop is not installed: .ci/run installs it (apt-get install mpop)");
    }
    let (server, messages) = server(false);
    let expected = sorted(messages.iter().map(|m| unix(m)).collect());
    for (port, tls) in [
        (server.addrs.starttls.port(), "tls on\ntls_starttls on"),
        (server.addrs.implicit.port(), "tls on\ntls_starttls off"),
    ] {
        let out = tempfile::tempdir().unwrap();
        pop3_maildrop::Maildir::create(out.path()).unwrap();
        let rc = mpop_config(&server, port, tls, out.path(), true);
        run(Command::new("mpop")
            .arg("-C")
            .arg(&rc)
            .arg("-q")
            .arg("test"));
        assert_same(
            &sorted(files_in(&out.path().join("new"))),
            &expected,
            &format!("mpop port {port}"),
        );
        // Leave on server: a second run fetches nothing new.
        run(Command::new("mpop")
            .arg("-C")
            .arg(&rc)
            .arg("-q")
            .arg("test"));
        assert_eq!(
            files_in(&out.path().join("new")).len(),
            messages.len(),
            "refetched"
        );
        assert_eq!(server.message_count("alice"), messages.len());
    }
    // keep off: mpop fetches what is new for its UIDL file, then deletes everything it has.
    let out = tempfile::tempdir().unwrap();
    pop3_maildrop::Maildir::create(out.path()).unwrap();
    let rc = mpop_config(
        &server,
        server.addrs.starttls.port(),
        "tls on\ntls_starttls on",
        out.path(),
        false,
    );
    run(Command::new("mpop")
        .arg("-C")
        .arg(&rc)
        .arg("-q")
        .arg("--only-new=off")
        .arg("test"));
    assert_eq!(server.message_count("alice"), 0);
    assert_same(
        &sorted(files_in(&out.path().join("new"))),
        &expected,
        "mpop keep off",
    );
}

#[test]
fn fetchmail_plain_stls_implicit() {
    if !tool_exists("fetchmail") {
        panic!("fetchmail is not installed: .ci/run installs it (apt-get install fetchmail)");
    }
    let (server, messages) = server(false);
    // fetchmail stores LF line endings and also drops a CR inside a line.
    let expected = sorted(messages.iter().map(|m| without_cr(&unix(m))).collect());
    for (port, tls) in [
        (server.addrs.plain.port(), "sslproto ''"),
        (
            server.addrs.starttls.port(),
            "sslproto 'tls1.2+' sslcertck sslcommonname localhost",
        ),
        (
            server.addrs.implicit.port(),
            "ssl sslcertck sslcommonname localhost",
        ),
    ] {
        let out = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let rc = home.path().join("fetchmailrc");
        let text = format!(
            "set no syslog\n\
             set invisible\n\
             poll 127.0.0.1 with proto POP3 port {port} uidl\n\
             \x20 user 'alice' there with password 'secret' is 'root' here\n\
             \x20 {tls} sslcertfile '{cafile}'\n\
             \x20 keep fetchall norewrite\n\
             \x20 mda \"/bin/sh -c 'cat > {out}/$(date +%s%N)-$$'\"\n",
            cafile = cert(&server).display(),
            out = out.path().display(),
        );
        std::fs::write(&rc, text).unwrap();
        let _ = Command::new("chmod").arg("600").arg(&rc).status();
        run(Command::new("fetchmail")
            .env("HOME", home.path())
            .arg("--fetchmailrc")
            .arg(&rc)
            .args(["--nodetach", "--silent"]));
        let got = sorted(
            files_in(out.path())
                .into_iter()
                .map(strip_fetchmail_envelope)
                .collect(),
        );
        assert_same(&got, &expected, &format!("fetchmail port {port}"));
    }
    assert_eq!(
        server.message_count("alice"),
        messages.len(),
        "keep left the mail"
    );
}

/// fetchmail with an MDA prepends nothing when `invisible`; it may still add a
/// Delivered-To or Return-Path line of its own, which the comparison ignores.
fn strip_fetchmail_envelope(message: Vec<u8>) -> Vec<u8> {
    let mut rest = &message[..];
    while rest.starts_with(b"Return-Path:") || rest.starts_with(b"Delivered-To:") {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        rest = &rest[end..];
    }
    rest.to_vec()
}

fn without_cr(message: &[u8]) -> Vec<u8> {
    message.iter().copied().filter(|&b| b != b'\r').collect()
}

fn tool_exists(name: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success())
}
