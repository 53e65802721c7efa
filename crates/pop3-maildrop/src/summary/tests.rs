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

/// `maildirsize` wins for the counts; mail in `new/` is added to the listing's counts; a
/// listing that no longer matches `cur/` is not used at all, and without `maildirsize` the
/// counts are unknown rather than scanned.
#[test]
fn maildirsize_first_and_a_stale_listing_is_never_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    listed_maildir(&path);
    std::fs::write(path.join("new").join("1800000000.M3P1.host"), b"new").unwrap();
    let summary = summarize(&path);
    assert_eq!(
        (summary.messages, summary.oldest, summary.source),
        (Some(3), Some(1_700_000_000), CountSource::Listing)
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

/// Runs `summarize` on another thread and waits for it, bounded: a summary that blocks
/// (the bug) fails the test instead of hanging it.
fn summarize_bounded(path: &Path) -> Option<MailSummary> {
    let (tx, rx) = std::sync::mpsc::channel();
    let path = path.to_owned();
    std::thread::spawn(move || {
        let _ = tx.send(summarize(&path));
    });
    rx.recv_timeout(std::time::Duration::from_secs(20)).ok()
}

/// Issue 20 review D3: a FIFO put in place of `.pop3d.listing` by the maildrop's user is
/// not opened for a blocking read (the admin tool, as root, hung in `open` until a writer
/// came): the counts are unknown, at once.
#[test]
fn a_fifo_listing_is_unknown_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    let maildir = listed_maildir(&path);
    std::fs::remove_file(path.join(listing::LISTING_FILE)).unwrap();
    rustix::fs::mknodat(
        &maildir.root,
        listing::LISTING_FILE,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let summary = summarize_bounded(&path);
    if summary.is_none() {
        // Free the reader left blocked in `open` before failing.
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .open(path.join(listing::LISTING_FILE));
    }
    let summary = summary.expect("summarize returned: it must not wait on a FIFO");
    assert_eq!(
        (summary.messages, summary.source),
        (None, CountSource::Unknown)
    );
    // A login reads the listing the same way (`listing::load`, on the server's blocking
    // pool, where a hung read would hold a thread for ever).
    let stamp = DirStamp::of(&maildir.cur).unwrap();
    assert!(listing::load(&maildir, &stamp).is_none());
}

/// Issue 20 review D3: the listing `summarize` reads is bounded (32 MiB, about 350,000
/// messages), so a user's file — here a valid listing of 400,000 records — cannot make the
/// admin tool, as root, read and allocate hundreds of megabytes; a larger one is unknown.
#[test]
fn an_oversized_listing_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    let maildir = listed_maildir(&path);
    let stamp = DirStamp::of(&maildir.cur).unwrap();
    let name =
        |i: u32| format!("1700000000.M{i:07}P12345.a-rather-long-host-name.example.org,W=10:2,S");
    let messages: Vec<Message> = (0..400_000).map(|i| message(&name(i), 10)).collect();
    listing::store(&maildir, &stamp, &messages).unwrap();
    drop(messages);
    let size = std::fs::metadata(path.join(listing::LISTING_FILE))
        .unwrap()
        .len();
    assert!(size > 32 * 1024 * 1024, "{size}");
    let summary = summarize(&path);
    assert_eq!(
        (summary.messages, summary.source),
        (None, CountSource::Unknown)
    );
}

/// Issue 20 review D3: a listing whose size disagrees with its header's count (here a
/// sparse file: a valid header claiming 2 records, then 16 MiB of zeros, costing its
/// user no disk) is refused from its size, before its body is read.
#[test]
fn a_listing_larger_than_its_count_allows_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    listed_maildir(&path);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path.join(listing::LISTING_FILE))
        .unwrap();
    file.set_len(16 * 1024 * 1024).unwrap();
    drop(file);
    let summary = summarize_bounded(&path).unwrap();
    assert_eq!(
        (summary.messages, summary.source),
        (None, CountSource::Unknown)
    );
}

/// Issue 20 review S7: mail waiting in `new/` no longer makes the counts unknown: it is
/// counted (sizes from `W=`, else `S=`, else the file) and added to the listing's; dot
/// files are not messages; nothing is written.
#[test]
fn mail_in_new_is_added_to_the_listing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    listed_maildir(&path);
    let new = path.join("new");
    std::fs::write(new.join("1690000000.M3P1.host,S=5,W=7"), b"x").unwrap();
    std::fs::write(new.join("1800000000.M4P1.host,S=100"), b"x").unwrap();
    std::fs::write(new.join("1800000001.M5P1.host"), b"twelve bytes").unwrap();
    std::fs::write(new.join(".hidden"), b"not a message").unwrap();
    let before = snapshot(&path);
    assert_eq!(
        summarize(&path),
        MailSummary {
            messages: Some(5),
            bytes: Some(30 + 7 + 100 + 12),
            oldest: Some(1_690_000_000),
            source: CountSource::Listing,
        }
    );
    assert_eq!(snapshot(&path), before, "read-only");
}

/// Issue 20 review S7: the work is bounded: past [`NEW_LIMIT`] entries in `new/` the
/// counts are unknown (the oldest still comes from the listing).
#[test]
fn a_huge_new_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    listed_maildir(&path);
    let new = path.join("new");
    for i in 0..=NEW_LIMIT {
        std::fs::write(new.join(format!("1800000000.M{i}P1.host,S=1")), b"x").unwrap();
    }
    let summary = summarize(&path);
    assert_eq!(
        (
            summary.messages,
            summary.bytes,
            summary.oldest,
            summary.source
        ),
        (None, None, Some(1_700_000_000), CountSource::Unknown)
    );
    std::fs::remove_file(new.join("1800000000.M0P1.host,S=1")).unwrap();
    assert_eq!(summarize(&path).messages, Some(2 + NEW_LIMIT as u64));
}
