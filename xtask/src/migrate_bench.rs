//! `cargo xtask bench --migrate [--quick]`: issue 16's migration timed. 1,000 Dovecot users
//! (100 with `--quick`), each with 100 messages (Dovecot-LDA names, half in `cur/`) and a
//! `dovecot-uidlist`, in a passwd-file of `{ARGON2ID}` hashes: `pop3-admin migrate dovecot`
//! as a dry run (UIDLs matched, nothing written), for real (every UIDL carried into each
//! maildrop's map, checked in the report), and again (all skipped). Then the cost of one `{PLAIN}` user,
//! which is hashed with the configured argon2id at import and so is outside the target
//! (< 10 s for 1,000 users plus that hashing). Release build; a figure, not a timed test.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::process::run;
use crate::servers::link_maildir;

const MESSAGES: usize = 100;
const PLAIN_USERS: usize = 20;

/// Runs the migration benchmark and prints its table.
pub(crate) fn run_migrate(root: &Path, quick: bool) -> Result<()> {
    let users = if quick { 100 } else { 1_000 };
    run(
        "cargo",
        &[
            "build",
            "--release",
            "-p",
            "pop3-admin",
            "-p",
            "pop3-loadgen",
        ],
        &[],
    )?;
    let target = root.join("target/release");
    let (admin, loadgen) = (target.join("pop3-admin"), target.join("pop3-loadgen"));
    let work = root.join("target/bench-migrate");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let path = |p: &str| work.join(p).display().to_string();

    // One realistic argon2id PHC string, as pop3-loadgen writes Dovecot's passwd-file.
    run(
        &loadgen.display().to_string(),
        &[
            "--user-prefix",
            "x",
            "--password",
            "bench",
            "setup-users",
            "--db",
            &path("scratch.db"),
            "--mail-root",
            &path("scratch"),
            "--passwd",
            &path("one"),
            "--count",
            "1",
        ],
        &[],
    )?;
    let one = std::fs::read_to_string(work.join("one"))?;
    let phc = one
        .split(':')
        .nth(1)
        .and_then(|f| f.strip_prefix("{ARGON2ID}"))
        .context("no PHC string from pop3-loadgen")?
        .to_owned();

    let template = work.join("template");
    run(
        &loadgen.display().to_string(),
        &[
            "fill",
            "--maildir",
            &template.display().to_string(),
            "--count",
            &MESSAGES.to_string(),
            "--size",
            "2000",
            "--style",
            "pop3d",
            "--in-cur",
            &(MESSAGES / 2).to_string(),
        ],
        &[],
    )?;
    let uidlist = uidlist(&template)?;
    eprintln!("$ linking {users} Maildirs of {MESSAGES} messages");
    let mut passwd = String::new();
    for n in 0..users {
        let maildir = work.join(format!("mail/u{n}/Maildir"));
        link_maildir(&template, &maildir)?;
        std::fs::write(maildir.join("dovecot-uidlist"), &uidlist)?;
        let _ = writeln!(passwd, "u{n}@bench.example:{{ARGON2ID}}{phc}::::::");
    }
    std::fs::write(work.join("passwd"), passwd)?;
    let mut plain = String::new();
    for n in 0..PLAIN_USERS {
        // With its uidlist too: a Maildir with mail and none fails (`no-uidlist`).
        let maildir = work.join(format!("mail/p{n}/Maildir"));
        link_maildir(&template, &maildir)?;
        std::fs::write(maildir.join("dovecot-uidlist"), &uidlist)?;
        let _ = writeln!(plain, "p{n}@bench.example:{{PLAIN}}password {n}");
    }
    std::fs::write(work.join("plain"), plain)?;
    std::fs::write(
        work.join("pop3d.toml"),
        format!(
            "[data]\nuser_db = \"{}\"\nmail_root = \"{}\"\n",
            path("users.db"),
            path("mail")
        ),
    )?;

    let migrate = |file: &str, dry_run: bool| -> Result<(f64, serde_json::Value)> {
        let mut command = Command::new(&admin);
        command
            .arg("--config")
            .arg(work.join("pop3d.toml"))
            .args(["migrate", "dovecot", "--passwd-file"])
            .arg(work.join(file))
            .arg("--maildir")
            .arg(format!("maildir:{}/%n/Maildir", path("mail")))
            .arg("--json");
        if dry_run {
            command.arg("--dry-run");
        }
        let started = Instant::now();
        let out = command.output().context("cannot run pop3-admin")?;
        let seconds = started.elapsed().as_secs_f64();
        if !out.status.success() {
            bail!(
                "pop3-admin migrate: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok((seconds, serde_json::from_slice(&out.stdout)?))
    };
    let summary = |report: &serde_json::Value, key: &str| report["summary"][key].as_u64();
    let (dry, report) = migrate("passwd", true)?;
    let want = Some(users as u64);
    if summary(&report, "created") != want {
        bail!(
            "the dry run would not create every user: {}",
            report["summary"]
        );
    }
    let carried = |report: &serde_json::Value| -> u64 {
        report["users"].as_array().map_or(0, |users| {
            users
                .iter()
                .filter_map(|u| u["uidls"]["carried"].as_u64())
                .sum()
        })
    };
    let all_uidls = (users * MESSAGES) as u64;
    if carried(&report) != all_uidls {
        bail!(
            "the dry run would carry {} UIDLs, not {all_uidls}",
            carried(&report)
        );
    }
    let (real, report) = migrate("passwd", false)?;
    if summary(&report, "created") != want {
        bail!(
            "the migration did not create every user: {}",
            report["summary"]
        );
    }
    if carried(&report) != all_uidls {
        bail!(
            "the migration carried {} UIDLs, not {all_uidls}",
            carried(&report)
        );
    }
    let (again, report) = migrate("passwd", false)?;
    if summary(&report, "exists") != want {
        bail!("the re-run did not skip every user: {}", report["summary"]);
    }
    let (plain, report) = migrate("plain", false)?;
    if summary(&report, "created") != Some(PLAIN_USERS as u64) {
        bail!(
            "the {{PLAIN}} users were not created: {}",
            report["summary"]
        );
    }
    let per_plain = plain / PLAIN_USERS as f64 * 1000.0;
    let verdict = if real < 10.0 { "met" } else { "MISSED" };
    println!(
        "\nmigrate dovecot, {users} users x {MESSAGES} messages ({{ARGON2ID}} hashes, \
         dovecot-uidlist each, {all_uidls} UIDLs carried)\n\
         | run | seconds |\n|---|---|\n\
         | dry run | {dry:.2} |\n\
         | import | {real:.2} (target < 10 s: {verdict}) |\n\
         | re-run (all skipped) | {again:.2} |\n\
         | {{PLAIN}} user, hashed with argon2id m=19456 t=2 | {per_plain:.0} ms each ({PLAIN_USERS} users: {plain:.2} s) |",
    );
    Ok(())
}

/// A `dovecot-uidlist` (version 3) for the template's messages, UIDs in name order.
fn uidlist(template: &Path) -> Result<String> {
    let mut names: Vec<PathBuf> = Vec::new();
    for sub in ["cur", "new"] {
        for entry in std::fs::read_dir(template.join(sub))? {
            names.push(entry?.path());
        }
    }
    names.sort();
    let mut text = format!(
        "3 V1767225600 N{} G0123456789abcdef0123456789abcdef\n",
        names.len() + 1
    );
    for (uid, path) in names.iter().enumerate() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .context("a message name that is not UTF-8")?;
        let base = name.split(':').next().unwrap_or(name);
        let _ = writeln!(text, "{} :{base}", uid + 1);
    }
    Ok(text)
}
