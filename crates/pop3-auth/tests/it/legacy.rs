//! Issue 16: the hashes of Dovecot and `/etc/shadow` verify, made by the real tools at test
//! time (`tools.rs`), plus fixed vectors from the schemes' own documents for when a tool is
//! missing. Each: the right password matches and asks for a rehash, a wrong one does not,
//! malformed and over-bound strings are unusable at once.

use std::time::{Duration, Instant};

use pop3_auth::{
    ImportedPassword, MAX_BCRYPT_COST, MAX_SHA_CRYPT_ROUNDS, Verification, classify_imported,
    hash_scheme,
};

use crate::support::hasher;
use crate::tools::{doveadm, htpasswd_bcrypt, mkpasswd, openssl};

/// ASCII with a space, UTF-8 beyond Latin-1, and one character.
const PASSWORDS: &[&str] = &["correct horse", "pässwörd ünïcödé ✓", "x"];

/// The one check of a stored legacy hash: it verifies `password` and asks for a rehash,
/// refuses a wrong one, and is recognised as `scheme`, for login and for import alike.
fn check(stored: &str, password: &str, scheme: &str) {
    let h = hasher();
    assert_eq!(
        h.verify(password.as_bytes(), stored),
        Verification::Match { needs_rehash: true },
        "{stored} with {password:?}"
    );
    assert_eq!(
        h.verify(format!("{password}!").as_bytes(), stored),
        Verification::Mismatch,
        "{stored}"
    );
    assert_eq!(h.verify(b"", stored), Verification::Mismatch, "{stored}");
    assert_eq!(hash_scheme(stored), Some(scheme), "{stored}");
    match classify_imported(stored) {
        ImportedPassword::Stored {
            hash,
            scheme: classified,
            warning,
        } => {
            assert_eq!(hash, stored);
            assert_eq!(classified, scheme);
            assert_eq!(warning.is_some(), scheme == "MD5-CRYPT", "{stored}");
        }
        other => panic!("{stored}: {other:?}"),
    }
}

/// Runs `make` for every password and checks what it made; `make` returns `None` when its
/// tool is missing (it printed the SKIP line).
fn check_tool(scheme: &str, make: impl Fn(&str) -> Option<String>) {
    for password in PASSWORDS {
        let Some(stored) = make(password) else { return };
        check(&stored, password, scheme);
    }
}

#[test]
fn issue_16_ssha_from_doveadm() {
    check_tool("SSHA512", |p| doveadm("SSHA512", p));
    check_tool("SSHA256", |p| doveadm("SSHA256", p));
    check_tool("SSHA512", |p| doveadm("SSHA512.HEX", p));
    check_tool("SSHA256", |p| doveadm("SSHA256.HEX", p));
    check_tool("SSHA512", |p| doveadm("SSHA512.B64", p));
    check_tool("SSHA256", |p| doveadm("SSHA256.BASE64", p));
    // Dovecot's scheme names are case-insensitive.
    check_tool("SSHA512", |p| {
        doveadm("SSHA512.HEX", p).map(|s| s.replacen("{SSHA512.HEX}", "{ssha512.hex}", 1))
    });
}

#[test]
fn issue_16_sha_crypt_from_doveadm_openssl_and_mkpasswd() {
    check_tool("SHA512-CRYPT", |p| doveadm("SHA512-CRYPT", p));
    check_tool("SHA256-CRYPT", |p| doveadm("SHA256-CRYPT", p));
    check_tool("SHA512-CRYPT", |p| openssl("-6", p));
    check_tool("SHA256-CRYPT", |p| openssl("-5", p));
    check_tool("SHA512-CRYPT", |p| {
        mkpasswd("sha512crypt", &["-R", "20000"], p)
    });
    check_tool("SHA256-CRYPT", |p| mkpasswd("sha256crypt", &[], p));
    // Under Dovecot's generic prefix.
    check_tool("SHA512-CRYPT", |p| {
        openssl("-6", p).map(|s| format!("{{CRYPT}}{s}"))
    });
}

#[test]
fn issue_16_bcrypt_from_doveadm_htpasswd_and_mkpasswd() {
    check_tool("BLF-CRYPT", |p| doveadm("BLF-CRYPT", p));
    // Dovecot 2.3's `{CRYPT}` writes bcrypt.
    check_tool("BLF-CRYPT", |p| doveadm("CRYPT", p));
    check_tool("BLF-CRYPT", |p| htpasswd_bcrypt("5", p));
    check_tool("BLF-CRYPT", |p| mkpasswd("bcrypt", &["-R", "5"], p));
    check_tool("BLF-CRYPT", |p| mkpasswd("bcrypt-a", &["-R", "5"], p));
}

#[test]
fn issue_16_yescrypt_from_mkpasswd() {
    // Debian's default (`j9T`, 16 MiB), the cheapest cost and a costlier one.
    check_tool("YESCRYPT", |p| mkpasswd("yescrypt", &[], p));
    check_tool("YESCRYPT", |p| mkpasswd("yescrypt", &["-R", "1"], p));
    check_tool("YESCRYPT", |p| {
        mkpasswd("yescrypt", &["-R", "7"], p).map(|s| format!("{{CRYPT}}{s}"))
    });
}

#[test]
fn issue_16_md5_crypt_from_openssl_doveadm_and_mkpasswd() {
    check_tool("MD5-CRYPT", |p| openssl("-1", p));
    check_tool("MD5-CRYPT", |p| doveadm("MD5-CRYPT", p));
    // Dovecot's `{MD5}` is MD5-crypt too.
    check_tool("MD5-CRYPT", |p| doveadm("MD5", p));
    check_tool("MD5-CRYPT", |p| mkpasswd("md5crypt", &[], p));
}

/// Dovecot's argon2 (libsodium): `{ARGON2ID}` at 64 MiB and `{ARGON2I}`, both unlike the
/// current parameters, so both ask for a rehash.
#[test]
fn issue_16_argon2_from_doveadm() {
    for password in &PASSWORDS[..2] {
        let Some(stored) = doveadm("ARGON2ID", password) else {
            return;
        };
        check(&stored, password, "ARGON2ID");
        let Some(stored) = doveadm("ARGON2I", password) else {
            return;
        };
        check(&stored, password, "ARGON2I");
    }
}

/// A known limit, pinned so that a change is noticed: crypt_blowfish (libxcrypt, PHP) computes
/// `$2a$` with a countermeasure against its 2011 sign-extension bug for the rare passwords
/// whose bytes the bug would have changed (non-UTF-8 bytes such as `\xff\xff\xa3`, its own
/// test vector, made here by `mkpasswd -m bcrypt-a -S /OK.fbVrR/bpIqNJ5ianF. -R 5`). The
/// `bcrypt` crate computes plain `$2b$`, so such a user gets a mismatch and needs a new
/// password; UTF-8 passwords are not affected (`pässwörd...` above verifies as `$2a$`).
#[test]
fn issue_16_known_limit_the_2a_countermeasure_of_crypt_blowfish() {
    let h = hasher();
    let stored = "$2a$05$/OK.fbVrR/bpIqNJ5ianF.nqd1wy.pTMdcvrRWxyiGL2eMz.2a85.";
    assert_eq!(h.verify(b"\xff\xff\xa3", stored), Verification::Mismatch);
    // The same bytes under `$2b$`, as crypt_blowfish's tests give them, verify.
    let plain = "$2b$05$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e";
    assert_eq!(
        h.verify(b"\xff\xff\xa3", plain),
        Verification::Match { needs_rehash: true }
    );
}

/// Our own argon2id under Dovecot's prefix, at the current parameters: no rehash.
#[test]
fn issue_16_argon2id_at_the_current_cost_under_a_prefix_needs_no_rehash() {
    let h = hasher();
    let stored = format!("{{ARGON2ID}}{}", h.hash(b"secret").unwrap());
    assert_eq!(
        h.verify(b"secret", &stored),
        Verification::Match {
            needs_rehash: false
        }
    );
    assert_eq!(h.verify(b"secreT", &stored), Verification::Mismatch);
    // But `{ARGON2I}` on an argon2id string is a lie: refused.
    let lie = stored.replace("{ARGON2ID}", "{ARGON2I}");
    assert_eq!(h.verify(b"secret", &lie), Verification::Unusable);
}

/// Vectors from the schemes' own documents, checked here whatever tools are installed:
/// Drepper's SHA-crypt specification, Solar Designer's crypt_blowfish tests, the yescrypt
/// reference's `TESTS-OK` (`p = 11` in the optional field), and a FreeBSD MD5-crypt vector;
/// each was also checked against libxcrypt's `crypt(3)` when added. The SSHA ones were made
/// by `doveadm pw` 2.3.19.
pub const SPEC_VECTORS: &[(&str, &str, &str)] = &[
    (
        "SHA256-CRYPT",
        "Hello world!",
        "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5",
    ),
    (
        "SHA256-CRYPT",
        "Hello world!",
        "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA",
    ),
    (
        "SHA512-CRYPT",
        "Hello world!",
        "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
    ),
    (
        "BLF-CRYPT",
        "U*U",
        "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
    ),
    (
        "YESCRYPT",
        "pleaseletmein",
        "$y$jD5.7$LdJMENpBABJJ3hIHjB1Bi.$HboGM6qPrsK.StKYGt6KErmUYtioHreJd98oIugoNB6",
    ),
    (
        "MD5-CRYPT",
        "Hello world!",
        "$1$saltstri$YMyguxXMBpd2TEZ.vS/3q1",
    ),
    (
        "SSHA512",
        "pass word",
        "{SSHA512}4NREYYRgYF/b18e2XYy4znc6xA9VOa+IsurAHRoaXCUmmUF6wxi8gSK6bnoNffRee3CY19gA03dAgoftIYVgGXkpHEA=",
    ),
    (
        "SSHA256",
        "pass word",
        "{SSHA256}+bFI+HFATQkmxxPtLmW21NAy/Raj7WFiN2kvtxVusuHyjB3i",
    ),
    (
        "SSHA512",
        "pass word",
        "{SSHA512.HEX}6ae93cf4d69acbee1104a886d83f89ec11b0458edb0159c89b10fce196af31016c2d990f4d4aa66f344ca1c569008326455ee0747496046e2c82aaec94bf9c8ea90d10e8",
    ),
];

#[test]
fn issue_16_fixed_vectors_from_the_specifications() {
    for (scheme, password, stored) in SPEC_VECTORS {
        check(stored, password, scheme);
    }
}

/// The bounds: a corrupt or hostile row asking for more work than the bound is refused before
/// anything is computed, and is never imported.
#[test]
fn issue_16_over_bound_parameters_are_unusable_at_once() {
    let bcrypt = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
    let sha = "$6$rounds=ROUNDS$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1";
    let yescrypt = "$y$PARAMS$LdJMENpBABJJ3hIHjB1Bi.$HboGM6qPrsK.StKYGt6KErmUYtioHreJd98oIugoNB6";
    let over_bcrypt = MAX_BCRYPT_COST + 1;
    let over_rounds = MAX_SHA_CRYPT_ROUNDS + 1;
    let hostile = [
        bcrypt.replace("$05$", &format!("${over_bcrypt:02}$")),
        bcrypt.replace("$05$", "$31$"),
        bcrypt.replace("$05$", "$99$"),
        sha.replace("ROUNDS", &over_rounds.to_string()),
        sha.replace("ROUNDS", "999999999"),
        sha.replace("ROUNDS", "18446744073709551617"),
        // N = 2^18 with r = 32: 1 GiB, libxcrypt's cost 11, over the bound.
        yescrypt.replace("PARAMS", "jFT"),
        // N = 2^19 with r = 32: 2 GiB.
        yescrypt.replace("PARAMS", "jGT"),
        // N = 2^16, r = 8 (64 MiB) and p = 561 in the optional field.
        yescrypt.replace("PARAMS", "jD5.rz"),
        // N = 2^12, r = 32 (16 MiB) and t = 112.
        yescrypt.replace("PARAMS", "j9T/kz"),
        // N = 2^62: the work does not fit in 64 bits.
        yescrypt.replace("PARAMS", "jkBT"),
        "{SSHA512}".to_owned() + &"A".repeat(1000),
    ];
    let h = hasher();
    for stored in &hostile {
        let start = Instant::now();
        assert_eq!(h.verify(b"U*U", stored), Verification::Unusable, "{stored}");
        assert!(
            start.elapsed() < Duration::from_millis(100),
            "{stored} took {:?}",
            start.elapsed()
        );
        assert_eq!(hash_scheme(stored), None, "{stored}");
        assert!(
            matches!(
                classify_imported(stored),
                ImportedPassword::Invalid { .. } | ImportedPassword::Unknown { .. }
            ),
            "{stored}"
        );
    }
    // The bounds themselves are accepted (only recognised here: computing them is the slow
    // path they bound).
    let at_bound = sha.replace("ROUNDS", &MAX_SHA_CRYPT_ROUNDS.to_string());
    assert_eq!(hash_scheme(&at_bound), Some("SHA512-CRYPT"));
    let at_bound = bcrypt.replace("$05$", &format!("${MAX_BCRYPT_COST:02}$"));
    assert_eq!(hash_scheme(&at_bound), Some("BLF-CRYPT"));
    // libxcrypt's cost 10, `mkpasswd -m yescrypt -R 10`: 512 MiB.
    assert_eq!(
        hash_scheme(&yescrypt.replace("PARAMS", "jET")),
        Some("YESCRYPT")
    );
}

/// Malformed strings of every scheme fail closed: unusable, never imported.
#[test]
fn issue_16_malformed_hashes_are_unusable() {
    let malformed = [
        // MD5-crypt: digest too short, salt too long, bad characters.
        "$1$saltstri$YMyguxXMBpd2TEZ.vS/3q",
        "$1$saltstrin$YMyguxXMBpd2TEZ.vS/3q1",
        "$1$saltstri$YMyguxXMBpd2TEZ.vS/3q!",
        "$1$saltstri",
        // SHA-crypt: fewer than 1000 rounds (glibc never writes them), no digest, long salt.
        "$5$rounds=999$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5",
        "$5$rounds=$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5",
        "$5$rounds=+5000$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5",
        "$5$saltstring",
        "$5$saltstringsaltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5",
        "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl",
        // bcrypt: cost below 4, one digit, length, the bug-compatible `$2x$` we do not verify.
        "$2a$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "$2a$5$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeWW",
        "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe",
        "$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        // yescrypt: a `have` without its field, g and NROM fields, missing parts, a trailing
        // field.
        "$y$j9T.$LdJMENpBABJJ3hIHjB1Bi.$HboGM6qPrsK.StKYGt6KErmUYtioHreJd98oIugoNB6",
        "$y$j9T3..$LdJMENpBABJJ3hIHjB1Bi.$HboGM6qPrsK.StKYGt6KErmUYtioHreJd98oIugoNB6",
        "$y$j9T$LdJMENpBABJJ3hIHjB1Bi.",
        "$y$j9T$LdJMENpBABJJ3hIHjB1Bi.$HboGM6qPrsK.StKYGt6KErmUYtioHreJd98oIugoNB6$",
        // SSHA: no salt, not base64, not hex, unknown encoding.
        "{SSHA256}",
        "{SSHA512}z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==",
        "{SSHA512}not*base64",
        "{SSHA512.HEX}abc",
        "{SSHA512.ROT13}AAAA",
        // argon2: a variant under the other's prefix, argon2d, bare argon2i.
        "{ARGON2I}$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$2Y1ZxgbWHKZzZi7RFd0BLg",
        "$argon2d$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$2Y1ZxgbWHKZzZi7RFd0BLg",
        "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$2Y1ZxgbWHKZzZi7RFd0BLg",
        // Cleartext and locked entries are never verified, nor are DES and unknown schemes.
        "{PLAIN}secret",
        "{CLEARTEXT}secret",
        "!",
        "!$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
        "*",
        "saQYh9YpB8FnE",
        "{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=",
        "{SSHA512",
        "}",
        "$",
        "$$$$",
        "$7$CU..../....2KoYJGXsG4Bw1kp.vc8wDV$secret",
    ];
    let h = hasher();
    for stored in malformed {
        assert_eq!(
            h.verify(b"secret", stored),
            Verification::Unusable,
            "{stored}"
        );
        assert_eq!(
            h.verify(b"Hello world!", stored),
            Verification::Unusable,
            "{stored}"
        );
        assert_eq!(hash_scheme(stored), None, "{stored}");
        assert!(
            !matches!(classify_imported(stored), ImportedPassword::Stored { .. }),
            "{stored}"
        );
    }
}
