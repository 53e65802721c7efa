//! `pop3-admin status [--json]`: is pop3d up, which version, since when, how busy, and when
//! its certificates expire — one line per node, and **an exit status a monitoring system
//! reads as a plugin's** (Nagios plugin conventions):
//!
//! - 0 OK: every node answered and every certificate has more than 14 days left;
//! - 1 WARNING: a certificate expires within 14 days (or its date could not be read);
//! - 2 CRITICAL: a node is down (nothing answers on its admin socket), or a certificate has
//!   expired;
//! - 3 UNKNOWN: the state could not be learned: permission denied on the socket, or a pop3d
//!   of another admin API version.
//!
//! With several nodes the worst wins, CRITICAL over UNKNOWN over WARNING over OK.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use pop3_admin_api::{CertificateFacts, OverviewResponse, SessionCounts};
use serde::Serialize;

use crate::facts::{self, Expiry};
use crate::live::{NodeAnswer, Nodes, Unreachable, Why};

/// A node's state, and the plugin exit code of each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl Level {
    /// The exit code (Nagios plugin API).
    pub fn code(self) -> u8 {
        match self {
            Level::Ok => 0,
            Level::Warning => 1,
            Level::Critical => 2,
            Level::Unknown => 3,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Warning => "WARNING",
            Level::Critical => "CRITICAL",
            Level::Unknown => "UNKNOWN",
        }
    }

    /// Which of two levels wins over several nodes.
    fn severity(self) -> u8 {
        match self {
            Level::Ok => 0,
            Level::Warning => 1,
            Level::Unknown => 2,
            Level::Critical => 3,
        }
    }
}

/// One node's status, as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct NodeStatus {
    /// The node's name ("" for the unnamed local socket).
    pub node: String,
    pub status: Level,
    /// Whether the node answered.
    pub up: bool,
    /// Why the node is not OK, in one line; absent when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerStatus>,
}

/// What an answering node said.
#[derive(Debug, Serialize)]
pub struct ServerStatus {
    /// pop3d's version.
    pub version: String,
    /// The admin API version.
    pub api: u32,
    pub started: u64,
    pub uptime_seconds: u64,
    pub sessions: SessionCounts,
    pub sessions_total: u64,
    pub locks_held: u64,
    /// How long the oldest lock has been held, in seconds.
    pub oldest_lock_seconds: Option<u64>,
    pub certificates: Vec<CertificateStatus>,
}

/// A certificate's expiry.
#[derive(Debug, Serialize)]
pub struct CertificateStatus {
    #[serde(flatten)]
    pub facts: CertificateFacts,
    /// Whole days left (negative once expired); absent when unknown.
    pub days_left: Option<i64>,
    /// Fewer than 14 days left, or expired, or unknown.
    pub expires_soon: bool,
}

/// `status [--json]` over `nodes`, or UNKNOWN (3, not 1, which a monitor reads as WARNING)
/// when the nodes are not known: the configuration could not be read.
pub fn run(nodes: Result<Nodes>, json: bool, out: &mut impl Write) -> Result<ExitCode> {
    match nodes {
        Ok(nodes) => status(&nodes, json, out),
        Err(error) => {
            let problem = format!("{error:#}");
            if json {
                let document = serde_json::json!({
                    "status": Level::Unknown, "exit": Level::Unknown.code(), "nodes": [],
                    "problem": problem,
                });
                writeln!(out, "{}", serde_json::to_string_pretty(&document)?)?;
            } else {
                writeln!(out, "UNKNOWN - {problem}")?;
            }
            Ok(ExitCode::from(Level::Unknown.code()))
        }
    }
}

/// `status [--json]` over `nodes`.
pub fn status(nodes: &Nodes, json: bool, out: &mut impl Write) -> Result<ExitCode> {
    let statuses: Vec<NodeStatus> = nodes
        .ask(|client| client.overview())
        .into_iter()
        .map(judge)
        .collect();
    let worst = worst(statuses.iter().map(|s| s.status));
    if json {
        let document = serde_json::json!({
            "status": worst,
            "exit": worst.code(),
            "nodes": statuses,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&document)?)?;
    } else {
        let several = statuses.len() > 1;
        if several {
            writeln!(out, "{}", aggregate(&statuses, worst))?;
        }
        for node in &statuses {
            writeln!(out, "{}", node_line(node, !several))?;
        }
    }
    Ok(ExitCode::from(worst.code()))
}

/// With several nodes, the first line — the one a monitoring system reads as the check's
/// output — says it for all of them: `CRITICAL - 1 of 2 nodes down; a OK, b CRITICAL |
/// a_sessions=12 a_locks=3 ...`, with every node's performance data, each label prefixed
/// with its node's name (a node name is `a-z 0-9 - _ .`, valid in a label).
pub fn aggregate(statuses: &[NodeStatus], worst: Level) -> String {
    let down = statuses.iter().filter(|s| !s.up).count();
    let each: Vec<String> = statuses
        .iter()
        .map(|s| format!("{} {}", s.node, s.status.word()))
        .collect();
    let perfdata: Vec<String> = statuses
        .iter()
        .filter_map(|s| perfdata(s, &format!("{}_", s.node)))
        .collect();
    let mut text = format!(
        "{} - {down} of {} nodes down; {}",
        worst.word(),
        statuses.len(),
        each.join(", ")
    );
    if !perfdata.is_empty() {
        text.push_str(" | ");
        text.push_str(&perfdata.join(" "));
    }
    text
}

/// The state of several nodes: the worst, CRITICAL over UNKNOWN over WARNING over OK;
/// UNKNOWN for none.
pub fn worst(levels: impl IntoIterator<Item = Level>) -> Level {
    levels
        .into_iter()
        .max_by_key(|l| l.severity())
        .unwrap_or(Level::Unknown)
}

/// A node's answer judged.
pub fn judge(answer: NodeAnswer<OverviewResponse>) -> NodeStatus {
    let node = answer.node;
    let overview = match answer.answer {
        Ok(overview) => overview,
        Err(error) => {
            let status = match Unreachable::why(&error) {
                Some(Why::Down) | None => Level::Critical,
                Some(Why::Denied | Why::Incompatible) => Level::Unknown,
            };
            return NodeStatus {
                node,
                status,
                up: false,
                problem: Some(format!("{error:#}")),
                server: None,
            };
        }
    };
    let now = overview.server.now;
    let certificates: Vec<CertificateStatus> = overview
        .server
        .certificates
        .into_iter()
        .map(|facts| {
            let expiry = Expiry::of(&facts, now);
            let days_left = facts
                .not_after
                .map(|t| t.saturating_sub(i64::try_from(now).unwrap_or(i64::MAX)))
                .map(|left| left.div_euclid(86_400));
            CertificateStatus {
                facts,
                days_left,
                expires_soon: expiry.is_alarming(),
            }
        })
        .collect();
    let facts: Vec<CertificateFacts> = certificates.iter().map(|c| c.facts.clone()).collect();
    // The verdict is the worst over every certificate: an expired one is CRITICAL whatever
    // the others (an unreadable one among them must not turn it into a WARNING).
    let (status, problem) = match facts::worst(&facts, now) {
        Some(c) if Expiry::of(c, now) == Expiry::Expired => (
            Level::Critical,
            Some(format!("certificate {}", facts::certificate_text(c, now))),
        ),
        Some(c) if Expiry::of(c, now).is_alarming() => (
            Level::Warning,
            Some(format!("certificate {}", facts::certificate_text(c, now))),
        ),
        _ => (Level::Ok, None),
    };
    NodeStatus {
        node,
        status,
        up: true,
        problem,
        server: Some(ServerStatus {
            version: overview.server.version,
            api: overview.version,
            started: overview.server.started,
            uptime_seconds: now.saturating_sub(overview.server.started),
            sessions: overview.sessions,
            sessions_total: overview.sessions.total(),
            locks_held: overview.locks.held,
            oldest_lock_seconds: overview.locks.oldest.map(|l| now.saturating_sub(l.since)),
            certificates,
        }),
    }
}

/// One line: `[NODE ]LEVEL - what | performance data` (a node's line alone; the tests'
/// shorthand).
#[cfg(test)]
pub fn line(node: &NodeStatus) -> String {
    node_line(node, true)
}

/// A node's line, with or without its performance data: under the aggregate line of several
/// nodes it carries none, as the aggregate has every node's and **a plugin's long output
/// may hold one `|` only** (what follows it is all read as performance data).
fn node_line(node: &NodeStatus, with_perfdata: bool) -> String {
    let name = if node.node.is_empty() {
        String::new()
    } else {
        format!("{} ", node.node)
    };
    let level = node.status.word();
    let Some(server) = &node.server else {
        let problem = node.problem.as_deref().unwrap_or("no answer");
        return format!("{name}{level} - {problem}");
    };
    let s = &server.sessions;
    let oldest = server.oldest_lock_seconds.map_or_else(String::new, |age| {
        format!(", oldest {}", facts::duration(age))
    });
    let now = server.started.saturating_add(server.uptime_seconds);
    let facts: Vec<CertificateFacts> = server
        .certificates
        .iter()
        .map(|c| c.facts.clone())
        .collect();
    let certificate = match facts::worst(&facts, now) {
        Some(c) if facts.len() > 1 => format!(
            "{} certificates, worst {}",
            facts.len(),
            facts::certificate_text(c, now)
        ),
        Some(c) => format!("certificate {}", facts::certificate_text(c, now)),
        None => "no TLS".to_owned(),
    };
    format!(
        "{name}{level} - pop3d {} up {}; {} sessions ({} authorization, {} transaction, {} \
         update); {} locks{oldest}; {certificate}{}",
        server.version,
        facts::duration(server.uptime_seconds),
        server.sessions_total,
        s.authorization,
        s.transaction,
        s.update,
        server.locks_held,
        perfdata(node, "")
            .filter(|_| with_perfdata)
            .map_or_else(String::new, |p| format!(" | {p}")),
    )
}

/// A node's performance data, as Nagios plugins print it after `|`, each label prefixed with
/// `prefix`: sessions, locks, and the days left on the soonest certificate that has a date
/// with its warning threshold (below 14) and critical one (below 0). `None` for a node that
/// did not answer.
fn perfdata(node: &NodeStatus, prefix: &str) -> Option<String> {
    let server = node.server.as_ref()?;
    let now = server.started.saturating_add(server.uptime_seconds);
    let not_afters: Vec<CertificateFacts> = server
        .certificates
        .iter()
        .map(|c| c.facts.clone())
        .collect();
    let days = facts::soonest_date(&not_afters)
        .map(|t| t.saturating_sub(i64::try_from(now).unwrap_or(i64::MAX)))
        .map_or_else(String::new, |left| {
            let days = left.div_euclid(86_400);
            format!(
                " {prefix}certificate_days={days};{}:;0:",
                facts::EXPIRY_WARNING_DAYS
            )
        });
    Some(format!(
        "{prefix}sessions={} {prefix}locks={}{days}",
        server.sessions_total, server.locks_held
    ))
}

#[cfg(test)]
mod tests;
