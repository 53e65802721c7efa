use std::path::Path;
use std::time::{Duration, SystemTime};

use super::format::{self, Parsed};
use super::{MAILDIRSIZE, QuotaLimit, Usage, admit, lock, read_usage};
use crate::{Delivery, Error, Maildir, Maildrop, OpenOptions};

fn limit(messages: Option<u64>, bytes: Option<u64>) -> QuotaLimit {
    QuotaLimit { messages, bytes }
}

fn usage(messages: u64, bytes: u64) -> Usage {
    Usage { messages, bytes }
}

#[test]
fn parse_sums_every_line_after_the_header_negative_ones_too() {
    let text = b"1000S,10C\n300 3\n100 1\n-250 -2\n";
    assert_eq!(
        format::parse(text),
        Some(Parsed {
            limit: limit(Some(10), Some(1000)),
            usage: usage(2, 150),
            lines: 3,
        })
    );
    // Courier pads its numbers with spaces.
    let padded = b"5000S\n     1234      2\n";
    assert_eq!(format::parse(padded).map(|p| p.usage), Some(usage(2, 1234)));
}

#[test]
fn limits_line() {
    assert_eq!(format::parse_limits("0S"), Some(QuotaLimit::UNLIMITED));
    assert_eq!(format::parse_limits("100C"), Some(limit(Some(100), None)));
    assert_eq!(
        format::parse_limits("2048S,0C"),
        Some(limit(None, Some(2048)))
    );
    for bad in [
        "",
        "S",
        "12",
        "12X",
        "-1S",
        "1S,,2C",
        "1 S",
        "99999999999999999999999S",
    ] {
        assert_eq!(format::parse_limits(bad), None, "{bad:?}");
    }
    for limit in [
        QuotaLimit::UNLIMITED,
        limit(Some(7), None),
        limit(None, Some(9)),
        limit(Some(7), Some(9)),
    ] {
        let header = format::header(&limit);
        assert_eq!(format::parse_limits(header.trim_end()), Some(limit));
    }
}

#[test]
fn a_limits_line_ending_in_a_multibyte_character_is_damaged_not_a_panic() {
    // Before the fix `split_at(len - 1)` fell inside `€` and panicked (not a char boundary).
    for bad in ["1€", "€", "1S,2€", "é", "1S,1C€", "5\u{10FFFF}"] {
        assert_eq!(format::parse_limits(bad), None, "{bad:?}");
    }
    assert_eq!(format::parse("1€\n10 1\n".as_bytes()), None);
    assert_eq!(format::parse("1S,2€\n10 1\n".as_bytes()), None);
}

#[test]
fn a_hostile_maildirsize_is_recounted_by_a_delivery_and_unread_by_read_usage() {
    let (_dir, md) = maildir();
    foreign(&md.path().join("new"), "1.a.host,S=5", b"");
    put(&md, "1€\n10 1\n");
    assert_eq!(read_usage(md.path()), None);
    deliver(&md, b"x", &limit(Some(5), None)).unwrap();
    assert_eq!(file(&md), "5C\n5 1\n1 1\n");
}

proptest::proptest! {
    /// Any bytes parse to figures or to "damaged", never a panic.
    #[test]
    fn maildirsize_parser_never_panics_on_bytes(
        text in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
    ) {
        if let Some(parsed) = format::parse(&text) {
            proptest::prop_assert!(parsed.lines >= 1);
        }
    }

    /// Any UTF-8, multi-byte characters included (what the byte-index slicing tripped on).
    #[test]
    fn maildirsize_parser_never_panics_on_utf8(text in "\\PC{0,48}(\n\\PC{0,24}){0,4}\n?") {
        let _ = format::parse(text.as_bytes());
        for line in text.lines() {
            let _ = format::parse_limits(line);
        }
    }

    /// Lines close to the grammar, ending in multi-byte characters; what parses writes back
    /// the same limits.
    #[test]
    fn maildirsize_limits_near_the_grammar_never_panic(
        items in proptest::collection::vec("[0-9]{0,21}[SC€é\u{10FFFF}x]?", 0..4),
    ) {
        let line = items.join(",");
        if let Some(limit) = format::parse_limits(&line) {
            let header = format::header(&limit);
            proptest::prop_assert_eq!(format::parse_limits(header.trim_end()), Some(limit));
        }
        let _ = format::parse(format!("{line}\n1 1\n").as_bytes());
    }
}

#[test]
fn damaged_files_do_not_parse() {
    let damaged: [&[u8]; 8] = [
        b"",
        b"1000S",
        b"1000S\n",
        b"1000S\n1 1 1\n",
        b"1000S\nten 1\n",
        b"1000S\n10 1\n-20 -1\n",
        b"1000S\n10\x001\n",
        b"junk\n10 1\n",
    ];
    for text in damaged {
        assert_eq!(
            format::parse(text),
            None,
            "{:?}",
            String::from_utf8_lossy(text)
        );
    }
}

#[test]
fn an_unterminated_last_line_is_a_write_in_progress_and_ignored() {
    let parsed = format::parse(b"0S\n10 1\n20 ");
    assert_eq!(parsed.map(|p| (p.usage, p.lines)), Some((usage(1, 10), 1)));
}

#[test]
fn the_rule_is_usage_plus_this_message() {
    let l = limit(Some(3), Some(100));
    assert!(l.admits(usage(2, 60), 40));
    assert!(!l.admits(usage(2, 60), 41));
    assert!(!l.admits(usage(3, 0), 1));
    assert!(QuotaLimit::UNLIMITED.admits(usage(u64::MAX, u64::MAX), u64::MAX));
    assert!(l.is_exceeded_by(usage(4, 0)));
    assert!(!l.is_exceeded_by(usage(3, 100)));
}

// ---- against a Maildir ----

fn maildir() -> (tempfile::TempDir, Maildir) {
    let dir = tempfile::tempdir().unwrap();
    let maildir = Maildir::create(&dir.path().join("Maildir")).unwrap();
    (dir, maildir)
}

fn deliver(maildir: &Maildir, body: &[u8], limit: &QuotaLimit) -> crate::Result<u64> {
    let mut delivery = Delivery::begin(maildir)?;
    delivery.write(body)?;
    delivery.commit_within(limit).map(|d| d.raw_size)
}

fn file(maildir: &Maildir) -> String {
    std::fs::read_to_string(maildir.path().join(MAILDIRSIZE)).unwrap()
}

fn put(maildir: &Maildir, text: &str) {
    std::fs::write(maildir.path().join(MAILDIRSIZE), text).unwrap();
}

/// A message written by another program, with or without `S=`.
fn foreign(dir: &Path, name: &str, body: &[u8]) {
    std::fs::write(dir.join(name), body).unwrap();
}

#[test]
fn a_missing_file_is_recounted_then_kept_by_appends() {
    let (_dir, md) = maildir();
    foreign(&md.path().join("cur"), "1.a.host,S=1000:2,S", b"x");
    foreign(&md.path().join("new"), "2.b.host", b"12345");
    let l = limit(Some(10), Some(10_000));
    deliver(&md, b"hello\n", &l).unwrap();
    // Recounted before the delivery (S= believed, else the size), then one line appended.
    assert_eq!(file(&md), "10000S,10C\n1005 2\n6 1\n");
    assert_eq!(read_usage(md.path()), Some(usage(3, 1011)));
}

#[test]
fn folders_count_except_trash() {
    let (_dir, md) = maildir();
    for folder in [".Sent", ".Trash"] {
        let f = md.path().join(folder);
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(f.join(sub)).unwrap();
        }
        foreign(&f.join("cur"), "1.x.host,S=700:2,S", b"");
    }
    deliver(&md, b"a\n", &limit(None, Some(1 << 20))).unwrap();
    assert_eq!(file(&md), "1048576S\n700 1\n2 1\n");
}

#[test]
fn over_quota_is_refused_and_not_written() {
    let (_dir, md) = maildir();
    let l = limit(Some(2), None);
    deliver(&md, b"one\n", &l).unwrap();
    deliver(&md, b"two\n", &l).unwrap();
    let refused = deliver(&md, b"three\n", &l);
    assert!(matches!(refused, Err(Error::OverQuota { usage: u, .. }) if u == usage(2, 8)));
    assert_eq!(std::fs::read_dir(md.path().join("new")).unwrap().count(), 2);
    assert_eq!(std::fs::read_dir(md.path().join("tmp")).unwrap().count(), 0);
    // A message that would cross the byte limit is refused too.
    let bytes = limit(None, Some(10));
    assert!(matches!(
        deliver(&md, b"abc", &bytes),
        Err(Error::OverQuota { .. })
    ));
    assert!(deliver(&md, b"ab", &bytes).is_ok());
}

#[test]
fn a_fresh_one_line_file_is_trusted_without_a_rescan() {
    let (_dir, md) = maildir();
    foreign(&md.path().join("new"), "1.a.host,S=500", b"");
    // The file says empty; believed as it is (it is fresh and has one line).
    put(&md, "0S,5C\n0 0\n");
    deliver(&md, b"x", &limit(Some(5), None)).unwrap();
    assert_eq!(file(&md), "0S,5C\n0 0\n1 1\n");
}

#[test]
fn a_damaged_file_is_recounted_never_unlimited() {
    let (_dir, md) = maildir();
    foreign(&md.path().join("new"), "1.a.host,S=5", b"");
    put(&md, "5C\n1 x\n");
    let refused = deliver(&md, b"x", &limit(Some(1), None));
    assert!(
        matches!(refused, Err(Error::OverQuota { .. })),
        "{refused:?}"
    );
    assert_eq!(file(&md), "1C\n5 1\n");
}

#[test]
fn a_symlinked_file_is_never_followed_but_replaced() {
    let (dir, md) = maildir();
    let target = dir.path().join("elsewhere");
    std::fs::write(&target, "0S\n0 0\n").unwrap();
    std::os::unix::fs::symlink(&target, md.path().join(MAILDIRSIZE)).unwrap();
    foreign(&md.path().join("new"), "1.a.host,S=5", b"");
    let refused = deliver(&md, b"x", &limit(Some(1), None));
    assert!(
        matches!(refused, Err(Error::OverQuota { .. })),
        "{refused:?}"
    );
    assert_eq!(file(&md), "1C\n5 1\n");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "0S\n0 0\n");
}

#[test]
fn a_file_of_5120_bytes_is_recounted() {
    let (_dir, md) = maildir();
    foreign(&md.path().join("new"), "1.a.host,S=7", b"");
    // Figures that would admit the message: only the length calls for the recount.
    let mut text = "0S,1000C\n".to_owned();
    while text.len() < 5120 {
        text.push_str("0 0\n");
    }
    put(&md, &text);
    deliver(&md, b"x", &limit(Some(1000), None)).unwrap();
    assert_eq!(file(&md), "1000C\n7 1\n1 1\n");
}

#[test]
fn a_refusal_on_stale_or_many_lined_figures_recounts_first() {
    let (_dir, md) = maildir();
    let l = limit(Some(1), None);
    // Two lines claiming one message that another program removed since: recounted.
    put(&md, "1C\n0 0\n9 1\n");
    deliver(&md, b"x", &l).unwrap();
    // One line, but 16 minutes old: recounted as well.
    std::fs::remove_file(
        std::fs::read_dir(md.path().join("new"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path(),
    )
    .unwrap();
    put(&md, "1C\n9 1\n");
    let f = std::fs::File::options()
        .append(true)
        .open(md.path().join(MAILDIRSIZE))
        .unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(16 * 60))
        .unwrap();
    deliver(&md, b"y", &l).unwrap();
    assert_eq!(file(&md), "1C\n0 0\n1 1\n");
    // Fresh and one line: the refusal stands on it.
    put(&md, "1C\n1 1\n");
    assert!(matches!(
        deliver(&md, b"z", &l),
        Err(Error::OverQuota { .. })
    ));
}

#[test]
fn other_limits_in_the_header_are_rewritten() {
    let (_dir, md) = maildir();
    put(&md, "99S\n0 0\n");
    deliver(&md, b"x", &limit(Some(3), None)).unwrap();
    assert_eq!(file(&md), "3C\n0 0\n1 1\n");
}

#[test]
fn unlimited_keeps_an_existing_file_and_creates_none() {
    let (_dir, md) = maildir();
    deliver(&md, b"x", &QuotaLimit::UNLIMITED).unwrap();
    assert!(!md.path().join(MAILDIRSIZE).exists());
    put(&md, "0S\n1 1\n");
    deliver(&md, b"yy", &QuotaLimit::UNLIMITED).unwrap();
    assert_eq!(file(&md), "0S\n1 1\n2 1\n");
}

#[test]
fn quit_appends_the_removals_as_a_negative_line() {
    let (_dir, md) = maildir();
    let l = limit(Some(10), None);
    for body in [&b"aaaa\n"[..], b"bb\n", b"c\n"] {
        deliver(&md, body, &l).unwrap();
    }
    let options = OpenOptions::default();
    let drop_ = Maildrop::open(md.path(), &options).unwrap();
    let report = drop_.commit(&[0, 2], &[], false);
    assert_eq!((report.removed, report.quota_error.is_none()), (2, true));
    drop(drop_);
    assert_eq!(file(&md), "10C\n0 0\n5 1\n3 1\n2 1\n-7 -2\n");
    assert_eq!(read_usage(md.path()), Some(usage(1, 3)));
}

#[test]
fn concurrent_deliveries_recounts_and_a_quit_lose_no_count() {
    let (_dir, md) = maildir();
    let path = md.path().to_owned();
    let l = limit(Some(1_000_000), None);
    deliver(&md, b"first\n", &l).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let path = &path;
            s.spawn(move || {
                let md = Maildir::open(path).unwrap();
                for i in 0..25 {
                    deliver(&md, format!("{t} {i}\n").as_bytes(), &l).unwrap();
                    if i % 7 == t {
                        // Forces the next check to recount while others deliver.
                        let _ = std::fs::remove_file(path.join(MAILDIRSIZE));
                    }
                }
            });
        }
        s.spawn(|| {
            let drop_ = Maildrop::open(&path, &OpenOptions::default()).unwrap();
            let all: Vec<usize> = (0..drop_.messages().len()).collect();
            drop_.commit(&all, &[], false);
        });
    });
    deliver(&md, b"last\n", &l).unwrap();
    let recorded = read_usage(&path).unwrap();
    let guard = lock(&md.root, &path).unwrap();
    super::recalc::recount(&md, &l).unwrap();
    drop(guard);
    assert_eq!(read_usage(&path), Some(recorded));
    let _ = admit;
}

/// The race the quota lock closes: a recount between a delivery's rename into `new/` and its
/// append would count the message twice (once listed, once appended). The recount here runs
/// on another thread exactly there, and only if it can take the lock.
#[test]
fn a_recount_cannot_run_between_a_rename_and_its_append() {
    let (_dir, md) = maildir();
    let l = limit(Some(100), None);
    deliver(&md, b"first\n", &l).unwrap();
    let recounted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = recounted.clone();
    crate::deliver::tests::AFTER_RENAME.with(|hook| {
        *hook.borrow_mut() = Some(Box::new(move |md: &Maildir| {
            let path = md.path().to_owned();
            let flag = flag.clone();
            std::thread::spawn(move || {
                let md = Maildir::open(&path).unwrap();
                if let Some(_guard) = super::try_lock(&md.root, &path).unwrap() {
                    super::recalc::recount(&md, &l).unwrap();
                    flag.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            })
            .join()
            .unwrap();
        }));
    });
    deliver(&md, b"second\n", &l).unwrap();
    crate::deliver::tests::AFTER_RENAME.with(|hook| hook.borrow_mut().take());
    assert!(!recounted.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(read_usage(md.path()), Some(usage(2, 13)));
}

/// QUIT's side of the same race: a recount between an unlink and QUIT's negative line would
/// leave the message out twice (not listed, and subtracted). The recount here runs after the
/// first unlink, only if it can take the lock.
#[test]
fn a_recount_cannot_run_between_quits_unlinks_and_its_line() {
    let (_dir, md) = maildir();
    let l = limit(Some(100), None);
    for body in [&b"aaaa\n"[..], b"bb\n", b"c\n"] {
        deliver(&md, body, &l).unwrap();
    }
    let path = md.path().to_owned();
    let drop_ = Maildrop::open(&path, &OpenOptions::default()).unwrap();
    let mut recounted = false;
    let report = drop_.commit_observed(&[0, 1], &[], false, &mut |_| {
        let path = path.clone();
        recounted |= std::thread::spawn(move || {
            let md = Maildir::open(&path).unwrap();
            let guard = super::try_lock(&md.root, &path).unwrap();
            guard.is_some() && super::recalc::recount(&md, &l).is_ok()
        })
        .join()
        .unwrap();
    });
    assert_eq!(report.removed, 2);
    assert!(!recounted);
    assert_eq!(read_usage(&path), Some(usage(1, 2)));
}
