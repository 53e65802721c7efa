//! MD5-crypt (`$1$`), Poul-Henning Kamp's FreeBSD scheme, as glibc, libxcrypt, OpenSSL
//! (`openssl passwd -1`) and Dovecot (`{MD5-CRYPT}`) compute it.
//!
//! Why our own: no maintained crate implements it on its own (RustCrypto has none; the
//! collections that do bundle a dozen other schemes and their dependencies), and the system's
//! libxcrypt would need `unsafe` FFI, which the workspace denies. The scheme is 1000 fixed
//! rounds of MD5 over the `md-5` crate we already use for APOP, written here from the
//! algorithm's description and checked against `openssl passwd -1` and `doveadm pw` at test
//! time. It is only ever verified, never produced: a match is rehashed with argon2id.

use md5::{Digest, Md5};
use subtle::ConstantTimeEq as _;

/// The crypt(3) base-64 alphabet (not RFC 4648's order).
const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The longest salt MD5-crypt uses; longer ones are cut to this by every implementation.
pub(crate) const MAX_SALT: usize = 8;

/// The length of the encoded digest.
pub(crate) const ENCODED_LEN: usize = 22;

/// Whether MD5-crypt of `password` with `salt` encodes to `expected` (22 characters), compared
/// in constant time. `salt` is at most [`MAX_SALT`] bytes (the caller parsed it).
pub(crate) fn matches(password: &[u8], salt: &[u8], expected: &[u8]) -> bool {
    let encoded = encode(&digest(password, salt));
    bool::from(encoded.ct_eq(expected))
}

/// The 16 bytes of MD5-crypt.
fn digest(password: &[u8], salt: &[u8]) -> [u8; 16] {
    const MAGIC: &[u8] = b"$1$";
    let alternate = Md5::new()
        .chain_update(password)
        .chain_update(salt)
        .chain_update(password)
        .finalize();
    let mut context = Md5::new()
        .chain_update(password)
        .chain_update(MAGIC)
        .chain_update(salt);
    // One byte of the alternate digest per password byte, 16 at a time.
    for chunk in password.chunks(16) {
        context.update(&alternate[..chunk.len()]);
    }
    // For each bit of the length, low to high: a zero byte for a 1, the password's first byte
    // for a 0 (the original's quirk, kept by every implementation).
    let first = password.first().copied().unwrap_or(0);
    let mut length = password.len();
    while length != 0 {
        context.update([if length & 1 == 1 { 0 } else { first }]);
        length >>= 1;
    }
    let mut result: [u8; 16] = context.finalize().into();
    // 1000 rounds that alternate the password and the previous result.
    for round in 0..1000u32 {
        let mut context = Md5::new();
        if round % 2 == 1 {
            context.update(password);
        } else {
            context.update(result);
        }
        if round % 3 != 0 {
            context.update(salt);
        }
        if round % 7 != 0 {
            context.update(password);
        }
        if round % 2 == 1 {
            context.update(result);
        } else {
            context.update(password);
        }
        result = context.finalize().into();
    }
    result
}

/// The 22-character encoding: five groups of three bytes in a fixed shuffle, then the last
/// byte, each group written as little-endian 6-bit digits.
fn encode(digest: &[u8; 16]) -> [u8; ENCODED_LEN] {
    const GROUPS: [[usize; 3]; 5] = [[0, 6, 12], [1, 7, 13], [2, 8, 14], [3, 9, 15], [4, 10, 5]];
    let mut out = [0u8; ENCODED_LEN];
    let mut at = 0;
    let mut put = |mut value: u32, digits: usize| {
        for _ in 0..digits {
            // `value & 63` is below 64, and `at` stays below 22: 5 groups of 4 digits and 2.
            out[at] = ITOA64[(value & 63) as usize];
            at += 1;
            value >>= 6;
        }
    };
    for [high, middle, low] in GROUPS {
        let value =
            u32::from(digest[high]) << 16 | u32::from(digest[middle]) << 8 | u32::from(digest[low]);
        put(value, 4);
    }
    put(u32::from(digest[11]), 2);
    out
}

/// Whether `byte` is in the crypt(3) base-64 alphabet.
pub(crate) fn is_crypt64(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'.' || byte == b'/'
}
