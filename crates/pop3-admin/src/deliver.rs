//! `pop3-admin deliver USER`: a local delivery agent for Postfix (`mailbox_command` or a pipe
//! transport), reading one message on stdin. Exit codes follow sysexits.h, which MTAs read:
//! 0 delivered, 67 unknown user (bounce), 73 over quota (`EX_CANTCREAT`: the message was not
//! written; with `quota.over_quota = "defer"` it is 75 instead, so the MTA retries), 75
//! temporary failure (retry later). **A config that
//! cannot be read is 75 too, not `EX_CONFIG` (78)**: Postfix maps 78 to 5.3.5, a permanent
//! failure, and would bounce every message for a typo the admin can fix (issue 17 review).

use std::io::Read;
use std::process::ExitCode;

use pop3_auth::UserName;
use pop3_config::OverQuota;
use pop3_maildrop::{Delivery, Maildir};

use crate::settings::Settings;

pub const EX_OK: u8 = 0;
pub const EX_NOUSER: u8 = 67;
pub const EX_CANTCREAT: u8 = 73;
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
    // The one place a user's limit is decided, as for LMTP.
    let limit = pop3_config::quota_for(&settings.quota, &account, &mut |invalid| {
        eprintln!("pop3-admin: warning: {invalid}; the site's quota applies");
    });
    let over_quota = settings.quota.over_quota;
    copy(maildir, message)
        .and_then(|delivery| delivery.commit_within(&limit))
        .map_err(|e| match e {
            pop3_maildrop::Error::OverQuota { .. } => {
                let code = match over_quota {
                    OverQuota::Reject => EX_CANTCREAT,
                    OverQuota::Defer => EX_TEMPFAIL,
                };
                (code, format!("{name}: mailbox full: {e}"))
            }
            e if e.is_disk_full() => (EX_TEMPFAIL, format!("disk full: {e}")),
            e => (EX_TEMPFAIL, format!("cannot deliver: {e}")),
        })?;
    Ok(())
}

/// Writes the message into `tmp/`; the commit (and the quota check, which needs the size)
/// follows.
fn copy(maildir: Maildir, mut message: impl Read) -> pop3_maildrop::Result<Delivery<Maildir>> {
    let mut delivery = Delivery::begin(maildir)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match message.read(&mut buf) {
            Ok(0) => return Ok(delivery),
            Ok(n) => delivery.write(&buf[..n])?,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(pop3_maildrop::Error::Io {
                    op: "read",
                    path: "standard input".into(),
                    source: e,
                });
            }
        }
    }
}
