//! Pipelined `LIST n` / `UIDL n` / `RETR n` over a whole maildrop (RFC 2449 PIPELINING)
//! against the same commands in lockstep, every reply checked.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::client::{Client, Expect};
use crate::scenarios::Target;

/// One session: learns LIST and UIDL, runs the script once untimed (page cache), then one
/// command at a time, then all of it written at once.
pub async fn mixed(target: &Target) -> Result<Value> {
    let mut client = Client::connect(&target.addr).await?;
    client.login(&target.user(0), &target.password).await?;
    let sizes = listing(&mut client, "LIST").await?;
    let uids = listing(&mut client, "UIDL").await?;
    if sizes.len() != uids.len() || sizes.is_empty() {
        bail!("LIST has {} entries, UIDL {}", sizes.len(), uids.len());
    }
    let (commands, replies) = script(&sizes, &uids)?;
    let all = commands.concat();
    client.pipeline(all.as_bytes(), &replies).await?;
    let t0 = Instant::now();
    for (command, reply) in commands.iter().zip(&replies) {
        client
            .pipeline(command.as_bytes(), std::slice::from_ref(reply))
            .await?;
    }
    let lockstep = commands.len() as f64 / t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    client.pipeline(all.as_bytes(), &replies).await?;
    let pipelined = commands.len() as f64 / t1.elapsed().as_secs_f64();
    client.quit().await?;
    Ok(json!({
        "scenario": "mixed",
        "commands": commands.len(),
        "lockstep_per_second": lockstep,
        "pipelined_per_second": pipelined,
        "speedup": pipelined / lockstep,
    }))
}

/// The multi-line reply of `command` as (message number, second field) pairs.
async fn listing(client: &mut Client, command: &str) -> Result<Vec<(String, String)>> {
    client.command_ok(command).await?;
    let mut entries = Vec::new();
    loop {
        let line = client.read_line().await?;
        if line == "." {
            return Ok(entries);
        }
        let (n, value) = line
            .split_once(' ')
            .with_context(|| format!("{command}: {line:?}"))?;
        entries.push((n.to_owned(), value.to_owned()));
    }
}

/// `LIST n`, `UIDL n`, `RETR n` for every message, with the reply each must get.
fn script(
    sizes: &[(String, String)],
    uids: &[(String, String)],
) -> Result<(Vec<String>, Vec<Expect>)> {
    let mut commands = Vec::with_capacity(sizes.len() * 3);
    let mut replies = Vec::with_capacity(sizes.len() * 3);
    for ((n, size), (_, uid)) in sizes.iter().zip(uids) {
        let octets: u64 = size
            .parse()
            .with_context(|| format!("LIST size {size:?}"))?;
        commands.push(format!("LIST {n}\r\n"));
        replies.push(Expect::Line(format!("+OK {n} {size}")));
        commands.push(format!("UIDL {n}\r\n"));
        replies.push(Expect::Line(format!("+OK {n} {uid}")));
        commands.push(format!("RETR {n}\r\n"));
        replies.push(Expect::Body(octets));
    }
    Ok((commands, replies))
}

#[cfg(test)]
mod tests;
