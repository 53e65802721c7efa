//! Issue 15 #17: `user add` trusts nothing that already exists under the mail root.

use pop3_auth::UserStore as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::support::{Site, can_log_in};

/// The uid and gid of `nobody:nogroup`, the server's user in these tests.
const NOBODY: (u32, u32) = (65534, 65534);

/// A site whose `[privileges]` names a server user, so that `user add` run as root gives new
/// Maildirs away: the case where following a symlink would chown someone else's files.
fn site_with_owner() -> Site {
    let site = Site::new();
    let mut config = std::fs::read_to_string(&site.config).unwrap();
    config.push_str("\n[privileges]\nuser = \"nobody\"\ngroup = \"nogroup\"\n");
    std::fs::write(&site.config, config).unwrap();
    std::fs::create_dir_all(site.dir.path().join("mail")).unwrap();
    site
}

fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// (uid, gid, mode) of `path`, without following a symlink.
fn owner_and_mode(path: &Path) -> (u32, u32, u32) {
    let meta = std::fs::symlink_metadata(path).unwrap();
    (meta.uid(), meta.gid(), meta.permissions().mode() & 0o7777)
}

fn names(site: &Site) -> Vec<String> {
    site.db()
        .list()
        .unwrap()
        .iter()
        .map(|u| u.name.to_string())
        .collect()
}

#[test]
fn issue_15_17_a_symlink_at_the_user_directory_is_refused_and_never_followed() {
    let site = site_with_owner();
    let outside = site.dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o755)).unwrap();
    let before = owner_and_mode(&outside);
    let link = site.dir.path().join("mail/alice");
    std::os::unix::fs::symlink(&outside, &link).unwrap();

    let (code, _, err) = site.run(&["user", "add", "alice", "--password-stdin"], b"pw\n");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("symbolic link") && err.contains("never followed"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // --adopt does not follow it either.
    let (code, _, err) = site.run(
        &["user", "add", "alice", "--password-stdin", "--adopt"],
        b"pw\n",
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("symbolic link"), "{err}");

    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing made outside"
    );
    assert_eq!(
        owner_and_mode(&outside),
        before,
        "nothing outside chowned or chmod-ed"
    );
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(names(&site).is_empty(), "the row was taken back");

    // A file there is refused too.
    std::fs::write(site.dir.path().join("mail/bob"), b"x").unwrap();
    let (code, _, err) = site.run(&["user", "add", "bob", "--password-stdin"], b"pw\n");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not a directory"), "{err}");
}

#[test]
fn issue_15_17_a_non_empty_directory_needs_adopt_and_is_then_taken_as_it_is() {
    let site = site_with_owner();
    let maildir = site.maildir("alice");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let message = maildir.join("cur/1.host:2,S");
    std::fs::write(&message, b"Subject: kept\n\nold mail\n").unwrap();
    std::fs::set_permissions(&maildir, std::fs::Permissions::from_mode(0o750)).unwrap();
    let user_dir = site.dir.path().join("mail/alice");
    if is_root() {
        // Someone else's, as an old account's Maildir would be.
        for dir in [&user_dir, &maildir] {
            std::os::unix::fs::chown(dir, Some(1234), Some(1234)).unwrap();
        }
    }
    let before = [&user_dir, &maildir].map(|d| owner_and_mode(d));

    let (code, _, err) = site.run(&["user", "add", "alice", "--password-stdin"], b"pw\n");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--adopt"), "{err}");
    assert!(
        err.contains("not empty") || err.contains("another user"),
        "{err}"
    );
    assert!(names(&site).is_empty());

    let (code, out, err) = site.run(
        &["user", "add", "alice", "--password-stdin", "--adopt"],
        b"pw\n",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("adopted Maildir"), "{out}");
    assert_eq!(names(&site), ["alice"]);
    assert!(can_log_in(&site, "alice", "pw"));
    assert_eq!(
        [&user_dir, &maildir].map(|d| owner_and_mode(d)),
        before,
        "not chowned"
    );
    assert_eq!(
        std::fs::read(&message).unwrap(),
        b"Subject: kept\n\nold mail\n"
    );

    // --adopt with nothing to adopt: refused, not created.
    std::fs::create_dir(site.dir.path().join("mail/bob")).unwrap();
    std::fs::write(site.dir.path().join("mail/bob/notes"), b"x").unwrap();
    let (code, _, err) = site.run(
        &["user", "add", "bob", "--password-stdin", "--adopt"],
        b"pw\n",
    );
    assert_eq!(code, 1, "{err}");
    assert!(!site.maildir("bob").exists());
}

#[test]
fn issue_15_17_a_fresh_add_makes_0700_directories_for_the_server_user() {
    let site = site_with_owner();
    // An empty directory of ours (say, made by the administrator beforehand) is fine too.
    std::fs::create_dir(site.dir.path().join("mail/bob")).unwrap();
    for user in ["alice", "bob"] {
        let (code, out, err) = site.run(&["user", "add", user, "--password-stdin"], b"pw\n");
        assert_eq!(code, 0, "{err}");
        assert!(!out.contains("adopted"), "{out}");
        let maildir = site.maildir(user);
        let owner = if is_root() {
            NOBODY
        } else {
            let me = std::fs::metadata(site.dir.path()).unwrap();
            (me.uid(), me.gid())
        };
        for dir in crate::support::maildir_dirs(&maildir) {
            assert_eq!(
                owner_and_mode(&dir),
                (owner.0, owner.1, 0o700),
                "{}",
                dir.display()
            );
        }
        assert!(can_log_in(&site, user, "pw"));
    }
}

/// Issue 15 #17, the other end: `user del --purge-mail` never removes what a symlink planted at
/// `<mail_root>/<name>` points at.
#[test]
fn issue_15_17_purge_never_follows_a_symlink_at_the_user_directory() {
    let site = Site::new();
    std::fs::create_dir_all(site.dir.path().join("mail")).unwrap();
    let (code, _, err) = site.run(&["user", "add", "alice", "--password-stdin"], b"pw\n");
    assert_eq!(code, 0, "{err}");
    // Someone with write access to the mail root swaps alice's directory for a link to a
    // directory holding a Maildir of its own.
    let victim = site.dir.path().join("victim");
    std::fs::create_dir_all(victim.join("Maildir/cur")).unwrap();
    std::fs::write(victim.join("Maildir/cur/precious"), b"keep me").unwrap();
    let user_dir = site.dir.path().join("mail/alice");
    std::fs::remove_dir_all(&user_dir).unwrap();
    std::os::unix::fs::symlink(&victim, &user_dir).unwrap();

    let (code, _, err) = site.run(&["user", "del", "alice", "--purge-mail"], b"");
    assert_ne!(code, 0, "purged through a link: {err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(
        std::fs::read(victim.join("Maildir/cur/precious")).unwrap(),
        b"keep me"
    );
}
