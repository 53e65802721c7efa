//! Authentication cost with the default argon2id parameters (19 MiB, t=2, p=1):
//! - the time of one verification, for a real user with the right and a wrong password, and
//!   for an unknown and a disabled user (which must cost the same: the dummy hash);
//! - login throughput with one and with two threads (one per core here).
//!
//! Every hash runs in a reused `HashMemory`, as in the server (one per hash permit).
//!
//! `cargo bench -p pop3-auth --bench auth` (`-- --quick` for fewer samples).

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::path::Path;
use std::time::{Duration, Instant};

use pop3_auth::{
    Authenticator, Credential, HashMemory, HashParams, Outcome, UserDb, UserName, UserStore as _,
};

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let samples = if quick { 9 } else { 41 };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.db");
    let params = HashParams::default();
    let auth = Authenticator::new(params, false).unwrap();
    let db = UserDb::open(&path).unwrap();
    for name in ["alice", "dave"] {
        let name = UserName::parse(name).unwrap();
        db.add(
            &name,
            b"correct horse",
            Path::new("/var/mail/x/Maildir"),
            auth.hasher(),
        )
        .unwrap();
    }
    db.set_enabled(&UserName::parse("dave").unwrap(), false)
        .unwrap();
    println!(
        "auth benchmark: argon2id m={} KiB t={} p={}, median of {samples} interleaved samples\n",
        params.m_kib, params.t, params.p
    );

    let cases: [(&str, &str, &[u8]); 4] = [
        ("real user, right password", "alice", b"correct horse"),
        ("real user, wrong password", "alice", b"wrong horse"),
        ("unknown user", "mallory", b"correct horse"),
        ("disabled user", "dave", b"correct horse"),
    ];
    // Interleave the cases so that drift on a shared machine hits them alike.
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
    let mut memory = HashMemory::new();
    for _ in 0..samples {
        for (i, (_, name, password)) in cases.iter().enumerate() {
            let start = Instant::now();
            let outcome = auth
                .authenticate_with(&db, name, Credential::Password(password), &mut memory)
                .unwrap();
            times[i].push(start.elapsed());
            assert_eq!(matches!(outcome, Outcome::Accepted(_)), i == 0);
        }
    }
    let medians: Vec<Duration> = times.iter_mut().map(|t| median(t)).collect();
    for ((label, ..), m) in cases.iter().zip(&medians) {
        let diff = (m.as_secs_f64() / medians[1].as_secs_f64() - 1.0) * 100.0;
        println!(
            "{label:<28} {:>7.2} ms   {diff:>+6.1}% vs wrong password",
            m.as_secs_f64() * 1e3
        );
    }

    println!();
    let seconds = if quick { 1 } else { 3 };
    for threads in [1, 2] {
        let rate = throughput(&path, params, threads, Duration::from_secs(seconds));
        println!("logins/s with {threads} thread(s)        {rate:>7.1}");
    }
}

fn throughput(path: &Path, params: HashParams, threads: usize, run: Duration) -> f64 {
    let total: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let auth = Authenticator::new(params, false).unwrap();
                    let db = UserDb::open(path).unwrap();
                    let deadline = Instant::now() + run;
                    let mut count = 0;
                    let mut memory = HashMemory::new();
                    while Instant::now() < deadline {
                        let outcome = auth
                            .authenticate_with(
                                &db,
                                "alice",
                                Credential::Password(b"correct horse"),
                                &mut memory,
                            )
                            .unwrap();
                        assert!(matches!(outcome, Outcome::Accepted(_)));
                        count += 1;
                    }
                    count
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    total as f64 / run.as_secs_f64()
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
