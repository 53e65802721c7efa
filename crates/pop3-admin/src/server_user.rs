//! Who pop3d runs as, so that what the admin tool creates as root (the user database, new
//! Maildirs) is the server's, and its access checks check as the server (issue 17).
//!
//! **`[privileges]` in the config first** (pop3d started as root drops to that user and group
//! alone); **else `User=`/`Group=` of the systemd unit `pop3d.service`** (pop3d started as
//! that user by systemd, with the user's groups). The unit is read as systemd reads it: the
//! first `pop3d.service` in [`UNIT_DIRS`] (in that order of precedence), then the drop-ins
//! `pop3d.service.d/*.conf` of every one of those directories, by file name (one in an
//! earlier directory hides a namesake in a later one); the last assignment in `[Service]`
//! wins, an empty one resets, and `Group=` defaults to the user's primary group. Tests (and
//! unusual layouts) set [`UNIT_PATH_ENV`] to a colon-separated list of directories instead.
//!
//! Only a process running as root looks: any other caller's files are its own, which is
//! right when it is the server's user.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use nix::unistd::{Group, User};

use crate::settings::Settings;

/// The directories searched for `pop3d.service` and `pop3d.service.d/`, most important first
/// (systemd's system unit path, less its generator and transient directories).
pub const UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// Overrides [`UNIT_DIRS`]: a colon-separated list of directories, most important first.
pub const UNIT_PATH_ENV: &str = "POP3D_SYSTEMD_UNIT_PATH";

const UNIT: &str = "pop3d.service";

/// The user and group pop3d runs as, and where that was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerIdentity {
    /// The user's name.
    pub user: String,
    /// The group's name.
    pub group: String,
    /// The user's uid.
    pub uid: u32,
    /// The group's gid.
    pub gid: u32,
    /// The supplementary groups pop3d has besides `gid`: none with `[privileges]`, which
    /// keeps only its group; the user's groups (`/etc/group`) under systemd's `User=`.
    pub groups: Vec<u32>,
    /// `[privileges] in the config`, or `User= in /etc/systemd/system/pop3d.service`.
    pub from: String,
}

impl ServerIdentity {
    /// `pop3d (uid 990, gid 990)`.
    pub fn shown(&self) -> String {
        format!("{} (uid {}, gid {})", self.user, self.uid, self.gid)
    }
}

/// The server's identity, when `[privileges]` or the systemd unit names it; `None` when
/// neither does. An error when a named user or group does not exist.
pub fn find(settings: &Settings) -> Result<Option<ServerIdentity>> {
    if let Some((user, group)) = &settings.owner {
        let uid = User::from_name(user)?
            .with_context(|| format!("no user {user} (from [privileges])"))?
            .uid;
        let gid = Group::from_name(group)?
            .with_context(|| format!("no group {group} (from [privileges])"))?
            .gid;
        return Ok(Some(ServerIdentity {
            user: user.clone(),
            group: group.clone(),
            uid: uid.as_raw(),
            gid: gid.as_raw(),
            groups: Vec::new(),
            from: "[privileges] in the pop3d config".to_owned(),
        }));
    }
    let unit = read_unit(&unit_dirs());
    let Some((user, user_file)) = unit.user else {
        return Ok(None);
    };
    let from = format!("User= in {}", user_file.display());
    let account = User::from_name(&user)?.with_context(|| format!("no user {user} ({from})"))?;
    let (group, gid) = match unit.group {
        Some((group, file)) => {
            let gid = Group::from_name(&group)?
                .with_context(|| format!("no group {group} (Group= in {})", file.display()))?
                .gid;
            (group, gid)
        }
        None => {
            let name =
                Group::from_gid(account.gid)?.map_or_else(|| account.gid.to_string(), |g| g.name);
            (name, account.gid)
        }
    };
    // systemd gives the service the user's groups (initgroups), as login does.
    let groups = CString::new(user.as_bytes())
        .ok()
        .and_then(|name| nix::unistd::getgrouplist(&name, gid).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|g| g.as_raw())
        .filter(|&g| g != gid.as_raw())
        .collect();
    Ok(Some(ServerIdentity {
        user,
        group,
        uid: account.uid.as_raw(),
        gid: gid.as_raw(),
        groups,
        from,
    }))
}

/// The directories searched for the unit: [`UNIT_PATH_ENV`], else [`UNIT_DIRS`].
pub fn unit_dirs() -> Vec<PathBuf> {
    match std::env::var_os(UNIT_PATH_ENV) {
        Some(list) => std::env::split_paths(&list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        None => UNIT_DIRS.iter().map(PathBuf::from).collect(),
    }
}

/// The warning for a tool running as root that found no server user: what it made is
/// root's, and what to set.
pub fn unknown_warning(what: &str) -> String {
    let dirs: Vec<String> = unit_dirs()
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    format!(
        "{what} root's: running as root, and pop3d's user is unknown (no [privileges] in the \
         pop3d config, no User= in {UNIT} or its drop-ins under {}). pop3d can use it only if \
         it runs as root. Set [privileges] user and group in the pop3d config to the user \
         pop3d runs as (user = \"root\" to keep root's files on purpose)",
        dirs.join(", ")
    )
}

/// `User=` and `Group=` as the unit and its drop-ins leave them, with the file of each.
#[derive(Debug, Default, PartialEq, Eq)]
struct Unit {
    user: Option<(String, PathBuf)>,
    group: Option<(String, PathBuf)>,
}

/// Reads `pop3d.service` and its drop-ins from `dirs`, most important first. Unreadable
/// files are skipped: the tool then knows less, and says so where it matters.
fn read_unit(dirs: &[PathBuf]) -> Unit {
    let mut files = Vec::new();
    if let Some(main) = dirs.iter().map(|d| d.join(UNIT)).find(|f| f.is_file()) {
        files.push(main);
    }
    // By file name; the first directory holding a name wins it.
    let mut drop_ins: BTreeMap<std::ffi::OsString, PathBuf> = BTreeMap::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir.join(format!("{UNIT}.d"))) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "conf") && path.is_file() {
                drop_ins.entry(entry.file_name()).or_insert(path);
            }
        }
    }
    files.extend(drop_ins.into_values());
    let mut unit = Unit::default();
    for file in files {
        if let Ok(text) = std::fs::read_to_string(&file) {
            apply(&text, &file, &mut unit);
        }
    }
    unit
}

/// Applies the `User=` and `Group=` assignments of the `[Service]` section of one file.
fn apply(text: &str, file: &Path, unit: &mut Unit) {
    let mut in_service = false;
    for line in logical_lines(text) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            in_service = line == "[Service]";
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let slot = match key.trim() {
            "User" if in_service => &mut unit.user,
            "Group" if in_service => &mut unit.group,
            _ => continue,
        };
        let value = value.trim();
        *slot = (!value.is_empty()).then(|| (value.to_owned(), file.to_owned()));
    }
}

/// Lines with systemd's continuations (a trailing backslash) joined.
fn logical_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        match line.strip_suffix('\\') {
            Some(head) => {
                pending.push_str(head);
                pending.push(' ');
            }
            None => {
                pending.push_str(line);
                lines.push(std::mem::take(&mut pending));
            }
        }
    }
    if !pending.is_empty() {
        lines.push(pending);
    }
    lines
}

#[cfg(test)]
mod tests;
