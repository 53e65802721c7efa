//! Where the TUI's effects run: **never on the thread that reads the keyboard** (review of
//! issue 20, D4). A kick may wait a request timeout on a node that hangs, a reload of the users
//! reads every user's listing, a snapshot asks every node: each runs on a worker thread and
//! reports back as an [`Event`], so the key loop only ever waits for the next event.
//!
//! The user database is one store that is `Send` but not `Sync`, so it lives on **one users
//! thread** that takes its jobs in order (a change, then the reload that shows it); kicks,
//! snapshots and a user's sessions each get a thread of their own.

use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::app::{self, Effect, Event, NodeLive, NodeOverview, UserRow};
use crate::live::{KickTarget, Nodes, Unreachable, Why};
use crate::user_facts::UserFacts;
use crate::users::Users;

/// How often the live tabs are refreshed.
const POLL: Duration = Duration::from_secs(1);
/// How often the clock ticks, whatever the nodes do.
const TICK: Duration = Duration::from_secs(1);

/// A job for the users thread.
#[derive(Debug)]
pub enum UsersJob {
    /// A change to the user database, then a reload.
    Apply(Effect),
    /// A reload of every user's facts.
    Reload,
}

/// The loop's hands: where each effect goes.
pub struct Workers {
    /// The app's event channel, where every worker reports.
    pub tx: Sender<Event>,
    pub admin: Nodes,
    /// The users thread's queue.
    pub users: Sender<UsersJob>,
}

impl Workers {
    /// Hands `effect` to its worker and returns at once; `Quit` is the loop's.
    pub fn run(&self, effect: Effect) {
        match effect {
            Effect::Quit => {}
            Effect::ReloadUsers => self.users_job(UsersJob::Reload),
            Effect::AddUser { .. }
            | Effect::SetPassword { .. }
            | Effect::SetEnabled { .. }
            | Effect::SetApop { .. }
            | Effect::DeleteUser { .. } => self.users_job(UsersJob::Apply(effect)),
            Effect::UserSessions { name } => {
                let (admin, tx) = (self.admin.clone(), self.tx.clone());
                std::thread::spawn(move || {
                    let result = user_sessions(&admin, &name);
                    let _ = tx.send(Event::UserSessions { name, result });
                });
            }
            // A kick changes the live tabs, not the user database: a snapshot follows it,
            // no reload of the users.
            Effect::Kick { node, session } => {
                let (admin, tx) = (self.admin.clone(), self.tx.clone());
                std::thread::spawn(move || {
                    let done = kick(&admin, node, session).map_err(|e| format!("{e:#}"));
                    if tx.send(Event::Done(done)).is_ok() {
                        let _ = tx.send(Event::Live(snapshot(&admin)));
                    }
                });
            }
        }
    }

    fn users_job(&self, job: UsersJob) {
        if self.users.send(job).is_err() {
            // The users thread is gone (it panicked): say so rather than wait for it.
            let _ = self.tx.send(Event::Done(
                Err("the user database's thread stopped".into()),
            ));
        }
    }
}

/// Starts the users thread, which owns `users` and reports on `tx`.
pub fn spawn_users(users: Users, quota: pop3_config::Quota, tx: Sender<Event>) -> Sender<UsersJob> {
    let (jobs, queue): (Sender<UsersJob>, Receiver<UsersJob>) = mpsc::channel();
    std::thread::spawn(move || {
        for job in queue {
            if let UsersJob::Apply(effect) = job
                && tx.send(Event::Done(apply(effect, &users))).is_err()
            {
                return;
            }
            if tx.send(Event::Users(load_users(&users, &quota))).is_err() {
                return;
            }
        }
    });
    jobs
}

/// The clock: an event every second, **independent of the nodes**, so the age of what is
/// shown keeps counting while a poll waits on a node that hangs.
pub fn spawn_ticker(tx: Sender<Event>) {
    std::thread::spawn(move || {
        while tx.send(Event::Now(unix_now())).is_ok() {
            std::thread::sleep(TICK);
        }
    });
}

/// The poller: every node's overview, sessions and locks, then again a second later.
pub fn spawn_poller(admin: Nodes, tx: Sender<Event>) {
    std::thread::spawn(move || {
        loop {
            let (overviews, live) = poll(&admin);
            if tx.send(Event::Overview(overviews)).is_err() || tx.send(Event::Live(live)).is_err() {
                return;
            }
            std::thread::sleep(POLL);
        }
    });
}

/// Carries out one change to the user database; the message goes to the status bar.
fn apply(effect: Effect, users: &Users) -> Result<String, String> {
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
        Effect::Kick { .. } | Effect::UserSessions { .. } | Effect::ReloadUsers | Effect::Quit => {
            Ok(String::new())
        }
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

/// Seconds since the epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
