//! Issue 20: the Overview tab from fixed data, at 80×24 and 160×48: an idle server and a busy
//! one (one certificate of two expiring in 5 days), and the one line for each kind of failure.

use pop3_admin_api::{
    API_VERSION, CertificateFacts, FailingAddress, History, ListenerFacts, LockSummary,
    OverviewResponse, ServerFacts, SessionCounts,
};

use ratatui::style::Color;

use super::*;

const DAY: i64 = 86_400;

fn listeners() -> Vec<ListenerFacts> {
    [("0.0.0.0:110", "starttls"), ("0.0.0.0:995", "implicit")]
        .iter()
        .map(|(address, kind)| ListenerFacts {
            address: (*address).into(),
            kind: (*kind).into(),
        })
        .collect()
}

fn certificate(file: &str, names: &[&str], days: i64) -> CertificateFacts {
    CertificateFacts {
        file: file.into(),
        names: names.iter().map(|n| (*n).into()).collect(),
        not_after: Some(NOW as i64 + days * DAY + 3_600),
    }
}

/// `len` seconds of a series made by `f` of the second's index.
fn series(len: usize, f: impl Fn(usize) -> u32) -> Vec<u32> {
    (0..len).map(f).collect()
}

/// A server that started 5 minutes ago and has seen nothing.
fn idle() -> OverviewResponse {
    let len = 300;
    OverviewResponse {
        version: API_VERSION,
        server: ServerFacts {
            version: "1.2.0".into(),
            started: NOW - 300,
            now: NOW,
            listeners: listeners(),
            certificates: vec![certificate("/etc/pop3d/pop3d.pem", &[], 200)],
        },
        sessions: SessionCounts::default(),
        history: History {
            end: NOW,
            authorization: vec![0; len],
            transaction: vec![0; len],
            update: vec![0; len],
            logins_ok: vec![0; len],
            logins_failed: vec![0; len],
            bytes_sent: vec![0; len],
            retrieved: vec![0; len],
            deleted: vec![0; len],
        },
        locks: LockSummary::default(),
        failures: Vec::new(),
    }
}

/// A server up for 3 days with 15 minutes of traffic, a brute force from one address, and an
/// SNI certificate expiring in 5 days.
pub(super) fn busy() -> OverviewResponse {
    let len = 900;
    let wave = |i: usize, period: usize, top: u32| {
        let phase = (i % period) as u32;
        top * phase / period as u32
    };
    OverviewResponse {
        version: API_VERSION,
        server: ServerFacts {
            version: "1.2.0".into(),
            started: NOW - 3 * 86_400 - 4 * 3_600,
            now: NOW,
            listeners: listeners(),
            certificates: vec![
                certificate("/etc/pop3d/pop3d.pem", &[], 90),
                certificate(
                    "/etc/pop3d/mail.example.org.pem",
                    &["mail.example.org", "*.example.org"],
                    5,
                ),
            ],
        },
        sessions: SessionCounts {
            authorization: 2,
            transaction: 10,
            update: 0,
        },
        history: History {
            end: NOW,
            authorization: series(len, |i| wave(i, 60, 4)),
            transaction: series(len, |i| 4 + wave(i, 300, 8)),
            update: series(len, |i| u32::from(i % 97 == 0)),
            logins_ok: series(len, |i| wave(i, 45, 6)),
            logins_failed: series(len, |i| if (600..720).contains(&i) { 9 } else { 0 }),
            bytes_sent: (0..len).map(|i| (i as u64 % 120) * 40_000).collect(),
            retrieved: series(len, |i| wave(i, 30, 5)),
            deleted: series(len, |i| wave(i, 90, 3)),
        },
        locks: LockSummary {
            held: 3,
            oldest: Some(lock("alice", 7)),
        },
        failures: (0..10u8)
            .map(|i| FailingAddress {
                address: if i == 3 {
                    "2001:db8:1::/64".into()
                } else {
                    format!("198.51.100.{}", 20 + i)
                },
                last_failure: NOW - 4 - u64::from(i) * 17,
                penalty_ms: if i == 0 { 15_000 } else { 1_000 >> (i / 3) },
            })
            .collect(),
    }
}

/// The app on its first screen after one poll answered `overview`.
pub(super) fn showing(overview: Result<OverviewResponse, String>) -> App {
    let mut app = App::new("/run/pop3d/admin.sock".into());
    app.update(Event::Now(NOW));
    app.update(Event::Overview(vec![NodeOverview {
        node: String::new(),
        result: overview,
    }]));
    app.update(local(Ok((Vec::new(), Vec::new()))));
    app
}

#[test]
fn snapshot_overview_idle_server() {
    let app = showing(Ok(idle()));
    assert_eq!(app.tab, Tab::Overview, "the first tab on screen");
    insta::assert_snapshot!("overview_idle_80x24", render(&app, 80, 24));
    insta::assert_snapshot!("overview_idle_160x48", render(&app, 160, 48));
}

#[test]
fn snapshot_overview_busy_server() {
    let app = showing(Ok(busy()));
    let small = render(&app, 80, 24);
    insta::assert_snapshot!("overview_busy_80x24", small);
    insta::assert_snapshot!("overview_busy_160x48", render(&app, 160, 48));
    // Everything essential at 80x24: version, uptime, the expiring certificate (worded, not
    // only red), every chart, the worst address, the oldest lock.
    for needle in [
        "pop3d 1.2.0",
        "up 3d 4h",
        "mail.example.org.pem",
        "EXPIRES SOON mail.example.org.pem: 2026-11-23 (5 days)",
        "sessions",
        "logins ok/s",
        "logins failed/s",
        "sent/s",
        "RETR/s",
        "DELE/s",
        "198.51.100.20",
        "15.0s",
        "oldest: alice",
    ] {
        assert!(
            small.contains(needle),
            "{needle} missing at 80x24:\n{small}"
        );
    }
}

/// The expiring certificate is red as well as worded; the one with 90 days is neither.
#[test]
fn an_expiring_certificate_is_red_and_says_so() {
    let app = showing(Ok(busy()));
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal
        .draw(|frame| frame.render_widget(&app, frame.area()))
        .unwrap();
    let buffer = terminal.backend().buffer().clone();
    let row_of = |needle: &str| {
        (0..buffer.area.height)
            .find(|&y| {
                let line: String = (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol().to_owned())
                    .collect();
                line.contains(needle)
            })
            .unwrap()
    };
    let soon = row_of("EXPIRES SOON");
    assert_eq!(buffer[(0, soon)].fg, Color::Red);
    let fine = row_of("(90 days)");
    assert_ne!(buffer[(0, fine)].fg, Color::Red);
    assert!(fine > soon, "the soonest first");
}

/// The history comes with the first answer: the charts are drawn from the first poll.
#[test]
fn the_first_poll_draws_the_last_minutes() {
    let screen = render(&showing(Ok(busy())), 80, 24);
    let bars = screen.chars().filter(|c| "▁▂▃▄▅▆▇█".contains(*c)).count();
    assert!(bars > 100, "{screen}");
}

#[test]
fn each_failure_is_one_clear_line() {
    for (why, needle) in [
        (
            "pop3d is not running at /run/pop3d/admin.sock (no such socket)",
            "No overview: pop3d is not running at /run/pop3d/admin.sock",
        ),
        (
            "permission denied on /run/pop3d/admin.sock: this user may not use pop3d's admin \
             socket (run as root or as a member of its group)",
            "No overview: permission denied on /run/pop3d/admin.sock",
        ),
        (
            "pop3d speaks admin API version 2, this pop3-admin version 1: use the pop3-admin \
             of the same release",
            "No overview: pop3d speaks admin API version 2",
        ),
    ] {
        let screen = render(&showing(Err(why.into())), 80, 24);
        assert!(screen.contains(needle), "{screen}");
    }
    insta::assert_snapshot!(
        "overview_other_api_version_80x24",
        render(
            &showing(Err(
                "pop3d speaks admin API version 2, this pop3-admin version 1: \
                          use the pop3-admin of the same release"
                    .into()
            )),
            80,
            24
        )
    );
}

#[test]
fn n_shows_the_next_nodes_overview() {
    let mut app = App::new(String::new());
    app.named = true;
    app.update(Event::Overview(vec![
        NodeOverview {
            node: "a".into(),
            result: Ok(idle()),
        },
        NodeOverview {
            node: "b".into(),
            result: Err("pop3d is not running at /run/pop3d/b.sock (no such socket)".into()),
        },
    ]));
    assert!(render(&app, 80, 24).contains("node a (1 of 2; n: next node)"));
    app.update(key(KeyCode::Char('n')));
    let screen = render(&app, 80, 24);
    assert!(screen.contains("node b (2 of 2"), "{screen}");
    assert!(screen.contains("No overview: pop3d is not running at /run/pop3d/b.sock"));
    app.update(key(KeyCode::Char('n')));
    assert_eq!(app.overview_node, 0);
}

#[test]
fn the_overview_draws_at_any_size_without_panic() {
    let app = showing(Ok(busy()));
    for w in [1, 2, 5, 10, 20, 40, 79, 80, 81, 120, 300] {
        for h in [1, 2, 3, 5, 8, 12, 23, 24, 25, 48, 100] {
            render(&app, w, h);
        }
    }
}
