//! The argon2 block memory of one hash at a time, kept and reused.
//!
//! Why: argon2id at the default cost fills 19 MiB per hash. Allocated and freed per hash on
//! the server's blocking threads, those blocks stayed in glibc's per-thread arenas (issue 14:
//! hundreds of MB held after a login storm). A [`HashMemory`] owns its blocks; whoever owns
//! the `HashMemory` (the server: one per hash permit) decides how many exist, so the memory
//! argon2 holds is bounded by construction rather than by the allocator's mood.

use argon2::Block;

/// Above glibc's largest dynamic mmap threshold on 64-bit targets (`DEFAULT_MMAP_THRESHOLD_MAX`,
/// 32 MiB), in 1 KiB blocks: an allocation this large is always mapped, and unmapped when
/// freed, unless the administrator set `M_MMAP_THRESHOLD` higher.
const ALWAYS_MAPPED_BLOCKS: usize = 32 * 1024 + 1;

/// Reusable argon2 block memory, sized for the hasher's parameters on first use. **Always an
/// allocation glibc maps rather than carves from an arena, so dropping a `HashMemory` returns
/// its pages to the kernel.**
///
/// **Only hashes with the hasher's own parameters (or cheaper ones) use the kept blocks.** A
/// stored hash that asks for more memory (an older, costlier setting, bounded to 1 GiB) gets
/// a buffer of its own for that one hash, freed when the hash is done, so a kept
/// `HashMemory` never grows past the configured cost.
#[derive(Default)]
pub struct HashMemory {
    blocks: Vec<Block>,
    /// Hashes computed with this memory, by either engine.
    hashes: u64,
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

    /// How many argon2 hashes ran with this memory, whichever engine ran them (libsodium maps
    /// memory of its own and leaves the kept blocks alone): the authenticator's timing rule is
    /// tested by counting them.
    pub fn hash_count(&self) -> u64 {
        self.hashes
    }

    /// Counts one hash computed with this memory.
    pub(crate) fn count_hash(&mut self) {
        self.hashes += 1;
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
            // Dropped on return: nothing larger than `home` is kept. The capacity is at least
            // `ALWAYS_MAPPED_BLOCKS`, so glibc's malloc maps it and its free unmaps it (only
            // the `needed` blocks are ever touched); a smaller buffer could be served from,
            // and left in, a thread's arena once malloc's threshold has risen.
            let mut once = Vec::with_capacity(needed.max(ALWAYS_MAPPED_BLOCKS));
            once.resize(needed, Block::default());
            return hash(&mut once);
        }
        if self.blocks.len() != home {
            // Replaced, not resized. The capacity is at least `ALWAYS_MAPPED_BLOCKS` for the
            // same reason as above: freeing this memory must give it back to the kernel (only
            // the `home` blocks are ever touched; the rest is address space).
            let mut blocks = Vec::with_capacity(home.max(ALWAYS_MAPPED_BLOCKS));
            blocks.resize(home, Block::default());
            self.blocks = blocks;
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
            .field("hashes", &self.hashes)
            .finish()
    }
}
