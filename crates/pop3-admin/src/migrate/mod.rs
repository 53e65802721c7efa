//! `pop3-admin migrate dovecot | system`: users, their password hashes, their Maildirs (where
//! they are) and the UIDLs the old server served, imported so that clients notice nothing.
//!
//! The parts: `dovecot` and `system` read the sources into [`Line`]s; `template` expands
//! Dovecot's mail locations; `maildir` looks at each Maildir (read-only) and checks that
//! pop3d's user can use it; `password` classifies the password fields (through `pop3-auth`'s
//! `classify_imported`); `uidls` reads the old server's UIDL file and carries it into the
//! maildrop's map (through `pop3-maildrop`); `report` prints.
//!
//! **Order per user: check everything, carry the UIDLs over, then add the user.** The row
//! comes last, in one INSERT with its `uidl_map` flag (`UserStore::add_imported`), so that no
//! login can see the maildrop before its old UIDLs are in place, nor without the flag that
//! makes the server require them; and a run that stopped half-way is finished by running it
//! again: a user that exists is skipped (`exists`), one that does not is imported from the
//! start (an intact map written by the earlier run is merged, never replaced).
//! **A dry run writes nothing**: the user database is read from a copy, Maildirs and UIDL
//! files are only read.
//! **One bad user never stops the others**: each problem is an entry of the report, and the
//! exit status is 1 if any entry failed.

mod dovecot;
pub mod maildir;
mod password;
mod report;
mod system;
mod template;
pub mod uidls;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use pop3_auth::{ImportFlags, ImportedPassword, PasswordHasher, UserDb, UserName, UserStore};

use crate::cli::{MigrateCommand, MigrateOptions};
use crate::settings::Settings;
use maildir::{Found, ServerUser};
use report::{Entry, Outcome, Report, Uidls};
use template::MailLocation;
use uidls::UidlSource;

/// Runs a migration and prints its report; an error if any entry failed.
pub fn run(settings: &Settings, command: MigrateCommand, out: &mut impl Write) -> Result<()> {
    let (source, lines, options, missing) = match command {
        MigrateCommand::Dovecot {
            passwd_file,
            maildir,
            uidlist_format,
            scheme,
            native_uidls,
            common,
        } => {
            let location = MailLocation::parse(&maildir)
                .map_err(anyhow::Error::msg)
                .context("--maildir")?;
            let bytes = std::fs::read(&passwd_file)
                .with_context(|| format!("cannot read {}", passwd_file.display()))?;
            let options = dovecot::Options {
                location: &location,
                default_scheme: &scheme,
                uidl_format: &uidlist_format,
            };
            let lines = dovecot::parse(&bytes, &passwd_file, &options);
            let missing = if native_uidls {
                NoUidls::Native
            } else {
                NoUidls::Fail
            };
            ("dovecot", lines, common, missing)
        }
        MigrateCommand::System {
            names,
            min_uid,
            max_uid,
            maildir,
            uidlist_format,
            passwd,
            shadow,
            common,
        } => {
            let location = MailLocation::parse(&maildir)
                .map_err(anyhow::Error::msg)
                .context("--maildir")?;
            let read = |path: &Path| {
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))
            };
            let options = system::Options {
                names: &names,
                uids: min_uid..=max_uid,
                location: &location,
                uidl_format: &uidlist_format,
            };
            let lines = system::parse(&read(&passwd)?, &passwd, &read(&shadow)?, &options);
            // System accounts were often served by no POP3 server at all: a note, not a failure.
            ("system", lines, common, NoUidls::Note)
        }
    };
    let report = import(settings, source, lines, options, missing)?;
    if options.json {
        report.write_json(out)?;
    } else {
        report.write_table(out)?;
    }
    if report.summary.failed > 0 {
        bail!(
            "{} of {} entries failed (nothing was imported for them; the others were): see the \
             report, fix, and run again",
            report.summary.failed,
            report.users.len()
        );
    }
    Ok(())
}

/// What a Maildir with messages and no UIDL file of the old server gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NoUidls {
    /// The user fails (`no-uidlist`): `migrate dovecot`, where Dovecot kept a
    /// `dovecot-uidlist` for every Maildir it served, so a missing one means a wrong template
    /// (or `:CONTROL=`), and importing anyway would make every client download everything.
    Fail,
    /// Imported with a note: `migrate system` (such accounts often had no POP3 server).
    Note,
    /// Imported with a note: `migrate dovecot --native-uidls`, asked for.
    Native,
}

/// A line of a source: a user to import, or why the line is not one.
#[derive(Debug)]
pub enum Line {
    /// A user.
    Candidate(Candidate),
    /// A line that cannot be imported.
    Malformed {
        /// `FILE:LINE`.
        origin: String,
        /// The name on it, if any.
        name: Option<String>,
        /// Why.
        reason: String,
    },
}

/// A user as a source has it.
#[derive(Debug)]
pub struct Candidate {
    /// `FILE:LINE`.
    pub origin: String,
    /// The name as written.
    pub name: String,
    /// The password, classified.
    pub password: ImportedPassword,
    /// The Maildir.
    pub maildir: PathBuf,
    /// Where the old server's UIDLs may be, in order; the first file that exists is used.
    pub uidls: Vec<UidlSource>,
    /// Why the source had the user disabled, if it did.
    pub disabled: Option<String>,
}

/// A candidate that passed the checks that need no access test.
struct Checked {
    entry: Entry,
    name: UserName,
    candidate: Candidate,
}

fn import(
    settings: &Settings,
    source: &'static str,
    lines: Vec<Line>,
    options: MigrateOptions,
    missing: NoUidls,
) -> Result<Report> {
    let db = Database::open(settings, options.dry_run)?;
    let hasher = PasswordHasher::new(settings.argon2)?.with_scram(settings.scram_iterations)?;
    let server = ServerUser::of(settings)?;
    let mut entries: Vec<Option<Entry>> = Vec::new();
    let mut checked: Vec<(usize, Checked)> = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    for line in lines {
        let slot = entries.len();
        match first_checks(line, &db, &mut seen)? {
            Ok(ready) => {
                checked.push((slot, ready));
                entries.push(None);
            }
            Err(entry) => entries.push(Some(entry)),
        }
    }
    let maildirs: Vec<PathBuf> = checked
        .iter()
        .map(|(_, c)| c.candidate.maildir.clone())
        .collect();
    let verdicts = server.check(&maildirs)?;
    for ((slot, ready), verdict) in checked.into_iter().zip(verdicts) {
        let entry = match verdict {
            Some(why) => ready
                .entry
                .not_imported(Outcome::Failed, "maildir-unusable", why),
            None => import_one(ready, &db, &hasher, options.dry_run, missing),
        };
        entries[slot] = Some(entry);
    }
    Ok(Report::new(
        source,
        options.dry_run,
        entries.into_iter().flatten().collect(),
    ))
}

/// Name, duplicates, existence and the Maildir: an entry if the user goes no further.
fn first_checks(
    line: Line,
    db: &Database,
    seen: &mut HashMap<String, String>,
) -> Result<std::result::Result<Checked, Entry>> {
    let candidate = match line {
        Line::Candidate(candidate) => candidate,
        Line::Malformed {
            origin,
            name,
            reason,
        } => {
            let entry = Entry::new(origin, name.unwrap_or_default(), Outcome::Failed);
            return Ok(Err(entry.not_imported(
                Outcome::Failed,
                "malformed",
                reason,
            )));
        }
    };
    let mut entry = Entry::new(
        candidate.origin.clone(),
        candidate.name.clone(),
        Outcome::Created,
    );
    let name = match UserName::parse(&candidate.name) {
        Ok(name) => name,
        Err(e) => {
            let note = format!("not a user name pop3d accepts: {e}");
            return Ok(Err(entry.not_imported(
                Outcome::Failed,
                "invalid-name",
                note,
            )));
        }
    };
    entry.name = name.to_string();
    entry.maildir = Some(candidate.maildir.clone());
    if let Some(first) = seen.get(name.as_str()) {
        let note = format!("the same user as {first}, which is the one imported (as Dovecot)");
        return Ok(Err(entry.not_imported(Outcome::Skipped, "duplicate", note)));
    }
    seen.insert(name.to_string(), candidate.origin.clone());
    if let Some(existing) = db.get(&name)? {
        let note = if existing.maildir == candidate.maildir {
            String::new()
        } else {
            format!(
                "the existing user has the Maildir {}, not this one",
                existing.maildir.display()
            )
        };
        let mut entry = entry.not_imported(Outcome::Skipped, "exists", note);
        entry.maildir = Some(existing.maildir);
        return Ok(Err(entry));
    }
    match maildir::inspect(&candidate.maildir) {
        Found::Missing => {
            let note = format!(
                "no Maildir at {}: create it (or fix the template) and run again",
                candidate.maildir.display()
            );
            Ok(Err(entry.not_imported(
                Outcome::Skipped,
                "no-maildir",
                note,
            )))
        }
        Found::Unusable(why) => {
            entry.maildir_found = true;
            Ok(Err(entry.not_imported(
                Outcome::Failed,
                "maildir-unusable",
                why,
            )))
        }
        Found::Maildir { messages } => {
            entry.maildir_found = true;
            entry.messages = Some(messages);
            Ok(Ok(Checked {
                entry,
                name,
                candidate,
            }))
        }
    }
}

/// The UIDLs, then the row; in a dry run, only what they would be.
fn import_one(
    ready: Checked,
    db: &Database,
    hasher: &PasswordHasher,
    dry_run: bool,
    missing: NoUidls,
) -> Entry {
    let Checked {
        mut entry,
        name,
        candidate,
    } = ready;
    let password = &candidate.password;
    entry.scheme = Some(password::scheme_of(password));
    if let ImportedPassword::Stored {
        warning: Some(warning),
        ..
    } = password
    {
        entry.notes.push((*warning).to_owned());
    }
    let disabled_note = candidate
        .disabled
        .clone()
        .or_else(|| password::disabled_because(password));
    let enabled = disabled_note.is_none();
    entry.enabled = Some(enabled);
    entry.notes.extend(disabled_note);
    let source = candidate.uidls.iter().find(|s| s.path().exists());
    let messages = entry.messages.unwrap_or(0);
    if source.is_none() && messages > 0 {
        let looked = uidls::looked_for(&candidate.uidls);
        match missing {
            NoUidls::Fail => {
                let note = format!(
                    "{messages} messages and no {looked}: imported without the UIDLs Dovecot \
                     served, every client would download every message again. Check --maildir \
                     (a `:CONTROL=` where Dovecot kept dovecot-uidlist) and run again, or add \
                     --native-uidls to serve pop3d's own UIDLs (every client downloads \
                     everything again)"
                );
                return entry.not_imported(Outcome::Failed, "no-uidlist", note);
            }
            NoUidls::Note => entry.notes.push(format!(
                "no {looked}: pop3d serves its own UIDLs, so a client that fetched these \
                 {messages} messages from another POP3 server downloads them again (an older \
                 Courier without a size list: `pop3-admin uidl repair NAME \
                 --from-courier-filenames` before pop3d starts)"
            )),
            NoUidls::Native => entry.notes.push(format!(
                "no {looked}; --native-uidls: pop3d serves its own UIDLs, every client \
                 downloads these {messages} messages again"
            )),
        }
    }
    let mut uidl_map = false;
    if let Some(source) = source {
        let uidls = match source.read() {
            Ok(uidls) => uidls,
            Err(e) => {
                let note = format!(
                    "{e}; not imported, since without them every client would download \
                     everything again (fix or remove the file and run again)"
                );
                return entry.not_imported(Outcome::Failed, "uidls-unreadable", note);
            }
        };
        let carried = match uidls::carry(&candidate.maildir, &uidls, dry_run) {
            Ok(carried) => carried,
            Err(e) => {
                let note = format!("cannot carry the UIDLs over: {e}; not imported, run again");
                return entry.not_imported(Outcome::Failed, "uidls-unreadable", note);
            }
        };
        // The map is written and synced (an empty one too: it records the carry-over).
        uidl_map = true;
        entry.notes.extend(uidls::notes(&carried, source.path()));
        entry.uidls = Some(Uidls {
            source: source.kind(),
            path: source.path().to_owned(),
            found: uidls.entries.len(),
            carried: carried.carried,
            unmatched: carried.unmatched.len(),
            duplicates: carried.duplicates.len(),
        });
    }
    if dry_run {
        entry.result = Outcome::WouldCreate;
        return entry;
    }
    let Some(db) = &db.db else {
        return entry.not_imported(Outcome::Failed, "error", "no user database".to_owned());
    };
    let flags = ImportFlags { enabled, uidl_map };
    match db.add_imported(&name, password, &candidate.maildir, hasher, flags) {
        Ok(user) => {
            entry.enabled = Some(user.enabled);
            entry
        }
        Err(e) => entry.not_imported(Outcome::Failed, "error", e.to_string()),
    }
}

/// The user database, or in a dry run a copy of it (none if it does not exist yet), so that
/// not even a schema upgrade or a checkpoint touches the real file.
struct Database {
    db: Option<Box<dyn UserStore>>,
    _copy: Option<tempfile::TempDir>,
}

impl Database {
    fn open(settings: &Settings, dry_run: bool) -> Result<Database> {
        let open = |path: &Path| -> Result<Box<dyn UserStore>> {
            let db = UserDb::open(path)
                .with_context(|| format!("cannot open the user database {}", path.display()))?;
            Ok(Box::new(db))
        };
        if !dry_run {
            // Created 0640 and the server's when run as root, as `user add` does.
            let mut warnings = Vec::new();
            let db = crate::user_db::open(settings, &mut warnings)?;
            for warning in warnings {
                eprintln!("pop3-admin: warning: {warning}");
            }
            return Ok(Database {
                db: Some(db),
                _copy: None,
            });
        }
        // A dry run reads a copy of the file; a PostgreSQL database has no file to copy.
        let Some(path) = settings.user_db.sqlite_path() else {
            bail!(
                "migrate --dry-run needs a SQLite user_db (it works on a copy of the file); \
                 with PostgreSQL run it against a SQLite copy of the configuration, or without \
                 --dry-run (issue 18)"
            );
        };
        if !path.exists() {
            return Ok(Database {
                db: None,
                _copy: None,
            });
        }
        let copy = tempfile::tempdir()?;
        let target = copy.path().join("users.db");
        std::fs::copy(path, &target)
            .with_context(|| format!("cannot copy {} for the dry run", path.display()))?;
        let wal = PathBuf::from(format!("{}-wal", path.display()));
        if wal.exists() {
            std::fs::copy(&wal, copy.path().join("users.db-wal"))
                .with_context(|| format!("cannot copy {} for the dry run", wal.display()))?;
        }
        Ok(Database {
            db: Some(open(&target)?),
            _copy: Some(copy),
        })
    }

    fn get(&self, name: &UserName) -> Result<Option<pop3_auth::User>> {
        match &self.db {
            Some(db) => Ok(db.get(name)?),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests;
