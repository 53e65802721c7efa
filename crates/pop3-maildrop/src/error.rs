//! The crate's one error type.

use std::io;
use std::path::PathBuf;

use crate::holder::Holder;

/// Everything that can go wrong with a maildrop. [`Error::is_temporary`] tells the server
/// whether to answer `[SYS/TEMP]` (try later) or `[SYS/PERM]` (needs an administrator).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The Maildir does not exist.
    #[error("maildir {path} does not exist")]
    Missing {
        /// The Maildir's path.
        path: PathBuf,
    },
    /// The Maildir, or one of `new/`, `cur/`, `tmp/`, is a symbolic link; it is never followed.
    #[error("{path} is a symbolic link, which a maildir must not be")]
    Symlink {
        /// The offending path.
        path: PathBuf,
    },
    /// The path exists but is not a Maildir (not a directory, or a subdirectory is missing).
    #[error("{path} is not a maildir: {reason}")]
    NotMaildir {
        /// The path.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Creating a new user's Maildir was refused: the path is a symlink (never followed) or
    /// not a directory.
    #[error("{path} {reason}")]
    Refused {
        /// The path.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Creating a new user's Maildir was refused: the directory exists and is not an empty
    /// one of ours (an old account's mail, someone else's); it can only be adopted as it is.
    #[error("{path} {reason}")]
    Exists {
        /// The path.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Another session holds the maildrop's lock.
    #[error("maildrop {path} is locked{}", holder.as_ref().map(|h| format!(" by {h}")).unwrap_or_default())]
    Locked {
        /// The Maildir's path.
        path: PathBuf,
        /// Who holds it, if the lock file says.
        holder: Option<Holder>,
    },
    /// A message file disappeared (another client expunged it).
    #[error("message {name} no longer exists")]
    Vanished {
        /// The file name, lossily decoded.
        name: String,
    },
    /// A message file no longer has the size it was listed with.
    #[error("message {name} changed size on disk")]
    SizeChanged {
        /// The file name, lossily decoded.
        name: String,
    },
    /// A message file is not a regular file (a symlink, a FIFO...).
    #[error("message {name} is not a regular file")]
    NotRegular {
        /// The file name, lossily decoded.
        name: String,
    },
    /// An index that does not exist in this maildrop.
    #[error("no message with index {0}")]
    NoSuchMessage(usize),
    /// A foreign server's UIDL file (`dovecot-uidlist`, `courierpop3dsizelist`) is not in
    /// its documented format: nothing is carried over from it.
    #[error("{path}: line {line}: {reason}")]
    Foreign {
        /// The file.
        path: PathBuf,
        /// The line (1-based; 0 for the file as a whole).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A Dovecot `pop3_uidl_format` this crate does not reproduce exactly.
    #[error("pop3_uidl_format {format:?}: {reason}")]
    UidlFormat {
        /// The format as given.
        format: String,
        /// What is not supported, and what to do.
        reason: String,
    },
    /// The map of carried-over UIDLs (`.pop3d.uidl`) is damaged, or missing where the user
    /// database says the maildrop has one. **A carried-over UIDL is never silently
    /// replaced**, so the maildrop is not opened until an administrator repairs the map
    /// (`pop3-admin uidl repair`).
    #[error("carried-over UIDL map {path}: {reason}")]
    UidlMap {
        /// The map file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file this process created in a Maildir could not be made readable by the server
    /// (issue 17): the process is not root, not the Maildir's owner, and not a member of the
    /// Maildir's group. The operation fails rather than leave a file pop3d can never open;
    /// the file is removed (a delivery is a temporary failure, exit 75).
    #[error(
        "{path}: pop3d could not read this file: this process (uid {uid}) is neither root, nor \
         the Maildir's owner (uid {owner}), nor a member of its group (gid {group}); deliver as \
         the Maildir's owner, as root, or as a member of the Maildir's group"
    )]
    Unshareable {
        /// The file.
        path: PathBuf,
        /// This process's effective uid.
        uid: u32,
        /// The Maildir's owner.
        owner: u32,
        /// The Maildir's group.
        group: u32,
    },
    /// The message would take the Maildir past its quota (Maildir++ `maildirsize`): it was
    /// not delivered. Whether the sender should retry is the caller's policy, so
    /// [`Error::is_temporary`] says no.
    #[error(
        "{path}: over quota: {} messages, {} octets, and {size} more octets would exceed {}",
        usage.messages, usage.bytes, shown_limit(limit)
    )]
    OverQuota {
        /// The Maildir.
        path: PathBuf,
        /// What it holds.
        usage: crate::Usage,
        /// Its limits.
        limit: crate::QuotaLimit,
        /// The refused message's size.
        size: u64,
    },
    /// An I/O error, with the operation and path it happened on.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done: "open", "read", "rename", ...
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// Whether the client should be told to retry later (`[SYS/TEMP]`) rather than that an
    /// administrator must act (`[SYS/PERM]`). A held lock, a missing or incomplete Maildir (a
    /// new user's first delivery creates it), I/O errors and full disks are temporary; a
    /// Maildir that is a symlink, a message replaced by a symlink or another kind of file, and
    /// permission errors, are permanent. A damaged or missing UIDL map is temporary: the
    /// user is told to try later while an administrator repairs it.
    pub fn is_temporary(&self) -> bool {
        match self {
            Error::Symlink { .. }
            | Error::NotRegular { .. }
            | Error::Refused { .. }
            | Error::Exists { .. }
            | Error::Foreign { .. }
            | Error::UidlFormat { .. }
            | Error::OverQuota { .. } => false,
            Error::Io { source, .. } => !matches!(
                source.kind(),
                io::ErrorKind::PermissionDenied | io::ErrorKind::NotFound
            ),
            _ => true,
        }
    }

    /// Whether the error is "no space left on device" (or quota), so a delivery agent can say
    /// "temporary failure" with the right reason.
    pub fn is_disk_full(&self) -> bool {
        match self {
            Error::Io { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
            ),
            _ => false,
        }
    }
}

fn shown_limit(limit: &crate::QuotaLimit) -> String {
    let part = |n: Option<u64>, unit: &str| n.map(|n| format!("{n} {unit}"));
    let parts: Vec<String> = [
        part(limit.messages, "messages"),
        part(limit.bytes, "octets"),
    ]
    .into_iter()
    .flatten()
    .collect();
    parts.join(" or ")
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Wraps an OS error with its operation and path.
pub(crate) fn io_error(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { op, path, source }
}
