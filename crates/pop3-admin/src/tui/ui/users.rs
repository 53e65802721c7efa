//! The Users tab (issue 20): each user's mail — messages, size, quota use, oldest message —
//! with last login, APOP and enabled, sorted by any column (the header marks which, `▲`/`▼`);
//! and the detail view of one user with their live and recent sessions.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row, StatefulWidget, Table, Widget, Wrap};

use super::columns::{Column, fit, heads, keep};
use super::{highlight, table_state};
use crate::facts;
use crate::tui::app::{App, Mode, UserColumn, UserRow};

/// The Users tab, or the detail view when one is open.
pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    if let Mode::Detail(name) = &app.mode {
        return detail(app, name, area, buf);
    }
    let title = if app.filter.is_empty() && app.mode != Mode::Filter {
        " Users ".to_owned()
    } else {
        format!(
            " Users — filter: {}{} ",
            app.filter,
            if app.mode == Mode::Filter { "_" } else { "" }
        )
    };
    let sort = app.user_sort;
    let title = format!(
        "{title}— sorted by {} {} (o, O) ",
        sort.column.header(),
        if sort.descending {
            "descending"
        } else {
            "ascending"
        }
    );
    let columns: Vec<Column> = UserColumn::ALL
        .iter()
        .map(|&c| {
            let header = if c == sort.column {
                format!("{}{}", c.header(), sort.marker())
            } else {
                c.header().to_owned()
            };
            match c {
                UserColumn::Name => Column::wide(header, 10, 0),
                UserColumn::Enabled => Column::fixed(header, 8, 1),
                UserColumn::Messages => Column::fixed(header, 7, 2),
                UserColumn::Size => Column::fixed(header, 9, 3),
                UserColumn::Quota => Column::fixed(header, 6, 4),
                UserColumn::LastLogin => Column::fixed(header, 16, 5),
                UserColumn::Oldest => Column::fixed(header, 10, 6),
                UserColumn::Apop => Column::fixed(header, 5, 7),
                UserColumn::Maildir => Column::wide(header, 10, 8),
            }
        })
        .collect();
    let block = Block::new().borders(Borders::TOP).title(title);
    let inner = block.inner(area);
    block.render(area, buf);
    let kept = fit(&columns, inner.width);
    let rows = app
        .visible_users()
        .into_iter()
        .map(|u| Row::new(keep(&cells(u), &kept)));
    let (widths, headers) = heads(&columns, &kept);
    let table = Table::new(rows, widths)
        .header(Row::new(headers).style(Style::new().bold()))
        .row_highlight_style(highlight());
    StatefulWidget::render(table, inner, buf, &mut table_state(app));
}

/// A user's cells, in [`UserColumn::ALL`]'s order.
fn cells(u: &UserRow) -> Vec<String> {
    vec![
        u.name.clone(),
        yes_no(u.enabled).to_owned(),
        apop(u).to_owned(),
        u.mail.messages.map_or("-".to_owned(), |n| n.to_string()),
        u.mail.bytes.map_or("-".to_owned(), facts::bytes),
        u.quota.percent.map_or("-".to_owned(), |p| format!("{p}%")),
        u.mail.oldest.map_or("-".to_owned(), facts::date),
        u.last_login_at.map_or("never".to_owned(), minute),
        u.maildir.clone(),
    ]
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

fn apop(u: &UserRow) -> &'static str {
    match (u.apop, u.apop_only) {
        (true, true) => "only",
        (true, false) => "yes",
        (false, _) => "no",
    }
}

/// `YYYY-MM-DD HH:MM`, UTC.
fn minute(unix: u64) -> String {
    let stamp = pop3_maildrop::utc_timestamp(unix).replacen('T', " ", 1);
    stamp.chars().take(16).collect()
}

/// The detail view: the user's facts, their live sessions, then their recent ones.
fn detail(app: &App, name: &str, area: Rect, buf: &mut Buffer) {
    let block = Block::new()
        .borders(Borders::TOP)
        .title(format!(" User {name} — Esc: back "));
    let inner = block.inner(area);
    block.render(area, buf);
    let Some(user) = app.detail_user() else {
        Paragraph::new("this user no longer exists").render(inner, buf);
        return;
    };
    let mut lines = facts_lines(user);
    let live: Vec<String> = app
        .sessions
        .iter()
        .filter(|(_, s)| s.user.as_deref() == Some(name))
        .map(|(node, s)| {
            let node = if node.is_empty() {
                String::new()
            } else {
                format!("{node}:")
            };
            let retr = s.retr.as_ref().map_or(String::new(), |r| {
                format!(", RETR {} {}%", r.message, r.percent())
            });
            format!("{node}session {} from {} {}{retr}", s.id, s.remote, s.state)
        })
        .collect();
    lines.push(Line::from(match live.is_empty() {
        true => "live now: none".to_owned(),
        false => format!("live now: {}", live.join("; ")),
    }));
    let height = u16::try_from(lines.len()).unwrap_or(u16::MAX);
    let [top, rest] =
        Layout::vertical([Constraint::Length(height), Constraint::Min(0)]).areas(inner);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(top, buf);
    let sessions_block = Block::new()
        .borders(Borders::TOP)
        .title(" Recent sessions, most recent first ");
    let table_area = sessions_block.inner(rest);
    sessions_block.render(rest, buf);
    let sessions = match app.detail_sessions() {
        None => return Paragraph::new("asking the server...").render(table_area, buf),
        Some(Err(why)) => {
            return Paragraph::new(format!("unknown: {why}"))
                .wrap(Wrap { trim: false })
                .render(table_area, buf);
        }
        Some(Ok(sessions)) if sessions.is_empty() => {
            return Paragraph::new("none since the server started").render(table_area, buf);
        }
        Some(Ok(sessions)) => sessions,
    };
    let mut columns = vec![
        Column::fixed("ENDED", 11, 0),
        Column::wide("REMOTE", 15, 2),
        Column::fixed("TLS", 3, 7),
        Column::fixed("MECHANISM", 13, 3),
        Column::fixed("RETR", 4, 4),
        Column::fixed("DELE", 4, 5),
        Column::fixed("BYTES", 9, 6),
        Column::wide("END", 14, 1),
    ];
    if app.named {
        columns.insert(0, Column::fixed("NODE", super::node_width(app), 8));
    }
    let kept = fit(&columns, table_area.width);
    let rows = sessions.iter().map(|s| {
        let r = &s.record;
        let mut cells = vec![
            minute(r.ended).chars().skip(5).collect::<String>(),
            r.remote.clone(),
            yes_no(r.tls).to_owned(),
            r.mechanism.clone(),
            r.retrieved.to_string(),
            r.deleted.to_string(),
            facts::bytes(r.bytes_sent),
            r.end.clone(),
        ];
        if app.named {
            cells.insert(0, s.node.clone());
        }
        Row::new(keep(&cells, &kept))
    });
    let (widths, headers) = heads(&columns, &kept);
    let table = Table::new(rows, widths).header(Row::new(headers).style(Style::new().bold()));
    Widget::render(table, table_area, buf);
}

/// The user's facts, a few to a line, words and not colour.
fn facts_lines(u: &UserRow) -> Vec<Line<'static>> {
    let counted = match u.mail.messages {
        Some(n) => format!("messages: {n} (from {})", u.mail.source),
        None => "messages: - (no maildirsize, no current listing)".to_owned(),
    };
    let percent = u
        .quota
        .percent
        .map_or(String::new(), |p| format!(" ({p}%)"));
    vec![
        Line::from(format!(
            "enabled: {}   APOP: {}   last login: {}",
            yes_no(u.enabled),
            apop(u),
            u.last_login_at.map_or("never".to_owned(), minute)
        )),
        Line::from(format!(
            "{counted}   size: {}   oldest: {}",
            u.mail.bytes.map_or("-".to_owned(), facts::bytes),
            u.mail.oldest.map_or("-".to_owned(), minute)
        )),
        Line::from(format!(
            "quota: {} {}{percent}",
            u.quota.messages_cell, u.quota.bytes_cell
        )),
        Line::from(format!("maildir: {}", u.maildir)),
    ]
}
