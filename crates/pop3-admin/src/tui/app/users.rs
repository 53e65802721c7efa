//! The Users tab's state (issue 20): the sort (`o` the next column, `O` the other order,
//! shown in the header) and the detail view of one user (Enter), whose recent sessions the
//! loop fetches from the server ([`Effect::UserSessions`]) and refreshes at each poll.

use pop3_admin_api::EndedSession;
use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::{App, Effect, Form, FormKind, Mode, Tab, USERS_EVERY};
use crate::user_facts::{Noded, UserFacts};

/// A user as the table and the detail view show them.
pub type UserRow = UserFacts;

/// A user's recent sessions as the server answered, or why it did not.
pub type Sessions = Result<Vec<Noded<EndedSession>>, String>;

/// The Users tab's columns, in the order shown (and sorted through with `o`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserColumn {
    Name,
    Enabled,
    Apop,
    Messages,
    Size,
    Quota,
    Oldest,
    LastLogin,
    Maildir,
}

impl UserColumn {
    pub const ALL: [UserColumn; 9] = [
        UserColumn::Name,
        UserColumn::Enabled,
        UserColumn::Apop,
        UserColumn::Messages,
        UserColumn::Size,
        UserColumn::Quota,
        UserColumn::Oldest,
        UserColumn::LastLogin,
        UserColumn::Maildir,
    ];

    pub fn header(self) -> &'static str {
        match self {
            UserColumn::Name => "NAME",
            UserColumn::Enabled => "ENABLED",
            UserColumn::Apop => "APOP",
            UserColumn::Messages => "MSGS",
            UserColumn::Size => "SIZE",
            UserColumn::Quota => "QUOTA",
            UserColumn::Oldest => "OLDEST",
            UserColumn::LastLogin => "LAST LOGIN",
            UserColumn::Maildir => "MAILDIR",
        }
    }

    fn next(self) -> UserColumn {
        let at = UserColumn::ALL.iter().position(|c| *c == self).unwrap_or(0);
        UserColumn::ALL[(at + 1) % UserColumn::ALL.len()]
    }

    /// Orders two users by this column; unknown values first, ties by name.
    fn compare(self, a: &UserRow, b: &UserRow) -> std::cmp::Ordering {
        let by = match self {
            UserColumn::Name => a.name.cmp(&b.name),
            UserColumn::Enabled => a.enabled.cmp(&b.enabled),
            UserColumn::Apop => (a.apop, a.apop_only).cmp(&(b.apop, b.apop_only)),
            UserColumn::Messages => a.mail.messages.cmp(&b.mail.messages),
            UserColumn::Size => a.mail.bytes.cmp(&b.mail.bytes),
            UserColumn::Quota => a.quota.percent.cmp(&b.quota.percent),
            UserColumn::Oldest => a.mail.oldest.cmp(&b.mail.oldest),
            UserColumn::LastLogin => a.last_login_at.cmp(&b.last_login_at),
            UserColumn::Maildir => a.maildir.cmp(&b.maildir),
        };
        by.then_with(|| a.name.cmp(&b.name))
    }
}

/// How the Users tab is sorted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserSort {
    pub column: UserColumn,
    pub descending: bool,
}

impl Default for UserSort {
    fn default() -> UserSort {
        UserSort {
            column: UserColumn::Name,
            descending: false,
        }
    }
}

impl UserSort {
    /// The header's marker of the order, words and not colour: `▲` ascending, `▼`
    /// descending.
    pub fn marker(self) -> &'static str {
        if self.descending { "▼" } else { "▲" }
    }
}

impl App {
    /// The users the filter lets through, in the chosen order (sorted by [`App::resort`]).
    pub fn visible_users(&self) -> Vec<&UserRow> {
        let filter = self.filter.to_lowercase();
        self.order
            .iter()
            .filter_map(|&i| self.users.get(i))
            .filter(|u| u.name.contains(&filter))
            .collect()
    }

    /// Sorts the users once, when they or the order change.
    pub(super) fn resort(&mut self) {
        let (users, sort) = (&self.users, self.user_sort);
        let mut order: Vec<usize> = (0..users.len()).collect();
        order.sort_by(|&a, &b| {
            let order = sort.column.compare(&users[a], &users[b]);
            if sort.descending {
                order.reverse()
            } else {
                order
            }
        });
        self.order = order;
    }

    /// The background reload of the users, when the last is [`USERS_EVERY`] old and none is
    /// under way.
    pub(super) fn users_due(&mut self) -> Vec<Effect> {
        let due = self
            .users_at
            .is_none_or(|at| self.now.saturating_sub(at) >= USERS_EVERY);
        if due && !self.users_loading {
            self.users_loading = true;
            vec![Effect::ReloadUsers]
        } else {
            Vec::new()
        }
    }

    pub(super) fn selected_user(&self) -> Option<String> {
        let index = self.selection()?;
        self.visible_users().get(index).map(|u| u.name.clone())
    }

    /// The user the detail view shows, if it is open and they still exist.
    pub fn detail_user(&self) -> Option<&UserRow> {
        match &self.mode {
            Mode::Detail(name) => self.users.iter().find(|u| u.name == *name),
            _ => None,
        }
    }

    /// The detail view's sessions, if they are the shown user's.
    pub fn detail_sessions(&self) -> Option<&Sessions> {
        match (&self.mode, &self.user_sessions) {
            (Mode::Detail(name), Some((of, sessions))) if of == name => Some(sessions),
            _ => None,
        }
    }

    /// What the poll asks for besides the live tabs: the shown user's sessions.
    pub(super) fn detail_refresh(&self) -> Vec<Effect> {
        match &self.mode {
            Mode::Detail(name) => vec![Effect::UserSessions { name: name.clone() }],
            _ => Vec::new(),
        }
    }

    /// A key in the detail view: Esc, Enter, Backspace or `q` go back to the table.
    pub(super) fn detail_key(&mut self, name: String, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc | KeyCode::Enter | KeyCode::Backspace | KeyCode::Char('q') => {}
            _ => self.mode = Mode::Detail(name),
        }
        Vec::new()
    }

    pub(super) fn users_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let selected = self.selected_user();
        match (key.code, selected) {
            (KeyCode::Char('/'), _) => self.mode = Mode::Filter,
            (KeyCode::Char('o'), _) => {
                self.user_sort = UserSort {
                    column: self.user_sort.column.next(),
                    descending: false,
                };
                self.resort();
                self.selected[Tab::Users.index()] = 0;
            }
            (KeyCode::Char('O'), _) => {
                self.user_sort.descending = !self.user_sort.descending;
                self.resort();
                self.selected[Tab::Users.index()] = 0;
            }
            (KeyCode::Enter, Some(name)) => {
                self.mode = Mode::Detail(name.clone());
                return vec![Effect::UserSessions { name }];
            }
            (KeyCode::Char('a'), _) => {
                self.mode = Mode::Form(Form::new(
                    FormKind::AddUser,
                    &[("Name", false), ("Password", true), ("Repeat", true)],
                ));
            }
            (KeyCode::Char('p'), Some(_)) => {
                self.mode = Mode::Form(Form::new(
                    FormKind::Password,
                    &[("Password", true), ("Repeat", true)],
                ));
            }
            (KeyCode::Char('s'), Some(_)) => {
                self.mode = Mode::Form(Form::new(
                    FormKind::Apop,
                    &[("APOP secret", true), ("Repeat", true)],
                ));
            }
            (KeyCode::Char('c'), Some(name)) => {
                return vec![Effect::SetApop { name, secret: None }];
            }
            (KeyCode::Char('e'), Some(name)) => {
                let enabled = self.users.iter().any(|u| u.name == name && !u.enabled);
                return vec![Effect::SetEnabled { name, enabled }];
            }
            (KeyCode::Char('d'), Some(name)) => self.mode = Mode::ConfirmDelete(name),
            _ => {}
        }
        Vec::new()
    }
}
