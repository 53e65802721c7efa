//! One round of every scenario against one server, and the physical references of the
//! same run. Scenarios that need a fresh server of their own are in `fresh`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use anyhow::{Result, bail};
use serde_json::Value;

use super::corpus::{CHEAP, REALISTIC, chown_nobody, link_maildir, warm};
use super::fresh::argon2_config;
use super::server::Server;
use super::{Bench, Kind};

impl Bench {
    /// Every scenario once: those of the realistic users on a server configured for their
    /// argon2id cost, the cheap logins on one configured cheap (pop3d rehashes any hash
    /// whose parameters differ from its configuration), then the fresh-server scenarios.
    pub(super) fn round(&mut self, kind: Kind) -> Result<()> {
        // Cold stat-big: the first session after a start, with the page cache warmed first.
        warm(&self.tree(kind).join("mail/huge0"))?;
        let server = self.start_with(kind, &argon2_config(REALISTIC))?;
        self.stat_big_and_logins(&server, kind)?;
        self.retr_and_pipelining(&server, kind)?;
        self.new_mail(&server, kind)?;
        self.dele_all(&server, kind)?;
        drop(server);
        let server = self.start_with(kind, &argon2_config(CHEAP))?;
        self.cheap_logins(&server, kind)?;
        drop(server);
        self.storm(kind)?;
        self.idle_styles(kind)
    }

    fn stat_big_and_logins(&mut self, server: &Server, kind: Kind) -> Result<()> {
        let cold = self.loadgen(server.port, "huge", &["stat-big"])?;
        self.record("stat-big cold STAT", kind, ms(&cold, "pass_to_stat_ms"));
        let warm_run = self.loadgen(server.port, "huge", &["stat-big"])?;
        self.record("stat-big warm STAT", kind, ms(&warm_run, "pass_to_stat_ms"));
        self.record("stat-big warm LIST", kind, ms(&warm_run, "list_ms"));
        self.record("stat-big warm UIDL", kind, ms(&warm_run, "uidl_ms"));
        let r = self.loadgen(server.port, "bench", &self.login_args())?;
        let name = "logins realistic m=19456 t=2";
        self.record(
            &format!("{name} sessions/s"),
            kind,
            ms(&r, "sessions_per_second"),
        );
        self.record(&format!("{name} p99 ms"), kind, ms(&r, "p99_ms"));
        Ok(())
    }

    fn retr_and_pipelining(&mut self, server: &Server, kind: Kind) -> Result<()> {
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
        let commands = self.sizes.pipelined.to_string();
        let r = self.loadgen(server.port, "pipe", &["pipelined", "--commands", &commands])?;
        self.record(
            "pipelined STAT cmds/s",
            kind,
            ms(&r, "pipelined_per_second"),
        );
        self.record(
            "one at a time STAT cmds/s",
            kind,
            ms(&r, "one_at_a_time_per_second"),
        );
        let r = self.loadgen(server.port, "pipe", &["mixed"])?;
        let name = format!("mixed LIST/UIDL/RETR n x{}", self.sizes.mixed);
        self.record(
            &format!("{name} pipelined cmds/s"),
            kind,
            ms(&r, "pipelined_per_second"),
        );
        self.record(
            &format!("{name} lockstep cmds/s"),
            kind,
            ms(&r, "lockstep_per_second"),
        );
        self.record(&format!("{name} speed-up x"), kind, ms(&r, "speedup"));
        Ok(())
    }

    /// One Postfix-style delivery, then the next login's PASS→STAT, a few times per round.
    fn new_mail(&mut self, server: &Server, kind: Kind) -> Result<()> {
        let maildir = self.tree(kind).join("mail/fresh0/Maildir");
        let repeats = self.sizes.new_mail;
        let first = 1_000_000 + self.round * repeats;
        let r = self.loadgen(
            server.port,
            "fresh",
            &[
                "new-mail",
                "--maildir",
                &maildir.display().to_string(),
                "--repeats",
                &repeats.to_string(),
                "--first",
                &first.to_string(),
            ],
        )?;
        let name = format!(
            "new mail, next login PASS->STAT ms ({} msgs)",
            self.sizes.huge
        );
        self.record(&name, kind, ms(&r, "pass_to_stat_ms"));
        Ok(())
    }

    fn dele_all(&mut self, server: &Server, kind: Kind) -> Result<()> {
        let dele = self.tree(kind).join("mail/dele0/Maildir");
        link_maildir(&self.work.join("templates/dele"), &dele)?;
        if kind == Kind::Dovecot {
            chown_nobody(&dele)?;
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
        Ok(())
    }

    /// The cheap-hash users on a server configured with their parameters.
    fn cheap_logins(&mut self, server: &Server, kind: Kind) -> Result<()> {
        let r = self.loadgen(server.port, "cheap", &self.login_args())?;
        let name = "logins cheap m=8 t=1";
        self.record(
            &format!("{name} sessions/s"),
            kind,
            ms(&r, "sessions_per_second"),
        );
        self.record(&format!("{name} p99 ms"), kind, ms(&r, "p99_ms"));
        let seconds = self.sizes.login_seconds.to_string();
        let one = self.loadgen(
            server.port,
            "cheap",
            &["logins", "--clients", "1", "--seconds", &seconds],
        )?;
        self.record(&format!("{name} 1 client p50 ms"), kind, ms(&one, "p50_ms"));
        Ok(())
    }

    fn login_args(&self) -> Vec<String> {
        let clients = self.sizes.login_clients.to_string();
        let seconds = self.sizes.login_seconds.to_string();
        ["logins", "--clients", &clients, "--seconds", &seconds]
            .map(String::from)
            .to_vec()
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
