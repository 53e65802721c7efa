//! [`carry_over`]: writes the map from another server's UIDLs, for the files in the Maildir.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{MapEntry, UIDL_MAP_FILE, load, store, valid_uidl};
use crate::error::{Error, Result};
use crate::foreign::{ForeignUidl, ForeignUidls};
use crate::lock;
use crate::maildir::Maildir;
use crate::name::ParsedName;
use crate::scan::{ScanReport, list};

/// What [`carry_over`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CarryReport {
    /// The map written.
    pub map: PathBuf,
    /// Entries in the map now (carried over now, or kept from an intact earlier map).
    pub carried: usize,
    /// Entries of an intact earlier map kept as they were (their file still exists).
    pub kept: usize,
    /// Entries of an earlier map dropped because no file has their unique part any more.
    pub dropped_stale: usize,
    /// Foreign entries whose unique part matches no file in `cur/` or `new/` (deleted since,
    /// or never delivered here): nothing to carry.
    pub unmatched: Vec<ForeignUidl>,
    /// Foreign entries whose UIDL an earlier entry already carries (the old server served
    /// one UIDL twice): **not carried**; the message gets pop3d's own UIDL. The first one in
    /// the old server's order keeps it.
    pub duplicates: Vec<ForeignUidl>,
    /// Foreign entries whose UIDL cannot be served (empty, over 255 characters, or outside
    /// `0x21..=0x7E`): not carried.
    pub invalid: Vec<ForeignUidl>,
    /// Foreign entries for a message an intact earlier map already carries under another
    /// UIDL: **the earlier map wins** (a carried UIDL is never replaced); listed to check.
    pub conflicts: Vec<ForeignUidl>,
    /// Why an earlier map was unusable (damaged), if it was: it was rebuilt from the
    /// foreign UIDLs alone.
    pub replaced_damaged_map: Option<String>,
    /// Files in `cur/` and `new/` without a carried UIDL: they get pop3d's own UIDLs.
    pub native: usize,
}

/// Writes the map of carried-over UIDLs of the Maildir at `maildir` from `uidls` (read by
/// [`dovecot_uidlist`](crate::dovecot_uidlist), [`courier_sizelist`](crate::courier_sizelist)
/// or [`courier_filenames`](crate::courier_filenames)), matching their file names to the
/// files in `cur/` and `new/` by unique part, and reports what matched.
///
/// It takes the maildrop's lock without waiting ([`Error::Locked`] while a session is open:
/// that session would rewrite the map at its commit). An intact earlier map is merged, never
/// overridden: its entries for existing files stay as they are ([`CarryReport::conflicts`]);
/// a damaged one is rebuilt. The map is written even when nothing matched (an empty map
/// still records that this maildrop was carried over). **The caller records in the user
/// database that the maildrop has a map** (`UserDb::set_uidl_map`), after this returns, so
/// that a map deleted later fails the login instead of silently changing every UIDL.
pub fn carry_over(maildir: &Path, uidls: &ForeignUidls) -> Result<CarryReport> {
    let dir = Maildir::open(maildir)?;
    let _lock = lock::lock(&dir, "carry-over", Duration::ZERO)?;
    let (entries, report) = plan(&dir, maildir, uidls)?;
    store(&dir, &entries)?;
    Ok(report)
}

/// What [`carry_over`] would do now, without doing it: the same matching and the same
/// report, **read-only** (no lock taken, no lock file created, nothing written), for
/// `pop3-admin migrate --dry-run`. A session open meanwhile does not stop it, and what it
/// reports may differ from a later `carry_over` by the mail that session deletes.
pub fn plan_carry_over(maildir: &Path, uidls: &ForeignUidls) -> Result<CarryReport> {
    let dir = Maildir::open(maildir)?;
    plan(&dir, maildir, uidls).map(|(_, report)| report)
}

/// The matching of both: the entries of the map to write, and the report.
fn plan(
    dir: &Maildir,
    maildir: &Path,
    uidls: &ForeignUidls,
) -> Result<(Vec<MapEntry>, CarryReport)> {
    let mut report = CarryReport {
        map: maildir.join(UIDL_MAP_FILE),
        ..CarryReport::default()
    };
    // Unique parts of the files, with how many files share each (a broken Maildir may have
    // two; the map then applies to the first in pop3d's order).
    let mut ignored = ScanReport::default();
    let mut files: HashMap<Vec<u8>, usize> = HashMap::new();
    for (fd, sub) in [(&dir.cur, "cur"), (&dir.new, "new")] {
        for entry in list(fd, &maildir.join(sub), &mut ignored)? {
            let base = ParsedName::parse(&entry.name).base.to_vec();
            *files.entry(base).or_default() += 1;
        }
    }
    let earlier = match load(dir) {
        Ok(entries) => entries.unwrap_or_default(),
        Err(Error::UidlMap { reason, .. }) => {
            report.replaced_damaged_map = Some(reason);
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    let mut entries: Vec<MapEntry> = Vec::with_capacity(earlier.len() + uidls.entries.len());
    for entry in earlier {
        if files.contains_key(&entry.base) {
            entries.push(entry);
        } else {
            report.dropped_stale += 1;
        }
    }
    report.kept = entries.len();
    let mut by_base: HashMap<Vec<u8>, String> = entries
        .iter()
        .map(|e| (e.base.clone(), e.uidl.clone()))
        .collect();
    let mut used: HashSet<String> = entries.iter().map(|e| e.uidl.clone()).collect();
    let mut rank = entries.iter().map(|e| e.rank + 1).max().unwrap_or(0);
    for foreign in &uidls.entries {
        let base = ParsedName::parse(&foreign.file_name).base;
        if base.is_empty() || !files.contains_key(base) {
            report.unmatched.push(foreign.clone());
            continue;
        }
        if !valid_uidl(&foreign.uidl) {
            report.invalid.push(foreign.clone());
            continue;
        }
        match by_base.get(base) {
            Some(existing) if *existing == foreign.uidl => continue,
            Some(_) => {
                report.conflicts.push(foreign.clone());
                continue;
            }
            None => {}
        }
        if !used.insert(foreign.uidl.clone()) {
            report.duplicates.push(foreign.clone());
            continue;
        }
        by_base.insert(base.to_vec(), foreign.uidl.clone());
        entries.push(MapEntry {
            base: base.to_vec(),
            rank,
            uidl: foreign.uidl.clone(),
        });
        rank += 1;
    }
    report.carried = entries.len();
    report.native = files
        .iter()
        .map(|(base, count)| count - usize::from(by_base.contains_key(base)))
        .sum();
    Ok((entries, report))
}
