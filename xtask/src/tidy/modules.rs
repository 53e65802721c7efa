//! The module rule: within a crate, modules depend one way. A cycle of `crate::` paths
//! between the top-level modules of one crate (`a` uses `crate::b`, `b` uses `crate::a`) is a
//! room that imports back up; tidy names the cycle so it is mended where it starts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path};

use super::is_test_only;

/// Top-level module → the modules it names through `crate::`.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// Reports every crate whose top-level modules form a cycle. `sources` are `.rs` files with
/// paths relative to the workspace root (`crates/<name>/src/...` or `xtask/src/...`); test-only
/// files and the crate roots (`lib.rs`, `main.rs`) are left out.
pub(super) fn check_module_cycles(
    sources: &[(std::path::PathBuf, String)],
    failures: &mut Vec<String>,
) {
    let mut crates: BTreeMap<String, Graph> = BTreeMap::new();
    for (path, text) in sources {
        let Some((krate, module)) = crate_and_module(path) else {
            continue;
        };
        if is_test_only(path, text) {
            continue;
        }
        let uses = crate_paths(text)
            .into_iter()
            .filter(|target| *target != module);
        crates
            .entry(krate)
            .or_default()
            .entry(module.to_owned())
            .or_default()
            .extend(uses.map(str::to_owned));
    }
    for (krate, graph) in &crates {
        if let Some(cycle) = find_cycle(graph) {
            failures.push(format!(
                "{krate}: modules import each other: {}; make the dependency point one way",
                cycle.join(" -> ")
            ));
        }
    }
}

/// The crate's source root and the top-level module a file belongs to (`src/a.rs` and
/// `src/a/b.rs` both belong to `a`); `None` for crate roots and files outside a `src/`.
fn crate_and_module(path: &Path) -> Option<(String, &str)> {
    let parts: Vec<&str> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => part.to_str(),
            _ => None,
        })
        .collect();
    let src = parts.iter().position(|part| *part == "src")?;
    let first = *parts.get(src + 1)?;
    let module = first.strip_suffix(".rs").unwrap_or(first);
    if parts.len() == src + 2 && matches!(module, "lib" | "main") {
        return None;
    }
    Some((parts[..src].join("/"), module))
}

/// The first segment of every `crate::<segment>` path outside comments, including each
/// member of a group (`crate::{a::X, b}` names `a` and `b`).
fn crate_paths(text: &str) -> Vec<&str> {
    let mut names = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        for (at, _) in line.match_indices("crate::") {
            let rest = &line[at + "crate::".len()..];
            match rest.strip_prefix('{') {
                Some(group) => {
                    let inside = &group[..group.find('}').unwrap_or(group.len())];
                    names.extend(inside.split(',').filter_map(|item| identifier(item.trim())));
                }
                None => names.extend(identifier(rest)),
            }
        }
    }
    names
}

/// The identifier at the start of `text`, if any.
fn identifier(text: &str) -> Option<&str> {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    (end > 0).then(|| &text[..end])
}

/// A cycle in the graph, as the modules along it with the first repeated at the end.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    let mut done = BTreeSet::new();
    for start in graph.keys() {
        let mut path = Vec::new();
        if let Some(cycle) = visit(graph, start, &mut path, &mut done) {
            return Some(cycle);
        }
    }
    None
}

/// Depth-first search; `path` is the current chain, `done` the modules known to reach no cycle.
fn visit<'g>(
    graph: &'g Graph,
    module: &'g str,
    path: &mut Vec<&'g str>,
    done: &mut BTreeSet<&'g str>,
) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|m| *m == module) {
        let mut cycle: Vec<String> = path[at..].iter().map(|m| (*m).to_owned()).collect();
        cycle.push(module.to_owned());
        return Some(cycle);
    }
    if done.contains(module) {
        return None;
    }
    path.push(module);
    for next in graph.get(module).into_iter().flatten() {
        // Only modules of this crate are nodes (`crate::` paths to re-exports are not).
        if graph.contains_key(next.as_str())
            && let Some(cycle) = visit(graph, next, path, done)
        {
            return Some(cycle);
        }
    }
    path.pop();
    done.insert(module);
    None
}
