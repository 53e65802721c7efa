//! A PostgreSQL that stops answering in the middle of queries (review of issue 18): the whole
//! cluster (postmaster and backends) frozen with SIGSTOP while more logins than the pool has
//! connections and the machine has CPUs are in flight. The connections stay open and nobody
//! answers on them, so only pop3d's own deadline ends a login stuck in a query.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::postgres::{login_again_within, server_on_postgres_with, stat_and_retr, try_login};

/// The pool: smaller than the number of logins in flight.
const POOL: usize = 2;
/// Logins in flight at once: more than the pool and than the hash permits (2).
const WORKERS: usize = 6;
/// `[data.postgres]`: 1 s to connect, 1 s per statement, so the login deadline
/// (`user_db::deadline`: connect + statement + 2 s) is 4 s.
const POSTGRES: &str = "pool_size = 2\nconnect_timeout_secs = 1\nstatement_timeout_secs = 1";
/// Every login answers within this while the cluster is frozen: the deadline and 1 s of slack.
const BOUND: Duration = Duration::from_secs(5);
/// How long the cluster stays frozen: longer than `BOUND`, so a login stuck until the thaw
/// would show.
const FROZEN: Duration = Duration::from_secs(7);
/// How soon after the thaw a login must succeed (the breaker is open at most 1 s).
const RECOVERY: Duration = Duration::from_secs(2);

/// One login of a worker: when it started, how long it took, its reply.
struct Attempt {
    started: Instant,
    took: Duration,
    reply: String,
}

#[test]
fn review_frozen_postgres_logins_answer_sys_temp_in_bound_sessions_go_on_and_recover() {
    let Some((cluster, server)) =
        server_on_postgres_with(&["alice", "bob"], "hash_concurrency = 2", POSTGRES)
    else {
        return;
    };
    const { assert!(POOL < WORKERS) };
    let (reply, _) = try_login(&server, "bob");
    assert!(reply.starts_with("+OK"), "{reply}");
    let mut alice = server.greet();
    alice.login("alice", "secret");

    let server = Arc::new(server);
    let stop = Arc::new(AtomicBool::new(false));
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (server, stop, attempts) = (server.clone(), stop.clone(), attempts.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let (reply, took) = try_login(&server, "bob");
                    attempts.lock().unwrap().push(Attempt {
                        started,
                        took,
                        reply,
                    });
                }
            })
        })
        .collect();
    // Logins in flight, succeeding, before the freeze.
    let warm = Instant::now() + Duration::from_secs(10);
    while attempts.lock().unwrap().len() < 2 * WORKERS {
        assert!(Instant::now() < warm, "no logins before the freeze");
        std::thread::yield_now();
    }

    cluster.freeze_all();
    let frozen = Instant::now();
    while frozen.elapsed() < FROZEN {
        stat_and_retr(&mut alice);
        std::thread::sleep(Duration::from_millis(500));
    }
    cluster.thaw_all();
    let thawed = Instant::now();
    // Polled with a deadline: the first success after the thaw.
    let recovered = login_again_within(&server, RECOVERY, "the thaw");
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().unwrap();
    }
    stat_and_retr(&mut alice);
    assert!(alice.command("QUIT").starts_with("+OK"));

    let attempts = attempts.lock().unwrap();
    let mut during = 0;
    let mut slowest = Duration::ZERO;
    for attempt in attempts.iter() {
        let ended = attempt.started + attempt.took;
        if ended < frozen || attempt.started > thawed {
            continue;
        }
        // In flight at some moment of the freeze.
        slowest = slowest.max(attempt.took);
        assert!(
            attempt.took < BOUND,
            "a login took {:?} with PostgreSQL frozen (bound {BOUND:?}): {}",
            attempt.took,
            attempt.reply
        );
        if attempt.started > frozen && ended < thawed {
            during += 1;
            assert!(
                attempt.reply.starts_with("-ERR [SYS/TEMP]"),
                "{}",
                attempt.reply
            );
        }
    }
    assert!(
        during >= WORKERS,
        "only {during} logins ran during the freeze"
    );
    eprintln!(
        "frozen cluster: {} logins, {during} during the freeze, the slowest {slowest:?}, \
         recovered after {recovered:?}",
        attempts.len()
    );
}
