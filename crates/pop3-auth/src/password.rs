//! argon2id password hashes as PHC strings.
//!
//! **A stored hash is checked before it is used**: only argon2id, version 0x13, with memory
//! at most 1 GiB, at most 64 passes and at most 16 lanes, so a hostile or corrupt row can
//! neither panic nor make the server allocate gigabytes. Anything else fails closed.
//!
//! Every hash runs in a [`HashMemory`]: the caller's, reused (`*_with`), or a temporary one.
//! The PHC string is built here from argon2's raw output, exactly as argon2's own
//! `PasswordHasher` builds it (a known-answer test compares the two).

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use subtle::ConstantTimeEq as _;

use crate::error::{Error, Result};
use crate::memory::HashMemory;

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

/// Hashes and verifies with fixed current parameters.
#[derive(Clone)]
pub struct PasswordHasher {
    params: HashParams,
    argon2: Argon2<'static>,
}

impl PasswordHasher {
    /// A hasher for these parameters (validated).
    pub fn new(params: HashParams) -> Result<PasswordHasher> {
        Ok(PasswordHasher {
            argon2: params.argon2()?,
            params,
        })
    }

    /// The current parameters.
    pub fn params(&self) -> HashParams {
        self.params
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

    /// Checks `password` against a stored PHC string in `memory`, in constant time for the
    /// comparison, after bounding the stored parameters. Never panics, whatever `phc` holds.
    pub fn verify_with(&self, password: &[u8], phc: &str, memory: &mut HashMemory) -> Verification {
        if password.len() > MAX_PASSWORD {
            return Verification::Mismatch;
        }
        let Ok(hash) = PasswordHash::new(phc) else {
            return Verification::Unusable;
        };
        if hash.algorithm != argon2::ARGON2ID_IDENT || hash.version != Some(0x13) {
            return Verification::Unusable;
        }
        let Ok(params) = Params::try_from(&hash) else {
            return Verification::Unusable;
        };
        let stored = HashParams {
            m_kib: params.m_cost(),
            t: params.t_cost(),
            p: params.p_cost(),
        };
        let (Some(expected), Some(salt)) = (hash.hash, hash.salt) else {
            return Verification::Unusable;
        };
        if stored.validate().is_err() || expected.len() < 16 {
            return Verification::Unusable;
        }
        let mut salt_buf = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
            return Verification::Unusable;
        };
        let verifier = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        // A parsed `Output` holds at most `Output::MAX_LENGTH` bytes: the range is in bounds.
        let mut actual = [0u8; Output::MAX_LENGTH];
        let actual = &mut actual[..expected.len()];
        if self
            .compute(
                (Algorithm::Argon2id, &verifier),
                password,
                salt,
                actual,
                memory,
            )
            .is_err()
        {
            return Verification::Unusable;
        }
        if bool::from(actual.ct_eq(expected.as_bytes())) {
            Verification::Match {
                needs_rehash: stored != self.params,
            }
        } else {
            Verification::Mismatch
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
        let output = Output::init_with(output_len, |out| {
            self.compute(
                (Algorithm::Argon2id, &self.argon2),
                password,
                salt_bytes,
                out,
                memory,
            )
            .map_err(argon2::password_hash::Error::from)
        })
        .map_err(|e| hash_error(&e))?;
        let hash = PasswordHash {
            algorithm: argon2::ARGON2ID_IDENT,
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(self.argon2.params()).map_err(|e| hash_error(&e))?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(hash.to_string())
    }

    /// Runs `argon2` into `out`: by libsodium when it takes the inputs (`sodium.rs`: faster,
    /// and its memory is unmapped after each hash), else by RustCrypto in `memory`'s kept
    /// blocks when the parameters need no more than the current ones.
    fn compute(
        &self,
        (algorithm, argon2): (Algorithm, &Argon2<'_>),
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
        memory: &mut HashMemory,
    ) -> std::result::Result<(), argon2::Error> {
        memory.count_hash();
        let params = argon2.params();
        let shape = (params.m_cost(), params.t_cost(), params.p_cost());
        match sodium::argon2_into(algorithm, shape, password, salt, out) {
            sodium::Computed::Done => return Ok(()),
            sodium::Computed::Failed => return Err(argon2::Error::MemoryTooMuch),
            sodium::Computed::NotTaken => {}
        }
        let home = self.argon2.params().block_count();
        let needed = params.block_count();
        memory.with_blocks(home, needed, |blocks| {
            argon2.hash_password_into_with_memory(password, salt, out, blocks)
        })
    }
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

mod sodium;

#[cfg(test)]
mod tests;
