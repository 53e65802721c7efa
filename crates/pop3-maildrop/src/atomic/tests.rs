use std::os::unix::fs::PermissionsExt;

use super::*;

fn maildir() -> (tempfile::TempDir, Maildir) {
    let dir = tempfile::tempdir().unwrap();
    let maildir = Maildir::create(&dir.path().join("Maildir")).unwrap();
    (dir, maildir)
}

fn tmp_name(name: &str) -> String {
    format!("{name}.tmp.{}", std::process::id())
}

#[test]
fn replaces_the_file_with_mode_0600_and_leaves_no_temp_file() {
    let (_dir, maildir) = maildir();
    let path = maildir.path().join(".cache");
    for bytes in [&b"first"[..], b"second"] {
        replace(&maildir, ".cache", bytes).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!maildir.path().join(tmp_name(".cache")).exists());
    }
}

#[test]
fn a_failed_rename_removes_the_temp_file_and_names_it() {
    let (_dir, maildir) = maildir();
    // A non-empty directory in the way: the rename fails after the write.
    std::fs::create_dir_all(maildir.path().join(".cache/inside")).unwrap();
    let error = replace(&maildir, ".cache", b"data").unwrap_err();
    match error {
        crate::Error::Io { op, path, .. } => {
            assert_eq!(op, "rename");
            assert_eq!(path, maildir.path().join(tmp_name(".cache")));
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(!maildir.path().join(tmp_name(".cache")).exists());
    assert!(maildir.path().join(".cache/inside").is_dir());
}
