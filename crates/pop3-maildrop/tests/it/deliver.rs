//! Delivery: names, sizes, and what Maildir::open refuses.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;

use pop3_maildrop::{Error, Maildir, ParsedName, deliver};

use crate::support::{TempMaildir, crlf};

#[test]
fn delivered_name_carries_exact_sizes() {
    let md = TempMaildir::new();
    let message = b"From: a\nTo: b\n\nline one\r\nline two\n";
    let delivered = deliver(&md.maildir(), &message[..]).unwrap();
    assert_eq!(delivered.raw_size, message.len() as u64);
    assert_eq!(delivered.wire_size, crlf(message).len() as u64);
    let parsed = ParsedName::parse(delivered.name.as_bytes());
    assert_eq!(parsed.raw_size, Some(delivered.raw_size));
    assert_eq!(parsed.plausible_wire_size(), Some(delivered.wire_size));
    assert!(parsed.time.is_some());
    let name = String::from_utf8(parsed.base.to_vec()).unwrap();
    assert!(
        name.contains(".M") && name.contains('P') && name.contains('Q'),
        "{name}"
    );
    assert_eq!(md.names("new"), [delivered.name.as_bytes().to_vec()]);
    assert!(md.names("tmp").is_empty());
    let stored = std::fs::read(md.path.join("new").join(&delivered.name)).unwrap();
    assert_eq!(stored, message);
}

#[test]
fn unique_names_within_one_process() {
    let md = TempMaildir::new();
    let names: std::collections::HashSet<_> = (0..200)
        .map(|_| deliver(&md.maildir(), &b"x"[..]).unwrap().name)
        .collect();
    assert_eq!(names.len(), 200);
}

#[test]
fn open_refuses_missing_symlinked_and_broken_maildirs() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    assert!(matches!(
        Maildir::open(&missing),
        Err(Error::Missing { .. })
    ));
    assert!(!missing.exists(), "open must never create a Maildir");

    let real = dir.path().join("real");
    Maildir::create(&real).unwrap();
    let link = dir.path().join("link");
    symlink(&real, &link).unwrap();
    let error = Maildir::open(&link).unwrap_err();
    assert!(matches!(error, Error::Symlink { .. }), "{error}");
    assert!(
        !error.is_temporary(),
        "a symlinked Maildir needs an administrator"
    );

    let file = dir.path().join("file");
    std::fs::write(&file, b"").unwrap();
    assert!(matches!(
        Maildir::open(&file),
        Err(Error::NotMaildir { .. })
    ));

    let partial = dir.path().join("partial");
    std::fs::create_dir_all(partial.join("cur")).unwrap();
    std::fs::create_dir_all(partial.join("new")).unwrap();
    let error = Maildir::open(&partial).unwrap_err();
    assert!(matches!(error, Error::Missing { .. }), "{error}");
    assert!(error.is_temporary(), "a missing Maildir is [SYS/TEMP]");

    let sub_link = dir.path().join("sublink");
    Maildir::create(&sub_link).unwrap();
    std::fs::remove_dir(sub_link.join("cur")).unwrap();
    symlink(real.join("cur"), sub_link.join("cur")).unwrap();
    assert!(matches!(
        Maildir::open(&sub_link),
        Err(Error::Symlink { .. })
    ));
}
