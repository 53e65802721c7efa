//! The module rule: within a crate, modules depend one way. Sibling modules (the top-level
//! modules of a crate, or the children of one module) must not name each other in a cycle
//! (`a` uses `crate::b`, `b` uses `super::a`): that is a room importing back up, and tidy
//! names the cycle so it is mended where it starts. A module and its own descendants may name
//! each other (a parent re-exports its children, a child uses its parent's types).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use super::is_test_only;

/// Module path (`a::b`) → the sibling modules it names.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// Reports every crate with a cycle among sibling modules. `sources` are `.rs` files with
/// paths relative to the workspace root (`crates/<name>/src/...` or `xtask/src/...`);
/// test-only files and inline `#[cfg(test)]` modules are left out.
pub(super) fn check_module_cycles(sources: &[(PathBuf, String)], failures: &mut Vec<String>) {
    let mut crates: BTreeMap<String, Vec<(Vec<String>, &str)>> = BTreeMap::new();
    for (path, text) in sources {
        if let Some((krate, module)) = crate_and_module(path)
            && !is_test_only(path, text)
        {
            crates.entry(krate).or_default().push((module, text));
        }
    }
    for (krate, files) in &crates {
        // A module is known by its file, and by any file of its descendants.
        let known: BTreeSet<&[String]> = files
            .iter()
            .flat_map(|(m, _)| (1..=m.len()).map(move |n| &m[..n]))
            .collect();
        let mut graph = Graph::new();
        for (module, text) in files {
            for target in referenced_modules(module, &without_tests(text)) {
                let target = longest_known(&target, &known);
                if let Some((from, to)) = sibling_edge(module, target) {
                    graph.entry(from).or_default().insert(to);
                }
            }
        }
        if let Some(cycle) = find_cycle(&graph) {
            failures.push(format!(
                "{krate}: modules import each other: {}; make the dependency point one way",
                cycle.join(" -> ")
            ));
        }
    }
}

/// The crate (its directory) and the module path of a file: `src/a.rs` and `src/a/mod.rs`
/// are `a`, `src/a/b.rs` is `a::b`, `lib.rs`/`main.rs` the root (empty path).
fn crate_and_module(path: &Path) -> Option<(String, Vec<String>)> {
    let parts: Vec<&str> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => part.to_str(),
            _ => None,
        })
        .collect();
    let src = parts.iter().position(|part| *part == "src")?;
    let mut module: Vec<String> = parts[src + 1..].iter().map(|p| (*p).to_owned()).collect();
    let file = module.pop()?;
    let stem = file.strip_suffix(".rs")?;
    let root_file = module.is_empty() && matches!(stem, "lib" | "main");
    if stem != "mod" && !root_file {
        module.push(stem.to_owned());
    }
    Some((parts[..src].join("/"), module))
}

/// The text without line comments and without an inline `#[cfg(test)] mod ... {` block,
/// which by this project's layout runs to the end of the file.
fn without_tests(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let code = line.split("//").next().unwrap_or("");
        if code.trim() == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod ") && next.contains('{'))
        {
            break;
        }
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// Every module path named from `module` through `crate::`, `super::` or `self::`, with
/// groups (`crate::{a::X, b}`, across lines) expanded; absolute, from the crate root.
fn referenced_modules(module: &[String], text: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices(['c', 's']) {
        let before_ok = !text[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let rest = &text[at..];
        let (base, tail) = if let Some(tail) = rest.strip_prefix("crate::") {
            (Vec::new(), tail)
        } else if rest.starts_with("super::") {
            let mut base = module.to_vec();
            let mut tail = rest;
            while let Some(next) = tail.strip_prefix("super::") {
                base.pop();
                tail = next;
            }
            (base, tail)
        } else if let Some(tail) = rest.strip_prefix("self::") {
            (module.to_vec(), tail)
        } else {
            continue;
        };
        if before_ok {
            expand(&base, tail, &mut found);
        }
    }
    found
}

/// Appends the paths a use-tree starting at `text` names, each prefixed with `base`.
fn expand(base: &[String], text: &str, found: &mut Vec<Vec<String>>) {
    let mut path = base.to_vec();
    let mut rest = text.trim_start();
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            for item in group_items(group) {
                expand(&path, item, found);
            }
            return;
        }
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        path.push(rest[..end].to_owned());
        match rest[end..].strip_prefix("::") {
            Some(next) => rest = next.trim_start(),
            None => break,
        }
    }
    if path.len() > base.len() {
        found.push(path);
    }
}

/// The top-level items of a group whose opening brace was just consumed.
fn group_items(group: &str) -> Vec<&str> {
    let (mut depth, mut start, mut items) = (0usize, 0usize, Vec::new());
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items
}

/// The longest prefix of `path` that is a module of the crate (items are cut off).
fn longest_known<'p>(path: &'p [String], known: &BTreeSet<&[String]>) -> &'p [String] {
    (0..=path.len())
        .rev()
        .map(|n| &path[..n])
        .find(|prefix| known.contains(prefix))
        .unwrap_or(&[])
}

/// The edge between the two siblings under the deepest common ancestor of `from` and `to`;
/// `None` when one contains the other.
fn sibling_edge(from: &[String], to: &[String]) -> Option<(String, String)> {
    let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
    if common >= from.len() || common >= to.len() {
        return None;
    }
    Some((from[..=common].join("::"), to[..=common].join("::")))
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
        if let Some(cycle) = visit(graph, next, path, done) {
            return Some(cycle);
        }
    }
    path.pop();
    done.insert(module);
    None
}
