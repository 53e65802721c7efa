//! The UIDLs an old server served for one Maildir: where its file is ([`UidlSource`]),
//! reading it (`pop3_maildrop::dovecot_uidlist`, `courier_sizelist`), and carrying them into
//! the maildrop's map (`pop3_maildrop::carry_over`; in a dry run `plan_carry_over`, which
//! writes nothing), with the report's sentences about what did not carry.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use pop3_maildrop::{CarryReport, ForeignUidl, ForeignUidls};

/// Where an old server kept the UIDLs it served for one Maildir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UidlSource {
    /// Dovecot's `dovecot-uidlist`, with the `pop3_uidl_format` it served them with.
    Dovecot {
        /// The file.
        path: PathBuf,
        /// `pop3_uidl_format`.
        format: String,
    },
    /// Courier's `courierpop3dsizelist`.
    Courier {
        /// The file.
        path: PathBuf,
    },
}

impl UidlSource {
    /// The file.
    pub fn path(&self) -> &Path {
        match self {
            UidlSource::Dovecot { path, .. } | UidlSource::Courier { path } => path,
        }
    }

    /// `dovecot-uidlist` or `courierpop3dsizelist`.
    pub fn kind(&self) -> &'static str {
        match self {
            UidlSource::Dovecot { .. } => "dovecot-uidlist",
            UidlSource::Courier { .. } => "courierpop3dsizelist",
        }
    }

    /// Reads the old server's UIDLs. A file that cannot be read or parsed is an error (the
    /// parsers are strict): importing the user without them would make every client download
    /// everything again.
    pub fn read(&self) -> pop3_maildrop::Result<ForeignUidls> {
        match self {
            UidlSource::Dovecot { path, format } => pop3_maildrop::dovecot_uidlist(path, format),
            UidlSource::Courier { path } => pop3_maildrop::courier_sizelist(path),
        }
    }
}

/// Where an old server's UIDLs of the Maildir at `maildir` are, as `migrate system` and
/// `user add --maildir` look for them: Dovecot's `dovecot-uidlist` (served with
/// `pop3_uidl_format` `format`), then Courier's `courierpop3dsizelist`, beside `cur/`.
pub fn beside(maildir: &Path, format: &str) -> Vec<UidlSource> {
    vec![
        UidlSource::Dovecot {
            path: maildir.join("dovecot-uidlist"),
            format: format.to_owned(),
        },
        UidlSource::Courier {
            path: maildir.join("courierpop3dsizelist"),
        },
    ]
}

/// `dovecot-uidlist (/x/dovecot-uidlist) or courierpop3dsizelist (/x/...)`, for messages.
pub fn looked_for(sources: &[UidlSource]) -> String {
    sources
        .iter()
        .map(|s| format!("{} ({})", s.kind(), s.path().display()))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Writes the maildrop's map of carried-over UIDLs (durably, under the maildrop's lock: fails
/// while a session is open), or with `dry_run` only says what it would carry.
pub fn carry(
    maildir: &Path,
    uidls: &ForeignUidls,
    dry_run: bool,
) -> pop3_maildrop::Result<CarryReport> {
    if dry_run {
        pop3_maildrop::plan_carry_over(maildir, uidls)
    } else {
        pop3_maildrop::carry_over(maildir, uidls)
    }
}

/// Sentences for the report: every foreign entry that was not carried, and why.
pub fn notes(report: &CarryReport, file: &Path) -> Vec<String> {
    let file = file.display();
    let mut notes = Vec::new();
    if let Some(reason) = &report.replaced_damaged_map {
        notes.push(format!(
            "the earlier map {} was damaged ({reason}): rebuilt from {file}",
            report.map.display()
        ));
    }
    let mut say = |list: &[ForeignUidl], what: &str| {
        if !list.is_empty() {
            notes.push(format!("{} {what} ({})", list.len(), lines(list, &file)));
        }
    };
    say(
        &report.unmatched,
        "UIDLs name no file in cur/ or new/ (deleted since?): nothing to carry for them",
    );
    say(
        &report.duplicates,
        "UIDLs were given to an earlier message too: only that one keeps it; these messages get \
         pop3d's own UIDLs, so clients download them once more",
    );
    say(
        &report.invalid,
        "UIDLs cannot be served (empty, over 255 characters or not printable ASCII): those \
         messages get pop3d's own UIDLs",
    );
    say(
        &report.conflicts,
        "messages are already carried under another UIDL by the existing map, which wins",
    );
    notes
}

/// `FILE lines 4, 9, 12` (at most ten line numbers).
fn lines(list: &[ForeignUidl], file: &impl std::fmt::Display) -> String {
    let mut text = format!("{file} line");
    if list.len() > 1 {
        text.push('s');
    }
    for (i, entry) in list.iter().take(10).enumerate() {
        let sep = if i == 0 { " " } else { ", " };
        let _ = write!(text, "{sep}{}", entry.line);
    }
    if list.len() > 10 {
        text.push_str(", ...");
    }
    text
}
