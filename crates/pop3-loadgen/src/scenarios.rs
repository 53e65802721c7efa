//! The benchmark scenarios. Each returns its figures as JSON; timing is measured here, on the
//! client side, so the same numbers are comparable across servers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::{Value, json};

use crate::client::Client;

/// Where to connect and how to log in; users are `<prefix><n>` with one password.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: String,
    pub user_prefix: String,
    pub password: String,
}

impl Target {
    pub fn user(&self, n: usize) -> String {
        format!("{}{n}", self.user_prefix)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index].as_secs_f64() * 1e3
}

/// `clients` tasks loop connect, USER/PASS, STAT, QUIT for `run`, or until `total` sessions
/// have started (a login storm of a fixed size).
pub async fn logins(
    target: &Target,
    clients: usize,
    run: Duration,
    total: Option<usize>,
) -> Result<Value> {
    let started = Instant::now();
    let deadline = started + run;
    let begun = Arc::new(AtomicUsize::new(0));
    let total = total.unwrap_or(usize::MAX);
    let mut tasks = Vec::new();
    for n in 0..clients {
        let target = target.clone();
        let begun = Arc::clone(&begun);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline && begun.fetch_add(1, Ordering::Relaxed) < total {
                let t0 = Instant::now();
                let mut client = Client::connect(&target.addr).await?;
                client.login(&target.user(n), &target.password).await?;
                client.command_ok("STAT").await?;
                client.quit().await?;
                latencies.push(t0.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    Ok(json!({
        "scenario": "logins",
        "clients": clients,
        "sessions": latencies.len(),
        "sessions_per_second": latencies.len() as f64 / elapsed,
        "p50_ms": percentile(&latencies, 0.5),
        "p99_ms": percentile(&latencies, 0.99),
    }))
}

/// Each of `clients` users downloads its whole maildrop; octets are checked against LIST.
pub async fn retr(target: &Target, clients: usize) -> Result<Value> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..clients {
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(&target.addr).await?;
            client.login(&target.user(n), &target.password).await?;
            client.send(b"LIST\r\n").await?;
            client.expect_ok().await?;
            let mut sizes = Vec::new();
            loop {
                let line = client.read_line().await?;
                if line == "." {
                    break;
                }
                let size: u64 = line.split_whitespace().nth(1).unwrap_or("0").parse()?;
                sizes.push(size);
            }
            let mut octets = 0u64;
            for (i, size) in sizes.iter().enumerate() {
                client.command_ok(&format!("RETR {}", i + 1)).await?;
                let got = client.body_octets().await?;
                if got != *size {
                    bail!(
                        "message {} of {}: {got} octets, LIST said {size}",
                        i + 1,
                        target.user(n)
                    );
                }
                octets += got;
            }
            client.quit().await?;
            anyhow::Ok((sizes.len(), octets))
        }));
    }
    let (mut messages, mut octets) = (0, 0u64);
    for task in tasks {
        let (m, o) = task.await??;
        messages += m;
        octets += o;
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(json!({
        "scenario": "retr",
        "clients": clients,
        "messages": messages,
        "octets": octets,
        "mb_per_second": octets as f64 / 1e6 / elapsed,
    }))
}

/// Time from PASS to STAT's +OK, then LIST and UIDL in full, on one (large) maildrop.
pub async fn stat_big(target: &Target) -> Result<Value> {
    let mut client = Client::connect(&target.addr).await?;
    client
        .command_ok(&format!("USER {}", target.user(0)))
        .await?;
    let t0 = Instant::now();
    client
        .command_ok(&format!("PASS {}", target.password))
        .await?;
    let status = client.command_ok("STAT").await?;
    let stat_ms = t0.elapsed().as_secs_f64() * 1e3;
    let t1 = Instant::now();
    client.command_ok("LIST").await?;
    client.skip_body().await?;
    let list_ms = t1.elapsed().as_secs_f64() * 1e3;
    let t2 = Instant::now();
    client.command_ok("UIDL").await?;
    client.skip_body().await?;
    let uidl_ms = t2.elapsed().as_secs_f64() * 1e3;
    client.quit().await?;
    Ok(json!({
        "scenario": "stat-big",
        "stat": status,
        "pass_to_stat_ms": stat_ms,
        "list_ms": list_ms,
        "uidl_ms": uidl_ms,
    }))
}

/// DELE every message (pipelined in batches), then QUIT; the time to QUIT's +OK is UPDATE.
pub async fn dele_all(target: &Target) -> Result<Value> {
    let mut client = Client::connect(&target.addr).await?;
    client.login(&target.user(0), &target.password).await?;
    let stat = client.command_ok("STAT").await?;
    let count: usize = stat.split_whitespace().nth(1).unwrap_or("0").parse()?;
    let t0 = Instant::now();
    for batch in (1..=count).collect::<Vec<_>>().chunks(200) {
        let commands: String = batch.iter().map(|n| format!("DELE {n}\r\n")).collect();
        client.send(commands.as_bytes()).await?;
        for _ in batch {
            client.expect_ok().await?;
        }
    }
    let dele_ms = t0.elapsed().as_secs_f64() * 1e3;
    let t1 = Instant::now();
    client.command_ok("QUIT").await?;
    let quit_ms = t1.elapsed().as_secs_f64() * 1e3;
    Ok(json!({"scenario": "dele-all", "messages": count, "dele_ms": dele_ms, "quit_ms": quit_ms}))
}

/// The same `commands` STATs one at a time, then pipelined in batches.
pub async fn pipelined(target: &Target, commands: usize) -> Result<Value> {
    let mut client = Client::connect(&target.addr).await?;
    client.login(&target.user(0), &target.password).await?;
    let t0 = Instant::now();
    for _ in 0..commands {
        client.command_ok("STAT").await?;
    }
    let one_at_a_time = commands as f64 / t0.elapsed().as_secs_f64();
    let batch = "STAT\r\n".repeat(256);
    let t1 = Instant::now();
    let mut done = 0;
    while done < commands {
        let n = 256.min(commands - done);
        client.send(&batch.as_bytes()[..n * 6]).await?;
        for _ in 0..n {
            client.expect_ok().await?;
        }
        done += n;
    }
    let pipelined = commands as f64 / t1.elapsed().as_secs_f64();
    client.quit().await?;
    Ok(json!({
        "scenario": "pipelined",
        "commands": commands,
        "one_at_a_time_per_second": one_at_a_time,
        "pipelined_per_second": pipelined,
    }))
}

/// Opens `sessions` logged-in sessions (one user each), prints a `ready` line, holds them until
/// stdin closes, then QUITs them all.
pub async fn idle(target: &Target, sessions: usize) -> Result<Value> {
    let mut clients = Vec::with_capacity(sessions);
    let started = Instant::now();
    for chunk in (0..sessions).collect::<Vec<_>>().chunks(100) {
        let mut tasks = Vec::new();
        for &n in chunk {
            let target = target.clone();
            tasks.push(tokio::spawn(async move {
                let mut client = Client::connect(&target.addr).await?;
                client.login(&target.user(n), &target.password).await?;
                anyhow::Ok(client)
            }));
        }
        for task in tasks {
            clients.push(task.await??);
        }
    }
    println!(
        "{}",
        json!({"ready": sessions, "open_ms": started.elapsed().as_secs_f64() * 1e3})
    );
    let mut line = String::new();
    tokio::task::spawn_blocking(move || std::io::stdin().read_line(&mut line)).await??;
    let held = clients.len();
    for client in clients {
        client.quit().await?;
    }
    Ok(json!({"scenario": "idle", "sessions": held}))
}
