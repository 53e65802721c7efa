//! Regressions of issue 15: a FIFO swapped in for a message, the renamed-message fallback, and
//! the other storage faults that must not lock a user out.

use std::os::unix::ffi::OsStrExt;
use std::sync::mpsc;
use std::time::Duration;

use pop3_maildrop::{Error, Maildrop};

use crate::support::{TempMaildir, read_all};

/// Runs `f` on another thread and waits at most five seconds for it: a hang fails the test
/// instead of stalling the run (the stuck thread is left behind).
fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(f());
    });
    result
        .recv_timeout(Duration::from_secs(5))
        .expect("the operation blocked")
}

fn mkfifo(path: &std::path::Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
}

#[test]
fn issue15_message_swapped_for_a_fifo_fails_at_once() {
    let md = TempMaildir::new();
    for i in 0..2 {
        md.put(
            "cur",
            format!("170000000{i}.M{i}P1Q1.host:2,").as_bytes(),
            format!("Subject: {i}\n\nbody {i}\n").as_bytes(),
        );
    }
    let maildrop = std::sync::Arc::new(md.open());
    let first = md.path.join("cur").join(std::ffi::OsStr::from_bytes(
        maildrop.messages()[0].file_name().as_bytes(),
    ));
    std::fs::remove_file(&first).unwrap();
    mkfifo(&first);
    let shared = maildrop.clone();
    let opened = bounded(move || shared.open_message(0).map(|_| ()));
    assert!(
        matches!(opened, Err(Error::NotRegular { .. })),
        "{opened:?}"
    );
    // The session goes on: the other message reads, and UPDATE works.
    assert_eq!(read_all(&maildrop, 1).unwrap(), b"Subject: 1\n\nbody 1\n");
    let report = maildrop.commit(&[1], &[], false);
    assert_eq!(report.removed, 1);
    assert!(first.exists(), "the FIFO is not removed");
    drop(maildrop);
    // A scan lists no FIFO.
    let again: Maildrop = md.open();
    assert!(again.messages().is_empty());
}

/// Item 4: the listed file was expunged by another program, and a different file with the
/// same base (and another size) is present; DELE must not take one for the other.
#[test]
fn issue15_dele_never_removes_a_file_that_only_shares_the_base() {
    let md = TempMaildir::new();
    // Sizes from the name (`S=`), and sizes measured (no `S=`): both are checked.
    md.put("cur", b"1700000000.M1P1Q1.host,S=11:2,", b"eleven byte");
    md.put("cur", b"1700000001.M2P1Q1.host:2,", b"measured body\n");
    let maildrop = md.open();
    assert_eq!(maildrop.messages().len(), 2);
    std::fs::remove_file(md.path.join("cur/1700000000.M1P1Q1.host,S=11:2,")).unwrap();
    std::fs::remove_file(md.path.join("cur/1700000001.M2P1Q1.host:2,")).unwrap();
    let other_s = md.put(
        "cur",
        b"1700000000.M1P1Q1.host,S=20:2,S",
        b"another message, 20",
    );
    let other = md.put(
        "cur",
        b"1700000001.M2P1Q1.host:2,S",
        b"a different, longer message\n",
    );
    assert!(matches!(
        maildrop.open_message(1),
        Err(Error::Vanished { .. })
    ));
    let report = maildrop.commit(&[0, 1], &[], false);
    assert_eq!((report.removed, report.already_gone), (0, 2), "{report:?}");
    assert!(
        other_s.exists() && other.exists(),
        "the other files are kept"
    );
}

/// Item 4: a commit after another program renamed every message (an IMAP client setting
/// flags) finds them all with one readdir of `cur/`, not one per message.
#[test]
fn issue15_commit_of_many_renamed_messages_reads_cur_once() {
    let md = TempMaildir::new();
    let count = 50;
    for i in 0..count {
        md.put(
            "cur",
            format!("17000000{i:02}.M{i}P1Q1.host:2,").as_bytes(),
            format!("Subject: {i}\n\nbody\n").as_bytes(),
        );
    }
    let maildrop = md.open();
    for i in 0..count {
        let from = md.path.join(format!("cur/17000000{i:02}.M{i}P1Q1.host:2,"));
        let to = md
            .path
            .join(format!("cur/17000000{i:02}.M{i}P1Q1.host:2,S"));
        std::fs::rename(from, to).unwrap();
    }
    let all: Vec<usize> = (0..count).collect();
    let report = maildrop.commit(&all, &[], false);
    assert_eq!(report.removed, count, "{report:?}");
    assert!(report.failed.is_empty());
    assert_eq!(report.dir_reads, 1, "cur/ read once per commit");
    assert!(md.names("cur").is_empty());
}
