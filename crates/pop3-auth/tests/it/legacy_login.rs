//! Issue 16 at login: a legacy hash is replaced by argon2id at the first successful login (the
//! server's path: `Authenticator::attempt_with`), and the timing rule: every password check
//! costs at least one argon2id hash at the current parameters, counted in the caller's
//! `HashMemory` rather than timed.

use pop3_auth::UserStore as _;
use pop3_auth::{Credential, HashMemory, HashParams, Outcome, RejectReason, UserName, hash_scheme};

use crate::legacy::SPEC_VECTORS;
use crate::support::{CHEAP, TempDb, authenticator};

/// The current hash of the test parameters.
const CURRENT_PREFIX: &str = "$argon2id$v=19$m=64,t=1,p=1$";

fn add_legacy(t: &TempDb, name: &str, stored: &str) -> UserName {
    let name = UserName::parse(name).unwrap();
    let maildir = t
        .dir
        .path()
        .join("mail")
        .join(name.as_str())
        .join("Maildir");
    t.db.add_with_hash(&name, stored, &maildir).unwrap();
    name
}

/// One password attempt through the server's entry point, and the argon2 hashes it ran.
fn attempt(t: &TempDb, name: &str, password: &str) -> (Option<RejectReason>, u64) {
    let auth = authenticator(false);
    let mut memory = HashMemory::new();
    let attempt = auth
        .attempt_with(
            &t.db,
            name,
            Credential::Password(password.as_bytes()),
            &mut memory,
        )
        .unwrap();
    assert!(
        attempt.skipped_writes.is_empty(),
        "{:?}",
        attempt.skipped_writes
    );
    let reason = match attempt.outcome {
        Outcome::Accepted(_) => None,
        Outcome::Rejected(reason) => Some(reason),
        other => panic!("{other:?}"),
    };
    (reason, memory.hash_count())
}

/// Every scheme: the first login with the old password succeeds and stores an argon2id hash
/// at the current parameters in place of the legacy one; the old hash is gone, the password
/// still works, and nothing is rehashed again.
#[test]
fn issue_16_the_first_login_replaces_a_legacy_hash_with_argon2id() {
    let t = TempDb::new();
    for (i, (scheme, password, stored)) in SPEC_VECTORS.iter().enumerate() {
        let name = format!("user{i}");
        let user = add_legacy(&t, &name, stored);
        assert_eq!(
            attempt(&t, &name, "wrong").0,
            Some(RejectReason::WrongSecret)
        );
        assert_eq!(t.db.get(&user).unwrap().unwrap().password_hash, *stored);
        assert_eq!(attempt(&t, &name, password).0, None, "{scheme}");
        let replaced = t.db.get(&user).unwrap().unwrap().password_hash;
        assert!(replaced.starts_with(CURRENT_PREFIX), "{scheme}: {replaced}");
        assert_eq!(hash_scheme(&replaced), Some("ARGON2ID"));
        let (reason, hashes) = attempt(&t, &name, password);
        assert_eq!(reason, None, "{scheme}: the new hash verifies");
        assert_eq!(hashes, 1, "{scheme}: a current hash, no rehash, no padding");
        assert_eq!(t.db.get(&user).unwrap().unwrap().password_hash, replaced);
        assert_eq!(
            attempt(&t, &name, "wrong").0,
            Some(RejectReason::WrongSecret)
        );
    }
}

/// The timing rule, structurally: a salted SHA-2 check takes microseconds, so the
/// authenticator runs the argon2id dummy after it, match or not. Without that padding a wrong
/// password for this user would run no argon2 at all (0) where an unknown user runs one.
#[test]
fn issue_16_a_legacy_check_costs_a_current_argon2id_hash_too() {
    let t = TempDb::new();
    let ssha = SPEC_VECTORS
        .iter()
        .find(|(scheme, ..)| *scheme == "SSHA512")
        .unwrap();
    add_legacy(&t, "fast", ssha.2);
    t.add("modern", "secret");
    // The baseline every failure must reach: an unknown user.
    assert_eq!(
        attempt(&t, "nobody", "x"),
        (Some(RejectReason::UnknownUser), 1)
    );
    assert_eq!(
        attempt(&t, "modern", "x"),
        (Some(RejectReason::WrongSecret), 1)
    );
    // A legacy wrong password: the SHA-512, then the dummy.
    assert_eq!(
        attempt(&t, "fast", "x"),
        (Some(RejectReason::WrongSecret), 1)
    );
    // A legacy match: the SHA-512, the dummy, then the rehash.
    assert_eq!(attempt(&t, "fast", ssha.1), (None, 2));
    // From then on the user is like any other.
    assert_eq!(
        attempt(&t, "fast", "x"),
        (Some(RejectReason::WrongSecret), 1)
    );
    assert_eq!(attempt(&t, "fast", ssha.1), (None, 1));
}

/// The same rule for every other stored hash that is not argon2id at the current cost: an
/// unusable one (a corrupt row, a locked import enabled by hand) and an argon2id with older
/// parameters (cheaper here, so it alone would cost less than the dummy).
#[test]
fn issue_16_unusable_and_older_hashes_are_padded_too() {
    let t = TempDb::new();
    let corrupt = t.add("corrupt", "secret");
    t.db.replace_hash(&corrupt, "$6$rounds=999999999$salt$x")
        .unwrap();
    assert_eq!(
        attempt(&t, "corrupt", "secret"),
        (Some(RejectReason::UnusableHash), 1)
    );
    let locked = UserName::parse("locked").unwrap();
    t.db.add_locked(&locked, &t.dir.path().join("mail/locked/Maildir"))
        .unwrap();
    t.db.set_enabled(&locked, true).unwrap();
    assert_eq!(
        attempt(&t, "locked", "secret"),
        (Some(RejectReason::UnusableHash), 1)
    );
    let old = t.add("old", "secret");
    let cheaper = pop3_auth::PasswordHasher::new(HashParams { m_kib: 8, ..CHEAP }).unwrap();
    t.db.set_password(&old, b"secret", &cheaper).unwrap();
    // The old hash, then the dummy.
    assert_eq!(
        attempt(&t, "old", "wrong"),
        (Some(RejectReason::WrongSecret), 2)
    );
    // The old hash, the dummy, the rehash; then a current hash alone.
    assert_eq!(attempt(&t, "old", "secret"), (None, 3));
    assert_eq!(attempt(&t, "old", "secret"), (None, 1));
}
