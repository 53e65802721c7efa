//! Issue 15 item 9: the writes of a successful login are best effort. A real SQLite file
//! whose write lock another connection holds (`BEGIN IMMEDIATE`, as a stuck writer would):
//! our writes fail with `SQLITE_BUSY` after the database's 5 s busy timeout, exactly the path
//! a read-only file or a full disk takes (the `UPDATE` returns an error), while reads go on
//! (WAL).

use pop3_auth::UserStore as _;
use pop3_auth::{Authenticator, BestEffortWrite, Credential, HashMemory, HashParams, Outcome};

use crate::support::{TempDb, authenticator};

/// A connection holding the write lock of `t`'s file until dropped.
fn hold_write_lock(t: &TempDb) -> rusqlite::Connection {
    let holder = rusqlite::Connection::open(&t.path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    holder
}

#[test]
fn issue_15_a_correct_password_succeeds_when_the_last_login_cannot_be_written() {
    let t = TempDb::new();
    let alice = t.add("alice", "secret");
    let auth = authenticator(false);
    let holder = hold_write_lock(&t);
    let attempt = auth
        .attempt_with(
            &t.db,
            "alice",
            Credential::Password(b"secret"),
            &mut HashMemory::new(),
        )
        .expect("a failed best-effort write is not an error");
    assert!(matches!(attempt.outcome, Outcome::Accepted(_)));
    let skipped: Vec<_> = attempt.skipped_writes.iter().map(|s| s.write).collect();
    assert_eq!(skipped, [BestEffortWrite::LastLogin]);
    assert!(attempt.skipped_writes[0].error.is_temporary());
    // The plain API agrees: accepted.
    let outcome = auth
        .authenticate(&t.db, "alice", Credential::Password(b"secret"))
        .expect("accepted without the write");
    assert!(matches!(outcome, Outcome::Accepted(_)));
    drop(holder);
    assert_eq!(t.db.get(&alice).unwrap().unwrap().last_login_at, None);
    // A wrong password is still a rejection.
    let outcome = auth
        .authenticate(&t.db, "alice", Credential::Password(b"wrong"))
        .unwrap();
    assert!(matches!(outcome, Outcome::Rejected(_)));
}

#[test]
fn issue_15_a_correct_password_succeeds_when_the_rehash_cannot_be_written() {
    let t = TempDb::new();
    let alice = t.add("alice", "secret");
    let before = t.db.get(&alice).unwrap().unwrap().password_hash;
    // Newer parameters than the stored hash's: the login wants to rehash.
    let newer = HashParams {
        m_kib: 128,
        t: 1,
        p: 1,
    };
    let auth = Authenticator::new(newer, false).unwrap();
    let holder = hold_write_lock(&t);
    let attempt = auth
        .attempt_with(
            &t.db,
            "alice",
            Credential::Password(b"secret"),
            &mut HashMemory::new(),
        )
        .expect("a failed rehash is not an error");
    drop(holder);
    assert!(matches!(attempt.outcome, Outcome::Accepted(_)));
    let skipped: Vec<_> = attempt.skipped_writes.iter().map(|s| s.write).collect();
    assert_eq!(
        skipped,
        [BestEffortWrite::Rehash, BestEffortWrite::LastLogin]
    );
    assert_eq!(
        t.db.get(&alice).unwrap().unwrap().password_hash,
        before,
        "the old hash stays"
    );
    // Once the database is writable again, the next login rehashes.
    let attempt = auth
        .attempt_with(
            &t.db,
            "alice",
            Credential::Password(b"secret"),
            &mut HashMemory::new(),
        )
        .unwrap();
    assert!(matches!(attempt.outcome, Outcome::Accepted(_)));
    assert!(attempt.skipped_writes.is_empty());
    assert_ne!(t.db.get(&alice).unwrap().unwrap().password_hash, before);
}
