//! The terminal interface: `app` (state and `update`), `ui` (drawing), `work` (the threads
//! that carry out effects and poll the nodes), and here the loop that connects them.
//!
//! **The loop never waits on anything but its event channel** (review of issue 20, D4): the
//! keyboard, a one-second clock, the poller and every effect's worker report on it, so a node
//! that hangs or a large site slows what it shows, never the keys.
//!
//! `ratatui::init` puts the terminal in raw mode on the alternate screen and installs a panic
//! hook that restores it; `ratatui::restore` runs on every normal exit. Ctrl-C arrives as a
//! key in raw mode and quits like `q`.

mod app;
mod ui;
mod work;

use std::sync::mpsc::{self, Receiver, Sender};

use anyhow::Result;
use ratatui::crossterm::event::{self, Event as TermEvent, KeyEventKind};

pub use app::{App, Effect, Event};
pub use work::unix_now;

use crate::live::Nodes;
use crate::settings::Settings;
use crate::users::Users;
use work::Workers;

/// Runs the TUI on `nodes` until the user quits.
pub fn run(settings: Settings, nodes: Nodes) -> Result<()> {
    let users = Users::open(&settings)?;
    // Before the alternate screen, where they stay visible once the TUI ends.
    for warning in users.warnings() {
        eprintln!("pop3-admin: warning: {warning}");
    }
    let (tx, rx) = mpsc::channel();
    let workers = Workers {
        tx: tx.clone(),
        admin: nodes.clone(),
        users: work::spawn_users(users, settings.quota, tx.clone()),
    };
    spawn_input(tx.clone());
    work::spawn_ticker(tx.clone());
    work::spawn_poller(nodes.clone(), tx);
    let mut app = App::new(settings.admin_socket.display().to_string());
    app.named = nodes.is_named();
    app.update(Event::Now(unix_now()));
    // The first list of users comes from the users thread too: a large site opens at once.
    app.users_loading = true;
    workers.run(Effect::ReloadUsers);
    let mut terminal = ratatui::init();
    let result = event_loop(&mut app, &rx, &workers, |app| {
        terminal.draw(|frame| frame.render_widget(app, frame.area()))?;
        Ok(())
    });
    ratatui::restore();
    result
}

/// Draws, waits for the next event, applies it and hands its effects to `workers`, until
/// `Quit` or until every sender is gone.
fn event_loop(
    app: &mut App,
    events: &Receiver<Event>,
    workers: &Workers,
    mut draw: impl FnMut(&App) -> Result<()>,
) -> Result<()> {
    loop {
        draw(app)?;
        let Ok(event) = events.recv() else {
            return Ok(());
        };
        for effect in app.update(event) {
            if effect == Effect::Quit {
                return Ok(());
            }
            workers.run(effect);
        }
    }
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

#[cfg(test)]
mod tests;
