//! `cargo xtask bench --servers`: pop3d against Dovecot, side by side, in one run.
//!
//! Both servers get the same deterministic corpus (hard-linked copies of one generated tree),
//! named as Postfix stores mail (no `,S=`/`,W=`; pop3d's own style only as the second variant
//! of the idle sessions), argon2id users with the same parameters as the server they log in
//! to is configured for, loopback only. Scenarios alternate A B A B for the rounds; medians and
//! pop3d/Dovecot ratios are printed, with the spread of pop3d's own rounds and the A/A columns
//! as the noise level, and physical references measured in the same run. `--smoke` runs every
//! scenario tiny, against pop3d only, so that the harness cannot rot (CI runs it).
//!
//! The parts: this module holds the sizes, the run and the results; `server` starts and stops
//! pop3d and Dovecot (with Dovecot's configuration); `corpus` generates the users and
//! maildrops; `scenarios` runs one round of the scenarios that share a server, `fresh` those
//! that need a fresh server (login storm memory and CPU, idle sessions); `proc` reads PSS and
//! CPU time of a server's processes; `report` turns the results into the Markdown table.

mod corpus;
mod fresh;
mod proc;
mod report;
mod scenarios;
mod server;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::process::run;
pub(crate) use corpus::link_maildir;
use report::write_report;
use server::which;

/// How big everything is.
struct Sizes {
    login_clients: usize,
    login_seconds: f64,
    retr: (usize, usize),
    big: (usize, usize),
    /// Messages of the large maildrop (stat-big, and new mail).
    huge: usize,
    dele: usize,
    /// Idle authenticated sessions, each measured on a fresh server, on both name styles.
    idle: Vec<usize>,
    pipelined: usize,
    /// Small messages for pipelined LIST n / UIDL n / RETR n.
    mixed: usize,
    /// Logins of the storm on a fresh server, from `login_clients` clients.
    storm: usize,
    /// Deliveries (each followed by a timed login) per round of the new-mail scenario.
    new_mail: usize,
    rounds: usize,
}

/// How much of the server benchmark to run.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Every scenario, full size, 3 rounds, pop3d against Dovecot; rewrites docs/performance.md.
    Full,
    /// Every scenario, smaller, 2 rounds (so the A/A column exists), against Dovecot; the report
    /// goes to `target/bench-quick.md`, for before/after comparisons of a change.
    Quick,
    /// Every scenario, tiny, pop3d only, debug build (CI).
    Smoke,
}

impl Sizes {
    fn new(mode: Mode) -> Sizes {
        match mode {
            Mode::Full => Sizes {
                login_clients: 16,
                login_seconds: 8.0,
                retr: (2000, 100_000),
                big: (20, 20_000_000),
                huge: 100_000,
                dele: 10_000,
                idle: vec![2000, 6000],
                pipelined: 20_000,
                mixed: 1000,
                storm: 200,
                new_mail: 5,
                rounds: 3,
            },
            Mode::Quick => Sizes {
                login_clients: 16,
                login_seconds: 3.0,
                retr: (500, 100_000),
                big: (8, 20_000_000),
                huge: 20_000,
                dele: 2_000,
                idle: vec![1000, 3000],
                pipelined: 5_000,
                mixed: 1000,
                storm: 200,
                new_mail: 3,
                rounds: 2,
            },
            Mode::Smoke => Sizes {
                login_clients: 2,
                login_seconds: 0.5,
                retr: (20, 10_000),
                big: (2, 1_000_000),
                huge: 300,
                dele: 100,
                idle: vec![20],
                pipelined: 500,
                mixed: 20,
                storm: 6,
                new_mail: 2,
                rounds: 1,
            },
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Pop3d,
    Dovecot,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Pop3d => "pop3d",
            Kind::Dovecot => "dovecot",
        }
    }
}

struct Bench {
    work: PathBuf,
    pop3d: PathBuf,
    loadgen: PathBuf,
    sizes: Sizes,
    /// The round being run, from 0.
    round: usize,
    results: BTreeMap<(String, Kind), Vec<f64>>,
}

/// Runs the server benchmark in the given mode.
pub(crate) fn run_servers(root: &Path, mode: Mode) -> Result<()> {
    let smoke = mode == Mode::Smoke;
    let profile = if smoke { "debug" } else { "release" };
    let mut build = vec!["build", "-p", "pop3-server", "-p", "pop3-loadgen"];
    if !smoke {
        build.push("--release");
    }
    run("cargo", &build, &[])?;
    let target = root.join("target").join(profile);
    let work = root.join("target/bench-work");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let dovecot = !smoke && which("dovecot");
    if !smoke && !dovecot {
        eprintln!(
            "!!! dovecot is not installed (apt-get install dovecot-pop3d): pop3d alone, no ratios"
        );
    }
    let mut bench = Bench {
        work,
        pop3d: target.join("pop3d"),
        loadgen: target.join("pop3-loadgen"),
        sizes: Sizes::new(mode),
        round: 0,
        results: BTreeMap::new(),
    };
    let kinds: Vec<Kind> = if dovecot {
        vec![Kind::Pop3d, Kind::Dovecot]
    } else {
        vec![Kind::Pop3d]
    };
    bench.corpus(&kinds)?;
    for round in 0..bench.sizes.rounds {
        eprintln!("==> round {} of {}", round + 1, bench.sizes.rounds);
        bench.round = round;
        for &kind in &kinds {
            bench.round(kind)?;
        }
    }
    let references = if smoke {
        Vec::new()
    } else {
        bench.references()?
    };
    let report = bench.report(&kinds, &references);
    println!("{report}");
    if smoke {
        let expected = [
            "logins realistic",
            "logins cheap",
            "retr 100KB x1",
            "stat-big warm STAT",
            "dele-all QUIT",
            "pipelined",
            "LIST/UIDL/RETR n x",
            "lockstep cmds/s",
            "speed-up x",
            "new mail",
            "storm PSS fresh",
            "storm PSS after",
            "CPU/login",
            "idle PSS/session KB Postfix",
            "idle PSS/session KB W=",
        ];
        for name in expected {
            if !bench
                .results
                .keys()
                .any(|(scenario, _)| scenario.contains(name))
            {
                bail!("smoke: scenario {name} produced no figure");
            }
        }
    } else if mode == Mode::Quick {
        let path = root.join("target/bench-quick.md");
        std::fs::write(&path, &report)?;
        eprintln!("report written to {}", path.display());
    } else {
        write_report(root, &report)?;
    }
    Ok(())
}

impl Bench {
    fn loadgen<S: AsRef<OsStr> + Debug>(
        &self,
        port: u16,
        prefix: &str,
        args: &[S],
    ) -> Result<Value> {
        let out = Command::new(&self.loadgen)
            .args([
                "--addr",
                &format!("127.0.0.1:{port}"),
                "--user-prefix",
                prefix,
                "--password",
                "bench",
            ])
            .args(args)
            .env("RUST_BACKTRACE", "0")
            .output()
            .context("cannot run pop3-loadgen")?;
        if !out.status.success() {
            bail!(
                "pop3-loadgen {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let last = text.lines().last().context("no output")?;
        Ok(serde_json::from_str(last)?)
    }

    fn record(&mut self, scenario: &str, kind: Kind, value: f64) {
        eprintln!("    {:<8} {scenario:<32} {value:>12.2}", kind.name());
        self.results
            .entry((scenario.to_owned(), kind))
            .or_default()
            .push(value);
    }

    fn tree(&self, kind: Kind) -> PathBuf {
        self.work.join(kind.name())
    }
}
