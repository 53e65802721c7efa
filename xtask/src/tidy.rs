//! Structural rules that would otherwise rot, checked from `cargo metadata` and the sources:
//!
//! - **the sans-IO cores (`pop3-proto`, `pop3-lmtp`) do no I/O**: no runtime, networking,
//!   filesystem or syscall crate in their normal dependency trees, and no `std::fs`,
//!   `std::net`, clock, process or thread use;
//! - **the libraries are leaves**: `pop3-proto`, `pop3-lmtp`, `pop3-maildrop`, `pop3-auth`, `pop3-metrics`
//!   and `pop3-admin-api` depend on no crate of this workspace; `pop3-config` wires leaves
//!   only; nothing depends on the server, the admin tool or xtask;
//! - **`pop3-admin` does not link `prometheus-client`** (nor the server's other crates): its
//!   normal dependency tree is checked for crates it has no use for;
//! - every crate opens with a `//!` crate doc, uses the workspace lints, is version 0.0.0 and
//!   unpublished, and takes its dependency versions from `[workspace.dependencies]`;
//! - no `todo!`, `dbg!` or `unimplemented!` is left anywhere;
//! - **no source file over 500 lines**: every `.rs` below `crates/*/src` and `xtask/src` except
//!   test-only files (STYLE.md rule 9: split at ~500 lines);
//! - **no `#[path]` reaching into another crate**: no `#[path = "..."]` anywhere under
//!   `crates/` or `xtask/` whose target lies outside the crate's own directory (`..` climbing
//!   out of it, or an absolute path): a crate that needs another's code depends on it;
//! - **modules depend one way**: no cycle of `crate::` paths between the top-level modules of
//!   a crate (`tidy/modules.rs`).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::process;

use sources::{check_file_lengths, check_path_attributes, is_test_only};

/// Crates that would let the protocol core touch sockets, files, the OS or a runtime.
const IO_CRATES: &[&str] = &[
    "tokio",
    "mio",
    "socket2",
    "async-std",
    "smol",
    "async-io",
    "hyper",
    "reqwest",
    "rustls",
    "tokio-rustls",
    "native-tls",
    "openssl",
    "tempfile",
    "walkdir",
    "fs-err",
    "fs_extra",
    "notify",
    "libc",
    "nix",
    "rustix",
    "getrandom",
    "rand",
    "chrono",
    "time",
];

/// Source text the protocol core must not contain.
const IO_PATHS: &[&str] = &[
    "std::fs",
    "std::net",
    "std::time",
    "std::process",
    "std::thread",
    "std::env",
    "std::os",
    "std::io::stdin",
];

/// Library crates that must not depend on any other crate of the workspace.
const LEAVES: &[&str] = &[
    "pop3-proto",
    "pop3-lmtp",
    "pop3-maildrop",
    "pop3-auth",
    "pop3-metrics",
    "pop3-admin-api",
];

/// Library crates that may depend on the leaves, and on no other crate of the workspace.
const WIRING: &[&str] = &["pop3-config"];

/// Crates that must not be in a package's normal dependency tree, and why.
const FORBIDDEN_IN_TREE: &[(&str, &str, &str)] = &[(
    "pop3-admin",
    "prometheus-client",
    "the admin tool takes the admin socket's types from pop3-admin-api, not pop3-metrics",
)];

/// Crates nothing may depend on.
const ROOTS: &[&str] = &["pop3-server", "pop3-admin", "xtask"];

/// The longest a non-test source file may be, in lines.
const MAX_LINES: usize = 500;

/// Runs every check and reports all failures at once.
pub(crate) fn check(root: &Path) -> Result<()> {
    let metadata = metadata(root)?;
    let mut failures = Vec::new();
    check_packages(&metadata, &mut failures)?;
    check_proto_dependencies(&metadata, &mut failures)?;
    check_forbidden_in_tree(&metadata, FORBIDDEN_IN_TREE, &mut failures)?;
    check_forbidden_macros(root, &mut failures)?;
    check_file_lengths(&read_sources(root, &source_dirs(root)?)?, &mut failures);
    check_path_attributes(
        &read_sources(root, &[root.join("crates"), root.join("xtask")])?,
        &mut failures,
    );
    modules::check_module_cycles(&read_sources(root, &source_dirs(root)?)?, &mut failures);
    if failures.is_empty() {
        Ok(())
    } else {
        bail!(
            "tidy found {} problems:\n  {}",
            failures.len(),
            failures.join("\n  ")
        )
    }
}

fn metadata(root: &Path) -> Result<Value> {
    let manifest = root.join("Cargo.toml");
    let manifest = manifest.to_str().context("workspace path is not UTF-8")?;
    let json = process::output(
        "cargo",
        &[
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--manifest-path",
            manifest,
        ],
    )?;
    serde_json::from_str(&json).context("cargo metadata printed invalid JSON")
}

struct Package<'a> {
    name: &'a str,
    manifest: PathBuf,
    json: &'a Value,
}

fn workspace_packages(metadata: &Value) -> Result<Vec<Package<'_>>> {
    let members: BTreeSet<&str> = metadata["workspace_members"]
        .as_array()
        .context("no workspace_members")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    Ok(metadata["packages"]
        .as_array()
        .context("no packages")?
        .iter()
        .filter(|p| p["id"].as_str().is_some_and(|id| members.contains(id)))
        .filter_map(|p| {
            Some(Package {
                name: p["name"].as_str()?,
                manifest: PathBuf::from(p["manifest_path"].as_str()?),
                json: p,
            })
        })
        .collect())
}

fn check_packages(metadata: &Value, failures: &mut Vec<String>) -> Result<()> {
    let packages = workspace_packages(metadata)?;
    let names: BTreeSet<&str> = packages.iter().map(|p| p.name).collect();
    for package in &packages {
        let name = package.name;
        if package.json["version"] != "0.0.0" {
            failures.push(format!("{name}: internal crates are version 0.0.0"));
        }
        if package.json["publish"] != Value::Array(Vec::new()) {
            failures.push(format!("{name}: internal crates set publish = false"));
        }
        let manifest = std::fs::read_to_string(&package.manifest)
            .with_context(|| format!("cannot read {}", package.manifest.display()))?;
        check_manifest(name, &manifest, failures);
        for target in package.json["targets"].as_array().into_iter().flatten() {
            let kinds: Vec<&str> = target["kind"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if kinds.iter().any(|k| matches!(*k, "lib" | "bin")) {
                let src = target["src_path"].as_str().unwrap_or_default();
                let text = std::fs::read_to_string(src).unwrap_or_default();
                if !text.trim_start().starts_with("//!") {
                    failures.push(format!("{name}: {src} must open with a //! crate doc"));
                }
            }
        }
        for dep in package.json["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let Some(dep_name) = dep["name"].as_str() else {
                continue;
            };
            let normal_or_build = dep["kind"].is_null() || dep["kind"] == "build";
            if LEAVES.contains(&name) && names.contains(dep_name) && normal_or_build {
                failures.push(format!("{name} is a leaf but depends on {dep_name}"));
            }
            let ours_not_a_leaf = names.contains(dep_name) && !LEAVES.contains(&dep_name);
            if WIRING.contains(&name) && ours_not_a_leaf && normal_or_build {
                failures.push(format!(
                    "{name} may depend on leaves only, but depends on {dep_name}"
                ));
            }
            if ROOTS.contains(&dep_name) {
                failures.push(format!("{name} depends on {dep_name}, which nothing may"));
            }
        }
    }
    Ok(())
}

/// `[lints] workspace = true`, and every dependency taken from the workspace.
fn check_manifest(name: &str, manifest: &str, failures: &mut Vec<String>) {
    let mut section = "";
    let mut lints_from_workspace = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if section == "[lints]" && line.replace(' ', "") == "workspace=true" {
            lints_from_workspace = true;
        }
        let is_dependency_section = section.ends_with("dependencies]");
        if is_dependency_section && !line.replace(' ', "").contains("workspace=true") {
            failures.push(format!(
                "{name}: `{line}` must take its version from [workspace.dependencies]"
            ));
        }
    }
    if !lints_from_workspace {
        failures.push(format!("{name}: Cargo.toml needs [lints] workspace = true"));
    }
}

/// The protocol cores that must do no I/O.
const SANS_IO: &[&str] = &["pop3-proto", "pop3-lmtp"];

/// Walks the normal (non-dev) dependency closure of each sans-IO core and scans its sources.
fn check_proto_dependencies(metadata: &Value, failures: &mut Vec<String>) -> Result<()> {
    for core in SANS_IO {
        check_sans_io(metadata, core, failures)?;
    }
    Ok(())
}

fn check_sans_io(metadata: &Value, core: &str, failures: &mut Vec<String>) -> Result<()> {
    for name in normal_closure(metadata, core)? {
        if IO_CRATES.contains(&name) || name.starts_with("tokio") {
            failures.push(format!("{core} must do no I/O, but depends on {name}"));
        }
    }
    let manifest = metadata["workspace_root"]
        .as_str()
        .map(|root| Path::new(root).join("crates").join(core).join("src"))
        .context("no workspace_root")?;
    for file in rust_files(&manifest)? {
        // The transcript loader of the `test-util` feature, which only tests enable, is the
        // one file allowed to read the file system.
        if file.ends_with("test_util/files.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file)?;
        for forbidden in IO_PATHS {
            if text.contains(forbidden) {
                failures.push(format!("{} uses {forbidden}", file.display()));
            }
        }
    }
    Ok(())
}

/// For each `(package, crate, why)`: `crate` is not in the normal dependency tree of `package`.
fn check_forbidden_in_tree(
    metadata: &Value,
    rules: &[(&str, &str, &str)],
    failures: &mut Vec<String>,
) -> Result<()> {
    for (package, forbidden, why) in rules {
        if normal_closure(metadata, package)?.contains(forbidden) {
            failures.push(format!(
                "{package} must not depend on {forbidden} (even through another crate): {why}"
            ));
        }
    }
    Ok(())
}

/// The names of the packages in the normal (non-dev, non-build) dependency tree of `root`,
/// `root` included, from the resolve graph of `cargo metadata`.
fn normal_closure<'a>(metadata: &'a Value, root: &str) -> Result<BTreeSet<&'a str>> {
    let nodes: HashMap<&str, &Value> = metadata["resolve"]["nodes"]
        .as_array()
        .context("no resolve graph")?
        .iter()
        .filter_map(|node| Some((node["id"].as_str()?, node)))
        .collect();
    let names: HashMap<&str, &str> = metadata["packages"]
        .as_array()
        .context("no packages")?
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
        .collect();
    let Some(start) = names
        .iter()
        .find(|(_, name)| **name == root)
        .map(|(id, _)| *id)
    else {
        bail!("{root} is not in the workspace");
    };
    let mut seen = BTreeSet::new();
    let mut stack = vec![start];
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let deps = nodes.get(id).and_then(|node| node["deps"].as_array());
        for dep in deps.into_iter().flatten() {
            let normal = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].is_null());
            if let (true, Some(dep_id)) = (normal, dep["pkg"].as_str()) {
                stack.push(dep_id);
            }
        }
    }
    Ok(seen
        .into_iter()
        .map(|id| names.get(id).copied().unwrap_or(id))
        .collect())
}

fn check_forbidden_macros(root: &Path, failures: &mut Vec<String>) -> Result<()> {
    // Spelled in pieces so that this file does not match itself.
    let forbidden = [
        concat!("todo", "!("),
        concat!("dbg", "!("),
        concat!("unimplemented", "!("),
    ];
    for dir in ["crates", "xtask", "fuzz/fuzz_targets"] {
        for file in rust_files(&root.join(dir))? {
            let text = std::fs::read_to_string(&file)?;
            for pattern in forbidden {
                if text.contains(pattern) {
                    failures.push(format!("{} contains {pattern}", file.display()));
                }
            }
        }
    }
    Ok(())
}

/// Every `.rs` file below `dir`, skipping build output.
fn rust_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                if !path.ends_with("target") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Source files, as paths relative to the workspace root with their text.
type Sources = Vec<(PathBuf, String)>;

/// Every `.rs` file below `dirs` (absolute), read, with its path relative to `root`.
fn read_sources(root: &Path, dirs: &[PathBuf]) -> Result<Sources> {
    let mut sources = Vec::new();
    for dir in dirs {
        for file in rust_files(dir)? {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let relative = file.strip_prefix(root).unwrap_or(&file).to_path_buf();
            sources.push((relative, text));
        }
    }
    Ok(sources)
}

/// The source directories of the size rule: `crates/*/src` and `xtask/src`.
fn source_dirs(root: &Path) -> Result<Vec<PathBuf>> {
    let crates = root.join("crates");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&crates)
        .with_context(|| format!("cannot list {}", crates.display()))?
        .filter_map(|entry| Some(entry.ok()?.path().join("src")))
        .filter(|src| src.is_dir())
        .collect();
    dirs.push(root.join("xtask/src"));
    dirs.sort();
    Ok(dirs)
}

mod modules;
mod sources;

#[cfg(test)]
mod tests;
