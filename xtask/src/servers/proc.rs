//! What `/proc` says about a server: its processes (the one pop3d process, or a Dovecot
//! master with every process it forked), their summed PSS and their CPU time.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// `pid` and every process below it, `pid` first.
pub(super) fn tree(pid: u32) -> Vec<u32> {
    let parents = parents();
    let in_tree = |mut p: u32| {
        while p > 1 {
            if p == pid {
                return true;
            }
            p = parents.get(&p).copied().unwrap_or(0);
        }
        false
    };
    let mut pids: Vec<u32> = parents.keys().copied().filter(|&p| in_tree(p)).collect();
    pids.sort_by_key(|&p| p != pid);
    pids
}

/// Proportional set size of the process tree, in KiB: `Pss:` of `/proc/<pid>/smaps_rollup`
/// summed, so that pages shared between Dovecot's processes count once in all.
pub(super) fn pss_kb(pid: u32) -> u64 {
    tree(pid)
        .iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).ok())
        .filter_map(|rollup| {
            rollup
                .lines()
                .find(|l| l.starts_with("Pss:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .sum()
}

/// CPU time of the process tree in ms: utime + stime of every live process, plus cutime +
/// cstime (children that exited and were reaped inside the tree).
pub(super) fn cpu_ms(pid: u32, ticks_per_second: f64) -> f64 {
    let ticks: u64 = tree(pid)
        .iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .map(|stat| {
            // Fields after the command name: state is field 3; utime..cstime are 14..17.
            let after = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
            after
                .split_whitespace()
                .skip(11)
                .take(4)
                .filter_map(|f| f.parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum();
    ticks as f64 * 1e3 / ticks_per_second
}

/// The clock ticks per second that `/proc/<pid>/stat` counts in.
pub(super) fn ticks_per_second() -> Result<f64> {
    let out = Command::new("getconf").arg("CLK_TCK").output()?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .context("getconf CLK_TCK")
}

/// Waits until none of `pids` runs any more (gone, or a zombie), at most `timeout`.
pub(super) fn wait_gone(pids: &[u32], timeout: Duration) {
    let started = Instant::now();
    let running = |p: &u32| {
        std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|stat| {
            let after = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
            !after.starts_with('Z')
        })
    };
    while pids.iter().any(running) && started.elapsed() < timeout {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Every process's parent.
fn parents() -> BTreeMap<u32, u32> {
    let mut parents = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return parents;
    };
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
    parents
}
