//! Opening the user database for the admin commands (issue 17): **a database the tool creates
//! is mode 0640, whatever the umask, and, created as root, belongs to the server's user and
//! group** ([`crate::server_user`]), so pop3d can write it (last login, rehash) and nobody
//! else can read its hashes and APOP secrets (password-equivalent). SQLite run as root gives
//! the `-wal` and `-shm` files it creates the owner and mode of the database file, so they
//! follow. An existing database is never chmod-ed or chowned: a world-readable one, or one
//! the server could not write, gets a warning that says what to run.
//!
//! Why not fix an existing file: the administrator may have opened it on purpose (Postfix's
//! `mailbox_command` runs `pop3-admin deliver` as each recipient, which must read it), and a
//! tool that silently changes the modes of a file it did not make breaks such a setup at the
//! next `user add` with nothing said.

use std::fs::OpenOptions;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result};
use pop3_auth::{PgStore, UserDb, UserDbLocation, UserStore};

use crate::server_user::{self, ServerIdentity};
use crate::settings::Settings;

/// The mode of a database the tool creates: the server's user writes, its group reads.
pub const MODE: u32 = 0o640;

/// Opens (creating if needed, as above) the user database of `settings`; the warnings to
/// print go to `warnings`. A PostgreSQL database (issue 18) is connected to once now, and
/// gets the schema if it has none; its files and rights are PostgreSQL's business.
pub fn open(settings: &Settings, warnings: &mut Vec<String>) -> Result<Box<dyn UserStore>> {
    let path = match &settings.user_db {
        UserDbLocation::Sqlite(path) => path,
        UserDbLocation::Postgres(pg) => {
            let store = PgStore::open(pg, true)
                .with_context(|| format!("cannot open the user database {}", pg.url()))?;
            return Ok(Box::new(store));
        }
    };
    let root = nix::unistd::Uid::effective().is_root();
    let server = if root {
        server_user::find(settings)?
    } else {
        None
    };
    if !create(path, root, server.as_ref(), warnings)? {
        check(path, server.as_ref(), warnings);
    }
    let db = UserDb::open(path)
        .with_context(|| format!("cannot open the user database {}", path.display()))?;
    Ok(Box::new(db))
}

/// Creates an empty database file, mode 0640, given to the server when run as root; false
/// if one exists. SQLite fills an empty file as a new database.
fn create(
    path: &Path,
    root: bool,
    server: Option<&ServerIdentity>,
    warnings: &mut Vec<String>,
) -> Result<bool> {
    let created = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(MODE)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(path);
    let file = match created {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot create {}", path.display()));
        }
    };
    // The umask may have taken bits away (never added: 0640 is the most it gives).
    file.set_permissions(std::fs::Permissions::from_mode(MODE))
        .with_context(|| format!("cannot chmod {}", path.display()))?;
    match (root, server) {
        (true, Some(server)) => {
            nix::unistd::fchown(
                &file,
                Some(nix::unistd::Uid::from_raw(server.uid)),
                Some(nix::unistd::Gid::from_raw(server.gid)),
            )
            .with_context(|| format!("cannot give {} to {}", path.display(), server.shown()))?;
        }
        (true, None) => warnings.push(server_user::unknown_warning(&format!(
            "the new user database {} is",
            path.display()
        ))),
        (false, _) => {}
    }
    Ok(true)
}

/// Warnings for an existing database: readable by everyone, or not writable by the server.
fn check(path: &Path, server: Option<&ServerIdentity>, warnings: &mut Vec<String>) {
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let mode = meta.mode() & 0o7777;
    if mode & 0o004 != 0 {
        warnings.push(format!(
            "{} is readable by every user (mode {mode:04o}): it holds password hashes and APOP \
             secrets, which are as good as passwords. Make it {MODE:04o} (chmod {MODE:o} {0}) \
             and give read access through its group (pop3d's) to whoever must read it",
            path.display()
        ));
    }
    let Some(server) = server else {
        return;
    };
    let writable = if meta.uid() == server.uid {
        mode & 0o200 != 0
    } else if meta.gid() == server.gid || server.groups.contains(&meta.gid()) {
        mode & 0o020 != 0
    } else {
        mode & 0o002 != 0
    };
    if !writable {
        warnings.push(format!(
            "{} belongs to uid {}, gid {}, mode {mode:04o}: pop3d, running as {} ({}), cannot \
             write it (logins are not recorded, old hashes not replaced). Give it to pop3d: \
             chown {}:{} {}",
            path.display(),
            meta.uid(),
            meta.gid(),
            server.shown(),
            server.from,
            server.user,
            server.group,
            path.display()
        ));
    }
}
