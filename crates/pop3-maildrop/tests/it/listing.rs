//! The persistent listing: used only while `cur/` is unchanged since a settled scan.

use pop3_maildrop::{LISTING_FILE, deliver};

use crate::support::{TempMaildir, listed, read_all};

/// A maildrop with messages whose sizes come from `W=`, from measuring, and a digest UIDL.
fn maildrop_with_mixed_names() -> TempMaildir {
    let md = TempMaildir::new();
    deliver(&md.maildir(), &b"Subject: delivered\n\nbody\n"[..]).unwrap();
    md.put(
        "cur",
        b"1700000100.raw.host:2,S",
        b"Subject: raw\n\nno W= here\n",
    );
    md.put(
        "cur",
        b"1700000200.sp ace.host:2,",
        b"Subject: digest uid\r\n\r\n.dot\r\n",
    );
    drop(md.open()); // moves new/ to cur/
    md
}

#[test]
fn an_unchanged_settled_maildrop_is_listed_from_the_listing_with_identical_results() {
    let md = maildrop_with_mixed_names();
    md.settle_cur();
    let scanned = md.open();
    assert!(!scanned.scan_report().from_listing);
    assert!(
        md.path.join(LISTING_FILE).exists(),
        "a settled scan writes the listing"
    );
    let expected = listed(&scanned);
    let bodies: Vec<Vec<u8>> = (0..3).map(|i| read_all(&scanned, i).unwrap()).collect();
    drop(scanned);

    let cached = md.open();
    assert!(cached.scan_report().from_listing);
    assert_eq!(cached.scan_report().measured, 0);
    assert_eq!(listed(&cached), expected);
    for (i, body) in bodies.iter().enumerate() {
        assert_eq!(&read_all(&cached, i).unwrap(), body);
    }
}

#[test]
fn a_recently_changed_maildrop_is_always_rescanned() {
    let md = maildrop_with_mixed_names();
    for _ in 0..2 {
        let maildrop = md.open();
        assert!(!maildrop.scan_report().from_listing);
    }
    assert!(!md.path.join(LISTING_FILE).exists());
}

/// Opens once settled (writing the listing), applies `change`, and checks the next open
/// rescans and lists what is really there.
fn rescanned_after(change: impl FnOnce(&TempMaildir)) -> Vec<(String, u64, Vec<u8>)> {
    let md = maildrop_with_mixed_names();
    md.settle_cur();
    drop(md.open());
    assert!(md.open().scan_report().from_listing);
    change(&md);
    let maildrop = md.open();
    assert!(!maildrop.scan_report().from_listing);
    listed(&maildrop)
}

#[test]
fn a_delivery_invalidates_the_listing() {
    let listed = rescanned_after(|md| {
        deliver(&md.maildir(), &b"Subject: new\n\n"[..]).unwrap();
    });
    assert_eq!(listed.len(), 4);
}

#[test]
fn an_unlink_or_rename_by_another_program_invalidates_the_listing() {
    let gone = rescanned_after(|md| {
        std::fs::remove_file(md.path.join("cur/1700000100.raw.host:2,S")).unwrap();
    });
    assert_eq!(gone.len(), 2);
    assert!(!gone.iter().any(|(uid, _, _)| uid == "1700000100.raw.host"));
    let renamed = rescanned_after(|md| {
        let cur = md.path.join("cur");
        std::fs::rename(
            cur.join("1700000100.raw.host:2,S"),
            cur.join("1700000100.raw.host:2,RS"),
        )
        .unwrap();
    });
    assert!(
        renamed
            .iter()
            .any(|(_, _, name)| name == b"1700000100.raw.host:2,RS")
    );
}

#[test]
fn a_commit_invalidates_the_listing() {
    let listed = rescanned_after(|md| {
        let maildrop = md.open();
        assert!(maildrop.commit(&[0], &[], false).failed.is_empty());
    });
    assert_eq!(listed.len(), 2);
}

#[test]
fn a_damaged_listing_is_ignored() {
    let md = maildrop_with_mixed_names();
    md.settle_cur();
    let expected = listed(&md.open());
    let path = md.path.join(LISTING_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&path, &bytes).unwrap();
    let maildrop = md.open();
    assert!(!maildrop.scan_report().from_listing);
    assert_eq!(listed(&maildrop), expected);
}
