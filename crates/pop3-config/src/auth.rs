//! `[auth]`: the cleartext policy, SASL, APOP, SCRAM-SHA-256, argon2id and the login
//! throttle.

use std::time::Duration;

use pop3_auth::scram::{SCRAM_MAX_ITERATIONS, SCRAM_MIN_ITERATIONS};
use pop3_auth::{HashParams, ThrottleConfig};
use pop3_proto::{CleartextPolicy, sasl::Mechanism};
use serde::Deserialize;
use toml::Spanned;

use crate::error::{Invalid, invalid};

/// `[auth]` as written; every key has a default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawAuth {
    cleartext: Spanned<String>,
    sasl: Spanned<Vec<String>>,
    apop: bool,
    scram_sha256: bool,
    scram_iterations: Spanned<u32>,
    argon2_m_kib: u32,
    argon2_t: u32,
    argon2_p: u32,
    hash_concurrency: usize,
    failure_delay_ms: u64,
    penalty_start_ms: u64,
    penalty_max_secs: u64,
    spraying_threshold: u32,
    trust_loopback: bool,
}

impl Default for RawAuth {
    fn default() -> RawAuth {
        let params = HashParams::default();
        RawAuth {
            cleartext: Spanned::new(0..0, "loopback".into()),
            sasl: Spanned::new(0..0, vec!["PLAIN".into(), "LOGIN".into()]),
            apop: false,
            scram_sha256: false,
            scram_iterations: Spanned::new(0..0, SCRAM_MIN_ITERATIONS),
            argon2_m_kib: params.m_kib,
            argon2_t: params.t,
            argon2_p: params.p,
            hash_concurrency: 0,
            failure_delay_ms: 2000,
            penalty_start_ms: 1000,
            penalty_max_secs: 15,
            spraying_threshold: 20,
            trust_loopback: true,
        }
    }
}

/// `[auth]`, validated.
pub(crate) struct Auth {
    pub(crate) cleartext: CleartextPolicy,
    pub(crate) sasl_mechanisms: Vec<Mechanism>,
    pub(crate) apop: bool,
    /// SCRAM-SHA-256's PBKDF2 iterations when the site enables it.
    pub(crate) scram_iterations: Option<u32>,
    pub(crate) argon2: HashParams,
    pub(crate) hash_concurrency: usize,
    pub(crate) throttle: ThrottleConfig,
    pub(crate) trust_loopback: bool,
}

impl RawAuth {
    /// The whole section, as the server needs it.
    pub(crate) fn validate(self) -> Result<Auth, Invalid> {
        let cleartext = match self.cleartext.get_ref().as_str() {
            "never" => CleartextPolicy::Never,
            "loopback" => CleartextPolicy::Loopback,
            "always" => CleartextPolicy::Always,
            _ => {
                return Err(invalid(
                    "auth.cleartext",
                    &self.cleartext,
                    "must be never, loopback or always",
                ));
            }
        };
        let scram_iterations = self.scram()?;
        let mut sasl_mechanisms = Vec::new();
        for name in self.sasl.get_ref() {
            let mechanism = Mechanism::from_name(name.as_bytes())
                .filter(|m| *m != Mechanism::ScramSha256 || scram_iterations.is_some())
                .ok_or_else(|| {
                    invalid(
                        "auth.sasl",
                        &self.sasl,
                        "mechanisms are PLAIN and LOGIN (SCRAM-SHA-256 with scram_sha256 = true)",
                    )
                })?;
            sasl_mechanisms.push(mechanism);
        }
        // `scram_sha256 = true` offers it, listed in `sasl` or not.
        if scram_iterations.is_some() && !sasl_mechanisms.contains(&Mechanism::ScramSha256) {
            sasl_mechanisms.push(Mechanism::ScramSha256);
        }
        let argon2 = self.argon2()?;
        let hash_concurrency = match self.hash_concurrency {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        Ok(Auth {
            cleartext,
            sasl_mechanisms,
            apop: self.apop,
            scram_iterations,
            argon2,
            hash_concurrency,
            throttle: ThrottleConfig {
                failure_delay: Duration::from_millis(self.failure_delay_ms),
                penalty_start: Duration::from_millis(self.penalty_start_ms),
                penalty_max: Duration::from_secs(self.penalty_max_secs),
                user_threshold: self.spraying_threshold,
                ..ThrottleConfig::default()
            },
            trust_loopback: self.trust_loopback,
        })
    }

    /// SCRAM-SHA-256's iterations if `scram_sha256` is on, `None` if off; the count is
    /// checked either way (RFC 7677 §4: at least 4096). The admin tool needs it too: a new
    /// password gets keys on a site with SCRAM, and clears them on one without.
    pub(crate) fn scram(&self) -> Result<Option<u32>, Invalid> {
        let iterations = *self.scram_iterations.get_ref();
        if iterations < SCRAM_MIN_ITERATIONS {
            return Err(invalid(
                "auth.scram_iterations",
                &self.scram_iterations,
                "must be at least 4096 (RFC 7677 section 4)",
            ));
        }
        if iterations > SCRAM_MAX_ITERATIONS {
            return Err(invalid(
                "auth.scram_iterations",
                &self.scram_iterations,
                &format!("must be at most {SCRAM_MAX_ITERATIONS}"),
            ));
        }
        Ok(self.scram_sha256.then_some(iterations))
    }

    /// The argon2id parameters new hashes are made with, within `pop3-auth`'s bounds; the one
    /// part of the section the admin tool needs.
    pub(crate) fn argon2(&self) -> Result<HashParams, Invalid> {
        let argon2 = HashParams {
            m_kib: self.argon2_m_kib,
            t: self.argon2_t,
            p: self.argon2_p,
        };
        argon2
            .validate()
            .map_err(|e| (format!("`auth.argon2_*`: {e}"), None))?;
        Ok(argon2)
    }
}
