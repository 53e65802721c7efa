//! Throttle arithmetic, on a clock the test moves by hand.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use pop3_auth::{Throttle, ThrottleConfig};

const S: fn(u64) -> Duration = Duration::from_secs;

fn ip(last: u8) -> IpAddr {
    IpAddr::from([192, 0, 2, last])
}

#[test]
fn penalty_doubles_up_to_the_cap_and_decays() {
    let mut t = Throttle::new(ThrottleConfig::default());
    let start = Instant::now();
    let a = ip(1);
    assert_eq!(t.before_attempt(a, start), Duration::ZERO);
    let mut penalties = Vec::new();
    for _ in 0..7 {
        let verdict = t.after_failure(a, "alice", start);
        assert_eq!(verdict.delay, S(2), "every failure is answered after 2 s");
        penalties.push(t.before_attempt(a, start).as_secs());
    }
    assert_eq!(penalties, [1, 2, 4, 8, 15, 15, 15]);
    // Halves per minute without failures, gone below the start value.
    assert_eq!(t.before_attempt(a, start + S(59)), S(15));
    assert_eq!(t.before_attempt(a, start + S(60)).as_millis(), 7_500);
    assert_eq!(t.before_attempt(a, start + S(120)).as_millis(), 3_750);
    assert_eq!(t.before_attempt(a, start + S(240)), Duration::ZERO);
    // A failure after decay starts from what is left.
    t.after_failure(a, "alice", start + S(60));
    assert_eq!(t.before_attempt(a, start + S(60)), S(15));
}

#[test]
fn the_real_user_from_another_address_is_not_slowed() {
    let mut t = Throttle::new(ThrottleConfig::default());
    let now = Instant::now();
    let attacker = ip(66);
    let mut target = false;
    for _ in 0..25 {
        target |= t.after_failure(attacker, "alice", now).spraying_target;
    }
    assert!(target, "alice is reported as a spraying target");
    assert_eq!(t.before_attempt(attacker, now), S(15));
    assert_eq!(
        t.before_attempt(ip(7), now),
        Duration::ZERO,
        "other addresses are free"
    );
    // Issue 15 item 10: a success no longer clears the address's penalty (it decays).
    t.after_success("alice");
    assert_eq!(
        t.before_attempt(attacker, now),
        S(15),
        "a success does not clear the address's penalty"
    );
}

#[test]
fn spraying_window_expires() {
    let config = ThrottleConfig {
        user_threshold: 3,
        ..ThrottleConfig::default()
    };
    let mut t = Throttle::new(config);
    let now = Instant::now();
    assert!(!t.after_failure(ip(1), "bob", now).spraying_target);
    assert!(!t.after_failure(ip(2), "bob", now + S(1)).spraying_target);
    assert!(t.after_failure(ip(3), "bob", now + S(2)).spraying_target);
    // Ten minutes later the window restarts.
    assert!(!t.after_failure(ip(4), "bob", now + S(700)).spraying_target);
}

#[test]
fn memory_is_bounded() {
    let config = ThrottleConfig {
        max_tracked: 100,
        ..ThrottleConfig::default()
    };
    let mut t = Throttle::new(config);
    let start = Instant::now();
    for i in 0..1000u32 {
        let address = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
        t.after_failure(
            address,
            &format!("user{i}"),
            start + Duration::from_millis(u64::from(i)),
        );
    }
    let (addresses, users) = t.tracked();
    assert!(addresses <= 100 && users <= 100, "{addresses} {users}");
    // The most recent survive.
    assert!(
        t.before_attempt(IpAddr::from((0x0a00_0000u32 + 999).to_be_bytes()), start)
            > Duration::ZERO
    );
}

/// Issue 15 item 10: a success by user A from address X leaves the penalty earned by failures
/// on user B from X, and clears only A's own failure count.
#[test]
fn issue_15_a_success_does_not_reset_another_users_penalty() {
    let config = ThrottleConfig {
        user_threshold: 3,
        ..ThrottleConfig::default()
    };
    let mut t = Throttle::new(config);
    let now = Instant::now();
    let nat = ip(9);
    for _ in 0..4 {
        t.after_failure(nat, "bob", now);
    }
    t.after_failure(nat, "alice", now);
    t.after_failure(nat, "alice", now);
    assert_eq!(t.before_attempt(nat, now), S(15));
    t.after_success("alice");
    assert_eq!(
        t.before_attempt(nat, now),
        S(15),
        "alice's success does not reset the penalty earned guessing bob"
    );
    // Alice's count starts again; bob's does not.
    assert!(!t.after_failure(ip(10), "alice", now).spraying_target);
    assert!(!t.after_failure(ip(10), "alice", now).spraying_target);
    assert!(t.after_failure(ip(10), "bob", now).spraying_target);
}

/// Issue 15 item 10: 100,000 distinct failing names (up to 2 KB each) keep both maps under
/// the cap, in bounded time: a full map used to scan all its entries for every new one
/// (over three minutes here for this loop; now well under a second).
#[test]
fn issue_15_many_distinct_names_stay_under_the_cap() {
    let began = std::time::Instant::now();
    let mut t = Throttle::new(ThrottleConfig::default());
    let cap = ThrottleConfig::default().max_tracked;
    let start = Instant::now();
    let long = "x".repeat(2000);
    for i in 0..100_000u32 {
        let address = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
        let now = start + Duration::from_millis(u64::from(i));
        t.after_failure(address, &format!("{long}{i}"), now);
        let (addresses, users) = t.tracked();
        assert!(addresses <= cap && users <= cap, "{i}: {addresses} {users}");
    }
    let (addresses, users) = t.tracked();
    assert!(addresses > 0 && users > 0);
    let took = began.elapsed();
    assert!(took < S(30), "100,000 failures took {took:?}");
}

/// Issue 15 item 10: entries expire: a name after its window, an address once its penalty
/// has decayed away; a full map then holds only the live ones.
#[test]
fn issue_15_entries_expire_after_their_time() {
    let config = ThrottleConfig {
        max_tracked: 10,
        ..ThrottleConfig::default()
    };
    let mut t = Throttle::new(config.clone());
    let start = Instant::now();
    for i in 0..10u8 {
        t.after_failure(ip(i), &format!("user{i}"), start);
    }
    assert_eq!(t.tracked(), (10, 10));
    // Past the user window (600 s) and the decay of a 15 s penalty (4 half-lives of 60 s).
    let later = start + config.user_window + S(1);
    t.after_failure(ip(100), "new", later);
    assert_eq!(t.tracked(), (1, 1), "every expired entry is gone");
    // An address whose penalty has not decayed yet is not expired.
    let mut t = Throttle::new(config);
    for i in 0..10u8 {
        t.after_failure(ip(i), &format!("user{i}"), start);
    }
    t.after_failure(ip(100), "new", start + S(60));
    let (addresses, _) = t.tracked();
    assert!(addresses > 1, "live penalties are kept: {addresses}");
}

/// Issue 20: the admin overview's failing addresses, most recent first, bounded, each with
/// the penalty it has now (decayed ones included, at zero).
#[test]
fn recent_failures_are_the_latest_addresses_with_their_current_penalty() {
    let mut t = Throttle::new(ThrottleConfig::default());
    let start = Instant::now();
    for last in 1..=20u8 {
        t.after_failure(ip(last), "alice", start + S(u64::from(last)));
    }
    t.after_failure(ip(3), "alice", start + S(30));
    let now = start + S(30);
    let recent = t.recent_failures(now, 5);
    let addresses: Vec<IpAddr> = recent.iter().map(|r| r.address).collect();
    assert_eq!(addresses, [ip(3), ip(20), ip(19), ip(18), ip(17)]);
    assert_eq!(recent[0].penalty, S(2), "two failures: doubled");
    assert_eq!(recent[0].last_failure, now);
    assert_eq!(recent[1].penalty, S(1));
    assert!(t.recent_failures(now, 0).is_empty());
    assert_eq!(
        t.recent_failures(now, 100).len(),
        20,
        "every tracked address"
    );
    let later = t.recent_failures(start + S(600), 1);
    assert_eq!(later[0].address, ip(3));
    assert_eq!(later[0].penalty, Duration::ZERO, "decayed, still listed");
}
