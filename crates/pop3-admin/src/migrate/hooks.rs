//! The seam to the two other halves of issue 16, built on other branches: the password schemes
//! of `pop3-auth` (part 2) and the carried-over UIDL maps of `pop3-maildrop` (part 3).
//!
//! **Everything here is interim and marked `TODO(i16-merge)`**: each function has the signature
//! the migration needs and a minimal body, so the command and its tests run before the merge.
//! At the merge, each body becomes a call of the real function (or the type a re-export), and
//! nothing outside this file needs more than a rename.
//!
//! Interim behaviour:
//! - [`classify`] recognises only `{ARGON2ID}` PHC strings and `{PLAIN}`; every other scheme is
//!   [`ImportedPassword::Unknown`], so such users are imported **disabled** (never with an empty
//!   or guessable password).
//! - [`add_user`] stores a PHC string through `add` with a throwaway password and a cheap
//!   hasher, then `replace_hash` (three writes, not one transaction).
//! - [`read_uidls`] counts the entries of a `dovecot-uidlist` or `courierpop3dsizelist`;
//!   [`carry_over`] carries nothing and says so, so pop3d still serves its own UIDLs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use pop3_auth::{HashParams, PasswordHasher, User, UserDb, UserName};

/// A password field of an imported account, classified.
///
/// TODO(i16-merge): replace by `pop3_auth::ImportedPassword` (A's enum has these variants; its
/// locked variant may carry more, which [`scheme_of`] and [`add_user`] then pass on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportedPassword {
    /// A hash pop3d verifies as it is.
    Stored {
        /// The hash as stored (for argon2id, the PHC string without `{ARGON2ID}`).
        hash: String,
        /// The scheme's name, for the report.
        scheme: &'static str,
        /// Why this scheme is weak, if it is (MD5-CRYPT).
        warning: Option<&'static str>,
    },
    /// A cleartext password (`{PLAIN}`), hashed with argon2id at import, never stored.
    Plain(String),
    /// A scheme pop3d cannot verify: the user is imported disabled.
    Unknown {
        /// The scheme as written (`{NAME}` or the crypt prefix).
        scheme: String,
    },
    /// No password at all: imported disabled.
    Empty,
    /// A locked account (`!` or `*` in `/etc/shadow`): imported disabled.
    Locked,
}

/// Classifies a password field as Dovecot's passwd-file writes it: `{SCHEME}hash`, the scheme
/// already made explicit by the caller for a field without one (Dovecot's default scheme).
///
/// TODO(i16-merge): `pop3_auth::classify_imported(field)`.
pub fn classify(field: &str) -> ImportedPassword {
    if field.is_empty() {
        return ImportedPassword::Empty;
    }
    let Some((scheme, hash)) = field
        .strip_prefix('{')
        .and_then(|rest| rest.split_once('}'))
    else {
        return ImportedPassword::Unknown {
            scheme: "(none)".to_owned(),
        };
    };
    match scheme.to_ascii_uppercase().as_str() {
        "PLAIN" => ImportedPassword::Plain(hash.to_owned()),
        "ARGON2ID" | "CRYPT" if hash.starts_with("$argon2id$") => ImportedPassword::Stored {
            hash: hash.to_owned(),
            scheme: "ARGON2ID",
            warning: None,
        },
        "" if hash.is_empty() => ImportedPassword::Empty,
        "CRYPT" => ImportedPassword::Unknown {
            scheme: crypt_prefix(hash),
        },
        other => ImportedPassword::Unknown {
            scheme: format!("{{{other}}}"),
        },
    }
}

/// Classifies the hash field of `/etc/shadow`: empty, locked (`!`, `*`), else a crypt(3)
/// string.
///
/// TODO(i16-merge): `pop3_auth::classify_imported` (or A's shadow variant, if it has one).
pub fn classify_shadow(field: &str) -> ImportedPassword {
    if field.is_empty() {
        ImportedPassword::Empty
    } else if field.starts_with('!') || field.starts_with('*') {
        ImportedPassword::Locked
    } else {
        classify(&format!("{{CRYPT}}{field}"))
    }
}

/// The scheme's name for the report.
pub fn scheme_of(password: &ImportedPassword) -> String {
    match password {
        ImportedPassword::Stored { scheme, .. } => (*scheme).to_owned(),
        ImportedPassword::Plain(_) => "PLAIN".to_owned(),
        ImportedPassword::Unknown { scheme } => scheme.clone(),
        ImportedPassword::Empty => "(empty)".to_owned(),
        ImportedPassword::Locked => "(locked)".to_owned(),
    }
}

/// Why a user with this password is imported disabled, if it is.
pub fn disabled_because(password: &ImportedPassword) -> Option<String> {
    match password {
        ImportedPassword::Stored { .. } | ImportedPassword::Plain(_) => None,
        ImportedPassword::Unknown { scheme } => Some(format!(
            "password scheme {scheme} is not supported: imported disabled (set a password with \
             `pop3-admin user passwd`, then `user enable`)"
        )),
        ImportedPassword::Empty => Some("no password: imported disabled".to_owned()),
        ImportedPassword::Locked => Some("locked account: imported disabled".to_owned()),
    }
}

/// Adds the user with its imported password, enabled unless `disabled` or the password cannot
/// be used; `uidl_map` says the maildrop has a carried-over UIDL map (B's flag). Fails, adding
/// nothing, if the user exists.
///
/// TODO(i16-merge): A's "store a legacy hash as it is / add a user disabled" in one write, and
/// B's `uidl_map` flag in the same row.
pub fn add_user(
    db: &UserDb,
    hasher: &PasswordHasher,
    name: &UserName,
    maildir: &Path,
    password: &ImportedPassword,
    disabled: bool,
    uidl_map: bool,
) -> Result<User> {
    let _ = uidl_map; // TODO(i16-merge): B's flag.
    let enabled = !disabled && disabled_because(password).is_none();
    let user = match password {
        ImportedPassword::Plain(plain) => db.add(name, plain.as_bytes(), maildir, hasher)?,
        _ => {
            // A random password no one knows, hashed as cheaply as argon2 allows: it is
            // replaced at once, or the user is disabled.
            let throwaway = random_password()?;
            let cheap = PasswordHasher::new(HashParams {
                m_kib: 8,
                t: 1,
                p: 1,
            })?;
            let user = db.add(name, throwaway.as_bytes(), maildir, &cheap)?;
            let stored = (|| {
                if !enabled {
                    db.set_enabled(name, false)?;
                }
                if let ImportedPassword::Stored { hash, .. } = password {
                    db.replace_hash(name, hash)?;
                }
                Ok::<_, pop3_auth::Error>(())
            })();
            if let Err(e) = stored {
                let _ = db.remove(name);
                return Err(e).context("cannot store the imported password");
            }
            user
        }
    };
    if enabled || !user.enabled {
        return Ok(user);
    }
    db.set_enabled(name, false)?;
    db.get(name)?
        .with_context(|| format!("{name} vanished while being added"))
}

fn random_password() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

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
}

/// The UIDLs an old server served for one Maildir, read from its file.
///
/// TODO(i16-merge): `pop3_maildrop::ForeignUidls`.
#[derive(Debug, Clone)]
pub struct ForeignUidls {
    /// Entries (messages) in the file.
    pub entries: usize,
}

/// Reads the old server's UIDLs. A file that cannot be read or parsed is an error: importing
/// the user without them would make every client download everything again.
///
/// TODO(i16-merge): `pop3_maildrop::dovecot_uidlist(path, format)` and
/// `pop3_maildrop::courier_sizelist(path)`.
pub fn read_uidls(source: &UidlSource) -> Result<ForeignUidls> {
    let path = source.path();
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let good_header = match source {
        UidlSource::Dovecot { .. } => header.starts_with("3 "),
        UidlSource::Courier { .. } => header.starts_with("/2 "),
    };
    if !good_header {
        bail!(
            "{}: not a {} this tool reads (header {header:?})",
            path.display(),
            source.kind()
        );
    }
    Ok(ForeignUidls {
        entries: lines.filter(|line| !line.trim().is_empty()).count(),
    })
}

/// What carrying the UIDLs over did (or, in a dry run, would do).
#[derive(Debug, Clone, Default)]
pub struct CarryReport {
    /// UIDLs pop3d will serve as the old server did.
    pub carried: usize,
    /// A note for the report, if any.
    pub note: Option<String>,
}

/// Writes the map from the messages of `maildir` to the old server's UIDLs (durably, in the
/// maildrop) before the user exists, so no login can see pop3d's own UIDLs first. With
/// `dry_run`, only says what it would carry.
///
/// TODO(i16-merge): `pop3_maildrop::carry_over(maildir, &uidls)` (and its dry-run form).
pub fn carry_over(maildir: &Path, uidls: &ForeignUidls, dry_run: bool) -> Result<CarryReport> {
    let _ = (maildir, dry_run);
    Ok(CarryReport {
        carried: 0,
        note: Some(format!(
            "{} UIDLs found, none carried over: the UIDL map is not merged yet (issue 16 part 3)",
            uidls.entries
        )),
    })
}

/// `$id$` of a crypt(3) string, or a name for what it is.
fn crypt_prefix(hash: &str) -> String {
    match hash.strip_prefix('$').and_then(|rest| rest.split_once('$')) {
        Some((id, _)) if !id.is_empty() && id.len() <= 8 => format!("${id}$"),
        _ if hash.len() == 13 => "DES-CRYPT".to_owned(),
        _ => "CRYPT (unrecognised)".to_owned(),
    }
}
