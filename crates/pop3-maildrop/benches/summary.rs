//! What the admin tool's user list costs per user (issue 20): [`summarize`] of a maildrop of
//! 100,000 messages, from `maildirsize` alone, from the persistent listing (the oldest
//! message too), and with both, against the scan it avoids (readdir alone, and `peek`).
//!
//! `cargo bench -p pop3-maildrop --bench summary` (`-- --quick` for 10,000). Median of 5
//! rounds on a warm page cache.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::path::Path;
use std::time::{Duration, SystemTime};

mod common;
use common::{ROUNDS, median, report, time};
use pop3_maildrop::{
    CountSource, MAILDIRSIZE, Maildir, Maildrop, OpenOptions, UidlMapPolicy, peek, summarize,
};

const BODY: &[u8] = b"From: bench@example.org\nSubject: bench\n\nA short body line.\n";

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let count = if quick { 10_000 } else { 100_000 };
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join("user");
    println!("user summary benchmark: {count} messages, median of {ROUNDS} rounds\n");
    fill(&path, count);
    // cur/ settled a minute ago: the login writes the listing, as pop3d's would.
    std::fs::File::open(path.join("cur"))
        .and_then(|cur| cur.set_modified(SystemTime::now() - Duration::from_secs(60)))
        .unwrap();
    let options = OpenOptions {
        session: "bench".into(),
        lock_wait: Duration::ZERO,
        ..Default::default()
    };
    drop(Maildrop::open(&path, &options).unwrap());

    let listing = median(|| {
        time(|| {
            let summary = summarize(&path);
            assert_eq!(summary.source, CountSource::Listing);
            assert_eq!(summary.messages, Some(count as u64));
            assert_eq!(summary.oldest, Some(1_700_000_000));
        })
    });
    let readdir = median(|| time(|| _ = std::hint::black_box(readdir_only(&path))));
    let peeked =
        median(|| time(|| drop(std::hint::black_box(peek(&path, UidlMapPolicy::IfPresent)))));
    std::fs::write(
        path.join(MAILDIRSIZE),
        format!("0S\n{} {count}\n", count * BODY.len()),
    )
    .unwrap();
    let both = median(|| {
        time(|| {
            let summary = summarize(&path);
            assert_eq!(summary.source, CountSource::Maildirsize);
            assert!(summary.oldest.is_some());
        })
    });
    let listing_bytes = std::fs::metadata(path.join(pop3_maildrop::LISTING_FILE))
        .unwrap()
        .len();
    report("readdir of cur/ alone (reference)", readdir, None);
    report("peek: the listing a login would serve", peeked, None);
    report(
        &format!("summary from the listing ({listing_bytes} bytes read)"),
        listing,
        Some(("readdir", readdir)),
    );
    report(
        "summary from maildirsize + the listing's oldest",
        both,
        Some(("readdir", readdir)),
    );
    // Without a usable listing (cur/ changed since the last login): maildirsize only.
    std::fs::write(path.join("cur").join("1800000000.M1P1.new:2,"), BODY).unwrap();
    let quota_only = median(|| {
        time(|| {
            let summary = summarize(&path);
            assert_eq!(summary.oldest, None);
        })
    });
    report(
        "summary from maildirsize, listing stale",
        quota_only,
        Some(("readdir", readdir)),
    );
}

fn fill(path: &Path, count: usize) {
    Maildir::create(path).unwrap();
    let cur = path.join("cur");
    let wire = BODY.len() + BODY.iter().filter(|&&b| b == b'\n').count();
    for i in 0..count {
        let name = format!(
            "{}.M{i}P1Q{i}.bench,S={},W={wire}:2,",
            1_700_000_000 + i,
            BODY.len()
        );
        std::fs::write(cur.join(name), BODY).unwrap();
    }
}

fn readdir_only(path: &Path) -> usize {
    std::fs::read_dir(path.join("cur")).unwrap().count()
}
