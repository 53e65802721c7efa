//! Issue 14's measurement: the PSS of a real `pop3d` fresh, after login storms, and again
//! after a pause, read from `/proc/<pid>/smaps_rollup`.
//!
//! ```text
//! cargo build --release -p pop3-server
//! cargo run --release -p pop3-server --example login_memory -- target/release/pop3d \
//!     [logins=200] [clients=16] [storms=2] [hash_concurrency=0]
//! ```
//!
//! Users get realistic hashes (argon2id m=19456 t=2 p=1, the default); each client logs in as
//! its own user (USER, PASS, STAT, QUIT) until the storm's logins are done. The server runs
//! with `hash_concurrency` as given (0: one per CPU, the default).

#![allow(clippy::print_stdout)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use pop3_auth::UserStore as _;
use pop3_auth::{HashParams, PasswordHasher, UserDb, UserName, default_maildir};
use pop3_maildrop::Maildir;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pop3d = args
        .first()
        .context("usage: login_memory <pop3d> [logins] [clients] [storms] [hash_concurrency]")?;
    let number = |i: usize, default: usize| -> Result<usize> {
        args.get(i)
            .map_or(Ok(default), |s| s.parse().context("not a number"))
    };
    let (logins, clients, storms, concurrency) = (
        number(1, 200)?,
        number(2, 16)?,
        number(3, 2)?,
        number(4, 0)?,
    );

    let dir = tempfile::tempdir()?;
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    setup(dir.path(), clients)?;
    let config = dir.path().join("pop3d.toml");
    std::fs::write(
        &config,
        format!(
            "[[listener]]\naddress = \"127.0.0.1:{port}\"\ntls = \"none\"\n\n[data]\n\
             user_db = \"{db}\"\nmail_root = \"{mail}\"\n\n[metrics]\nenabled = false\n\n\
             [admin]\nenabled = false\n\n[log]\nlevel = \"warn\"\n\n[auth]\n\
             hash_concurrency = {concurrency}\n",
            db = dir.path().join("users.db").display(),
            mail = dir.path().join("mail").display(),
        ),
    )?;
    let mut server = Server(
        Command::new(pop3d)
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {pop3d}"))?,
    );
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        ensure!(
            started.elapsed() < Duration::from_secs(30),
            "pop3d did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = server.0.id();
    std::thread::sleep(Duration::from_secs(1));
    println!("fresh: {:.1} MiB PSS", pss_mib(pid)?);
    for storm in 1..=storms {
        let start = Instant::now();
        storm_logins(port, logins, clients)?;
        let took = start.elapsed();
        println!(
            "storm {storm}: {logins} logins from {clients} clients in {:.2} s; right after: {:.1} MiB PSS",
            took.as_secs_f64(),
            pss_mib(pid)?
        );
        std::thread::sleep(Duration::from_secs(5));
        println!("storm {storm}: 5 s later: {:.1} MiB PSS", pss_mib(pid)?);
    }
    server.0.kill()?;
    Ok(())
}

/// Kills the server on every exit path.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `bench0..bench<n-1>`, password `bench`, default argon2id cost, empty Maildirs.
fn setup(dir: &Path, users: usize) -> Result<()> {
    let db = UserDb::open(&dir.join("users.db"))?;
    let hasher = PasswordHasher::new(HashParams::default())?;
    for n in 0..users {
        let name = UserName::parse(&format!("bench{n}"))?;
        let maildir = default_maildir(&dir.join("mail"), &name);
        db.add(&name, b"bench", &maildir, &hasher)?;
        Maildir::create(&maildir)?;
    }
    Ok(())
}

/// `logins` logins shared by `clients` threads, each as its own user.
fn storm_logins(port: u16, logins: usize, clients: usize) -> Result<()> {
    let left = Arc::new(AtomicUsize::new(logins));
    let threads: Vec<_> = (0..clients)
        .map(|n| {
            let left = left.clone();
            std::thread::spawn(move || -> Result<()> {
                while left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| l.checked_sub(1))
                    .is_ok()
                {
                    login(port, &format!("bench{n}"))?;
                }
                Ok(())
            })
        })
        .collect();
    for thread in threads {
        match thread.join() {
            Ok(result) => result?,
            Err(_) => bail!("a client thread panicked"),
        }
    }
    Ok(())
}

fn login(port: u16, user: &str) -> Result<()> {
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut line = String::new();
    for command in ["", "USER ", "PASS ", "STAT", "QUIT"] {
        let argument = match command {
            "USER " => user,
            "PASS " => "bench",
            _ => "",
        };
        if !command.is_empty() {
            write!(writer, "{command}{argument}\r\n")?;
        }
        line.clear();
        reader.read_line(&mut line)?;
        ensure!(
            line.starts_with("+OK"),
            "{command}{argument}: {}",
            line.trim_end()
        );
    }
    Ok(())
}

/// The `Pss:` line of `/proc/<pid>/smaps_rollup`, in MiB.
fn pss_mib(pid: u32) -> Result<f64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
    let kib: f64 = rollup
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no Pss line")?;
    Ok(kib / 1024.0)
}
