//! The cost `EXPIRE n` adds to a commit on a large maildrop: reading `.pop3d.retrieved`
//! line by line against the listing and, when something changed, streaming it out again.
//!
//! `cargo bench -p pop3-maildrop --bench expire` (100,000 messages; `-- --quick` for 10,000).
//! Each figure is the median of 5 rounds on a warm page cache, next to the open (lock and
//! scan, the listing cache removed: what every session pays before it can commit), with the
//! file's size and the process's peak resident memory.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::path::Path;

mod common;
use common::{ROUNDS, median, report, time};
use pop3_maildrop::{
    BootTime, Expiry, LISTING_FILE, Maildir, Maildrop, Moment, OpenOptions, RETRIEVED_FILE,
};

const BODY: &[u8] = b"Subject: bench\n\nA short body line.\n";
const T0: i64 = 1_780_000_000;

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let count = if quick { 10_000 } else { 100_000 };
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join("Maildir");
    Maildir::create(&path).unwrap();
    let wire = BODY.len() + BODY.iter().filter(|&&b| b == b'\n').count();
    for i in 0..count {
        let name = format!(
            "{}.M{i}P1.bench,S={},W={wire}:2,",
            T0 + i as i64,
            BODY.len()
        );
        std::fs::write(path.join("cur").join(name), BODY).unwrap();
    }
    println!("EXPIRE n commit benchmark: {count} messages, median of {ROUNDS} rounds\n");
    let maildrop = open(&path);
    let all: Vec<usize> = (0..count).collect();
    drop(maildrop);
    let now = |day: i64| Moment {
        wall: T0 + day * 86_400,
        boot: BootTime::new("6f1c2a1e-0d3b-4c1f-9a57-0c7c0d1a2b3c", 1_000 + day * 86_400),
    };
    let plain = median(|| time(|| drop(open(&path))));
    let record_all = median(|| {
        let _ = std::fs::remove_file(path.join(RETRIEVED_FILE));
        let maildrop = open(&path);
        time(|| {
            let (_, report) = commit(&maildrop, &all, now(0));
            assert_eq!(report.recorded, count);
        })
    });
    let size = std::fs::metadata(path.join(RETRIEVED_FILE)).unwrap().len();
    let read_only = median(|| {
        let maildrop = open(&path);
        time(|| {
            let (_, report) = commit(&maildrop, &[], now(1));
            assert!(!report.written && report.expired.is_empty());
        })
    });
    // One message fewer in the listing each round: its entry is pruned, the file rewritten.
    let rewrite = median(|| {
        let gone = std::fs::read_dir(path.join("cur")).unwrap().next().unwrap();
        std::fs::remove_file(gone.unwrap().path()).unwrap();
        let maildrop = open(&path);
        time(|| {
            let (_, report) = commit(&maildrop, &[], now(1));
            assert!(report.written);
        })
    });
    report("open: lock and scan (reference)", plain, None);
    report(
        &format!("record {count} first retrievals (write)"),
        record_all,
        Some(("the reference", plain)),
    );
    report(
        "read the file, nothing due or new",
        read_only,
        Some(("the reference", plain)),
    );
    report(
        "read the file, one entry pruned, rewrite",
        rewrite,
        Some(("the reference", plain)),
    );
    println!("\nfile: {size} bytes ({} per entry)", size / count as u64);
    println!("peak resident memory of this process: {}", peak_rss());
}

fn open(path: &Path) -> Maildrop {
    let _ = std::fs::remove_file(path.join(LISTING_FILE));
    let options = OpenOptions {
        session: "bench".into(),
        ..OpenOptions::default()
    };
    Maildrop::open(path, &options).unwrap()
}

fn commit(
    maildrop: &Maildrop,
    sent: &[usize],
    now: Moment,
) -> (pop3_maildrop::CommitReport, pop3_maildrop::ExpiryReport) {
    let expiry = Expiry {
        days: 3,
        now,
        retrieved: sent,
    };
    maildrop.commit_expiring(&[], &[], false, &expiry, &mut |_| {})
}

fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".into())
}
