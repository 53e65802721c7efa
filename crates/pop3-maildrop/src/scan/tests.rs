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
        let measured = measure(&maildir, name, &mut buf).map_err(|e| e.to_string());
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
    let (messages, report) = scan_with_clock(&maildir, &clock).unwrap();
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
