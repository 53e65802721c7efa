//! The pool never holds more memories than permits, and a released memory is the next one lent.

use std::time::Duration;

use pop3_auth::{HashMemory, HashParams, PasswordHasher, Verification};

use super::HashPermits;

fn cheap() -> PasswordHasher {
    PasswordHasher::new(HashParams {
        m_kib: 64,
        t: 1,
        p: 1,
    })
    .unwrap()
}

#[tokio::test]
async fn issue_14_memory_is_reused_not_reallocated() {
    let permits = HashPermits::new(4, HashMemory::new());
    let hasher = cheap();
    for _ in 0..20 {
        let mut permit = permits.acquire().await.unwrap();
        let kept_before = permit.memory().kept_kib();
        hasher.hash_with(b"password", permit.memory()).unwrap();
        assert_eq!(permit.memory().kept_kib(), 64);
        // Only the very first hash finds the memory empty: later ones get it back sized.
        assert!(kept_before == 0 || kept_before == 64);
    }
    assert_eq!(permits.created(), 1, "one hash at a time needs one memory");
    let mut permit = permits.acquire().await.unwrap();
    assert_eq!(permit.memory().kept_kib(), 64, "the used memory came back");
}

#[tokio::test]
async fn issue_14_never_more_memories_than_permits() {
    let permits = HashPermits::new(3, HashMemory::new());
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(permits.acquire().await.unwrap());
    }
    assert_eq!(permits.created(), 3);
    // A fourth hash waits for a permit instead of allocating a fourth memory.
    let waited = tokio::time::timeout(Duration::from_millis(50), permits.acquire()).await;
    assert!(waited.is_err(), "a fourth permit was handed out");
    held.clear();
    for round in 0..10 {
        let burst: Vec<_> = futures_burst(&permits, 1 + round % 3).await;
        assert_eq!(permits.created(), 3, "round {round}");
        drop(burst);
    }
}

#[tokio::test]
async fn concurrent_hashes_share_the_pool() {
    let permits = std::sync::Arc::new(HashPermits::new(2, HashMemory::new()));
    let hasher = std::sync::Arc::new(cheap());
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
    assert!(permits.created() <= 2, "created {}", permits.created());
}

async fn futures_burst(permits: &HashPermits, n: usize) -> Vec<super::HashPermit> {
    let mut burst = Vec::new();
    for _ in 0..n {
        burst.push(permits.acquire().await.unwrap());
    }
    burst
}
