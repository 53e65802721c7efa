use std::time::Duration;

use super::*;

const T0: u64 = 1_795_000_000;

/// A monotonic instant `millis` after a fixed origin.
fn mono(millis: u64) -> Instant {
    thread_local!(static ORIGIN: Instant = Instant::now());
    ORIGIN.with(|origin| *origin + Duration::from_millis(millis))
}

/// Records at `i` seconds on both clocks, the wall one from [`T0`].
fn record(ring: &mut Ring, i: u64, reading: Reading) {
    ring.record(mono(i * 1_000), T0 + i, reading);
}

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
    record(&mut ring, 0, reading(1, 2, 100));
    record(&mut ring, 1, reading(3, 5, 1_100));
    record(&mut ring, 2, reading(0, 5, 1_100));
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
fn missed_seconds_are_idle_slots() {
    let mut ring = Ring::new();
    record(&mut ring, 0, reading(2, 0, 0));
    record(&mut ring, 3, reading(1, 4, 40));
    assert_eq!(ring.history().transaction, [2, 2, 2, 1]);
    assert_eq!(ring.history().logins_ok, [0, 0, 0, 4]);
    assert_eq!(ring.history().end, T0 + 3);
}

/// Issue 20 review S1: a wall clock stepped back an hour (NTP, an administrator) keeps one
/// slot per tick — the slots follow the monotonic clock — and only `end` follows the wall
/// clock. Indexed by wall seconds, every later second piled into the last slot for an hour.
#[test]
fn a_wall_clock_stepped_back_keeps_one_slot_per_tick() {
    let mut ring = Ring::new();
    record(&mut ring, 0, reading(1, 0, 0));
    record(&mut ring, 1, reading(1, 1, 100));
    for i in 2..6u64 {
        ring.record(mono(i * 1_000), T0 + i - 3_600, reading(1, i, i * 100));
    }
    let history = ring.history();
    assert_eq!(history.len(), 6);
    assert_eq!(history.logins_ok, [0, 1, 1, 1, 1, 1]);
    assert_eq!(history.bytes_sent, [0, 100, 100, 100, 100, 100]);
    assert_eq!(history.end, T0 + 5 - 3_600, "end is the wall clock's");
}

/// Issue 20 review S1: a 1 s interval on the monotonic clock drifts against wall seconds
/// (here 30 ms late each tick, from 0.95 s past a wall second): every tick is one slot,
/// never an empty one then a double one where a tick crosses a wall-second boundary.
#[test]
fn a_drifting_interval_gives_no_empty_then_double_slot() {
    let mut ring = Ring::new();
    let mut millis = 950;
    for i in 0..40u64 {
        let wall = T0 + millis / 1_000;
        ring.record(mono(millis), wall, reading(1, i, i * 10));
        millis += 1_030;
    }
    let history = ring.history();
    assert_eq!(history.len(), 40);
    assert!(
        history.logins_ok[1..].iter().all(|&n| n == 1),
        "{:?}",
        history.logins_ok
    );
    assert!(
        history.bytes_sent[1..].iter().all(|&n| n == 10),
        "{:?}",
        history.bytes_sent
    );
}

/// Issue 20: the memory is fixed whatever the traffic and however long the server runs.
#[test]
fn the_ring_never_holds_more_than_fifteen_minutes() {
    let mut ring = Ring::new();
    let (_, capacity) = ring.size();
    assert!(capacity >= HISTORY_SLOTS);
    for i in 0..5_000u64 {
        record(
            &mut ring,
            i,
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
    record(&mut ring, 90_000, reading(0, 4_999_000, 0));
    assert_eq!(ring.size().0, HISTORY_SLOTS);
    assert_eq!(ring.history().logins_ok.iter().sum::<u32>(), 0);
}
