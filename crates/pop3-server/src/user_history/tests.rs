use pop3_admin_api::EndedSession;

use super::*;

fn ended(id: u64) -> EndedSession {
    EndedSession {
        id,
        started: 1_795_000_000 + id,
        ended: 1_795_000_010 + id,
        remote: "192.0.2.7:50123".into(),
        tls: true,
        mechanism: "USER".into(),
        retrieved: 1,
        deleted: 0,
        bytes_sent: 100,
        end: "quit".into(),
    }
}

/// Issue 20: whatever the traffic, the history holds at most `max_users × per_user`
/// sessions; each user keeps their most recent ones, newest first. The traffic: 100,000
/// sessions, every other one by one of 500 regular users, the rest each by a new user. Run
/// with small bounds, and with the configuration's defaults (review S3: 20,000 × 10).
#[test]
fn the_history_is_bounded_per_user_and_in_users() {
    let defaults = pop3_config::HistoryBounds::default();
    for (per_user, max_users) in [(20, 1_000), (defaults.sessions_per_user, defaults.users)] {
        bounded(per_user, max_users);
    }
}

fn bounded(per_user: usize, max_users: usize) {
    let mut history = UserHistory::with_bounds(per_user, max_users);
    let name = |id: u64| match id % 2 {
        0 => format!("regular{}", id / 2 % 500),
        _ => format!("passer{id}"),
    };
    for id in 0..100_000u64 {
        history.record(&name(id), ended(id));
        if id % 97 == 0 {
            let (users, sessions) = history.held();
            assert!(users <= max_users, "{users} users after {id}");
            assert!(sessions <= max_users * per_user);
        }
    }
    // 500 regulars with their last sessions, and the passers seen last.
    assert_eq!(
        history.held(),
        (max_users, 500 * per_user + (max_users - 500))
    );
    let kept = history.sessions("regular499");
    assert_eq!(kept.len(), per_user);
    assert_eq!(kept[0].id, 99_998, "newest first");
    assert_eq!(
        kept[per_user - 1].id,
        99_998 - (per_user as u64 - 1) * 1_000
    );
    assert_eq!(history.sessions("passer99999").len(), 1);
    assert!(history.sessions("passer1").is_empty(), "forgotten (LRU)");
    assert!(history.sessions("nobody").is_empty());
}

/// The least recently *used* user goes, not the first inserted: a user who logs in again
/// stays.
#[test]
fn the_user_seen_longest_ago_is_forgotten_first() {
    let mut history = UserHistory::with_bounds(2, 2);
    history.record("alice", ended(1));
    history.record("bob", ended(2));
    history.record("alice", ended(3));
    history.record("carol", ended(4));
    assert!(history.sessions("bob").is_empty());
    let alice: Vec<u64> = history.sessions("alice").iter().map(|s| s.id).collect();
    assert_eq!(alice, [3, 1]);
    history.record("alice", ended(5));
    let alice: Vec<u64> = history.sessions("alice").iter().map(|s| s.id).collect();
    assert_eq!(alice, [5, 3], "at most two per user");
    assert_eq!(history.held(), (2, 3));
}

/// The worst-case memory documented on `pop3_config::HistoryBounds` counts 128 bytes for a
/// session's record (its strings apart): keep it true.
#[test]
fn a_session_record_is_as_small_as_documented() {
    assert!(std::mem::size_of::<EndedSession>() <= 128);
}
