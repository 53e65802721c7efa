//! The rules about source files: their length, and `#[path]` attributes that reach into
//! another crate.

use std::path::{Path, PathBuf};

use super::MAX_LINES;

/// Files over [`MAX_LINES`] lines (counted like `wc -l`), test-only files excepted.
pub(super) fn check_file_lengths(sources: &[(PathBuf, String)], failures: &mut Vec<String>) {
    for (path, text) in sources {
        let lines = text.lines().count();
        if lines > MAX_LINES && !is_test_only(path, text) {
            failures.push(format!(
                "{} has {lines} lines; split it (at most {MAX_LINES} outside tests)",
                path.display()
            ));
        }
    }
}

/// Whether a file (path relative to the workspace root) holds tests only. The rule, exactly:
/// the file is named `tests.rs` (this project's `#[cfg(test)] mod tests;` files), or a
/// directory on its path is named `tests` (integration tests and their helpers), or its first
/// line that is neither blank nor a `//` comment is `#![cfg(test)]`. Test helpers compiled
/// into the library under a feature (such as pop3-server's `fault.rs`) are not test-only.
pub(super) fn is_test_only(path: &Path, text: &str) -> bool {
    let named_tests = path.file_name().is_some_and(|name| name == "tests.rs");
    let in_tests_dir = path
        .parent()
        .is_some_and(|dir| dir.components().any(|c| c.as_os_str() == "tests"));
    let cfg_test = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with("//"))
        .is_some_and(|line| line.replace(' ', "") == "#![cfg(test)]");
    named_tests || in_tests_dir || cfg_test
}

/// `#[path = "..."]` attributes whose target, resolved from the file's directory, leaves the
/// crate's directory (`crates/<name>/` or `xtask/`). Paths are relative to the workspace root.
pub(super) fn check_path_attributes(sources: &[(PathBuf, String)], failures: &mut Vec<String>) {
    // Spelled in pieces so that this file does not match itself.
    let attribute = concat!("#[", "path");
    for (path, text) in sources {
        let crate_dir = crate_dir(path);
        for (number, line) in text.lines().enumerate() {
            let Some(at) = line.find(attribute) else {
                continue;
            };
            let Some(value) = path_value(&line[at + attribute.len()..]) else {
                continue;
            };
            let target = path.parent().unwrap_or(Path::new("")).join(value);
            if !normalize(&target).is_some_and(|target| target.starts_with(&crate_dir)) {
                failures.push(format!(
                    "{}:{}: #[path = {value:?}] reaches out of {}; depend on the crate or move \
                     the file instead",
                    path.display(),
                    number + 1,
                    crate_dir.display()
                ));
            }
        }
    }
}

/// The string of ` = "value"]` after `#[path`, if it is one.
fn path_value(rest: &str) -> Option<&str> {
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    rest.find('"').map(|end| &rest[..end])
}

/// The crate directory a workspace-relative path belongs to: `crates/<name>` or its first
/// component (`xtask`).
fn crate_dir(path: &Path) -> PathBuf {
    let mut components = path.components();
    let first = components.next().map(|c| c.as_os_str());
    match (first, components.next()) {
        (Some(first), Some(second)) if first == "crates" => Path::new(first).join(second),
        (Some(first), _) => PathBuf::from(first),
        (None, _) => PathBuf::new(),
    }
}

/// Resolves `.` and `..` lexically; `None` if it climbs above the start of the path.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            other => out.push(other),
        }
    }
    Some(out)
}
