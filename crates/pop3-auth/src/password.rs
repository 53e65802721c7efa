//! Password hashes: argon2id PHC strings, which this server writes, and the hashes of other
//! systems that migrated users keep until their first login (issue 16).
//!
//! **A stored hash is checked before it is used**: argon2 only at version 0x13, with memory
//! at most 1 GiB, at most 64 passes and at most 16 lanes; the legacy schemes within their own
//! bounds (`crypt.rs`). So a hostile or corrupt row can neither panic nor make the server
//! allocate gigabytes or spin for minutes. Anything else fails closed.
//!
//! What is verified, and how each is recognised (`scheme.rs`): argon2id (bare, as we write it,
//! or `{ARGON2ID}`), `{ARGON2I}`, bcrypt, SHA-crypt, yescrypt and MD5-crypt (`crypt.rs`, bare
//! as in `/etc/shadow` or under Dovecot's `{*-CRYPT}` prefixes), Dovecot's `{SSHA256}` and
//! `{SSHA512}` (`ssha.rs`). **A match on anything but argon2id at the current parameters asks
//! for a rehash**, which the authenticator does at once. Cleartext (`{PLAIN}`) and locked
//! entries are recognised for import (`import.rs`) and never verify.
//!
//! Every argon2 hash runs in a [`HashMemory`]: the caller's, reused (`*_with`), or a temporary
//! one. The PHC string is built here from argon2's raw output, exactly as argon2's own
//! `PasswordHasher` builds it (a known-answer test compares the two).

mod crypt;
mod import;
mod md5_crypt;
mod scheme;
mod ssha;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use subtle::ConstantTimeEq as _;

use crate::error::{Error, Result};
use crate::memory::{EngineError, HashMemory, Job};
use crate::scram::{SCRAM_MAX_ITERATIONS, SCRAM_MIN_ITERATIONS, ScramKeys};

pub use crypt::{MAX_BCRYPT_COST, MAX_SHA_CRYPT_ROUNDS, MAX_YESCRYPT_WORK};
pub use import::{ImportedPassword, LOCKED_HASH, classify_imported};
use scheme::Form;

/// Passwords longer than this are rejected before hashing.
pub const MAX_PASSWORD: usize = 1024;
/// The most memory a stored hash may ask for, in KiB (1 GiB).
const MAX_M_KIB: u32 = 1024 * 1024;
const MAX_T: u32 = 64;
const MAX_P: u32 = 16;

/// argon2id cost parameters. The default is OWASP's minimum: 19 MiB, 2 passes, 1 lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Default for HashParams {
    fn default() -> HashParams {
        HashParams {
            m_kib: 19_456,
            t: 2,
            p: 1,
        }
    }
}

impl HashParams {
    /// Checks the parameters are within what this server accepts (and argon2 allows).
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_P).contains(&self.p) {
            return Err(Error::InvalidParams(format!("p must be 1..={MAX_P}")));
        }
        if !(1..=MAX_T).contains(&self.t) {
            return Err(Error::InvalidParams(format!("t must be 1..={MAX_T}")));
        }
        if self.m_kib < 8 * self.p || self.m_kib > MAX_M_KIB {
            return Err(Error::InvalidParams(format!(
                "m must be between 8*p and {MAX_M_KIB} KiB"
            )));
        }
        Ok(())
    }

    fn argon2(&self) -> Result<Argon2<'static>> {
        self.validate()?;
        let params = Params::new(self.m_kib, self.t, self.p, None)
            .map_err(|e| Error::InvalidParams(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// The result of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password is right; `needs_rehash` when the hash used other parameters.
    Match {
        /// The stored hash should be replaced by one with the current parameters.
        needs_rehash: bool,
    },
    /// The password is wrong.
    Mismatch,
    /// The stored hash cannot be used (malformed, another algorithm, absurd parameters).
    Unusable,
}

/// Hashes and verifies with fixed current parameters; with [`PasswordHasher::with_scram`],
/// also derives the SCRAM-SHA-256 keys stored beside each new hash.
#[derive(Clone)]
pub struct PasswordHasher {
    params: HashParams,
    argon2: Argon2<'static>,
    /// The PBKDF2 iterations of SCRAM keys, when the site enables SCRAM-SHA-256.
    scram_iterations: Option<u32>,
}

impl PasswordHasher {
    /// A hasher for these parameters (validated).
    pub fn new(params: HashParams) -> Result<PasswordHasher> {
        Ok(PasswordHasher {
            argon2: params.argon2()?,
            params,
            scram_iterations: None,
        })
    }

    /// The same hasher, also deriving SCRAM-SHA-256 keys with `iterations` (4096 to
    /// [`crate::scram::SCRAM_MAX_ITERATIONS`]) wherever a password is set or verified; `None`
    /// for a site without SCRAM, where a new password clears the keys instead.
    pub fn with_scram(mut self, iterations: Option<u32>) -> Result<PasswordHasher> {
        if let Some(i) = iterations
            && !(SCRAM_MIN_ITERATIONS..=SCRAM_MAX_ITERATIONS).contains(&i)
        {
            return Err(Error::InvalidParams(format!(
                "SCRAM iterations must be {SCRAM_MIN_ITERATIONS} to {SCRAM_MAX_ITERATIONS}"
            )));
        }
        self.scram_iterations = iterations;
        Ok(self)
    }

    /// The current parameters.
    pub fn params(&self) -> HashParams {
        self.params
    }

    /// The SCRAM-SHA-256 iterations, when the site enables it.
    pub fn scram_iterations(&self) -> Option<u32> {
        self.scram_iterations
    }

    /// The SCRAM-SHA-256 keys of `password` in their stored form, with a fresh salt, when the
    /// site enables SCRAM; `None` otherwise.
    pub fn scram_keys(&self, password: &[u8]) -> Result<Option<String>> {
        self.scram_iterations
            .map(|i| ScramKeys::generate(password, i).map(|keys| keys.to_string()))
            .transpose()
    }

    /// Hashes a password with a fresh 16-byte random salt into a PHC string, in memory
    /// allocated for this call (the admin tool; a server uses [`PasswordHasher::hash_with`]).
    pub fn hash(&self, password: &[u8]) -> Result<String> {
        self.hash_with(password, &mut HashMemory::new())
    }

    /// [`PasswordHasher::hash`] in `memory`, which is kept for the next hash.
    pub fn hash_with(&self, password: &[u8], memory: &mut HashMemory) -> Result<String> {
        check_password(password)?;
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| Error::Random(e.to_string()))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Hash(e.to_string()))?;
        self.hash_with_salt(password, &salt, memory)
    }

    /// Checks `password` against a stored PHC string, in memory allocated for this call (a
    /// server uses [`PasswordHasher::verify_with`]).
    pub fn verify(&self, password: &[u8], phc: &str) -> Verification {
        self.verify_with(password, phc, &mut HashMemory::new())
    }

    /// Checks `password` against a stored hash in `memory` (argon2; the legacy schemes use
    /// their own), in constant time for the comparison, after bounding the stored
    /// parameters. Never panics, whatever `stored` holds.
    pub fn verify_with(
        &self,
        password: &[u8],
        stored: &str,
        memory: &mut HashMemory,
    ) -> Verification {
        self.check_with(password, stored, memory).verification
    }

    /// [`PasswordHasher::verify_with`], also telling whether the check was an argon2id hash
    /// at the current parameters: the authenticator's timing rule pads every other check.
    pub(crate) fn check_with(
        &self,
        password: &[u8],
        stored: &str,
        memory: &mut HashMemory,
    ) -> Checked {
        let other = |verification| Checked {
            verification,
            was_current: false,
        };
        if password.len() > MAX_PASSWORD {
            return other(Verification::Mismatch);
        }
        match scheme::recognise(stored) {
            Form::Argon2 { scheme, phc } => match StoredArgon2::parse(scheme, phc) {
                Ok(stored) => self.verify_argon2(password, stored, memory),
                Err(_) => other(Verification::Unusable),
            },
            Form::Crypt(crypt) => other(crypt.verify(password)),
            Form::Ssha(ssha) => other(ssha.verify(password)),
            Form::Plain(_)
            | Form::Locked
            | Form::Empty
            | Form::Unknown(_)
            | Form::Invalid { .. } => other(Verification::Unusable),
        }
    }

    fn verify_argon2(
        &self,
        password: &[u8],
        stored: StoredArgon2<'_>,
        memory: &mut HashMemory,
    ) -> Checked {
        let mut salt_buf = [0u8; 64];
        let Ok(salt) = stored.salt.decode_b64(&mut salt_buf) else {
            return Checked {
                verification: Verification::Unusable,
                was_current: false,
            };
        };
        // Current: exactly what `hash_with` makes (argon2id, these parameters, a 16-byte
        // salt, a 32-byte output, no associated data), so it costs what the dummy hash costs.
        // Anything else is rehashed at this login and padded until then (the timing rule).
        let current = stored.scheme == Scheme::Argon2id
            && stored.params == self.params
            && salt.len() == 16
            && stored.expected.len() == Params::DEFAULT_OUTPUT_LEN
            && stored.argon2_params.data().is_empty();
        let algorithm = match stored.scheme {
            Scheme::Argon2i => Algorithm::Argon2i,
            _ => Algorithm::Argon2id,
        };
        let verifier = Argon2::new(algorithm, Version::V0x13, stored.argon2_params);
        // A parsed `Output` holds at most `Output::MAX_LENGTH` bytes: the range is in bounds.
        let mut actual = [0u8; Output::MAX_LENGTH];
        let actual = &mut actual[..stored.expected.len()];
        let verification = if self
            .compute((algorithm, &verifier), password, salt, actual, memory)
            .is_err()
        {
            Verification::Unusable
        } else if bool::from(actual.ct_eq(stored.expected.as_bytes())) {
            Verification::Match {
                needs_rehash: !current,
            }
        } else {
            Verification::Mismatch
        };
        Checked {
            verification,
            was_current: current && verification != Verification::Unusable,
        }
    }

    /// The PHC string of `password` with this salt, computed in `memory`.
    pub(crate) fn hash_with_salt(
        &self,
        password: &[u8],
        salt: &SaltString,
        memory: &mut HashMemory,
    ) -> Result<String> {
        let hash_error = |e: &dyn std::fmt::Display| Error::Hash(e.to_string());
        let mut salt_buf = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_buf).map_err(|e| hash_error(&e))?;
        let output_len = self
            .argon2
            .params()
            .output_len()
            .unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let mut raw = [0u8; Output::MAX_LENGTH];
        let raw = raw
            .get_mut(..output_len)
            .ok_or_else(|| Error::Hash("output too long".into()))?;
        self.compute(
            (Algorithm::Argon2id, &self.argon2),
            password,
            salt_bytes,
            raw,
            memory,
        )
        .map_err(|e| hash_error(&e))?;
        let output = Output::new(raw).map_err(|e| hash_error(&e))?;
        let hash = PasswordHash {
            algorithm: argon2::ARGON2ID_IDENT,
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(self.argon2.params()).map_err(|e| hash_error(&e))?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(hash.to_string())
    }

    /// Runs the argon2 `argon2` describes into `out`, by the engine of `memory.rs`, in
    /// `memory`'s kept arena when it needs no more memory than the current parameters.
    fn compute(
        &self,
        (algorithm, argon2): (Algorithm, &Argon2<'_>),
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
        memory: &mut HashMemory,
    ) -> std::result::Result<(), EngineError> {
        let params = argon2.params();
        let job = Job {
            algorithm,
            m_kib: params.m_cost(),
            t: params.t_cost(),
            p: params.p_cost(),
            data: params.data(),
        };
        memory.compute(self.params.m_kib, &job, password, salt, out)
    }
}

/// The name of the scheme of a stored hash, if it is one [`PasswordHasher::verify_with`] can
/// check (well formed and within its bounds): `ARGON2ID`, `ARGON2I`, `BLF-CRYPT`,
/// `SHA512-CRYPT`, `SHA256-CRYPT`, `YESCRYPT`, `MD5-CRYPT`, `SSHA512` or `SSHA256`. `None` for
/// anything else, including [`LOCKED_HASH`] and cleartext. Computes no hash.
pub fn hash_scheme(stored: &str) -> Option<&'static str> {
    usable_scheme(stored).ok()
}

/// [`hash_scheme`], or why not.
pub(crate) fn usable_scheme(stored: &str) -> std::result::Result<&'static str, NotUsable> {
    match scheme::recognise(stored) {
        Form::Argon2 { scheme, phc } => StoredArgon2::parse(scheme, phc)
            .map(|_| scheme.name())
            .map_err(|reason| NotUsable::Invalid {
                scheme: scheme.name(),
                reason,
            }),
        Form::Crypt(crypt) => Ok(crypt.scheme().name()),
        Form::Ssha(ssha) => Ok(ssha.scheme().name()),
        Form::Invalid { scheme, reason } => Err(NotUsable::Invalid { scheme, reason }),
        Form::Plain(_) | Form::Locked | Form::Empty | Form::Unknown(_) => Err(NotUsable::NotAHash),
    }
}

/// Why a stored string is not a hash verification can use.
pub(crate) enum NotUsable {
    /// Not a hash of a scheme we verify (cleartext, locked, empty, unknown).
    NotAHash,
    /// One of ours, malformed or over its bounds.
    Invalid {
        scheme: &'static str,
        reason: &'static str,
    },
}

/// A verification and what it cost.
pub(crate) struct Checked {
    /// The verdict.
    pub(crate) verification: Verification,
    /// Whether an argon2id hash at the current parameters ran (the stored hash is one).
    pub(crate) was_current: bool,
}

/// An argon2 PHC string, parsed and bounded, not yet computed.
struct StoredArgon2<'a> {
    scheme: Scheme,
    params: HashParams,
    argon2_params: Params,
    salt: argon2::password_hash::Salt<'a>,
    expected: Output,
}

impl<'a> StoredArgon2<'a> {
    /// Parses `phc` as `scheme` (argon2id or argon2i), version 0x13 only, and bounds its
    /// parameters like the configuration's.
    fn parse(scheme: Scheme, phc: &'a str) -> std::result::Result<StoredArgon2<'a>, &'static str> {
        let hash = PasswordHash::new(phc).map_err(|_| "not a PHC string")?;
        let ident = match scheme {
            Scheme::Argon2i => argon2::ARGON2I_IDENT,
            _ => argon2::ARGON2ID_IDENT,
        };
        if hash.algorithm != ident || hash.version != Some(0x13) {
            return Err("another algorithm or version");
        }
        let argon2_params = Params::try_from(&hash).map_err(|_| "invalid parameters")?;
        let params = HashParams {
            m_kib: argon2_params.m_cost(),
            t: argon2_params.t_cost(),
            p: argon2_params.p_cost(),
        };
        let (Some(expected), Some(salt)) = (hash.hash, hash.salt) else {
            return Err("no salt or no hash");
        };
        if params.validate().is_err() {
            return Err("parameters over the bounds");
        }
        if expected.len() < 16 {
            return Err("hash shorter than 16 bytes");
        }
        Ok(StoredArgon2 {
            scheme,
            params,
            argon2_params,
            salt,
            expected,
        })
    }
}

/// The schemes verified, by their Dovecot names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Argon2id,
    Argon2i,
    BlfCrypt,
    Sha512Crypt,
    Sha256Crypt,
    Yescrypt,
    Md5Crypt,
    Ssha512,
    Ssha256,
}

impl Scheme {
    /// Dovecot's name (`YESCRYPT`, which Dovecot has no name for, is ours).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scheme::Argon2id => "ARGON2ID",
            Scheme::Argon2i => "ARGON2I",
            Scheme::BlfCrypt => "BLF-CRYPT",
            Scheme::Sha512Crypt => "SHA512-CRYPT",
            Scheme::Sha256Crypt => "SHA256-CRYPT",
            Scheme::Yescrypt => "YESCRYPT",
            Scheme::Md5Crypt => "MD5-CRYPT",
            Scheme::Ssha512 => "SSHA512",
            Scheme::Ssha256 => "SSHA256",
        }
    }
}

/// An encoding suffix of a Dovecot scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Base64,
    Hex,
}

/// The rules for a password an administrator sets: 1 to 1024 bytes, no NUL, CR or LF (none
/// of which a POP3 client could send).
pub(crate) fn check_password(password: &[u8]) -> Result<()> {
    if password.is_empty() {
        return Err(Error::InvalidPassword("empty"));
    }
    if password.len() > MAX_PASSWORD {
        return Err(Error::InvalidPassword("longer than 1024 bytes"));
    }
    if password.iter().any(|b| matches!(b, 0 | b'\r' | b'\n')) {
        return Err(Error::InvalidPassword("contains NUL, CR or LF"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
