//! argon2 computed by libsodium, for the inputs libsodium takes.
//!
//! Why: a login's cost is almost all its argon2id hash, and RustCrypto's `argon2` (0.5 and
//! 0.6, portable code compiled for AVX2) takes about 15 ms of CPU for the default cost
//! (19 MiB, two passes) on the bench machine, in memory reused from hash to hash, against
//! libsodium's 9.4 ms of compute (hand-written SSSE3/AVX2/AVX-512 kernels chosen at run time)
//! plus 3.9 ms of page faults for its fresh mapping: 13.3 ms, about 11% less. Issue 14
//! measured pop3d's CPU per login at 1.23× Dovecot's, which uses libsodium. Both compute the
//! same function; a test compares them over many parameter sets.
//!
//! libsodium is built from the source `libsodium-sys-stable` bundles (signature-checked,
//! no system package and no network), in its minimal configuration. It maps the argon2
//! memory for each hash and unmaps it afterwards, so a burst of logins leaves nothing in the
//! allocator (the issue-14 memory rule holds by construction on this path). The price is the
//! page faults of a fresh mapping, counted in the figure above.
//!
//! What libsodium takes: one lane, a 16-byte salt, an output of 16 bytes or more, argon2id
//! with any pass count and argon2i with three or more, without associated data (checked by
//! the caller). Anything else (hashes imported from elsewhere, several lanes), and a hash
//! whose memory libsodium could not map, is computed by RustCrypto in the caller's
//! [`HashMemory`] (`super::PasswordHasher::compute`).
//!
//! [`HashMemory`]: crate::HashMemory

// The only unsafe code of the crate: calls into libsodium's C API. Each call states why its
// pointers and lengths are valid.
#![allow(unsafe_code)]

use std::sync::OnceLock;

use argon2::Algorithm;
use libsodium_sys as ffi;

/// The salt length libsodium's argon2 functions take (`crypto_pwhash_SALTBYTES`).
const SALT_BYTES: usize = 16;
/// The shortest output libsodium computes (`crypto_pwhash_BYTES_MIN`).
const OUTPUT_MIN: usize = 16;

/// What libsodium did with a request.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Computed {
    /// `out` holds the hash.
    Done,
    /// libsodium does not take these inputs; the caller computes them another way.
    NotTaken,
    /// libsodium took the inputs and failed (it could not map the memory).
    Failed,
}

/// Computes argon2 version 0x13 with one lane, `m_kib` KiB and `t` passes into `out`, when
/// libsodium takes these inputs (see the module documentation).
pub(super) fn argon2_into(
    algorithm: Algorithm,
    (m_kib, t, p): (u32, u32, u32),
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Computed {
    let (alg, min_passes) = match algorithm {
        Algorithm::Argon2id => (ffi::crypto_pwhash_ALG_ARGON2ID13, 1),
        Algorithm::Argon2i => (ffi::crypto_pwhash_ALG_ARGON2I13, 3),
        Algorithm::Argon2d => return Computed::NotTaken,
    };
    let taken = p == 1
        && t >= min_passes
        && m_kib >= 8
        && salt.len() == SALT_BYTES
        && out.len() >= OUTPUT_MIN
        && initialised();
    if !taken {
        return Computed::NotTaken;
    }
    // Lossless: `out.len()` and `password.len()` fit in u64 on every target Rust supports,
    // `m_kib * 1024` fits in usize on 64-bit targets (and is checked on others).
    let Some(memlimit) = usize::try_from(u64::from(m_kib) * 1024).ok() else {
        return Computed::NotTaken;
    };
    let function = match algorithm {
        Algorithm::Argon2i => ffi::crypto_pwhash_argon2i,
        _ => ffi::crypto_pwhash_argon2id,
    };
    // SAFETY: `out` is valid for writes of `out.len()` bytes, `password` for reads of
    // `password.len()` bytes, and `salt` for reads of the 16 bytes libsodium reads (checked
    // above). libsodium keeps no pointer after returning and is initialised.
    let status = unsafe {
        function(
            out.as_mut_ptr(),
            out.len() as u64,
            password.as_ptr().cast(),
            password.len() as u64,
            salt.as_ptr(),
            u64::from(t),
            memlimit,
            alg as i32,
        )
    };
    if status == 0 {
        Computed::Done
    } else {
        Computed::Failed
    }
}

/// Whether libsodium is initialised (done once, thread-safe). `sodium_init` returns -1 only
/// if its own setup fails (a system without `getrandom` and `/dev/urandom` aborts inside it
/// instead); then every hash runs on RustCrypto, which computes the same function.
fn initialised() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    // SAFETY: `sodium_init` takes no arguments and may be called from any thread.
    *READY.get_or_init(|| unsafe { ffi::sodium_init() } >= 0)
}
