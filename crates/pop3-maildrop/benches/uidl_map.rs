//! Issue 16: what a map of carried-over UIDLs costs a login, at 100,000 messages.
//!
//! `cargo bench -p pop3-maildrop --bench uidl_map` (`-- --quick` for 10,000). Medians of 5
//! rounds on a warm page cache, each `Maildrop::open` (lock, scan, map) then drop:
//! - the usual login (`cur/` settled, the persistent listing used), without a map (one
//!   failed `openat`) and with a map carrying every message;
//! - the same after the listing is removed (a full readdir scan, sizes from `W=`).

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::path::Path;
use std::time::Duration;

mod common;
use common::{ROUNDS, median, report as report_line, time};
use pop3_maildrop::{
    ForeignUidl, ForeignUidls, LISTING_FILE, Maildir, Maildrop, OpenOptions, UidlMapPolicy,
    carry_over,
};

const BODY: &[u8] = b"From: bench@example.org\nSubject: bench\n\nA short body line.\n";

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let count = if quick { 10_000 } else { 100_000 };
    let root = tempfile::tempdir().unwrap();
    println!("UIDL map benchmark: {count} messages, median of {ROUNDS} rounds\n");
    let plain = root.path().join("plain");
    let mapped = root.path().join("mapped");
    for path in [&plain, &mapped] {
        fill(path, count);
    }
    let uidls = ForeignUidls {
        source: "bench".into(),
        entries: (0..count)
            .map(|i| ForeignUidl {
                file_name: name(i).into_bytes(),
                uidl: format!("UID{}-1500000000", i + 1),
                line: i + 2,
            })
            .collect(),
        superseded: Vec::new(),
    };
    let report = carry_over(&mapped, &uidls).unwrap();
    assert_eq!(report.carried, count);
    for path in [&plain, &mapped] {
        drop(open(path, UidlMapPolicy::IfPresent));
        settle(path);
        // The next open writes the listing; the ones after it read it.
        drop(open(path, UidlMapPolicy::IfPresent));
    }
    let listed = |path: &Path, policy| {
        median(|| {
            time(|| {
                let maildrop = open(path, policy);
                assert!(maildrop.scan_report().from_listing);
            })
        })
    };
    let without = listed(&plain, UidlMapPolicy::IfPresent);
    let with = listed(&mapped, UidlMapPolicy::Required);
    report_line("login, listing used, no map", without, None);
    report_line(
        "login, listing used, map of every message",
        with,
        Some(("without", without)),
    );
    let scanned = |path: &Path, policy| {
        median(|| {
            let _ = std::fs::remove_file(path.join(LISTING_FILE));
            time(|| drop(open(path, policy)))
        })
    };
    let without = scanned(&plain, UidlMapPolicy::IfPresent);
    let with = scanned(&mapped, UidlMapPolicy::Required);
    report_line("login, full scan, no map", without, None);
    report_line(
        "login, full scan, map of every message",
        with,
        Some(("without", without)),
    );
    let maildrop = open(&mapped, UidlMapPolicy::Required);
    assert_eq!(maildrop.messages()[0].uid(), "UID1-1500000000");
    assert_eq!(maildrop.scan_report().carried, count);
}

fn open(path: &Path, uidl_map: UidlMapPolicy) -> Maildrop {
    let options = OpenOptions {
        session: "bench".into(),
        lock_wait: Duration::ZERO,
        uidl_map,
        ..Default::default()
    };
    Maildrop::open(path, &options).unwrap()
}

fn name(i: usize) -> String {
    let wire = BODY.len() + BODY.iter().filter(|&&b| b == b'\n').count();
    format!(
        "{}.M{i}P1Q{i}.bench,S={},W={wire}:2,",
        1_700_000_000 + i,
        BODY.len()
    )
}

fn fill(path: &Path, count: usize) {
    Maildir::create(path).unwrap();
    for i in 0..count {
        std::fs::write(path.join("cur").join(name(i)), BODY).unwrap();
    }
}

/// `cur/` last modified a minute ago, so the listing may be written (its settle rule).
fn settle(path: &Path) {
    std::fs::File::open(path.join("cur"))
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(60))
        .unwrap();
}
