//! Running commands: echoed before they run, failing with their exit status.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// Runs `cargo` with these arguments.
pub(crate) fn cargo(args: &[&str]) -> Result<()> {
    run("cargo", args, &[])
}

/// Runs a program with extra environment variables, inheriting stdio.
pub(crate) fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .status()
        .with_context(|| format!("cannot start {program}"))?;
    if !status.success() {
        bail!("`{program} {}` failed: {status}", args.join(" "));
    }
    Ok(())
}

/// Runs a program quietly and returns its standard output.
pub(crate) fn output(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot start {program}"))?;
    if !out.status.success() {
        bail!("`{program} {}` failed: {}", args.join(" "), out.status);
    }
    String::from_utf8(out.stdout).context("output is not UTF-8")
}

/// Whether a program runs and exits 0, with its output discarded.
pub(crate) fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Runs a program, echoing its standard output line by line as it comes, and returns it.
pub(crate) fn run_tee(program: &str, args: &[&str]) -> Result<String> {
    eprintln!("$ {program} {}", args.join(" "));
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {program}"))?;
    let mut captured = String::new();
    if let Some(stdout) = child.stdout.take() {
        let mut echo = std::io::stdout().lock();
        for line in BufReader::new(stdout).lines() {
            let line = line.context("reading the program's output")?;
            writeln!(echo, "{line}").context("writing output")?;
            captured.push_str(&line);
            captured.push('\n');
        }
    }
    let status = child.wait().context("waiting for the program")?;
    if !status.success() {
        bail!("`{program} {}` failed: {status}", args.join(" "));
    }
    Ok(captured)
}
