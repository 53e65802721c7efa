use super::*;

#[test]
fn tidy() {
    check(&crate::project_root()).unwrap();
}

#[test]
fn manifest_rules_catch_violations() {
    let mut failures = Vec::new();
    check_manifest(
        "bad",
        "[package]\nname = \"bad\"\n[dependencies]\nmemchr = \"2\"\n",
        &mut failures,
    );
    assert_eq!(failures.len(), 2, "{failures:?}");
    let mut failures = Vec::new();
    check_manifest(
        "good",
        "[dependencies]\nmemchr.workspace = true\n[lints]\nworkspace = true\n",
        &mut failures,
    );
    assert!(failures.is_empty(), "{failures:?}");
}

/// Synthetic sources: (path relative to the workspace root, text).
fn sources(files: &[(&str, String)]) -> Sources {
    files
        .iter()
        .map(|(path, text)| (PathBuf::from(path), text.clone()))
        .collect()
}

fn lines(n: usize) -> String {
    "x\n".repeat(n)
}

#[test]
fn file_length_rule_catches_long_files_and_spares_tests() {
    let mut failures = Vec::new();
    check_file_lengths(
        &sources(&[
            ("crates/a/src/long.rs", lines(501)),
            ("xtask/src/long.rs", lines(900)),
            ("crates/a/src/limit.rs", lines(500)),
            ("crates/a/src/short.rs", lines(3)),
            ("crates/a/src/long/tests.rs", lines(2000)),
            ("crates/a/src/tests/helpers.rs", lines(2000)),
            ("crates/a/tests/it/main.rs", lines(2000)),
            (
                "crates/a/src/test_support.rs",
                format!("// Helpers for tests.\n\n#![cfg(test)]\n{}", lines(600)),
            ),
        ]),
        &mut failures,
    );
    assert_eq!(
        failures,
        [
            "crates/a/src/long.rs has 501 lines; split it (at most 500 outside tests)",
            "xtask/src/long.rs has 900 lines; split it (at most 500 outside tests)",
        ],
    );
    // A name or a directory that only contains "tests", and a cfg(test) item that is not the
    // file's first, do not make a file test-only.
    let mut failures = Vec::new();
    check_file_lengths(
        &sources(&[
            ("crates/a/src/contests.rs", lines(501)),
            ("crates/a/src/my_tests/x.rs", lines(501)),
            (
                "crates/a/src/late.rs",
                format!("use x;\n#![cfg(test)]\n{}", lines(501)),
            ),
        ]),
        &mut failures,
    );
    assert_eq!(failures.len(), 3, "{failures:?}");
}

#[test]
fn path_rule_catches_attributes_leaving_the_crate() {
    // Spelled in pieces so that this file does not match the rule itself.
    let attr = |value: &str| {
        format!(
            "mod m;\n{}{value}\"]\nmod shared;\n",
            concat!("#[pa", "th = \"")
        )
    };
    let mut failures = Vec::new();
    check_path_attributes(
        &sources(&[
            // Out of the crate: into a sibling crate, from a test and from src.
            (
                "crates/pop3-server/tests/it/main.rs",
                attr("../../../pop3-proto/tests/it/transcript.rs"),
            ),
            ("crates/a/src/lib.rs", attr("../../b/src/x.rs")),
            ("xtask/src/main.rs", attr("../../crates/a/src/x.rs")),
            ("crates/a/src/lib.rs", attr("/etc/x.rs")),
            ("crates/a/src/lib.rs", attr("../../../../../x.rs")),
            // Inside the crate, even with `..`.
            ("crates/a/tests/it/main.rs", attr("../common/x.rs")),
            ("crates/a/src/deep/mod.rs", attr("../other.rs")),
            ("crates/a/src/lib.rs", attr("gen/x.rs")),
            ("xtask/src/main.rs", attr("../data/x.rs")),
            // Not a path attribute.
            (
                "crates/a/src/lib.rs",
                "// #[path] is documented here\n".into(),
            ),
        ]),
        &mut failures,
    );
    assert_eq!(failures.len(), 5, "{failures:#?}");
    assert!(
        failures[0].starts_with("crates/pop3-server/tests/it/main.rs:2: "),
        "{}",
        failures[0]
    );
    assert!(
        failures[0].contains("out of crates/pop3-server"),
        "{}",
        failures[0]
    );
    assert!(failures[2].contains("out of xtask"), "{}", failures[2]);
}

#[test]
fn module_rule_catches_a_cycle_and_spares_one_way_imports() {
    let one_way = sources(&[
        (
            "crates/x/src/lib.rs",
            "mod a;\nmod b;\nuse crate::a::A;\n".to_owned(),
        ),
        ("crates/x/src/a.rs", "use crate::b::B;\n".to_owned()),
        (
            "crates/x/src/b/mod.rs",
            "// crate::a::A in a comment\n".to_owned(),
        ),
        (
            "crates/x/src/b/c.rs",
            "use crate::b::D;\nuse crate::Reexport;\n".to_owned(),
        ),
        ("crates/y/src/a.rs", "use crate::b::B;\n".to_owned()),
        ("crates/y/tests/it/b.rs", "use crate::a::A;\n".to_owned()),
    ]);
    let mut failures = Vec::new();
    modules::check_module_cycles(&one_way, &mut failures);
    assert!(failures.is_empty(), "{failures:?}");

    let cycle = sources(&[
        ("crates/x/src/a.rs", "use crate::b::B;\n".to_owned()),
        (
            "crates/x/src/b/c.rs",
            "fn f() { crate::c::g() }\n".to_owned(),
        ),
        ("crates/x/src/c.rs", "use crate::{a::A, d};\n".to_owned()),
    ]);
    let mut failures = Vec::new();
    modules::check_module_cycles(&cycle, &mut failures);
    assert_eq!(
        failures,
        [
            "crates/x: modules import each other: a -> b -> c -> a; make the dependency point one way"
        ],
    );
}

#[test]
fn dependency_tree_rules_catch_violations() {
    // admin -> api (normal), admin -> metrics (dev only), api -> prom (normal).
    let metadata = serde_json::json!({
        "packages": [
            {"id": "admin", "name": "pop3-admin"},
            {"id": "api", "name": "pop3-admin-api"},
            {"id": "metrics", "name": "pop3-metrics"},
            {"id": "prom", "name": "prometheus-client"},
        ],
        "resolve": {"nodes": [
            {"id": "admin", "deps": [
                {"pkg": "api", "dep_kinds": [{"kind": null}]},
                {"pkg": "metrics", "dep_kinds": [{"kind": "dev"}]},
            ]},
            {"id": "api", "deps": []},
            {"id": "metrics", "deps": [{"pkg": "prom", "dep_kinds": [{"kind": null}]}]},
            {"id": "prom", "deps": []},
        ]},
    });
    let mut failures = Vec::new();
    check_forbidden_in_tree(&metadata, FORBIDDEN_IN_TREE, &mut failures).unwrap();
    assert!(
        failures.is_empty(),
        "a dev-dependency is not linked: {failures:?}"
    );
    // Make the api crate pull prometheus-client in: caught through the transitive edge.
    let mut metadata = metadata;
    metadata["resolve"]["nodes"][1]["deps"] =
        serde_json::json!([{"pkg": "prom", "dep_kinds": [{"kind": null}]}]);
    check_forbidden_in_tree(&metadata, FORBIDDEN_IN_TREE, &mut failures).unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].contains("pop3-admin must not depend on prometheus-client"));
}

#[test]
fn module_rule_reads_groups_across_lines_super_paths_and_skips_inline_tests() {
    // Siblings under `session`: transaction -> update through a multi-line group, and
    // update -> transaction through `super::`. The parent using its children is no cycle.
    let cycle = sources(&[
        (
            "crates/p/src/session/mod.rs",
            "mod transaction;\nuse self::update::Update;\n".to_owned(),
        ),
        (
            "crates/p/src/session/transaction.rs",
            "use super::{\n    common::Common,\n    update::Update,\n};\n".to_owned(),
        ),
        (
            "crates/p/src/session/update.rs",
            "use super::transaction::messages;\n".to_owned(),
        ),
        (
            "crates/p/src/session/common.rs",
            "use super::Phase;\n".to_owned(),
        ),
    ]);
    let mut failures = Vec::new();
    modules::check_module_cycles(&cycle, &mut failures);
    assert_eq!(
        failures,
        [
            "crates/p: modules import each other: session::transaction -> session::update -> \
          session::transaction; make the dependency point one way"
        ],
    );

    // The same back edge inside an inline test module does not count.
    let tests_only = sources(&[
        ("crates/p/src/a.rs", "use crate::b::B;\n".to_owned()),
        (
            "crates/p/src/b.rs",
            "pub struct B;\n\n#[cfg(test)]\nmod tests {\n    use crate::a::A;\n}\n".to_owned(),
        ),
    ]);
    let mut failures = Vec::new();
    modules::check_module_cycles(&tests_only, &mut failures);
    assert!(failures.is_empty(), "{failures:?}");
}
