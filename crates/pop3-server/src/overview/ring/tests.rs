use super::*;

const T0: u64 = 1_795_000_000;

fn reading(sessions: i64, logins_ok: u64, bytes_sent: u64) -> Reading {
    Reading {
        sessions: LiveCounts {
            transaction: sessions,
            ..LiveCounts::default()
        },
        totals: Totals {
            logins_ok,
            logins_failed: logins_ok / 2,
            retrieved: logins_ok,
            deleted: logins_ok / 3,
        },
        bytes_sent,
    }
}

#[test]
fn each_second_keeps_what_happened_in_it() {
    let mut ring = Ring::new();
    ring.record(T0, reading(1, 2, 100));
    ring.record(T0 + 1, reading(3, 5, 1_100));
    ring.record(T0 + 2, reading(0, 5, 1_100));
    let history = ring.history();
    assert_eq!(history.end, T0 + 2);
    assert_eq!(history.transaction, [1, 3, 0]);
    assert_eq!(history.authorization, [0, 0, 0]);
    assert_eq!(history.logins_ok, [2, 3, 0], "the first counts from zero");
    assert_eq!(history.logins_failed, [1, 1, 0]);
    assert_eq!(history.bytes_sent, [100, 1_000, 0]);
    assert_eq!(history.retrieved, [2, 3, 0]);
    assert_eq!(history.deleted, [0, 1, 0]);
}

#[test]
fn missed_seconds_are_idle_slots_and_a_repeated_second_adds_up() {
    let mut ring = Ring::new();
    ring.record(T0, reading(2, 0, 0));
    ring.record(T0 + 3, reading(1, 4, 40));
    assert_eq!(ring.history().transaction, [2, 2, 2, 1]);
    assert_eq!(ring.history().logins_ok, [0, 0, 0, 4]);
    // The clock stepped back: the last slot takes it.
    ring.record(T0 + 2, reading(5, 6, 50));
    let history = ring.history();
    assert_eq!(history.end, T0 + 3);
    assert_eq!(history.transaction, [2, 2, 2, 5]);
    assert_eq!(history.logins_ok, [0, 0, 0, 6]);
    assert_eq!(history.bytes_sent, [0, 0, 0, 50]);
}

/// Issue 20: the memory is fixed whatever the traffic and however long the server runs.
#[test]
fn the_ring_never_holds_more_than_fifteen_minutes() {
    let mut ring = Ring::new();
    let (_, capacity) = ring.size();
    assert!(capacity >= HISTORY_SLOTS);
    for i in 0..5_000u64 {
        ring.record(
            T0 + i,
            reading(i as i64 % 7, i * 1_000, i * u64::from(u32::MAX)),
        );
        let (len, now_capacity) = ring.size();
        assert!(len <= HISTORY_SLOTS);
        assert_eq!(now_capacity, capacity, "never reallocated");
    }
    let history = ring.history();
    assert_eq!(history.len(), HISTORY_SLOTS);
    assert_eq!(history.end, T0 + 4_999);
    assert_eq!(history.logins_ok.last(), Some(&1_000));
    // A jump of a day fills the ring with idle slots, no more.
    ring.record(T0 + 90_000, reading(0, 4_999_000, 0));
    assert_eq!(ring.size().0, HISTORY_SLOTS);
    assert_eq!(ring.history().logins_ok.iter().sum::<u32>(), 0);
}
