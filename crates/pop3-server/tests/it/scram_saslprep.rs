//! SCRAM keys are derived from the SASLprep'd password (RFC 5802 §2.2, RFC 4013), as RFC
//! 5802 clients derive their proofs: a password whose SASLprep differs from its bytes works
//! with mpop (GNU SASL prepares it), and a non-ASCII one that SASLprep leaves as it is works
//! with Cyrus `pop3test` too (Cyrus libsasl2 2.1 sends the bytes unprepared, so a password
//! SASLprep changes fails with it over SCRAM: documented).

use crate::scram::{ON, add, admin_hasher, mpop, pop3test};
use crate::support::TestServer;

#[test]
fn scram_a_password_saslprep_changes_works_with_a_client_that_prepares_it() {
    let server = TestServer::start(ON, "", "");
    // U+00AD SOFT HYPHEN is mapped to nothing, U+00A0 NO-BREAK SPACE to a space.
    let typed = "pen\u{00AD}cil\u{00A0}case";
    add(&server, "alice", typed, &admin_hasher(&server));
    let (ok, fetched, log) = mpop(&server, "alice", typed, false);
    assert!(ok, "{log}");
    assert_eq!(fetched, 1, "{log}");
    // USER/PASS still compares the password as typed.
    let mut client = server.greet();
    assert!(client.command("USER alice").starts_with("+OK"));
    assert!(client.command(&format!("PASS {typed}")).starts_with("+OK"));
    client.command("QUIT");
    client.close();
}

#[test]
fn scram_a_non_ascii_password_works_with_both_clients() {
    let server = TestServer::start(ON, "", "");
    let typed = "p\u{00E4}ssw\u{00F6}rd";
    add(&server, "bob", typed, &admin_hasher(&server));
    let (ok, fetched, log) = mpop(&server, "bob", typed, false);
    assert!(ok && fetched == 1, "{log}");
    let (ok, log) = pop3test(&server, "bob", typed);
    assert!(ok, "{log}");
}
