//! Binding a Unix socket at a configured path (the admin socket, the LMTP socket).
//!
//! **A stale socket file (left by a crash) is replaced, but a live one is not**: if something
//! answers a connect at the path, another server is running there and binding is refused,
//! rather than silently taking its traffic. Anything but a socket at the path is an error.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result, bail};
use tokio::net::UnixListener;

/// Binds `path` (named `key` in errors, e.g. `admin.socket`) and gives it `mode`.
pub(crate) fn bind(path: &Path, mode: u32, key: &str) -> Result<UnixListener> {
    let shown = path.display();
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            bail!("`{key}`: {shown} exists and is not a socket");
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            bail!("`{key}`: another server is listening on {shown}; stop it first");
        }
        std::fs::remove_file(path).with_context(|| format!("`{key}`: cannot replace {shown}"))?;
    }
    let listener =
        UnixListener::bind(path).with_context(|| format!("`{key}`: cannot listen on {shown}"))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("`{key}`: cannot set the mode of {shown}"))?;
    Ok(listener)
}
