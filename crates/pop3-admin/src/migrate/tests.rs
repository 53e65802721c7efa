//! Unit tests of the sources, the templates and the password fields.

use std::path::{Path, PathBuf};

use pop3_auth::ImportedPassword;

use super::password::{crypt_field, dovecot_field, scheme_of};
use super::template::MailLocation;
use super::uidls::UidlSource;
use super::{Line, dovecot, system};

/// A classified field in one word, with its scheme (`ImportedPassword` has no `PartialEq`:
/// it may hold a cleartext password).
fn kind(password: &ImportedPassword) -> String {
    let what = match password {
        ImportedPassword::Stored { .. } => "stored",
        ImportedPassword::Plain(_) => "plain",
        ImportedPassword::Locked => "locked",
        ImportedPassword::Unknown { .. } => "unknown",
        ImportedPassword::Invalid { .. } => "invalid",
        ImportedPassword::Empty => "empty",
    };
    format!("{what} {}", scheme_of(password))
}

fn expand(template: &str, user: &str, home: &str) -> Result<(PathBuf, PathBuf), String> {
    MailLocation::parse(template)?
        .expand(user, home)
        .map(|e| (e.maildir, e.control))
}

#[test]
fn templates_expand_as_dovecot_mail_location() {
    let check = |template: &str, want: &str| {
        let (maildir, _) = expand(template, "Ann.Lee@Example.org", "/home/ann").unwrap();
        assert_eq!(maildir, Path::new(want), "{template}");
    };
    check("maildir:~/Maildir", "/home/ann/Maildir");
    check("~/Maildir", "/home/ann/Maildir");
    check("maildir:%h/mail", "/home/ann/mail");
    check("/var/vmail/%d/%n", "/var/vmail/Example.org/Ann.Lee");
    check("/var/vmail/%Ld/%Ln", "/var/vmail/example.org/ann.lee");
    check(
        "/var/vmail/%{domain}/%{username}",
        "/var/vmail/Example.org/Ann.Lee",
    );
    check(
        "/var/vmail/%u/Maildir",
        "/var/vmail/Ann.Lee@Example.org/Maildir",
    );
    check(
        "maildir:/v/%u:LAYOUT=fs:INDEX=/idx/%u",
        "/v/Ann.Lee@Example.org",
    );
    check("/v/100%%/%n", "/v/100%/Ann.Lee");
    check("maildir:/odd::name/%n", "/odd:name/Ann.Lee");
    let (_, control) = expand("maildir:~/Maildir:CONTROL=/ctl/%u", "bob", "/home/bob").unwrap();
    assert_eq!(control, Path::new("/ctl/bob"));
    let (maildir, control) = expand("maildir:~/Maildir", "bob", "/home/bob/").unwrap();
    assert_eq!(maildir, control);
    assert_eq!(maildir, Path::new("/home/bob/Maildir"));
    for (bad, why) in [
        ("mbox:~/mail", "not maildir"),
        ("~/Maildir", "home"),
        ("/v/%r", "not supported"),
        ("Maildir", "absolute"),
        ("/v/%", "middle"),
    ] {
        let err = expand(bad, "bob", "").unwrap_err();
        assert!(err.contains(why), "{bad}: {err}");
    }
}

fn dovecot_lines(text: &str) -> Vec<Line> {
    let location = MailLocation::parse("/mail/%d/%n").unwrap();
    let options = dovecot::Options {
        location: &location,
        default_scheme: "CRYPT",
        uidl_format: "%08Xu%08Xv",
    };
    dovecot::parse(text.as_bytes(), Path::new("users"), &options)
}

#[test]
fn passwd_file_lines_are_read_as_dovecot_reads_them() {
    let lines = dovecot_lines(
        "# comment\n\
         \n\
         :nameless:1:1\n\
         ann@a.org:{PLAIN}pw\r\n\
         bob:{ARGON2ID}$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA:1000:1000::/home/bob::userdb_mail=maildir:~/Mail:CONTROL=/c/%u nologin\n\
         carl:$6$salt$hash:1:1::/home/carl:/bin/sh:\n\
         dan:secret[34]\n\
         eve:{SSHA512}xyz:1:1:Eve:/home/eve::nopassword\n\
         old:{PLAIN}x:1:1::/home/old:/bin/sh::maildir:/old/mail\n\
         bad line with spaces\n\
         prox:{PLAIN}x:1:1::::proxy host=10.0.0.1\n",
    );
    let candidates: Vec<_> = lines
        .iter()
        .filter_map(|l| match l {
            Line::Candidate(c) => Some(c),
            Line::Malformed { .. } => None,
        })
        .collect();
    let names: Vec<&str> = candidates.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ann@a.org",
            "bob",
            "carl",
            "dan",
            "eve",
            "old",
            "bad line with spaces"
        ]
    );
    let ann = candidates[0];
    assert_eq!(ann.origin, "users:4");
    match &ann.password {
        ImportedPassword::Plain(pw) => assert_eq!(pw.as_slice(), b"pw"),
        other => panic!("{other:?}"),
    }
    assert_eq!(ann.maildir, Path::new("/mail/a.org/ann"));
    assert_eq!(
        ann.uidls,
        [UidlSource::Dovecot {
            path: "/mail/a.org/ann/dovecot-uidlist".into(),
            format: "%08Xu%08Xv".into()
        }]
    );
    let bob = candidates[1];
    // Recognised as argon2id; its 4-byte output is too short to be one we would store.
    assert_eq!(kind(&bob.password), "invalid ARGON2ID");
    assert_eq!(bob.maildir, Path::new("/home/bob/Mail"));
    assert_eq!(bob.uidls[0].path(), Path::new("/c/bob/dovecot-uidlist"));
    assert!(bob.disabled.as_deref().unwrap_or("").contains("nologin"));
    // A bare crypt string in the default scheme (CRYPT), malformed here.
    assert_eq!(kind(&candidates[2].password), "invalid SHA512-CRYPT");
    assert_eq!(kind(&candidates[3].password), "unknown PLAIN-MD5");
    assert!(
        candidates[4]
            .disabled
            .as_deref()
            .unwrap_or("")
            .contains("nopassword")
    );
    assert_eq!(candidates[5].maildir, Path::new("/old/mail"));
    let malformed: Vec<_> = lines
        .iter()
        .filter_map(|l| match l {
            Line::Malformed { origin, reason, .. } => Some((origin.as_str(), reason.as_str())),
            Line::Candidate(_) => None,
        })
        .collect();
    assert_eq!(malformed.len(), 1, "{malformed:?}");
    assert!(malformed[0].1.contains("proxy"), "{malformed:?}");
}

#[test]
fn system_accounts_join_passwd_and_shadow_in_the_uid_range() {
    let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                  ann:x:1000:1000:Ann:/home/ann:/bin/bash\n\
                  bob:x:1001:1001::/home/bob:/usr/sbin/nologin\n\
                  gone:x:1002:1002::/home/gone:/bin/sh\n\
                  nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
                  odd:x:abc:1::/home/odd:/bin/sh\n";
    let shadow = "root:*:19000:0:99999:7:::\n\
                  ann:$y$j9T$salt$hash:19000:0:99999:7:::\n\
                  bob:!$6$s$h:19000:0:99999:7:::\n\
                  odd:*:1::::::\n";
    let location = MailLocation::parse("~/Maildir").unwrap();
    let parse = |names: &[String]| {
        let options = system::Options {
            names,
            uids: 1000..=60000,
            location: &location,
            uidl_format: "%08Xu%08Xv",
        };
        system::parse(passwd, Path::new("passwd"), shadow, &options)
    };
    let lines = parse(&[]);
    let summary: Vec<String> = lines
        .iter()
        .map(|l| match l {
            Line::Candidate(c) => {
                format!("{} {} {}", c.name, kind(&c.password), c.disabled.is_some())
            }
            Line::Malformed { name, .. } => format!("malformed {name:?}"),
        })
        .collect();
    assert_eq!(
        summary,
        [
            "ann invalid YESCRYPT false",
            "bob locked (locked) false",
            "gone empty (empty) true",
            "malformed Some(\"odd\")",
        ]
    );
    if let Line::Candidate(ann) = &lines[0] {
        assert_eq!(ann.maildir, Path::new("/home/ann/Maildir"));
        assert_eq!(ann.uidls.len(), 2);
        assert_eq!(
            ann.uidls[1].path(),
            Path::new("/home/ann/Maildir/courierpop3dsizelist")
        );
    }
    let only = parse(&["bob".to_owned(), "root".to_owned(), "zed".to_owned()]);
    let summary: Vec<String> = only
        .iter()
        .map(|l| match l {
            Line::Candidate(c) => c.name.clone(),
            Line::Malformed { name, reason, .. } => format!("{name:?}: {reason}"),
        })
        .collect();
    assert_eq!(summary.len(), 3, "{summary:?}");
    assert_eq!(
        summary[0],
        "Some(\"root\"): uid 0 is outside --min-uid/--max-uid; not imported"
    );
    assert_eq!(summary[1], "bob");
    assert_eq!(summary[2], "Some(\"zed\"): no such account");
}

#[test]
fn password_fields_follow_dovecots_default_scheme_and_shadows_crypt() {
    let sha512 = "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1";
    let md5 = "$1$saltstri$YMyguxXMBpd2TEZ.vS/3q1";
    let check = |got: ImportedPassword, want: &str, field: &str| {
        assert_eq!(kind(&got), want, "{field}");
    };
    for (field, scheme, want) in [
        // A {SCHEME} prefix wins over the default.
        ("{PLAIN}secret", "CRYPT", "plain PLAIN"),
        ("{PLAIN}secret", "SSHA512", "plain PLAIN"),
        // CRYPT, the default: the field goes to crypt(3) as it is.
        (sha512, "CRYPT", "stored SHA512-CRYPT"),
        (sha512, "crypt", "stored SHA512-CRYPT"),
        ("secret", "CRYPT", "unknown unrecognised"),
        ("!", "CRYPT", "locked (locked)"),
        // Another default is written in front of a bare field...
        ("secret", "PLAIN", "plain PLAIN"),
        (sha512, "SHA512-CRYPT", "stored SHA512-CRYPT"),
        (sha512, "PLAIN", "plain PLAIN"),
        ("abc", "SSHA512", "invalid SSHA512"),
        ("abc", "NTLM", "unknown NTLM"),
        // ...except a bare $1$, MD5-CRYPT whatever the default (Dovecot's password_get_scheme).
        (md5, "PLAIN", "stored MD5-CRYPT"),
        ("", "PLAIN", "empty (empty)"),
    ] {
        check(dovecot_field(field, scheme), want, field);
    }
    if let ImportedPassword::Stored { hash, warning, .. } = dovecot_field(md5, "CRYPT") {
        assert_eq!(hash, md5, "stored as it is");
        assert!(warning.is_some_and(|w| w.contains("MD5")));
    } else {
        panic!("MD5-crypt not stored");
    }
    for (field, want) in [
        (sha512, "stored SHA512-CRYPT"),
        ("!$y$j9T$a$b", "locked (locked)"),
        ("*", "locked (locked)"),
        ("!!", "locked (locked)"),
        ("", "empty (empty)"),
        ("{PLAIN}secret", "unknown not a crypt(3) string"),
        ("$7$whatever", "unknown $7$"),
    ] {
        check(crypt_field(field), want, field);
    }
}
