//! The authenticator: identical outcomes for every kind of failure, APOP rules, no cache.

use pop3_auth::UserStore as _;
use pop3_auth::{Credential, HashMemory, Outcome, RejectReason, apop};

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
    t.db.set_apop_secret(&alice, None).unwrap();
    assert_eq!(
        attempt(&apop_on, "alice", &good),
        Some(RejectReason::ApopNotAvailable)
    );
}

/// Issue 15 #8: an APOP secret adds APOP and takes nothing away. USER/PASS and SASL PLAIN
/// and LOGIN all reach the authenticator as `Credential::Password`.
#[test]
fn issue_15_8_an_apop_secret_keeps_password_logins_by_default() {
    let t = TempDb::new();
    let alice = t.add("alice", "password");
    t.db.set_apop_secret(&alice, Some("tanstaafl")).unwrap();
    assert!(!t.db.get(&alice).unwrap().unwrap().apop_only);
    for auth in [authenticator(true), authenticator(false)] {
        let outcome = auth
            .authenticate(&t.db, "alice", Credential::Password(b"password"))
            .unwrap();
        assert_eq!(reason(outcome), None);
    }
    let ts = "<0123456789abcdef0123456789abcdef.1@host>";
    let apop = Credential::Apop {
        timestamp: ts,
        digest: &apop::digest(ts, "tanstaafl"),
    };
    let outcome = authenticator(true)
        .authenticate(&t.db, "alice", apop)
        .unwrap();
    assert_eq!(reason(outcome), None, "and APOP works too");
}

/// Issue 15 #8: the RFC 1939 §7 stricter mode, per user. A refused password is rejected like
/// any failure and still costs a hash (the dummy one, in the caller's memory).
#[test]
fn issue_15_8_apop_only_refuses_passwords_at_the_cost_of_a_hash() {
    let t = TempDb::new();
    let alice = t.add("alice", "password");
    t.db.set_apop(&alice, Some("tanstaafl"), true).unwrap();
    assert!(t.db.get(&alice).unwrap().unwrap().apop_only);
    let auth = authenticator(true);
    let password = |memory: &mut HashMemory| {
        reason(
            auth.authenticate_with(&t.db, "alice", Credential::Password(b"password"), memory)
                .unwrap(),
        )
    };
    let mut memory = HashMemory::new();
    assert_eq!(
        password(&mut memory),
        Some(RejectReason::PasswordNotAllowed)
    );
    assert_eq!(
        memory.hash_count(),
        1,
        "the refusal ran a hash in the caller's memory"
    );
    let ts = "<0123456789abcdef0123456789abcdef.1@host>";
    let apop = Credential::Apop {
        timestamp: ts,
        digest: &apop::digest(ts, "tanstaafl"),
    };
    assert_eq!(
        reason(auth.authenticate(&t.db, "alice", apop).unwrap()),
        None
    );
    // `apop set` without --only goes back to the default; clearing the secret clears the mode.
    t.db.set_apop(&alice, Some("tanstaafl"), false).unwrap();
    assert_eq!(password(&mut HashMemory::new()), None);
    t.db.set_apop(&alice, Some("tanstaafl"), true).unwrap();
    t.db.set_apop(&alice, None, false).unwrap();
    let user = t.db.get(&alice).unwrap().unwrap();
    assert!(user.apop_secret.is_none() && !user.apop_only);
    assert_eq!(password(&mut HashMemory::new()), None);
    // `only` without a secret means nothing and is not stored.
    t.db.set_apop(&alice, None, true).unwrap();
    assert!(!t.db.get(&alice).unwrap().unwrap().apop_only);
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
