use super::*;

#[test]
fn a_second_login_within_the_delay_is_refused_and_does_not_extend_it() {
    let delays = LoginDelays::new();
    let t0 = Instant::now();
    assert!(delays.admit("alice", 60, t0));
    assert!(!delays.admit("alice", 60, t0 + Duration::from_secs(59)));
    assert!(delays.admit("bob", 60, t0 + Duration::from_secs(1)));
    // The refused attempt at 59 s did not restart the delay.
    assert!(delays.admit("alice", 60, t0 + Duration::from_secs(60)));
}

#[test]
fn each_user_has_their_own_delay() {
    let delays = LoginDelays::new();
    let t0 = Instant::now();
    assert!(delays.admit("alice", 900, t0));
    assert!(delays.admit("bob", 0, t0));
    let later = t0 + Duration::from_secs(120);
    assert!(!delays.admit("alice", 900, later));
    assert!(delays.admit("bob", 0, later));
    // The delay checked is the current one: lowered, it applies at once.
    assert!(delays.admit("alice", 60, later));
    assert!(!delays.admit("alice", 60, later + Duration::from_secs(59)));
}
