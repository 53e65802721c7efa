//! The integration tests of `pop3-admin-api`.

#![allow(clippy::unwrap_used)]

use pop3_admin_api::{API_VERSION, SessionInfo, SessionsResponse, kick_path};

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
