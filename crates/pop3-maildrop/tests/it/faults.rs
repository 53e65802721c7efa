//! Faults with real processes and real file systems: delivery killed at random points, a full
//! disk, a reader failing midway.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use pop3_maildrop::{Maildir, deliver};

use crate::child;
use crate::support::{Rng, TempMaildir, names_in};

/// A message big enough that the child is often killed mid-write.
fn big_message() -> Vec<u8> {
    let mut message = b"Subject: big\n\n".to_vec();
    while message.len() < 512 * 1024 {
        message.extend_from_slice(b"a line of a large message body, long enough to matter\n");
    }
    message
}

#[test]
fn delivery_killed_at_random_points_never_leaves_a_partial_message() {
    let md = TempMaildir::new();
    let message = big_message();
    let mut rng = Rng::new(0x5eed);
    let iterations = 40;
    let mut completed = 0;
    for _ in 0..iterations {
        let mut deliverer = child::spawn("deliver", &md.path);
        let mut stdin = deliverer.stdin.take().unwrap();
        let sent = rng.below(message.len() as u64 + 1) as usize;
        // The child may die first; a broken pipe is expected then.
        let _ = stdin.write_all(&message[..sent]);
        if rng.below(2) == 0 {
            drop(stdin); // let it reach fsync and rename
        } else {
            std::mem::forget(stdin);
        }
        for _ in 0..rng.below(2000) {
            std::thread::yield_now();
        }
        let _ = deliverer.kill();
        let status = deliverer.wait().unwrap();
        if status.success() {
            completed += 1;
        }
        // Whatever happened, every file in new/ is a complete message.
        for name in md.names("new") {
            let stored = std::fs::read(
                md.path
                    .join("new")
                    .join(std::str::from_utf8(&name).unwrap()),
            )
            .unwrap();
            assert!(
                message.starts_with(&stored) && stored.len() == sent_len(&name),
                "partial message in new/: {} bytes",
                stored.len()
            );
        }
        assert!(md.names("cur").is_empty());
    }
    eprintln!("{completed} of {iterations} deliveries completed before the kill");
}

/// The raw size a delivered name declares.
fn sent_len(name: &[u8]) -> usize {
    pop3_maildrop::ParsedName::parse(name).raw_size.unwrap() as usize
}

/// A tmpfs of 64 KiB, unmounted on drop.
struct TinyTmpfs {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl TinyTmpfs {
    fn mount() -> Option<TinyTmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fs");
        std::fs::create_dir(&path).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(TinyTmpfs { _dir: dir, path })
    }
}

impl Drop for TinyTmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

#[test]
fn disk_full_during_delivery_leaves_nothing() {
    let Some(fs) = TinyTmpfs::mount() else {
        eprintln!(
            "!!! SKIPPED disk_full_during_delivery_leaves_nothing: cannot mount a tmpfs here \
             (needs root); failing_reader_leaves_nothing covers the clean-up path"
        );
        return;
    };
    let path = fs.path.join("Maildir");
    let maildir = Maildir::create(&path).unwrap();
    deliver(&maildir, &b"Subject: fits\n\nsmall\n"[..]).unwrap();
    let error = deliver(&maildir, &big_message()[..]).unwrap_err();
    assert!(error.is_disk_full(), "{error}");
    assert!(error.is_temporary());
    assert_eq!(
        names_in(&path.join("new")).len(),
        1,
        "only the first message"
    );
    assert!(names_in(&path.join("tmp")).is_empty(), "temp file removed");
    assert_no_partial(&path);
}

/// A reader that fails after some bytes, as a dying pipe would.
struct FailingReader {
    left: usize,
}

impl Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::other("injected failure"));
        }
        let n = buf.len().min(self.left);
        buf[..n].fill(b'x');
        self.left -= n;
        Ok(n)
    }
}

#[test]
fn failing_reader_leaves_nothing() {
    let md = TempMaildir::new();
    let error = deliver(&md.maildir(), FailingReader { left: 100_000 }).unwrap_err();
    assert!(error.to_string().contains("injected failure"), "{error}");
    assert!(md.names("new").is_empty());
    assert!(md.names("tmp").is_empty());
}

fn assert_no_partial(maildir: &Path) {
    for name in names_in(&maildir.join("new")) {
        let parsed = pop3_maildrop::ParsedName::parse(&name);
        let len = std::fs::metadata(
            maildir
                .join("new")
                .join(std::str::from_utf8(&name).unwrap()),
        )
        .unwrap()
        .len();
        assert_eq!(Some(len), parsed.raw_size);
    }
}
