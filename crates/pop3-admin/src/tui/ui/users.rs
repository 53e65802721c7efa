//! The Users tab (issue 20): each user's mail — messages, size, quota use, oldest message —
//! with last login, APOP and enabled, sorted by any column (the header marks which, `▲`/`▼`);
//! and the detail view of one user with their live and recent sessions.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row, StatefulWidget, Table, Widget, Wrap};

use super::columns::{Column, fit, heads, keep};
use super::{highlight, none_line, table_state};
use crate::facts;
use crate::tui::app::{App, Mode, ServerStatus, UserColumn, UserRow};

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
    let visible = app.visible_users();
    let empty = visible.is_empty();
    let rows = visible
        .into_iter()
        .map(|u| Row::new(keep(&cells(u), &kept)));
    let (widths, headers) = heads(&columns, &kept);
    let table = Table::new(rows, widths)
        .header(Row::new(headers).style(Style::new().bold()))
        .row_highlight_style(highlight());
    StatefulWidget::render(table, inner, buf, &mut table_state(app));
    if empty {
        let none = match (app.users_at, &app.users_error, app.users.is_empty()) {
            (None, _, _) => "reading the users...".to_owned(),
            (Some(_), Some(why), true) => format!("the users could not be read: {why}"),
            (Some(_), _, true) => "no users".to_owned(),
            (Some(_), _, false) => "no users match the filter".to_owned(),
        };
        none_line(inner, &none, buf);
    }
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
    // One line each, cut with `…` rather than wrapped, so the height is the line count and
    // nothing below is pushed out of sight at 80 columns (review of issue 20).
    let width = usize::from(inner.width);
    let mut lines: Vec<Line<'static>> = facts_lines(user, width);
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
            format!(
                "  {node}session {} from {} {}{retr}, for {}",
                s.id,
                s.remote,
                s.state,
                facts::duration(app.now.saturating_sub(s.started))
            )
        })
        .collect();
    let down = match &app.server {
        ServerStatus::Down(_) if app.named => " on the nodes that answer",
        _ => "",
    };
    if matches!(app.server, ServerStatus::Down(_)) && !app.named {
        lines.push(Line::from("live now: unknown (the server does not answer)"));
    } else if live.is_empty() {
        lines.push(Line::from(format!("live now: none{down}")));
    } else {
        lines.push(Line::from(format!("live now: {}{down}", live.len())));
        let shown = live.len().min(LIVE_LINES);
        for text in &live[..shown] {
            lines.push(Line::from(cut(text, width)));
        }
        if live.len() > shown {
            lines.push(Line::from(format!("  … and {} more", live.len() - shown)));
        }
    }
    let height = u16::try_from(lines.len()).unwrap_or(u16::MAX);
    let [top, rest] =
        Layout::vertical([Constraint::Length(height), Constraint::Min(0)]).areas(inner);
    Paragraph::new(lines).render(top, buf);
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
            // The server's history is bounded: a user missing from it may have logged in.
            return Paragraph::new("not in the server's recent history").render(table_area, buf);
        }
        Some(Ok(sessions)) => sessions,
    };
    // At 80 columns: STARTED, FOR, REMOTE, MECHANISM, RETR, DELE, END; then BYTES, TLS.
    let mut columns = vec![
        Column::fixed("STARTED (UTC)", 16, 0),
        Column::fixed("FOR", 7, 2),
        Column::wide("REMOTE", 15, 3),
        Column::fixed("TLS", 3, 8),
        Column::fixed("MECHANISM", 13, 4),
        Column::fixed("RETR", 4, 5),
        Column::fixed("DELE", 4, 6),
        Column::fixed("BYTES", 9, 7),
        Column::wide("END", 12, 1),
    ];
    if app.named {
        columns.insert(0, Column::fixed("NODE", super::node_width(app), 8));
    }
    let kept = fit(&columns, table_area.width);
    let rows = sessions.iter().map(|s| {
        let r = &s.record;
        let mut cells = vec![
            minute(r.started),
            facts::duration(r.ended.saturating_sub(r.started)),
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

/// The most live sessions the detail view lists, one line each.
const LIVE_LINES: usize = 5;

/// `text` in at most `width` columns, cut with `…` at the end.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(width.saturating_sub(1)).collect();
    short.push('…');
    short
}

/// `label` and `path` in at most `width` columns, the path cut with `…` at its start: the
/// end of a Maildir path is the part that names the user.
fn cut_path(label: &str, path: &str, width: usize) -> String {
    let room = width.saturating_sub(label.chars().count());
    let length = path.chars().count();
    if length <= room {
        return format!("{label}{path}");
    }
    let tail: String = path.chars().skip(length + 1 - room.max(1)).collect();
    cut(&format!("{label}…{tail}"), width)
}

/// The user's facts, a few to a line, words and not colour, each line within `width`.
fn facts_lines(u: &UserRow, width: usize) -> Vec<Line<'static>> {
    let counted = match u.mail.messages {
        Some(n) => format!("messages: {n} (from {})", u.mail.source),
        None => "messages: - (no maildirsize, no current listing)".to_owned(),
    };
    let percent = u
        .quota
        .percent
        .map_or(String::new(), |p| format!(" ({p}%)"));
    let lines = [
        format!(
            "enabled: {}   APOP: {}   last login: {}",
            yes_no(u.enabled),
            apop(u),
            (u.last_login_at).map_or("never".to_owned(), |t| format!("{} UTC", minute(t)))
        ),
        format!(
            "{counted}   size: {}   oldest: {}",
            u.mail.bytes.map_or("-".to_owned(), facts::bytes),
            u.mail.oldest.map_or("-".to_owned(), minute)
        ),
        format!(
            "quota: {} {}{percent}",
            u.quota.messages_cell, u.quota.bytes_cell
        ),
    ];
    let mut lines: Vec<Line<'static>> = lines
        .iter()
        .map(|text| Line::from(cut(text, width)))
        .collect();
    lines.push(Line::from(cut_path("maildir: ", &u.maildir, width)));
    lines
}
