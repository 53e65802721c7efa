//! crypt(3) strings of other systems: `$1$` (MD5-crypt), `$5$`/`$6$` (SHA-crypt), `$2a$`/
//! `$2b$`/`$2y$` (bcrypt) and `$y$` (yescrypt), as `/etc/shadow` and Dovecot's `{*-CRYPT}`
//! schemes hold them.
//!
//! **Every string is parsed and its cost bounded before anything is computed**: a corrupt or
//! hostile row asking for 2^31 bcrypt rounds, a billion SHA-crypt rounds or terabytes of
//! yescrypt memory is refused at once ([`Verification::Unusable`]), so it can neither stall a
//! hash permit for minutes nor allocate past what a real setting uses. Each bound is where one
//! check takes about a second and a half on one core of the project's machine (measured with
//! these crates at `opt-level = 3`: bcrypt cost 14 in 1.5 s, SHA-512-crypt at 5,000,000
//! rounds in 1.6 s, yescrypt at 512 MiB in 1.3 s), well above what the tools write by
//! default (bcrypt 5 to 12, 5,000 to 656,000 rounds, yescrypt 16 MiB). Above it a hash is
//! refused, not slowed: the import reports it (`ImportedPassword::Invalid`), and the user
//! needs a new password.
//!
//! [`Verification::Unusable`]: super::Verification::Unusable

use sha_crypt::{PasswordVerifier as _, ShaCrypt};
use yescrypt::Yescrypt;

use super::md5_crypt::{self, is_crypt64};
use super::{MAX_PASSWORD, Scheme, Verification};

/// The highest bcrypt cost verified: 2^14 rounds, about 1.5 s on one core (Dovecot writes 5,
/// PHP 10, most guides 12).
pub const MAX_BCRYPT_COST: u32 = 14;
/// The most SHA-crypt rounds verified: about 1.6 s for SHA-512 on one core (glibc's default is
/// 5,000; passlib's, 535,000 and 656,000, are well inside).
pub const MAX_SHA_CRYPT_ROUNDS: u32 = 5_000_000;
/// The most yescrypt work verified, in bytes of block memory written and read
/// (`YescryptParams::work`): 640 MiB, room for libxcrypt's cost 10 (`mkpasswd -m yescrypt
/// -R 10`, N = 2^17, r = 32: 512 MiB and a block), about 1.3 s on one core. Debian's default,
/// cost 5, is 16 MiB; cost 11, libxcrypt's highest (1 GiB, 3 s), is refused.
pub const MAX_YESCRYPT_WORK: u64 = 640 << 20;

/// The most yescrypt lanes (p) verified: each has its own 12 KiB S-box and block; libxcrypt
/// writes 1, the reference's test vectors go to 11.
const MAX_YESCRYPT_P: u32 = 16;

/// A crypt string that passed its parse and its bounds.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Crypt<'a> {
    /// `$1$salt$digest`.
    Md5 { salt: &'a str, digest: &'a str },
    /// `$5$` or `$6$`, `[rounds=N$]salt$digest`.
    Sha { scheme: Scheme, whole: &'a str },
    /// `$2a$`, `$2b$` or `$2y$`, `NN$` and 53 characters.
    Bcrypt { whole: &'a str },
    /// `$y$params$salt$digest`.
    Yescrypt { whole: &'a str },
}

/// Why a crypt string is not one we verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A crypt method we do not verify (`$2x$`, `$7$`, DES...): its name.
    Unknown(String),
    /// One of ours, malformed or over its bounds.
    Invalid {
        scheme: Scheme,
        reason: &'static str,
    },
}

impl<'a> Crypt<'a> {
    /// Parses a crypt string (from its leading `$`) and bounds its cost.
    pub(crate) fn parse(whole: &'a str) -> Result<Crypt<'a>, Refusal> {
        let mut parts = whole.splitn(3, '$');
        let (Some(""), Some(id), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Refusal::Unknown("unrecognised".to_owned()));
        };
        match id {
            "1" => parse_md5(rest),
            "5" => parse_sha(Scheme::Sha256Crypt, whole, rest),
            "6" => parse_sha(Scheme::Sha512Crypt, whole, rest),
            "2a" | "2b" | "2y" => parse_bcrypt(whole, rest),
            "y" => parse_yescrypt(whole, rest),
            _ => Err(Refusal::Unknown(format!("${}$", shorten(id)))),
        }
    }

    /// The scheme, for logs and the import report.
    pub(crate) fn scheme(self) -> Scheme {
        match self {
            Crypt::Md5 { .. } => Scheme::Md5Crypt,
            Crypt::Sha { scheme, .. } => scheme,
            Crypt::Bcrypt { .. } => Scheme::BlfCrypt,
            Crypt::Yescrypt { .. } => Scheme::Yescrypt,
        }
    }

    /// Checks `password`. A match always asks for a rehash: none of these is the current
    /// scheme. The libraries compare in constant time; their errors other than a wrong
    /// password mean the string is unusable after all.
    pub(crate) fn verify(self, password: &[u8]) -> Verification {
        if password.len() > MAX_PASSWORD {
            return Verification::Mismatch;
        }
        let matched = match self {
            Crypt::Md5 { salt, digest } => Ok(md5_crypt::matches(
                password,
                salt.as_bytes(),
                digest.as_bytes(),
            )),
            Crypt::Sha { whole, .. } => {
                library(ShaCrypt::default().verify_password(password, whole))
            }
            Crypt::Yescrypt { whole } => {
                library(Yescrypt::default().verify_password(password, whole))
            }
            // bcrypt uses the first 72 bytes, as every implementation does. Known limit: a
            // `$2a$` that crypt_blowfish made with its 2011 countermeasure (passwords with
            // bytes such as \xff\xff\xa3, never UTF-8) does not verify (tests/it/legacy.rs).
            Crypt::Bcrypt { whole } => bcrypt::verify(password, whole).map_err(|_| ()),
        };
        match matched {
            Ok(true) => Verification::Match { needs_rehash: true },
            Ok(false) => Verification::Mismatch,
            Err(()) => Verification::Unusable,
        }
    }
}

/// A wrong password is `false`; any other error of the `password-hash` traits is unusable.
fn library(result: Result<(), sha_crypt::password_hash::Error>) -> Result<bool, ()> {
    match result {
        Ok(()) => Ok(true),
        Err(sha_crypt::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(_) => Err(()),
    }
}

/// `salt$digest`: a salt of at most 8 characters without `$` (every implementation stops
/// there; a longer one is cut, so it could never have matched), a 22-character digest.
fn parse_md5(rest: &str) -> Result<Crypt<'_>, Refusal> {
    let invalid = |reason| Refusal::Invalid {
        scheme: Scheme::Md5Crypt,
        reason,
    };
    let (salt, digest) = rest.split_once('$').ok_or_else(|| invalid("no digest"))?;
    if salt.len() > md5_crypt::MAX_SALT || !salt.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid("salt longer than 8 characters or not printable"));
    }
    if digest.len() != md5_crypt::ENCODED_LEN || !digest.bytes().all(is_crypt64) {
        return Err(invalid("digest is not 22 crypt base-64 characters"));
    }
    Ok(Crypt::Md5 { salt, digest })
}

/// `[rounds=N$]salt$digest`, with 1000 ≤ N ≤ [`MAX_SHA_CRYPT_ROUNDS`] (glibc writes the rounds
/// it used, never fewer than 1000, so a smaller number never matched), a salt of at most 16
/// characters and a digest of 43 (SHA-256) or 86 (SHA-512) characters.
fn parse_sha<'a>(scheme: Scheme, whole: &'a str, rest: &'a str) -> Result<Crypt<'a>, Refusal> {
    let invalid = |reason| Refusal::Invalid { scheme, reason };
    let rest = match rest.strip_prefix("rounds=") {
        Some(after) => {
            let (rounds, rest) = after
                .split_once('$')
                .ok_or_else(|| invalid("no salt after the rounds"))?;
            let rounds = decimal(rounds).ok_or_else(|| invalid("rounds is not a number"))?;
            if rounds < 1000 {
                return Err(invalid("fewer than 1000 rounds"));
            }
            if rounds > u64::from(MAX_SHA_CRYPT_ROUNDS) {
                return Err(invalid("more rounds than the bound"));
            }
            rest
        }
        None => rest,
    };
    let (salt, digest) = rest.split_once('$').ok_or_else(|| invalid("no digest"))?;
    if salt.is_empty() || salt.len() > 16 || !salt.bytes().all(is_crypt64) {
        return Err(invalid("salt is not 1 to 16 crypt base-64 characters"));
    }
    let digest_len = if scheme == Scheme::Sha256Crypt {
        43
    } else {
        86
    };
    if digest.len() != digest_len || !digest.bytes().all(is_crypt64) {
        return Err(invalid("digest has the wrong length or characters"));
    }
    Ok(Crypt::Sha { scheme, whole })
}

/// `NN$` and 22 characters of salt and 31 of digest: 60 in all, cost 04 to
/// [`MAX_BCRYPT_COST`].
fn parse_bcrypt<'a>(whole: &'a str, rest: &'a str) -> Result<Crypt<'a>, Refusal> {
    let invalid = |reason| Refusal::Invalid {
        scheme: Scheme::BlfCrypt,
        reason,
    };
    let (cost, encoded) = rest.split_once('$').ok_or_else(|| invalid("no cost"))?;
    if cost.len() != 2 {
        return Err(invalid("cost is not two digits"));
    }
    let cost = decimal(cost).ok_or_else(|| invalid("cost is not two digits"))?;
    if !(4..=u64::from(MAX_BCRYPT_COST)).contains(&cost) {
        return Err(invalid("cost outside 4 to the bound"));
    }
    if encoded.len() != 53 || !encoded.bytes().all(is_crypt64) {
        return Err(invalid("salt and digest are not 53 base-64 characters"));
    }
    Ok(Crypt::Bcrypt { whole })
}

/// `params$salt$digest`, with the parameters decoded here and bounded by
/// [`MAX_YESCRYPT_WORK`] before the library sees them.
fn parse_yescrypt<'a>(whole: &'a str, rest: &'a str) -> Result<Crypt<'a>, Refusal> {
    let invalid = |reason| Refusal::Invalid {
        scheme: Scheme::Yescrypt,
        reason,
    };
    let mut fields = rest.split('$');
    let (Some(params), Some(salt), Some(digest), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(invalid("not params$salt$digest"));
    };
    let params = YescryptParams::decode(params).ok_or_else(|| invalid("malformed parameters"))?;
    if params.p > MAX_YESCRYPT_P {
        return Err(invalid("more lanes than the bound"));
    }
    if params.work().is_none_or(|work| work > MAX_YESCRYPT_WORK) {
        return Err(invalid("more work than the bound"));
    }
    if salt.is_empty() || salt.len() > 86 || !salt.bytes().all(is_crypt64) {
        return Err(invalid("salt is not 1 to 86 crypt base-64 characters"));
    }
    if digest.len() != 43 || !digest.bytes().all(is_crypt64) {
        return Err(invalid("digest is not 43 crypt base-64 characters"));
    }
    Ok(Crypt::Yescrypt { whole })
}

/// yescrypt's parameters as the `$y$` field encodes them, decoded only to bound the cost
/// (the library decodes them again to compute).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct YescryptParams {
    /// The flavour (mode and flags).
    pub(crate) flavor: u32,
    /// log2 of N.
    pub(crate) n_log2: u32,
    /// Block size.
    pub(crate) r: u32,
    /// Parallelism.
    pub(crate) p: u32,
    /// Extra time factor.
    pub(crate) t: u32,
}

impl YescryptParams {
    /// Decodes `flavor N r [have [p] [t] [g] [NROM]]`, each a variable-length number; `g` and
    /// `NROM` (cost upgrades, a ROM) are refused, as the library refuses them. Nothing may
    /// follow.
    pub(crate) fn decode(field: &str) -> Option<YescryptParams> {
        let mut digits = Digits(field.as_bytes());
        let flavor = digits.number(0)?;
        let n_log2 = digits.number(1)?;
        let r = digits.number(1)?;
        let (mut p, mut t) = (1, 0);
        if !digits.0.is_empty() {
            let have = digits.number(1)?;
            if have & !0b11 != 0 {
                return None;
            }
            if have & 1 != 0 {
                p = digits.number(2)?;
            }
            if have & 2 != 0 {
                t = digits.number(1)?;
            }
        }
        if !digits.0.is_empty() || !(1..=63).contains(&n_log2) {
            return None;
        }
        Some(YescryptParams {
            flavor,
            n_log2,
            r,
            p,
            t,
        })
    }

    /// The bytes of block memory a hash writes and reads, `128·r·(N·(t+1)·lanes + p)`, or
    /// `None` when that does not fit in 64 bits: the memory V (`128·N·r`), passed over about
    /// `t+1` times (`t = 0` is 4/3 of a pass, `t` ≥ 2 is `t` passes), once per lane in the
    /// scrypt-compatible flavours where each of the p lanes runs over all of V, once in all in
    /// the read-write flavour (libxcrypt's), which splits V among the lanes; and each lane's
    /// block, `128·r`.
    pub(crate) fn work(self) -> Option<u64> {
        const RW: u32 = 2;
        let lanes = if self.flavor & RW != 0 { 1 } else { self.p };
        let passes = 1u64
            .checked_shl(self.n_log2)?
            .checked_mul(u64::from(self.t) + 1)?
            .checked_mul(u64::from(lanes))?;
        passes
            .checked_add(u64::from(self.p))?
            .checked_mul(128)?
            .checked_mul(u64::from(self.r))
    }
}

/// The digits of yescrypt's parameter field. Each number is written in one to six crypt
/// base-64 characters: the first character's value says how many follow (0-47: none, then
/// ranges of shrinking width for one, two... more), and the value is the sum of the ranges
/// skipped plus the digits, most significant first, on top of a per-field minimum.
struct Digits<'a>(&'a [u8]);

impl Digits<'_> {
    fn number(&mut self, min: u32) -> Option<u32> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        let first = u64::from(value64(first)?);
        let (mut start, mut end, mut extra, mut value) = (0u64, 47u64, 0u32, u64::from(min));
        while first > end {
            value += (end + 1 - start) << (6 * extra);
            start = end + 1;
            end = start + (62 - end) / 2;
            extra += 1;
        }
        value += (first - start) << (6 * extra);
        for shift in (0..extra).rev() {
            let (&digit, rest) = self.0.split_first()?;
            self.0 = rest;
            value += u64::from(value64(digit)?) << (6 * shift);
        }
        u32::try_from(value).ok()
    }
}

/// The value of a crypt base-64 character.
fn value64(byte: u8) -> Option<u8> {
    match byte {
        b'.' => Some(0),
        b'/' => Some(1),
        b'0'..=b'9' => Some(byte - b'0' + 2),
        b'A'..=b'Z' => Some(byte - b'A' + 12),
        b'a'..=b'z' => Some(byte - b'a' + 38),
        _ => None,
    }
}

/// A decimal number of at most 10 digits, no sign, no spaces.
fn decimal(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// At most 16 characters of an identifier, printable ASCII only.
fn shorten(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(16)
        .collect()
}

#[cfg(test)]
mod tests;
