//! `pop3-admin deliver USER`: a local delivery agent for Postfix (`mailbox_command` or a pipe
//! transport), reading one message on stdin. Exit codes follow sysexits.h, which MTAs read:
//! 0 delivered, 67 unknown user (bounce), 75 temporary failure (retry later). **A config that
//! cannot be read is 75 too, not `EX_CONFIG` (78)**: Postfix maps 78 to 5.3.5, a permanent
//! failure, and would bounce every message for a typo the admin can fix (issue 17 review).

use std::io::Read;
use std::process::ExitCode;

use pop3_auth::UserName;
use pop3_maildrop::{Maildir, deliver};

use crate::settings::Settings;

pub const EX_OK: u8 = 0;
pub const EX_NOUSER: u8 = 67;
pub const EX_TEMPFAIL: u8 = 75;

/// Delivers stdin to `user`'s Maildir; reports on stderr and returns the sysexits code.
pub fn run(settings: Result<Settings, anyhow::Error>, user: &str, message: impl Read) -> ExitCode {
    let code = match deliver_to(settings, user, message) {
        Ok(()) => EX_OK,
        Err((code, why)) => {
            eprintln!("pop3-admin deliver: {why}");
            code
        }
    };
    ExitCode::from(code)
}

fn deliver_to(
    settings: Result<Settings, anyhow::Error>,
    user: &str,
    message: impl Read,
) -> Result<(), (u8, String)> {
    let settings = settings.map_err(|e| (EX_TEMPFAIL, format!("the pop3d config: {e:#}")))?;
    let name = UserName::parse(user).map_err(|e| (EX_NOUSER, format!("{user:?}: {e}")))?;
    // Never created here: a missing or unreadable database is a temporary failure, so the
    // MTA keeps the mail and retries rather than bouncing it (issue 17).
    let db = settings.user_db.open_existing().map_err(|e| {
        let shown = &settings.user_db;
        (EX_TEMPFAIL, format!("user database {shown}: {e}"))
    })?;
    let account = db
        .get(&name)
        .map_err(|e| (EX_TEMPFAIL, format!("user database: {e}")))?
        .ok_or_else(|| (EX_NOUSER, format!("no such user: {name}")))?;
    let maildir = Maildir::open(&account.maildir)
        .map_err(|e| (EX_TEMPFAIL, format!("{name}'s Maildir: {e}")))?;
    deliver(&maildir, message).map_err(|e| {
        let why = if e.is_disk_full() {
            "disk full"
        } else {
            "cannot deliver"
        };
        (EX_TEMPFAIL, format!("{why}: {e}"))
    })?;
    Ok(())
}
