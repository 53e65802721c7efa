//! Unit tests of the sources, the templates and the interim seam.

use std::path::{Path, PathBuf};

use super::hooks::{ImportedPassword, UidlSource, classify, classify_shadow};
use super::template::MailLocation;
use super::{Line, dovecot, system};

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
    assert_eq!(ann.password, ImportedPassword::Plain("pw".into()));
    assert_eq!(ann.maildir, Path::new("/mail/a.org/ann"));
    assert_eq!(
        ann.uidls,
        [UidlSource::Dovecot {
            path: "/mail/a.org/ann/dovecot-uidlist".into(),
            format: "%08Xu%08Xv".into()
        }]
    );
    let bob = candidates[1];
    assert!(matches!(bob.password, ImportedPassword::Stored { .. }));
    assert_eq!(bob.maildir, Path::new("/home/bob/Mail"));
    assert_eq!(bob.uidls[0].path(), Path::new("/c/bob/dovecot-uidlist"));
    assert!(bob.disabled.as_deref().unwrap_or("").contains("nologin"));
    assert_eq!(
        candidates[2].password,
        ImportedPassword::Unknown {
            scheme: "$6$".into()
        }
    );
    assert_eq!(
        candidates[3].password,
        ImportedPassword::Unknown {
            scheme: "{PLAIN-MD5}".into()
        }
    );
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
            Line::Candidate(c) => format!("{} {:?} {}", c.name, c.password, c.disabled.is_some()),
            Line::Malformed { name, .. } => format!("malformed {name:?}"),
        })
        .collect();
    assert_eq!(
        summary,
        [
            "ann Unknown { scheme: \"$y$\" } false",
            "bob Locked false",
            "gone Empty true",
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
fn the_interim_classify_knows_argon2id_and_plain_only() {
    let phc = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA";
    assert!(matches!(
        classify(&format!("{{ARGON2ID}}{phc}")),
        ImportedPassword::Stored {
            scheme: "ARGON2ID",
            ..
        }
    ));
    assert_eq!(
        classify("{PLAIN}secret"),
        ImportedPassword::Plain("secret".into())
    );
    assert_eq!(classify(""), ImportedPassword::Empty);
    assert_eq!(
        classify("{CRYPT}$6$salt$hash"),
        ImportedPassword::Unknown {
            scheme: "$6$".into()
        }
    );
    assert_eq!(
        classify("{SSHA512}abc"),
        ImportedPassword::Unknown {
            scheme: "{SSHA512}".into()
        }
    );
    assert_eq!(classify_shadow("!$y$j9T$a$b"), ImportedPassword::Locked);
    assert_eq!(classify_shadow("*"), ImportedPassword::Locked);
    assert_eq!(
        classify_shadow("$y$j9T$a$b"),
        ImportedPassword::Unknown {
            scheme: "$y$".into()
        }
    );
}
