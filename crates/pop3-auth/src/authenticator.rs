//! Every authentication decision, in one place.
//!
//! **An unknown, disabled or invalid user costs the same as a wrong password for a real one**:
//! the password is verified against a dummy hash made with the current parameters, and the
//! caller gets the same [`Outcome::Rejected`] (its reason is for logs only, never for the
//! client).
//!
//! **Every password check costs at least one argon2id hash at the current parameters**: a
//! stored hash that is not one (a legacy hash imported from Dovecot or `/etc/shadow`, an
//! argon2 hash with older parameters, an unusable one) is checked, then the dummy hash runs
//! too, whether it matched or not (a match is rehashed anyway). So a user whose salted SHA-2
//! takes microseconds answers no sooner than an unknown one. A slow legacy hash (bcrypt,
//! yescrypt, SHA-crypt with many rounds) costs its own time on top, bounded in `crypt.rs`
//! (about 1.5 s at worst); that a user has one is visible in timing until the first login
//! replaces it, which is the price of keeping migrated passwords (issue 16).
//!
//! **The writes of a successful login (the last-login time, the rehash of an old hash) are
//! best effort**: a read-only database, a full disk or a writer holding the lock past the
//! busy timeout does not turn a correct password into a failure; the write is skipped and
//! reported in [`Attempt::skipped_writes`] for the caller to log and count (issue 15 item 9).
//!
//! **SCRAM-SHA-256 (issue 19) reveals no more than a password**: an unknown, disabled or
//! APOP-only user, or one without stored keys, gets a server-first-message with fake keys
//! (salt and keys from a secret and the name, so the same on every attempt; the site's
//! iteration count) and fails at the end as a wrong proof does. **The secret is the site's**,
//! stored in the user database by whoever migrated it (`server_secrets`, see
//! [`Authenticator::load_scram_secret`]), so the fake salt of a name is the same on every
//! node and after a restart, as a real user's is; a per-process one stands in when it cannot
//! be read. A user who only ever logs in with SCRAM keeps the iteration count the keys were
//! derived with, so after a change of `scram_iterations` such a user is told from an unknown
//! one (whose fake keys have the new count) until their next password login. A password login on a
//! site with SCRAM writes the keys when they are missing or have other iterations (best
//! effort, like the rehash), so users gain them at their next password login.

use crate::apop;
use crate::error::{Error, Result};
use crate::memory::HashMemory;
use crate::name::UserName;
use crate::password::{HashParams, MAX_PASSWORD, PasswordHasher, Verification};
use crate::scram::{ClientFinal, ScramKeys, ServerFirst};
use crate::store::{User, UserStore};

mod scram;

pub use self::scram::ScramSecret;

/// What the client presented.
#[derive(Clone, Copy)]
pub enum Credential<'a> {
    /// A cleartext password (USER/PASS, SASL PLAIN or LOGIN).
    Password(&'a [u8]),
    /// An APOP digest of the greeting timestamp.
    Apop {
        /// The timestamp the server sent, brackets included.
        timestamp: &'a str,
        /// The client's digest, hex.
        digest: &'a str,
    },
    /// A SCRAM-SHA-256 client-final-message, parsed against the exchange's server-first
    /// ([`Authenticator::scram_server_first`]; nonce and channel binding already checked).
    Scram {
        /// The server's half of the exchange, with the keys it ran with.
        first: &'a ServerFirst,
        /// The client's final message.
        client_final: &'a ClientFinal,
    },
}

/// The verdict.
#[derive(Debug)]
#[non_exhaustive]
// Made once per login and matched at once: boxing the user would cost an allocation per
// login for nothing.
#[allow(clippy::large_enum_variant)]
pub enum Outcome {
    /// Authenticated as this user.
    Accepted(User),
    /// Not authenticated. The reason is for the log; the client is told nothing more.
    Rejected(RejectReason),
}

/// One attempt's verdict and the best-effort writes that failed on the way.
#[derive(Debug)]
#[non_exhaustive]
pub struct Attempt {
    /// The verdict.
    pub outcome: Outcome,
    /// Writes of a successful login that failed; the login stands. Empty on a rejection.
    pub skipped_writes: Vec<SkippedWrite>,
}

impl Attempt {
    /// A rejection decided before any lookup (nothing was written).
    pub fn rejected(reason: RejectReason) -> Attempt {
        Attempt {
            outcome: Outcome::Rejected(reason),
            skipped_writes: Vec::new(),
        }
    }
}

/// A best-effort write that failed.
#[derive(Debug)]
#[non_exhaustive]
pub struct SkippedWrite {
    /// Which write.
    pub write: BestEffortWrite,
    /// Why it failed.
    pub error: Error,
}

/// The writes a successful login attempts without depending on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BestEffortWrite {
    /// Recording the time of the login (`last_login_at`).
    LastLogin,
    /// Replacing a hash made with older parameters.
    Rehash,
    /// Writing the SCRAM-SHA-256 keys of a verified password.
    ScramKeys,
}

impl BestEffortWrite {
    /// A stable token for logs and the metric's label: `last_login`, `rehash`.
    pub fn as_str(self) -> &'static str {
        match self {
            BestEffortWrite::LastLogin => "last_login",
            BestEffortWrite::Rehash => "rehash",
            BestEffortWrite::ScramKeys => "scram_keys",
        }
    }
}

/// Why an attempt was rejected, for logs (`reason=<as_str>`) and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectReason {
    /// The name is not a valid user name.
    InvalidName,
    /// No such user.
    UnknownUser,
    /// The user is disabled.
    Disabled,
    /// The password or digest is wrong.
    WrongSecret,
    /// The password is longer than 1 KiB.
    PasswordTooLong,
    /// The user may log in only with APOP (`apop_only`, RFC 1939 §7).
    PasswordNotAllowed,
    /// APOP is disabled, or the user has no APOP secret.
    ApopNotAvailable,
    /// The stored hash cannot be used (malformed, absurd parameters): fails closed.
    UnusableHash,
    /// SCRAM-SHA-256 for a user without (usable) stored keys, or whose keys changed during
    /// the exchange.
    ScramNotAvailable,
    /// SCRAM-SHA-256 abandoned by the client after the server-first-message (a cancel, a
    /// malformed client-final-message, a disconnect): it got the salt and iteration count
    /// without proving anything, so it counts as a failed attempt (issue 19 D3).
    ScramAbandoned,
}

impl RejectReason {
    /// A stable token for logs, e.g. for fail2ban: `unknown-user`, `wrong-secret`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::InvalidName => "invalid-name",
            RejectReason::UnknownUser => "unknown-user",
            RejectReason::Disabled => "disabled",
            RejectReason::WrongSecret => "wrong-secret",
            RejectReason::PasswordTooLong => "password-too-long",
            RejectReason::PasswordNotAllowed => "password-not-allowed",
            RejectReason::ApopNotAvailable => "apop-not-available",
            RejectReason::UnusableHash => "unusable-hash",
            RejectReason::ScramNotAvailable => "scram-not-available",
            RejectReason::ScramAbandoned => "abandoned",
        }
    }
}

/// Verifies credentials against the user database.
pub struct Authenticator {
    hasher: PasswordHasher,
    dummy_hash: String,
    apop_enabled: bool,
    /// The per-process key of the fake SCRAM salts and keys, until (or unless) the site's is
    /// read.
    scram_secret: [u8; 32],
    /// The site's key of the fake SCRAM salts, once read: `Some(None)` when the database has
    /// none (an older schema), which is not asked again.
    site_scram_secret: std::sync::OnceLock<Option<[u8; 32]>>,
}

/// The stand-in APOP secret for users without one, so that the digest is always computed.
const DUMMY_APOP_SECRET: &str = "pop3d dummy secret, never matches";

impl Authenticator {
    /// An authenticator with these argon2id parameters (validated). Computes the dummy hash
    /// once, which costs one hash.
    pub fn new(params: HashParams, apop_enabled: bool) -> Result<Authenticator> {
        Authenticator::new_with(params, apop_enabled, &mut HashMemory::new())
    }

    /// [`Authenticator::new`], computing the dummy hash in `memory` (a server's first
    /// pooled memory, so that no hash of it runs outside the pool).
    pub fn new_with(
        params: HashParams,
        apop_enabled: bool,
        memory: &mut HashMemory,
    ) -> Result<Authenticator> {
        let hasher = PasswordHasher::new(params)?;
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(|e| crate::Error::Random(e.to_string()))?;
        let dummy_password: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let dummy_hash = hasher.hash_with(dummy_password.as_bytes(), memory)?;
        let mut scram_secret = [0u8; 32];
        getrandom::fill(&mut scram_secret).map_err(|e| crate::Error::Random(e.to_string()))?;
        Ok(Authenticator {
            hasher,
            dummy_hash,
            apop_enabled,
            scram_secret,
            site_scram_secret: std::sync::OnceLock::new(),
        })
    }

    /// The same authenticator with SCRAM-SHA-256 keys derived at each password login with
    /// `iterations` (`None`: SCRAM is off for the site; see [`PasswordHasher::with_scram`]).
    pub fn with_scram(mut self, iterations: Option<u32>) -> Result<Authenticator> {
        self.hasher = self.hasher.with_scram(iterations)?;
        Ok(self)
    }

    /// The hasher with the current parameters (for the admin tool).
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// Decides one attempt, hashing in memory allocated for this call (a server uses
    /// [`Authenticator::authenticate_with`]).
    pub fn authenticate(
        &self,
        db: &dyn UserStore,
        name: &str,
        credential: Credential<'_>,
    ) -> Result<Outcome> {
        self.authenticate_with(db, name, credential, &mut HashMemory::new())
    }

    /// Decides one attempt, dropping the report of skipped best-effort writes (see
    /// [`Authenticator::attempt_with`]).
    pub fn authenticate_with(
        &self,
        db: &dyn UserStore,
        name: &str,
        credential: Credential<'_>,
        memory: &mut HashMemory,
    ) -> Result<Outcome> {
        Ok(self.attempt_with(db, name, credential, memory)?.outcome)
    }

    /// Decides one attempt. Reads the user's row now (no cache); on success records the login
    /// and, if the stored hash used older parameters, replaces it; **both writes are best
    /// effort**: one that fails is listed in [`Attempt::skipped_writes`] and the login still
    /// succeeds. **Every hash of the attempt (the verification, the dummy one, the rehash)
    /// runs in `memory`.** An error means the row could not be read.
    pub fn attempt_with(
        &self,
        db: &dyn UserStore,
        name: &str,
        credential: Credential<'_>,
        memory: &mut HashMemory,
    ) -> Result<Attempt> {
        let mut skipped_writes = Vec::new();
        let outcome = self.decide(db, name, None, credential, memory, &mut skipped_writes)?;
        Ok(Attempt {
            outcome,
            skipped_writes,
        })
    }

    /// [`Authenticator::attempt_with`] with the user's row already read by
    /// [`Authenticator::look_up`], so that **the read, which may wait on the database, runs
    /// before the caller takes the memory (and the right to hash) that comes with `memory`**
    /// (the server's hash permit). Only the best-effort writes of a success still use `db`.
    pub fn attempt_looked_up(
        &self,
        db: &dyn UserStore,
        name: &str,
        row: Option<User>,
        credential: Credential<'_>,
        memory: &mut HashMemory,
    ) -> Result<Attempt> {
        let mut skipped_writes = Vec::new();
        let outcome = self.decide(db, name, Some(row), credential, memory, &mut skipped_writes)?;
        Ok(Attempt {
            outcome,
            skipped_writes,
        })
    }

    /// The row [`Authenticator::attempt_looked_up`] needs: `name`'s, or none for a name that
    /// is not valid (no query then).
    pub fn look_up(&self, db: &dyn UserStore, name: &str) -> Result<Option<User>> {
        match UserName::parse(name) {
            Ok(name) => db.get(&name),
            Err(_) => Ok(None),
        }
    }

    fn decide(
        &self,
        db: &dyn UserStore,
        name: &str,
        row: Option<Option<User>>,
        credential: Credential<'_>,
        memory: &mut HashMemory,
        skipped: &mut Vec<SkippedWrite>,
    ) -> Result<Outcome> {
        if let Credential::Password(password) = credential
            && password.len() > MAX_PASSWORD
        {
            return Ok(Outcome::Rejected(RejectReason::PasswordTooLong));
        }
        let Ok(name) = UserName::parse(name) else {
            self.burn(credential, memory);
            return Ok(Outcome::Rejected(RejectReason::InvalidName));
        };
        let row = match row {
            Some(row) => row,
            None => db.get(&name)?,
        };
        let user = match row {
            Some(user) if user.enabled => user,
            Some(_) => {
                self.burn(credential, memory);
                return Ok(Outcome::Rejected(RejectReason::Disabled));
            }
            None => {
                self.burn(credential, memory);
                return Ok(Outcome::Rejected(RejectReason::UnknownUser));
            }
        };
        let verdict = match credential {
            Credential::Password(password) => {
                // RFC 1939 §7, chosen per user: the refusal still costs a hash.
                if user.apop_only && user.apop_secret.is_some() {
                    self.burn(credential, memory);
                    return Ok(Outcome::Rejected(RejectReason::PasswordNotAllowed));
                }
                let checked = self
                    .hasher
                    .check_with(password, &user.password_hash, memory);
                // The timing rule: a check that was not an argon2id hash at the current cost
                // (a legacy or older hash, an unusable one) also runs the dummy, match or not.
                if !checked.was_current {
                    self.burn(credential, memory);
                }
                match checked.verification {
                    Verification::Match { needs_rehash } => {
                        self.after_password_match(
                            db,
                            &user,
                            password,
                            needs_rehash,
                            memory,
                            skipped,
                        );
                        Ok(())
                    }
                    Verification::Mismatch => Err(RejectReason::WrongSecret),
                    Verification::Unusable => Err(RejectReason::UnusableHash),
                }
            }
            Credential::Scram {
                first,
                client_final,
            } => {
                // The keys now stored must be those the exchange ran with: a password changed
                // (or keys cleared) since the server-first-message ends it.
                let stored = user.scram_sha256.as_deref().and_then(ScramKeys::parse);
                let verified = first.verify(client_final);
                if user.apop_only && user.apop_secret.is_some() {
                    Err(RejectReason::PasswordNotAllowed)
                } else if stored.as_ref() != Some(first.keys()) {
                    Err(RejectReason::ScramNotAvailable)
                } else if verified {
                    Ok(())
                } else {
                    Err(RejectReason::WrongSecret)
                }
            }
            Credential::Apop { timestamp, digest } => {
                match (&user.apop_secret, self.apop_enabled) {
                    (Some(secret), true) if apop::verify(timestamp, secret, digest) => Ok(()),
                    (Some(_), true) => Err(RejectReason::WrongSecret),
                    _ => {
                        self.burn(credential, memory);
                        Err(RejectReason::ApopNotAvailable)
                    }
                }
            }
        };
        match verdict {
            Ok(()) => {
                if let Err(error) = db.best_effort(&mut |db| db.record_login_of(&user).map(drop)) {
                    skipped.push(SkippedWrite {
                        write: BestEffortWrite::LastLogin,
                        error,
                    });
                }
                Ok(Outcome::Accepted(user))
            }
            Err(reason) => Ok(Outcome::Rejected(reason)),
        }
    }

    /// Spends the time a real check would, and throws the answer away.
    /// The dummy hash has the current parameters, so it runs in `memory`'s kept blocks like
    /// a real user's current hash.
    fn burn(&self, credential: Credential<'_>, memory: &mut HashMemory) {
        match credential {
            Credential::Password(password) => {
                let _ = self.hasher.verify_with(password, &self.dummy_hash, memory);
            }
            Credential::Apop { timestamp, digest } => {
                let _ = apop::verify(timestamp, DUMMY_APOP_SECRET, digest);
            }
            Credential::Scram {
                first,
                client_final,
            } => {
                let _ = first.verify(client_final);
            }
        }
    }
}
