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
    t.after_success(attacker);
    assert_eq!(
        t.before_attempt(attacker, now),
        Duration::ZERO,
        "a success clears"
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
