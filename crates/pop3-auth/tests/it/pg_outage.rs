//! Issue 18: the PostgreSQL store when the database misbehaves, on a cluster of this test's
//! own: restarted under an idle pool, and frozen (it takes connections and never answers).

use std::time::{Duration, Instant};

use pop3_auth::test_util::PgCluster;
use pop3_auth::{PgStore, UserName, UserStore};

use crate::support::hasher;

#[test]
fn issue_18_postgres_restarted_or_frozen_under_the_pool() {
    let Some(cluster) = PgCluster::start() else {
        return;
    };
    let mut settings = cluster.database("outage");
    settings.connect_timeout = Duration::from_secs(1);
    let alice = UserName::parse("alice").unwrap();
    let admin = PgStore::open(&settings, true).unwrap();
    admin
        .add(&alice, b"secret", std::path::Path::new("/m/a"), &hasher())
        .unwrap();

    // A restart while the pool's connection sits idle: the first read after it finds that
    // connection dead and is tried once more on a new one, so it succeeds.
    let store = PgStore::new(&settings, false);
    assert!(store.get(&alice).unwrap().is_some());
    cluster.stop();
    let down = store.get(&alice).unwrap_err();
    assert!(down.is_temporary(), "{down}");
    cluster.resume();
    // The failure opened the pool's breaker: checkouts fail at once for 1 s, then recover.
    let back = Instant::now();
    let breaker = store.get(&alice).unwrap_err();
    assert!(breaker.is_temporary(), "{breaker}");
    while store.get(&alice).is_err() {
        assert!(back.elapsed() < Duration::from_millis(1500), "no recovery");
        std::thread::sleep(Duration::from_millis(20));
    }
    cluster.stop();
    cluster.resume();
    assert!(
        store.get(&alice).unwrap().is_some(),
        "stale connection retried"
    );

    // A postmaster that takes the connection and never answers: given up on after the
    // connect timeout (the client's own covers only the socket's connect).
    let fresh = PgStore::new(&settings, false);
    cluster.freeze();
    let started = Instant::now();
    let frozen = fresh.get(&alice).unwrap_err();
    let took = started.elapsed();
    cluster.thaw();
    assert!(frozen.is_temporary(), "{frozen}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    let back = Instant::now();
    while fresh.get(&alice).is_err() {
        assert!(back.elapsed() < Duration::from_secs(5), "no recovery");
        std::thread::sleep(Duration::from_millis(50));
    }
}
