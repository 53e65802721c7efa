//! Regressions of issue 15: a FIFO swapped in for a message, the renamed-message fallback, and
//! the other storage faults that must not lock a user out.

use std::os::unix::ffi::OsStrExt;
use std::sync::mpsc;
use std::time::Duration;

use pop3_maildrop::{Error, Maildrop};

use crate::support::{TempMaildir, read_all};

/// Runs `f` on another thread and waits at most five seconds for it: a hang fails the test
/// instead of stalling the run (the stuck thread is left behind).
fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(f());
    });
    result
        .recv_timeout(Duration::from_secs(5))
        .expect("the operation blocked")
}

fn mkfifo(path: &std::path::Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
}

#[test]
fn issue15_message_swapped_for_a_fifo_fails_at_once() {
    let md = TempMaildir::new();
    for i in 0..2 {
        md.put(
            "cur",
            format!("170000000{i}.M{i}P1Q1.host:2,").as_bytes(),
            format!("Subject: {i}\n\nbody {i}\n").as_bytes(),
        );
    }
    let maildrop = std::sync::Arc::new(md.open());
    let first = md.path.join("cur").join(std::ffi::OsStr::from_bytes(
        maildrop.messages()[0].file_name().as_bytes(),
    ));
    std::fs::remove_file(&first).unwrap();
    mkfifo(&first);
    let shared = maildrop.clone();
    let opened = bounded(move || shared.open_message(0).map(|_| ()));
    assert!(
        matches!(opened, Err(Error::NotRegular { .. })),
        "{opened:?}"
    );
    // The session goes on: the other message reads, and UPDATE works.
    assert_eq!(read_all(&maildrop, 1).unwrap(), b"Subject: 1\n\nbody 1\n");
    let report = maildrop.commit(&[1], &[], false);
    assert_eq!(report.removed, 1);
    assert!(first.exists(), "the FIFO is not removed");
    drop(maildrop);
    // A scan lists no FIFO.
    let again: Maildrop = md.open();
    assert!(again.messages().is_empty());
}

/// Item 4: the listed file was expunged by another program, and a different file with the
/// same base (and another size) is present; DELE must not take one for the other.
#[test]
fn issue15_dele_never_removes_a_file_that_only_shares_the_base() {
    let md = TempMaildir::new();
    // Sizes from the name (`S=`), and sizes measured (no `S=`): both are checked.
    md.put("cur", b"1700000000.M1P1Q1.host,S=11:2,", b"eleven byte");
    md.put("cur", b"1700000001.M2P1Q1.host:2,", b"measured body\n");
    let maildrop = md.open();
    assert_eq!(maildrop.messages().len(), 2);
    std::fs::remove_file(md.path.join("cur/1700000000.M1P1Q1.host,S=11:2,")).unwrap();
    std::fs::remove_file(md.path.join("cur/1700000001.M2P1Q1.host:2,")).unwrap();
    let other_s = md.put(
        "cur",
        b"1700000000.M1P1Q1.host,S=20:2,S",
        b"another message, 20",
    );
    let other = md.put(
        "cur",
        b"1700000001.M2P1Q1.host:2,S",
        b"a different, longer message\n",
    );
    assert!(matches!(
        maildrop.open_message(1),
        Err(Error::Vanished { .. })
    ));
    let report = maildrop.commit(&[0, 1], &[], false);
    assert_eq!((report.removed, report.already_gone), (0, 2), "{report:?}");
    assert!(
        other_s.exists() && other.exists(),
        "the other files are kept"
    );
}

/// Item 4, review: a listed sibling sharing the base and the size (a restored duplicate) is
/// never taken for a message another program expunged.
#[test]
fn issue15_dele_never_removes_a_listed_sibling_of_the_same_size() {
    let md = TempMaildir::new();
    md.put("cur", b"1700000000.M1P1Q1.host,S=11:2,", b"eleven byte");
    let sibling = md.put("cur", b"1700000000.M1P1Q1.host,S=11:2,S", b"eleven byte");
    let maildrop = md.open();
    assert_eq!(maildrop.messages().len(), 2);
    let first = maildrop
        .messages()
        .iter()
        .position(|m| !m.file_name().as_bytes().ends_with(b",S"))
        .unwrap();
    std::fs::remove_file(md.path.join("cur/1700000000.M1P1Q1.host,S=11:2,")).unwrap();
    let report = maildrop.commit(&[first], &[], false);
    assert_eq!((report.removed, report.already_gone), (0, 1), "{report:?}");
    assert!(sibling.exists(), "the listed sibling is kept");
}

/// Item 4: a commit after another program renamed every message (an IMAP client setting
/// flags) finds them all with one readdir of `cur/`, not one per message.
#[test]
fn issue15_commit_of_many_renamed_messages_reads_cur_once() {
    let md = TempMaildir::new();
    let count = 50;
    for i in 0..count {
        md.put(
            "cur",
            format!("17000000{i:02}.M{i}P1Q1.host:2,").as_bytes(),
            format!("Subject: {i}\n\nbody\n").as_bytes(),
        );
    }
    let maildrop = md.open();
    for i in 0..count {
        let from = md.path.join(format!("cur/17000000{i:02}.M{i}P1Q1.host:2,"));
        let to = md
            .path
            .join(format!("cur/17000000{i:02}.M{i}P1Q1.host:2,S"));
        std::fs::rename(from, to).unwrap();
    }
    let all: Vec<usize> = (0..count).collect();
    let report = maildrop.commit(&all, &[], false);
    assert_eq!(report.removed, count, "{report:?}");
    assert!(report.failed.is_empty());
    assert_eq!(report.dir_reads, 1, "cur/ read once per commit");
    assert!(md.names("cur").is_empty());
}

/// A 2 MiB ext4 (1 KiB blocks) on a loop device, unmounted on drop; `None` where it cannot be
/// made (not root, no `mkfs.ext4` or loop devices).
struct TinyExt4 {
    dir: tempfile::TempDir,
}

impl TinyExt4 {
    fn mount() -> Option<TinyExt4> {
        use std::process::Command;
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("image");
        std::fs::File::create(&image)
            .unwrap()
            .set_len(2 << 20)
            .unwrap();
        let mkfs = Command::new("mkfs.ext4")
            .args(["-q", "-b", "1024", "-O", "^has_journal"])
            .arg(&image)
            .status();
        std::fs::create_dir(dir.path().join("fs")).unwrap();
        let mounted = mkfs.is_ok_and(|s| s.success())
            && Command::new("mount")
                .args(["-o", "loop"])
                .arg(&image)
                .arg(dir.path().join("fs"))
                .status()
                .is_ok_and(|s| s.success());
        mounted.then_some(TinyExt4 { dir })
    }

    fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("fs")
    }
}

impl Drop for TinyExt4 {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.path())
            .status();
    }
}

/// Item 3 on a real file system: the disk is full and `cur/`'s directory block has no room
/// for one more name, so the rename from `new/` fails with `ENOSPC`. The login still works:
/// the message is served from `new/` and left there.
#[test]
fn issue15_full_disk_rename_enospc_serves_from_new() {
    use std::io::Write;
    let Some(fs) = TinyExt4::mount() else {
        eprintln!(
            "!!! SKIPPED issue15_full_disk_rename_enospc_serves_from_new: cannot mount an ext4 \
             image here (needs root and loop devices); scan::tests::\
             issue15_a_full_disk_serves_messages_from_new injects the ENOSPC instead"
        );
        return;
    };
    let path = fs.path().join("Maildir");
    pop3_maildrop::Maildir::create(&path).unwrap();
    let delivered = path.join("new/1700000001.M2P1Q1.host");
    std::fs::write(&delivered, b"Subject: full\n\nbody\n").unwrap();
    // The lock file exists before the disk fills.
    drop(Maildrop::open(&path, &crate::support::options("fill")).unwrap());
    std::fs::rename(path.join("cur/1700000001.M2P1Q1.host:2,"), &delivered).unwrap();
    let mut filler = std::fs::File::create(fs.path().join("filler")).unwrap();
    while filler.write_all(&[0u8; 1024]).is_ok() {}
    // Fill cur/'s directory blocks with (dot-file, so never listed) names, longest first.
    let mut i = 0;
    for length in [200, 100, 50, 20, 10, 5, 2] {
        while std::fs::File::create(path.join("cur").join(format!(".{i:x>length$}"))).is_ok() {
            i += 1;
        }
    }
    let maildrop = Maildrop::open(&path, &crate::support::options("full")).unwrap();
    let report = maildrop.scan_report();
    assert_eq!(report.left_in_new, 1, "{report:?}");
    assert!(
        report
            .move_error
            .as_deref()
            .unwrap()
            .contains("No space left"),
        "{report:?}"
    );
    assert_eq!(read_all(&maildrop, 0).unwrap(), b"Subject: full\n\nbody\n");
    assert_eq!(maildrop.commit(&[0], &[], false).removed, 1);
    assert!(!delivered.exists());
}
