//! Issue 20 part B: the Users tab with each user's mail, sorted by any column; the detail
//! view of one user with their recent sessions; the Sessions tab's rate and RETR progress;
//! all from fixed data at 80×24 and 160×48, empty and busy.

use pop3_admin_api::{EndedSession, RetrProgress};

use super::*;
use crate::user_facts::Noded;

fn names(app: &App) -> Vec<&str> {
    app.visible_users()
        .iter()
        .map(|u| u.name.as_str())
        .collect()
}

/// Four users, one with 100,000 messages near its quota, one whose counts are unknown.
fn busy_users() -> Vec<UserRow> {
    let mut dave = user("dave", true, true);
    dave.apop_only = true;
    dave.mail.messages = Some(100_000);
    dave.mail.bytes = Some(7_500_000_000);
    dave.mail.oldest = Some(NOW - 900 * 86_400);
    dave.mail.source = "listing";
    dave.quota.percent = Some(96);
    dave.quota.messages_cell = "100000/100000".into();
    dave.quota.bytes_cell = "6.9G/8G".into();
    dave.last_login_at = Some(NOW - 60);
    let mut carol = user("carol", true, false);
    carol.mail.messages = Some(3);
    carol.mail.bytes = Some(4_096);
    carol.quota.percent = Some(0);
    vec![
        user("alice", true, false),
        user("bob", false, true),
        carol,
        dave,
    ]
}

pub(super) fn busy_sessions() -> Vec<SessionInfo> {
    let mut alice = session(7, "alice");
    alice.bytes_per_second = 250_000;
    alice.retr = Some(RetrProgress {
        message: 3,
        sent: 600_000,
        size: 1_200_000,
    });
    let mut fresh = session(11, "-");
    fresh.user = None;
    fresh.state = "AUTHORIZATION".into();
    fresh.command = None;
    fresh.bytes_sent = 120;
    fresh.remote = "[2001:db8::7]:50999".into();
    vec![alice, session(9, "carol"), fresh]
}

fn ended(id: u64, minutes_ago: u64, end: &str, mechanism: &str, tls: bool) -> Noded<EndedSession> {
    Noded {
        node: String::new(),
        record: EndedSession {
            id,
            started: NOW - minutes_ago * 60 - 30,
            ended: NOW - minutes_ago * 60,
            remote: "192.0.2.7:50123".into(),
            tls,
            mechanism: mechanism.into(),
            retrieved: 2,
            deleted: u64::from(end == "quit") * 2,
            bytes_sent: 48_213,
            end: end.into(),
        },
    }
}

pub(super) fn busy() -> App {
    let mut app = App::new("/run/pop3d/admin.sock".into());
    app.tab = Tab::Users;
    app.update(Event::Now(NOW));
    app.update(Event::Users(Ok(busy_users())));
    app.update(local(Ok((busy_sessions(), vec![lock("alice", 7)]))));
    app
}

pub(super) fn empty() -> App {
    let mut app = App::new("/run/pop3d/admin.sock".into());
    app.tab = Tab::Users;
    app.update(Event::Now(NOW));
    app.update(Event::Users(Ok(Vec::new())));
    app.update(local(Ok((Vec::new(), Vec::new()))));
    app
}

/// `busy()` with alice's detail open and her sessions answered.
pub(super) fn detail() -> App {
    let mut app = busy();
    let effects = app.update(key(KeyCode::Enter));
    assert_eq!(
        effects,
        [Effect::UserSessions {
            name: "alice".into()
        }]
    );
    app.update(Event::UserSessions {
        name: "alice".into(),
        result: Ok(vec![
            ended(21, 3, "kicked", "USER", false),
            ended(20, 10, "dropped", "SCRAM-SHA-256", true),
            ended(19, 70, "quit", "APOP", true),
            ended(18, 200, "idle-timeout", "PLAIN", true),
        ]),
    });
    app
}

#[test]
fn users_sort_by_any_column_both_ways() {
    let mut app = busy();
    assert_eq!(names(&app), ["alice", "bob", "carol", "dave"]);
    app.update(key(KeyCode::Char('O')));
    assert_eq!(names(&app), ["dave", "carol", "bob", "alice"]);
    // o: ENABLED, APOP, then MSGS (unknown first, ties by name).
    for _ in 0..3 {
        app.update(key(KeyCode::Char('o')));
    }
    assert_eq!(app.user_sort.column, UserColumn::Messages);
    assert!(!app.user_sort.descending, "a new column starts ascending");
    assert_eq!(names(&app), ["bob", "carol", "alice", "dave"]);
    app.update(key(KeyCode::Char('O')));
    assert_eq!(names(&app), ["dave", "alice", "carol", "bob"]);
    let screen = render(&app, 80, 24);
    assert!(screen.contains("MSGS▼"), "{screen}");
    assert!(screen.contains("sorted by MSGS descending"), "{screen}");
    // The filter still applies, and actions take the row shown selected.
    app.update(key(KeyCode::Char('/')));
    type_text(&mut app, "a");
    app.update(key(KeyCode::Enter));
    assert_eq!(names(&app), ["dave", "alice", "carol"]);
    assert_eq!(
        app.update(key(KeyCode::Char('e'))),
        [Effect::SetEnabled {
            name: "dave".into(),
            enabled: false
        }]
    );
    // Nine columns, then back to NAME.
    for _ in 0..6 {
        app.update(key(KeyCode::Char('o')));
    }
    assert_eq!(app.user_sort.column, UserColumn::Name);
}

#[test]
fn the_detail_view_opens_refreshes_and_closes() {
    let mut app = detail();
    assert_eq!(app.mode, Mode::Detail("alice".into()));
    // Each poll refreshes the shown user's sessions.
    let effects = app.update(local(Ok((busy_sessions(), Vec::new()))));
    assert_eq!(
        effects,
        [Effect::UserSessions {
            name: "alice".into()
        }]
    );
    // Keys other than back do nothing there: no kick, no delete, no quit.
    assert!(app.update(key(KeyCode::Char('d'))).is_empty());
    assert_eq!(app.mode, Mode::Detail("alice".into()));
    app.update(key(KeyCode::Esc));
    assert_eq!(app.mode, Mode::Normal);
    assert!(app.update(local(Ok((Vec::new(), Vec::new())))).is_empty());
    // Another user's late answer is not shown as this one's.
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Enter));
    assert_eq!(app.mode, Mode::Detail("bob".into()));
    assert!(app.detail_sessions().is_none());
}

/// What 80×24 must keep: every fact of a user, the sessions' progress, the detail's sessions.
#[test]
fn eighty_columns_keep_the_essentials() {
    let app = busy();
    let screen = render(&app, 80, 24);
    for header in [
        "NAME",
        "ENABLED",
        "APOP",
        "MSGS",
        "SIZE",
        "QUOTA",
        "OLDEST",
        "LAST LOGIN",
    ] {
        assert!(screen.contains(header), "{header}: {screen}");
    }
    assert!(
        screen.contains("96%") && screen.contains("100000"),
        "{screen}"
    );
    let mut app = busy();
    app.tab = Tab::Sessions;
    let screen = render(&app, 80, 24);
    for header in ["ID", "USER", "STATE", "RETR %", "RATE", "BYTES", "REMOTE"] {
        assert!(screen.contains(header), "{header}: {screen}");
    }
    assert!(screen.contains("3 50%"), "{screen}");
    assert!(screen.contains("244.1 KiB/s"), "{screen}");
    let screen = render(&detail(), 80, 24);
    for word in [
        "kicked",
        "dropped",
        "quit",
        "SCRAM-SHA-256",
        "STARTED (UTC)",
        "REMOTE",
    ] {
        assert!(screen.contains(word), "{word}: {screen}");
    }
}

#[test]
fn snapshot_users_tab_sizes() {
    insta::assert_snapshot!("users_busy_80x24", render(&busy(), 80, 24));
    insta::assert_snapshot!("users_busy_160x48", render(&busy(), 160, 48));
    insta::assert_snapshot!("users_empty_80x24", render(&empty(), 80, 24));
}

#[test]
fn snapshot_sessions_tab_sizes() {
    let mut app = busy();
    app.tab = Tab::Sessions;
    insta::assert_snapshot!("sessions_busy_80x24", render(&app, 80, 24));
    insta::assert_snapshot!("sessions_busy_160x48", render(&app, 160, 48));
    let mut app = empty();
    app.tab = Tab::Sessions;
    insta::assert_snapshot!("sessions_empty_80x24", render(&app, 80, 24));
}

#[test]
fn snapshot_user_detail_sizes() {
    insta::assert_snapshot!("detail_busy_80x24", render(&detail(), 80, 24));
    insta::assert_snapshot!("detail_busy_160x48", render(&detail(), 160, 48));
    let mut app = detail();
    let down = "pop3d is not running at /run/pop3d/admin.sock (no such socket)";
    app.update(local(Err(down.into())));
    app.update(Event::UserSessions {
        name: "alice".into(),
        result: Err(down.into()),
    });
    let screen = render(&app, 80, 24);
    assert!(!screen.contains("server: up"), "{screen}");
    insta::assert_snapshot!("detail_server_down_80x24", screen);
    app.update(Event::UserSessions {
        name: "alice".into(),
        result: Ok(Vec::new()),
    });
    insta::assert_snapshot!("detail_no_sessions_160x48", render(&app, 160, 48));
}

/// The new tables and the detail view, with named nodes too, draw at any size.
#[test]
fn the_users_sessions_and_detail_draw_at_any_size_without_panic() {
    let mut named = detail();
    named.named = true;
    if let Some((_, Ok(sessions))) = &mut named.user_sessions {
        sessions[0].node = "node-a".into();
    }
    for app in [&mut detail(), &mut named, &mut busy()] {
        for tab in [Tab::Users, Tab::Sessions] {
            app.tab = tab;
            for w in (0..=170).step_by(7) {
                for h in [0, 1, 2, 3, 5, 9, 24] {
                    render(app, w.max(1), h.max(1));
                }
            }
        }
    }
}
