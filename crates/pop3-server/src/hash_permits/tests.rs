//! The pool never holds more memories than permits, hands a released memory to a waiting
//! hash, and holds none once no hash runs or waits.

use std::sync::Arc;
use std::time::Duration;

use pop3_auth::{HashParams, PasswordHasher, Verification};

use super::HashPermits;

/// Two lanes: libsodium takes one only, so these hashes run in the permit's memory.
fn cheap() -> PasswordHasher {
    PasswordHasher::new(HashParams {
        m_kib: 64,
        t: 1,
        p: 2,
    })
    .unwrap()
}

#[tokio::test]
async fn issue_14_an_idle_pool_holds_no_memory() {
    let permits = HashPermits::new(4);
    let hasher = cheap();
    assert_eq!(permits.created(), 0, "nothing before the first hash");
    for _ in 0..5 {
        let mut permit = permits.acquire().await.unwrap();
        hasher.hash_with(b"password", permit.memory()).unwrap();
        assert_eq!(permit.memory().kept_kib(), 64);
        assert_eq!(permits.created(), 1);
        drop(permit);
        assert_eq!(permits.created(), 0, "freed: nobody was waiting");
    }
}

#[tokio::test]
async fn issue_14_a_waiting_hash_gets_the_released_memory() {
    let permits = Arc::new(HashPermits::new(1));
    let hasher = cheap();
    let mut first = permits.acquire().await.unwrap();
    hasher.hash_with(b"password", first.memory()).unwrap();
    let waiter = {
        let permits = permits.clone();
        // A new memory would be empty (0 KiB kept); the released one comes sized.
        tokio::spawn(async move { permits.acquire().await.unwrap().memory().kept_kib() })
    };
    while permits.waiting() == 0 {
        tokio::task::yield_now().await;
    }
    drop(first);
    assert_eq!(
        waiter.await.unwrap(),
        64,
        "the released blocks, already sized"
    );
    assert_eq!(permits.created(), 0, "and freed once nobody waited");
}

#[tokio::test]
async fn issue_14_never_more_memories_than_permits() {
    let permits = HashPermits::new(3);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(permits.acquire().await.unwrap());
    }
    assert_eq!(permits.created(), 3);
    // A fourth hash waits for a permit instead of allocating a fourth memory.
    let waited = tokio::time::timeout(Duration::from_millis(50), permits.acquire()).await;
    assert!(waited.is_err(), "a fourth permit was handed out");
    assert_eq!(permits.waiting(), 0, "a cancelled wait is not counted");
    held.clear();
    assert_eq!(permits.created(), 0);
}

#[tokio::test]
async fn concurrent_hashes_share_the_pool() {
    let permits = Arc::new(HashPermits::new(2));
    let hasher = Arc::new(cheap());
    let mut tasks = Vec::new();
    for n in 0..16 {
        let (permits, hasher) = (permits.clone(), hasher.clone());
        tasks.push(tokio::spawn(async move {
            let mut permit = permits.acquire().await.unwrap();
            tokio::task::spawn_blocking(move || {
                let password = format!("password {n}");
                let phc = hasher
                    .hash_with(password.as_bytes(), permit.memory())
                    .unwrap();
                let verdict = hasher.verify_with(password.as_bytes(), &phc, permit.memory());
                assert_eq!(
                    verdict,
                    Verification::Match {
                        needs_rehash: false
                    }
                );
            })
            .await
            .unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        permits.created(),
        0,
        "all given back once the burst is over"
    );
}
