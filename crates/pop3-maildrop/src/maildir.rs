//! An opened Maildir: file descriptors for the directory and its `new/`, `cur/` and `tmp/`.
//!
//! **Every later operation is relative to these descriptors** (`openat`, `renameat`,
//! `unlinkat`, with `O_NOFOLLOW`), so once the Maildir is open, replacing `cur/` or a message
//! with a symbolic link cannot redirect a read or an unlink outside it. The Maildir itself and
//! its three subdirectories must not be symbolic links either; the components above the
//! Maildir belong to the administrator and are resolved normally.
//!
//! **Every file this crate creates in a Maildir is made one the server can use before it is
//! renamed into place or used** ([`Maildir::give_to_owner`], on the open descriptor): run
//! as root it takes the owner and group of the Maildir directory (mode 0600); run as the
//! Maildir's owner it stays 0600; run as another user (Postfix's `mailbox_command` runs the
//! delivery as the recipient) it takes the Maildir's group and mode 0640 (the lock file
//! 0660), or the operation fails when that user is not in the group. So the admin tool
//! (`migrate`, `uidl repair`, `deliver`) never leaves a file that pop3d, running as the
//! Maildir's owner and a member of its group, cannot open (issue 17).

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Uid};
use rustix::io::Errno;

use crate::error::{Error, Result, io_error};
use crate::ownership::{Access, Caller, Decision, Facts, decide};

/// The three Maildir subdirectories.
pub(crate) const SUBDIRS: [&str; 3] = ["new", "cur", "tmp"];

/// An opened Maildir.
#[derive(Debug)]
pub struct Maildir {
    pub(crate) path: PathBuf,
    pub(crate) root: OwnedFd,
    pub(crate) new: OwnedFd,
    pub(crate) cur: OwnedFd,
    pub(crate) tmp: OwnedFd,
}

impl Maildir {
    /// Opens an existing Maildir. Never creates anything.
    pub fn open(path: &Path) -> Result<Maildir> {
        let root = open_dir(rustix::fs::CWD, path, path)?;
        let sub = |name: &str| open_dir(&root, Path::new(name), &path.join(name));
        Ok(Maildir {
            new: sub("new")?,
            cur: sub("cur")?,
            tmp: sub("tmp")?,
            root,
            path: path.to_owned(),
        })
    }

    /// Creates a Maildir (and missing parents) with mode 0700, then opens it. An existing
    /// Maildir is fine; an existing symlink or non-directory is an error. For tests and tools
    /// that own the path: parents are resolved normally, so a new user's Maildir under a
    /// shared mail root is made with [`Maildir::provision`] instead.
    pub fn create(path: &Path) -> Result<Maildir> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_error("create", parent))?;
        }
        mkdir(rustix::fs::CWD, path, path)?;
        let root = open_dir(rustix::fs::CWD, path, path)?;
        for name in SUBDIRS {
            mkdir(&root, Path::new(name), &path.join(name))?;
        }
        Maildir::open(path)
    }

    /// The path it was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes `file`, just created (or opened, for the lock file) in this Maildir, one the
    /// server can read, whoever this process is (issue 17; the rule is `ownership.rs`'s):
    /// - **root**: the file is given to the owner and group of the Maildir directory (mode
    ///   unchanged, 0600). `EPERM` (root without `CAP_CHOWN`, as pop3d serving home
    ///   Maildirs runs: `config/pop3d-home-maildir.conf`) leaves the file as it is: such a
    ///   process can use its own files, and cannot do better.
    /// - **the Maildir's owner**: nothing changes (0600); the server runs as that user.
    /// - **another user** (Postfix's `mailbox_command` runs the delivery as the recipient):
    ///   the file goes into the Maildir's group (`fchown(-1, gid)`, allowed to a member) and
    ///   becomes 0640, so the server, a member of that group, reads it; a caller outside the
    ///   group gets [`Error::Unshareable`] and the caller of this removes the file.
    ///
    /// Always on the descriptor, never by path. Only a regular file with one link is
    /// changed: one with another name elsewhere (a hard link planted in the Maildir) keeps
    /// its owner and mode; so does, for a caller other than root, a file it does not own.
    pub(crate) fn give_to_owner(&self, file: impl AsFd, shown: &Path) -> Result<()> {
        self.give_to_owner_for(file, shown, Access::Read)
    }

    /// [`Maildir::give_to_owner`] for a file the server must open read-write (the lock
    /// file): shared with the Maildir's group, it is 0660.
    pub(crate) fn give_to_owner_for(
        &self,
        file: impl AsFd,
        shown: &Path,
        access: Access,
    ) -> Result<()> {
        let stat_error = |e: Errno| io_error("stat", shown)(e.into());
        let dir =
            rustix::fs::fstat(&self.root).map_err(|e| io_error("stat", &self.path)(e.into()))?;
        let stat = rustix::fs::fstat(&file).map_err(stat_error)?;
        let euid = rustix::process::geteuid().as_raw();
        let caller = Caller {
            uid: euid,
            in_maildir_group: euid != 0 && in_group(dir.st_gid),
        };
        match decide(caller, facts(&dir), facts(&stat), access) {
            Decision::Keep => Ok(()),
            Decision::Chown { uid, gid } => {
                let (uid, gid) = (Uid::from_raw(uid), Gid::from_raw(gid));
                match rustix::fs::fchown(&file, Some(uid), Some(gid)) {
                    Ok(()) | Err(Errno::PERM) => Ok(()),
                    Err(e) => Err(io_error("chown", shown)(e.into())),
                }
            }
            Decision::Share { chgrp, mode } => {
                if let Some(gid) = chgrp {
                    rustix::fs::fchown(&file, None, Some(Gid::from_raw(gid)))
                        .map_err(|e| io_error("chgrp", shown)(e.into()))?;
                }
                rustix::fs::fchmod(&file, Mode::from_raw_mode(mode))
                    .map_err(|e| io_error("chmod", shown)(e.into()))
            }
            Decision::Refuse => Err(Error::Unshareable {
                path: shown.to_owned(),
                uid: euid,
                owner: dir.st_uid,
                group: dir.st_gid,
            }),
        }
    }

    /// Keeps only what an open session needs: the path, `cur/`, and `new/` only when
    /// `keep_new` (messages a full disk left there); the other descriptors are closed (a
    /// session holds the socket, `cur/` and the lock file, three descriptors, however many
    /// sessions are idle).
    pub(crate) fn into_session(self, keep_new: bool) -> (PathBuf, OwnedFd, Option<OwnedFd>) {
        (self.path, self.cur, keep_new.then_some(self.new))
    }
}

/// What the ownership rule needs of a `stat`.
fn facts(stat: &rustix::fs::Stat) -> Facts {
    Facts {
        uid: stat.st_uid,
        gid: stat.st_gid,
        mode: stat.st_mode & 0o7777,
        regular: FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile,
        one_link: stat.st_nlink == 1,
    }
}

/// Whether this process may give a file of its own to `gid` (`chown(2)`: its effective
/// group or one of its supplementary groups). A failing `getgroups` counts as no.
fn in_group(gid: u32) -> bool {
    rustix::process::getegid().as_raw() == gid
        || rustix::process::getgroups().is_ok_and(|groups| groups.iter().any(|g| g.as_raw() == gid))
}

/// Opens a directory relative to `dir` without following a final symlink.
pub(crate) fn open_dir(dir: impl AsFd, name: &Path, shown: &Path) -> Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    rustix::fs::openat(&dir, name, flags, Mode::empty()).map_err(|errno| match errno {
        Errno::NOENT => Error::Missing {
            path: shown.to_owned(),
        },
        Errno::LOOP => Error::Symlink {
            path: shown.to_owned(),
        },
        Errno::NOTDIR => match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink => {
                Error::Symlink {
                    path: shown.to_owned(),
                }
            }
            _ => Error::NotMaildir {
                path: shown.to_owned(),
                reason: "not a directory",
            },
        },
        other => Error::Io {
            op: "open",
            path: shown.to_owned(),
            source: io::Error::from(other),
        },
    })
}

fn mkdir(dir: impl AsFd, name: &Path, shown: &Path) -> Result<()> {
    match rustix::fs::mkdirat(&dir, name, Mode::RWXU) {
        Ok(()) | Err(Errno::EXIST) => Ok(()),
        Err(errno) => Err(Error::Io {
            op: "create",
            path: shown.to_owned(),
            source: errno.into(),
        }),
    }
}

/// `fsync` on a directory, making renames and unlinks in it durable.
pub(crate) fn sync_dir(dir: &OwnedFd, shown: &Path) -> Result<()> {
    rustix::fs::fsync(dir).map_err(|e| Error::Io {
        op: "fsync",
        path: shown.to_owned(),
        source: e.into(),
    })
}
