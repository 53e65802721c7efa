//! The Overview tab: what an administrator asks first, from `GET /v1/overview` — version,
//! uptime, certificates, listeners; sparklines of the server's last 15 minutes with the
//! current values beside them; the addresses failing to log in; the locks.
//!
//! **Small terminals**: rows are handed out in order of importance (the facts line, the
//! certificate that expires first, one row per chart, the failing addresses and locks, the
//! listeners, the other certificates), then what is left makes the charts taller and the
//! lists longer; anything that does not fit is dropped, never squeezed into a panic. **No
//! colour alone**: an expiring certificate is red and says `EXPIRES SOON`.

use pop3_admin_api::{CertificateFacts, FailingAddress, OverviewResponse};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Paragraph, RenderDirection, Row, Sparkline, Table, Widget, Wrap,
};

use crate::facts::{self, Expiry};
use crate::tui::app::App;

/// The charts every size shows, in order.
const CHARTS: u16 = 6;
/// The charts of the sessions in TRANSACTION and in AUTHORIZATION, below the total, shown
/// when each chart can have two rows (review of issue 20, S8).
const STATE_CHARTS: u16 = 2;
/// The tallest a chart grows.
const CHART_MAX: u16 = 4;
/// The most other certificates listed below the first.
const MORE_CERTIFICATES: usize = 4;

/// Draws the tab.
pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let count = app.overviews.len();
    let index = app.overview_node.min(count.saturating_sub(1));
    let node = app.overviews.get(index);
    let title = match node {
        Some(node) if app.named => format!(
            " Overview — node {} ({} of {count}; n: next node) ",
            node.node,
            index + 1
        ),
        _ => " Overview ".to_owned(),
    };
    let block = Block::new().borders(Borders::TOP).title(title);
    let inner = block.inner(area);
    block.render(area, buf);
    match node.map(|n| &n.result) {
        None => Paragraph::new(format!("asking pop3d at {} ...", app.socket)).render(inner, buf),
        Some(Err(why)) => Paragraph::new(Line::styled(
            format!("No overview: {why}"),
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ))
        .wrap(Wrap { trim: true })
        .render(inner, buf),
        Some(Ok(overview)) => body(overview, inner, buf),
    }
}

/// The rows each section gets in `height` (see the module's doc for the order).
#[derive(Debug, PartialEq, Eq)]
struct Plan {
    head: u16,
    certificates: u16,
    listeners: u16,
    charts: u16,
    lists: u16,
}

fn plan(height: u16, certificates: usize, failures: usize) -> Plan {
    let mut left = height;
    let mut take = |want: u16| {
        let given = want.min(left);
        left -= given;
        given
    };
    let head = take(1);
    let first_certificate = take(1);
    let charts = take(CHARTS);
    let lists = take(4);
    let listeners = take(1);
    let more = certificates.saturating_sub(1).min(MORE_CERTIFICATES);
    let more_certificates = take(u16::try_from(more).unwrap_or(0));
    let taller = take(CHARTS);
    // The lists' title and header, then a row per address (two at first, ten at most).
    let longer = take(u16::try_from(failures.clamp(2, 10)).unwrap_or(10) - 2);
    let tallest = take(CHARTS * (CHART_MAX - 2));
    // The charts take whole rows each; a remainder goes to the lists.
    let charts = charts + taller + tallest;
    let whole = if charts >= CHARTS {
        charts - charts % CHARTS
    } else {
        charts
    };
    Plan {
        head,
        certificates: first_certificate + more_certificates,
        listeners,
        charts: whole,
        lists: lists + longer + (charts - whole) + left,
    }
}

fn body(overview: &OverviewResponse, area: Rect, buf: &mut Buffer) {
    let now = overview.server.now;
    let plan = plan(
        area.height,
        overview.server.certificates.len(),
        overview.failures.len(),
    );
    let [head, certificates, listeners, charts, lists] = Layout::vertical([
        Constraint::Length(plan.head),
        Constraint::Length(plan.certificates),
        Constraint::Length(plan.listeners),
        Constraint::Length(plan.charts),
        Constraint::Length(plan.lists),
    ])
    .areas(area);
    head_line(overview, head, buf);
    certificate_lines(&overview.server.certificates, now, certificates, buf);
    let listening: Vec<String> = overview
        .server
        .listeners
        .iter()
        .map(|l| format!("{} {}", l.address, l.kind))
        .collect();
    Paragraph::new(format!("listeners: {}", listening.join(" · "))).render(listeners, buf);
    chart_rows(overview, charts, buf);
    let [failures, locks] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(lists);
    failure_table(&overview.failures, now, failures, buf);
    lock_lines(overview, locks, buf);
}

fn head_line(overview: &OverviewResponse, area: Rect, buf: &mut Buffer) {
    let server = &overview.server;
    let line = Line::from(vec![
        Span::styled(
            format!("pop3d {}", server.version),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(
            " · up {} (since {}) · {} sessions · {} locks · admin API {}",
            facts::duration(server.now.saturating_sub(server.started)),
            facts::date(server.started),
            overview.sessions.total(),
            overview.locks.held,
            overview.version,
        )),
    ]);
    Paragraph::new(line).render(area, buf);
}

/// The certificates, the one that expires first on top; an alarming one red, bold and
/// worded.
fn certificate_lines(certificates: &[CertificateFacts], now: u64, area: Rect, buf: &mut Buffer) {
    if certificates.is_empty() {
        Paragraph::new("certificate: none (no TLS)").render(area, buf);
        return;
    }
    let mut sorted: Vec<&CertificateFacts> = certificates.iter().collect();
    sorted.sort_by_key(|c| Expiry::of(c, now).rank());
    let lines: Vec<Line<'_>> = sorted
        .into_iter()
        .map(|c| {
            let names = if c.names.is_empty() {
                String::new()
            } else {
                format!(" for {}", c.names.join(", "))
            };
            let text = format!("certificate {}{names}", facts::certificate_text(c, now));
            if Expiry::of(c, now).is_alarming() {
                let alarm = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
                Line::styled(text, alarm)
            } else {
                Line::raw(text)
            }
        })
        .collect();
    Paragraph::new(lines).render(area, buf);
}

/// One chart: its label, its value now, a detail, and its per-second series.
struct Chart {
    label: &'static str,
    now: String,
    detail: String,
    series: Vec<u64>,
    style: Style,
}

/// The charts; with `by_state`, the sessions in TRANSACTION and AUTHORIZATION follow the total.
fn charts(overview: &OverviewResponse, by_state: bool) -> Vec<Chart> {
    let history = &overview.history;
    let wide = |series: &[u32]| series.iter().map(|&n| u64::from(n)).collect::<Vec<u64>>();
    let sessions: Vec<u64> = (0..history.len())
        .map(|i| {
            [
                &history.authorization,
                &history.transaction,
                &history.update,
            ]
            .iter()
            .map(|s| u64::from(s.get(i).copied().unwrap_or(0)))
            .sum()
        })
        .collect();
    let s = &overview.sessions;
    let rate = |label, series: Vec<u64>, style| {
        let last = series.last().copied().unwrap_or(0);
        let total: u64 = series.iter().sum();
        Chart {
            label,
            now: last.to_string(),
            detail: format!("{total} in {}", span(history.len())),
            series,
            style,
        }
    };
    let bytes = history.bytes_sent.clone();
    let sent_total: u64 = bytes.iter().sum();
    let state = |label, series: &[u32], now: u64| {
        let series = wide(series);
        let peak = series.iter().copied().max().unwrap_or(0);
        Chart {
            label,
            now: now.to_string(),
            detail: format!("peak {peak} in {}", span(history.len())),
            series,
            style: Style::new(),
        }
    };
    let by_state = by_state.then(|| {
        [
            state("· in TRANSACTION", &history.transaction, s.transaction),
            state(
                "· in AUTHORIZATION",
                &history.authorization,
                s.authorization,
            ),
        ]
    });
    let mut all = vec![
        Chart {
            label: "sessions",
            now: s.total().to_string(),
            detail: format!(
                "auth {} trans {} upd {}",
                s.authorization, s.transaction, s.update
            ),
            series: sessions,
            style: Style::new(),
        },
        rate("logins ok/s", wide(&history.logins_ok), Style::new()),
        rate(
            "logins failed/s",
            wide(&history.logins_failed),
            Style::new().fg(Color::Red),
        ),
        Chart {
            label: "sent/s",
            now: facts::bytes(bytes.last().copied().unwrap_or(0)),
            detail: format!("{} in {}", facts::bytes(sent_total), span(history.len())),
            series: bytes,
            style: Style::new(),
        },
        rate("RETR/s", wide(&history.retrieved), Style::new()),
        rate("DELE/s", wide(&history.deleted), Style::new()),
    ];
    if let Some(states) = by_state {
        all.splice(1..1, states);
    }
    all
}

/// How long `slots` seconds are, for a label: `15m`, `42s`.
fn span(slots: usize) -> String {
    facts::duration(u64::try_from(slots).unwrap_or(0))
}

fn chart_rows(overview: &OverviewResponse, area: Rect, buf: &mut Buffer) {
    // The per-state charts only when every chart keeps its second row (the detail line):
    // 80×24 keeps the six essential charts at two rows each.
    let by_state = area.height >= 2 * (CHARTS + STATE_CHARTS);
    let all = charts(overview, by_state);
    let count = u16::try_from(all.len()).unwrap_or(CHARTS);
    let height = (area.height / count).clamp(1, CHART_MAX);
    let shown = usize::from(area.height / height).min(all.len());
    let rows = Layout::vertical(vec![Constraint::Length(height); shown]).split(area);
    let label_width = (area.width / 3).clamp(10, 30);
    for (chart, row) in all.iter().zip(rows.iter()) {
        let [label, plot] =
            Layout::horizontal([Constraint::Length(label_width), Constraint::Fill(1)]).areas(*row);
        let width = usize::from(label_width.saturating_sub(1));
        let first = format!(
            "{:<w$}",
            chart.label,
            w = width.saturating_sub(chart.now.len())
        );
        let mut lines = vec![Line::from(vec![
            Span::raw(first),
            Span::styled(chart.now.clone(), Style::new().add_modifier(Modifier::BOLD)),
        ])];
        if row.height > 1 {
            lines.push(Line::styled(
                chart.detail.clone(),
                Style::new().add_modifier(Modifier::DIM),
            ));
        }
        Paragraph::new(lines).render(label, buf);
        let columns = compress(&chart.series, usize::from(plot.width));
        Sparkline::default()
            .data(columns.iter().rev())
            .direction(RenderDirection::RightToLeft)
            .max(columns.iter().copied().max().unwrap_or(0).max(1))
            .style(chart.style)
            .render(plot, buf);
    }
}

/// The series in at most `columns` columns, newest last: each column the peak of the
/// seconds it covers, so a burst is never averaged away.
fn compress(series: &[u64], columns: usize) -> Vec<u64> {
    if columns == 0 {
        return Vec::new();
    }
    let per_column = series.len().div_ceil(columns).max(1);
    let mut out: Vec<u64> = series
        .rchunks(per_column)
        .map(|chunk| chunk.iter().copied().max().unwrap_or(0))
        .collect();
    out.reverse();
    out
}

fn failure_table(failures: &[FailingAddress], now: u64, area: Rect, buf: &mut Buffer) {
    let block = Block::new().borders(Borders::TOP).title(" Failing logins ");
    if failures.is_empty() {
        Paragraph::new("no recent failures")
            .block(block)
            .render(area, buf);
        return;
    }
    let rows = failures.iter().map(|f| {
        let penalty = match f.penalty_ms {
            0 => "none".to_owned(),
            ms => format!("{}.{}s", ms / 1000, ms % 1000 / 100),
        };
        Row::new(vec![
            f.address.clone(),
            format!(
                "{} ago",
                facts::duration(now.saturating_sub(f.last_failure))
            ),
            penalty,
        ])
    });
    Table::new(
        rows,
        [
            Constraint::Fill(1),
            Constraint::Length(10),
            Constraint::Length(8),
        ],
    )
    .header(Row::new(["ADDRESS", "LAST", "PENALTY"]).style(Style::new().bold()))
    .block(block)
    .render(area, buf);
}

fn lock_lines(overview: &OverviewResponse, area: Rect, buf: &mut Buffer) {
    let now = overview.server.now;
    let mut lines = vec![Line::raw(format!("{} held", overview.locks.held))];
    if let Some(oldest) = &overview.locks.oldest {
        lines.push(Line::raw(format!(
            "oldest: {} for {}",
            oldest.user,
            facts::duration(now.saturating_sub(oldest.since))
        )));
        lines.push(Line::raw(format!("(session {})", oldest.session)));
    }
    Paragraph::new(lines)
        .block(Block::new().borders(Borders::TOP).title(" Locks "))
        .render(area, buf);
}

#[cfg(test)]
mod tests;
