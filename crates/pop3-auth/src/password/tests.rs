//! The PHC strings of the reused-memory path are argon2's own, and the memory is reused.

use argon2::password_hash::{PasswordHasher as _, SaltString};

use super::{HashMemory, HashParams, PasswordHasher, Verification};

const CHEAP: HashParams = HashParams {
    m_kib: 64,
    t: 1,
    p: 1,
};

/// Two lanes: libsodium takes one only, so these hashes run in the kept memory (RustCrypto).
const TWO_LANES: HashParams = HashParams { p: 2, ..CHEAP };

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
    let hasher = PasswordHasher::new(TWO_LANES).unwrap();
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
    let current = PasswordHasher::new(TWO_LANES).unwrap();
    let mut memory = HashMemory::new();
    current.hash_with(b"pass", &mut memory).unwrap();
    let address = memory.address();
    for m_kib in [16, 32, 256, 1024] {
        let old = PasswordHasher::new(HashParams { m_kib, ..TWO_LANES }).unwrap();
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

/// libsodium and RustCrypto compute the same argon2, over parameter sets around every edge
/// libsodium has (one pass, memory not a multiple of the four sync points, long outputs,
/// argon2i), and libsodium declines what it cannot take.
#[test]
fn issue_14_libsodium_and_rustcrypto_agree() {
    use argon2::{Algorithm, Argon2, Params, Version};

    use super::sodium::{self, Computed};

    let salt = b"0123456789abcdef";
    let mut compared = 0;
    for algorithm in [Algorithm::Argon2id, Algorithm::Argon2i] {
        for (m_kib, t) in [
            (8, 1),
            (9, 3),
            (64, 1),
            (67, 2),
            (256, 3),
            (1021, 4),
            (19_456, 2),
        ] {
            for (password, out_len) in [(&b""[..], 16), (&b"pass"[..], 32), (&[0xff; 200][..], 64)]
            {
                let params = Params::new(m_kib, t, 1, Some(out_len)).unwrap();
                let mut theirs = vec![0u8; out_len];
                Argon2::new(algorithm, Version::V0x13, params)
                    .hash_password_into(password, salt, &mut theirs)
                    .unwrap();
                let mut ours = vec![0u8; out_len];
                let computed =
                    sodium::argon2_into(algorithm, (m_kib, t, 1), password, salt, &mut ours);
                if algorithm == Algorithm::Argon2i && t < 3 {
                    assert_eq!(computed, Computed::NotTaken, "argon2i t={t}");
                    continue;
                }
                assert_eq!(computed, Computed::Done, "{algorithm:?} m={m_kib} t={t}");
                assert_eq!(ours, theirs, "{algorithm:?} m={m_kib} t={t} len={out_len}");
                compared += 1;
            }
        }
    }
    // argon2id: 7 shapes × 3 inputs; argon2i: the 3 shapes with t >= 3 × 3 inputs.
    assert_eq!(compared, 21 + 9, "every case libsodium takes was compared");
    let mut out = [0u8; 32];
    for (shape, salt) in [
        ((64, 1, 2), &salt[..]),
        ((64, 1, 1), &salt[..8]),
        ((4, 1, 1), &salt[..]),
    ] {
        let computed = sodium::argon2_into(Algorithm::Argon2id, shape, b"x", salt, &mut out);
        assert_eq!(
            computed,
            Computed::NotTaken,
            "{shape:?} salt {}",
            salt.len()
        );
    }
    let computed = sodium::argon2_into(Algorithm::Argon2id, (64, 1, 1), b"x", salt, &mut out[..8]);
    assert_eq!(computed, Computed::NotTaken, "an output under 16 bytes");
}

/// Every hash is counted in the memory it was given, whichever engine ran it.
#[test]
fn every_hash_is_counted_in_its_memory() {
    let mut memory = HashMemory::new();
    for params in [CHEAP, TWO_LANES] {
        let hasher = PasswordHasher::new(params).unwrap();
        let before = memory.hash_count();
        let phc = hasher.hash_with(b"pass", &mut memory).unwrap();
        let _ = hasher.verify_with(b"pass", &phc, &mut memory);
        assert_eq!(memory.hash_count(), before + 2, "{params:?}");
    }
}

/// A stored hash with associated data (`data=`) verifies as RustCrypto computes it (libsodium
/// has no associated data, so it must not take it), and is rehashed.
#[test]
fn issue_14_associated_data_stays_with_rustcrypto() {
    use argon2::{Algorithm, Argon2, AssociatedData, ParamsBuilder, Version};

    let params = ParamsBuilder::new()
        .m_cost(CHEAP.m_kib)
        .t_cost(CHEAP.t)
        .p_cost(1)
        .data(AssociatedData::new(b"context").unwrap())
        .build()
        .unwrap();
    let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
    let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(b"pass", &salt)
        .unwrap()
        .to_string();
    assert!(phc.contains("data="), "{phc}");
    let hasher = PasswordHasher::new(CHEAP).unwrap();
    assert_eq!(
        hasher.verify(b"pass", &phc),
        Verification::Match { needs_rehash: true }
    );
    assert_eq!(hasher.verify(b"wrong", &phc), Verification::Mismatch);
}

/// Only what `hash_with` makes counts as current: the same parameters with another salt or
/// output length are rehashed (and so padded to the dummy's cost until then).
#[test]
fn issue_14_current_means_exactly_what_we_make() {
    use argon2::{Algorithm, Argon2, Params, Version};

    let hasher = PasswordHasher::new(CHEAP).unwrap();
    let ours = hasher.hash(b"pass").unwrap();
    assert_eq!(
        hasher.verify(b"pass", &ours),
        Verification::Match {
            needs_rehash: false
        }
    );
    for (salt, out_len) in [
        (&b"0123456789abcdef0123456789abcdef"[..], 32),
        (b"01234567", 32),
        (b"0123456789abcdef", 64),
    ] {
        let params = Params::new(CHEAP.m_kib, CHEAP.t, CHEAP.p, Some(out_len)).unwrap();
        let salt = SaltString::encode_b64(salt).unwrap();
        let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"pass", &salt)
            .unwrap()
            .to_string();
        assert_eq!(
            hasher.verify(b"pass", &phc),
            Verification::Match { needs_rehash: true },
            "{phc}"
        );
    }
}

/// The server's hashes (default parameters) run in libsodium: the caller's kept blocks stay
/// unallocated.
#[test]
fn issue_14_default_hashes_leave_the_kept_memory_unallocated() {
    let hasher = PasswordHasher::new(HashParams::default()).unwrap();
    let mut memory = HashMemory::new();
    let phc = hasher.hash_with(b"pass", &mut memory).unwrap();
    let _ = hasher.verify_with(b"pass", &phc, &mut memory);
    assert_eq!(memory.hash_count(), 2);
    assert_eq!(memory.kept_kib(), 0);
}
