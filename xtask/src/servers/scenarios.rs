//! One round of every scenario against one server, the idle-session memory measurement,
//! and the physical references of the same run.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::corpus::{link_maildir, warm};
use super::server::Server;
use super::{Bench, Kind};
use crate::process::run;

impl Bench {
    pub(super) fn round(&mut self, kind: Kind) -> Result<()> {
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
    pub(super) fn references(&self) -> Result<Vec<(String, f64)>> {
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
}

fn ms(value: &Value, key: &str) -> f64 {
    value[key].as_f64().unwrap_or(0.0)
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
