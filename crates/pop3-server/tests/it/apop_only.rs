//! Issue 15 #8: an APOP secret adds APOP and takes nothing away; APOP-only (RFC 1939 §7) is a
//! per-user choice whose refusals look like any other failure on the wire.

use pop3_auth::UserStore as _;
use pop3_auth::{UserName, apop};

use crate::support::{Client, TestServer};

/// `AUTH PLAIN` of `\0alice\0secret`, and of `\0alice\0wrong`.
const PLAIN_RIGHT: &str = "AGFsaWNlAHNlY3JldA==";
const PLAIN_WRONG: &str = "AGFsaWNlAHdyb25n";

/// A fresh connection's replies to `USER alice`/`PASS <password>`, `AUTH PLAIN <plain>` and
/// `APOP alice <digest of secret>`, each on its own connection.
fn replies(server: &TestServer, password: &str, plain: &str, secret: &str) -> [String; 3] {
    let mut client = server.greet();
    assert!(client.command("USER alice").starts_with("+OK"));
    let pass = client.command(&format!("PASS {password}"));
    client.close();
    let mut client = server.greet();
    let auth = client.command(&format!("AUTH PLAIN {plain}"));
    client.close();
    let mut client = Client::connect(server.addrs.plain, server.client_config(), false);
    let greeting = client.line().unwrap();
    let timestamp = &greeting[greeting.find('<').unwrap()..=greeting.find('>').unwrap()];
    let apop = client.command(&format!("APOP alice {}", apop::digest(timestamp, secret)));
    client.close();
    [pass, auth, apop]
}

#[test]
fn issue_15_8_apop_users_keep_passwords_unless_apop_only() {
    let server = TestServer::start("apop = true", "", "login_delay_secs = 0");
    server.add_user("alice", "secret");
    let alice = UserName::parse("alice").unwrap();
    server
        .db()
        .set_apop_secret(&alice, Some("apop secret 1"))
        .unwrap();

    // By default USER/PASS, AUTH PLAIN and APOP all log in.
    for reply in replies(&server, "secret", PLAIN_RIGHT, "apop secret 1") {
        assert!(reply.starts_with("+OK"), "{reply}");
    }

    // The failures every client sees, for comparison.
    let [wrong_pass, wrong_plain, wrong_apop] = replies(&server, "wrong", PLAIN_WRONG, "wrong");
    for reply in [&wrong_pass, &wrong_plain, &wrong_apop] {
        assert!(reply.starts_with("-ERR [AUTH]"), "{reply}");
    }

    // APOP only: the right password is refused with exactly the reply of a wrong one (no
    // enumeration of APOP-only users), and APOP still works.
    server
        .db()
        .set_apop(&alice, Some("apop secret 1"), true)
        .unwrap();
    let [pass, plain, apop] = replies(&server, "secret", PLAIN_RIGHT, "apop secret 1");
    assert_eq!(pass, wrong_pass);
    assert_eq!(plain, wrong_plain);
    assert!(apop.starts_with("+OK"), "{apop}");
}
