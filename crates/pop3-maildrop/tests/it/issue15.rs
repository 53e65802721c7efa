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
