//! The user-name allowlist: traversal, SQL and control characters never reach a lookup.

use pop3_auth::UserStore as _;
use pop3_auth::{Credential, Outcome, RejectReason, UserName};

use crate::support::{TempDb, authenticator};

const HOSTILE: &[&str] = &[
    "",
    "../x",
    "alice/../bob",
    "/etc/passwd",
    "..",
    ".",
    ".hidden",
    "-rf",
    "a..b",
    "alice'; DROP TABLE users; --",
    "alice\" OR \"1\"=\"1",
    "a%2e%2e",
    "tab\there",
    "nul\0here",
    "cr\rhere",
    "lf\nhere",
    "space here",
    "caf\u{e9}",
    "\u{202e}evil",
];

#[test]
fn hostile_names_are_rejected_before_any_lookup() {
    for name in HOSTILE {
        assert!(UserName::parse(name).is_err(), "{name:?} was accepted");
    }
    assert!(UserName::parse(&"a".repeat(256)).is_err());
    assert!(UserName::parse(&"a".repeat(255)).is_ok());
}

#[test]
fn names_fold_to_one_account() {
    assert_eq!(
        UserName::parse("Alice").unwrap(),
        UserName::parse("alice").unwrap()
    );
    assert_eq!(
        UserName::parse("A.B+c@D-e_f").unwrap().as_str(),
        "a.b+c@d-e_f"
    );
}

#[test]
fn hostile_names_through_the_authenticator_are_plain_rejections() {
    let t = TempDb::new();
    t.add("alice", "secret");
    let auth = authenticator(false);
    for name in HOSTILE {
        match auth
            .authenticate(&t.db, name, Credential::Password(b"secret"))
            .unwrap()
        {
            Outcome::Rejected(RejectReason::InvalidName) => {}
            other => panic!("{name:?}: {other:?}"),
        }
    }
    // The table survived every attempt.
    assert_eq!(t.db.list().unwrap().len(), 1);
}
