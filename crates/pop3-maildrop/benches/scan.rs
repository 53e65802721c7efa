//! Maildir scan and commit costs against the simplest loops doing the same system work.
//!
//! `cargo bench -p pop3-maildrop --bench scan` (100,000 messages; `-- --quick` for 10,000).
//! Each figure is the median of 5 rounds, on a warm page cache, with its ratio to a reference
//! measured in the same run:
//! - first scan, names with `W=`   vs readdir alone, and vs readdir + stat of every file;
//! - first scan, names without `W=` (bodies read once) and the scan after it (index);
//! - rescan after one new delivery into Postfix-style names (no `S=`/`W=`) vs readdir alone;
//! - commit of 10,000 deletions    vs a loop of 10,000 unlinks.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::path::Path;
use std::time::Duration;

mod common;
use common::{ROUNDS, median, report, time};
use pop3_maildrop::{INDEX_FILE, LISTING_FILE, Maildir, Maildrop, OpenOptions};

const BODY: &[u8] = b"From: bench@example.org\nTo: user@example.org\nSubject: bench\n\nA short body line.\nAnother one.\n";

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let count = if quick { 10_000 } else { 100_000 };
    let deletions = count / 10;
    let root = tempfile::tempdir().unwrap();
    println!("maildrop scan benchmark: {count} messages, median of {ROUNDS} rounds\n");

    let with_w = root.path().join("with-w");
    fill(&with_w, count, true);
    let readdir = median(|| {
        time(|| {
            std::hint::black_box(readdir_only(&with_w.join("cur")));
        })
    });
    let readdir_stat = median(|| {
        time(|| {
            std::hint::black_box(readdir_and_stat(&with_w.join("cur")));
        })
    });
    let scan_w = median(|| {
        let _ = std::fs::remove_file(with_w.join(LISTING_FILE));
        time(|| drop(open(&with_w)))
    });
    report("readdir alone (reference)", readdir, None);
    report("readdir + stat every file (reference)", readdir_stat, None);
    report(
        "first scan, names with W=",
        scan_w,
        Some(("readdir", readdir)),
    );
    report(
        "  same, against readdir + stat",
        scan_w,
        Some(("readdir+stat", readdir_stat)),
    );

    let without_w = root.path().join("without-w");
    fill(&without_w, count, false);
    let first = median(|| {
        let _ = std::fs::remove_file(without_w.join(INDEX_FILE));
        let _ = std::fs::remove_file(without_w.join(LISTING_FILE));
        time(|| drop(open(&without_w)))
    });
    let later = median(|| {
        let _ = std::fs::remove_file(without_w.join(LISTING_FILE));
        time(|| drop(open(&without_w)))
    });
    report(
        "first scan, no W= (bodies read)",
        first,
        Some(("readdir+stat", readdir_stat)),
    );
    report(
        "later scan, no W= (index)",
        later,
        Some(("readdir+stat", readdir_stat)),
    );

    // cur/ last changed a minute ago: the first open writes the listing, later ones read it.
    let minute_ago = std::time::SystemTime::now() - Duration::from_secs(60);
    std::fs::File::open(without_w.join("cur"))
        .and_then(|cur| cur.set_modified(minute_ago))
        .unwrap();
    drop(open(&without_w));
    let unchanged = median(|| time(|| drop(open(&without_w))));
    report(
        "unchanged maildrop (listing)",
        unchanged,
        Some(("readdir", readdir)),
    );
    // The login after a delivery settles: a full scan that also writes the listing.
    let rewrite = median(|| {
        let _ = std::fs::remove_file(without_w.join(LISTING_FILE));
        time(|| drop(open(&without_w)))
    });
    report(
        "settled maildrop, listing written",
        rewrite,
        Some(("later scan", later)),
    );

    // Postfix's local/virtual agents name files `<secs>.M<usecs>P<pid>Q<n>.<host>`, without
    // sizes: every login after a delivery rescans cur/ and finds all but one in the index.
    let postfix = root.path().join("postfix");
    fill_postfix(&postfix, count);
    drop(open(&postfix));
    let mut delivered = count;
    let rescan = median(|| {
        let name = postfix_name(delivered);
        delivered += 1;
        std::fs::write(postfix.join("new").join(name), BODY).unwrap();
        time(|| {
            let maildrop = open(&postfix);
            assert_eq!(maildrop.scan_report().measured, 1);
        })
    });
    report(
        &format!("rescan after one new delivery, {count} Postfix-style names"),
        rescan,
        Some(("readdir", readdir)),
    );

    let commit = median(|| {
        let dir = root.path().join("commit");
        fill(&dir, deletions, true);
        let maildrop = open(&dir);
        let all: Vec<usize> = (0..deletions).collect();
        let elapsed = time(|| {
            let report = maildrop.commit(&all, &[], false);
            assert_eq!(report.removed, deletions);
        });
        drop(maildrop);
        std::fs::remove_dir_all(&dir).unwrap();
        elapsed
    });
    let unlinks = median(|| {
        let dir = root.path().join("unlink");
        fill(&dir, deletions, true);
        let cur = dir.join("cur");
        let names: Vec<_> = std::fs::read_dir(&cur)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        let elapsed = time(|| names.iter().for_each(|p| std::fs::remove_file(p).unwrap()));
        std::fs::remove_dir_all(&dir).unwrap();
        elapsed
    });
    report(&format!("{deletions} unlinks (reference)"), unlinks, None);
    report(
        &format!("commit of {deletions} deletions"),
        commit,
        Some(("unlinks", unlinks)),
    );
}

fn open(path: &Path) -> Maildrop {
    let options = OpenOptions {
        session: "bench".into(),
        lock_wait: Duration::ZERO,
        ..Default::default()
    };
    Maildrop::open(path, &options).unwrap()
}

/// A Maildir with `count` messages already in `cur/`, named as delivery agents name them.
fn fill(path: &Path, count: usize, with_w: bool) {
    Maildir::create(path).unwrap();
    let cur = path.join("cur");
    let wire = BODY.len() + BODY.iter().filter(|&&b| b == b'\n').count();
    for i in 0..count {
        let sizes = if with_w {
            format!(",S={},W={wire}", BODY.len())
        } else {
            String::new()
        };
        let name = format!("{}.M{i}P1Q{i}.bench{sizes}:2,", 1_700_000_000 + i);
        std::fs::write(cur.join(name), BODY).unwrap();
    }
}

/// A Maildir with `count` Postfix-style names (no sizes) in `cur/`.
fn fill_postfix(path: &Path, count: usize) {
    Maildir::create(path).unwrap();
    let cur = path.join("cur");
    for i in 0..count {
        let name = format!("{}:2,", postfix_name(i));
        std::fs::write(cur.join(name), BODY).unwrap();
    }
}

fn postfix_name(i: usize) -> String {
    format!(
        "{}.M{}P4000Q{}.mail.example.net",
        1_767_225_628 + i / 10,
        (i % 10) * 100_000 + 1,
        i + 1
    )
}

fn readdir_only(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

fn readdir_and_stat(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::symlink_metadata(e.unwrap().path()).unwrap().len())
        .sum()
}
