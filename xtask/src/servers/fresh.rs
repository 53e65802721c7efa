//! Scenarios that need a server of their own, started just for them: memory after a login
//! storm with the CPU time per login, and the PSS of idle authenticated sessions on both
//! name styles.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::corpus::{CHEAP, REALISTIC};
use super::proc::{cpu_ms, pss_kb, ticks_per_second};
use super::server::Server;
use super::{Bench, Kind};

/// How long a fresh server is left alone before its first measurement (Dovecot forks its
/// `process_min_avail` processes after it starts listening). Part of what "fresh" means.
const SETTLE: Duration = Duration::from_secs(1);

/// After the last logout of the storm, the memory is measured this much later: what a
/// server gives back (or keeps) once the burst is over.
const AFTER_STORM: Duration = Duration::from_secs(5);

/// pop3d's `[auth]` for the given argon2id cost (p = 1), so that no login rehashes.
pub(super) fn argon2_config((m_kib, t): (u32, u32)) -> String {
    format!("argon2_m_kib = {m_kib}\nargon2_t = {t}\nargon2_p = 1\n")
}

impl Bench {
    /// A fresh server configured for realistic argon2id: PSS, then `storm` logins of the
    /// realistic users from the login clients, CPU time of the server's processes during
    /// them, PSS again 5 s after the last logout.
    pub(super) fn storm(&mut self, kind: Kind) -> Result<()> {
        let server = self.start_with(kind, &argon2_config(REALISTIC))?;
        std::thread::sleep(SETTLE);
        let pid = server.child.id();
        let ticks = ticks_per_second()?;
        let fresh = pss_kb(pid);
        let cpu = cpu_ms(pid, ticks);
        let r = self.loadgen(
            server.port,
            "bench",
            &[
                "logins",
                "--clients",
                &self.sizes.login_clients.to_string(),
                "--seconds",
                "600",
                "--total",
                &self.sizes.storm.to_string(),
            ],
        )?;
        let cpu = cpu_ms(pid, ticks) - cpu;
        let logins = r["sessions"].as_f64().unwrap_or(0.0);
        if logins < 1.0 {
            bail!("storm: no login completed");
        }
        std::thread::sleep(AFTER_STORM);
        let after = pss_kb(pid);
        let storm = self.sizes.storm;
        self.record("storm PSS fresh MB", kind, fresh as f64 / 1024.0);
        self.record(
            &format!("storm PSS after-fresh MB ({storm} logins, +5 s)"),
            kind,
            (after as f64 - fresh as f64) / 1024.0,
        );
        self.record("CPU/login ms (realistic argon2)", kind, cpu / logins);
        Ok(())
    }

    /// Idle sessions of users with 3 small messages each, on both name styles, each size on
    /// a fresh server configured for their cheap hashes. A size this machine cannot hold
    /// (descriptor limits) is reported, not fatal.
    pub(super) fn idle_styles(&mut self, kind: Kind) -> Result<()> {
        for (prefix, style) in [("idlep", "Postfix"), ("idlew", "W=")] {
            for &sessions in &self.sizes.idle.clone() {
                let server = self.start_with(kind, &argon2_config(CHEAP))?;
                match self.idle(&server, prefix, sessions) {
                    Ok(kb) => self.record(
                        &format!("idle PSS/session KB {style} ({sessions})"),
                        kind,
                        kb,
                    ),
                    Err(e) => eprintln!(
                        "!!! {} could not hold {sessions} idle sessions ({style}): {e:#}",
                        kind.name()
                    ),
                }
            }
        }
        Ok(())
    }

    /// Holds `sessions` logged-in sessions from a separate process and measures the server's
    /// PSS per session above its fresh baseline.
    fn idle(&self, server: &Server, prefix: &str, sessions: usize) -> Result<f64> {
        std::thread::sleep(SETTLE);
        let before = pss_kb(server.child.id());
        let mut holder = Command::new("sh")
            .args([
                "-c",
                "ulimit -n 200000 2>/dev/null || ulimit -n $(ulimit -Hn); exec \"$0\" \"$@\"",
                &self.loadgen.display().to_string(),
            ])
            .args(["--addr", &format!("127.0.0.1:{}", server.port)])
            .args(["--user-prefix", prefix, "--password", "bench"])
            .args(["idle", "--sessions", &sessions.to_string()])
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = holder.stdout.take().context("stdout")?;
        let ready = BufReader::new(stdout).lines().next();
        let during = pss_kb(server.child.id());
        // Closing stdin makes the holder QUIT its sessions; it is reaped on every path.
        drop(holder.stdin.take());
        let _ = holder.wait();
        let ready = ready.context("the idle holder exited")??;
        if !ready.contains("ready") {
            bail!("idle: {ready}");
        }
        Ok(during.saturating_sub(before) as f64 / sessions as f64)
    }
}
