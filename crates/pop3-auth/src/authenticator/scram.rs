//! The SCRAM-SHA-256 parts of [`Authenticator`]: the server-first-message with the user's
//! keys or fake ones, and the keys written after a verified password.

use super::{Authenticator, BestEffortWrite, SkippedWrite};
use crate::error::Result;
use crate::memory::HashMemory;
use crate::schema::SCRAM_FAKE_KEY;
use crate::scram::{ClientFirst, SCRAM_MIN_ITERATIONS, ScramKeys, ServerFirst};
use crate::store::{Field, User, UserStore};

/// Where the key of the fake SCRAM keys comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScramSecret {
    /// The site's, from the user database: the same on every node and across restarts.
    Site,
    /// This process's own: the database has none (a schema older than version 6, a row
    /// removed or damaged). Not asked again; fake salts change at a restart.
    PerProcess,
}

impl Authenticator {
    /// Reads the site's key of the fake SCRAM keys from `db` **once** (cached for the life of
    /// the authenticator, found or not). An error (the database down) is returned and not
    /// cached: the per-process key is used meanwhile and the next call tries again.
    pub fn load_scram_secret(&self, db: &dyn UserStore) -> Result<ScramSecret> {
        if let Some(found) = self.site_scram_secret.get() {
            return Ok(source(found));
        }
        let secret = db
            .server_secret(SCRAM_FAKE_KEY)?
            .and_then(|hex| parse_secret(&hex));
        Ok(source(self.site_scram_secret.get_or_init(|| secret)))
    }

    /// The server-first-message of a SCRAM-SHA-256 exchange for `client_first`, with the
    /// row [`Authenticator::look_up`] read for its user: **the user's keys only if the user
    /// exists, is enabled, may use more than APOP and has usable keys; fake ones otherwise**,
    /// which look alike and never verify. `server_nonce` comes from
    /// [`crate::scram::server_nonce`].
    pub fn scram_server_first(
        &self,
        row: Option<User>,
        client_first: ClientFirst,
        server_nonce: &str,
    ) -> ServerFirst {
        let real = row
            .filter(|user| user.enabled && !(user.apop_only && user.apop_secret.is_some()))
            .and_then(|user| user.scram_sha256.as_deref().and_then(ScramKeys::parse));
        let keys = real.unwrap_or_else(|| {
            let iterations = self
                .hasher
                .scram_iterations()
                .unwrap_or(SCRAM_MIN_ITERATIONS);
            let name = client_first.user().to_ascii_lowercase();
            let secret = self
                .site_scram_secret
                .get()
                .copied()
                .flatten()
                .unwrap_or(self.scram_secret);
            ScramKeys::fake(&secret, &name, iterations)
        });
        ServerFirst::new(client_first, keys, server_nonce)
    }

    /// The writes of a verified password: the rehash of an old hash and, on a site with
    /// SCRAM, keys that are missing or have other iterations. **A rehash writes the keys in
    /// the same UPDATE** (a new hash alone would clear them); both are best effort.
    pub(super) fn after_password_match(
        &self,
        db: &dyn UserStore,
        user: &User,
        password: &[u8],
        needs_rehash: bool,
        memory: &mut HashMemory,
        skipped: &mut Vec<SkippedWrite>,
    ) {
        let current = user.scram_sha256.as_deref().and_then(ScramKeys::parse);
        let scram_due = self
            .hasher
            .scram_iterations()
            .is_some_and(|i| current.as_ref().is_none_or(|keys| keys.iterations() != i));
        let derived = if needs_rehash || scram_due {
            self.hasher.scram_keys(password)
        } else {
            Ok(None)
        };
        let keys = match derived {
            Ok(keys) => keys,
            Err(error) => {
                skipped.push(SkippedWrite {
                    write: BestEffortWrite::ScramKeys,
                    error,
                });
                None
            }
        };
        if needs_rehash {
            // Keys still valid for this password are kept when SCRAM is off for the site.
            let scram = keys.or_else(|| current.map(|k| k.to_string()));
            let written = self.hasher.hash_with(password, memory).and_then(|hash| {
                db.best_effort(&mut |db| {
                    db.update(
                        &user.name,
                        Field::Password {
                            hash: &hash,
                            scram: scram.as_deref(),
                        },
                    )
                })
            });
            if let Err(error) = written {
                skipped.push(SkippedWrite {
                    write: BestEffortWrite::Rehash,
                    error,
                });
            }
        } else if let Some(keys) = keys
            && let Err(error) =
                db.best_effort(&mut |db| db.update(&user.name, Field::ScramSha256(Some(&keys))))
        {
            skipped.push(SkippedWrite {
                write: BestEffortWrite::ScramKeys,
                error,
            });
        }
    }
}

fn source(found: &Option<[u8; 32]>) -> ScramSecret {
    match found {
        Some(_) => ScramSecret::Site,
        None => ScramSecret::PerProcess,
    }
}

/// A stored secret: 64 hexadecimal digits (see `schema::new_secret`); `None` otherwise.
fn parse_secret(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut secret = [0u8; 32];
    for (byte, pair) in secret.iter_mut().zip(hex.as_bytes().chunks(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(secret)
}
