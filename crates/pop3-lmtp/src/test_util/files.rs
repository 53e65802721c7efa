//! `load_all`: every `tests/transcripts/*.lmtp` of the workspace, parsed. **The crate's only
//! file-system access, compiled only for tests** (tidy allows `std::fs` here and nowhere else
//! in the crate).

use std::path::Path;

use super::{Step, parse};

/// Every `.lmtp` transcript under `<root>/tests/transcripts`, sorted by file name, as (name,
/// steps); an error names the file.
pub fn load_all(root: &Path) -> Result<Vec<(String, Vec<Step>)>, String> {
    let dir = root.join("tests/transcripts");
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.extension().is_some_and(|ext| ext == "lmtp") {
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let name = name.unwrap_or_default();
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let steps = parse(&text).map_err(|e| format!("{name}: {e}"))?;
            Ok((name, steps))
        })
        .collect()
}
