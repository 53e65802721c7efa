//! The live commands, `sessions`, `locks` and `kick`, over the nodes of [`Nodes`]: one
//! unnamed node prints exactly what the tool always printed; named nodes add a NODE column
//! (a `node` field in JSON), and **a node that does not answer is reported on a line of its
//! own, in its place among the others, without hiding them**.
//!
//! Exit status with named nodes: 0 every node answered; [`PARTIAL`] some did not (what the
//! others answered is printed in full, each missing node on its own line and on stderr); 1
//! none did. So a script that only wants a complete picture checks for 0, and one that can
//! use a partial one accepts 3 too, without parsing stderr.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};
use pop3_admin_api::{LockInfo, SessionInfo};
use pop3_config::AdminNode;
use serde::Serialize;

use crate::live::{AdminClient, KickTarget, NodeAnswer, Nodes};
use crate::settings::{self, Settings};
use crate::tui::unix_now;

/// The exit status when some nodes answered and some did not.
pub const PARTIAL: u8 = 3;

/// The nodes to watch: `--node` if given (the config is then not read at all, so a
/// monitoring host needs no pop3d.toml), else `[admin.nodes]`, else the admin socket, unnamed.
pub fn nodes(cli: &[AdminNode], config: &std::path::Path) -> Result<Nodes> {
    if !cli.is_empty() {
        return from_cli(cli);
    }
    from_settings(&[], &settings::load(config)?)
}

/// [`nodes`] when the settings are already read (the TUI).
pub fn from_settings(cli: &[AdminNode], settings: &Settings) -> Result<Nodes> {
    if !cli.is_empty() {
        return from_cli(cli);
    }
    Ok(if settings.nodes.is_empty() {
        Nodes::local(&settings.admin_socket)
    } else {
        Nodes::named(&settings.nodes)
    })
}

fn from_cli(cli: &[AdminNode]) -> Result<Nodes> {
    for (i, node) in cli.iter().enumerate() {
        if cli[..i].iter().any(|earlier| earlier.name == node.name) {
            bail!("--node {} is given twice", node.name);
        }
    }
    Ok(Nodes::named(cli))
}

/// `sessions [--json]`.
pub fn sessions(nodes: &Nodes, json: bool, out: &mut impl Write) -> Result<ExitCode> {
    let table = Table {
        key: "sessions",
        header: format!(
            "{:<8} {:<20} {:<22} {:<4} {:<14} {:>6} {:<8} {:>10}",
            "ID", "USER", "REMOTE", "TLS", "STATE", "IDLE", "COMMAND", "BYTES"
        ),
        row: session_row,
    };
    table.print(
        nodes.ask(AdminClient::sessions),
        nodes.is_named(),
        json,
        out,
    )
}

/// `locks [--json]`.
pub fn locks(nodes: &Nodes, json: bool, out: &mut impl Write) -> Result<ExitCode> {
    let table = Table {
        key: "locks",
        header: format!("{:<24} {:<8} HELD", "USER", "SESSION"),
        row: lock_row,
    };
    table.print(nodes.ask(AdminClient::locks), nodes.is_named(), json, out)
}

/// `kick [NODE:]ID`: to that node only.
pub fn kick(nodes: &Nodes, target: &KickTarget, out: &mut impl Write) -> Result<()> {
    let (node, client) = nodes.resolve(target)?;
    let session = target.session;
    let on = if nodes.is_named() {
        format!(" on {node}")
    } else {
        String::new()
    };
    let result = client.kick(session);
    match result {
        Ok(true) => {
            writeln!(out, "session {session}{on} disconnected")?;
            Ok(())
        }
        Ok(false) => bail!("no session {session}{on}"),
        Err(e) if nodes.is_named() => Err(e.context(format!("node {node}"))),
        Err(e) => Err(e),
    }
}

/// The answer of the one unnamed node, or its error, as the tool always reported it.
fn only_answer<T>(answers: Vec<NodeAnswer<T>>) -> Result<T> {
    match answers.into_iter().next() {
        Some(answer) => answer.answer,
        None => bail!("no admin socket to ask"),
    }
}

/// Each node that did not answer on stderr; the exit status of the module's doc.
fn verdict<T>(answers: &[NodeAnswer<T>]) -> Result<ExitCode> {
    let down: Vec<&NodeAnswer<T>> = answers.iter().filter(|a| a.answer.is_err()).collect();
    for answer in &down {
        if let Err(e) = &answer.answer {
            eprintln!(
                "pop3-admin: warning: node {} did not answer: {e:#}",
                answer.node
            );
        }
    }
    if down.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else if down.len() < answers.len() {
        Ok(ExitCode::from(PARTIAL))
    } else {
        bail!("no node answered")
    }
}

/// A live listing: its JSON key (named nodes), the table's header and how a row prints.
struct Table<T> {
    key: &'static str,
    header: String,
    row: fn(&T, u64) -> String,
}

impl<T: Serialize> Table<T> {
    fn print(
        &self,
        answers: Vec<NodeAnswer<Vec<T>>>,
        named: bool,
        json: bool,
        out: &mut impl Write,
    ) -> Result<ExitCode> {
        if !named {
            let rows = only_answer(answers)?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
            } else {
                writeln!(out, "{}", self.header)?;
                let now = unix_now();
                for row in &rows {
                    writeln!(out, "{}", (self.row)(row, now))?;
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        if json {
            self.print_json(&answers, out)?;
        } else {
            // The NODE column: as wide as the longest name, at least its header.
            let width = answers.iter().map(|a| a.node.len()).fold(4, usize::max);
            writeln!(out, "{:<width$} {}", "NODE", self.header)?;
            let now = unix_now();
            for answer in &answers {
                let node = &answer.node;
                match &answer.answer {
                    Ok(rows) => {
                        for row in rows {
                            writeln!(out, "{node:<width$} {}", (self.row)(row, now))?;
                        }
                    }
                    Err(e) => writeln!(out, "{node:<width$} DOWN: {e:#}")?,
                }
            }
        }
        verdict(&answers)
    }

    /// Every row with its `node`, and every node with `up` (and `error` when down).
    fn print_json(&self, answers: &[NodeAnswer<Vec<T>>], out: &mut impl Write) -> Result<()> {
        #[derive(Serialize)]
        struct OnNode<'a, T> {
            node: &'a str,
            #[serde(flatten)]
            row: &'a T,
        }
        let mut rows = Vec::new();
        let mut nodes = Vec::new();
        for answer in answers {
            match &answer.answer {
                Ok(list) => {
                    nodes.push(serde_json::json!({ "node": answer.node, "up": true }));
                    rows.extend(list.iter().map(|row| OnNode {
                        node: &answer.node,
                        row,
                    }));
                }
                Err(e) => nodes.push(serde_json::json!({
                    "node": answer.node, "up": false, "error": format!("{e:#}")
                })),
            }
        }
        let mut document = serde_json::Map::new();
        document.insert("nodes".into(), nodes.into());
        document.insert(self.key.into(), serde_json::to_value(rows)?);
        writeln!(out, "{}", serde_json::to_string_pretty(&document)?)?;
        Ok(())
    }
}

fn session_row(s: &SessionInfo, now: u64) -> String {
    format!(
        "{:<8} {:<20} {:<22} {:<4} {:<14} {:>5}s {:<8} {:>10}",
        s.id,
        s.user.as_deref().unwrap_or("-"),
        s.remote,
        if s.tls { "yes" } else { "no" },
        s.state,
        now.saturating_sub(s.last_activity),
        s.command.as_deref().unwrap_or("-"),
        s.bytes_sent
    )
}

fn lock_row(lock: &LockInfo, now: u64) -> String {
    format!(
        "{:<24} {:<8} {}s",
        lock.user,
        lock.session,
        now.saturating_sub(lock.since)
    )
}
