//! The terminal interface: `app` (state and `update`), `ui` (drawing), and here the loop that
//! connects them to the keyboard, a background poller of the admin socket (or of every named
//! node at once), and the effects.
//!
//! `ratatui::init` puts the terminal in raw mode on the alternate screen and installs a panic
//! hook that restores it; `ratatui::restore` runs on every normal exit. Ctrl-C arrives as a
//! key in raw mode and quits like `q`.

mod app;
mod ui;

use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use ratatui::crossterm::event::{self, Event as TermEvent, KeyEventKind};

pub use app::{App, Effect, Event, NodeLive, NodeOverview, UserRow};

use crate::live::{KickTarget, Nodes, Unreachable, Why};
use crate::settings::Settings;
use crate::user_facts::UserFacts;
use crate::users::Users;

/// How often the live tabs are refreshed.
const POLL: Duration = Duration::from_secs(1);

/// Runs the TUI on `nodes` until the user quits.
pub fn run(settings: Settings, nodes: Nodes) -> Result<()> {
    let users = Users::open(&settings)?;
    // Before the alternate screen, where they stay visible once the TUI ends.
    for warning in users.warnings() {
        eprintln!("pop3-admin: warning: {warning}");
    }
    let admin = nodes;
    let (tx, rx) = mpsc::channel();
    spawn_input(tx.clone());
    spawn_poller(admin.clone(), tx.clone());
    let mut app = App::new(settings.admin_socket.display().to_string());
    app.named = admin.is_named();
    app.update(Event::Users(load_users(&users, &settings.quota)));
    app.update(Event::Now(unix_now()));
    let mut terminal = ratatui::init();
    let channel = (&tx, &rx);
    let result = event_loop(
        &mut terminal,
        &mut app,
        channel,
        &users,
        &admin,
        &settings.quota,
    );
    ratatui::restore();
    result
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    (tx, events): (&Sender<Event>, &Receiver<Event>),
    users: &Users,
    admin: &Nodes,
    quota: &pop3_config::Quota,
) -> Result<()> {
    loop {
        terminal.draw(|frame| frame.render_widget(&*app, frame.area()))?;
        let Ok(event) = events.recv() else {
            return Ok(());
        };
        for effect in app.update(event) {
            if effect == Effect::Quit {
                return Ok(());
            }
            // The detail view's sessions: fetched on a thread of its own, so a node that
            // hangs never stalls the keyboard; the answer comes back as an event.
            if let Effect::UserSessions { name } = effect {
                let (admin, tx) = (admin.clone(), tx.clone());
                std::thread::spawn(move || {
                    let result = user_sessions(&admin, &name);
                    let _ = tx.send(Event::UserSessions { name, result });
                });
                continue;
            }
            let done = apply(effect, users, admin);
            app.update(Event::Done(done));
            app.update(Event::Users(load_users(users, quota)));
            app.update(Event::Live(snapshot(admin)));
        }
    }
}

/// Carries out one effect; the message goes to the status bar.
fn apply(effect: Effect, users: &Users, admin: &Nodes) -> Result<String, String> {
    let result = match effect {
        Effect::AddUser { name, password } => {
            users
                .add(&name, password.as_bytes(), false)
                .map(|(u, _, warning)| match warning {
                    Some(warning) => format!("added {} (warning: {warning})", u.name),
                    None => format!("added {}", u.name),
                })
        }
        Effect::SetPassword { name, password } => users
            .set_password(&name, password.as_bytes())
            .map(|()| format!("password of {name} changed")),
        Effect::SetEnabled { name, enabled } => users
            .set_enabled(&name, enabled)
            .map(|()| format!("{name} {}", if enabled { "enabled" } else { "disabled" })),
        Effect::SetApop { name, secret } => {
            let cleared = secret.is_none();
            users.set_apop(&name, secret.as_deref(), false).map(|()| {
                format!(
                    "APOP secret of {name} {}",
                    if cleared { "cleared" } else { "set" }
                )
            })
        }
        Effect::DeleteUser { name } => users
            .remove(&name, false)
            .map(|u| format!("deleted {} (mail kept)", u.name)),
        Effect::Kick { node, session } => kick(admin, node, session),
        Effect::UserSessions { .. } | Effect::Quit => Ok(String::new()),
    };
    result.map_err(|e| format!("{e:#}"))
}

/// Every user's facts: a few small reads each (`maildirsize`, pop3d's listing), never a
/// scan of a Maildir (`user_facts.rs`).
fn load_users(users: &Users, site: &pop3_config::Quota) -> Result<Vec<UserRow>, String> {
    users
        .list()
        .map(|list| list.iter().map(|u| UserFacts::of(site, u)).collect())
        .map_err(|e| format!("{e:#}"))
}

/// A user's recent sessions from every node; none answering is the one line why.
fn user_sessions(admin: &Nodes, name: &str) -> app::Sessions {
    let server = crate::user_facts::sessions_of(admin, name);
    if server.answered {
        Ok(server.ended)
    } else {
        Err(server.notes.join("; "))
    }
}

/// Kicks `session` on the node it was listed on, and on no other.
fn kick(admin: &Nodes, node: String, session: u64) -> anyhow::Result<String> {
    let on = if admin.is_named() {
        format!(" on {node}")
    } else {
        String::new()
    };
    let target = KickTarget {
        node: admin.is_named().then_some(node),
        session,
    };
    let (_, client) = admin.resolve(&target)?;
    Ok(match client.kick(session)? {
        true => format!("session {session}{on} disconnected"),
        false => format!("session {session}{on} had already ended"),
    })
}

/// Every node's overview, sessions and locks, asked at once: **history comes from the
/// server**, so the charts show the last minutes from the first poll. A node found down by
/// its overview is not asked again in the same poll, so it costs one timeout, not three.
fn poll(admin: &Nodes) -> (Vec<NodeOverview>, Vec<NodeLive>) {
    let answers = admin.ask(|client| {
        let overview = client.overview();
        let live = match &overview {
            Err(e) if Unreachable::why(e) == Some(Why::Down) => Err(format!("{e:#}")),
            _ => (client.sessions())
                .and_then(|sessions| Ok((sessions, client.locks()?)))
                .map_err(|e| format!("{e:#}")),
        };
        Ok((overview.map_err(|e| format!("{e:#}")), live))
    });
    answers
        .into_iter()
        .map(|answer| {
            let (overview, live) = answer
                .answer
                .unwrap_or_else(|e| (Err(format!("{e:#}")), Err(format!("{e:#}"))));
            (
                NodeOverview {
                    node: answer.node.clone(),
                    result: overview,
                },
                NodeLive {
                    node: answer.node,
                    result: live,
                },
            )
        })
        .unzip()
}

/// Every node's sessions and locks, asked at once.
fn snapshot(admin: &Nodes) -> Vec<NodeLive> {
    admin
        .ask(|client| Ok((client.sessions()?, client.locks()?)))
        .into_iter()
        .map(|answer| NodeLive {
            node: answer.node,
            result: answer.answer.map_err(|e| format!("{e:#}")),
        })
        .collect()
}

fn spawn_input(tx: Sender<Event>) {
    std::thread::spawn(move || {
        while let Ok(event) = event::read() {
            let sent = match event {
                TermEvent::Key(key) if key.kind == KeyEventKind::Press => tx.send(Event::Key(key)),
                // A resize redraws on the next event; send the clock to trigger one.
                TermEvent::Resize(..) => tx.send(Event::Now(unix_now())),
                _ => Ok(()),
            };
            if sent.is_err() {
                return;
            }
        }
    });
}

fn spawn_poller(admin: Nodes, tx: Sender<Event>) {
    std::thread::spawn(move || {
        loop {
            let (overviews, live) = poll(&admin);
            if tx.send(Event::Overview(overviews)).is_err()
                || tx.send(Event::Live(live)).is_err()
                || tx.send(Event::Now(unix_now())).is_err()
            {
                return;
            }
            std::thread::sleep(POLL);
        }
    });
}

/// Seconds since the epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
