use std::sync::Arc;

use super::*;

fn progress(bytes_sent: u64) -> SessionProgress {
    SessionProgress {
        state: "TRANSACTION",
        command: None,
        tls: false,
        bytes_sent,
        retrieved: 0,
        marked: 0,
    }
}

/// Issue 20: the octets of ended sessions stay in the total the overview samples, so a
/// session ending never makes the bytes per second go backwards.
#[test]
fn bytes_sent_counts_ended_sessions_too() {
    let registry = Arc::new(Registry::default());
    let remote: SocketAddr = "192.0.2.7:50123".parse().unwrap();
    let first = registry.open_session(1, remote, "none", false);
    let second = registry.open_session(2, remote, "none", false);
    first.show_progress(progress(1_000));
    second.show_progress(progress(30));
    assert_eq!(registry.bytes_sent(), 1_030);
    drop(first);
    assert_eq!(registry.bytes_sent(), 1_030);
    second.show_progress(progress(50));
    drop(second);
    assert_eq!(registry.bytes_sent(), 1_050);
}

#[test]
fn the_oldest_lock_is_the_one_held_longest() {
    let registry = Arc::new(Registry::default());
    let remote: SocketAddr = "192.0.2.7:50123".parse().unwrap();
    assert!(registry.oldest_lock().is_none());
    let first = registry.open_session(1, remote, "none", false);
    let second = registry.open_session(2, remote, "none", false);
    let _a = first.hold_lock("alice");
    let _b = second.hold_lock("bob");
    registry.lock().locks.get_mut(&2).unwrap().since -= 100;
    assert_eq!(registry.oldest_lock().map(|l| l.user), Some("bob".into()));
}

/// Issue 20 review D1: each chunk of a RETR moves the session's `bytes_sent` (so the octets
/// per second move during it), and the ended total counts those octets once.
#[test]
fn a_retr_chunk_moves_bytes_sent_once() {
    let registry = Arc::new(Registry::default());
    let remote: SocketAddr = "192.0.2.7:50123".parse().unwrap();
    let entry = registry.open_session(1, remote, "none", false);
    entry.show_progress(progress(100));
    registry.sample_rates();
    entry.show_retr(Some((1, 0, 1_000_000)), 100);
    entry.show_retr(Some((1, 262_144, 1_000_000)), 262_244);
    assert_eq!(registry.bytes_sent(), 262_244);
    registry.sample_rates();
    assert_eq!(registry.sessions()[0].bytes_per_second, 262_144);
    entry.show_retr(None, 1_000_200);
    entry.show_progress(progress(1_000_200));
    assert_eq!(registry.bytes_sent(), 1_000_200);
    drop(entry);
    assert_eq!(registry.bytes_sent(), 1_000_200);
}

/// Issue 20 review S3: the history's bounds come from the configuration.
#[test]
fn the_history_keeps_the_configured_bounds() {
    let registry = Registry::new(pop3_config::HistoryBounds {
        users: 1,
        sessions_per_user: 2,
    });
    let ended = |id: u64| EndedSession {
        id,
        started: 1,
        ended: 2,
        remote: "192.0.2.7:50123".into(),
        tls: false,
        mechanism: "USER".into(),
        retrieved: 0,
        deleted: 0,
        bytes_sent: 0,
        end: "quit".into(),
    };
    for id in 0..3 {
        registry.record_ended("alice", ended(id));
    }
    let kept: Vec<u64> = registry
        .user_sessions("alice")
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(kept, [2, 1]);
    registry.record_ended("bob", ended(3));
    assert!(registry.user_sessions("alice").is_empty(), "one user only");
}
