use pop3_admin_api::{LockInfo, SessionInfo};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;

const NOW: u64 = 1_795_000_000;

fn key(code: KeyCode) -> Event {
    Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn type_text(app: &mut App, text: &str) -> Vec<Effect> {
    text.chars()
        .flat_map(|c| app.update(key(KeyCode::Char(c))))
        .collect()
}

fn user(name: &str, enabled: bool, apop: bool) -> UserRow {
    use crate::user_facts::{MailFacts, QuotaFacts};
    UserRow {
        name: name.into(),
        enabled,
        apop,
        apop_only: false,
        last_login_at: enabled.then_some(NOW - 3600),
        maildir: format!("/var/mail/{name}/Maildir"),
        mail: MailFacts {
            messages: enabled.then_some(12),
            bytes: enabled.then_some(3_250_000),
            oldest: enabled.then_some(NOW - 40 * 86_400),
            source: if enabled { "maildirsize" } else { "unknown" },
        },
        quota: QuotaFacts {
            limit_messages: Some(1000),
            limit_bytes: Some(500 << 20),
            percent: enabled.then_some(1),
            messages_cell: if enabled { "12/1000" } else { "-/1000" }.into(),
            bytes_cell: if enabled { "3.1M/500M" } else { "-/500M" }.into(),
        },
    }
}

fn session(id: u64, user: &str) -> SessionInfo {
    SessionInfo {
        id,
        remote: "192.0.2.7:50123".into(),
        listener: "starttls".into(),
        tls: true,
        state: "TRANSACTION".into(),
        user: Some(user.into()),
        started: NOW - 120,
        last_activity: NOW - 5,
        command: Some("RETR".into()),
        bytes_sent: 123_456,
        retrieved: 3,
        deleted: 1,
        bytes_per_second: 0,
        retr: None,
    }
}

/// An app with three users, two sessions and a lock, at a fixed time.
fn app() -> App {
    let mut app = App::new("/run/pop3d/admin.sock".into());
    app.tab = Tab::Users;
    app.update(Event::Now(NOW));
    app.update(Event::Users(Ok(vec![
        user("alice", true, false),
        user("bob", false, true),
        user("carol", true, false),
    ])));
    app.update(local(Ok((
        vec![session(7, "alice"), session(9, "carol")],
        vec![lock("alice", 7)],
    ))));
    app
}

/// The poll of the one unnamed node.
fn local(result: Result<(Vec<SessionInfo>, Vec<LockInfo>), String>) -> Event {
    Event::Live(vec![NodeLive {
        node: String::new(),
        result,
    }])
}

fn lock(user: &str, session: u64) -> LockInfo {
    LockInfo {
        user: user.into(),
        session,
        since: NOW - 110,
    }
}

/// Issue 18: an app watching named nodes, after one poll of `nodes`.
fn nodes_app(nodes: Vec<NodeLive>) -> App {
    let mut app = App::new("/run/pop3d/admin.sock".into());
    app.tab = Tab::Users;
    app.named = true;
    app.update(Event::Now(NOW));
    app.update(Event::Live(nodes));
    app
}

fn up(node: &str, sessions: Vec<SessionInfo>, locks: Vec<LockInfo>) -> NodeLive {
    NodeLive {
        node: node.into(),
        result: Ok((sessions, locks)),
    }
}

fn down(node: &str) -> NodeLive {
    NodeLive {
        node: node.into(),
        result: Err(format!(
            "the server is not running at /run/pop3d/{node}.sock"
        )),
    }
}

/// The fixed data of the snapshots: `node-a` answers, `b` is down.
fn two_nodes_one_down() -> App {
    nodes_app(vec![
        up(
            "node-a",
            vec![session(7, "alice"), session(8, "bob")],
            vec![lock("alice", 7)],
        ),
        down("b"),
    ])
}

fn render(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| frame.render_widget(app, frame.area()))
        .unwrap();
    let buffer = terminal.backend().buffer().clone();
    let mut text = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            text.push_str(buffer[(x, y)].symbol());
        }
        text.push('\n');
    }
    text
}

#[test]
fn tabs_switch_with_keys() {
    let mut app = app();
    app.update(key(KeyCode::Tab));
    assert_eq!(app.tab, Tab::Sessions);
    app.update(key(KeyCode::Tab));
    assert_eq!(app.tab, Tab::Locks);
    app.update(key(KeyCode::Tab));
    assert_eq!(app.tab, Tab::Overview);
    app.update(key(KeyCode::Tab));
    assert_eq!(app.tab, Tab::Users);
    app.update(key(KeyCode::BackTab));
    assert_eq!(app.tab, Tab::Overview);
    app.update(key(KeyCode::BackTab));
    assert_eq!(app.tab, Tab::Locks);
    app.update(key(KeyCode::Char('2')));
    assert_eq!(app.tab, Tab::Sessions);
    app.update(key(KeyCode::Char('0')));
    assert_eq!(app.tab, Tab::Overview);
    app.update(key(KeyCode::Char('1')));
    assert_eq!(app.tab, Tab::Users);
    // Issue 20: the Overview is what the TUI opens on.
    assert_eq!(App::new(String::new()).tab, Tab::Overview);
}

#[test]
fn filter_as_you_type() {
    let mut app = app();
    app.update(key(KeyCode::Char('/')));
    type_text(&mut app, "ca");
    assert_eq!(
        app.visible_users()
            .iter()
            .map(|u| u.name.as_str())
            .collect::<Vec<_>>(),
        ["carol"]
    );
    app.update(key(KeyCode::Backspace));
    app.update(key(KeyCode::Backspace));
    assert_eq!(app.visible_users().len(), 3);
    // Letters typed while filtering are not commands.
    assert!(type_text(&mut app, "d").is_empty());
    app.update(key(KeyCode::Enter));
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn add_user_form_checks_the_repeat() {
    let mut app = app();
    app.update(key(KeyCode::Char('a')));
    type_text(&mut app, "dave");
    app.update(key(KeyCode::Enter));
    type_text(&mut app, "s3cret");
    app.update(key(KeyCode::Enter));
    type_text(&mut app, "s3creT");
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    assert!(matches!(app.status, Some(Err(_))));
    app.update(key(KeyCode::Backspace));
    type_text(&mut app, "t");
    assert_eq!(
        app.update(key(KeyCode::Enter)),
        [Effect::AddUser {
            name: "dave".into(),
            password: "s3cret".into()
        }]
    );
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn user_actions_target_the_selection() {
    let mut app = app();
    app.update(key(KeyCode::Down));
    assert_eq!(
        app.update(key(KeyCode::Char('e'))),
        [Effect::SetEnabled {
            name: "bob".into(),
            enabled: true
        }]
    );
    assert_eq!(
        app.update(key(KeyCode::Char('c'))),
        [Effect::SetApop {
            name: "bob".into(),
            secret: None
        }]
    );
    app.update(key(KeyCode::Char('d')));
    assert_eq!(app.mode, Mode::ConfirmDelete("bob".into()));
    assert!(app.update(key(KeyCode::Char('n'))).is_empty());
    app.update(key(KeyCode::Char('d')));
    assert_eq!(
        app.update(key(KeyCode::Char('y'))),
        [Effect::DeleteUser { name: "bob".into() }]
    );
    app.update(key(KeyCode::Char('p')));
    type_text(&mut app, "new");
    app.update(key(KeyCode::Enter));
    type_text(&mut app, "new");
    assert_eq!(
        app.update(key(KeyCode::Enter)),
        [Effect::SetPassword {
            name: "bob".into(),
            password: "new".into()
        }]
    );
}

#[test]
fn kick_the_selected_session_and_quit() {
    let mut app = app();
    app.update(key(KeyCode::Char('2')));
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Down));
    // Review of issue 20: `k` asks first; anything but `y` keeps the session.
    assert!(app.update(key(KeyCode::Char('k'))).is_empty());
    assert_eq!(
        app.mode,
        Mode::ConfirmKick {
            node: String::new(),
            session: 9
        }
    );
    assert!(app.update(key(KeyCode::Char('n'))).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.status, Some(Ok("session 9 not kicked".into())));
    app.update(key(KeyCode::Char('k')));
    assert_eq!(
        app.update(key(KeyCode::Char('y'))),
        [Effect::Kick {
            node: String::new(),
            session: 9
        }]
    );
    assert_eq!(
        app.update(Event::Key(KeyEvent::new(
            KeyCode::Char('c'),
            KeyModifiers::CONTROL
        ))),
        [Effect::Quit]
    );
    assert_eq!(app.update(key(KeyCode::Char('q'))), [Effect::Quit]);
}

#[test]
fn snapshot_users_tab() {
    insta::assert_snapshot!(render(&app(), 100, 12));
}

#[test]
fn snapshot_sessions_tab() {
    let mut app = app();
    app.update(key(KeyCode::Char('2')));
    insta::assert_snapshot!(render(&app, 100, 10));
}

#[test]
fn snapshot_locks_tab() {
    let mut app = app();
    app.update(key(KeyCode::Char('3')));
    insta::assert_snapshot!(render(&app, 60, 8));
}

#[test]
fn snapshot_server_down_and_help() {
    let mut app = app();
    app.update(key(KeyCode::Char('2')));
    app.update(local(Err("no socket".into())));
    insta::assert_snapshot!("server_down", render(&app, 100, 6));
    app.update(key(KeyCode::Char('?')));
    insta::assert_snapshot!("help", render(&app, 100, 19));
}

/// Issue 18: with several nodes, kick goes to the node of the selected row, though another
/// node has a session with the same id.
#[test]
fn issue_18_kick_goes_to_the_selected_rows_node() {
    // Two nodes number a session 7 each; a third is down.
    let mut app = nodes_app(vec![
        up(
            "node-a",
            vec![session(7, "alice"), session(8, "bob")],
            Vec::new(),
        ),
        down("b"),
        up("mx2", vec![session(7, "carol")], vec![lock("carol", 7)]),
    ]);
    assert_eq!(
        app.down,
        [(
            "b".into(),
            "the server is not running at /run/pop3d/b.sock".into()
        )]
    );
    assert_eq!(app.server, ServerStatus::Down("1 of 3 nodes down".into()));
    app.update(key(KeyCode::Char('2')));
    let kick = |app: &mut App| {
        app.update(key(KeyCode::Char('k')));
        app.update(key(KeyCode::Char('y')))
    };
    assert_eq!(
        kick(&mut app),
        [Effect::Kick {
            node: "node-a".into(),
            session: 7
        }]
    );
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Down));
    assert_eq!(
        kick(&mut app),
        [Effect::Kick {
            node: "mx2".into(),
            session: 7
        }]
    );
    // The down node coming back adds its rows; one going down takes only its own.
    app.update(Event::Live(vec![
        NodeLive {
            node: "node-a".into(),
            result: Err("gone".into()),
        },
        up("b", vec![session(1, "dave")], Vec::new()),
    ]));
    assert_eq!(app.down, [("node-a".into(), "gone".into())]);
    assert_eq!(app.sessions, [("b".into(), session(1, "dave"))]);
}

/// Issue 18: the NODE column, and the node that is down as one line above the table.
#[test]
fn snapshot_issue_18_nodes_sessions_and_locks() {
    let mut app = two_nodes_one_down();
    app.update(key(KeyCode::Char('2')));
    insta::assert_snapshot!("nodes_sessions", render(&app, 100, 9));
    app.update(key(KeyCode::Char('3')));
    insta::assert_snapshot!("nodes_locks", render(&app, 80, 8));
    // All up: no line of a down node, the status bar green.
    app.update(Event::Live(vec![up(
        "node-a",
        vec![session(7, "alice")],
        vec![lock("alice", 7)],
    )]));
    let screen = render(&app, 80, 8);
    assert!(!screen.contains("not answering"), "{screen}");
    assert!(screen.contains("nodes: 1 of 1 up"), "{screen}");
}

#[test]
fn snapshot_password_form_is_masked() {
    let mut app = app();
    app.update(key(KeyCode::Char('a')));
    type_text(&mut app, "erin");
    app.update(key(KeyCode::Enter));
    type_text(&mut app, "hunter2");
    let screen = render(&app, 80, 12);
    assert!(!screen.contains("hunter2"), "{screen}");
    assert!(screen.contains("*******"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn any_size_down_to_one_cell_draws_without_panic() {
    let mut app = app();
    for mode_key in [None, Some('?'), Some('a'), Some('d')] {
        if let Some(c) = mode_key {
            app.mode = Mode::Normal;
            app.update(key(KeyCode::Char(c)));
        }
        for tab in ['0', '1', '2', '3'] {
            let saved = std::mem::replace(&mut app.mode, Mode::Normal);
            app.update(key(KeyCode::Char(tab)));
            app.mode = saved;
            for (w, h) in [
                (1, 1),
                (2, 1),
                (1, 3),
                (5, 2),
                (10, 4),
                (20, 3),
                (200, 1),
                (1, 60),
            ] {
                render(&app, w, h);
            }
        }
    }
}

#[test]
fn issue_18_nodes_draw_at_any_size_without_panic() {
    let mut app = two_nodes_one_down();
    for tab in ['2', '3'] {
        app.update(key(KeyCode::Char(tab)));
        for (w, h) in [(1, 1), (5, 2), (10, 3), (20, 4), (200, 1), (1, 60)] {
            render(&app, w, h);
        }
    }
}

#[test]
fn the_cursor_follows_its_session_when_rows_shift() {
    // Review of issue 18: the selection was a row number, so a session appearing or ending
    // above it moved another session under the cursor, and `k` kicked that one.
    let mut app = app();
    app.update(key(KeyCode::Char('2'))); // the cursor on session 7, the first row
    let kicked = |app: &mut App| {
        app.update(key(KeyCode::Char('k')));
        app.update(key(KeyCode::Char('y')))
    };
    app.update(local(Ok((
        vec![session(3, "dave"), session(7, "alice"), session(9, "carol")],
        vec![],
    ))));
    assert!(
        matches!(
            kicked(&mut app).as_slice(),
            [Effect::Kick { session: 7, .. }]
        ),
        "a session above moved the cursor"
    );
    app.update(key(KeyCode::Down)); // session 9
    app.update(local(Ok((
        vec![session(7, "alice"), session(9, "carol")],
        vec![],
    ))));
    assert!(
        matches!(
            kicked(&mut app).as_slice(),
            [Effect::Kick { session: 9, .. }]
        ),
        "a session ending above moved the cursor"
    );
}

mod overview;
mod review;
mod users;
