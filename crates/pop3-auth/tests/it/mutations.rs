//! Issue 16: no stored or imported field panics, stalls or allocates without bound. Every
//! valid hash of every scheme is cut at each position and has each character replaced by a
//! few hostile ones; verification and classification must answer at once, and agree: a hash
//! that `hash_scheme` does not accept is unusable, and an unusable one is never imported.

use std::time::{Duration, Instant};

use pop3_auth::{ImportedPassword, Verification, classify_imported, hash_scheme};

use crate::legacy::SPEC_VECTORS;
use crate::support::hasher;

/// Characters that end fields, start prefixes, overflow digits or break UTF-8 boundaries.
const REPLACEMENTS: &[char] = &['$', '{', '}', '.', '/', 'z', '9', '0', '=', '!', '\0', 'é'];

fn mutations(valid: &str) -> Vec<String> {
    let chars: Vec<char> = valid.chars().collect();
    let mut out = Vec::new();
    for cut in 0..chars.len() {
        out.push(chars[..cut].iter().collect());
        for &replacement in REPLACEMENTS {
            let mut changed = chars.clone();
            changed[cut] = replacement;
            out.push(changed.iter().collect());
        }
        let mut doubled = chars.clone();
        doubled.insert(cut, chars[cut]);
        out.push(doubled.iter().collect());
    }
    out.push(format!("{valid}{valid}"));
    out.push(format!("{{CRYPT}}{{CRYPT}}{valid}"));
    out
}

#[test]
fn issue_16_mutated_hashes_never_panic_and_fail_closed() {
    let h = hasher();
    let argon2 = h.hash(b"secret").unwrap();
    // The reference yescrypt vector costs 700 MiB of work per try: a cheap one stands in for
    // it (`mkpasswd -m yescrypt -R 1`, 1 MiB).
    let mut bases: Vec<(&str, String)> = SPEC_VECTORS
        .iter()
        .filter(|(scheme, ..)| *scheme != "YESCRYPT")
        .map(|(_, password, stored)| (*password, (*stored).to_owned()))
        .collect();
    bases.push((
        "pass word",
        "$y$j75$v3pCb4wg03XgEImkEbSGt.$QrsmFFFXokst6HZ9lMPSVjyS2kfwZrcaVbcsSI1uNP5".to_owned(),
    ));
    bases.push(("secret", argon2.clone()));
    bases.push(("secret", format!("{{ARGON2ID}}{argon2}")));
    let mut checked = 0;
    for (password, valid) in &bases {
        for stored in mutations(valid) {
            let start = Instant::now();
            let verification = h.verify(password.as_bytes(), &stored);
            let classified = classify_imported(&stored);
            // A mutation may raise a cost within its bound (rounds=10000 -> 90000), never
            // past it: well under the bounds' second and a half.
            assert!(
                start.elapsed() < Duration::from_secs(3),
                "{stored:?} took {:?}",
                start.elapsed()
            );
            let recognised = hash_scheme(&stored);
            if recognised.is_none() {
                assert_eq!(verification, Verification::Unusable, "{stored:?}");
            }
            if let ImportedPassword::Stored { scheme, .. } = classified {
                assert_eq!(Some(scheme), recognised, "{stored:?}");
            } else {
                assert_eq!(recognised, None, "{stored:?}");
            }
            checked += 1;
        }
    }
    assert!(checked > 5_000, "{checked}");
}

/// Arbitrary fields behind every prefix we recognise: no panic.
#[test]
fn issue_16_arbitrary_fields_never_panic() {
    let h = hasher();
    let prefixes = [
        "",
        "$1$",
        "$5$",
        "$6$rounds=",
        "$2b$",
        "$2y$04$",
        "$y$",
        "$y$j",
        "{SSHA512}",
        "{SSHA256.HEX}",
        "{PLAIN.B64}",
        "{ARGON2ID}",
        "{ARGON2I}$argon2i$",
        "{CRYPT}",
        "!",
    ];
    // A fixed linear congruential sequence: the same cases every run.
    let mut state: u64 = 0x5eed;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    let alphabet: Vec<char> =
        "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz$={},é\0"
            .chars()
            .collect();
    for prefix in prefixes {
        for _ in 0..200 {
            let len = (next() % 90) as usize;
            let tail: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let stored = format!("{prefix}{tail}");
            let _ = h.verify(b"password", &stored);
            let _ = classify_imported(&stored);
            let _ = hash_scheme(&stored);
        }
    }
}

/// Our decoder of yescrypt's parameter field (it bounds the cost before the library sees it)
/// reads what the library's own encoder writes, for every flavour and the optional p and t:
/// each verifies (a mismatch) rather than being refused, and none panics.
#[test]
fn issue_16_yescrypt_parameters_decode_as_the_library_encodes_them() {
    use yescrypt::{Mode, Params};
    let h = hasher();
    let mut checked = 0;
    for mode in [Mode::Classic, Mode::Worm, Mode::Rw] {
        for n_log2 in 1..=7 {
            for r in [1, 2, 3, 7, 8, 9, 32] {
                for p in 1..=4 {
                    for t in 0..=3 {
                        let Ok(params) = Params::new_with_all_params(mode, 1 << n_log2, r, p, t, 0)
                        else {
                            continue;
                        };
                        let stored = format!(
                            "$y${params}$LdJMENpBABJJ3hIHjB1Bi.$\
                             HboGM6qPrsK.StKYGt6KErmUYtioHreJd98oIugoNB6"
                        );
                        assert_eq!(h.verify(b"x", &stored), Verification::Mismatch, "{stored}");
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 1_000, "{checked}");
}
