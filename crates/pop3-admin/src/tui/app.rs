//! The TUI's state and its one transition function, [`App::update`]. Side effects (database
//! changes, kicks) are returned as [`Effect`]s for the loop to carry out, and their results come
//! back as events, so all behaviour is testable without a terminal. The Users tab's sort and
//! detail view are in `app/users.rs`.

mod form;
mod users;

use pop3_admin_api::{LockInfo, OverviewResponse, SessionInfo};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub use users::{Sessions, UserColumn, UserRow, UserSort};

/// The tabs, Overview first (key 0; the others keep their keys 1 to 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Overview,
    Users,
    Sessions,
    Locks,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::Overview, Tab::Users, Tab::Sessions, Tab::Locks];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Overview => "Overview",
            Tab::Users => "Users",
            Tab::Sessions => "Sessions",
            Tab::Locks => "Locks",
        }
    }

    pub(crate) fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// One node's answer to a poll: its sessions and locks, or why there are none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeLive {
    /// The node's name ("" for the unnamed local socket).
    pub node: String,
    pub result: Result<(Vec<SessionInfo>, Vec<LockInfo>), String>,
}

/// One node's overview (`GET /v1/overview`), or the one line saying why there is none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeOverview {
    /// The node's name ("" for the unnamed local socket).
    pub node: String,
    pub result: Result<OverviewResponse, String>,
}

/// Whether the server answers on its admin socket (with named nodes: whether all do).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerStatus {
    Unknown,
    Up,
    Down(String),
}

/// Something for the loop to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    AddUser {
        name: String,
        password: String,
    },
    SetPassword {
        name: String,
        password: String,
    },
    SetEnabled {
        name: String,
        enabled: bool,
    },
    SetApop {
        name: String,
        secret: Option<String>,
    },
    DeleteUser {
        name: String,
    },
    /// Fetch `name`'s recent sessions from every node (the detail view).
    UserSessions {
        name: String,
    },
    /// Kick `session` on `node` ("" for the unnamed local socket): session ids are per node.
    Kick {
        node: String,
        session: u64,
    },
    /// Read every user's facts again (the background refresh).
    ReloadUsers,
    Quit,
}

/// What happens to the app.
#[derive(Debug)]
pub enum Event {
    Key(KeyEvent),
    /// A fresh view of every node, in node order.
    Live(Vec<NodeLive>),
    /// Every node's overview, in node order.
    Overview(Vec<NodeOverview>),
    /// The user list, reloaded.
    Users(Result<Vec<UserRow>, String>),
    /// A user's recent sessions, for the detail view.
    UserSessions {
        name: String,
        result: Sessions,
    },
    /// The outcome of an effect, for the status bar.
    Done(Result<String, String>),
    /// The clock, for idle times and the age of what is shown: every second from a thread of
    /// its own, whatever the nodes do.
    Now(u64),
}

/// A form being filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Form {
    pub kind: FormKind,
    pub fields: Vec<Field>,
    pub focus: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormKind {
    AddUser,
    Password,
    Apop,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub label: &'static str,
    pub value: String,
    /// Shown as `*` per character.
    pub masked: bool,
}

/// What the keyboard talks to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Filter,
    Help,
    Form(Form),
    ConfirmDelete(String),
    /// `k` on the Sessions tab asks first: `y` kicks this session of this node.
    ConfirmKick {
        node: String,
        session: u64,
    },
    /// The detail view of one user (Enter on the Users tab).
    Detail(String),
}

/// All of the TUI's state.
#[derive(Debug)]
pub struct App {
    pub tab: Tab,
    pub mode: Mode,
    pub users: Vec<UserRow>,
    pub filter: String,
    /// Whether the nodes are named (`--node`, `[admin.nodes]`): a NODE column, and a line
    /// per node that does not answer.
    pub named: bool,
    /// The sessions of every node that answered, each with its node.
    pub sessions: Vec<(String, SessionInfo)>,
    pub locks: Vec<(String, LockInfo)>,
    /// Named nodes that did not answer the last poll, and why.
    pub down: Vec<(String, String)>,
    /// How many nodes the last poll asked.
    pub node_count: usize,
    pub server: ServerStatus,
    pub socket: String,
    pub status: Option<Result<String, String>>,
    /// Selected row per tab.
    pub selected: [usize; 4],
    pub now: u64,
    /// Every node's last overview (empty until the first poll).
    pub overviews: Vec<NodeOverview>,
    /// Which node the Overview tab shows (`n` for the next).
    pub overview_node: usize,
    /// The Users tab's order.
    pub user_sort: UserSort,
    /// The last recent sessions fetched, and whose.
    pub user_sessions: Option<(String, Sessions)>,
    /// When the users, the live tabs and the overviews last arrived (`now` then): the status
    /// bar says how old what is shown is, and `STALE` past [`STALE_AFTER`].
    pub users_at: Option<u64>,
    pub live_at: Option<u64>,
    pub overview_at: Option<u64>,
    /// A reload of the users is under way: no other is asked for until it answers.
    pub users_loading: bool,
    /// Why the last reload of the users failed, if it did (the list shown is the one before).
    pub users_error: Option<String>,
    /// `users` indices in the chosen order, sorted once per change of the users or the order
    /// (not per key: `visible_users` only filters).
    order: Vec<usize>,
}

/// Seconds after which shown data counts as stale, beyond its refresh period.
pub const STALE_AFTER: u64 = 3;
/// How often the users' facts are read again in the background, in seconds: each reload
/// reads every user's listing (~6.5 MB for 100,000 messages), so not every second.
pub const USERS_EVERY: u64 = 10;

impl App {
    pub fn new(socket: String) -> App {
        App {
            tab: Tab::Overview,
            mode: Mode::Normal,
            users: Vec::new(),
            filter: String::new(),
            named: false,
            sessions: Vec::new(),
            locks: Vec::new(),
            down: Vec::new(),
            node_count: 0,
            server: ServerStatus::Unknown,
            socket,
            status: None,
            selected: [0; 4],
            now: 0,
            overviews: Vec::new(),
            overview_node: 0,
            user_sort: UserSort::default(),
            user_sessions: None,
            users_at: None,
            live_at: None,
            overview_at: None,
            users_loading: false,
            users_error: None,
            order: Vec::new(),
        }
    }

    /// The selected row of `tab`, clamped to what exists.
    fn selection_in(&self, tab: Tab) -> Option<usize> {
        let len = match tab {
            Tab::Sessions => self.sessions.len(),
            Tab::Locks => self.locks.len(),
            Tab::Users | Tab::Overview => return None,
        };
        (len > 0).then(|| self.selected[tab.index()].min(len - 1))
    }

    /// The selected row of the current tab, clamped to what exists.
    pub fn selection(&self) -> Option<usize> {
        let len = self.rows();
        (len > 0).then(|| self.selected[self.tab.index()].min(len - 1))
    }

    fn rows(&self) -> usize {
        match self.tab {
            Tab::Users => self.visible_users().len(),
            Tab::Sessions => self.sessions.len(),
            Tab::Locks => self.locks.len(),
            Tab::Overview => 0,
        }
    }

    /// The transition function: applies an event, returns what to do.
    pub fn update(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Key(key) => self.key(key),
            Event::Live(nodes) => {
                self.live(nodes);
                self.live_at = Some(self.now);
                self.detail_refresh()
            }
            Event::UserSessions { name, result } => {
                self.user_sessions = Some((name, result));
                Vec::new()
            }
            Event::Overview(overviews) => {
                self.overviews = overviews;
                self.overview_at = Some(self.now);
                Vec::new()
            }
            Event::Users(result) => {
                self.users_loading = false;
                self.users_at = Some(self.now);
                match result {
                    Ok(users) => {
                        self.users = users;
                        self.users_error = None;
                        self.resort();
                    }
                    Err(why) => {
                        self.users_error = Some(why.clone());
                        self.status = Some(Err(why));
                    }
                }
                Vec::new()
            }
            Event::Done(Err(why)) => {
                self.status = Some(Err(why));
                Vec::new()
            }
            Event::Done(Ok(message)) => {
                self.status = Some(Ok(message));
                Vec::new()
            }
            Event::Now(now) => {
                self.now = now;
                self.users_due()
            }
        }
    }

    /// A poll's answers replace the live tabs whole: **a node that did not answer empties
    /// only its own rows**, and is listed in `down`.
    fn live(&mut self, nodes: Vec<NodeLive>) {
        // The cursor follows its session, not its row number: rows shift when sessions end or
        // a node goes away, and `k` must kick the session the admin chose (review of issue 18).
        let pinned = self
            .selection_in(Tab::Sessions)
            .and_then(|i| self.sessions.get(i))
            .map(|(node, s)| (node.clone(), s.id));
        self.sessions.clear();
        self.locks.clear();
        self.down.clear();
        self.node_count = nodes.len();
        let mut first_error = None;
        for NodeLive { node, result } in nodes {
            match result {
                Ok((sessions, locks)) => {
                    self.sessions
                        .extend(sessions.into_iter().map(|s| (node.clone(), s)));
                    self.locks
                        .extend(locks.into_iter().map(|l| (node.clone(), l)));
                }
                Err(why) => {
                    first_error.get_or_insert_with(|| why.clone());
                    self.down.push((node, why));
                }
            }
        }
        if let Some((node, id)) = pinned
            && let Some(row) = (self.sessions.iter()).position(|(n, s)| *n == node && s.id == id)
        {
            self.selected[Tab::Sessions.index()] = row;
        }
        self.server = match first_error {
            None => ServerStatus::Up,
            Some(why) if !self.named => ServerStatus::Down(why),
            Some(_) => ServerStatus::Down(format!(
                "{} of {} nodes down",
                self.down.len(),
                self.node_count
            )),
        };
        if !self.named {
            // One unnamed node: its title and the status bar say it, as they always did.
            self.down.clear();
        }
    }

    fn key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            return vec![Effect::Quit];
        }
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Normal => self.normal_key(key),
            Mode::Help => Vec::new(),
            Mode::Filter => {
                match key.code {
                    KeyCode::Enter | KeyCode::Esc => {}
                    KeyCode::Backspace => {
                        self.filter.pop();
                        self.mode = Mode::Filter;
                    }
                    KeyCode::Char(c) if !c.is_control() => {
                        self.filter.push(c);
                        self.selected[Tab::Users.index()] = 0;
                        self.mode = Mode::Filter;
                    }
                    _ => self.mode = Mode::Filter,
                }
                Vec::new()
            }
            Mode::Form(form) => self.form_key(form, key),
            Mode::Detail(name) => self.detail_key(name, key),
            Mode::ConfirmDelete(name) => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => vec![Effect::DeleteUser { name }],
                _ => {
                    self.status = Some(Ok(format!("{name} kept")));
                    Vec::new()
                }
            },
            Mode::ConfirmKick { node, session } => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => vec![Effect::Kick { node, session }],
                _ => {
                    self.status = Some(Ok(format!("session {session} not kicked")));
                    Vec::new()
                }
            },
        }
    }

    fn normal_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let tab = self.tab.index();
        match key.code {
            // Only `q` quits: Esc backs out of the filter and the detail view, and a second
            // Esc must not end the TUI (review of issue 20).
            KeyCode::Char('q') => return vec![Effect::Quit],
            KeyCode::Char('?') => self.mode = Mode::Help,
            KeyCode::Tab | KeyCode::Right => self.tab = Tab::ALL[(tab + 1) % Tab::ALL.len()],
            KeyCode::BackTab | KeyCode::Left => self.tab = Tab::ALL[(tab + 3) % Tab::ALL.len()],
            KeyCode::Char('0') => self.tab = Tab::Overview,
            KeyCode::Char('1') => self.tab = Tab::Users,
            KeyCode::Char('2') => self.tab = Tab::Sessions,
            KeyCode::Char('3') => self.tab = Tab::Locks,
            KeyCode::Down | KeyCode::Char('j') => {
                let rows = self.rows();
                self.selected[tab] = (self.selected[tab] + 1).min(rows.saturating_sub(1));
            }
            KeyCode::Up => self.selected[tab] = self.selected[tab].saturating_sub(1),
            KeyCode::Char('n') if self.tab == Tab::Overview => {
                self.overview_node = (self.overview_node + 1) % self.overviews.len().max(1);
            }
            _ if self.tab == Tab::Users => return self.users_key(key),
            KeyCode::Char('k') if self.tab == Tab::Sessions => {
                // `k` is "up" to vim hands: it asks before it kicks (review of issue 20).
                if let Some((node, session)) = self.selection().and_then(|i| self.sessions.get(i)) {
                    self.mode = Mode::ConfirmKick {
                        node: node.clone(),
                        session: session.id,
                    };
                }
            }
            _ => {}
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests;
