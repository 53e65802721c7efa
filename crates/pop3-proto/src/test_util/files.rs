//! Reading the transcripts from disk: the one file of this crate that touches the file system,
//! compiled only with `test-util` (tidy allows `std::fs` here and nowhere else in the crate).

use std::path::{Path, PathBuf};

use super::transcript::{self, MESSAGES_DIR, TRANSCRIPTS_DIR, Transcript};

/// Every `tests/transcripts/*.pop3` below `workspace_root`, parsed, sorted by name, with the
/// paths of their messages resolved; the first unreadable or malformed file is the error.
pub fn load_all(workspace_root: &Path) -> Result<Vec<Transcript>, String> {
    let dir = workspace_root.join(TRANSCRIPTS_DIR);
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.extension().is_some_and(|ext| ext == "pop3") {
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .iter()
        .map(|path| load_one(path, &workspace_root.join(MESSAGES_DIR)))
        .collect()
}

fn load_one(path: &PathBuf, messages_dir: &Path) -> Result<Transcript, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path
        .file_stem()
        .map_or_else(String::new, |stem| stem.to_string_lossy().into_owned());
    let mut parsed =
        transcript::parse(&name, &text).map_err(|e| format!("{}: {e}", path.display()))?;
    parsed.resolve_messages(messages_dir);
    Ok(parsed)
}
