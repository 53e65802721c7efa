use pop3_admin_api::{API_VERSION, History, LockSummary, ServerFacts};

use super::*;

const NOW: u64 = 1_795_000_000;

fn answer(result: Result<OverviewResponse>) -> NodeAnswer<OverviewResponse> {
    NodeAnswer {
        node: "n".into(),
        answer: result,
    }
}

/// A server whose one certificate ends `seconds` from now.
fn certified(seconds: i64) -> OverviewResponse {
    OverviewResponse {
        version: API_VERSION,
        server: ServerFacts {
            version: "1.2.0".into(),
            started: NOW - 60,
            now: NOW,
            listeners: Vec::new(),
            certificates: vec![CertificateFacts {
                file: "/etc/pop3d/pop3d.pem".into(),
                names: Vec::new(),
                not_after: Some(NOW as i64 + seconds),
            }],
        },
        sessions: SessionCounts::default(),
        history: History::default(),
        locks: LockSummary::default(),
        failures: Vec::new(),
    }
}

#[test]
fn each_kind_of_failure_has_its_plugin_state() {
    let failed = |why| {
        let error = anyhow::Error::new(Unreachable::new(why, "told".into()));
        judge(answer(Err(error))).status
    };
    assert_eq!(failed(Why::Down), Level::Critical);
    assert_eq!(failed(Why::Denied), Level::Unknown);
    assert_eq!(failed(Why::Incompatible), Level::Unknown);
    let other = judge(answer(Err(anyhow::anyhow!("the server answered 500"))));
    assert_eq!(other.status, Level::Critical);
    assert_eq!(line(&other), "n CRITICAL - the server answered 500");
}

#[test]
fn the_certificate_decides_between_ok_warning_and_critical() {
    let day = 86_400;
    let status = |seconds| judge(answer(Ok(certified(seconds)))).status;
    assert_eq!(status(14 * day), Level::Ok);
    assert_eq!(status(14 * day - 1), Level::Warning);
    assert_eq!(status(5 * day), Level::Warning);
    assert_eq!(status(1), Level::Warning);
    assert_eq!(status(0), Level::Critical);
    assert_eq!(status(-day), Level::Critical);
    let mut unreadable = certified(0);
    unreadable.server.certificates[0].not_after = None;
    assert_eq!(judge(answer(Ok(unreadable))).status, Level::Warning);
    let mut plain = certified(0);
    plain.server.certificates.clear();
    let plain = judge(answer(Ok(plain)));
    assert_eq!(plain.status, Level::Ok);
    assert!(
        line(&plain).ends_with("; no TLS | sessions=0 locks=0"),
        "{}",
        line(&plain)
    );
    let soon = judge(answer(Ok(certified(5 * day + 60))));
    assert!(
        line(&soon).ends_with(
            "; certificate EXPIRES SOON pop3d.pem: 2026-11-23 (5 days) \
             | sessions=0 locks=0 certificate_days=5;14:;0:"
        ),
        "{}",
        line(&soon)
    );
}

#[test]
fn the_worst_node_wins() {
    use Level::*;
    assert_eq!(worst([Ok, Ok]), Ok);
    assert_eq!(worst([Ok, Warning]), Warning);
    assert_eq!(worst([Warning, Unknown]), Unknown);
    assert_eq!(worst([Unknown, Critical, Ok]), Critical);
    assert_eq!(worst([]), Unknown);
    assert_eq!(
        [Ok, Warning, Critical, Unknown].map(Level::code),
        [0, 1, 2, 3]
    );
}

/// Issue 20 review D2: an unreadable certificate must not hide an expired one (it sorted
/// first and was the only one judged: WARNING instead of CRITICAL). The verdict is the
/// worst over all certificates; the perfdata's days come from the soonest dated one.
#[test]
fn an_unreadable_certificate_does_not_hide_an_expired_one() {
    let day = 86_400;
    let with = |not_afters: &[Option<i64>]| {
        let mut overview = certified(0);
        overview.server.certificates = not_afters
            .iter()
            .enumerate()
            .map(|(i, not_after)| CertificateFacts {
                file: format!("/etc/pop3d/{i}.pem"),
                names: Vec::new(),
                not_after: not_after.map(|s| NOW as i64 + s),
            })
            .collect();
        judge(answer(Ok(overview)))
    };
    for order in [[None, Some(-day)], [Some(-day), None]] {
        let node = with(&order);
        assert_eq!(node.status, Level::Critical, "{order:?}");
        assert!(line(&node).contains("worst EXPIRED "), "{}", line(&node));
        assert!(
            line(&node).ends_with(" certificate_days=-1;14:;0:"),
            "{}",
            line(&node)
        );
    }
    // Unknown beats soon (both WARNING; the unknown one is named); soon beats fine.
    let node = with(&[Some(5 * day + 60), None, Some(90 * day)]);
    assert_eq!(node.status, Level::Warning);
    assert!(
        line(&node).contains("worst EXPIRY UNKNOWN 1.pem"),
        "{}",
        line(&node)
    );
    assert!(
        line(&node).ends_with(" certificate_days=5;14:;0:"),
        "{}",
        line(&node)
    );
    assert_eq!(
        with(&[Some(90 * day), Some(5 * day)]).status,
        Level::Warning
    );
    assert_eq!(with(&[Some(90 * day), Some(30 * day)]).status, Level::Ok);
    // Only unreadable ones: WARNING, no days to report.
    let node = with(&[None, None]);
    assert_eq!(node.status, Level::Warning);
    assert!(!line(&node).contains("certificate_days"), "{}", line(&node));
}

/// Issue 20 review S4: with several nodes the first line speaks for all of them (a monitor
/// reads only that one), with every node's performance data, prefixed by node.
#[test]
fn several_nodes_get_an_aggregate_first_line() {
    let day = 86_400;
    let mut up = judge(answer(Ok(certified(90 * day))));
    up.node = "a".into();
    let down = judge(NodeAnswer {
        node: "b".into(),
        answer: Err(anyhow::Error::new(Unreachable::new(
            Why::Down,
            "pop3d is not running at /run/b.sock (no such socket)".into(),
        ))),
    });
    let statuses = [up, down];
    let level = worst(statuses.iter().map(|s| s.status));
    assert_eq!(
        aggregate(&statuses, level),
        "CRITICAL - 1 of 2 nodes down; a OK, b CRITICAL \
         | a_sessions=0 a_locks=0 a_certificate_days=90;14:;0:"
    );
    assert!(!node_line(&statuses[0], false).contains('|'));
    assert!(node_line(&statuses[0], true).contains(" | sessions=0 locks=0 "));
}
