//! The PHC strings of the reused-memory path are argon2's own, and the memory is reused.

use argon2::password_hash::{PasswordHasher as _, SaltString};

use super::{HashMemory, HashParams, PasswordHasher, Verification};

const CHEAP: HashParams = HashParams {
    m_kib: 64,
    t: 1,
    p: 1,
};

/// argon2's `PasswordHasher` (the path every stored hash was made with) and ours agree.
#[test]
fn known_answer_matches_argon2s_own_phc() {
    let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
    for params in [
        CHEAP,
        HashParams::default(),
        HashParams {
            m_kib: 256,
            t: 3,
            p: 4,
        },
    ] {
        let hasher = PasswordHasher::new(params).unwrap();
        let ours = hasher
            .hash_with_salt(b"correct horse", &salt, &mut HashMemory::new())
            .unwrap();
        let theirs = hasher
            .argon2
            .hash_password(b"correct horse", &salt)
            .unwrap();
        assert_eq!(ours, theirs.to_string(), "{params:?}");
    }
    let ours = PasswordHasher::new(HashParams::default())
        .unwrap()
        .hash_with_salt(
            b"correct horse battery staple",
            &salt,
            &mut HashMemory::new(),
        )
        .unwrap();
    assert_eq!(
        ours,
        "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$\
         gy5SuVm5Z7Vw7keB9se9p87QGcomaseB/S2U1OhTsM0"
    );
}

/// A hash made by libsodium 1.0.18 (`crypto_pwhash_str`, as Dovecot stores it) verifies.
#[test]
fn verifies_a_libsodium_hash() {
    let phc = "$argon2id$v=19$m=19456,t=2,p=1$NM/Xwfi+q3o+/Br8CeDINQ$\
               EwxUI6MGz0uViVkhAr7gvAr2t685qCMWybykPQjkcXk";
    let hasher = PasswordHasher::new(HashParams::default()).unwrap();
    let mut memory = HashMemory::new();
    assert_eq!(
        hasher.verify_with(b"correct horse battery staple", phc, &mut memory),
        Verification::Match {
            needs_rehash: false
        }
    );
    assert_eq!(
        hasher.verify_with(b"correct horse battery stapler", phc, &mut memory),
        Verification::Mismatch
    );
}

#[test]
fn issue_14_the_same_allocation_serves_every_hash() {
    let hasher = PasswordHasher::new(CHEAP).unwrap();
    let mut memory = HashMemory::new();
    let phc = hasher.hash_with(b"pass", &mut memory).unwrap();
    let address = memory.address();
    assert_eq!(memory.kept_kib(), 64);
    for _ in 0..5 {
        assert!(matches!(
            hasher.verify_with(b"pass", &phc, &mut memory),
            Verification::Match { .. }
        ));
        assert_eq!(
            hasher.verify_with(b"wrong", &phc, &mut memory),
            Verification::Mismatch
        );
        hasher.hash_with(b"other", &mut memory).unwrap();
        assert_eq!(memory.address(), address);
    }
}

/// A stored hash costlier than the current setting runs in a buffer of its own, and a
/// cheaper one in the kept blocks: the kept memory never grows past the current cost.
#[test]
fn other_costs_leave_the_kept_memory_alone() {
    let current = PasswordHasher::new(CHEAP).unwrap();
    let mut memory = HashMemory::new();
    current.hash_with(b"pass", &mut memory).unwrap();
    let address = memory.address();
    for m_kib in [8, 32, 256, 1024] {
        let old = PasswordHasher::new(HashParams { m_kib, ..CHEAP }).unwrap();
        let phc = old.hash(b"pass").unwrap();
        assert_eq!(
            current.verify_with(b"pass", &phc, &mut memory),
            Verification::Match { needs_rehash: true },
            "m={m_kib}"
        );
        assert_eq!(
            current.verify_with(b"nope", &phc, &mut memory),
            Verification::Mismatch
        );
        assert_eq!(memory.kept_kib(), 64, "m={m_kib}");
        assert_eq!(memory.address(), address, "m={m_kib}");
    }
}
