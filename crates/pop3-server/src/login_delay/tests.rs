use super::*;

#[test]
fn a_second_login_within_the_delay_is_refused_and_does_not_extend_it() {
    let delays = LoginDelays::new(Some(60)).unwrap();
    let t0 = Instant::now();
    assert!(delays.admit("alice", t0));
    assert!(!delays.admit("alice", t0 + Duration::from_secs(59)));
    assert!(delays.admit("bob", t0 + Duration::from_secs(1)));
    // The refused attempt at 59 s did not restart the delay.
    assert!(delays.admit("alice", t0 + Duration::from_secs(60)));
}

#[test]
fn no_delay_means_no_tracker() {
    assert!(LoginDelays::new(None).is_none());
    assert!(LoginDelays::new(Some(0)).is_none());
}
