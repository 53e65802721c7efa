//! Drawing: a pure function of [`App`]. Layout comes from ratatui's constraints, never from
//! arithmetic that could underflow, so any terminal size, down to 1×1, draws without a panic.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Clear, Paragraph, Row, StatefulWidget, Table, TableState, Tabs, Widget, Wrap,
};

use super::app::{App, Mode, STALE_AFTER, ServerStatus, Tab, USERS_EVERY};
use crate::facts::{self, Expiry};

mod columns;
mod overview;
mod users;

use columns::{Column, fit, heads, keep};

const HELP: &[(&str, &str)] = &[
    (
        "0 1 2 3, Tab, → ←",
        "Overview, Users, Sessions, Locks; next, previous",
    ),
    ("n", "Overview: the next node (with several nodes)"),
    ("↑ ↓", "select"),
    ("/", "Users: filter as you type (Enter or Esc to stop)"),
    ("o / O", "Users: sort by the next column / the other way"),
    ("Enter", "Users: the user's details, recent sessions (Esc)"),
    ("a", "Users: add a user"),
    ("p", "Users: change the selected user's password"),
    ("e", "Users: enable or disable the selected user"),
    ("s / c", "Users: set / clear the APOP secret"),
    ("d", "Users: delete the selected user (asks first)"),
    ("k", "Sessions: kick the selected session (asks y / n)"),
    ("Esc", "back out of the filter, the detail view, a form"),
    ("?", "this help"),
    ("q, Ctrl-C", "quit"),
];

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let [tabs, body, status] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(0),
            Constraint::Length(1),
        ])
        .areas(area);
        Tabs::new(Tab::ALL.iter().map(|t| t.title()))
            .select(Tab::ALL.iter().position(|t| *t == self.tab))
            .highlight_style(Style::new().add_modifier(Modifier::REVERSED))
            .render(tabs, buf);
        match self.tab {
            Tab::Overview => overview::render(self, body, buf),
            Tab::Users => users::render(self, body, buf),
            Tab::Sessions => sessions(self, body, buf),
            Tab::Locks => locks(self, body, buf),
        }
        // Data older than it should be is dimmed, and the status bar says `STALE`.
        if freshness(self).is_some_and(|f| f.stale) {
            buf.set_style(body, Style::new().add_modifier(Modifier::DIM));
        }
        status_bar(self, status, buf);
        match &self.mode {
            Mode::Help => help(body, buf),
            Mode::Form(form) => {
                let area = centered(body, 50, form.fields.len() as u16 + 2);
                Clear.render(area, buf);
                let lines: Vec<Line<'_>> = form
                    .fields
                    .iter()
                    .enumerate()
                    .map(|(i, field)| {
                        let value = if field.masked {
                            "*".repeat(field.value.chars().count())
                        } else {
                            field.value.clone()
                        };
                        let marker = if i == form.focus { "> " } else { "  " };
                        Line::from(format!(
                            "{marker}{:<12} {value}",
                            format!("{}:", field.label)
                        ))
                    })
                    .collect();
                Paragraph::new(lines)
                    .block(Block::bordered().title(format!(
                        " {} (Enter: next/save, Esc: cancel) ",
                        form.title()
                    )))
                    .render(area, buf);
            }
            Mode::ConfirmDelete(name) => {
                let area = centered(body, 50, 3);
                Clear.render(area, buf);
                Paragraph::new(format!("Delete {name}? Its mail stays. y / n"))
                    .block(Block::bordered().title(" Confirm "))
                    .render(area, buf);
            }
            Mode::ConfirmKick { node, session } => {
                let area = centered(body, 60, 3);
                Clear.render(area, buf);
                let who = (self.sessions.iter())
                    .find(|(n, s)| n == node && s.id == *session)
                    .map_or(String::new(), |(_, s)| {
                        format!(" ({} from {})", s.user.as_deref().unwrap_or("-"), s.remote)
                    });
                let on = if node.is_empty() {
                    String::new()
                } else {
                    format!(" on {node}")
                };
                Paragraph::new(format!("Kick session {session}{on}{who}? y / n"))
                    .block(Block::bordered().title(" Confirm "))
                    .render(area, buf);
            }
            Mode::Normal | Mode::Filter | Mode::Detail(_) => {}
        }
    }
}

fn table_state(app: &App) -> TableState {
    TableState::default().with_selected(app.selection())
}

fn highlight() -> Style {
    Style::new().add_modifier(Modifier::REVERSED)
}

fn live_block(app: &App, title: &'static str) -> Block<'static> {
    let title = match &app.server {
        ServerStatus::Down(_) if !app.named => {
            format!(" {title} — server not running at {} ", app.socket)
        }
        _ => format!(" {title} "),
    };
    Block::new().borders(Borders::TOP).title(title)
}

/// The NODE column's width with named nodes: the longest name, at least its header.
fn node_width(app: &App) -> u16 {
    let longest = app
        .sessions
        .iter()
        .map(|(node, _)| node)
        .chain(app.locks.iter().map(|(node, _)| node))
        .chain(app.down.iter().map(|(node, _)| node))
        .map(|node| node.chars().count())
        .fold(4, usize::max);
    u16::try_from(longest).unwrap_or(u16::MAX)
}

/// A live tab: its block, then a line per named node that did not answer, then the table
/// (with a NODE column first when the nodes are named), its columns fitted to the width.
fn live_table(
    app: &App,
    title: &'static str,
    columns: Vec<Column>,
    rows: Vec<(&str, Vec<String>)>,
    area: Rect,
    buf: &mut Buffer,
) {
    let block = live_block(app, title);
    let inner = block.inner(area);
    block.render(area, buf);
    let down_lines = u16::try_from(app.down.len()).unwrap_or(u16::MAX);
    let [down, table_area] =
        Layout::vertical([Constraint::Length(down_lines), Constraint::Min(0)]).areas(inner);
    let lines: Vec<Line<'_>> = app
        .down
        .iter()
        .map(|(node, why)| {
            Line::styled(
                format!("node {node}: not answering — {why}"),
                Style::new().fg(Color::Red),
            )
        })
        .collect();
    Paragraph::new(lines).render(down, buf);
    let named = app.named;
    let mut columns = columns;
    if named {
        columns.insert(0, Column::fixed("NODE", node_width(app), 0));
    }
    let kept = fit(&columns, table_area.width);
    let empty = rows.is_empty();
    let rows = rows.into_iter().map(|(node, mut cells)| {
        if named {
            cells.insert(0, node.to_owned());
        }
        Row::new(keep(&cells, &kept))
    });
    let (widths, headers) = heads(&columns, &kept);
    let table = Table::new(rows, widths)
        .header(Row::new(headers).style(Style::new().bold()))
        .row_highlight_style(highlight());
    StatefulWidget::render(table, table_area, buf, &mut table_state(app));
    // An empty table says why: nothing there, or nobody to ask.
    let none = match (&app.server, named) {
        (ServerStatus::Up, _) => format!("no {}", title.to_lowercase()),
        (ServerStatus::Down(_), true) => {
            format!("no {} on the nodes that answer", title.to_lowercase())
        }
        // The title says the server is not running.
        (ServerStatus::Down(_), false) => String::new(),
        (ServerStatus::Unknown, _) => "asking the server...".to_owned(),
    };
    if empty {
        none_line(table_area, &none, buf);
    }
}

/// The line under an empty table's header that says so.
pub(super) fn none_line(table: Rect, text: &str, buf: &mut Buffer) {
    let [_, line] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(table);
    Paragraph::new(text.to_owned())
        .style(Style::new().add_modifier(Modifier::ITALIC))
        .render(line, buf);
}

fn sessions(app: &App, area: Rect, buf: &mut Buffer) {
    let rows = app
        .sessions
        .iter()
        .map(|(node, s)| {
            let cells = vec![
                s.id.to_string(),
                s.user.clone().unwrap_or_else(|| "-".into()),
                s.remote.clone(),
                if s.tls { "yes" } else { "no" }.to_owned(),
                s.state.clone(),
                format!("{}s", app.now.saturating_sub(s.last_activity)),
                s.command.clone().unwrap_or_else(|| "-".into()),
                crate::facts::bytes(s.bytes_sent),
                format!("{}/s", crate::facts::bytes(s.bytes_per_second)),
                s.retr.as_ref().map_or("-".to_owned(), |r| {
                    format!("{} {}%", r.message, r.percent())
                }),
            ];
            (node.as_str(), cells)
        })
        .collect();
    // At 80 columns: ID, USER, STATE, RETR, RATE, BYTES and REMOTE; then TLS, IDLE, COMMAND.
    let columns = vec![
        Column::fixed("ID", 6, 0),
        Column::wide("USER", 8, 1),
        Column::wide("REMOTE", 19, 6),
        Column::fixed("TLS", 3, 7),
        Column::fixed("STATE", 13, 2),
        Column::fixed("IDLE", 5, 8),
        Column::fixed("COMMAND", 7, 9),
        Column::fixed("BYTES", 9, 5),
        Column::fixed("RATE", 11, 4),
        Column::fixed("RETR %", 7, 3),
    ];
    live_table(app, "Sessions", columns, rows, area, buf);
}

fn locks(app: &App, area: Rect, buf: &mut Buffer) {
    let rows = app
        .locks
        .iter()
        .map(|(node, l)| {
            let cells = vec![
                l.user.clone(),
                l.session.to_string(),
                format!("{}s", app.now.saturating_sub(l.since)),
            ];
            (node.as_str(), cells)
        })
        .collect();
    let columns = vec![
        Column::wide("USER", 12, 1),
        Column::fixed("SESSION", 9, 2),
        Column::fixed("HELD FOR", 10, 3),
    ];
    live_table(app, "Locks", columns, rows, area, buf);
}

/// How old the shown data is: `at` when it arrived, `stale` past its refresh period and
/// [`STALE_AFTER`] more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Freshness {
    at: u64,
    stale: bool,
}

/// The freshness of what the current tab shows: the overview, the users' facts (refreshed
/// every [`USERS_EVERY`] seconds) or the live tabs; the detail view is as old as the older of
/// the user's facts and the live sessions. `None` until the first answer.
pub(super) fn freshness(app: &App) -> Option<Freshness> {
    let of = |at: Option<u64>, period: u64| {
        at.map(|at| Freshness {
            at,
            stale: app.now.saturating_sub(at) > period + STALE_AFTER,
        })
    };
    let live = of(app.live_at, 0);
    let users = of(app.users_at, USERS_EVERY);
    match app.tab {
        Tab::Overview => of(app.overview_at, 0),
        Tab::Users if matches!(app.mode, Mode::Detail(_)) => {
            let both = [users?, live?];
            Some(Freshness {
                at: both[0].at.min(both[1].at),
                stale: both[0].stale || both[1].stale,
            })
        }
        Tab::Users => users,
        Tab::Sessions | Tab::Locks => live,
    }
}

fn status_bar(app: &App, area: Rect, buf: &mut Buffer) {
    let up = app.node_count.saturating_sub(app.down.len());
    let server = match (&app.server, app.named) {
        (ServerStatus::Up, false) => Span::styled(" server: up ", Style::new().fg(Color::Green)),
        (ServerStatus::Down(_), false) => {
            Span::styled(" server: not running ", Style::new().fg(Color::Red))
        }
        (ServerStatus::Unknown, false) => Span::raw(" server: ... "),
        (ServerStatus::Up, true) => Span::styled(
            format!(" nodes: {up} of {} up ", app.node_count),
            Style::new().fg(Color::Green),
        ),
        (ServerStatus::Down(_), true) => Span::styled(
            format!(" nodes: {up} of {} up ", app.node_count),
            Style::new().fg(Color::Red),
        ),
        (ServerStatus::Unknown, true) => Span::raw(" nodes: ... "),
    };
    let mut spans = vec![server];
    let alarm = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
    if let Some(text) = certificate_alarm(app) {
        spans.push(Span::styled(text, alarm));
    }
    if let Some(f) = freshness(app) {
        let clock = pop3_maildrop::utc_timestamp(f.at);
        let time: String = clock.chars().skip(11).take(8).collect();
        let age = facts::duration(app.now.saturating_sub(f.at));
        if f.stale {
            spans.push(Span::styled(
                format!(" STALE: as of {time} UTC, {age} ago"),
                alarm,
            ));
        } else {
            spans.push(Span::raw(format!(" as of {time} UTC, {age} ago")));
        }
    }
    spans.push(match &app.status {
        Some(Ok(text)) => Span::raw(format!(" · {text}")),
        Some(Err(text)) => Span::styled(format!(" · error: {text}"), Style::new().fg(Color::Red)),
        None => Span::raw(" · ? for help"),
    });
    Paragraph::new(Line::from(spans)).render(area, buf);
}

/// The status bar's alarm on every tab, in words: a certificate of any node expiring within
/// the 14 days of warning, expired or unreadable.
fn certificate_alarm(app: &App) -> Option<String> {
    let soonest = (app.overviews.iter())
        .filter_map(|n| n.result.as_ref().ok())
        .filter_map(|o| {
            let c = facts::worst(&o.server.certificates, o.server.now)?;
            Some(Expiry::of(c, o.server.now))
        })
        .filter(|e| e.is_alarming())
        .min_by_key(|e| (std::cmp::Reverse(e.severity()), e.rank()))?;
    Some(match soonest {
        Expiry::Soon { days: 0 } => " CERT EXPIRES in under a day ".to_owned(),
        Expiry::Soon { days: 1 } => " CERT EXPIRES in 1 day ".to_owned(),
        Expiry::Soon { days } => format!(" CERT EXPIRES in {days} days "),
        other => format!(" CERT {} ", other.word()),
    })
}

fn help(area: Rect, buf: &mut Buffer) {
    let area = centered(area, 70, HELP.len() as u16 + 2);
    Clear.render(area, buf);
    let lines: Vec<Line<'_>> = HELP
        .iter()
        .map(|(keys, what)| Line::from(format!("{keys:<18} {what}")))
        .collect();
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(" Keys (any key to close) "))
        .render(area, buf);
}

/// A box of at most `width`×`height` in the middle of `area`, never larger than it.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height)])
        .flex(ratatui::layout::Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width)])
        .flex(ratatui::layout::Flex::Center)
        .areas(row);
    cell
}
