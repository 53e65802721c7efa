//! Issue 16: `pop3-admin migrate` carries the old server's UIDLs into the maildrop's map
//! before the user exists: what a dry run plans (and writes nothing), what a run carries, what
//! it reports about the entries that did not carry, the `uidl_map` flag in the new row, and
//! the list `pop3-admin uidl` shows. Dovecot's file as Dovecot writes it; Courier's size list
//! as Courier's documentation describes it (`courierpop3dsizelist`, `/2 <next> <uidv>`).

use pop3_auth::UserStore as _;
use std::path::Path;

use crate::migrate::{by_name, fixture, maildir_without_uidlist, snapshot};
use crate::support::Site;

/// Ann's Maildir (4 messages, see `migrate::maildir_with`) as Dovecot listed it: messages 0
/// and 1, then message 2 with the same saved UIDL as message 1 (`P`), and a message deleted
/// since (line 5).
const ANN_UIDLIST: &str = "3 V1700000000 N5 G3085f01b7f11094c501100008c4a11c1\n\
                           1 :1700000000.M1P1.old\n\
                           2 Pdup :1700000001.M2P2Q1.old\n\
                           3 Pdup :1700000002.M1P1.old\n\
                           4 :1699999999.M9P9.gone\n";

#[test]
fn issue_16_migrate_carries_uidls_plans_them_in_a_dry_run_and_reports_what_did_not_carry() {
    let f = fixture();
    let ann_dir = f.vmail.join("example.org/ann");
    std::fs::write(ann_dir.join("dovecot-uidlist"), ANN_UIDLIST).unwrap();

    let before = snapshot(f.site.dir.path());
    let (_, dry, _) = f.migrate(&["--dry-run"]);
    assert!(snapshot(f.site.dir.path()) == before, "the dry run wrote");
    let ann = by_name(&dry, "ann@example.org")[0];
    assert_eq!(ann["result"], "would-create", "{ann:#}");
    let uidls = &ann["uidls"];
    assert_eq!(
        (&uidls["found"], &uidls["carried"]),
        (&4.into(), &2.into()),
        "{ann:#}"
    );
    assert_eq!(
        (&uidls["unmatched"], &uidls["duplicates"]),
        (&1.into(), &1.into())
    );
    let notes = ann["notes"].to_string();
    assert!(notes.contains("1 UIDLs name no file"), "{notes}");
    assert!(notes.contains("dovecot-uidlist line 5"), "{notes}");
    assert!(notes.contains("given to an earlier message"), "{notes}");
    assert!(notes.contains("dovecot-uidlist line 4"), "{notes}");

    let (_, done, _) = f.migrate(&[]);
    let ann = by_name(&done, "ann@example.org")[0];
    assert_eq!(ann["result"], "created", "{ann:#}");
    assert_eq!(ann["uidls"], uidls.clone(), "the plan was what the run did");
    assert!(ann_dir.join(".pop3d.uidl").exists());
    let db = f.site.db();
    let row = |name: &str| {
        db.get(&pop3_auth::UserName::parse(name).unwrap())
            .unwrap()
            .unwrap()
    };
    assert!(row("ann@example.org").uidl_map, "the row has the flag");

    // What pop3d will serve: Dovecot's UIDLs (%08Xu%08Xv, V1700000000 = 0x6553f100, lower case as Dovecot writes it) and the
    // saved one, in Dovecot's order, then pop3d's own for the duplicate and the rest.
    let (code, out, err) = f.site.run(&["uidl", "ann@example.org"], b"");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "1 000000016553f100",
            "2 dup",
            "3 1700000002.M1P1.old",
            "4 1700000003.M2P2Q3.old"
        ]
    );
}

/// Issue 16 review: a Maildir with mail and no `dovecot-uidlist` (a wrong template or
/// `:CONTROL=`) fails that user (`no-uidlist`), in a dry run too, and nothing is added or
/// written for it; `--native-uidls` imports it with pop3d's own UIDLs and a note. An empty
/// Maildir without one is fine.
#[test]
fn issue_16_migrate_dovecot_fails_a_maildir_with_mail_and_no_uidlist() {
    let f = fixture();
    let bob_dir = f.vmail.join("example.org/bob");
    std::fs::remove_file(bob_dir.join("dovecot-uidlist")).unwrap();
    std::fs::remove_file(f.vmail.join("example.org/carl/dovecot-uidlist")).unwrap();
    let before = snapshot(&bob_dir);
    for extra in [&["--dry-run"][..], &[]] {
        let (code, report, err) = f.migrate(extra);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("2 of 6 entries failed"), "{extra:?}: {err}");
        let bob = by_name(&report, "bob@example.org")[0];
        assert_eq!(bob["result"], "failed", "{bob:#}");
        assert_eq!(bob["reason"], "no-uidlist", "{bob:#}");
        let note = bob["notes"].to_string();
        assert!(
            note.contains("3 messages and no dovecot-uidlist")
                && note.contains(":CONTROL=")
                && note.contains("--native-uidls"),
            "{note}"
        );
        // carl's Maildir is empty: nothing to download twice.
        let carl = by_name(&report, "carl@example.org")[0];
        assert_ne!(carl["result"], "failed", "{carl:#}");
    }
    let name = pop3_auth::UserName::parse("bob@example.org").unwrap();
    assert!(f.site.db().get(&name).unwrap().is_none(), "bob not added");
    assert!(snapshot(&bob_dir) == before, "nothing written for bob");

    let (code, report, err) = f.migrate(&["--native-uidls"]);
    assert_eq!(code, 1, "only the malformed line fails now: {err}");
    let bob = by_name(&report, "bob@example.org")[0];
    assert_eq!(bob["result"], "created", "{bob:#}");
    assert!(
        bob["notes"].to_string().contains("--native-uidls"),
        "{bob:#}"
    );
    let bob = f.site.db().get(&name).unwrap().unwrap();
    assert!(!bob.uidl_map);
    assert!(!bob_dir.join(".pop3d.uidl").exists());
}

/// `migrate system`: a Maildir with mail and no UIDL file is imported with a note (system
/// accounts were often served by no POP3 server), never failed.
#[test]
fn issue_16_migrate_system_notes_a_maildir_without_uidls() {
    let f = fixture();
    let home = f.site.dir.path().join("home/sam");
    maildir_without_uidlist(&home.join("Maildir"), 2);
    let report = migrate_system_account(&f.site, "sam:x:1501:1501", &home);
    let sam = by_name(&report, "sam")[0];
    assert_eq!(sam["result"], "created", "{sam:#}");
    let notes = sam["notes"].to_string();
    assert!(
        notes.contains("no dovecot-uidlist") && notes.contains("downloads them again"),
        "{notes}"
    );
}

/// A system account whose Maildir Courier served: the size list, written to Courier's
/// documented format (`courierpop3dsizelist(5)`-style: `/2 <next uid> <uidvalidity>`, then
/// `<file name> <size> <uid>:<uidvalidity>`), is carried as `UID<n>-<uidv>`.
#[test]
fn issue_16_migrate_system_carries_a_courier_size_list() {
    let f = fixture();
    let home = f.site.dir.path().join("home/cara");
    let maildir = home.join("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    std::fs::write(maildir.join("cur/1700000001.M1P1.courier:2,S"), "a\n").unwrap();
    std::fs::write(maildir.join("cur/1700000002.M2P2.courier:2,"), "bb\n").unwrap();
    std::fs::write(maildir.join("new/1700000003.M3P3.courier"), "ccc\n").unwrap();
    std::fs::write(
        maildir.join("courierpop3dsizelist"),
        "/2 4 1699000000\n\
         1700000001.M1P1.courier:2,S 2 1:1699000000\n\
         1700000002.M2P2.courier:2, 3 2:1699000000\n",
    )
    .unwrap();
    let report = migrate_system_account(&f.site, "cara:x:1500:1500", &home);
    let cara = by_name(&report, "cara")[0];
    assert_eq!(cara["result"], "created", "{cara:#}");
    assert_eq!(cara["scheme"], "SHA256-CRYPT");
    assert_eq!(cara["enabled"], true);
    assert_eq!(cara["uidls"]["source"], "courierpop3dsizelist");
    assert_eq!(
        (&cara["uidls"]["found"], &cara["uidls"]["carried"]),
        (&2.into(), &2.into())
    );
    assert!(crate::support::can_log_in(&f.site, "cara", "Hello world!"));
    let (code, out, err) = f.site.run(&["uidl", "cara"], b"");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "1 UID1-1699000000",
            "2 UID2-1699000000",
            "3 1700000003.M3P3.courier"
        ]
    );
}

/// Runs `migrate system --json` on a passwd file of one account (`name:x:uid:gid`, home
/// `home`) whose shadow entry is SHA-256-crypt's specification vector ("Hello world!");
/// returns the report.
fn migrate_system_account(site: &Site, account: &str, home: &Path) -> serde_json::Value {
    let dir = site.dir.path();
    let (passwd, shadow) = (dir.join("passwd"), dir.join("shadow"));
    std::fs::write(&passwd, format!("{account}::{}:/bin/sh\n", home.display())).unwrap();
    let name = account.split(':').next().unwrap();
    std::fs::write(
        &shadow,
        format!(
            "{name}:$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5:19000:0:99999:7:::\n"
        ),
    )
    .unwrap();
    let (code, out, err) = site.run(
        &[
            "migrate",
            "system",
            "--passwd",
            passwd.to_str().unwrap(),
            "--shadow",
            shadow.to_str().unwrap(),
            "--json",
        ],
        b"",
    );
    assert_eq!(code, 0, "{out}\n{err}");
    serde_json::from_str(&out).unwrap()
}
