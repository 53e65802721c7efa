//! Issue 14: a login after new mail rescans `cur/` with a readdir and lookups by name; only new
//! messages are opened, and a file changed behind the index's back is caught when read.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use pop3_maildrop::{Error, INDEX_FILE};

use crate::support::{TempMaildir, crlf, read_all};

/// How Postfix's local and virtual agents name a delivery: no `S=`, no `W=`.
fn postfix_name(i: u32) -> String {
    format!(
        "{}.M{}P4000Q{}.mail.example.net",
        1_767_225_628 + i,
        585_909 + i,
        i + 1
    )
}

fn body(i: u32) -> Vec<u8> {
    format!("Subject: {i}\n\nbody {i}\n").into_bytes()
}

/// Delivers Postfix-style messages `0..count` into `new/` and opens once, which moves and
/// measures them all and writes the index.
fn postfix_maildrop(count: u32) -> TempMaildir {
    let md = TempMaildir::new();
    for i in 0..count {
        md.put("new", postfix_name(i).as_bytes(), &body(i));
    }
    let first = md.open();
    assert_eq!(first.scan_report().measured, count as usize);
    md
}

/// Replaces a message in `cur/` by a different file under the same name, by rename, as no
/// delivery agent ever does.
fn replace_in_cur(md: &TempMaildir, i: u32, bytes: &[u8]) -> PathBuf {
    let path = md.path.join("cur").join(format!("{}:2,", postfix_name(i)));
    let temp = md.path.join("tmp").join("replacement");
    std::fs::write(&temp, bytes).unwrap();
    std::fs::rename(&temp, &path).unwrap();
    path
}

#[test]
fn issue_14_rescan_after_one_delivery_opens_and_stats_only_the_new_message() {
    let md = postfix_maildrop(5);
    // Behind the index's back, message 3 becomes longer; then new mail arrives.
    let longer = b"Subject: 2\n\nbody 2, and a good deal longer now\n";
    replace_in_cur(&md, 2, longer);
    md.put("new", postfix_name(5).as_bytes(), &body(5));

    let rescan = md.open();
    let report = rescan.scan_report();
    assert!(!report.from_listing);
    assert_eq!(report.moved, 1);
    assert_eq!(report.measured, 1, "only the new message is opened");
    assert_eq!(report.indexed, 5, "the others are looked up by name");
    assert_eq!(report.statted, 0);
    assert_eq!(rescan.messages().len(), 6);
    assert_eq!(
        rescan.messages()[5].wire_size(),
        crlf(&body(5)).len() as u64
    );

    // Reads yield the stored bytes (the wire form is the encoder's job).
    // The replaced file still has its indexed size, and is refused when read, never sent
    // short; every other message reads whole.
    assert!(matches!(
        read_all(&rescan, 2),
        Err(Error::SizeChanged { .. })
    ));
    for i in [0, 1, 3, 4, 5] {
        assert_eq!(read_all(&rescan, i as usize).unwrap(), body(i));
    }
    drop(rescan);

    // The refusal forgot its index entry: the next session measures it and serves it.
    let next = md.open();
    assert_eq!(next.scan_report().measured, 1);
    assert_eq!(next.scan_report().indexed, 5);
    assert_eq!(read_all(&next, 2).unwrap(), longer);
}

#[test]
fn a_base_reused_through_new_is_measured_not_taken_from_the_index() {
    let md = postfix_maildrop(3);
    // Another program removes message 2 and a delivery reuses its unique part before any
    // scan prunes the index: the file arriving through new/ is measured.
    let cur = md.path.join("cur").join(format!("{}:2,", postfix_name(1)));
    std::fs::remove_file(cur).unwrap();
    let reused = b"Subject: reused\n\nquite a different body\n";
    md.put("new", postfix_name(1).as_bytes(), reused);
    let maildrop = md.open();
    assert_eq!(maildrop.scan_report().measured, 1);
    assert_eq!(maildrop.scan_report().indexed, 2);
    assert_eq!(read_all(&maildrop, 1).unwrap(), reused);
}

#[test]
fn a_file_changed_under_a_trusted_listing_is_refused_then_measured_again() {
    let md = postfix_maildrop(2);
    md.settle_cur();
    drop(md.open());
    // Modified in place: cur/ does not change, so the listing is trusted.
    let path = md.path.join("cur").join(format!("{}:2,", postfix_name(0)));
    std::fs::write(&path, b"shorter\n").unwrap();
    let cached = md.open();
    assert!(cached.scan_report().from_listing);
    assert!(matches!(
        read_all(&cached, 0),
        Err(Error::SizeChanged { .. })
    ));
    drop(cached);
    // The refusal removed the listing and the index entry.
    let next = md.open();
    assert!(!next.scan_report().from_listing);
    assert_eq!(next.scan_report().measured, 1);
    assert_eq!(read_all(&next, 0).unwrap(), b"shorter\n");
}

#[test]
fn new_sizes_are_appended_to_the_index_and_removals_rewrite_it() {
    let md = postfix_maildrop(3);
    let inode = || std::fs::metadata(md.path.join(INDEX_FILE)).unwrap().ino();
    let first = inode();
    md.put("new", postfix_name(3).as_bytes(), &body(3));
    drop(md.open());
    assert_eq!(inode(), first, "one new message: appended, not rewritten");
    let index = std::fs::read_to_string(md.path.join(INDEX_FILE)).unwrap();
    assert_eq!(index.lines().count(), 1 + 4);
    // A torn last line (a full disk mid-append) costs that entry, nothing else.
    let lines: Vec<&str> = index.lines().collect();
    let torn = lines[4].rsplit_once(' ').unwrap().0.to_owned() + " 1";
    let damaged = format!("{}\n{torn}", lines[..4].join("\n"));
    std::fs::write(md.path.join(INDEX_FILE), damaged).unwrap();
    let reopened = md.open();
    assert_eq!(reopened.scan_report().measured, 1);
    assert_eq!(reopened.scan_report().indexed, 3);
    drop(reopened);
    let index = std::fs::read_to_string(md.path.join(INDEX_FILE)).unwrap();
    assert!(
        index.ends_with('\n') && index.lines().count() == 1 + 3 + 2,
        "{index}"
    );
    // A message removed by another program: its entry goes, by a rewrite.
    let cur = md.path.join("cur").join(format!("{}:2,", postfix_name(0)));
    std::fs::remove_file(cur).unwrap();
    let inode_before = inode();
    drop(md.open());
    assert_ne!(inode(), inode_before);
    let index = std::fs::read_to_string(md.path.join(INDEX_FILE)).unwrap();
    assert_eq!(index.lines().count(), 1 + 3);
}
