//! The review of issue 20: data that stops arriving is dated and marked `STALE`; the users
//! are read again in the background; the certificate alarm on every tab; the detail view at 80
//! columns; the per-state session charts; `k` and Esc; empty tables and the Locks tab.

use ratatui::style::Modifier;

use super::*;
use crate::tui::app::{STALE_AFTER, USERS_EVERY};

/// Whether the cell at (`x`, `y`) is dimmed.
fn dimmed(app: &App, width: u16, height: u16, x: u16, y: u16) -> bool {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| frame.render_widget(app, frame.area()))
        .unwrap();
    terminal.backend().buffer()[(x, y)]
        .modifier
        .contains(Modifier::DIM)
}

/// Review of issue 20: Esc backs out of the filter and the detail view; a second Esc (or a
/// first on a tab) does not end the TUI. Only `q` and Ctrl-C do.
#[test]
fn review_of_issue_20_esc_never_quits() {
    let mut app = app();
    app.update(key(KeyCode::Char('/')));
    for _ in 0..3 {
        assert!(app.update(key(KeyCode::Esc)).is_empty());
    }
    app.update(key(KeyCode::Enter));
    assert!(matches!(app.mode, Mode::Detail(_)));
    for _ in 0..3 {
        assert!(app.update(key(KeyCode::Esc)).is_empty());
    }
    assert_eq!(app.mode, Mode::Normal);
    app.update(key(KeyCode::Char('2')));
    assert!(app.update(key(KeyCode::Esc)).is_empty());
    app.update(key(KeyCode::Char('?')));
    let screen = render(&app, 100, 24);
    assert!(screen.contains("q, Ctrl-C"), "{screen}");
}

#[test]
fn the_server_going_away_empties_the_live_tabs() {
    let mut app = app();
    app.update(local(Err("connection refused".into())));
    assert!(app.sessions.is_empty() && app.locks.is_empty());
    assert_eq!(app.server, ServerStatus::Down("connection refused".into()));
    // Users still work.
    app.update(key(KeyCode::Down));
    assert_eq!(app.update(key(KeyCode::Char('e'))).len(), 1);
}

#[test]
fn review_of_issue_20_live_data_is_dated_and_marked_stale() {
    let mut app = users::busy();
    app.tab = Tab::Sessions;
    let fresh = render(&app, 80, 24);
    // NOW is 2026-11-18 11:06:40 UTC.
    assert!(fresh.contains("as of 11:06:40 UTC, 0s ago"), "{fresh}");
    assert!(!fresh.contains("STALE"), "{fresh}");
    assert!(!dimmed(&app, 80, 24, 0, 2));
    // The clock ticks on its own; the poll stays away (a node that hangs).
    app.update(Event::Now(NOW + STALE_AFTER));
    assert!(!render(&app, 80, 24).contains("STALE"));
    app.update(Event::Now(NOW + STALE_AFTER + 4));
    let stale = render(&app, 80, 24);
    assert!(
        stale.contains("STALE: as of 11:06:40 UTC, 7s ago"),
        "{stale}"
    );
    assert!(dimmed(&app, 80, 24, 0, 2), "the view is dimmed too");
    insta::assert_snapshot!("sessions_stale_80x24", stale);
    // The next poll makes it fresh again.
    app.update(local(Ok((users::busy_sessions(), Vec::new()))));
    assert!(!render(&app, 80, 24).contains("STALE"));
}

#[test]
fn review_of_issue_20_users_are_read_again_in_the_background() {
    let mut app = users::busy();
    assert!(app.update(Event::Now(NOW + USERS_EVERY - 1)).is_empty());
    assert_eq!(
        app.update(Event::Now(NOW + USERS_EVERY)),
        [Effect::ReloadUsers]
    );
    // One reload at a time, however slow.
    assert!(app.update(Event::Now(NOW + USERS_EVERY + 1)).is_empty());
    assert!(app.update(Event::Now(NOW + 3 * USERS_EVERY)).is_empty());
    let screen = render(&app, 80, 24);
    assert!(screen.contains("STALE: as of 11:06:40 UTC"), "{screen}");
    app.update(Event::Users(Ok(Vec::new())));
    let screen = render(&app, 80, 24);
    assert!(screen.contains("as of 11:07:10 UTC, 0s ago"), "{screen}");
    assert!(screen.contains("no users"), "{screen}");
    assert_eq!(
        app.update(Event::Now(NOW + 4 * USERS_EVERY)),
        [Effect::ReloadUsers]
    );
    // A failed reload is dated too, and reported: not as "no users".
    app.update(Event::Users(Err("database is locked".into())));
    assert!(!app.users_loading);
    let screen = render(&app, 80, 24);
    assert!(screen.contains("error: database is locked"), "{screen}");
    assert!(
        screen.contains("the users could not be read: database is locked"),
        "{screen}"
    );
}

/// The users are sorted when they arrive, in the order chosen before (once per change, not
/// per key).
#[test]
fn review_of_issue_20_a_reload_keeps_the_chosen_order() {
    let mut app = users::busy();
    app.update(key(KeyCode::Char('O')));
    let mut reloaded: Vec<UserRow> = app.users.clone();
    reloaded.rotate_left(2);
    reloaded.push(user("aaron", true, false));
    app.update(Event::Users(Ok(reloaded)));
    let names: Vec<&str> = (app.visible_users().iter())
        .map(|u| u.name.as_str())
        .collect();
    assert_eq!(names, ["dave", "carol", "bob", "alice", "aaron"]);
}

/// A kick changes the live tabs and not the users: it does not reload them.
#[test]
fn review_of_issue_20_a_kick_reloads_no_users() {
    let mut app = users::busy();
    app.tab = Tab::Sessions;
    app.update(key(KeyCode::Char('k')));
    let effects = app.update(key(KeyCode::Char('y')));
    assert!(matches!(
        effects.as_slice(),
        [Effect::Kick { session: 7, .. }]
    ));
    assert!(
        app.update(Event::Done(Ok("session 7 disconnected".into())))
            .is_empty()
    );
    assert!(!app.users_loading);
}

#[test]
fn review_of_issue_20_an_expiring_certificate_is_in_the_status_bar_of_every_tab() {
    let mut app = overview::showing(Ok(overview::busy()));
    for tab in ['0', '1', '2', '3'] {
        app.update(key(KeyCode::Char(tab)));
        let screen = render(&app, 80, 24);
        let last = screen.lines().last().unwrap_or_default();
        assert!(last.contains("CERT EXPIRES in 5 days"), "{tab}: {screen}");
    }
    let quiet = users::busy();
    assert!(!render(&quiet, 80, 24).contains("CERT"));
}

#[test]
fn review_of_issue_20_the_detail_view_at_80_columns_loses_no_line() {
    let mut app = users::busy();
    let long = "/srv/mail/a/very/long/hierarchy/of/directories/that/goes/on/and/on/alice/Maildir";
    if let Some(alice) = app.users.iter_mut().find(|u| u.name == "alice") {
        alice.maildir = long.into();
    }
    let mut second = session(12, "alice");
    second.remote = "[2001:db8:ffff:ffff:ffff:ffff:ffff:1]:61000".into();
    let mut sessions = users::busy_sessions();
    sessions.push(second);
    app.update(local(Ok((sessions, Vec::new()))));
    app.update(key(KeyCode::Enter));
    app.update(Event::UserSessions {
        name: "alice".into(),
        result: Ok(Vec::new()),
    });
    let screen = render(&app, 80, 24);
    for needle in [
        "live now: 2",
        "session 7 from 192.0.2.7:50123",
        "session 12 from [2001:db8:ffff",
        "…",
        "alice/Maildir",
        "Recent sessions",
        "not in the server's recent history",
    ] {
        assert!(screen.contains(needle), "{needle}: {screen}");
    }
    insta::assert_snapshot!("detail_two_live_80x24", screen);
}

#[test]
fn review_of_issue_20_recent_sessions_say_when_they_started_in_utc_and_for_how_long() {
    let screen = render(&users::detail(), 80, 24);
    // Session 21 started 3 minutes 30 s before NOW and lasted 30 s.
    for needle in ["STARTED (UTC)", "FOR", "2026-11-18 11:03", "30s"] {
        assert!(screen.contains(needle), "{needle}: {screen}");
    }
}

#[test]
fn review_of_issue_20_sessions_by_state_have_their_own_charts_when_there_is_room() {
    let app = overview::showing(Ok(overview::busy()));
    let big = render(&app, 160, 48);
    assert!(big.contains("· in TRANSACTION"), "{big}");
    assert!(big.contains("· in AUTHORIZATION"), "{big}");
    let small = render(&app, 80, 24);
    assert!(!small.contains("· in TRANSACTION"), "{small}");
    assert!(
        small.contains("DELE/s") && small.contains("sent/s"),
        "{small}"
    );
}

#[test]
fn snapshot_review_of_issue_20_locks_and_empty_tables() {
    let mut app = users::busy();
    app.tab = Tab::Locks;
    insta::assert_snapshot!("locks_busy_80x24", render(&app, 80, 24));
    insta::assert_snapshot!("locks_busy_160x48", render(&app, 160, 48));
    let mut app = users::empty();
    let screen = render(&app, 160, 48);
    assert!(screen.contains("no users"), "{screen}");
    insta::assert_snapshot!("users_empty_160x48", screen);
    app.tab = Tab::Sessions;
    let screen = render(&app, 160, 48);
    assert!(screen.contains("no sessions"), "{screen}");
    insta::assert_snapshot!("sessions_empty_160x48", screen);
    app.tab = Tab::Locks;
    assert!(render(&app, 80, 24).contains("no locks"));
}

/// A kick asks first, and the question names the session.
#[test]
fn snapshot_review_of_issue_20_kick_asks_first() {
    let mut app = users::busy();
    app.tab = Tab::Sessions;
    assert!(app.update(key(KeyCode::Char('k'))).is_empty());
    let screen = render(&app, 80, 24);
    assert!(
        screen.contains("Kick session 7 (alice from 192.0.2.7:50123)? y / n"),
        "{screen}"
    );
    insta::assert_snapshot!("kick_asks_80x24", screen);
}
