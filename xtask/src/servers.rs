//! `cargo xtask bench --servers`: pop3d against Dovecot, side by side, in one run.
//!
//! Both servers get the same deterministic corpus (hard-linked copies of one generated tree),
//! argon2id users with the same parameters, loopback only. Scenarios alternate A B A B for the
//! rounds; medians and pop3d/Dovecot ratios are printed, with the spread of pop3d's own rounds
//! as the noise level, and physical references measured in the same run. `--smoke` runs every
//! scenario tiny, against pop3d only, so that the harness cannot rot (CI runs it).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::process::run;

/// How big everything is.
struct Sizes {
    login_clients: usize,
    login_seconds: f64,
    retr: (usize, usize),
    big: (usize, usize),
    huge: usize,
    dele: usize,
    idle: Vec<usize>,
    pipelined: usize,
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
        if mode == Mode::Quick {
            return Sizes {
                login_clients: 16,
                login_seconds: 3.0,
                retr: (500, 100_000),
                big: (8, 20_000_000),
                huge: 20_000,
                dele: 2_000,
                idle: vec![2000],
                pipelined: 5_000,
                rounds: 2,
            };
        }
        if mode == Mode::Smoke {
            Sizes {
                login_clients: 2,
                login_seconds: 0.5,
                retr: (20, 10_000),
                big: (2, 1_000_000),
                huge: 300,
                dele: 100,
                idle: vec![20],
                pipelined: 500,
                rounds: 1,
            }
        } else {
            Sizes {
                login_clients: 16,
                login_seconds: 8.0,
                retr: (2000, 100_000),
                big: (20, 20_000_000),
                huge: 100_000,
                dele: 10_000,
                idle: vec![2000, 10_000],
                pipelined: 20_000,
                rounds: 3,
            }
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

/// A running server.
struct Server {
    kind: Kind,
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.kind == Kind::Dovecot {
            // Dovecot's master forks; stop its whole instance.
            let _ = Command::new("pkill")
                .args(["-9", "-f", &self.dir.display().to_string()])
                .status();
        }
    }
}

struct Bench {
    work: PathBuf,
    pop3d: PathBuf,
    loadgen: PathBuf,
    sizes: Sizes,
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
            "logins default",
            "retr 100KB x1",
            "stat-big warm STAT",
            "dele-all QUIT",
            "pipelined",
            "idle RSS/session",
        ];
        for name in expected {
            if !bench
                .results
                .keys()
                .any(|(scenario, _)| scenario.starts_with(name))
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
    fn loadgen(&self, port: u16, prefix: &str, args: &[&str]) -> Result<Value> {
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

    /// Users and maildrops, generated once for pop3d and hard-linked for Dovecot.
    fn corpus(&self, kinds: &[Kind]) -> Result<()> {
        let s = &self.sizes;
        let users: Vec<(&str, usize, u32, u32)> = vec![
            ("bench", s.login_clients, 19_456, 2),
            ("cheap", s.login_clients, 8, 1),
            ("retr", 4, 8, 1),
            ("big", 4, 8, 1),
            ("huge", 1, 8, 1),
            ("dele", 1, 8, 1),
            ("idle", s.idle.iter().copied().max().unwrap_or(0), 8, 1),
        ];
        for &kind in kinds {
            let tree = self.tree(kind);
            std::fs::create_dir_all(tree.join("mail"))?;
            for (prefix, count, m, t) in &users {
                let (m, t) = (m.to_string(), t.to_string());
                run(
                    &self.loadgen.display().to_string(),
                    &[
                        "--user-prefix",
                        prefix,
                        "--password",
                        "bench",
                        "setup-users",
                        "--db",
                        &tree.join("users.db").display().to_string(),
                        "--mail-root",
                        &tree.join("mail").display().to_string(),
                        "--passwd",
                        &tree.join("passwd").display().to_string(),
                        "--count",
                        &count.to_string(),
                        "--m-kib",
                        &m,
                        "--t",
                        &t,
                    ],
                    &[],
                )?;
            }
        }
        let template = self.work.join("templates");
        for (name, (count, size)) in [
            ("retr", s.retr),
            ("big", s.big),
            ("huge", (s.huge, 600)),
            ("dele", (s.dele, 600)),
        ] {
            let maildir = template.join(name);
            run(
                &self.loadgen.display().to_string(),
                &[
                    "fill",
                    "--maildir",
                    &maildir.display().to_string(),
                    "--count",
                    &count.to_string(),
                    "--size",
                    &size.to_string(),
                ],
                &[],
            )?;
        }
        for &kind in kinds {
            let mail = self.tree(kind).join("mail");
            for n in 0..4 {
                link_maildir(
                    &template.join("retr"),
                    &mail.join(format!("retr{n}/Maildir")),
                )?;
                link_maildir(&template.join("big"), &mail.join(format!("big{n}/Maildir")))?;
            }
            link_maildir(&template.join("huge"), &mail.join("huge0/Maildir"))?;
            if kind == Kind::Dovecot {
                run(
                    "chown",
                    &["-R", "nobody:nogroup", &mail.display().to_string()],
                    &[],
                )?;
            }
        }
        Ok(())
    }

    fn start(&self, kind: Kind) -> Result<Server> {
        self.start_with(kind, "")
    }

    /// Starts a server; `pop3d_auth` adds keys to pop3d's `[auth]` (Dovecot verifies whatever
    /// the passwd-file holds and never rehashes).
    fn start_with(&self, kind: Kind, pop3d_auth: &str) -> Result<Server> {
        let port = free_port()?;
        let dir = self.tree(kind);
        let child = match kind {
            Kind::Pop3d => {
                let config = dir.join("pop3d.toml");
                std::fs::write(
                    &config,
                    format!(
                        "[[listener]]\naddress = \"127.0.0.1:{port}\"\ntls = \"none\"\n\n[data]\n\
                         user_db = \"{db}\"\nmail_root = \"{mail}\"\n\n[limits]\nconnections = 30000\n\
                         connections_per_ip = 30000\n\n[timeouts]\nlogin_secs = 600\n\n[metrics]\nenabled = false\n\n\
                         [admin]\nenabled = false\n\n[log]\nlevel = \"warn\"\n\n[auth]\n{pop3d_auth}\n",
                        db = dir.join("users.db").display(),
                        mail = dir.join("mail").display(),
                    ),
                )?;
                Command::new("sh")
                    .args([
                        "-c",
                        "ulimit -n 200000 2>/dev/null || ulimit -n $(ulimit -Hn); exec \"$0\" --config \"$1\"",
                        &self.pop3d.display().to_string(),
                        &config.display().to_string(),
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()?
            }
            Kind::Dovecot => {
                let config = dir.join("dovecot.conf");
                std::fs::create_dir_all(dir.join("run"))?;
                std::fs::create_dir_all(dir.join("state"))?;
                std::fs::write(&config, dovecot_config(&dir, port))?;
                Command::new("sh")
                    .args([
                        "-c",
                        "ulimit -n 200000 2>/dev/null || ulimit -n $(ulimit -Hn); exec dovecot -F -c \"$0\"",
                        &config.display().to_string(),
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()?
            }
        };
        let server = Server {
            kind,
            child,
            port,
            dir,
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(30) {
                bail!("{} did not start", kind.name());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    fn round(&mut self, kind: Kind) -> Result<()> {
        let s_clients = self.sizes.login_clients.to_string();
        let s_seconds = self.sizes.login_seconds.to_string();
        // Cold stat-big: the first session after a start, with the page cache warmed first.
        warm(&self.tree(kind).join("mail/huge0"))?;
        let server = self.start(kind)?;
        let cold = self.loadgen(server.port, "huge", &["stat-big"])?;
        self.record("stat-big cold STAT", kind, ms(&cold, "pass_to_stat_ms"));
        let warm_run = self.loadgen(server.port, "huge", &["stat-big"])?;
        self.record("stat-big warm STAT", kind, ms(&warm_run, "pass_to_stat_ms"));
        self.record("stat-big warm LIST", kind, ms(&warm_run, "list_ms"));
        self.record("stat-big warm UIDL", kind, ms(&warm_run, "uidl_ms"));

        let r = self.loadgen(
            server.port,
            "bench",
            &["logins", "--clients", &s_clients, "--seconds", &s_seconds],
        )?;
        self.record(
            "logins default sessions/s",
            kind,
            ms(&r, "sessions_per_second"),
        );
        self.record("logins default p99 ms", kind, ms(&r, "p99_ms"));

        warm(&self.tree(kind).join("mail"))?;
        for clients in [1, 4] {
            let r = self.loadgen(
                server.port,
                "retr",
                &["retr", "--clients", &clients.to_string()],
            )?;
            self.record(
                &format!("retr 100KB x{clients} MB/s"),
                kind,
                ms(&r, "mb_per_second"),
            );
        }
        let r = self.loadgen(server.port, "big", &["retr", "--clients", "4"])?;
        self.record("retr 20MB x4 MB/s", kind, ms(&r, "mb_per_second"));

        let r = self.loadgen(
            server.port,
            "cheap",
            &["pipelined", "--commands", &self.sizes.pipelined.to_string()],
        )?;
        self.record("pipelined cmds/s", kind, ms(&r, "pipelined_per_second"));
        self.record(
            "one at a time cmds/s",
            kind,
            ms(&r, "one_at_a_time_per_second"),
        );

        let dele = self.tree(kind).join("mail/dele0/Maildir");
        let _ = std::fs::remove_dir_all(&dele);
        link_maildir(&self.work.join("templates/dele"), &dele)?;
        if kind == Kind::Dovecot {
            run(
                "chown",
                &["-R", "nobody:nogroup", &dele.display().to_string()],
                &[],
            )?;
        }
        let r = self.loadgen(server.port, "dele", &["dele-all"])?;
        self.record("dele-all DELEs ms", kind, ms(&r, "dele_ms"));
        self.record("dele-all QUIT ms", kind, ms(&r, "quit_ms"));
        let left = ["new", "cur"]
            .iter()
            .map(|d| std::fs::read_dir(dele.join(d)).map_or(0, |e| e.count()))
            .sum::<usize>();
        if left != 0 {
            bail!("{}: {left} messages left after dele-all", kind.name());
        }

        drop(server);

        // The cheap-hash logins: pop3d configured with the users' cheap parameters, since it
        // would otherwise upgrade their hashes to its configured cost at the first login.
        let server = self.start_with(kind, "argon2_m_kib = 8\nargon2_t = 1\n")?;
        let r = self.loadgen(
            server.port,
            "cheap",
            &["logins", "--clients", &s_clients, "--seconds", &s_seconds],
        )?;
        self.record(
            "logins cheap sessions/s",
            kind,
            ms(&r, "sessions_per_second"),
        );
        self.record("logins cheap p99 ms", kind, ms(&r, "p99_ms"));
        let one = self.loadgen(
            server.port,
            "cheap",
            &["logins", "--clients", "1", "--seconds", &s_seconds],
        )?;
        self.record("logins cheap 1 client p50 ms", kind, ms(&one, "p50_ms"));
        // Idle sessions on this server too: an upgrade to a 19 MiB hash at the first login
        // would leave argon2's memory resident and hide the per-session cost.
        for &sessions in &self.sizes.idle.clone() {
            // A size this machine cannot hold (descriptor limits) is reported, not fatal.
            match self.idle(&server, sessions) {
                Ok(rss) => self.record(&format!("idle RSS/session KB ({sessions})"), kind, rss),
                Err(e) => eprintln!(
                    "!!! {} could not hold {sessions} idle sessions: {e:#}",
                    kind.name()
                ),
            }
        }
        drop(server);
        Ok(())
    }

    /// Holds `sessions` logged-in sessions from a separate process and measures the server's
    /// total RSS (summed over its processes) per session, above its idle baseline.
    fn idle(&self, server: &Server, sessions: usize) -> Result<f64> {
        let before = rss_kb(server.child.id());
        let mut holder = Command::new("sh")
            .args([
                "-c",
                "ulimit -n 200000 2>/dev/null || ulimit -n $(ulimit -Hn); exec \"$0\" \"$@\"",
                &self.loadgen.display().to_string(),
            ])
            .args([
                "--addr",
                &format!("127.0.0.1:{}", server.port),
                "--user-prefix",
                "idle",
                "--password",
                "bench",
            ])
            .args(["idle", "--sessions", &sessions.to_string()])
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut lines = BufReader::new(holder.stdout.take().context("stdout")?).lines();
        let ready = lines.next().context("the idle holder exited")??;
        if !ready.contains("ready") {
            bail!("idle: {ready}");
        }
        let during = rss_kb(server.child.id());
        drop(holder.stdin.take());
        let _ = holder.wait();
        Ok((during.saturating_sub(before)) as f64 / sessions as f64)
    }

    /// Physical references: loopback TCP throughput and readdir + stat of the huge maildrop.
    fn references(&self) -> Result<Vec<(String, f64)>> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let receiver = std::thread::spawn(move || -> std::io::Result<u64> {
            let (mut stream, _) = listener.accept()?;
            let mut buf = vec![0u8; 256 * 1024];
            let mut total = 0u64;
            loop {
                let n = stream.read(&mut buf)?;
                if n == 0 {
                    return Ok(total);
                }
                total += n as u64;
            }
        });
        let chunk = vec![b'x'; 256 * 1024];
        let mut stream = TcpStream::connect(addr)?;
        let started = Instant::now();
        for _ in 0..4096 {
            stream.write_all(&chunk)?;
        }
        drop(stream);
        let total = receiver
            .join()
            .map_err(|_| anyhow::anyhow!("receiver panicked"))??;
        let tcp = total as f64 / 1e6 / started.elapsed().as_secs_f64();
        let cur = self.tree(Kind::Pop3d).join("mail/huge0/Maildir/cur");
        let started = Instant::now();
        let mut files = 0;
        for entry in std::fs::read_dir(&cur)? {
            std::fs::symlink_metadata(entry?.path())?;
            files += 1;
        }
        let stat_ms = started.elapsed().as_secs_f64() * 1e3;
        Ok(vec![
            ("loopback TCP, one stream, MB/s".into(), tcp),
            (format!("readdir + stat of {files} files, ms"), stat_ms),
        ])
    }

    fn report(&self, kinds: &[Kind], references: &[(String, f64)]) -> String {
        let mut text = String::new();
        text.push_str(
            "| scenario | pop3d | Dovecot | pop3d/Dovecot | pop3d spread | A/A pop3d | A/A Dovecot |\n\
             |---|---|---|---|---|---|---|\n",
        );
        let scenarios: Vec<&String> = {
            let mut seen = Vec::new();
            for (scenario, _) in self.results.keys() {
                if !seen.contains(&scenario) {
                    seen.push(scenario);
                }
            }
            seen
        };
        for scenario in scenarios {
            let median = |kind| {
                self.results
                    .get(&(scenario.clone(), kind))
                    .map(|v| median(v))
            };
            let a = median(Kind::Pop3d);
            let b = if kinds.contains(&Kind::Dovecot) {
                median(Kind::Dovecot)
            } else {
                None
            };
            let spread = self
                .results
                .get(&(scenario.clone(), Kind::Pop3d))
                .map(|v| spread(v))
                .unwrap_or(0.0);
            let ratio = match (a, b) {
                (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
                _ => "-".into(),
            };
            // A against A: each server's first round over its second, in the same run. Its
            // distance from 1.00 is the noise any pop3d/Dovecot ratio carries.
            let a_vs_a = |kind| {
                self.results
                    .get(&(scenario.clone(), kind))
                    .filter(|v| v.len() >= 2 && v[1] > 0.0)
                    .map_or("-".into(), |v| format!("{:.2}", v[0] / v[1]))
            };
            text.push_str(&format!(
                "| {scenario} | {} | {} | {ratio} | ±{:.0}% | {} | {} |\n",
                a.map_or("-".into(), |v| format!("{v:.1}")),
                b.map_or("-".into(), |v| format!("{v:.1}")),
                spread * 100.0,
                a_vs_a(Kind::Pop3d),
                a_vs_a(Kind::Dovecot),
            ));
        }
        if !references.is_empty() {
            text.push_str("\n| physical reference (same run) | value |\n|---|---|\n");
            for (name, value) in references {
                text.push_str(&format!("| {name} | {value:.1} |\n"));
            }
        }
        text
    }
}

fn ms(value: &Value, key: &str) -> f64 {
    value[key].as_f64().unwrap_or(0.0)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    sorted[sorted.len() / 2]
}

/// Half the relative distance between the best and worst round: the noise level.
fn spread(values: &[f64]) -> f64 {
    let (min, max) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if min <= 0.0 {
        0.0
    } else {
        (max - min) / (max + min)
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn which(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Hard-links a template Maildir's files into a fresh Maildir (cp -al).
fn link_maildir(template: &Path, target: &Path) -> Result<()> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let _ = std::fs::remove_dir_all(target);
    run(
        "cp",
        &[
            "-al",
            &template.display().to_string(),
            &target.display().to_string(),
        ],
        &[],
    )
}

/// Reads every file below `dir`, so "cold" means a fresh server with a warm page cache.
fn warm(dir: &Path) -> Result<()> {
    let mut stack = vec![dir.to_owned()];
    let mut buf = vec![0u8; 1 << 20];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(mut file) = std::fs::File::open(&path) {
                while file.read(&mut buf)? > 0 {}
            }
        }
    }
    Ok(())
}

/// VmRSS of `pid` and all its descendants, in KiB.
fn rss_kb(pid: u32) -> u64 {
    let mut parents: BTreeMap<u32, u32> = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
                continue;
            };
            let after = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
            if let Some(ppid) = after.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
                parents.insert(child, ppid);
            }
        }
    }
    let in_tree = |mut p: u32| {
        while p > 1 {
            if p == pid {
                return true;
            }
            p = parents.get(&p).copied().unwrap_or(0);
        }
        false
    };
    parents
        .keys()
        .filter(|&&p| in_tree(p))
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .filter_map(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .sum()
}

fn dovecot_config(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        "protocols = pop3\nlisten = 127.0.0.1\nbase_dir = {d}/run\nstate_dir = {d}/state\n\
         instance_name = pop3d-bench\nlog_path = {d}/dovecot.log\nssl = no\n\
         disable_plaintext_auth = no\nauth_mechanisms = plain login\n\
         mail_location = maildir:{d}/mail/%u/Maildir\n\
         default_internal_user = dovecot\ndefault_login_user = dovenull\nfirst_valid_uid = 0\n\
         passdb {{\n  driver = passwd-file\n  args = scheme=ARGON2ID {d}/passwd\n}}\n\
         userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={d}/mail/%u\n}}\n\
         default_client_limit = 30000\ndefault_vsz_limit = 0\n\
         service pop3-login {{\n  inet_listener pop3 {{\n    port = {port}\n  }}\n  inet_listener pop3s {{\n    port = 0\n  }}\n\
         \x20 service_count = 0\n  client_limit = 15000\n  process_min_avail = 2\n  process_limit = 2\n}}\n\
         service pop3 {{\n  service_count = 0\n  client_limit = 15000\n  process_min_avail = 2\n  process_limit = 2\n}}\n\
         service auth {{\n  client_limit = 40000\n}}\n\
         service anvil {{\n  client_limit = 40000\n}}\n\
         protocol pop3 {{\n  pop3_lock_session = yes\n  pop3_fast_size_lookups = no\n}}\n"
    )
}

/// Replaces the generated section of docs/performance.md.
fn write_report(root: &Path, report: &str) -> Result<()> {
    let path = root.join("docs/performance.md");
    let text = std::fs::read_to_string(&path)?;
    let begin = "<!-- bench:servers:begin -->";
    let end = "<!-- bench:servers:end -->";
    let section = format!(
        "{begin}\nGenerated by `cargo xtask bench --servers` (medians of 3 alternating rounds).\n\n{report}{end}"
    );
    let updated = match (text.find(begin), text.find(end)) {
        (Some(b), Some(e)) => format!("{}{section}{}", &text[..b], &text[e + end.len()..]),
        _ => format!("{text}\n## pop3d versus Dovecot\n\n{section}\n"),
    };
    std::fs::write(&path, updated)?;
    Ok(())
}
