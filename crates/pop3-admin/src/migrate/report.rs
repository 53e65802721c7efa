//! The report of a migration: one entry per user (or per line that should have been one), as
//! a table for people and as JSON for scripts.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// `dovecot` or `system`.
    pub source: &'static str,
    /// Whether this was a dry run (nothing changed).
    pub dry_run: bool,
    /// Counts per result.
    pub summary: Summary,
    /// One entry per user or bad line, in the order of the source.
    pub users: Vec<Entry>,
}

/// Counts per result.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// Users created (or that a dry run would create).
    pub created: usize,
    /// Skipped, of which `exists` because the user exists already.
    pub skipped: usize,
    /// Skipped because the user exists.
    pub exists: usize,
    /// Entries that failed: nothing was imported for them.
    pub failed: usize,
}

/// What happened to one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Added.
    Created,
    /// A dry run would add it.
    WouldCreate,
    /// Not added, for a reason that needs nothing fixed (exists, a duplicate, no Maildir).
    Skipped,
    /// Not added because something is wrong (bad line, unusable Maildir, unreadable UIDLs).
    Failed,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Where it came from: `FILE:LINE`.
    pub origin: String,
    /// The name as pop3d has it (folded), or as written when it is not a valid name.
    pub name: String,
    /// What happened.
    pub result: Outcome,
    /// Why it was skipped or failed: a short code (`exists`, `duplicate`, `no-maildir`,
    /// `malformed`, `invalid-name`, `maildir-unusable`, `uidls-unreadable`, `no-uidlist`,
    /// `error`).
    pub reason: Option<&'static str>,
    /// The password scheme found.
    pub scheme: Option<String>,
    /// Whether the user can log in (false: imported disabled; see `notes`).
    pub enabled: Option<bool>,
    /// The Maildir.
    pub maildir: Option<PathBuf>,
    /// Whether a Maildir was found there.
    pub maildir_found: bool,
    /// Messages in its `new/` and `cur/`.
    pub messages: Option<usize>,
    /// The old server's UIDLs and how many were carried over.
    pub uidls: Option<Uidls>,
    /// Sentences for the administrator: why, and what to do.
    pub notes: Vec<String>,
}

/// The old server's UIDLs of one Maildir.
#[derive(Debug, Clone, Serialize)]
pub struct Uidls {
    /// `dovecot-uidlist` or `courierpop3dsizelist`.
    pub source: &'static str,
    /// The file.
    pub path: PathBuf,
    /// Entries in it.
    pub found: usize,
    /// Carried over (that pop3d serves as the old server did); in a dry run, would be.
    pub carried: usize,
    /// Entries naming no file in `cur/` or `new/`: nothing to carry.
    pub unmatched: usize,
    /// Entries whose UIDL an earlier one has: not carried (pop3d's own UIDL instead).
    pub duplicates: usize,
}

impl Entry {
    /// An entry with a name and an origin, nothing else known yet.
    pub fn new(origin: String, name: String, result: Outcome) -> Entry {
        Entry {
            origin,
            name,
            result,
            reason: None,
            scheme: None,
            enabled: None,
            maildir: None,
            maildir_found: false,
            messages: None,
            uidls: None,
            notes: Vec::new(),
        }
    }

    /// Turns the entry into a skip or failure with a reason code and a sentence.
    pub fn not_imported(mut self, result: Outcome, reason: &'static str, note: String) -> Entry {
        self.result = result;
        self.reason = Some(reason);
        self.enabled = None;
        if !note.is_empty() {
            self.notes.push(note);
        }
        self
    }
}

impl Report {
    /// A report over these entries.
    pub fn new(source: &'static str, dry_run: bool, users: Vec<Entry>) -> Report {
        let mut summary = Summary::default();
        for entry in &users {
            match entry.result {
                Outcome::Created | Outcome::WouldCreate => summary.created += 1,
                Outcome::Skipped => summary.skipped += 1,
                Outcome::Failed => summary.failed += 1,
            }
            if entry.reason == Some("exists") {
                summary.exists += 1;
            }
        }
        Report {
            source,
            dry_run,
            summary,
            users,
        }
    }

    /// The report as JSON.
    pub fn write_json(&self, out: &mut impl Write) -> Result<()> {
        writeln!(out, "{}", serde_json::to_string_pretty(self)?)?;
        Ok(())
    }

    /// The report as a table, each note on an indented line below its user, and a summary.
    pub fn write_table(&self, out: &mut impl Write) -> Result<()> {
        writeln!(
            out,
            "{:<24} {:<20} {:<14} {:<8} {:>8} {:>11}  MAILDIR",
            "NAME", "RESULT", "SCHEME", "ENABLED", "MESSAGES", "UIDLS"
        )?;
        for entry in &self.users {
            let result = match (entry.result, entry.reason) {
                (Outcome::Created, _) => "created".to_owned(),
                (Outcome::WouldCreate, _) => "would create".to_owned(),
                (Outcome::Skipped, Some(reason)) => format!("skipped: {reason}"),
                (Outcome::Skipped, None) => "skipped".to_owned(),
                (Outcome::Failed, _) => "FAILED".to_owned(),
            };
            let messages = match (entry.messages, entry.reason) {
                (Some(n), _) => n.to_string(),
                (None, Some("no-maildir")) => "missing".to_owned(),
                _ => "-".to_owned(),
            };
            let uidls = entry
                .uidls
                .as_ref()
                .map_or("-".to_owned(), |u| format!("{}/{}", u.carried, u.found));
            let enabled = match entry.enabled {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "-",
            };
            writeln!(
                out,
                "{:<24} {:<20} {:<14} {:<8} {:>8} {:>11}  {}",
                entry.name,
                result,
                entry.scheme.as_deref().unwrap_or("-"),
                enabled,
                messages,
                uidls,
                entry
                    .maildir
                    .as_ref()
                    .map_or("-".to_owned(), |m| m.display().to_string()),
            )?;
            if entry.result == Outcome::Failed || !entry.notes.is_empty() {
                writeln!(out, "    {}", entry.origin)?;
            }
            for note in &entry.notes {
                writeln!(out, "    {note}")?;
            }
        }
        let s = &self.summary;
        let verb = if self.dry_run { "to create" } else { "created" };
        writeln!(
            out,
            "\n{} {verb}, {} skipped ({} exist already), {} failed{}",
            s.created,
            s.skipped,
            s.exists,
            s.failed,
            if self.dry_run {
                "; dry run: nothing was changed"
            } else {
                ""
            }
        )?;
        Ok(())
    }
}
