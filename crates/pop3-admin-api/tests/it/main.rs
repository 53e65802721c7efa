//! The integration tests of `pop3-admin-api`.

#![allow(clippy::unwrap_used)]

use pop3_admin_api::{
    API_VERSION, CertificateFacts, FailingAddress, History, ListenerFacts, LockSummary,
    OverviewResponse, ServerFacts, SessionCounts, SessionInfo, SessionsResponse, kick_path,
};

#[test]
fn admin_api_round_trips_as_versioned_json() {
    let response = SessionsResponse {
        version: API_VERSION,
        sessions: vec![SessionInfo {
            id: 7,
            remote: "127.0.0.1:5000".into(),
            listener: "starttls".into(),
            tls: true,
            state: "TRANSACTION".into(),
            user: Some("alice".into()),
            started: 1,
            last_activity: 2,
            command: Some("RETR".into()),
            bytes_sent: 3,
            retrieved: 1,
            deleted: 0,
        }],
    };
    let json = serde_json::to_string(&response).unwrap();
    assert!(json.starts_with("{\"version\":1,"), "{json}");
    assert_eq!(
        serde_json::from_str::<SessionsResponse>(&json).unwrap(),
        response
    );
    assert_eq!(kick_path(7), "/v1/sessions/7/kick");
}

/// Issue 20: the overview, version first, every series named.
#[test]
fn the_overview_round_trips_as_versioned_json() {
    let response = OverviewResponse {
        version: API_VERSION,
        server: ServerFacts {
            version: "1.2.0".into(),
            started: 10,
            now: 20,
            listeners: vec![ListenerFacts {
                address: "0.0.0.0:110".into(),
                kind: "starttls".into(),
            }],
            certificates: vec![CertificateFacts {
                file: "/etc/pop3d/pop3d.pem".into(),
                names: vec!["*.example.org".into()],
                not_after: Some(1_800_000_000),
            }],
        },
        sessions: SessionCounts {
            authorization: 1,
            transaction: 2,
            update: 0,
        },
        history: History {
            end: 20,
            authorization: vec![1],
            transaction: vec![2],
            update: vec![0],
            logins_ok: vec![3],
            logins_failed: vec![4],
            bytes_sent: vec![5],
            retrieved: vec![6],
            deleted: vec![7],
        },
        locks: LockSummary::default(),
        failures: vec![FailingAddress {
            address: "2001:db8::/64".into(),
            last_failure: 19,
            penalty_ms: 1_000,
        }],
    };
    let json = serde_json::to_string(&response).unwrap();
    assert!(json.starts_with("{\"version\":1,"), "{json}");
    for key in [
        "logins_failed",
        "bytes_sent",
        "not_after",
        "penalty_ms",
        "oldest",
    ] {
        assert!(json.contains(&format!("\"{key}\"")), "{key}: {json}");
    }
    assert_eq!(
        serde_json::from_str::<OverviewResponse>(&json).unwrap(),
        response
    );
    assert_eq!(response.sessions.total(), 3);
    assert_eq!(response.history.len(), 1);
}
