use std::time::SystemTime;

use super::*;
use crate::message::Message;
use crate::name::delivered_at;
use crate::quota::MAILDIRSIZE;

fn message(name: &str, wire: u64) -> Message {
    let base = name.find(':').unwrap_or(name.len());
    Message::from_parts(name.as_bytes().into(), base, None, None, wire)
}

/// A Maildir whose listing matches `cur/` (two messages, delivered at 1700000100 and
/// 1700000000), as a login would have left it.
fn listed_maildir(dir: &Path) -> Maildir {
    let maildir = Maildir::create(dir).unwrap();
    let names = [
        "1700000100.M1P1.host,W=10:2,",
        "1700000000.M2P1.host,W=20:2,S",
    ];
    for name in names {
        std::fs::write(dir.join("cur").join(name), b"x").unwrap();
    }
    let stamp = DirStamp::of(&maildir.cur).unwrap();
    let messages = [message(names[0], 10), message(names[1], 20)];
    listing::store(&maildir, &stamp, &messages).unwrap();
    maildir
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>, Option<SystemTime>)> {
    let mut files = Vec::new();
    for sub in ["", "cur", "new", "tmp"] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            let content = if meta.is_file() {
                std::fs::read(entry.path()).unwrap()
            } else {
                Vec::new()
            };
            let name = entry.path().display().to_string();
            files.push((name, content, meta.modified().ok()));
        }
    }
    files.sort();
    files
}

/// Issue 20: the counts come from the listing when there is no `maildirsize`, the oldest
/// message from the names' delivery times; **nothing is written**.
#[test]
fn a_listing_gives_the_counts_and_the_oldest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    listed_maildir(&path);
    let before = snapshot(&path);
    let summary = summarize(&path);
    assert_eq!(
        summary,
        MailSummary {
            messages: Some(2),
            bytes: Some(30),
            oldest: Some(1_700_000_000),
            source: CountSource::Listing,
        }
    );
    assert_eq!(snapshot(&path), before, "read-only");
}

/// `maildirsize` wins for the counts; mail in `new/` makes the listing's counts unusable
/// but not its oldest; a listing that no longer matches `cur/` is not used at all, and
/// without `maildirsize` the counts are unknown rather than scanned.
#[test]
fn maildirsize_first_and_a_stale_listing_is_never_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    listed_maildir(&path);
    std::fs::write(path.join("new").join("1800000000.M3P1.host"), b"new").unwrap();
    let summary = summarize(&path);
    assert_eq!(
        (summary.messages, summary.oldest, summary.source),
        (None, Some(1_700_000_000), CountSource::Unknown)
    );
    std::fs::write(path.join(MAILDIRSIZE), "0S\n33 3\n").unwrap();
    let summary = summarize(&path);
    assert_eq!(
        (summary.messages, summary.bytes, summary.source),
        (Some(3), Some(33), CountSource::Maildirsize)
    );
    std::fs::remove_file(path.join("cur").join("1700000000.M2P1.host,W=20:2,S")).unwrap();
    let summary = summarize(&path);
    assert_eq!(
        (summary.messages, summary.oldest),
        (Some(3), None),
        "cur/ changed since the listing"
    );
    std::fs::remove_file(path.join(MAILDIRSIZE)).unwrap();
    assert_eq!(summarize(&path).source, CountSource::Unknown);
    let missing = summarize(&dir.path().join("nowhere"));
    assert_eq!((missing.messages, missing.oldest), (None, None));
}

#[test]
fn delivery_times_from_names() {
    assert_eq!(
        delivered_at(b"1700000000.M1P2.host,S=1:2,"),
        Some(1_700_000_000)
    );
    assert_eq!(delivered_at(b"1700000000"), None);
    assert_eq!(delivered_at(b".1700000000.x"), None);
    assert_eq!(delivered_at(b"17x0.M1"), None);
    assert_eq!(delivered_at(b"99999999999999999999.M1"), None);
}
