//! Issue 16, part 3: UIDLs as the old server showed them. Real Maildirs, real uidlist and
//! size-list files, `carry_over`, then sessions opened, renamed under, committed.

use std::path::{Path, PathBuf};

use pop3_maildrop::{
    CarryReport, Error, Maildrop, OpenOptions, UIDL_MAP_FILE, UidlMapPolicy, carry_over,
    courier_sizelist, deliver, dovecot_uidlist, peek, plan_carry_over,
};

use crate::support::{TempMaildir, listed, options};

/// Three messages as Dovecot named them (two in `cur/`, one still in `new/`), and the
/// uidlist Dovecot kept for them: message `c` was reordered first by an `O` field, `b` has a
/// saved `P` UIDL, and a fourth record names a message deleted since.
fn dovecot_fixture() -> (TempMaildir, PathBuf) {
    let maildir = TempMaildir::new();
    maildir.put("cur", b"1200000001.M1P1.mx,S=4,W=5:2,S", b"a\nb\n");
    maildir.put("cur", b"1200000002.M2P2.mx,S=2:2,", b"b\n");
    maildir.put("new", b"1200000003.M3P3.mx", b"c\n");
    let uidlist = maildir.dir.path().join("dovecot-uidlist");
    std::fs::write(
        &uidlist,
        // A saved `P` UIDL, an `O` order, and an entry whose file is gone.
        include_str!("../../../../tests/uidlists/dovecot-v3-saved-and-ordered"),
    )
    .unwrap();
    (maildir, uidlist)
}

fn uids(maildrop: &Maildrop) -> Vec<String> {
    listed(maildrop)
        .into_iter()
        .map(|(uid, _, _)| uid)
        .collect()
}

fn carry_dovecot(maildir: &TempMaildir, uidlist: &Path) -> CarryReport {
    let uidls = dovecot_uidlist(uidlist, "%08Xu%08Xv").unwrap();
    carry_over(&maildir.path, &uidls).unwrap()
}

fn required() -> OpenOptions {
    OpenOptions {
        uidl_map: UidlMapPolicy::Required,
        ..options("required")
    }
}

#[test]
fn issue_16_dovecot_uidls_and_order_carried_over_new_mail_native_after_them() {
    let (maildir, uidlist) = dovecot_fixture();
    let report = carry_dovecot(&maildir, &uidlist);
    assert_eq!(report.carried, 3);
    assert_eq!(report.native, 0);
    assert_eq!(report.unmatched.len(), 1);
    assert_eq!(report.unmatched[0].line, 4);
    // Mail delivered after the switch.
    let delivered = deliver(&maildir.maildir(), &b"new\n"[..]).unwrap();
    let maildrop = Maildrop::open(&maildir.path, &required()).unwrap();
    let name = delivered.name.to_str().unwrap();
    let native = name.split(',').next().unwrap().to_owned();
    assert_eq!(
        uids(&maildrop),
        [
            "0000000b6553f100".to_owned(),
            "000000076553f100".to_owned(),
            "0000beef-saved".to_owned(),
            native,
        ]
    );
    assert_eq!(maildrop.scan_report().carried, 3);
    assert_eq!(maildrop.scan_report().stale_carried, 0);
}

#[test]
fn issue_16_the_map_survives_renames_by_other_programs_and_a_lost_listing() {
    let (maildir, uidlist) = dovecot_fixture();
    carry_dovecot(&maildir, &uidlist);
    let before = uids(&Maildrop::open(&maildir.path, &required()).unwrap());
    std::fs::rename(
        maildir.path.join("cur/1200000002.M2P2.mx,S=2:2,"),
        maildir.path.join("cur/1200000002.M2P2.mx,S=2:2,S"),
    )
    .unwrap();
    let _ = std::fs::remove_file(maildir.path.join(pop3_maildrop::LISTING_FILE));
    let after = Maildrop::open(&maildir.path, &required()).unwrap();
    assert_eq!(uids(&after), before);
}

#[test]
fn issue_16_quit_with_dele_drops_carried_entries_and_keeps_the_rest() {
    let (maildir, uidlist) = dovecot_fixture();
    carry_dovecot(&maildir, &uidlist);
    let maildrop = Maildrop::open(&maildir.path, &required()).unwrap();
    // Message 1 is `c` (O1), message 3 is `b` (saved P).
    let report = maildrop.commit(&[0], &[], false);
    assert_eq!(report.removed, 1);
    assert!(report.uidl_map_rewritten);
    assert!(report.uidl_map_error.is_none());
    drop(maildrop);
    let map = std::fs::read_to_string(maildir.path.join(UIDL_MAP_FILE)).unwrap();
    assert!(!map.contains("1200000003"), "{map}");
    assert!(map.contains("1200000002.M2P2.mx 2 0000beef-saved"), "{map}");
    let again = Maildrop::open(&maildir.path, &required()).unwrap();
    assert_eq!(uids(&again), ["000000076553f100", "0000beef-saved"]);
    // A commit that removes no carried message writes nothing.
    assert!(!again.commit(&[], &[], false).uidl_map_rewritten);
}

#[test]
fn issue_16_a_stale_entry_is_harmless_and_dropped_at_the_next_rewrite() {
    let (maildir, uidlist) = dovecot_fixture();
    carry_dovecot(&maildir, &uidlist);
    // Another program (or a crash between unlink and rewrite) removed a carried message.
    std::fs::remove_file(maildir.path.join("cur/1200000001.M1P1.mx,S=4,W=5:2,S")).unwrap();
    let maildrop = Maildrop::open(&maildir.path, &required()).unwrap();
    assert_eq!(uids(&maildrop), ["0000000b6553f100", "0000beef-saved"]);
    assert_eq!(maildrop.scan_report().stale_carried, 1);
    assert!(maildrop.commit(&[], &[], false).uidl_map_rewritten);
    drop(maildrop);
    let map = std::fs::read_to_string(maildir.path.join(UIDL_MAP_FILE)).unwrap();
    assert!(!map.contains("1200000001"), "{map}");
}

#[test]
fn issue_16_damaged_or_required_missing_map_fails_the_open_naming_the_file() {
    let (maildir, uidlist) = dovecot_fixture();
    carry_dovecot(&maildir, &uidlist);
    let map = maildir.path.join(UIDL_MAP_FILE);
    let good = std::fs::read(&map).unwrap();
    let mut damaged = good.clone();
    damaged[25] ^= 0x20;
    std::fs::write(&map, &damaged).unwrap();
    for opts in [options("if-present"), required()] {
        match Maildrop::open(&maildir.path, &opts) {
            Err(e @ Error::UidlMap { .. }) => {
                assert!(e.is_temporary());
                assert!(e.to_string().contains(UIDL_MAP_FILE), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }
    std::fs::remove_file(&map).unwrap();
    match Maildrop::open(&maildir.path, &required()) {
        Err(e @ Error::UidlMap { .. }) => assert!(e.to_string().contains("missing"), "{e}"),
        other => panic!("{other:?}"),
    }
    // Without the requirement, no map is no carried UIDLs, at the cost of one failed open.
    let native = Maildrop::open(&maildir.path, &options("none")).unwrap();
    assert_eq!(native.scan_report().carried, 0);
}

#[test]
fn issue_16_bad_input_is_an_error_or_a_report_entry_and_nothing_carried_is_lost() {
    let (maildir, uidlist) = dovecot_fixture();
    carry_dovecot(&maildir, &uidlist);
    let map = maildir.path.join(UIDL_MAP_FILE);
    let carried = std::fs::read(&map).unwrap();
    // A truncated or garbage file fails to parse: nothing is written.
    let bad = maildir.dir.path().join("bad-uidlist");
    std::fs::write(&bad, "3 V1 N9\n1 :1200000001.M1P1.mx\ngarbage\n").unwrap();
    assert!(matches!(
        dovecot_uidlist(&bad, "%u"),
        Err(Error::Foreign { line: 3, .. })
    ));
    std::fs::write(&bad, "3 V1 N9\n1 :1200000001.M1P1.mx").unwrap();
    assert!(matches!(
        dovecot_uidlist(&bad, "%u"),
        Err(Error::Foreign { line: 2, .. })
    ));
    assert_eq!(std::fs::read(&map).unwrap(), carried);
    // Another server's list for the same messages: the earlier map wins for every message
    // it carries (conflicts); a UIDL given twice goes to the first; unknown names unmatched.
    maildir.put("cur", b"1200000004.M4P4.mx:2,", b"d\n");
    maildir.put("cur", b"1200000005.M5P5.mx:2,", b"e\n");
    let sizelist = maildir.dir.path().join("courierpop3dsizelist");
    std::fs::write(
        &sizelist,
        "/2 9 77\n\
         1200000001.M1P1.mx,S=4,W=5:2,S 5 1:77\n\
         1200000004.M4P4.mx:2, 2 2:77\n\
         1200000005.M5P5.mx:2, 2 2:77\n\
         1200000006.M6P6.mx:2, 2 3:77\n",
    )
    .unwrap();
    let report = carry_over(&maildir.path, &courier_sizelist(&sizelist).unwrap()).unwrap();
    assert_eq!(report.kept, 3);
    assert_eq!(report.carried, 4);
    assert_eq!(report.conflicts.len(), 1);
    assert_eq!(report.duplicates.len(), 1);
    assert_eq!(report.duplicates[0].file_name, b"1200000005.M5P5.mx:2,");
    assert_eq!(report.unmatched.len(), 1);
    assert_eq!(report.native, 1);
    let maildrop = Maildrop::open(&maildir.path, &required()).unwrap();
    let all = uids(&maildrop);
    assert_eq!(
        all[..4],
        [
            "0000000b6553f100",
            "000000076553f100",
            "0000beef-saved",
            "UID2-77"
        ]
    );
    assert_eq!(all[4], "1200000005.M5P5.mx");
}

#[test]
fn issue_16_a_native_uidl_equal_to_a_carried_one_gets_a_digest_and_uidls_stay_unique() {
    let maildir = TempMaildir::new();
    maildir.put("cur", b"1200000001.M1P1.mx:2,", b"a\n");
    let sizelist = maildir.dir.path().join("courierpop3dsizelist");
    // Courier served the old message as "1200000009.clash" (a file-name UIDL, n = 0)...
    std::fs::write(&sizelist, "/2 2 5\n1200000001.M1P1.mx:2, 2 0:5\n").unwrap();
    let mut uidls = courier_sizelist(&sizelist).unwrap();
    uidls.entries[0].uidl = "1200000009.clash".into();
    carry_over(&maildir.path, &uidls).unwrap();
    // ...and mail delivered after the switch happens to have that as its unique part.
    maildir.put("new", b"1200000009.clash", b"b\n");
    let maildrop = Maildrop::open(&maildir.path, &required()).unwrap();
    let all = uids(&maildrop);
    assert_eq!(all[0], "1200000009.clash");
    assert!(all[1].starts_with('h') && all[1].len() == 65, "{all:?}");
    assert_eq!(maildrop.scan_report().uidl_collisions, 1);
}

#[test]
fn issue_16_plan_carry_over_reports_what_carry_over_does_and_writes_nothing() {
    let (maildir, uidlist) = dovecot_fixture();
    let uidls = dovecot_uidlist(&uidlist, "%08Xu%08Xv").unwrap();
    let names = |m: &TempMaildir| -> Vec<Vec<u8>> {
        ["", "cur", "new", "tmp"]
            .iter()
            .flat_map(|sub| crate::support::names_in(&m.path.join(sub)))
            .collect()
    };
    let before = names(&maildir);
    // A session holds the lock: the plan neither waits nor fails nor disturbs it.
    let held = maildir.open_as("holder").unwrap();
    let after_open = names(&maildir);
    let planned = plan_carry_over(&maildir.path, &uidls).unwrap();
    assert_eq!(names(&maildir), after_open, "the plan wrote something");
    drop(held);
    assert!(!maildir.path.join(UIDL_MAP_FILE).exists());
    // Without a session: still no lock file, no map.
    let fresh = dovecot_fixture();
    let fresh_uidls = dovecot_uidlist(&fresh.1, "%08Xu%08Xv").unwrap();
    let fresh_before = names(&fresh.0);
    let fresh_plan = plan_carry_over(&fresh.0.path, &fresh_uidls).unwrap();
    assert_eq!(names(&fresh.0), fresh_before, "the plan wrote something");
    assert_eq!(fresh_plan.carried, 3);
    // The plan is exactly the report of the carry that follows.
    let done = carry_over(&maildir.path, &uidls).unwrap();
    assert_eq!(planned, done);
    assert_eq!(planned.carried, 3);
    assert_eq!(planned.unmatched.len(), 1);
    assert_ne!(before, names(&maildir), "carry_over wrote its map");
    // Planned again over the written map: everything kept, nothing new.
    let again = plan_carry_over(&maildir.path, &uidls).unwrap();
    assert_eq!((again.kept, again.carried), (3, 3));
}

#[test]
fn issue_16_carry_over_refuses_a_locked_maildrop() {
    let (maildir, uidlist) = dovecot_fixture();
    let _session = maildir.open();
    let uidls = dovecot_uidlist(&uidlist, "%u").unwrap();
    assert!(matches!(
        carry_over(&maildir.path, &uidls),
        Err(Error::Locked { .. })
    ));
    assert!(!maildir.path.join(UIDL_MAP_FILE).exists());
}

#[test]
fn issue_16_peek_lists_what_the_next_session_serves_without_lock_or_writes() {
    let (maildir, uidlist) = dovecot_fixture();
    carry_dovecot(&maildir, &uidlist);
    maildir.put("new", b"1200000000.early", b"no W= here\n");
    maildir.put("new", b"1200000000.early:2,S", b"already has info\n");
    // A session holds the lock: peek neither waits nor disturbs it.
    let held = maildir.open_as("holder").unwrap();
    let before: Vec<Vec<u8>> = ["", "cur", "new"]
        .iter()
        .flat_map(|sub| crate::support::names_in(&maildir.path.join(sub)))
        .collect();
    let peeked = peek(&maildir.path, UidlMapPolicy::Required).unwrap();
    let after: Vec<Vec<u8>> = ["", "cur", "new"]
        .iter()
        .flat_map(|sub| crate::support::names_in(&maildir.path.join(sub)))
        .collect();
    assert_eq!(before, after, "peek wrote or moved something");
    drop(held);
    let expected: Vec<(String, u64)> = peeked
        .messages()
        .iter()
        .map(|m| (m.uid().to_owned(), m.wire_size()))
        .collect();
    let session = Maildrop::open(&maildir.path, &required()).unwrap();
    let served: Vec<(String, u64)> = listed(&session)
        .into_iter()
        .map(|(uid, size, _)| (uid, size))
        .collect();
    assert_eq!(expected, served);
    assert_eq!(peeked.scan_report().carried, 3);
}
