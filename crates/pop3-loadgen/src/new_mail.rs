//! The second login right after new mail: a maildrop already logged into once gets one
//! Postfix-style delivery, then the next login's PASS→STAT is timed.

use std::path::Path;
use std::time::Instant;

use anyhow::{Result, bail};
use serde_json::{Value, json};

use crate::client::Client;
use crate::scenarios::Target;
use crate::setup::deliver_postfix;

/// One untimed login (so that any cache or listing exists), then `repeats` times: deliver one
/// message numbered from `first` into `maildir`, log in, time PASS to STAT's `+OK`, and check
/// that STAT counts the new message.
pub async fn new_mail(
    target: &Target,
    maildir: &Path,
    repeats: usize,
    first: u64,
) -> Result<Value> {
    let (mut count, _) = login_stat(target).await?;
    let mut times = Vec::with_capacity(repeats);
    for i in 0..repeats {
        deliver_postfix(maildir, first + i as u64)?;
        let (after, ms) = login_stat(target).await?;
        if after != count + 1 {
            bail!("STAT said {after} messages after a delivery to {count}");
        }
        count = after;
        times.push(ms);
    }
    times.sort_by(f64::total_cmp);
    let median = times.get(times.len() / 2).copied().unwrap_or(0.0);
    Ok(json!({
        "scenario": "new-mail",
        "messages": count,
        "pass_to_stat_ms": median,
        "all_ms": times,
    }))
}

/// A session of user 0: USER, PASS, STAT, QUIT; the message count and PASS→STAT in ms.
async fn login_stat(target: &Target) -> Result<(u64, f64)> {
    let mut client = Client::connect(&target.addr).await?;
    client
        .command_ok(&format!("USER {}", target.user(0)))
        .await?;
    let t0 = Instant::now();
    client
        .command_ok(&format!("PASS {}", target.password))
        .await?;
    let stat = client.command_ok("STAT").await?;
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    client.quit().await?;
    let count = stat.split_whitespace().nth(1).unwrap_or("").parse()?;
    Ok((count, ms))
}
