//! Reading and UPDATE: vanished, grown and replaced files, exact deletions, seen flags.

use std::os::unix::fs::symlink;

use pop3_maildrop::{Error, deliver};

use crate::support::{TempMaildir, names_in, read_all};

fn three_messages() -> TempMaildir {
    let md = TempMaildir::new();
    for i in 0..3 {
        md.put(
            "cur",
            format!("170000000{i}.m{i}.host:2,").as_bytes(),
            format!("Subject: {i}\n\nbody {i}\n").as_bytes(),
        );
    }
    md
}

#[test]
fn a_file_vanishing_mid_session() {
    let md = three_messages();
    let maildrop = md.open();
    std::fs::remove_file(md.path.join("cur/1700000001.m1.host:2,")).unwrap();
    assert!(matches!(
        maildrop.open_message(1),
        Err(Error::Vanished { .. })
    ));
    let report = maildrop.commit(&[1], &[], false);
    assert_eq!((report.removed, report.already_gone), (0, 1));
    assert!(report.failed.is_empty());
    assert_eq!(md.names("cur").len(), 2);
}

#[test]
fn a_file_renamed_by_another_program_is_still_found() {
    let md = three_messages();
    let maildrop = md.open();
    let cur = md.path.join("cur");
    std::fs::rename(
        cur.join("1700000002.m2.host:2,"),
        cur.join("1700000002.m2.host:2,FS"),
    )
    .unwrap();
    assert_eq!(read_all(&maildrop, 2).unwrap(), b"Subject: 2\n\nbody 2\n");
    let report = maildrop.commit(&[2], &[], false);
    assert_eq!(report.removed, 1);
    assert!(!cur.join("1700000002.m2.host:2,FS").exists());
}

#[test]
fn grown_or_truncated_files_are_never_sent_silently() {
    let md = TempMaildir::new();
    deliver(&md.maildir(), &b"Subject: x\n\nline\n"[..]).unwrap();
    md.put("cur", b"1700000000.raw.host:2,", b"a\nb\n");
    let maildrop = md.open();
    let cur = md.path.join("cur");
    for name in names_in(&cur) {
        let path = cur.join(std::str::from_utf8(&name).unwrap());
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"grown\n");
        std::fs::write(&path, &bytes).unwrap();
    }
    for index in 0..2 {
        assert!(
            matches!(read_all(&maildrop, index), Err(Error::SizeChanged { .. })),
            "message {index}"
        );
    }
    for name in names_in(&cur) {
        std::fs::write(cur.join(std::str::from_utf8(&name).unwrap()), b"a").unwrap();
    }
    for index in 0..2 {
        assert!(matches!(
            read_all(&maildrop, index),
            Err(Error::SizeChanged { .. })
        ));
    }
}

#[test]
fn a_message_replaced_by_a_symlink_is_not_read() {
    let md = three_messages();
    let maildrop = md.open();
    let outside = md.dir.path().join("secret");
    std::fs::write(&outside, b"Subject: 0\n\nsecret!\n").unwrap();
    let victim = md.path.join("cur/1700000000.m0.host:2,");
    std::fs::remove_file(&victim).unwrap();
    symlink(&outside, &victim).unwrap();
    assert!(matches!(
        maildrop.open_message(0),
        Err(Error::NotRegular { .. })
    ));
    // Deleting it removes the link inside the maildrop, never the target outside.
    maildrop.commit(&[0], &[], false);
    assert!(outside.exists());
}

#[test]
fn cur_replaced_by_a_symlink_mid_session_is_not_followed() {
    let md = three_messages();
    let maildrop = md.open();
    let elsewhere = md.dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(
        elsewhere.join("1700000000.m0.host:2,"),
        b"Subject: 0\n\nbody 0\n",
    )
    .unwrap();
    std::fs::rename(md.path.join("cur"), md.dir.path().join("old-cur")).unwrap();
    symlink(&elsewhere, md.path.join("cur")).unwrap();
    // The session keeps using the directory it opened, not the new link.
    let report = maildrop.commit(&[0], &[], false);
    assert_eq!(report.removed, 1);
    assert!(elsewhere.join("1700000000.m0.host:2,").exists());
    assert!(!md.dir.path().join("old-cur/1700000000.m0.host:2,").exists());
}

#[test]
fn commit_removes_exactly_the_marked_messages() {
    let md = three_messages();
    let maildrop = md.open();
    let report = maildrop.commit(&[0, 2], &[], false);
    assert_eq!(report.removed, 2);
    assert!(report.sync_error.is_none());
    assert_eq!(md.names("cur"), [b"1700000001.m1.host:2,".to_vec()]);
}

#[test]
fn commit_marks_retrieved_messages_seen_when_asked() {
    let md = three_messages();
    md.open().commit(&[], &[0, 1], false);
    assert!(md.names("cur").iter().all(|n| n.ends_with(b":2,")));
    let report = md.open().commit(&[1], &[0, 1], true);
    assert_eq!((report.removed, report.marked_seen), (1, 1));
    assert_eq!(
        md.names("cur"),
        [
            b"1700000000.m0.host:2,S".to_vec(),
            b"1700000002.m2.host:2,".to_vec()
        ]
    );
    // UIDLs do not change with the flag.
    let uids: Vec<String> = md
        .open()
        .messages()
        .iter()
        .map(|m| m.uid().into())
        .collect();
    assert_eq!(uids, ["1700000000.m0.host", "1700000002.m2.host"]);
}
