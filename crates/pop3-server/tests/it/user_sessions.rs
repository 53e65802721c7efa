//! Issue 20: `GET /v1/users/{name}/sessions` against a real server — a user's ended sessions,
//! most recent first, with how each ended (QUIT, dropped, kicked); and `/v1/sessions`'
//! additions, the octets per second and a RETR's progress. The history's bound is
//! unit-tested with 100,000 sessions (`src/user_history/tests.rs`).

use std::time::{Duration, Instant};

use pop3_admin_api::{
    API_VERSION, EndedSession, OVERVIEW_PATH, OverviewResponse, SESSIONS_PATH, SessionInfo,
    SessionsResponse, UserSessionsResponse, kick_path, user_sessions_path,
};

use crate::support::{Client, PATIENCE, TestServer, admin_get, admin_post};

fn user_sessions(server: &TestServer, name: &str) -> UserSessionsResponse {
    let (status, body) = admin_get(server, &user_sessions_path(name));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Waits (bounded) until `name` has `count` ended sessions: a session is recorded when its
/// task ends, just after the client saw the connection close.
fn ended(server: &TestServer, name: &str, count: usize) -> Vec<EndedSession> {
    let started = Instant::now();
    loop {
        let sessions = user_sessions(server, name).sessions;
        if sessions.len() >= count {
            return sessions;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "{count} sessions: {sessions:?}"
        );
        std::thread::yield_now();
    }
}

fn live(server: &TestServer) -> Vec<SessionInfo> {
    let (status, body) = admin_get(server, SESSIONS_PATH);
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<SessionsResponse>(&body)
        .unwrap()
        .sessions
}

#[test]
fn a_users_sessions_are_listed_with_how_they_ended() {
    let server = TestServer::start("", "", "");
    server.add_user("alice", "secret");
    server.deliver("alice", b"Subject: one\r\n\r\nhello\r\n");
    server.deliver("alice", b"Subject: two\r\n\r\nworld\r\n");
    assert!(user_sessions(&server, "alice").sessions.is_empty());

    // 1: USER/PASS over implicit TLS, a RETR and a DELE, QUIT.
    let mut first = Client::connect(server.addrs.implicit, server.client_config(), true);
    first.line().unwrap();
    first.login("alice", "secret");
    assert!(first.command("RETR 1").starts_with("+OK"));
    first.body();
    assert!(first.command("DELE 1").starts_with("+OK"));
    assert!(first.command("QUIT").starts_with("+OK"));
    assert!(first.line().is_none());
    let sessions = ended(&server, "alice", 1);
    let quit = &sessions[0];
    assert_eq!(
        (quit.mechanism.as_str(), quit.tls, quit.end.as_str()),
        ("USER", true, "quit")
    );
    assert_eq!((quit.retrieved, quit.deleted), (1, 1));
    assert!(quit.bytes_sent > 30, "{quit:?}");
    assert!(quit.remote.starts_with("127.0.0.1:"), "{quit:?}");
    assert!(quit.started <= quit.ended);

    // 2: plaintext, gone without QUIT.
    let mut second = Client::connect(server.addrs.plain, server.client_config(), false);
    second.line().unwrap();
    second.login("alice", "secret");
    assert!(second.command("DELE 1").starts_with("+OK"));
    drop(second);
    let sessions = ended(&server, "alice", 2);
    assert_eq!(
        (
            sessions[0].end.as_str(),
            sessions[0].tls,
            sessions[0].deleted
        ),
        ("dropped", false, 0),
        "most recent first; no UPDATE, nothing deleted"
    );

    // 3: kicked by the administrator.
    let mut third = Client::connect(server.addrs.plain, server.client_config(), false);
    third.line().unwrap();
    third.login("alice", "secret");
    let id = live(&server)
        .iter()
        .find(|s| s.user.as_deref() == Some("alice"))
        .map(|s| s.id)
        .unwrap();
    assert_eq!(admin_post(&server, &kick_path(id)).0, 200);
    assert!(third.line().unwrap().starts_with("-ERR"));
    let sessions = ended(&server, "alice", 3);
    assert_eq!((sessions[0].id, sessions[0].end.as_str()), (id, "kicked"));
    let ends: Vec<&str> = sessions.iter().map(|s| s.end.as_str()).collect();
    assert_eq!(ends, ["kicked", "dropped", "quit"]);

    // 4: SASL PLAIN, named by its mechanism.
    let mut fourth = Client::connect(server.addrs.plain, server.client_config(), false);
    fourth.line().unwrap();
    assert!(
        fourth
            .command("AUTH PLAIN AGFsaWNlAHNlY3JldA==")
            .starts_with("+OK")
    );
    assert!(fourth.command("QUIT").starts_with("+OK"));
    let sessions = ended(&server, "alice", 4);
    let mechanisms: Vec<&str> = sessions.iter().map(|s| s.mechanism.as_str()).collect();
    assert_eq!(mechanisms, ["PLAIN", "USER", "USER", "USER"]);

    // A failed login is no session of the user's; a name is normalised as a login would.
    let mut wrong = Client::connect(server.addrs.plain, server.client_config(), false);
    wrong.line().unwrap();
    assert!(wrong.command("USER alice").starts_with("+OK"));
    assert!(wrong.command("PASS guess").starts_with("-ERR"));
    drop(wrong);
    let answer = user_sessions(&server, "alice");
    assert_eq!((answer.version, answer.sessions.len()), (API_VERSION, 4));
    assert!(user_sessions(&server, "nobody").sessions.is_empty());
    // Issue 20 review: the answer names the user as normalised, not as asked.
    let shouted = user_sessions(&server, "ALICE");
    assert_eq!(
        (shouted.user.as_str(), shouted.sessions.len()),
        ("alice", 4)
    );
    let (status, body) = admin_get(&server, &user_sessions_path("bad name\u{1}"));
    assert_eq!(status, 400, "{body}");
}

/// `/v1/sessions` shows a RETR's progress against the message's size, and the octets the
/// session sent in the last second. Issue 20 review D1: the octets per second, and the
/// overview's bytes sent, move *during* the RETR — a poll more than two sampling seconds
/// after it began (so the login's octets are out of every sample) must see them move while
/// `retr.sent` grows. Before the fix they stayed 0 until the RETR ended.
#[test]
fn a_retr_in_progress_shows_how_far_it_is() {
    let server = TestServer::start("", "", "");
    server.add_user("bob", "secret");
    let line = "y".repeat(998);
    let body: String = (0..20_000).map(|_| format!("{line}\r\n")).collect();
    server.deliver("bob", format!("Subject: big\r\n\r\n{body}").as_bytes());
    let mut bob = Client::connect(server.addrs.plain, server.client_config(), false);
    bob.line().unwrap();
    bob.login("bob", "secret");
    let size: u64 = bob.command("LIST 1")[6..].trim().parse().unwrap();
    assert!(bob.command("RETR 1").starts_with("+OK"));
    let began = Instant::now();
    // Read at about 1 MB/s (paced by the clock, not by sleeping: the loop polls meanwhile),
    // so the 20 MB message is still being sent when the checks are made.
    const PACE: f64 = 1_000_000.0;
    let (mut read, mut previous_sent) = (0u64, 0u64);
    let (mut progress, mut rate_moved, mut history_moved) = (None, false, false);
    while progress.is_none() || !rate_moved || !history_moved {
        assert!(
            began.elapsed() < PATIENCE,
            "{progress:?} rate moved: {rate_moved}, history moved: {history_moved}"
        );
        let session = live(&server)
            .into_iter()
            .find(|s| s.user.is_some())
            .unwrap();
        let retr = session.retr.expect("the RETR is still being sent");
        if retr.sent > 0 && retr.sent < retr.size {
            progress = Some(retr.clone());
        }
        let late = began.elapsed() > Duration::from_secs(2);
        if late && retr.sent > previous_sent && session.bytes_per_second > 0 {
            rate_moved = true;
        }
        if late && !history_moved {
            let history = overview(&server).history;
            history_moved = history.bytes_sent.last().is_some_and(|&b| b > 0);
        }
        previous_sent = retr.sent;
        let due = (began.elapsed().as_secs_f64() * PACE) as u64;
        for _ in 0..64 {
            if read >= due {
                break;
            }
            read += bob.line().unwrap().len() as u64 + 2;
        }
    }
    let retr = progress.unwrap();
    assert_eq!((retr.message, retr.size), (1, size));
    assert!(retr.percent() < 100);
    let lines = bob.body();
    assert!(lines.len() > 10_000);
    let after = live(&server)
        .into_iter()
        .find(|s| s.user.is_some())
        .unwrap();
    assert!(after.retr.is_none(), "no RETR in progress: {after:?}");
}

fn overview(server: &TestServer) -> OverviewResponse {
    let (status, body) = admin_get(server, OVERVIEW_PATH);
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}
