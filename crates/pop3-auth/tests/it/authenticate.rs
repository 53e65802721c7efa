//! The authenticator: identical outcomes for every kind of failure, APOP rules, no cache.

use pop3_auth::{Credential, Outcome, RejectReason, apop};

use crate::support::{TempDb, authenticator, hasher};

fn reason(outcome: Outcome) -> Option<RejectReason> {
    match outcome {
        Outcome::Accepted(_) => None,
        Outcome::Rejected(reason) => Some(reason),
        other => panic!("unexpected outcome {other:?}"),
    }
}

#[test]
fn every_failure_is_a_rejection_with_a_reason_for_the_log() {
    let t = TempDb::new();
    let alice = t.add("alice", "secret");
    t.add("bob", "hunter2");
    t.db.set_enabled(&pop3_auth::UserName::parse("bob").unwrap(), false)
        .unwrap();
    let auth = authenticator(false);
    let try_password = |name: &str, password: &str| {
        reason(
            auth.authenticate(&t.db, name, Credential::Password(password.as_bytes()))
                .unwrap(),
        )
    };
    assert_eq!(try_password("alice", "secret"), None);
    assert_eq!(try_password("ALICE", "secret"), None, "names fold");
    assert_eq!(
        try_password("alice", "wrong"),
        Some(RejectReason::WrongSecret)
    );
    assert_eq!(
        try_password("nobody", "secret"),
        Some(RejectReason::UnknownUser)
    );
    assert_eq!(try_password("bob", "hunter2"), Some(RejectReason::Disabled));
    assert_eq!(
        try_password("../alice", "secret"),
        Some(RejectReason::InvalidName)
    );
    let long = "x".repeat(1025);
    assert_eq!(
        try_password("alice", &long),
        Some(RejectReason::PasswordTooLong)
    );
    assert!(t.db.get(&alice).unwrap().unwrap().last_login_at.is_some());
}

#[test]
fn changes_apply_at_the_next_login() {
    let t = TempDb::new();
    let alice = t.add("alice", "old password");
    let auth = authenticator(false);
    let login = |password: &str| {
        reason(
            auth.authenticate(&t.db, "alice", Credential::Password(password.as_bytes()))
                .unwrap(),
        )
    };
    assert_eq!(login("old password"), None);
    t.db.set_password(&alice, b"new password", &hasher())
        .unwrap();
    assert_eq!(login("old password"), Some(RejectReason::WrongSecret));
    assert_eq!(login("new password"), None);
    t.db.set_enabled(&alice, false).unwrap();
    assert_eq!(login("new password"), Some(RejectReason::Disabled));
    t.db.set_enabled(&alice, true).unwrap();
    t.db.remove(&alice).unwrap();
    assert_eq!(login("new password"), Some(RejectReason::UnknownUser));
}

#[test]
fn apop_rules() {
    let t = TempDb::new();
    let alice = t.add("alice", "password");
    t.add("carol", "password");
    t.db.set_apop_secret(&alice, Some("tanstaafl")).unwrap();
    let ts = "<0123456789abcdef0123456789abcdef.1@host>";
    let good = apop::digest(ts, "tanstaafl");
    let apop_on = authenticator(true);
    let attempt = |auth: &pop3_auth::Authenticator, name: &str, digest: &str| {
        reason(
            auth.authenticate(
                &t.db,
                name,
                Credential::Apop {
                    timestamp: ts,
                    digest,
                },
            )
            .unwrap(),
        )
    };
    assert_eq!(attempt(&apop_on, "alice", &good), None);
    assert_eq!(
        attempt(&apop_on, "alice", &apop::digest(ts, "wrong")),
        Some(RejectReason::WrongSecret)
    );
    assert_eq!(
        attempt(&apop_on, "carol", &good),
        Some(RejectReason::ApopNotAvailable)
    );
    assert_eq!(
        attempt(&apop_on, "nobody", &good),
        Some(RejectReason::UnknownUser)
    );
    // APOP disabled globally: even the right digest is refused.
    let apop_off = authenticator(false);
    assert_eq!(
        attempt(&apop_off, "alice", &good),
        Some(RejectReason::ApopNotAvailable)
    );
    // RFC 1939 §13: a user with an APOP secret may not use a password unless allowed.
    let password = |name: &str| {
        reason(
            apop_on
                .authenticate(&t.db, name, Credential::Password(b"password"))
                .unwrap(),
        )
    };
    assert_eq!(password("alice"), Some(RejectReason::PasswordNotAllowed));
    assert_eq!(password("carol"), None);
    t.db.set_password_with_apop(&alice, true).unwrap();
    assert_eq!(password("alice"), None);
    t.db.set_apop_secret(&alice, None).unwrap();
    assert_eq!(
        attempt(&apop_on, "alice", &good),
        Some(RejectReason::ApopNotAvailable)
    );
}

#[test]
fn a_corrupt_stored_hash_fails_closed() {
    let t = TempDb::new();
    let alice = t.add("alice", "secret");
    t.db.replace_hash(
        &alice,
        "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHRzYWx0$2Y1ZxgbWHKZzZi7RFd0BLg",
    )
    .unwrap();
    let outcome = authenticator(false)
        .authenticate(&t.db, "alice", Credential::Password(b"secret"))
        .unwrap();
    assert_eq!(reason(outcome), Some(RejectReason::UnusableHash));
}

#[test]
fn the_last_login_is_recorded_to_the_minute_without_a_write_per_login() {
    let t = TempDb::new();
    let alice = t.add("alice", "secret");
    let auth = authenticator(false);
    let login = || {
        let outcome = auth
            .authenticate(&t.db, "alice", Credential::Password(b"secret"))
            .unwrap();
        assert!(matches!(outcome, Outcome::Accepted(_)));
        t.db.get(&alice).unwrap().unwrap().last_login_at.unwrap()
    };
    let first = login();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - first).abs() <= 1, "recorded at the first login");
    // Another process (this test) backdates the record: within the precision it stays as is,
    // beyond it the next login writes the time again.
    let raw = rusqlite::Connection::open(t.db.path()).unwrap();
    let set = |at: i64| {
        raw.execute("UPDATE users SET last_login_at = ?1", [at])
            .unwrap();
    };
    let recent = now - pop3_auth::LAST_LOGIN_PRECISION_SECS / 2;
    set(recent);
    assert_eq!(login(), recent, "no write within the precision");
    set(now - 2 * pop3_auth::LAST_LOGIN_PRECISION_SECS);
    assert!(
        login() >= now,
        "written again once older than the precision"
    );
    // A time in the future (a clock set back) is replaced, not trusted.
    set(now + 3600);
    assert!(login() <= now + 1);
}
