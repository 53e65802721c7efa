//! `cargo xtask`: the project's automation, in Rust so that it runs wherever cargo does.
//!
//! - `cargo xtask ci`: everything CI checks: formatting, clippy with warnings denied, tidy,
//!   rustdoc with warnings denied, the Debian package (`dist --check`), all tests, and a
//!   short fuzz pass.
//! - `cargo xtask tidy`: the structural rules of `docs/ARCHITECTURE.md` (also a unit test).
//! - `cargo xtask fuzz [--seconds N] [TARGET...]`: runs the `cargo fuzz` targets (with
//!   AddressSanitizer on a nightly toolchain when one is installed, else on stable with
//!   `-s none`).
//! - `cargo xtask dist [--check]`: the Debian package, `target/dist/pop3d_<version>_<arch>.deb`
//!   (`--check`: lintian, its files, conffiles and man pages, and with root and
//!   `POP3D_TEST_INSTALL_DEB=1` an install, a login and a purge).
//! - `cargo xtask bench [--quick]`: the benchmarks (`--servers`: pop3d against Dovecot;
//!   `--migrate`: the migration from Dovecot of issue 16).

// Reports are this tool's output.
#![allow(clippy::print_stdout)]

mod dist;
mod migrate_bench;
mod process;
mod servers;
mod tidy;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use process::{cargo, run};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = project_root();
    std::env::set_current_dir(&root).with_context(|| format!("cannot enter {}", root.display()))?;
    match args.first().map(String::as_str) {
        Some("ci") => ci(&root),
        Some("tidy") => {
            tidy::check(&root)?;
            eprintln!("tidy: ok");
            Ok(())
        }
        Some("fuzz") => fuzz(&root, &args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("dist") => {
            let package = dist::build(&root)?;
            if args.iter().any(|a| a == "--check") {
                dist::check(&root, &package)?;
                dist::install_test(&package)?;
            }
            eprintln!("dist: {}", package.deb.display());
            Ok(())
        }
        Some("help" | "--help" | "-h") | None => {
            eprintln!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown task {other:?}\n{USAGE}"),
    }
}

const USAGE: &str = "usage: cargo xtask <task>
  ci                        fmt, clippy, tidy, docs, tests, short fuzz pass
  tidy                      structural checks (dependency direction, crate docs, lints)
  fuzz [--seconds N] [T..]  run fuzz targets (default: all, 30 s each)
  dist [--check]            the Debian package in target/dist (--check: lintian, files,
                            man pages; installs it with root and POP3D_TEST_INSTALL_DEB=1)
  bench [--quick]           micro-benchmarks (--quick: a few seconds)
  bench --servers           pop3d against Dovecot (docs/performance.md)
  bench --servers --quick   the same, smaller, 2 rounds (target/bench-quick.md)
  bench --smoke             every server scenario, tiny, pop3d only (CI)
  bench --migrate [--quick] pop3-admin migrate dovecot: 1,000 users x 100 messages (--quick: 100)";

/// The workspace root: the parent of this crate's manifest directory.
fn project_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

fn ci(root: &Path) -> Result<()> {
    step("format", || cargo(&["fmt", "--all", "--", "--check"]))?;
    step("clippy", || {
        cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--locked",
            "--",
            "-D",
            "warnings",
        ])
    })?;
    step("tidy", || tidy::check(root))?;
    step("docs", || {
        run(
            "cargo",
            &["doc", "--workspace", "--no-deps", "--locked"],
            &[("RUSTDOCFLAGS", "-D warnings")],
        )
    })?;
    step("dist", || {
        let package = dist::build(root)?;
        dist::check(root, &package)?;
        dist::install_test(&package)
    })?;
    step("bench smoke", || {
        servers::run_servers(root, servers::Mode::Smoke)
    })?;
    step("fuzz (short pass)", || {
        fuzz(root, &["--seconds".into(), "10".into()])
    })?;
    // Tests last, so that the run ends with their summary.
    step("tests", || {
        // All features: the fault-injection hooks of pop3-server, which its fault tests need.
        let output = process::run_tee(
            "cargo",
            &["test", "--workspace", "--all-features", "--locked"],
        )?;
        let (passed, failed) = test_totals(&output);
        if passed == 0 {
            bail!("cargo test ran no test");
        }
        // One plain closing line over all test binaries.
        eprintln!("==> all tests");
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "tests: {passed} passed, {failed} failed").context("writing summary")
    })?;
    Ok(())
}

/// Sums `test result: ok. N passed; M failed; ...` over every test binary.
fn test_totals(output: &str) -> (u64, u64) {
    let count = |line: &str, word: &str| -> u64 {
        line.split(['.', ';'])
            .find_map(|part| part.trim().strip_suffix(word))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    output
        .lines()
        .filter(|line| line.starts_with("test result:"))
        .fold((0, 0), |(p, f), line| {
            (p + count(line, "passed"), f + count(line, "failed"))
        })
}

fn step(name: &str, task: impl FnOnce() -> Result<()>) -> Result<()> {
    eprintln!("==> {name}");
    task().with_context(|| format!("ci step `{name}` failed"))
}

fn fuzz(root: &Path, args: &[String]) -> Result<()> {
    let mut seconds = 30u32;
    let mut targets = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = rest
                    .next()
                    .context("--seconds needs a value")?
                    .parse()
                    .context("--seconds takes a whole number")?;
            }
            target => targets.push(target.to_owned()),
        }
    }
    if !process::succeeds("cargo", &["fuzz", "--version"]) {
        // Loud, and a failure under CI, where .ci/run installs cargo-fuzz.
        let message = "cargo-fuzz is not installed: `cargo install cargo-fuzz --locked`";
        if std::env::var_os("CI").is_some() {
            bail!("{message}");
        }
        eprintln!("!!! SKIPPED fuzzing: {message}");
        return Ok(());
    }
    if targets.is_empty() {
        targets = fuzz_targets(root)?;
    }
    // AddressSanitizer needs a nightly toolchain; without one, stable and no sanitizer.
    let nightly = process::succeeds("cargo", &["+nightly", "fuzz", "--version"]);
    let (toolchain, sanitizer) = if nightly {
        (Some("+nightly"), "address")
    } else {
        eprintln!("note: no nightly toolchain, fuzzing without a sanitizer (-s none)");
        (None, "none")
    };
    for target in &targets {
        eprintln!("--> fuzz target {target}, {seconds} s, sanitizer {sanitizer}");
        let corpus = format!("fuzz/corpus/{target}");
        let own_dict = format!("fuzz/dict/{target}.dict");
        let dict = if root.join(&own_dict).exists() {
            format!("-dict={own_dict}")
        } else {
            "-dict=fuzz/dict/pop3.dict".to_owned()
        };
        let time = format!("-max_total_time={seconds}");
        let mut command: Vec<&str> = toolchain.into_iter().collect();
        command.extend([
            "fuzz",
            "run",
            "--fuzz-dir",
            "fuzz",
            "-s",
            sanitizer,
            target,
            &corpus,
            "--",
            &time,
            &dict,
            "-print_final_stats=1",
        ]);
        run("cargo", &command, &[])?;
    }
    Ok(())
}

fn fuzz_targets(root: &Path) -> Result<Vec<String>> {
    let dir = root.join("fuzz/fuzz_targets");
    let mut targets: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".rs").map(str::to_owned)
        })
        .collect();
    targets.sort();
    Ok(targets)
}

fn bench(args: &[String]) -> Result<()> {
    let root = project_root();
    if args.iter().any(|a| a == "--smoke") {
        return servers::run_servers(&root, servers::Mode::Smoke);
    }
    let quick = args.iter().any(|a| a == "--quick");
    if args.iter().any(|a| a == "--migrate") {
        return migrate_bench::run_migrate(&root, quick);
    }
    if args.iter().any(|a| a == "--servers") {
        let mode = if quick {
            servers::Mode::Quick
        } else {
            servers::Mode::Full
        };
        return servers::run_servers(&root, mode);
    }
    let mut encoder = vec!["bench", "-p", "pop3-proto", "--bench", "encoder", "--"];
    if quick {
        encoder.extend(["--warm-up-time", "0.2", "--measurement-time", "0.5"]);
    }
    cargo(&encoder)?;
    for (package, bench) in [("pop3-maildrop", "scan"), ("pop3-auth", "auth")] {
        let mut args = vec!["bench", "-p", package, "--bench", bench, "--"];
        if quick {
            args.push("--quick");
        }
        cargo(&args)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn test_totals_sum_every_binary() {
        let output = "test result: ok. 35 passed; 0 failed; 0 ignored; 0 measured\n\
                      noise\n\
                      test result: FAILED. 2 passed; 1 failed; 0 ignored\n\
                      test result: ok. 0 passed; 0 failed; 0 ignored\n";
        assert_eq!(super::test_totals(output), (37, 1));
    }
}
