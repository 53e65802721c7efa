//! `pop3-auth`: pop3d's user database and every authentication decision.
//!
//! Synchronous: the server runs it on a bounded blocking pool; the admin tool calls it
//! directly. It knows nothing of POP3's wire format: SASL PLAIN and LOGIN are decoded by
//! `pop3-proto`, which hands over a name and a password.
//!
//! # Main types
//! - [`UserStore`]: the user database and the admin API, whatever holds it (issue 18): add,
//!   remove, rename, set password, enable/disable, set/clear the APOP secret, the
//!   carried-over UIDL map flag ([`UserStore::set_uidl_map`]), list, get; for migrations, add
//!   with a legacy hash or locked. Two stores: [`UserDb`], SQLite (WAL, the embedded
//!   default), and [`PgStore`], PostgreSQL through a small bounded pool; the same schema and
//!   migrations ([`SCHEMA_VERSION`], a `schema_version` table in both).
//!   [`UserDbLocation`] says which one `[data] user_db` names, and opens it.
//! - [`Authenticator`]: verifies a [`Credential`] for a name and returns an [`Outcome`] (with
//!   [`Authenticator::attempt_with`], also the best-effort writes that failed).
//! - [`UserName`]: the allowlist and case folding every name goes through before any lookup.
//! - [`PasswordHasher`] and [`HashParams`]: argon2id, bounded on the way in and out; it also
//!   verifies the hashes of other systems that migrated users keep until their first login
//!   (issue 16): Dovecot's `{ARGON2ID}`, `{ARGON2I}`, `{BLF-CRYPT}`, `{SHA512-CRYPT}`,
//!   `{SHA256-CRYPT}`, `{MD5-CRYPT}`, `{SSHA512}`, `{SSHA256}`, `{CRYPT}`, and the bare crypt
//!   strings of `/etc/shadow` (`$y$` yescrypt, `$6$`, `$5$`, `$2b$`, `$1$`).
//! - [`classify_imported`] and [`ImportedPassword`]: a passwd-file or shadow field, sorted for
//!   the migration command; [`UserStore::add_with_hash`] stores a legacy hash as it is,
//!   [`UserStore::add_locked`] creates a user no password opens ([`LOCKED_HASH`]);
//!   [`UserStore::add_imported`] does either (or hashes cleartext) with the enabled and UIDL-map
//!   flags ([`ImportFlags`]) in one INSERT;
//!   [`hash_scheme`] names the scheme of a stored hash.
//! - [`HashMemory`]: argon2's block memory, kept by the caller and reused hash after hash.
//! - [`apop`]: the greeting timestamp and the digest check.
//! - [`scram`]: SCRAM-SHA-256 (RFC 5802, RFC 7677) as a pure state machine, and the stored
//!   keys in PostgreSQL's format; [`Authenticator::scram_server_first`] picks the user's keys
//!   or fake ones, [`Credential::Scram`] is its final step, and a [`PasswordHasher`] made
//!   [`PasswordHasher::with_scram`] writes keys with every password it sets.
//! - [`Throttle`]: failure delays, per-address penalties, the per-user spraying signal.
//!
//! # Invariants
//! - **No user name reaches a query or a path unchecked**: [`UserName::parse`] first; SQL
//!   values are always bound parameters.
//! - **Unknown, disabled and real users with a wrong secret get the same outcome in the same
//!   time** (a dummy hash is verified), and secrets are compared in constant time.
//! - **A stored hash with absurd parameters or a malformed one fails closed**, without a panic
//!   or a large allocation: argon2 within 1 GiB, 64 passes, 16 lanes; bcrypt cost at most
//!   [`MAX_BCRYPT_COST`], SHA-crypt at most [`MAX_SHA_CRYPT_ROUNDS`], yescrypt at most
//!   [`MAX_YESCRYPT_WORK`] (about 1.5 s at worst), checked before anything is computed.
//! - **Every password check costs at least one argon2id hash at the current parameters**: a
//!   legacy, older or unusable stored hash is checked and then the dummy runs too, so a
//!   microsecond SSHA user answers no sooner than an unknown one; a match on anything but
//!   the current argon2id is rehashed at once.
//! - **A cleartext or locked import never becomes a stored password**: cleartext is hashed
//!   at import, locked and empty entries become disabled users with [`LOCKED_HASH`].
//! - **argon2 memory is the caller's**: the `*_with` methods hash in a [`HashMemory`] the
//!   caller keeps (the server: one per hash permit), never growing it past the configured
//!   cost; the others use a temporary one. (A legacy yescrypt hash allocates its own
//!   memory, bounded, for that one check: it is replaced at the first login.)
//! - **No cache**: every login reads the row, so changes apply at the next login.
//! - **SCRAM keys never outlive their password**: a new password writes its keys, or NULL,
//!   in the same UPDATE as its hash; users without keys fail SCRAM as a wrong password does.
//!
//! # Non-goals
//! Sessions, sockets and timing of replies belong to the server; the throttle only computes.
//! No legacy scheme is ever written: they are verified, then replaced. Reading passwd-files
//! and `/etc/shadow` is the migration command's (`pop3-admin`), not this crate's.

pub mod apop;
mod authenticator;
mod db;
mod error;
mod location;
mod memory;
mod name;
mod password;
mod pg;
mod policy;
mod schema;
pub mod scram;
mod store;
#[cfg(feature = "test-util")]
pub mod test_util;
mod throttle;

pub use authenticator::{
    Attempt, Authenticator, BestEffortWrite, Credential, Outcome, RejectReason, ScramSecret,
    SkippedWrite,
};
pub use db::UserDb;
pub use error::{Error, Result};
pub use location::UserDbLocation;
pub use memory::HashMemory;
pub use name::{MAX_NAME, UserName};
pub use password::{
    HashParams, ImportedPassword, LOCKED_HASH, MAX_BCRYPT_COST, MAX_PASSWORD, MAX_SHA_CRYPT_ROUNDS,
    MAX_YESCRYPT_WORK, PasswordHasher, Verification, classify_imported, hash_scheme,
};
pub use pg::{PgSettings, PgStore};
pub use policy::{
    InvalidSetting, MAX_EXPIRE_DAYS, MAX_LOGIN_DELAY_SECS, PolicyOverrides, Resolved, Setting,
    UserPolicy,
};
pub use schema::{OLDEST_SERVED, SCHEMA_VERSION};
pub use store::{
    Field, ImportFlags, LAST_LOGIN_PRECISION_SECS, NewRow, User, UserStore, default_maildir,
};
pub use throttle::{FailureVerdict, RecentFailure, Throttle, ThrottleConfig};
pub use zeroize::Zeroizing;
