//! `pop3-admin uidl`: the UIDLs pop3d serves a user, and the repair of the map of UIDLs
//! carried over from the previous server. Mail through `pop3-maildrop` only (the same
//! `peek` and `carry_over` the server's maildrop code uses), the flag through `pop3-auth`.

use std::io::Write;

use anyhow::{Context, Result, bail};
use pop3_auth::{User, UserName, UserStore};
use pop3_maildrop::{CarryReport, ForeignUidl, UidlMapPolicy};

use crate::cli::UidlCommand;
use crate::settings::Settings;

/// Runs `uidl NAME` (`name` set, no command) or `uidl repair ...`.
pub fn run(
    settings: &Settings,
    name: Option<String>,
    json: bool,
    command: Option<UidlCommand>,
    out: &mut impl Write,
) -> Result<()> {
    let mut warnings = Vec::new();
    let db = crate::user_db::open(settings, &mut warnings)?;
    for warning in warnings {
        eprintln!("pop3-admin: warning: {warning}");
    }
    match (command, name) {
        (
            Some(UidlCommand::Repair {
                name,
                from_uidlist,
                uidlist_format,
                from_sizelist,
                from_courier_filenames,
                json,
            }),
            _,
        ) => {
            let user = user(&*db, &name)?;
            let uidls = match (from_uidlist, from_sizelist) {
                (Some(file), _) => pop3_maildrop::dovecot_uidlist(&file, &uidlist_format)?,
                (None, Some(file)) => pop3_maildrop::courier_sizelist(&file)?,
                (None, None) if from_courier_filenames => {
                    pop3_maildrop::courier_filenames(&user.maildir)?
                }
                (None, None) => {
                    bail!("give --from-uidlist, --from-sizelist or --from-courier-filenames")
                }
            };
            let report = pop3_maildrop::carry_over(&user.maildir, &uidls).with_context(|| {
                format!("cannot carry UIDLs over into {}", user.maildir.display())
            })?;
            // After the map is written and synced: a map without the flag is still used (the
            // server looks for one), a flag without a map would fail every login.
            db.set_uidl_map(&user.name, true)?;
            print_report(out, &uidls.source, &report, json)
        }
        (None, Some(name)) => list(&*db, &name, json, out),
        (None, None) => bail!("give a user name"),
    }
}

fn user(db: &dyn UserStore, name: &str) -> Result<User> {
    let name = UserName::parse(name)?;
    db.get(&name)?.with_context(|| format!("no user {name}"))
}

/// The numbered list the next login will get, as UIDL prints it.
fn list(db: &dyn UserStore, name: &str, json: bool, out: &mut impl Write) -> Result<()> {
    let user = user(db, name)?;
    let policy = if user.uidl_map {
        UidlMapPolicy::Required
    } else {
        UidlMapPolicy::IfPresent
    };
    let peek = pop3_maildrop::peek(&user.maildir, policy)
        .with_context(|| format!("cannot list the maildrop of {}", user.name))?;
    // Advisory only: a live session shows the list it read at its login.
    let holder = pop3_maildrop::lock_status(&user.maildir).ok().flatten();
    if let Some(holder) = &holder {
        eprintln!("note: a session is open ({holder}); this is what the next login will get");
    }
    let messages = peek.messages();
    if json {
        let rows: Vec<serde_json::Value> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| serde_json::json!({"number": i + 1, "uidl": m.uid(), "size": m.wire_size()}))
            .collect();
        let value = serde_json::json!({
            "user": user.name.as_str(),
            "uidl_map": user.uidl_map,
            "carried": peek.scan_report().carried,
            "session_open": holder.is_some(),
            "messages": rows,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        for (i, message) in messages.iter().enumerate() {
            writeln!(out, "{} {}", i + 1, message.uid())?;
        }
    }
    Ok(())
}

fn print_report(
    out: &mut impl Write,
    source: &str,
    report: &CarryReport,
    json: bool,
) -> Result<()> {
    let entries = |list: &[ForeignUidl]| -> Vec<serde_json::Value> {
        list.iter()
            .map(|e| serde_json::json!({"line": e.line, "file": String::from_utf8_lossy(&e.file_name), "uidl": e.uidl}))
            .collect()
    };
    if json {
        let value = serde_json::json!({
            "source": source,
            "map": report.map,
            "carried": report.carried,
            "kept": report.kept,
            "dropped_stale": report.dropped_stale,
            "native": report.native,
            "replaced_damaged_map": report.replaced_damaged_map,
            "unmatched": entries(&report.unmatched),
            "duplicates": entries(&report.duplicates),
            "invalid": entries(&report.invalid),
            "conflicts": entries(&report.conflicts),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(());
    }
    writeln!(out, "from {source}")?;
    writeln!(
        out,
        "{}: {} carried ({} kept from the earlier map), {} with pop3d's own UIDLs",
        report.map.display(),
        report.carried,
        report.kept,
        report.native
    )?;
    if let Some(reason) = &report.replaced_damaged_map {
        writeln!(out, "the earlier map was damaged ({reason}); rebuilt")?;
    }
    if report.dropped_stale > 0 {
        writeln!(
            out,
            "{} entries of the earlier map dropped: their files are gone",
            report.dropped_stale
        )?;
    }
    for (what, list) in [
        ("no such message (not carried)", &report.unmatched),
        (
            "UIDL already carried by an earlier message (not carried)",
            &report.duplicates,
        ),
        ("UIDL cannot be served (not carried)", &report.invalid),
        (
            "already carried under another UIDL (kept)",
            &report.conflicts,
        ),
    ] {
        for entry in list.iter() {
            writeln!(
                out,
                "line {}: {} {}: {what}",
                entry.line,
                String::from_utf8_lossy(&entry.file_name),
                entry.uidl
            )?;
        }
    }
    Ok(())
}
