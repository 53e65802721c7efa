//! A new user's Maildir, `<mail root>/<user>/Maildir`, created without trusting what already
//! exists under the mail root (issue 15 #17).
//!
//! **Every directory is made with `mkdirat` relative to its opened parent and opened with
//! `O_NOFOLLOW`; ownership is given with `fchown` on those descriptors, never by path.** So a
//! symlink planted at `<mail root>/<user>` (by anyone who can write to the mail root, or left
//! over from an old account) is refused, never followed, and nothing outside the mail root is
//! created or chowned. A `<user>` directory that exists already is taken only when it is an
//! empty directory owned by the caller's effective user; anything else is refused, unless the
//! caller asks to adopt it ([`Existing::Adopt`]), in which case the Maildir in it is opened as
//! it is (still without following symlinks) and nothing is created, chmod-ed or chowned.
//!
//! The mail root itself is the administrator's, resolved normally and created if missing.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, Gid, Mode, OFlags, Uid};
use rustix::io::Errno;

use crate::error::{Error, Result, io_error};
use crate::maildir::{Maildir, SUBDIRS, open_dir};

/// What [`Maildir::provision`] does with a `<mail root>/<user>` that exists and is not an
/// empty directory of the caller's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Refuse ([`Error::Exists`]): the default, so an old account's mail or someone else's
    /// directory is never given to a new user by accident.
    Refuse,
    /// Take the Maildir in it as it is: open it (without following symlinks), never create,
    /// chmod or chown anything.
    Adopt,
}

/// What [`Maildir::provision`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provisioned {
    /// A new Maildir was created (mode 0700, given to the owner if one was asked for).
    Created,
    /// An existing Maildir was adopted as it is.
    Adopted,
}

impl Maildir {
    /// Creates `<mail_root>/<user>/Maildir` with `new/`, `cur/` and `tmp/` (mode 0700), gives
    /// each directory to `owner` (uid, gid) when asked, and opens it. `user` must be a single
    /// path component (a validated user name). On an error, the directories this call made
    /// are removed again (only empty ones: nothing else can be removed).
    pub fn provision(
        mail_root: &Path,
        user: &str,
        owner: Option<(u32, u32)>,
        existing: Existing,
    ) -> Result<(Maildir, Provisioned)> {
        let user_path = mail_root.join(user);
        if user.is_empty() || user == "." || user == ".." || user.contains('/') {
            return Err(Error::Refused {
                path: user_path,
                reason: "is not a single path component",
            });
        }
        std::fs::create_dir_all(mail_root).map_err(io_error("create", mail_root))?;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let root = rustix::fs::openat(rustix::fs::CWD, mail_root, flags, Mode::empty())
            .map_err(|e| io_error("open", mail_root)(e.into()))?;
        let made_user = match rustix::fs::mkdirat(&root, user, Mode::RWXU) {
            Ok(()) => true,
            Err(Errno::EXIST) => false,
            Err(e) => return Err(io_error("create", &user_path)(e.into())),
        };
        let user_dir = match open_dir(&root, Path::new(user), &user_path) {
            Ok(dir) => dir,
            Err(Error::Symlink { path }) => {
                return Err(Error::Refused {
                    path,
                    reason: "is a symbolic link; it is never followed",
                });
            }
            Err(Error::NotMaildir { path, .. }) => {
                return Err(Error::Refused {
                    path,
                    reason: "exists and is not a directory",
                });
            }
            Err(e) => return Err(e),
        };
        let stat =
            rustix::fs::fstat(&user_dir).map_err(|e| io_error("stat", &user_path)(e.into()))?;
        let ours = stat.st_uid == rustix::process::geteuid().as_raw();
        if !ours || !is_empty(&user_dir, &user_path)? {
            return match existing {
                Existing::Adopt => Ok((open_at(&user_dir, &user_path)?, Provisioned::Adopted)),
                Existing::Refuse => Err(Error::Exists {
                    path: user_path,
                    reason: if ours {
                        "exists and is not empty"
                    } else {
                        "exists and belongs to another user"
                    },
                }),
            };
        }
        let made = create_in(&user_dir, &user_path, owner);
        if made.is_err() {
            undo(&user_dir);
            if made_user {
                let _ = rustix::fs::unlinkat(&root, user, AtFlags::REMOVEDIR);
            }
        }
        Ok((made?, Provisioned::Created))
    }
}

/// Makes `Maildir/` and its three subdirectories in the empty, opened `user_dir`, and gives
/// all five directories to `owner`.
fn create_in(user_dir: &OwnedFd, user_path: &Path, owner: Option<(u32, u32)>) -> Result<Maildir> {
    let path = user_path.join("Maildir");
    rustix::fs::fchmod(user_dir, Mode::RWXU).map_err(|e| io_error("chmod", user_path)(e.into()))?;
    let root = make_dir(user_dir, "Maildir", &path)?;
    let [new, cur, tmp] = [0, 1, 2].map(|i| make_dir(&root, SUBDIRS[i], &path.join(SUBDIRS[i])));
    let maildir = Maildir {
        new: new?,
        cur: cur?,
        tmp: tmp?,
        root,
        path,
    };
    if let Some((uid, gid)) = owner {
        let (uid, gid) = (Uid::from_raw(uid), Gid::from_raw(gid));
        let dirs = [
            (user_dir, user_path.to_owned()),
            (&maildir.root, maildir.path.clone()),
            (&maildir.new, maildir.path.join("new")),
            (&maildir.cur, maildir.path.join("cur")),
            (&maildir.tmp, maildir.path.join("tmp")),
        ];
        for (dir, shown) in dirs {
            rustix::fs::fchown(dir, Some(uid), Some(gid))
                .map_err(|e| io_error("chown", shown)(e.into()))?;
        }
    }
    Ok(maildir)
}

/// `mkdirat` of a directory that must not exist yet (the parent was empty), then opened
/// without following a symlink.
fn make_dir(parent: impl AsFd, name: &str, shown: &Path) -> Result<OwnedFd> {
    rustix::fs::mkdirat(&parent, name, Mode::RWXU)
        .map_err(|e| io_error("create", shown)(e.into()))?;
    open_dir(&parent, Path::new(name), shown)
}

/// Opens `user_dir/Maildir` and its subdirectories, never following a symlink.
fn open_at(user_dir: &OwnedFd, user_path: &Path) -> Result<Maildir> {
    let path = user_path.join("Maildir");
    let root = open_dir(user_dir, Path::new("Maildir"), &path)?;
    let sub = |name: &str| open_dir(&root, Path::new(name), &path.join(name));
    Ok(Maildir {
        new: sub("new")?,
        cur: sub("cur")?,
        tmp: sub("tmp")?,
        root,
        path,
    })
}

/// Whether the opened directory has no entries but `.` and `..`.
fn is_empty(dir: &OwnedFd, shown: &Path) -> Result<bool> {
    let mut entries =
        rustix::fs::Dir::read_from(dir).map_err(|e| io_error("list", shown)(e.into()))?;
    for entry in entries.by_ref() {
        let entry = entry.map_err(|e| io_error("list", shown)(e.into()))?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Best effort: removes what [`create_in`] made. `REMOVEDIR` removes empty directories only,
/// so nothing that holds a file can go.
fn undo(user_dir: &OwnedFd) {
    if let Ok(maildir) = open_dir(user_dir, Path::new("Maildir"), Path::new("Maildir")) {
        for name in SUBDIRS {
            let _ = rustix::fs::unlinkat(&maildir, name, AtFlags::REMOVEDIR);
        }
    }
    let _ = rustix::fs::unlinkat(user_dir, "Maildir", AtFlags::REMOVEDIR);
}
