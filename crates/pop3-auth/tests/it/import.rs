//! Issue 16: password fields of a Dovecot passwd-file or `/etc/shadow`, classified for the
//! migration command, and the two ways such a user enters the database.

use pop3_auth::UserStore as _;
use pop3_auth::{
    Credential, Error, ImportFlags, ImportedPassword, LOCKED_HASH, Outcome, RejectReason, UserName,
    classify_imported, hash_scheme,
};

use crate::legacy::SPEC_VECTORS;
use crate::support::{TempDb, authenticator, hasher};

/// What a field classifies as, in one word, with the scheme where there is one.
fn kind(field: &str) -> String {
    match classify_imported(field) {
        ImportedPassword::Stored { scheme, .. } => format!("stored {scheme}"),
        ImportedPassword::Plain(password) => {
            format!("plain {}", String::from_utf8_lossy(&password))
        }
        ImportedPassword::Locked => "locked".to_owned(),
        ImportedPassword::Unknown { scheme } => format!("unknown {scheme}"),
        ImportedPassword::Invalid { scheme, .. } => format!("invalid {scheme}"),
        ImportedPassword::Empty => "empty".to_owned(),
    }
}

#[test]
fn issue_16_classify_imported() {
    let cases = [
        // Cleartext, in every spelling and encoding Dovecot has.
        ("{PLAIN}secret", "plain secret"),
        ("{plain}secret word ", "plain secret word "),
        ("{CLEAR}secret", "plain secret"),
        ("{CLEARTEXT}secret", "plain secret"),
        ("{PLAIN.B64}c2VjcmV0", "plain secret"),
        ("{PLAIN.BASE64}c2VjcmV0", "plain secret"),
        ("{PLAIN.HEX}736563726574", "plain secret"),
        ("{PLAIN.HEX}7", "invalid PLAIN.HEX"),
        ("{PLAIN.B64}***", "invalid PLAIN.B64"),
        ("{PLAIN}", "empty"),
        // A cleartext password we could never set is not imported as one.
        ("{PLAIN.HEX}61000a62", "invalid PLAIN"),
        // Locked and password-less shadow entries.
        ("!", "locked"),
        ("!!", "locked"),
        ("*", "locked"),
        ("!*", "locked"),
        ("*LK*", "locked"),
        (
            "!$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
            "locked",
        ),
        (LOCKED_HASH, "locked"),
        ("", "empty"),
        // Schemes we do not verify.
        ("{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=", "unknown SHA"),
        (
            "{PLAIN-MD5}5ebe2294ecd0e0f08eab7690d2a6ee69",
            "unknown PLAIN-MD5",
        ),
        ("{MD5}5ebe2294ecd0e0f08eab7690d2a6ee69", "unknown MD5"),
        ("{CRAM-MD5}abcd", "unknown CRAM-MD5"),
        ("{SSHA512.ROT13}abcd", "unknown SSHA512.ROT13"),
        ("saQYh9YpB8FnE", "unknown DES-CRYPT"),
        ("{CRYPT}saQYh9YpB8FnE", "unknown DES-CRYPT"),
        ("$7$CU..../....2KoYJGXsG4Bw1kp.vc8wDV$x", "unknown $7$"),
        (
            "$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "unknown $2x$",
        ),
        (
            "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
            "unknown $argon2i$",
        ),
        ("x", "unknown unrecognised"),
        ("{SSHA512", "unknown unrecognised"),
        // Ours, but broken or over the bounds.
        ("{SSHA512}AAAA", "invalid SSHA512"),
        (
            "$2b$20$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "invalid BLF-CRYPT",
        ),
        ("$6$rounds=10$salt$x", "invalid SHA512-CRYPT"),
        (
            "{ARGON2ID}$argon2i$v=19$m=64,t=1,p=1$c2FsdA$AAAA",
            "invalid ARGON2ID",
        ),
        (
            "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHRzYWx0$2Y1ZxgbWHKZzZi7RFd0BLg",
            "invalid ARGON2ID",
        ),
        // Verified schemes, under every prefix Dovecot hands to crypt(3).
        (
            "{SHA512-CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
            "stored SHA512-CRYPT",
        ),
        (
            "{crypt}$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5",
            "stored SHA256-CRYPT",
        ),
        (
            "{BLF-CRYPT}$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "stored BLF-CRYPT",
        ),
        (
            "{MD5-CRYPT}$1$saltstri$YMyguxXMBpd2TEZ.vS/3q1",
            "stored MD5-CRYPT",
        ),
    ];
    for (field, expected) in cases {
        assert_eq!(kind(field), expected, "{field:?}");
    }
    for (scheme, _, stored) in SPEC_VECTORS {
        assert_eq!(kind(stored), format!("stored {scheme}"));
    }
}

#[test]
fn issue_16_md5_crypt_is_imported_with_a_warning_and_debug_shows_no_secret() {
    let ImportedPassword::Stored { warning, .. } =
        classify_imported("$1$saltstri$YMyguxXMBpd2TEZ.vS/3q1")
    else {
        panic!("MD5-crypt is stored");
    };
    assert!(warning.unwrap().contains("MD5-crypt is weak"));
    let debug = format!("{:?}", classify_imported("{PLAIN}hunter2"));
    assert!(!debug.contains("hunter2"), "{debug}");
    let debug = format!(
        "{:?}",
        classify_imported("$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5")
    );
    assert!(!debug.contains("5B8vYYiY"), "{debug}");
}

/// A legacy hash is stored as it is; the user logs in with the old password.
#[test]
fn issue_16_add_with_hash_stores_it_as_it_is() {
    let t = TempDb::new();
    let maildir = t.dir.path().join("mail/alice/Maildir");
    let alice = UserName::parse("alice").unwrap();
    let (_, password, stored) = SPEC_VECTORS[0];
    let user = t.db.add_with_hash(&alice, stored, &maildir).unwrap();
    assert!(user.enabled);
    assert_eq!(user.password_hash, stored);
    assert!(matches!(
        t.db.add_with_hash(&alice, stored, &maildir),
        Err(Error::UserExists(_))
    ));
    let outcome = authenticator(false)
        .authenticate(&t.db, "alice", Credential::Password(password.as_bytes()))
        .unwrap();
    assert!(matches!(outcome, Outcome::Accepted(_)), "{outcome:?}");
}

/// Nothing verification would refuse is stored: no cleartext, no empty or locked field, no
/// unknown scheme, nothing over the bounds, and never a relative Maildir.
#[test]
fn issue_16_add_with_hash_refuses_what_could_never_verify() {
    let t = TempDb::new();
    let maildir = t.dir.path().join("mail/bob/Maildir");
    let bob = UserName::parse("bob").unwrap();
    for hash in [
        "",
        "{PLAIN}secret",
        "!",
        LOCKED_HASH,
        "{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=",
        "$2b$20$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "{SSHA512}AAAA",
    ] {
        assert!(
            matches!(
                t.db.add_with_hash(&bob, hash, &maildir),
                Err(Error::UnsupportedHash(_))
            ),
            "{hash:?}"
        );
    }
    assert!(matches!(
        t.db.add_with_hash(&bob, SPEC_VECTORS[0].2, "relative/Maildir".as_ref()),
        Err(Error::InvalidMaildir(_))
    ));
    assert!(t.db.get(&bob).unwrap().is_none());
}

/// A locked entry becomes a disabled user whose stored hash no password verifies: enabling
/// the user alone lets nobody in; setting a password does.
#[test]
fn issue_16_add_locked_creates_a_user_no_password_opens() {
    let t = TempDb::new();
    let carol = UserName::parse("carol").unwrap();
    let user =
        t.db.add_locked(&carol, &t.dir.path().join("mail/carol/Maildir"))
            .unwrap();
    assert!(!user.enabled);
    assert_eq!(user.password_hash, LOCKED_HASH);
    assert!(!user.password_hash.is_empty());
    assert_eq!(hash_scheme(LOCKED_HASH), None);
    let auth = authenticator(false);
    let login = |password: &[u8]| match auth
        .authenticate(&t.db, "carol", Credential::Password(password))
        .unwrap()
    {
        Outcome::Accepted(_) => None,
        Outcome::Rejected(reason) => Some(reason),
        other => panic!("{other:?}"),
    };
    for password in [&b""[..], b"!", LOCKED_HASH.as_bytes(), b"locked"] {
        assert_eq!(login(password), Some(RejectReason::Disabled));
    }
    t.db.set_enabled(&carol, true).unwrap();
    for password in [&b""[..], b"!", LOCKED_HASH.as_bytes(), b"locked"] {
        assert_eq!(login(password), Some(RejectReason::UnusableHash));
    }
    t.db.set_password(&carol, b"a new one", &hasher()).unwrap();
    assert_eq!(login(b"a new one"), None);
}

/// `add_imported`: every kind of field in one INSERT with both flags; only a password that can
/// verify is ever enabled, cleartext is hashed, and nothing is written for a refused hash.
#[test]
fn issue_16_add_imported_writes_the_row_with_its_flags_in_one_insert() {
    let t = TempDb::new();
    let hasher = hasher();
    let (_, spec_password, spec_hash) = SPEC_VECTORS[0];
    let add = |name: &str, field: &str, enabled: bool, uidl_map: bool| {
        let name = UserName::parse(name).unwrap();
        let maildir = t.dir.path().join("mail").join(name.as_str());
        let flags = ImportFlags { enabled, uidl_map };
        t.db.add_imported(&name, &classify_imported(field), &maildir, &hasher, flags)
    };
    let stored = add("stored", spec_hash, true, true).unwrap();
    assert_eq!(
        (
            stored.password_hash.as_str(),
            stored.enabled,
            stored.uidl_map
        ),
        (spec_hash, true, true)
    );
    let nologin = add("nologin", spec_hash, false, true).unwrap();
    assert_eq!((nologin.enabled, nologin.uidl_map), (false, true));
    let plain = add("plain", "{PLAIN}clear words", true, false).unwrap();
    assert!(plain.password_hash.starts_with("$argon2id$"));
    assert!(!plain.password_hash.contains("clear words"));
    assert_eq!((plain.enabled, plain.uidl_map), (true, false));
    for (name, field) in [
        ("locked", "!$6$x$y"),
        ("empty", ""),
        ("unknown", "{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M="),
        ("invalid", "{SSHA512}AAAA"),
    ] {
        let user = add(name, field, true, true).unwrap();
        assert_eq!(user.password_hash, LOCKED_HASH, "{name}");
        assert_eq!((user.enabled, user.uidl_map), (false, true), "{name}");
    }
    assert!(matches!(
        add("stored", "{PLAIN}x", true, false),
        Err(Error::UserExists(_))
    ));
    // A Stored value that verification refuses (not made by classify_imported) writes nothing.
    let name = UserName::parse("forged").unwrap();
    let forged = ImportedPassword::Stored {
        hash: "{PLAIN}secret".to_owned(),
        scheme: "PLAIN",
        warning: None,
    };
    let flags = ImportFlags {
        enabled: true,
        uidl_map: false,
    };
    assert!(matches!(
        t.db.add_imported(&name, &forged, &t.dir.path().join("m"), &hasher, flags),
        Err(Error::UnsupportedHash(_))
    ));
    assert!(t.db.get(&name).unwrap().is_none());
    let auth = authenticator(false);
    for (name, password, accepted) in [
        ("stored", spec_password, true),
        ("plain", "clear words", true),
        ("nologin", spec_password, false),
        ("locked", "", false),
    ] {
        let outcome = auth
            .authenticate(&t.db, name, Credential::Password(password.as_bytes()))
            .unwrap();
        assert_eq!(matches!(outcome, Outcome::Accepted(_)), accepted, "{name}");
    }
}
