//! Who owns a file this crate creates in a Maildir, and with which mode, so that the server
//! can always use what a tool (the delivery agent, the admin tool) leaves there (issue 17).
//!
//! The server runs as the Maildir's owner (its `[privileges]` user or its systemd `User=`),
//! and reads through the Maildir's group when it is a member of it. The rule, decided here
//! from plain numbers by [`decide`] and carried out by `Maildir::give_to_owner`:
//!
//! | who creates the file | owner, group | mode |
//! |---|---|---|
//! | root | the Maildir's owner and group (`fchown`) | 0600 (the lock file too) |
//! | the Maildir's owner (pipe transport as `pop3d`, the server itself) | unchanged | 0600 |
//! | another user in the Maildir's group (`mailbox_command` run as the recipient) | the caller, the Maildir's group (`fchown(-1, gid)`) | 0640 (the lock file and `maildirsize` 0660) |
//! | another user not in the Maildir's group | refused: [`Error::Unshareable`](crate::Error::Unshareable) | |
//!
//! **A file the server could not read is never left behind**: when the rule cannot be met
//! the caller's operation fails (a delivery: a temporary failure, exit 75), and the file is
//! removed by it. Only a regular file with one link is ever changed (never a hard link
//! planted in the Maildir), and only one that belongs to the caller, unless it runs as root.

/// What the server must be able to do with the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Read it: a message, the size index, the listing, the UIDL map. (The server replaces
    /// the caches by renaming a file of its own over them; it never writes into them.)
    Read,
    /// Open it read-write: the lock file, where the holder is recorded, and `maildirsize`,
    /// to which both the server and a delivering user append.
    ReadWrite,
}

impl Access {
    /// The mode a file shared through the Maildir's group gets.
    pub(crate) fn group_mode(self) -> u32 {
        match self {
            Access::Read => 0o640,
            Access::ReadWrite => 0o660,
        }
    }
}

/// The calling process, as far as the decision needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Caller {
    /// The effective uid.
    pub(crate) uid: u32,
    /// Whether the Maildir's group is the effective gid or a supplementary group, so that
    /// `fchown(-1, gid)` is allowed.
    pub(crate) in_maildir_group: bool,
}

/// The facts of the Maildir directory or of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Facts {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    /// Permission bits (`st_mode & 0o7777`).
    pub(crate) mode: u32,
    /// A regular file (not looked at for the Maildir directory).
    pub(crate) regular: bool,
    /// One name only: a hard link planted in the Maildir has two (not looked at for the
    /// Maildir directory).
    pub(crate) one_link: bool,
}

/// What to do to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Nothing: it is right already, or not ours to change.
    Keep,
    /// Root: give it to the Maildir's owner and group.
    Chown {
        /// The Maildir's owner.
        uid: u32,
        /// The Maildir's group.
        gid: u32,
    },
    /// Another user: into the Maildir's group (when not in it already), then this mode.
    Share {
        /// The Maildir's group, when the file does not have it yet.
        chgrp: Option<u32>,
        /// The new mode.
        mode: u32,
    },
    /// The server could not read the file, and this process cannot change that.
    Refuse,
}

/// The rule of the module's table, from numbers only.
pub(crate) fn decide(caller: Caller, maildir: Facts, file: Facts, access: Access) -> Decision {
    if !file.regular || !file.one_link {
        return Decision::Keep;
    }
    if caller.uid == 0 {
        return if (file.uid, file.gid) == (maildir.uid, maildir.gid) {
            Decision::Keep
        } else {
            Decision::Chown {
                uid: maildir.uid,
                gid: maildir.gid,
            }
        };
    }
    // Not root: only our own files can be changed, and one that is not ours (a lock file
    // the server made) is the server's business already.
    if file.uid != caller.uid || caller.uid == maildir.uid {
        return Decision::Keep;
    }
    let mode = access.group_mode();
    let chgrp = (file.gid != maildir.gid).then_some(maildir.gid);
    if chgrp.is_some() && !caller.in_maildir_group {
        return Decision::Refuse;
    }
    if chgrp.is_none() && file.mode & 0o7777 == mode {
        return Decision::Keep;
    }
    Decision::Share { chgrp, mode }
}

#[cfg(test)]
mod tests;
