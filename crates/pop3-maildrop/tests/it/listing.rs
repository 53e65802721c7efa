//! The persistent listing: used only while `cur/` is unchanged since a settled scan.

use pop3_maildrop::{LISTING_FILE, ListingCache, Maildrop, OpenOptions, deliver};

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

/// The same directory seen through FUSE (`bindfs`), as a Maildir on sshfs or GlusterFS would
/// be; unmounted on drop. `None` where FUSE or bindfs is not available.
struct FuseView {
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl FuseView {
    fn of(source: &std::path::Path) -> Option<FuseView> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("view");
        std::fs::create_dir(&path).unwrap();
        let mounted = std::process::Command::new("bindfs")
            .arg(source)
            .arg(&path)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(FuseView { path, _dir: dir })
    }
}

impl Drop for FuseView {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.path)
            .status();
    }
}

fn open_with(path: &std::path::Path, cache: ListingCache) -> Maildrop {
    let options = OpenOptions {
        listing_cache: cache,
        ..crate::support::options("fs")
    };
    Maildrop::open(path, &options).unwrap()
}

/// Issue 18: directory times on a network file system cannot be trusted (a client's
/// attribute cache may show a stamp another machine's rename has already changed), so there
/// the listing is neither used nor written, and one left from before is removed.
#[test]
fn on_a_network_file_system_the_listing_is_off_and_a_stale_one_removed() {
    let md = maildrop_with_mixed_names();
    md.settle_cur();
    drop(md.open()); // a local, settled scan: writes the listing
    assert!(md.path.join(LISTING_FILE).exists());
    let Some(view) = FuseView::of(&md.path) else {
        let line = "!!! SKIPPED on_a_network_file_system_the_listing_is_off_and_a_stale_one_removed: \
             cannot mount bindfs (needs the bindfs package, /dev/fuse and root; .ci/run \
             installs bindfs and CI runs as root)";
        eprintln!("{line}");
        assert!(std::env::var_os("CI").is_none(), "{line}");
        return;
    };
    assert_eq!(
        pop3_maildrop::network_filesystem(std::fs::File::open(&view.path).unwrap()),
        Some("FUSE")
    );
    for _ in 0..2 {
        let through = open_with(&view.path, ListingCache::Auto);
        let report = through.scan_report();
        assert!(!report.from_listing, "a listing was trusted on FUSE");
        assert_eq!(report.listing_off, Some("FUSE"));
        assert_eq!(through.messages().len(), 3);
        drop(through);
        assert!(
            !md.path.join(LISTING_FILE).exists(),
            "a listing is left on FUSE"
        );
    }
    // An admin who knows better can turn it on: a settled scan writes it, the next uses it.
    md.settle_cur();
    drop(open_with(&view.path, ListingCache::On));
    assert!(
        open_with(&view.path, ListingCache::On)
            .scan_report()
            .from_listing
    );
    // And off anywhere.
    drop(view);
    let local = open_with(&md.path, ListingCache::Off);
    assert!(!local.scan_report().from_listing);
    assert_eq!(
        local.scan_report().listing_off,
        Some("off in the configuration")
    );
    drop(local);
    assert!(!md.path.join(LISTING_FILE).exists());
}
