//! The SCRAM-SHA-256 parts of [`Authenticator`]: the server-first-message with the user's
//! keys or fake ones, and the keys written after a verified password.

use super::{Authenticator, BestEffortWrite, SkippedWrite};
use crate::memory::HashMemory;
use crate::scram::{ClientFirst, SCRAM_MIN_ITERATIONS, ScramKeys, ServerFirst};
use crate::store::{Field, User, UserStore};

impl Authenticator {
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
            ScramKeys::fake(&self.scram_secret, &name, iterations)
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
