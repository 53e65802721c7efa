//! The argon2 block memory of one hash at a time, kept and reused.
//!
//! Why: argon2id at the default cost fills 19 MiB per hash. Allocated and freed per hash on
//! the server's blocking threads, those blocks stayed in glibc's per-thread arenas (issue 14:
//! hundreds of MB held after a login storm). A [`HashMemory`] owns its blocks; whoever owns
//! the `HashMemory` (the server: one per hash permit) decides how many exist, so the memory
//! argon2 holds is bounded by construction rather than by the allocator's mood.

use argon2::Block;

/// Reusable argon2 block memory, sized for the hasher's parameters on first use.
///
/// **Only hashes with the hasher's own parameters (or cheaper ones) use the kept blocks.** A
/// stored hash that asks for more memory (an older, costlier setting, bounded to 1 GiB) gets
/// a buffer of its own for that one hash, freed when the hash is done, so a kept
/// `HashMemory` never grows past the configured cost.
#[derive(Default)]
pub struct HashMemory {
    blocks: Vec<Block>,
}

impl HashMemory {
    /// Empty memory; the blocks are allocated by the first hash that uses it.
    pub fn new() -> HashMemory {
        HashMemory::default()
    }

    /// The memory kept, in KiB (one argon2 block is 1 KiB).
    pub fn kept_kib(&self) -> usize {
        self.blocks.len()
    }

    /// Runs `hash` with `needed` blocks: the kept ones when `needed <= home` (allocating
    /// exactly `home` blocks on first use), else a buffer for this call only.
    pub(crate) fn with_blocks<R>(
        &mut self,
        home: usize,
        needed: usize,
        hash: impl FnOnce(&mut [Block]) -> R,
    ) -> R {
        if needed > home {
            // Dropped on return: nothing larger than `home` is kept.
            let mut once = vec![Block::default(); needed];
            return hash(&mut once);
        }
        if self.blocks.len() != home {
            // Replaced, not resized, so the allocation is exactly `home` blocks.
            self.blocks = vec![Block::default(); home];
        }
        // `needed <= home == self.blocks.len()`, so the range is in bounds; argon2 uses the
        // first `needed` blocks and overwrites each before reading it (pass 0 assigns).
        hash(&mut self.blocks[..needed])
    }

    /// The address of the kept blocks, for tests that check the same allocation comes back.
    #[cfg(test)]
    pub(crate) fn address(&self) -> usize {
        self.blocks.as_ptr() as usize
    }
}

impl std::fmt::Debug for HashMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashMemory")
            .field("kept_kib", &self.kept_kib())
            .finish()
    }
}
