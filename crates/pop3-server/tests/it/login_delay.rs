//! Issue 19 item 2: LOGIN-DELAY (RFC 2449 §6.5) enforced, over the real socket: a second login
//! within the delay is refused with `[LOGIN-DELAY]` only after the credentials were verified,
//! and a client that reads CAPA and waits the delay sees no error.

use std::process::Command;
use std::time::Duration;

use crate::support::{TestServer, scrape};

/// `USER name`/`PASS password` on a fresh connection: the PASS reply (QUIT after a success).
fn login(server: &TestServer, name: &str, password: &str) -> String {
    let mut client = server.greet();
    assert!(client.command(&format!("USER {name}")).starts_with("+OK"));
    let reply = client.command(&format!("PASS {password}"));
    if reply.starts_with("+OK") {
        assert!(client.command("QUIT").starts_with("+OK"));
    }
    client.close();
    reply
}

#[test]
fn issue_19_a_second_login_within_the_delay_is_refused_after_authentication() {
    let server = TestServer::start("", "", "login_delay_secs = 3600");
    server.add_user("alice", "secret");
    server.add_user("bob", "secret");
    let wrong = login(&server, "alice", "wrong");
    assert!(wrong.starts_with("-ERR [AUTH]"), "{wrong}");

    assert!(login(&server, "alice", "secret").starts_with("+OK"));
    let again = login(&server, "alice", "secret");
    assert!(again.starts_with("-ERR [LOGIN-DELAY]"), "{again}");
    // Within the delay, a wrong password or an unknown user still get the ordinary failure:
    // the refusal tells nothing to a client without the password.
    assert_eq!(login(&server, "alice", "wrong"), wrong);
    assert_eq!(login(&server, "nobody", "secret"), wrong);
    // The delay is per user.
    assert!(login(&server, "bob", "secret").starts_with("+OK"));
    let metrics = scrape(&server);
    assert!(
        metrics.contains(r#"pop3_auth_attempts_total{mechanism="user",result="login_delay"} 1"#),
        "{metrics}"
    );
}

/// A client that reads CAPA and waits `LOGIN-DELAY` seconds between logins (Python's
/// poplib: neither mpop nor fetchmail waits by itself, see `docs/protocol.md`).
const POLITE: &str = r#"
import poplib, sys, time
port = int(sys.argv[1])
delay = None
for attempt in range(2):
    p = poplib.POP3("127.0.0.1", port)
    for line in p.capa().items():
        if line[0] == "LOGIN-DELAY":
            delay = int(line[1][0])
    p.user("alice")
    p.pass_("secret")
    p.quit()
    if attempt == 0:
        time.sleep(delay)
print("delay", delay)
"#;

#[test]
fn issue_19_a_client_that_reads_capa_and_waits_sees_no_error() {
    let server = TestServer::start("", "", "login_delay_secs = 2");
    server.add_user("alice", "secret");
    let out = Command::new("python3")
        .args(["-c", POLITE, &server.addrs.plain.port().to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "delay 2");
    // The delay did run: a login right after the client's second one is refused, and one
    // after the delay is not.
    assert!(login(&server, "alice", "secret").starts_with("-ERR [LOGIN-DELAY]"));
    std::thread::sleep(Duration::from_millis(2100));
    assert!(login(&server, "alice", "secret").starts_with("+OK"));
}
