//! The integration tests of `pop3-admin-api`.

#![allow(clippy::unwrap_used)]

use pop3_admin_api::{
    API_VERSION, CertificateFacts, FailingAddress, History, ListenerFacts, LockSummary,
    OverviewResponse, ServerFacts, SessionCounts, SessionInfo, SessionsResponse, kick_path,
};
use pop3_admin_api::{EndedSession, RetrProgress, UserSessionsResponse, user_sessions_path};

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
            bytes_per_second: 3,
            retr: Some(RetrProgress {
                message: 2,
                sent: 1,
                size: 4,
            }),
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

/// Issue 20: a session of a server from before `bytes_per_second` and `retr` still decodes
/// (0 and none), so this `pop3-admin` reads an older pop3d of the same API version.
#[test]
fn a_session_without_the_issue_20_fields_decodes() {
    let json = r#"{"version":1,"sessions":[{"id":7,"remote":"127.0.0.1:5000","listener":"none",
        "tls":false,"state":"TRANSACTION","user":"alice","started":1,"last_activity":2,
        "command":null,"bytes_sent":3,"retrieved":1,"deleted":0}]}"#;
    let response: SessionsResponse = serde_json::from_str(json).unwrap();
    assert_eq!(response.sessions[0].bytes_per_second, 0);
    assert!(response.sessions[0].retr.is_none());
    let progress = RetrProgress {
        message: 1,
        sent: 5,
        size: 0,
    };
    assert_eq!(progress.percent(), 100);
    let half = RetrProgress {
        message: 1,
        sent: 600,
        size: 1200,
    };
    assert_eq!(half.percent(), 50);
}

/// Issue 20: a user's recent sessions, and a path that carries any name safely.
#[test]
fn user_sessions_round_trip_and_paths() {
    let response = UserSessionsResponse {
        version: API_VERSION,
        user: "alice".into(),
        sessions: vec![EndedSession {
            id: 9,
            started: 10,
            ended: 20,
            remote: "[2001:db8::7]:50999".into(),
            tls: true,
            mechanism: "SCRAM-SHA-256".into(),
            retrieved: 2,
            deleted: 1,
            bytes_sent: 4_000,
            end: "quit".into(),
        }],
    };
    let json = serde_json::to_string(&response).unwrap();
    assert!(json.starts_with("{\"version\":1,"), "{json}");
    assert_eq!(
        serde_json::from_str::<UserSessionsResponse>(&json).unwrap(),
        response
    );
    assert_eq!(user_sessions_path("alice"), "/v1/users/alice/sessions");
    assert_eq!(
        user_sessions_path("a b/../c@example.org"),
        "/v1/users/a%20b%2F..%2Fc@example.org/sessions"
    );
}

/// Issue 20 review: a server's (or a forged answer's) huge counts saturate, not panic.
#[test]
fn session_counts_total_saturates() {
    let counts = SessionCounts {
        authorization: u64::MAX,
        transaction: 2,
        update: 1,
    };
    assert_eq!(counts.total(), u64::MAX);
}
