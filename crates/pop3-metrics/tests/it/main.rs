//! The integration tests of `pop3-metrics`.

#![allow(clippy::unwrap_used)]

use pop3_metrics::{LiveCounts, Metrics, Totals};

#[test]
fn names_units_and_live_gauges() {
    let metrics = Metrics::new("1.2.3");
    metrics.connection("starttls", false);
    metrics.command("RETR", true, 0.001);
    metrics.command("UNKNOWN", false, 0.0);
    metrics.auth("user", "failure");
    metrics.retrieved(1000, true);
    metrics.committed(2, 0, 1);
    metrics.lock_released(1.5);
    let text = metrics
        .encode(LiveCounts {
            authorization: 2,
            transaction: 1,
            update: 0,
            locks: 1,
            oldest_lock_seconds: 42,
        })
        .unwrap();
    for expected in [
        "pop3_sessions{state=\"AUTHORIZATION\"} 2",
        "pop3_sessions{state=\"UPDATE\"} 0",
        "pop3_connections_total{listener=\"starttls\",tls=\"no\"} 1",
        "pop3_commands_total{command=\"RETR\",result=\"ok\"} 1",
        "pop3_commands_total{command=\"UNKNOWN\",result=\"err\"} 1",
        "pop3_command_duration_seconds_bucket{le=",
        "pop3_auth_attempts_total{mechanism=\"user\",result=\"failure\"} 1",
        "pop3_retrieved_bytes_total 1000",
        "pop3_messages_retrieved_total 1",
        "pop3_messages_deleted_total 2",
        "pop3_deletions_failed_total 1",
        "pop3_mailbox_locks_held 1",
        "pop3_mailbox_lock_oldest_seconds 42",
        "pop3_mailbox_lock_oldest_seconds 42",
        "pop3_mailbox_lock_hold_seconds_count 1",
        "pop3_build_info{version=\"1.2.3\"} 1",
        "process_resident_memory_bytes ",
        "process_open_fds ",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(text.ends_with("# EOF\n"));
}

#[test]
fn classic_text_names_counters_by_their_total_series() {
    let metrics = Metrics::new("1.2.3");
    metrics.command("NOOP", true, 0.0);
    let text = metrics.encode_text(LiveCounts::default()).unwrap();
    assert!(text.contains("# HELP pop3_commands_total "), "{text}");
    assert!(
        text.contains("# TYPE pop3_commands_total counter"),
        "{text}"
    );
    assert!(text.contains("# TYPE pop3_sessions gauge"), "{text}");
    assert!(
        !text.contains("# EOF") && !text.contains("# UNIT"),
        "{text}"
    );
}

/// Issue 20: the totals the admin overview's history samples.
#[test]
fn totals_count_logins_of_every_mechanism_retrievals_and_deletions() {
    let metrics = Metrics::new("1.2.3");
    assert_eq!(metrics.totals(), Totals::default());
    metrics.auth("user", "success");
    metrics.auth("plain", "success");
    metrics.auth("apop", "failure");
    // Issue 20 review: an abandoned SCRAM exchange is a failed login in the history.
    metrics.auth("scram-sha-256", "abandoned");
    metrics.auth("login", "error");
    metrics.auth("user", "login_delay");
    metrics.retrieved(100, true);
    metrics.retrieved(50, false);
    metrics.command("DELE", true, 0.001);
    metrics.command("DELE", true, 0.001);
    metrics.command("DELE", false, 0.001);
    metrics.command("RETR", true, 0.001);
    assert_eq!(
        metrics.totals(),
        Totals {
            logins_ok: 2,
            logins_failed: 2,
            retrieved: 1,
            deleted: 2,
        }
    );
}
