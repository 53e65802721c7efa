//! Dovecot's salted SHA-2 schemes, `{SSHA256}` and `{SSHA512}`.
//!
//! Layout, from Dovecot's `password-scheme.c`: the stored value encodes `digest || salt`,
//! where `digest = SHA-2(password || salt)` and the salt is every byte after the digest (Dovecot
//! writes 4 or 8 random bytes; any non-empty length verifies). The encoding is base64 unless
//! the scheme carries a `.HEX` suffix (`.B64` and `.BASE64` name base64 explicitly); these
//! schemes have no fixed raw length, so Dovecot never guesses hex for them, and neither do we.
//!
//! One SHA-2 computation costs microseconds: the authenticator pads every such check with an
//! argon2id hash at the current cost (see `authenticator.rs`).

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use sha2::{Digest as _, Sha256, Sha512};
use subtle::ConstantTimeEq as _;

use super::{Encoding, MAX_PASSWORD, Scheme, Verification};

/// The longest salt accepted, in bytes (Dovecot writes 4 or 8; the bound keeps a hostile row
/// from hashing a megabyte).
const MAX_SALT: usize = 256;

/// Standard base64, padding optional, as Dovecot's decoder takes it.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A decoded salted SHA-2 hash.
#[derive(Clone)]
pub(crate) struct Ssha {
    scheme: Scheme,
    /// `digest || salt`, longer than the digest.
    raw: Vec<u8>,
}

impl Ssha {
    /// Decodes `value` as `scheme` ([`Scheme::Ssha256`] or [`Scheme::Ssha512`]) in `encoding`.
    pub(crate) fn decode(
        scheme: Scheme,
        encoding: Encoding,
        value: &str,
    ) -> Result<Ssha, &'static str> {
        let raw = match encoding {
            Encoding::Base64 => BASE64.decode(value).map_err(|_| "not valid base64")?,
            Encoding::Hex => unhex(value).ok_or("not valid hex")?,
        };
        let digest_len = digest_len(scheme).ok_or("not a salted SHA-2 scheme")?;
        if raw.len() <= digest_len {
            return Err("no salt after the digest");
        }
        if raw.len() - digest_len > MAX_SALT {
            return Err("salt longer than 256 bytes");
        }
        Ok(Ssha { scheme, raw })
    }

    /// The scheme.
    pub(crate) fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Checks `password`; a match always asks for a rehash.
    pub(crate) fn verify(&self, password: &[u8]) -> Verification {
        if password.len() > MAX_PASSWORD {
            return Verification::Mismatch;
        }
        let Some(digest_len) = digest_len(self.scheme) else {
            return Verification::Unusable;
        };
        // `decode` made `raw` longer than the digest, so the split is in bounds.
        let (expected, salt) = self.raw.split_at(digest_len);
        let matched = match self.scheme {
            Scheme::Ssha256 => {
                let actual = Sha256::new().chain_update(password).chain_update(salt);
                bool::from(actual.finalize().as_slice().ct_eq(expected))
            }
            _ => {
                let actual = Sha512::new().chain_update(password).chain_update(salt);
                bool::from(actual.finalize().as_slice().ct_eq(expected))
            }
        };
        if matched {
            Verification::Match { needs_rehash: true }
        } else {
            Verification::Mismatch
        }
    }
}

fn digest_len(scheme: Scheme) -> Option<usize> {
    match scheme {
        Scheme::Ssha256 => Some(32),
        Scheme::Ssha512 => Some(64),
        _ => None,
    }
}

/// Hex of either case, an even number of digits.
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    let digit = |b: u8| (b as char).to_digit(16);
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| {
            let high = digit(pair[0])?;
            let low = digit(pair[1])?;
            u8::try_from(high << 4 | low).ok()
        })
        .collect()
}
