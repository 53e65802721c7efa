//! argon2's memory for one hash at a time, kept and reused, and the engine that fills it.
//!
//! **The engine is `argon2-rust`** (pure Rust, SIMD kernels chosen at run time: AVX-512, AVX2,
//! SSE2, NEON, scalar; bit-exact with the reference implementation). Why, measured on the bench
//! machine at the default cost (19 MiB, two passes, one lane), CPU per hash, one thread / two
//! threads at once: RustCrypto's `argon2` 0.5 or 0.6 in reused memory 16.3 / 15.6 ms;
//! libsodium (Dovecot's engine) 12.4 / 13.0 ms, of which 3.5–4.2 ms is the kernel mapping and
//! zeroing a fresh 19 MiB for every hash (libsodium takes no caller memory; under a login
//! storm two hashing threads of one process also contend on its page tables: pop3d measured
//! 6–8 ms of system time per login); `argon2-rust` in a kept arena 7.4 / 7.35 ms. Issue 14
//! asks for no more CPU per login than Dovecot's. The outputs are identical: a test compares
//! them with RustCrypto's over many parameter sets, and RustCrypto's crate still parses every
//! PHC string.
//!
//! Why the memory is kept at all: argon2id at the default cost fills 19 MiB per hash. Freed
//! and allocated per hash on the server's blocking threads, those blocks stayed in glibc's
//! per-thread arenas (issue 14: hundreds of MB held after a login storm); mapped afresh per
//! hash, they cost page faults. A [`HashMemory`] owns its arena, mapped by the engine itself
//! (`mmap`, with `MADV_HUGEPAGE`), wiped after every hash and unmapped when dropped: whoever
//! owns the `HashMemory` (the server: one per hash permit) decides how many exist, so the
//! memory argon2 holds is bounded by construction rather than by the allocator's mood.

use argon2_rust::params::{Memory, TagLen};
use argon2_rust::{Algorithm as EngineAlgorithm, Argon2 as Engine, Hasher, Params, Version};

/// One argon2 computation (version 0x13), described in the engine's terms.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Job<'a> {
    pub(crate) algorithm: argon2::Algorithm,
    pub(crate) m_kib: u32,
    pub(crate) t: u32,
    pub(crate) p: u32,
    /// Associated data (the PHC `data=` parameter).
    pub(crate) data: &'a [u8],
}

/// The engine's refusal of a job (parameters it cannot take, or memory it cannot map).
#[derive(Debug)]
pub(crate) struct EngineError(String);

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reusable argon2 memory, sized for the hasher's parameters on first use, and the count of
/// hashes computed with it.
///
/// **Only hashes with the hasher's own memory cost (or a cheaper one) use the kept arena.** A
/// stored hash that asks for more memory (an older, costlier setting, bounded to 1 GiB) gets
/// an arena of its own for that one hash, unmapped when the hash is done, so a kept
/// `HashMemory` never grows past the configured cost.
#[derive(Default)]
pub struct HashMemory {
    hasher: Option<Hasher>,
    /// Hashes computed with this memory.
    hashes: u64,
}

impl HashMemory {
    /// Empty memory; the arena is mapped by the first hash that uses it.
    pub fn new() -> HashMemory {
        HashMemory::default()
    }

    /// The memory kept, in KiB (one argon2 block is 1 KiB).
    pub fn kept_kib(&self) -> usize {
        self.hasher.as_ref().map_or(0, Hasher::reserved_blocks)
    }

    /// How many argon2 hashes ran with this memory (in the kept arena or in one of their
    /// own): the authenticator's timing rule is tested by counting them.
    pub fn hash_count(&self) -> u64 {
        self.hashes
    }

    /// Computes `job` on `password` and `salt` into `out`: in the kept arena when it needs no
    /// more than `home_kib` (mapping exactly the home size on first use), else in an arena of
    /// its own, unmapped on return.
    pub(crate) fn compute(
        &mut self,
        home_kib: u32,
        job: &Job<'_>,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), EngineError> {
        self.hashes += 1;
        let configured = engine(job, out.len())?;
        let failed = |e: argon2_rust::Error| EngineError(e.to_string());
        if job.m_kib > home_kib {
            return configured
                .hash_into_with_ad(password, salt, &[], job.data, out)
                .map_err(failed);
        }
        let hasher = match &mut self.hasher {
            Some(hasher) => hasher,
            empty => {
                // Sized for the home cost once, so that a cheaper hash first does not leave
                // an arena to be grown (remapped) by the next one.
                let home = Job {
                    m_kib: home_kib,
                    ..*job
                };
                let mut hasher = engine(&home, 32)?.hasher();
                hasher.reserve().map_err(failed)?;
                empty.insert(hasher)
            }
        };
        hasher.set_argon2(configured);
        hasher
            .hash_into_with_ad(password, salt, &[], job.data, out)
            .map_err(failed)
    }
}

/// The engine configured for `job` with an output of `out_len` bytes.
fn engine(job: &Job<'_>, out_len: usize) -> Result<Engine, EngineError> {
    let algorithm = match job.algorithm {
        argon2::Algorithm::Argon2d => EngineAlgorithm::Argon2d,
        argon2::Algorithm::Argon2i => EngineAlgorithm::Argon2i,
        argon2::Algorithm::Argon2id => EngineAlgorithm::Argon2id,
    };
    let params = Params::builder()
        .memory(Memory::kib(u64::from(job.m_kib)))
        .passes(job.t)
        .lanes(job.p)
        .threads(1)
        .tag_len(TagLen::bytes(out_len as u64))
        .build()
        .map_err(|e| EngineError(e.to_string()))?;
    Ok(Engine::new(algorithm, Version::V0x13, params))
}

impl std::fmt::Debug for HashMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashMemory")
            .field("kept_kib", &self.kept_kib())
            .field("hashes", &self.hashes)
            .finish()
    }
}
