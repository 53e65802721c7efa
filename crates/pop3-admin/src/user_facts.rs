//! A user's facts as `user list`, `user show` and the TUI's Users tab and detail view all
//! give them (issue 20): from the user database, the Maildir's counters
//! (`pop3_maildrop::summarize`: `maildirsize`, else pop3d's persistent listing, **never a
//! scan**, else unknown), and the quota; and, from the server when it answers, the user's
//! recent sessions (`GET /v1/users/{name}/sessions`) and live ones.

use std::io::Write;

use anyhow::{Result, bail};
use pop3_admin_api::{EndedSession, SessionInfo};
use pop3_auth::User;
use pop3_maildrop::Usage;
use serde::Serialize;

use crate::live::Nodes;
use crate::quota::{self, UsageCells};
use crate::settings::Settings;
use crate::users::Users;

/// What the user database and the Maildir say about a user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserFacts {
    pub name: String,
    pub enabled: bool,
    pub apop: bool,
    /// APOP only: password logins refused.
    pub apop_only: bool,
    /// The last successful login, seconds since the epoch.
    pub last_login_at: Option<u64>,
    pub maildir: String,
    pub mail: MailFacts,
    pub quota: QuotaFacts,
}

/// The Maildir's counters, as `pop3_maildrop::summarize` found them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MailFacts {
    /// Messages; `None`: unknown (no `maildirsize`, no usable listing).
    pub messages: Option<u64>,
    /// Octets; `None`: unknown.
    pub bytes: Option<u64>,
    /// The oldest message's delivery time, seconds since the epoch.
    pub oldest: Option<u64>,
    /// `maildirsize`, `listing` or `unknown`.
    pub source: &'static str,
}

/// The user's limits and how much of them is used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QuotaFacts {
    pub limit_messages: Option<u64>,
    pub limit_bytes: Option<u64>,
    /// The larger of the two uses, in whole percent; `None` without a limit or a count.
    pub percent: Option<u64>,
    /// Messages against the limit, `12/1000` (`-/1000` unknown), as the tables show it.
    #[serde(skip)]
    pub messages_cell: String,
    /// Size against the limit, `3.1M/500M`.
    #[serde(skip)]
    pub bytes_cell: String,
}

impl UserFacts {
    /// The facts of `user` under the site's quota.
    pub fn of(site: &pop3_config::Quota, user: &User) -> UserFacts {
        let summary = pop3_maildrop::summarize(&user.maildir);
        let usage = summary
            .messages
            .zip(summary.bytes)
            .map(|(messages, bytes)| Usage { messages, bytes });
        let limit = pop3_config::quota_for(site, user, &mut |_| {});
        let cells = quota::cells(usage, limit);
        UserFacts {
            name: user.name.to_string(),
            enabled: user.enabled,
            apop: user.apop_secret.is_some(),
            apop_only: user.apop_only && user.apop_secret.is_some(),
            last_login_at: user.last_login_at.and_then(|t| u64::try_from(t).ok()),
            maildir: user.maildir.display().to_string(),
            mail: MailFacts {
                messages: summary.messages,
                bytes: summary.bytes,
                oldest: summary.oldest,
                source: summary.source.as_str(),
            },
            quota: quota_facts(&cells),
        }
    }
}

fn quota_facts(cells: &UsageCells) -> QuotaFacts {
    let share = |used: u64, limit: Option<u64>| {
        limit.map(|limit| match limit {
            0 => 100,
            _ => (u128::from(used) * 100 / u128::from(limit)) as u64,
        })
    };
    let percent = cells.usage.and_then(|u| {
        let messages = share(u.messages, cells.limit.messages);
        let bytes = share(u.bytes, cells.limit.bytes);
        messages.max(bytes)
    });
    QuotaFacts {
        limit_messages: cells.limit.messages,
        limit_bytes: cells.limit.bytes,
        percent,
        messages_cell: cells.messages.clone(),
        bytes_cell: cells.bytes.clone(),
    }
}

/// What `user show` prints: the facts, then what the server said.
#[derive(Debug, Serialize)]
pub struct Shown {
    #[serde(flatten)]
    pub facts: UserFacts,
    /// The user's live sessions, with their node's name when nodes are named.
    pub live: Vec<Noded<SessionInfo>>,
    /// The user's recent ended sessions, most recent first (every node's, merged);
    /// `None` when no node answered.
    pub sessions: Option<Vec<Noded<EndedSession>>>,
    /// Why some or all of the server's facts are missing (a node down), one line each.
    pub notes: Vec<String>,
}

/// A record and the node it came from ("" for the unnamed local socket).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Noded<T> {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub node: String,
    #[serde(flatten)]
    pub record: T,
}

/// The user's live and recent sessions from every node; a node that does not answer is a
/// note, not an error.
pub fn sessions_of(nodes: &Nodes, name: &str) -> FromServer {
    let answers = nodes.ask(|client| Ok((client.sessions()?, client.user_sessions(name)?)));
    let mut shown = FromServer::default();
    let mut answered = false;
    for answer in answers {
        match answer.answer {
            Ok((live, ended)) => {
                answered = true;
                let mine = live.into_iter().filter(|s| s.user.as_deref() == Some(name));
                shown.live.extend(mine.map(|record| Noded {
                    node: answer.node.clone(),
                    record,
                }));
                shown.ended.extend(ended.into_iter().map(|record| Noded {
                    node: answer.node.clone(),
                    record,
                }));
            }
            Err(e) if answer.node.is_empty() => shown.notes.push(format!("{e:#}")),
            Err(e) => shown.notes.push(format!("node {}: {e:#}", answer.node)),
        }
    }
    shown
        .ended
        .sort_by_key(|s| std::cmp::Reverse(s.record.ended));
    shown.answered = answered;
    shown
}

/// What the server said about a user ([`sessions_of`]).
#[derive(Debug, Default)]
pub struct FromServer {
    pub live: Vec<Noded<SessionInfo>>,
    pub ended: Vec<Noded<EndedSession>>,
    pub notes: Vec<String>,
    /// Whether any node answered.
    pub answered: bool,
}

/// `user show NAME [--json]`.
pub fn show(
    settings: &Settings,
    nodes: Result<Nodes>,
    name: &str,
    json: bool,
    out: &mut impl Write,
) -> Result<()> {
    let users = Users::open(settings)?;
    for warning in users.warnings() {
        eprintln!("pop3-admin: warning: {warning}");
    }
    let Some(user) = users.get(name)? else {
        bail!("no such user: {name}");
    };
    let facts = UserFacts::of(&settings.quota, &user);
    let server = match nodes {
        Ok(nodes) => sessions_of(&nodes, &facts.name),
        Err(e) => FromServer {
            notes: vec![format!("{e:#}")],
            ..FromServer::default()
        },
    };
    for note in &server.notes {
        eprintln!("pop3-admin: note: {note} (recent sessions not shown)");
    }
    let shown = Shown {
        facts,
        live: server.live,
        sessions: server.answered.then_some(server.ended),
        notes: server.notes,
    };
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&shown)?)?;
    } else {
        print(&shown, settings.history.users, out)?;
    }
    Ok(())
}

/// `user show`'s text: a fact a line, then the live and recent sessions; `history_users`
/// is how many users the server's history keeps (`[admin] history_users`).
fn print(shown: &Shown, history_users: usize, out: &mut impl Write) -> Result<()> {
    let f = &shown.facts;
    let yes = |b: bool| if b { "yes" } else { "no" };
    let apop = if f.apop_only {
        "yes (only)"
    } else {
        yes(f.apop)
    };
    let when = |t: Option<u64>| t.map_or("-".to_owned(), pop3_maildrop::utc_timestamp);
    let unknown = "unknown (no maildirsize, no current listing; not scanned)";
    let messages = match f.mail.messages {
        Some(n) => format!("{n} (from {})", f.mail.source),
        None => unknown.to_owned(),
    };
    let percent = f
        .quota
        .percent
        .map_or(String::new(), |p| format!(" ({p}%)"));
    let lines = [
        ("user", f.name.clone()),
        ("enabled", yes(f.enabled).to_owned()),
        ("APOP", apop.to_owned()),
        (
            "last login",
            f.last_login_at
                .map_or("never".to_owned(), pop3_maildrop::utc_timestamp),
        ),
        ("maildir", f.maildir.clone()),
        ("messages", messages),
        (
            "size",
            f.mail.bytes.map_or("-".to_owned(), crate::facts::bytes),
        ),
        ("oldest", when(f.mail.oldest)),
        (
            "quota",
            format!("{} {}{percent}", f.quota.messages_cell, f.quota.bytes_cell),
        ),
    ];
    for (label, value) in lines {
        writeln!(out, "{label:<11} {value}")?;
    }
    let live: Vec<String> = shown
        .live
        .iter()
        .map(|s| {
            format!(
                "{}{} from {} ({})",
                node_prefix(&s.node),
                s.record.id,
                s.record.remote,
                s.record.state
            )
        })
        .collect();
    writeln!(
        out,
        "{:<11} {}",
        "live",
        if live.is_empty() {
            "none".to_owned()
        } else {
            live.join(", ")
        }
    )?;
    let Some(sessions) = &shown.sessions else {
        writeln!(out, "\nrecent sessions: unknown, the server did not answer")?;
        return Ok(());
    };
    if sessions.is_empty() {
        writeln!(
            out,
            "\nrecent sessions: {}",
            no_recent_sessions(history_users)
        )?;
        return Ok(());
    }
    writeln!(out, "\nrecent sessions, most recent first:")?;
    writeln!(
        out,
        "{:<20} {:<24} {:<4} {:<14} {:>5} {:>5} {:>10}  END",
        "ENDED", "REMOTE", "TLS", "MECHANISM", "RETR", "DELE", "BYTES"
    )?;
    for s in sessions {
        let r = &s.record;
        writeln!(
            out,
            "{:<20} {:<24} {:<4} {:<14} {:>5} {:>5} {:>10}  {}{}",
            pop3_maildrop::utc_timestamp(r.ended),
            r.remote,
            yes(r.tls),
            r.mechanism,
            r.retrieved,
            r.deleted,
            r.bytes_sent,
            r.end,
            if s.node.is_empty() {
                String::new()
            } else {
                format!(" (node {})", s.node)
            },
        )?;
    }
    Ok(())
}

/// What an empty history means, truly: the server keeps sessions since it started, and only
/// those of the last `history_users` users to end one, so a user may have been forgotten.
pub fn no_recent_sessions(history_users: usize) -> String {
    format!(
        "none in the server's recent history (it keeps the last {history_users} users to end \
         a session, since it started)"
    )
}

fn node_prefix(node: &str) -> String {
    if node.is_empty() {
        "session ".to_owned()
    } else {
        format!("{node}:")
    }
}
