//! Checks of a built package that need no installation: lintian at its default level with
//! any error or warning failing, the file list and modes, the conffiles, the dependencies,
//! and every man page rendered by groff with all warnings on.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use super::{CONFFILES, FILES, Package, path_str};
use crate::process::{output, run};

/// Runs every check on `package`.
pub(crate) fn check(root: &Path, package: &Package) -> Result<()> {
    let deb = path_str(&package.deb)?;
    // Lintian's default level: errors and warnings, which --fail-on makes fail. (With
    // --show-overrides, overridden tags would fail too.)
    run(
        "lintian",
        &[
            "--fail-on",
            "error,warning",
            "--tag-display-limit",
            "0",
            &deb,
        ],
        &[],
    )
    .context("lintian found errors or warnings")?;
    check_files(&output("dpkg-deb", &["--contents", &deb])?)?;
    let conffiles = output("dpkg-deb", &["--info", &deb, "conffiles"])?;
    let listed: Vec<&str> = conffiles.lines().collect();
    if listed != CONFFILES {
        bail!("conffiles are {listed:?}, expected {CONFFILES:?}");
    }
    let depends = output("dpkg-deb", &["--field", &deb, "Depends"])?;
    for needed in ["adduser", "ssl-cert", "libc6 (>= "] {
        if !depends.contains(needed) {
            bail!("Depends: {} lacks {needed}", depends.trim());
        }
    }
    let version = output("dpkg-deb", &["--field", &deb, "Version"])?;
    if version.trim() != package.version {
        bail!("Version: {} is not {}", version.trim(), package.version);
    }
    // The man pages as shipped: extracted, then rendered.
    let extracted = root.join("target/dist/extracted");
    if extracted.exists() {
        fs::remove_dir_all(&extracted).context("cannot clear target/dist/extracted")?;
    }
    run(
        "dpkg-deb",
        &["--extract", &deb, &path_str(&extracted)?],
        &[],
    )?;
    let mut pages = 0;
    for section in ["man5", "man8"] {
        let dir = extracted.join("usr/share/man").join(section);
        for entry in fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))? {
            check_man_page(&entry?.path())?;
            pages += 1;
        }
    }
    eprintln!(
        "dist: lintian clean, {} files, conffiles, Depends and {pages} man pages checked",
        FILES.len()
    );
    Ok(())
}

/// The package holds exactly [`FILES`] (with their modes, owned by root) and the subcommands'
/// man pages, which clap_mangen names `pop3d-*.8.gz` and `pop3-admin-*.8.gz`.
fn check_files(contents: &str) -> Result<()> {
    let mut found = BTreeMap::new();
    for line in contents.lines() {
        // drwxr-xr-x root/root         0 2026-11-30 04:40 ./usr/sbin/
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(mode), Some(owner), Some(path)) = (fields.first(), fields.get(1), fields.get(5))
        else {
            bail!("unexpected dpkg-deb --contents line {line:?}");
        };
        if owner != &"root/root" {
            bail!("{path} belongs to {owner}, not root/root");
        }
        if !mode.starts_with('d') {
            found.insert(path.trim_start_matches("./").to_owned(), (*mode).to_owned());
        }
    }
    let mut problems = Vec::new();
    for (path, mode) in FILES {
        let expected = if *mode == 0o755 {
            "-rwxr-xr-x"
        } else {
            "-rw-r--r--"
        };
        match found.remove(*path) {
            None => problems.push(format!("missing: {path}")),
            Some(got) if got != expected => {
                problems.push(format!("{path} is {got}, not {expected}"))
            }
            Some(_) => {}
        }
    }
    let subcommand_page = |path: &str| {
        path.strip_prefix("usr/share/man/man8/")
            .is_some_and(|name| {
                (name.starts_with("pop3d-") || name.starts_with("pop3-admin-"))
                    && name.ends_with(".8.gz")
            })
    };
    for (path, mode) in &found {
        if !subcommand_page(path) {
            problems.push(format!("unexpected file: {path}"));
        } else if mode != "-rw-r--r--" {
            problems.push(format!("{path} is {mode}"));
        }
    }
    if !found
        .keys()
        .any(|p| p.ends_with("/pop3-admin-user-add.8.gz"))
    {
        problems.push("no man page for pop3-admin user add".to_owned());
    }
    if !problems.is_empty() {
        bail!("the package's files:\n  {}", problems.join("\n  "));
    }
    Ok(())
}

/// Renders a gzipped page with groff, every warning on: any output on stderr fails.
fn check_man_page(page: &Path) -> Result<()> {
    let source = output("zcat", &[&path_str(page)?])?;
    let mut groff = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run groff (package groff-base)")?;
    if let Some(mut stdin) = groff.stdin.take() {
        std::io::Write::write_all(&mut stdin, source.as_bytes()).context("feeding groff")?;
    }
    let out = groff.wait_with_output().context("waiting for groff")?;
    let warnings = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || !warnings.trim().is_empty() {
        bail!("{}: groff says:\n{warnings}", page.display());
    }
    Ok(())
}
