//! SCRAM-SHA-256 (RFC 7677, issue 19) over the real socket, with the real clients that speak
//! it: mpop (GNU SASL) and Cyrus `pop3test` (libsasl2's SCRAM plugin), and by hand for what
//! no client sends (malformed messages, cancels).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pop3_auth::UserStore as _;
use pop3_auth::{PasswordHasher, UserDb, UserName, default_maildir};
use pop3_maildrop::Maildir;
use pop3_proto::sasl;

use crate::support::{TestServer, cheap_hasher};

pub(crate) const ON: &str = "scram_sha256 = true";

/// Every client of these tests must be there: `.ci/run` installs them, and a missing one is
/// a failure, never a skip.
fn require(tool: &str, package: &str) -> PathBuf {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    match found {
        Some(path) => path,
        None if Path::new(tool).exists() => PathBuf::from(tool),
        None => panic!("{tool} is not installed: .ci/run installs it (apt-get install {package})"),
    }
}

const POP3TEST: &str = "/usr/lib/cyrus/bin/pop3test";

/// The hasher `pop3-admin` makes from the server's config file.
pub(crate) fn admin_hasher(server: &TestServer) -> PasswordHasher {
    let text = std::fs::read_to_string(server.dir.path().join("pop3d.toml")).unwrap();
    let settings = pop3_config::AdminSettings::parse(&text, "pop3d.toml").unwrap();
    PasswordHasher::new(settings.argon2)
        .unwrap()
        .with_scram(settings.scram_iterations)
        .unwrap()
}

/// Adds a user as `pop3-admin user add` does on this site, with a message.
pub(crate) fn add(server: &TestServer, name: &str, password: &str, hasher: &PasswordHasher) {
    let db = UserDb::open(&server.db_path).unwrap();
    let user = UserName::parse(name).unwrap();
    let maildir = default_maildir(&server.mail_root, &user);
    db.add(&user, password.as_bytes(), &maildir, hasher)
        .unwrap();
    Maildir::create(&maildir).unwrap();
    server.deliver(name, format!("Subject: for {name}\n\nhello\n").as_bytes());
}

fn keys(server: &TestServer, name: &str) -> Option<String> {
    server
        .db()
        .get(&UserName::parse(name).unwrap())
        .unwrap()
        .unwrap()
        .scram_sha256
}

/// Cyrus `pop3test` authenticating with SCRAM-SHA-256 on the plaintext listener, then STAT
/// and QUIT; its whole output.
pub(crate) fn pop3test(server: &TestServer, name: &str, password: &str) -> (bool, String) {
    pop3test_on(server, name, password, false)
}

/// [`pop3test`], on the implicit-TLS listener with `tls` (`-s`).
fn pop3test_on(server: &TestServer, name: &str, password: &str, tls: bool) -> (bool, String) {
    let tool = require(POP3TEST, "cyrus-clients libsasl2-modules");
    let commands = server.dir.path().join(format!("pop3test-{name}"));
    std::fs::write(&commands, "STAT\r\nQUIT\r\n").unwrap();
    let (port, tls_args): (u16, &[&str]) = if tls {
        (server.addrs.implicit.port(), &["-s"])
    } else {
        (server.addrs.plain.port(), &[])
    };
    let output = Command::new(tool)
        .args(tls_args)
        .args(["-m", "SCRAM-SHA-256", "-a", name, "-w", password, "-p"])
        .arg(port.to_string())
        .arg("-f")
        .arg(&commands)
        .arg("127.0.0.1")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = both(&output);
    let ok = text.contains("+OK 1 ") && !text.contains("Authentication failed");
    (ok, text)
}

fn both(output: &Output) -> String {
    format!(
        "status {:?}\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// mpop with `auth scram-sha-256` fetching into a fresh Maildir on the plaintext listener
/// (SCRAM sends no password, so no TLS is needed) or over STLS; the files it delivered.
pub(crate) fn mpop(
    server: &TestServer,
    name: &str,
    password: &str,
    tls: bool,
) -> (bool, usize, String) {
    let tool = require("mpop", "mpop");
    let out = tempfile::tempdir().unwrap();
    Maildir::create(out.path()).unwrap();
    let (port, tls_lines) = if tls {
        (server.addrs.starttls.port(), "tls on\ntls_starttls on")
    } else {
        (server.addrs.plain.port(), "tls off")
    };
    let cert = server.dir.path().join("cert.pem");
    let rc = server.dir.path().join(format!("mpoprc-{name}-{port}"));
    std::fs::write(
        &rc,
        format!(
            "defaults\nauth scram-sha-256\nuser {name}\npassword {password}\n{tls_lines}\n\
             tls_trust_file {cert}\nuidls_file {uidls}\ndelivery maildir {out}\nkeep on\n\
             received_header off\naccount test\nhost 127.0.0.1\nport {port}\n",
            cert = cert.display(),
            uidls = out.path().join("uidls").display(),
            out = out.path().display(),
        ),
    )
    .unwrap();
    let _ = Command::new("chmod").arg("600").arg(&rc).status();
    let output = Command::new(tool)
        .arg("-C")
        .arg(&rc)
        .arg("-q")
        .arg("test")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let fetched = std::fs::read_dir(out.path().join("new")).unwrap().count();
    (output.status.success(), fetched, both(&output))
}

#[test]
fn scram_mpop_logs_in_and_retrieves() {
    // Cleartext passwords refused everywhere but over TLS: SCRAM still works in plaintext.
    let server = TestServer::start(&format!("{ON}\ncleartext = \"never\""), "", "");
    add(&server, "alice", "pencil", &admin_hasher(&server));
    assert!(keys(&server, "alice").is_some(), "user add writes the keys");
    for tls in [false, true] {
        let (ok, fetched, log) = mpop(&server, "alice", "pencil", tls);
        assert!(ok, "tls {tls}: {log}");
        assert_eq!(fetched, 1, "{log}");
    }
    let (ok, fetched, log) = mpop(&server, "alice", "wrong", false);
    assert!(!ok, "{log}");
    assert_eq!(fetched, 0);
    assert!(log.contains("authentication failed"), "{log}");
}

#[test]
fn scram_cyrus_pop3test_authenticates() {
    let server = TestServer::start(ON, "", "");
    add(&server, "alice", "pencil", &admin_hasher(&server));
    let (ok, log) = pop3test(&server, "alice", "pencil");
    assert!(ok, "{log}");
    // And over implicit TLS. (libsasl2 binds only with `tls-unique`, which TLS 1.3 does not
    // define, so it sends `n` here too; the `y` flag is covered by pop3-auth's unit tests.)
    let (ok, log) = pop3test_on(&server, "alice", "pencil", true);
    assert!(ok, "{log}");
    let (ok, log) = pop3test(&server, "alice", "wrong");
    assert!(!ok, "{log}");
    assert!(log.contains("-ERR [AUTH] Authentication failed"), "{log}");
    // Both went through the login path of every mechanism: counted, and (for the failure)
    // throttled and logged there.
    let metrics = crate::support::scrape(&server);
    for line in [
        r#"pop3_auth_attempts_total{mechanism="scram-sha-256",result="success"} 2"#,
        r#"pop3_auth_attempts_total{mechanism="scram-sha-256",result="failure"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
}

#[test]
fn scram_failures_wait_the_failure_delay_like_any_other() {
    let server = TestServer::start(&format!("{ON}\nfailure_delay_ms = 700"), "", "");
    add(&server, "alice", "pencil", &admin_hasher(&server));
    for name in ["alice", "nobody"] {
        let started = std::time::Instant::now();
        let (ok, log) = pop3test(&server, name, "wrong");
        assert!(!ok, "{log}");
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(700),
            "{name}: answered after {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn scram_without_keys_fails_like_a_wrong_password_until_a_password_login() {
    let server = TestServer::start(ON, "", "");
    // Added without keys: an import, or a user from before the site enabled SCRAM.
    add(&server, "alice", "pencil", &cheap_hasher());
    assert_eq!(keys(&server, "alice"), None);
    let (ok, keyless) = pop3test(&server, "alice", "pencil");
    assert!(!ok, "{keyless}");
    let (_, wrong) = pop3test(&server, "nobody", "pencil");
    for log in [&keyless, &wrong] {
        assert!(log.contains("-ERR [AUTH] Authentication failed"), "{log}");
    }
    // A USER/PASS login derives them; then SCRAM works.
    let mut client = server.greet();
    client.login("alice", "pencil");
    client.close();
    assert!(keys(&server, "alice").is_some());
    let (ok, log) = pop3test(&server, "alice", "pencil");
    assert!(ok, "{log}");
    let (ok, fetched, log) = mpop(&server, "alice", "pencil", false);
    assert!(ok && fetched == 1, "{log}");
}

#[test]
fn scram_a_password_change_makes_the_old_password_fail() {
    let server = TestServer::start(ON, "", "");
    let hasher = admin_hasher(&server);
    add(&server, "alice", "pencil", &hasher);
    assert!(pop3test(&server, "alice", "pencil").0);
    // What `pop3-admin user passwd` runs, with the hasher it makes from this config.
    server
        .db()
        .set_password(&UserName::parse("alice").unwrap(), b"crayon", &hasher)
        .unwrap();
    let (ok, log) = pop3test(&server, "alice", "pencil");
    assert!(!ok, "{log}");
    let (ok, log) = pop3test(&server, "alice", "crayon");
    assert!(ok, "{log}");
    let (ok, _, log) = mpop(&server, "alice", "pencil", false);
    assert!(!ok, "{log}");
}

#[test]
fn scram_off_by_default_is_neither_listed_nor_accepted_nor_derived() {
    let server = TestServer::start("", "", "");
    add(&server, "alice", "pencil", &admin_hasher(&server));
    assert_eq!(keys(&server, "alice"), None);
    let mut client = server.greet();
    let capa = client.command("CAPA");
    let mut lines = vec![capa];
    lines.extend(client.body());
    assert!(lines.iter().all(|l| !l.contains("SCRAM")), "{lines:?}");
    assert_eq!(
        client.command("AUTH SCRAM-SHA-256"),
        "-ERR unsupported mechanism: SCRAM-SHA-256"
    );
    client.login("alice", "pencil");
    client.close();
    assert_eq!(
        keys(&server, "alice"),
        None,
        "no keys on a site without SCRAM"
    );
    let (ok, log) = pop3test(&server, "alice", "pencil");
    assert!(!ok, "{log}");
}

#[test]
fn scram_is_listed_without_tls_and_malformed_messages_get_a_reason() {
    let server = TestServer::start(&format!("{ON}\ncleartext = \"never\""), "", "");
    add(&server, "alice", "pencil", &admin_hasher(&server));
    let mut client = server.greet();
    let capa = client.command("CAPA");
    let mut lines = vec![capa];
    lines.extend(client.body());
    assert!(
        lines.contains(&"SASL SCRAM-SHA-256".to_owned()),
        "{lines:?}"
    );
    let exchange = |client: &mut crate::support::Client, first: &[u8]| {
        assert_eq!(client.command("AUTH SCRAM-SHA-256"), "+ ");
        client.command(&sasl::encode(first))
    };
    assert_eq!(
        exchange(&mut client, b"p=tls-exporter,,n=alice,r=abc"),
        "-ERR channel binding not supported"
    );
    assert_eq!(
        exchange(&mut client, b"n,,m=x,n=alice,r=abc"),
        "-ERR unsupported SCRAM extension"
    );
    assert_eq!(client.command("AUTH SCRAM-SHA-256"), "+ ");
    // The third malformed message in a row closes the connection, like any invalid command.
    assert_eq!(
        client.command("***"),
        "-ERR invalid base64 in SASL response; too many invalid commands, closing connection"
    );

    // The same fake salt for an unknown name every time; a wrong nonce; a cancel.
    let mut client = server.greet();
    let first = exchange(&mut client, b"n,,n=nobody,r=abc");
    // A cancel after the server-first-message is a failed login (issue 19 D3).
    assert_eq!(client.command("*"), "-ERR [AUTH] Authentication failed");
    let again = exchange(&mut client, b"n,,n=nobody,r=abc");
    let salt = |challenge: &str| {
        let decoded = sasl::decode_response(&challenge.as_bytes()[2..]).unwrap();
        let text = String::from_utf8(decoded).unwrap();
        text.split_once(",s=").unwrap().1.to_owned()
    };
    assert_eq!(salt(&first), salt(&again));
    assert!(salt(&first).ends_with(",i=4096"));
    let reply = client.command(&sasl::encode(b"c=biws,r=abcWRONG,p=AAAA"));
    assert_eq!(reply, "-ERR nonce does not match");
    // Both ends after the server-first-message were failed logins (issue 19 D3).
    let metrics = crate::support::scrape(&server);
    assert!(
        metrics.contains(
            r#"pop3_auth_attempts_total{mechanism="scram-sha-256",result="abandoned"} 2"#
        ),
        "{metrics}"
    );
    client.close();
}

/// The server-first-message of `name`'s exchange: `AUTH SCRAM-SHA-256` with the
/// client-first-message as initial response, and how long the reply took.
fn server_first(client: &mut crate::support::Client, name: &str) -> (String, std::time::Duration) {
    let first = sasl::encode(format!("n,,n={name},r=abc").as_bytes());
    let started = std::time::Instant::now();
    let reply = client.command(&format!("AUTH SCRAM-SHA-256 {first}"));
    (reply, started.elapsed())
}

/// Issue 19 D3: AUTH and `*` in a loop on one connection, each round a database query and a
/// salt, is a failed login per round: the address's penalty grows and is waited before the
/// next server-first-message, the connection closes at the failed-auth limit, and each is
/// counted (`result="abandoned"`) and logged for fail2ban.
#[test]
fn scram_abandoned_exchanges_are_throttled_failed_logins() {
    let server = TestServer::start(
        &format!("{ON}\npenalty_start_ms = 300\npenalty_max_secs = 4\nfailure_delay_ms = 0"),
        "failed_auths = 3",
        "",
    );
    add(&server, "alice", "pencil", &admin_hasher(&server));
    let mut client = server.greet();
    let mut waits = Vec::new();
    for _ in 0..3 {
        let (reply, took) = server_first(&mut client, "alice");
        assert!(reply.starts_with("+ "), "{reply}");
        waits.push(took);
        assert_eq!(client.command("*"), "-ERR [AUTH] Authentication failed");
    }
    assert_eq!(client.line(), None, "closed after the failed-auth limit");
    // No penalty before the first failure; 300 ms after it, 600 ms after the second.
    assert!(
        waits[0] < std::time::Duration::from_millis(300),
        "{waits:?}"
    );
    assert!(
        waits[1] >= std::time::Duration::from_millis(300),
        "{waits:?}"
    );
    assert!(
        waits[2] >= std::time::Duration::from_millis(600),
        "{waits:?}"
    );
    // The penalty is the address's: a new connection waits it too, before any query.
    let mut client = server.greet();
    let (reply, took) = server_first(&mut client, "nobody");
    assert!(reply.starts_with("+ "), "{reply}");
    assert!(took >= std::time::Duration::from_millis(1200), "{took:?}");
    assert_eq!(client.command("*"), "-ERR [AUTH] Authentication failed");
    let metrics = crate::support::scrape(&server);
    assert!(
        metrics.contains(
            r#"pop3_auth_attempts_total{mechanism="scram-sha-256",result="abandoned"} 4"#
        ),
        "{metrics}"
    );
}

/// Issue 19 nit: a SCRAM user is authenticated only when the client acknowledges the
/// server-final-message; after a cancel there the session has no user (the registry shows
/// none) and must log in again.
#[test]
fn scram_a_cancel_after_the_server_final_leaves_no_user() {
    let server = TestServer::start(ON, "", "");
    add(&server, "alice", "pencil", &admin_hasher(&server));
    let mut client = server.greet();
    let (reply, _) = server_first(&mut client, "alice");
    let challenge = sasl::decode_response(&reply.as_bytes()[2..]).unwrap();
    let challenge = String::from_utf8(challenge).unwrap();
    let final_message = client_final("pencil", "n=alice,r=abc", &challenge);
    let reply = client.command(&sasl::encode(final_message.as_bytes()));
    assert!(reply.starts_with("+ "), "{reply}");
    assert_eq!(client.command("*"), "-ERR authentication cancelled");
    let (status, sessions) = crate::support::admin_get(&server, "/v1/sessions");
    assert_eq!(status, 200);
    assert!(!sessions.contains("alice"), "{sessions}");
    assert_eq!(client.command("STAT"), "-ERR STAT not allowed before login");
    client.close();
}

/// A client's final message for `password` (RFC 5802 §3), as a client computes it.
fn client_final(password: &str, client_first_bare: &str, server_first: &str) -> String {
    use hmac::{Hmac, KeyInit as _, Mac as _};
    use sha2::{Digest as _, Sha256};
    let field = |key: &str| {
        server_first
            .split(',')
            .find_map(|f| f.strip_prefix(key))
            .unwrap()
            .to_owned()
    };
    let (nonce, salt, iterations) = (field("r="), field("s="), field("i="));
    let salt = sasl::decode_response(salt.as_bytes()).unwrap();
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(
        password.as_bytes(),
        &salt,
        iterations.parse().unwrap(),
        &mut salted,
    );
    let hmac = |key: &[u8], data: &[u8]| {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    };
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = Sha256::digest(&client_key);
    let without_proof = format!("c=biws,r={nonce}");
    let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
    let signature = hmac(&stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(signature)
        .map(|(k, s)| k ^ s)
        .collect();
    format!("{without_proof},p={}", sasl::encode(&proof))
}

/// Issue 19 D3: a client that disconnects between the server-first and the client-final
/// message got a salt too: counted as a failed login, with the fail2ban line.
#[test]
fn scram_a_disconnect_mid_exchange_is_a_failed_login() {
    let daemon = crate::daemon::Daemon::start(
        crate::support::Sections {
            auth: ON,
            ..crate::support::Sections::default()
        },
        "",
    );
    daemon.add_user("alice", "pencil");
    let mut client = daemon.greet();
    let (reply, _) = server_first(&mut client, "nobody");
    assert!(reply.starts_with("+ "), "{reply}");
    drop(client);
    daemon.wait_for("session end", 1);
    let log = daemon.log();
    assert!(
        log.contains(
            "auth failed: user=nobody rip=127.0.0.1 mechanism=scram-sha-256 reason=abandoned"
        ),
        "{log}"
    );
}

/// The salt shown to `name` by `node` of `cluster`, from the plaintext front.
fn salt_on(cluster: &crate::cluster::Cluster, node: usize, name: &str) -> String {
    let mut client = cluster.client(node, crate::cluster::Front::Plain, "127.0.0.1");
    let (reply, _) = server_first(&mut client, name);
    assert!(reply.starts_with("+ "), "{reply}");
    let message = sasl::decode_response(&reply.as_bytes()[2..]).unwrap();
    let salt = String::from_utf8(message).unwrap();
    assert_eq!(client.command("*"), "-ERR [AUTH] Authentication failed");
    salt.split_once(",s=").unwrap().1.to_owned()
}

/// Issue 19 S1: an unknown user's fake salt is the site's, like a real user's: the same on
/// both nodes (two processes) sharing the user database.
#[test]
fn scram_an_unknown_users_salt_is_the_same_on_every_node() {
    let Some(cluster) = crate::cluster::Cluster::start("scram_salts", ON) else {
        return;
    };
    cluster.add_user("alice", "pencil");
    let before = salt_on(&cluster, 0, "nobody");
    assert_eq!(salt_on(&cluster, 1, "nobody"), before);
    assert_ne!(salt_on(&cluster, 1, "somebody"), before);
}
