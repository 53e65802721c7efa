use std::sync::mpsc;
use std::time::Duration;

use super::*;

/// A fresh Maildir in a temp dir.
fn maildir() -> (tempfile::TempDir, Maildir) {
    let dir = tempfile::tempdir().unwrap();
    let maildir = Maildir::create(&dir.path().join("Maildir")).unwrap();
    (dir, maildir)
}

/// Issue 15 item 6: a message swapped for a FIFO between the readdir and the measurement is
/// not opened blocking (which would pin the thread, and the maildrop's lock, until a writer
/// appears): it is skipped at once.
#[test]
fn issue15_measure_does_not_block_on_a_fifo() {
    let (_dir, maildir) = maildir();
    let name = OsStr::new("1700000000.M1P1Q1.host:2,");
    rustix::fs::mknodat(
        &maildir.cur,
        name,
        FileType::Fifo,
        Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        let shown = maildir.path().join("cur").join(name);
        let measured = measure(&maildir.cur, &shown, name, &mut buf).map_err(|e| e.to_string());
        let _ = done.send(measured);
    });
    let measured = result
        .recv_timeout(Duration::from_secs(5))
        .expect("measuring a FIFO must not block");
    assert_eq!(measured, Ok(None), "a FIFO is not a message");
}

/// Issue 15 item 5: the listing's settle rule is checked against the time the stamp of `cur/`
/// was taken, not the end of the scan. The clock here jumps a minute ahead as soon as the scan
/// has written the size index (a slow scan); `cur/` changed just before the stamp, so no
/// listing may be written for it, however late the scan ends.
#[test]
fn issue15_settle_rule_uses_the_stamp_time() {
    let (dir, maildir) = maildir();
    std::fs::write(
        dir.path().join("Maildir/cur/1700000000.M1P1Q1.host:2,"),
        b"Subject: x\n\nbody\n",
    )
    .unwrap();
    let started = SystemTime::now();
    let index = dir.path().join("Maildir").join(index::INDEX_FILE);
    let clock = move || {
        if index.exists() {
            started + Duration::from_secs(60)
        } else {
            started
        }
    };
    let (messages, report) = scan_with_clock(&maildir, ListingCache::On, &clock).unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(report.measured, 1);
    assert!(
        !dir.path()
            .join("Maildir")
            .join(listing::LISTING_FILE)
            .exists(),
        "a listing was written for a cur/ that had not settled when stamped"
    );
}

/// Issue 15 item 3: a move from `new/` to `cur/` that fails for lack of space (the rename's
/// `ENOSPC` is injected: a tmpfs directory never needs a block to grow) no longer fails the
/// login. The messages are served from `new/` and left there; DELE removes one from there; the
/// next login, with space again, moves the rest.
#[test]
fn issue15_a_full_disk_serves_messages_from_new() {
    use crate::maildrop::{Maildrop, OpenOptions};
    let (dir, _maildir) = maildir();
    let root = dir.path().join("Maildir");
    std::fs::write(
        root.join("cur/1700000000.M1P1Q1.host:2,"),
        b"Subject: 0\n\nbody\n",
    )
    .unwrap();
    std::fs::write(
        root.join("new/1700000001.M2P1Q1.host"),
        b"Subject: 1\n\nbody\n",
    )
    .unwrap();
    std::fs::write(root.join("new/1700000002.M3P1Q1.host,S=5,W=6"), b"abcd\n").unwrap();
    let options = OpenOptions {
        session: "test".into(),
        lock_wait: Duration::ZERO,
        ..Default::default()
    };
    RENAME_FAULT.with(|fault| fault.set(Some(Errno::NOSPC)));
    let opened = Maildrop::open(&root, &options);
    RENAME_FAULT.with(|fault| fault.set(None));
    let maildrop = opened.expect("a full disk must not fail the open");
    let report = maildrop.scan_report();
    assert_eq!((report.moved, report.left_in_new), (0, 2), "{report:?}");
    assert!(report.move_error.is_some());
    let uids: Vec<&str> = maildrop.messages().iter().map(|m| m.uid()).collect();
    assert_eq!(
        uids,
        [
            "1700000000.M1P1Q1.host",
            "1700000001.M2P1Q1.host",
            "1700000002.M3P1Q1.host"
        ]
    );
    assert_eq!(maildrop.messages()[1].wire_size(), 20);
    let mut reader = maildrop.open_message(1).unwrap();
    let mut buf = [0u8; 64];
    let n = reader.read_chunk(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"Subject: 1\n\nbody\n");
    assert_eq!(reader.read_chunk(&mut buf).unwrap(), 0);
    let committed = maildrop.commit(&[1], &[2], true);
    assert_eq!(committed.removed, 1, "{committed:?}");
    assert!(committed.failed.is_empty() && committed.sync_error.is_none());
    let in_new: Vec<_> = std::fs::read_dir(root.join("new"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(in_new, ["1700000002.M3P1Q1.host,S=5,W=6"], "left in new/");
    drop(maildrop);
    let again = Maildrop::open(&root, &options).unwrap();
    assert_eq!(again.scan_report().moved, 1);
    assert_eq!(again.messages().len(), 2);
    assert_eq!(again.messages()[1].uid(), "1700000002.M3P1Q1.host");
}

/// The sort on (time, 16-byte prefix) then the whole name gives exactly the order of a plain
/// sort on (time, name, name on disk): names shorter than 16 bytes, names that are prefixes
/// of others, long shared prefixes, equal times, and one name listed twice.
#[test]
fn issue_14_delivery_order_is_time_then_name() {
    let names: Vec<&[u8]> = vec![
        b"a",
        b"ab",
        b"abc:2,",
        b"1767225628.M1P4000Q1.host",
        b"1767225628.M1P4000Q1.host:2,S",
        b"1767225628.M1P4000Q10.host",
        b"1767225628.M1P4000Q2.host",
        b"1767225628.M100001P4000Q2.host",
        b"1767225628.M1000",
        b"1767225628.M1000x",
        b"1767225628.M10000000000000000000000",
        b"zzzzzzzzzzzzzzzz",
        b"zzzzzzzzzzzzzzzz\x01",
        b"\xff\xfe",
    ];
    let mut found = Vec::new();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for round in 0..40u64 {
        for name in &names {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let on_disk = seed
                .is_multiple_of(3)
                .then(|| format!("n{round}").into_bytes().into());
            found.push(Found {
                time: seed % 4,
                listed: (*name).into(),
                on_disk,
            });
        }
    }
    type Key = (u64, Box<[u8]>, Option<Box<[u8]>>);
    let mut expected: Vec<Key> = found
        .iter()
        .map(|f| (f.time, f.listed.clone(), f.on_disk.clone()))
        .collect();
    expected.sort();
    let sorted: Vec<Key> = delivery_order(found)
        .into_iter()
        .map(|f| (f.time, f.listed, f.on_disk))
        .collect();
    assert_eq!(sorted, expected);
}
