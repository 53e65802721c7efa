//! argon2id: hostile stored hashes fail closed, parameters are bounded, old hashes rehash.

use std::time::Instant;

use pop3_auth::UserStore as _;
use pop3_auth::{Credential, HashParams, Outcome, PasswordHasher, Verification};

use crate::support::{TempDb, hasher};

#[test]
fn hash_and_verify() {
    let h = hasher();
    let phc = h.hash(b"correct horse").unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
    assert_eq!(
        h.verify(b"correct horse", &phc),
        Verification::Match {
            needs_rehash: false
        }
    );
    assert_eq!(h.verify(b"correct horsE", &phc), Verification::Mismatch);
    assert_ne!(
        h.hash(b"correct horse").unwrap(),
        phc,
        "fresh salt each time"
    );
}

#[test]
fn hostile_phc_strings_fail_closed_fast() {
    let h = hasher();
    let hostile = [
        "",
        "$",
        "not a hash",
        "$argon2id$v=19$m=64,t=1,p=1$",
        "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$",
        "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$AAAA",
        "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$2Y1ZxgbWHKZzZi7RFd0BLg",
        "$argon2d$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$2Y1ZxgbWHKZzZi7RFd0BLg",
        "$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$2Y1ZxgbWHKZzZi7RFd0BLg",
        "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHRzYWx0$2Y1ZxgbWHKZzZi7RFd0BLg",
        "$argon2id$v=19$m=2097152,t=1,p=1$c2FsdHNhbHRzYWx0$2Y1ZxgbWHKZzZi7RFd0BLg",
        "$argon2id$v=19$m=64,t=4294967295,p=1$c2FsdHNhbHRzYWx0$2Y1ZxgbWHKZzZi7RFd0BLg",
        "$argon2id$v=19$m=64,t=1,p=255$c2FsdHNhbHRzYWx0$2Y1ZxgbWHKZzZi7RFd0BLg",
        "$argon2id$v=19$m=-1,t=1,p=1$c2FsdHNhbHRzYWx0$2Y1ZxgbWHKZzZi7RFd0BLg",
        "$argon2id$v=19$m=64,t=1,p=1,data=AAAA$c2FsdHNhbHRzYWx0$2Y1ZxgbWHKZzZi7RFd0BLg$extra",
        // bcrypt verifies since issue 16 (tests/it/legacy.rs); its bug-compatible `$2x$` does
        // not.
        "$2x$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        "$argon2id$v=19$m=64,t=1,p=1$\u{0}\u{0}$\u{ff}",
    ];
    for phc in hostile {
        let start = Instant::now();
        assert_eq!(
            h.verify(b"password", phc),
            Verification::Unusable,
            "{phc:?}"
        );
        // Far below the seconds a 4 GiB or 4-billion-pass hash would take.
        assert!(
            start.elapsed().as_millis() < 500,
            "{phc:?} took {:?}",
            start.elapsed()
        );
    }
}

#[test]
fn parameters_are_validated() {
    assert!(HashParams::default().validate().is_ok());
    assert_eq!(
        HashParams::default(),
        HashParams {
            m_kib: 19_456,
            t: 2,
            p: 1
        }
    );
    for bad in [
        HashParams {
            m_kib: 4,
            t: 1,
            p: 1,
        },
        HashParams {
            m_kib: 2 * 1024 * 1024,
            t: 1,
            p: 1,
        },
        HashParams {
            m_kib: 64,
            t: 0,
            p: 1,
        },
        HashParams {
            m_kib: 64,
            t: 65,
            p: 1,
        },
        HashParams {
            m_kib: 64,
            t: 1,
            p: 0,
        },
        HashParams {
            m_kib: 512,
            t: 1,
            p: 17,
        },
    ] {
        assert!(PasswordHasher::new(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn long_and_odd_passwords() {
    let h = hasher();
    assert!(h.hash(&[b'a'; 1024]).is_ok());
    assert!(h.hash(&[b'a'; 1025]).is_err());
    assert!(h.hash(b"").is_err());
    assert!(h.hash(b"a\nb").is_err());
    let phc = h.hash(b"pass").unwrap();
    assert_eq!(h.verify(&[b'a'; 1025], &phc), Verification::Mismatch);
}

#[test]
fn older_parameters_are_rehashed_at_the_next_login() {
    let t = TempDb::new();
    let name = t.add("alice", "secret");
    let old = t.db.get(&name).unwrap().unwrap().password_hash;
    assert!(old.contains("m=64,t=1,p=1"));
    let stronger = HashParams {
        m_kib: 128,
        t: 2,
        p: 1,
    };
    let auth = pop3_auth::Authenticator::new(stronger, false).unwrap();
    assert!(matches!(
        auth.authenticate(&t.db, "alice", Credential::Password(b"secret"))
            .unwrap(),
        Outcome::Accepted(_)
    ));
    let new = t.db.get(&name).unwrap().unwrap().password_hash;
    assert!(new.contains("m=128,t=2,p=1"), "{new}");
    // And the new hash still verifies.
    assert!(matches!(
        auth.authenticate(&t.db, "alice", Credential::Password(b"secret"))
            .unwrap(),
        Outcome::Accepted(_)
    ));
}
