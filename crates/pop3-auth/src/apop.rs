//! APOP (RFC 1939 §7): the greeting timestamp and the digest check.
//!
//! APOP needs a plaintext-equivalent shared secret, which an argon2 hash cannot give, and its
//! MD5 is broken; so it is off by default and works only for users with a separate APOP
//! secret set by an administrator.

use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

/// The greeting timestamp: `<random.seconds@host>` with 128 random bits in hex. Only
/// `[A-Za-z0-9.-]` between the brackets besides `@`, since some clients (mpop) refuse
/// timestamps holding `+` or `=`.
pub fn timestamp(host: &str, unix_seconds: u64) -> Result<String> {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).map_err(|e| Error::Random(e.to_string()))?;
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        .take(253)
        .collect();
    let host = if host.is_empty() {
        "localhost".to_owned()
    } else {
        host
    };
    Ok(format!("<{}.{unix_seconds}@{host}>", hex(&random)))
}

/// MD5(timestamp + secret) in lowercase hex.
pub fn digest(timestamp: &str, secret: &str) -> String {
    hex(&raw_digest(timestamp, secret))
}

/// Whether `claimed` (hex, any case) is the digest of `timestamp` and `secret`; the comparison
/// takes the same time wherever the first difference is.
pub fn verify(timestamp: &str, secret: &str, claimed: &str) -> bool {
    let Some(claimed) = unhex(claimed) else {
        return false;
    };
    raw_digest(timestamp, secret).ct_eq(&claimed).into()
}

fn raw_digest(timestamp: &str, secret: &str) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update(timestamp.as_bytes());
    md5.update(secret.as_bytes());
    md5.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 16]> {
    let bytes = text.as_bytes();
    if bytes.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}
