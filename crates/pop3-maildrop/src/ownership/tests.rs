//! The ownership rule of issue 17, on plain numbers: one case per row of the module's table,
//! and the files it must never touch.

use super::{Access, Caller, Decision, Facts, decide};

const SERVER: u32 = 990;
const MAIL_GROUP: u32 = 991;
const ALICE: u32 = 1001;

/// A Maildir of the server, shared with the mail group: `pop3d:mail 2770`.
fn maildir() -> Facts {
    Facts {
        uid: SERVER,
        gid: MAIL_GROUP,
        mode: 0o2770,
        regular: true,
        one_link: false,
    }
}

/// A file just created by `uid` (group `gid`), 0600, as `deliver` creates it.
fn new_file(uid: u32, gid: u32) -> Facts {
    Facts {
        uid,
        gid,
        mode: 0o600,
        regular: true,
        one_link: true,
    }
}

fn caller(uid: u32, in_maildir_group: bool) -> Caller {
    Caller {
        uid,
        in_maildir_group,
    }
}

#[test]
fn root_gives_the_file_to_the_maildirs_owner_and_group() {
    assert_eq!(
        decide(caller(0, false), maildir(), new_file(0, 0), Access::Read),
        Decision::Chown {
            uid: SERVER,
            gid: MAIL_GROUP
        }
    );
    // Already theirs (a lock file given back earlier): nothing to do.
    assert_eq!(
        decide(
            caller(0, false),
            maildir(),
            new_file(SERVER, MAIL_GROUP),
            Access::ReadWrite
        ),
        Decision::Keep
    );
}

#[test]
fn the_maildirs_owner_keeps_its_private_file() {
    // The pipe transport as pop3d, or the server itself: 0600 as it was created.
    assert_eq!(
        decide(
            caller(SERVER, true),
            maildir(),
            new_file(SERVER, SERVER),
            Access::Read
        ),
        Decision::Keep
    );
}

#[test]
fn another_user_in_the_maildirs_group_shares_the_file_with_the_group() {
    // mailbox_command as alice, a member of the mail group: alice's file, the group's, 0640.
    assert_eq!(
        decide(
            caller(ALICE, true),
            maildir(),
            new_file(ALICE, ALICE),
            Access::Read
        ),
        Decision::Share {
            chgrp: Some(MAIL_GROUP),
            mode: 0o640
        }
    );
    // The lock file must open read-write for the server.
    assert_eq!(
        decide(
            caller(ALICE, true),
            maildir(),
            new_file(ALICE, ALICE),
            Access::ReadWrite
        ),
        Decision::Share {
            chgrp: Some(MAIL_GROUP),
            mode: 0o660
        }
    );
}

#[test]
fn a_setgid_maildir_already_gave_the_group_so_only_the_mode_changes() {
    // Created in a setgid tmp/, the file has the Maildir's group even for a non-member.
    assert_eq!(
        decide(
            caller(ALICE, false),
            maildir(),
            new_file(ALICE, MAIL_GROUP),
            Access::Read
        ),
        Decision::Share {
            chgrp: None,
            mode: 0o640
        }
    );
    let shared = Facts {
        mode: 0o640,
        ..new_file(ALICE, MAIL_GROUP)
    };
    assert_eq!(
        decide(caller(ALICE, false), maildir(), shared, Access::Read),
        Decision::Keep
    );
}

#[test]
fn another_user_outside_the_maildirs_group_is_refused() {
    // A world-writable Maildir, say: the file could be written, but never read by pop3d.
    assert_eq!(
        decide(
            caller(ALICE, false),
            maildir(),
            new_file(ALICE, ALICE),
            Access::Read
        ),
        Decision::Refuse
    );
}

#[test]
fn a_file_that_is_not_a_fresh_regular_file_of_ours_is_never_touched() {
    let hard_link = Facts {
        one_link: false,
        ..new_file(ALICE, ALICE)
    };
    let fifo = Facts {
        regular: false,
        ..new_file(0, 0)
    };
    let servers_lock = new_file(SERVER, SERVER);
    for (who, file) in [
        (caller(0, false), hard_link),
        (caller(ALICE, true), hard_link),
        (caller(0, false), fifo),
        (caller(ALICE, false), servers_lock),
    ] {
        assert_eq!(
            decide(who, maildir(), file, Access::ReadWrite),
            Decision::Keep,
            "{who:?} {file:?}"
        );
    }
}
