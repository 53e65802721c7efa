//! Issue 16 review, defect 1: every file this crate creates in a Maildir takes the owner and
//! group of the Maildir directory when the process runs as root, so `pop3-admin migrate`,
//! `uidl repair` or `deliver` run as root never leave a `.pop3d.uidl`, `.pop3d.lock`,
//! `.pop3d.index` or message that pop3d, running as the Maildir's owner (`[privileges]`),
//! cannot open.
//!
//! Issue 17: delivered as another user (Postfix's `mailbox_command` runs the delivery as the
//! recipient), a message takes the Maildir's group and mode 0640 when that user is in the
//! group, and is refused, leaving nothing behind, when it is not.

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt, chown};
use std::path::Path;

use pop3_maildrop::{
    INDEX_FILE, LOCK_FILE, Maildrop, UIDL_MAP_FILE, carry_over, deliver, dovecot_uidlist,
};

use crate::child::spawn_as;
use crate::support::{TempMaildir, options};

/// `nobody`/`nogroup` on Debian; any uid other than root's does.
const OWNER: u32 = 65534;

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Gives the Maildir, its subdirectories and every file in them to `OWNER`, as a Maildir of
/// Dovecot's virtual users (`vmail`) is.
fn chown_tree(path: &Path) {
    chown(path, Some(OWNER), Some(OWNER)).unwrap();
    for sub in ["new", "cur", "tmp"] {
        let dir = path.join(sub);
        chown(&dir, Some(OWNER), Some(OWNER)).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            chown(entry.unwrap().path(), Some(OWNER), Some(OWNER)).unwrap();
        }
    }
}

fn owner(path: &Path) -> (u32, u32) {
    let meta =
        std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (meta.uid(), meta.gid())
}

#[test]
fn issue_16_files_written_as_root_belong_to_the_maildirs_owner() {
    if !is_root() {
        eprintln!(
            "!!! SKIPPED issue_16_files_written_as_root_belong_to_the_maildirs_owner: needs root \
             to create a Maildir owned by uid {OWNER} and see what a root process leaves in it \
             (CI runs as root)"
        );
        return;
    }
    let maildir = TempMaildir::new();
    maildir.put("cur", b"1200000001.M1P1.mx:2,S", b"a\nb\n");
    maildir.put("new", b"1200000002.M2P2.mx", b"c\n");
    let uidlist = maildir.dir.path().join("dovecot-uidlist");
    std::fs::write(
        &uidlist,
        "3 V1700000000 N3\n1 :1200000001.M1P1.mx:2,S\n2 :1200000002.M2P2.mx\n",
    )
    .unwrap();
    chown_tree(&maildir.path);
    let expected = (OWNER, OWNER);

    // `migrate` / `uidl repair`: the map and the lock file.
    let uidls = dovecot_uidlist(&uidlist, "%08Xu%08Xv").unwrap();
    assert_eq!(carry_over(&maildir.path, &uidls).unwrap().carried, 2);
    for file in [UIDL_MAP_FILE, LOCK_FILE] {
        assert_eq!(owner(&maildir.path.join(file)), expected, "{file}");
    }

    // `deliver` as root (an MTA running it as root): the message.
    let delivered = deliver(&maildir.maildir(), &b"Subject: new\n\nbody\n"[..]).unwrap();
    assert_eq!(
        owner(&maildir.path.join("new").join(&delivered.name)),
        expected
    );

    // A session opened as root (pop3d without [privileges]): the size index it writes.
    drop(Maildrop::open(&maildir.path, &options("root-session")).unwrap());
    assert_eq!(owner(&maildir.path.join(INDEX_FILE)), expected);

    // Nothing root's is left in the Maildir's root, and no temp file either.
    for entry in std::fs::read_dir(&maildir.path).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(!name.contains(".tmp."), "leftover {name}");
        assert_eq!(owner(&entry.path()), expected, "{name}");
    }
}

#[test]
fn issue_16_a_root_owned_lock_file_is_given_back_but_never_a_hard_link() {
    if !is_root() {
        eprintln!(
            "!!! SKIPPED issue_16_a_root_owned_lock_file_is_given_back_but_never_a_hard_link: \
             needs root to chown (CI runs as root)"
        );
        return;
    }
    // A lock file an earlier version left root's: the next lock taken as root gives it to
    // the Maildir's owner.
    let maildir = TempMaildir::new();
    chown_tree(&maildir.path);
    std::fs::write(maildir.path.join(LOCK_FILE), b"").unwrap();
    assert_eq!(owner(&maildir.path.join(LOCK_FILE)), (0, 0));
    drop(maildir.open());
    assert_eq!(owner(&maildir.path.join(LOCK_FILE)), (OWNER, OWNER));

    // A lock file that is a hard link to a file elsewhere keeps that file's owner.
    let other = TempMaildir::new();
    chown_tree(&other.path);
    let outside = other.dir.path().join("root-only");
    std::fs::write(&outside, b"").unwrap();
    std::fs::hard_link(&outside, other.path.join(LOCK_FILE)).unwrap();
    drop(other.open());
    assert_eq!(owner(&outside), (0, 0));
}

/// A group and a user nobody else uses, for the issue 17 tests.
const MAIL_GROUP: u32 = 47_017;
const RECIPIENT: u32 = 47_018;

/// A Maildir owned by `OWNER`, group `MAIL_GROUP`, with `mode` on it and its subdirectories,
/// below a directory every user may enter.
fn shared_maildir(mode: u32) -> TempMaildir {
    let maildir = TempMaildir::new();
    std::fs::set_permissions(maildir.dir.path(), PermissionsExt::from_mode(0o755)).unwrap();
    for dir in ["", "new", "cur", "tmp"].map(|sub| maildir.path.join(sub)) {
        chown(&dir, Some(OWNER), Some(MAIL_GROUP)).unwrap();
        std::fs::set_permissions(&dir, PermissionsExt::from_mode(mode)).unwrap();
    }
    maildir
}

/// Delivers a message as `RECIPIENT` with the supplementary `groups`; the child's report.
fn deliver_as_recipient(maildir: &TempMaildir, groups: &[u32]) -> String {
    let mut child = spawn_as("try-deliver", &maildir.path, RECIPIENT, RECIPIENT, groups);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"Subject: for you\n\nhello\n").unwrap();
    drop(stdin);
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(child.wait().unwrap().success(), "{out}");
    out.lines()
        .find_map(|line| line.split_once("delivered ").map(|(_, n)| n.to_owned()))
        .or_else(|| {
            out.lines()
                .find(|l| l.contains("failed: "))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("no report: {out}"))
}

#[test]
fn issue_17_a_delivery_by_a_member_of_the_maildirs_group_is_readable_by_the_group() {
    if !is_root() {
        eprintln!(
            "!!! SKIPPED issue_17_a_delivery_by_a_member_of_the_maildirs_group_is_readable_by_\
             the_group: needs root to run a child as another uid (CI runs as root)"
        );
        return;
    }
    let maildir = shared_maildir(0o770);
    let name = deliver_as_recipient(&maildir, &[RECIPIENT, MAIL_GROUP]);
    let meta = std::fs::metadata(maildir.path.join("new").join(&name)).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o7777),
        (RECIPIENT, MAIL_GROUP, 0o640),
        "{name}"
    );
}

#[test]
fn issue_17_a_delivery_the_server_could_never_read_is_refused_and_leaves_nothing() {
    if !is_root() {
        eprintln!(
            "!!! SKIPPED issue_17_a_delivery_the_server_could_never_read_is_refused_and_leaves_\
             nothing: needs root to run a child as another uid (CI runs as root)"
        );
        return;
    }
    // World-writable, so the recipient can create the file, but not in the Maildir's group:
    // its 0600 message would be one pop3d, running as OWNER, can never open.
    let maildir = shared_maildir(0o777);
    let report = deliver_as_recipient(&maildir, &[RECIPIENT]);
    assert!(report.contains("pop3d could not read"), "{report}");
    assert!(
        maildir.names("new").is_empty(),
        "{:?}",
        maildir.names("new")
    );
    assert!(
        maildir.names("tmp").is_empty(),
        "{:?}",
        maildir.names("tmp")
    );
}
