//! The parts of pop3d's configuration the admin tool needs. The file format, its defaults
//! (such as the admin socket's path) and its checks (such as an absolute mail root) are
//! `pop3-config`'s, shared with the server; this module only reads the file.

use std::path::Path;

use anyhow::{Context, Result};

/// What the admin tool reads from `pop3d.toml` (see [`pop3_config::AdminSettings`]).
pub type Settings = pop3_config::AdminSettings;

/// Reads the settings from a pop3d config file; errors name the key and the line.
pub fn load(path: &Path) -> Result<Settings> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the pop3d config {}", path.display()))?;
    Ok(Settings::parse(&text, &path.display().to_string())?)
}
