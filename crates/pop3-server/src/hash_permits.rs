//! Hash permits: at most `hash_concurrency` argon2 hashes at once, each in memory that comes
//! with its permit.
//!
//! **argon2 memory exists only while hashes run or wait: at most `hash_concurrency` buffers,
//! handed from one hash to the next while others wait, and given back to the kernel when
//! none does.** A permit takes a [`HashMemory`] from the pool (allocating one only while
//! fewer than `hash_concurrency` exist). When it is dropped, its memory goes back to the pool
//! if another hash is waiting for a permit (a login storm reuses the same buffers, with no
//! page faults), else it is freed; `HashMemory` allocates above glibc's mmap threshold, so
//! freeing unmaps it. Why: argon2's 19 MiB per hash, allocated and freed on up to 64
//! blocking threads, stayed in glibc's per-thread arenas (issue 14: 540 MB after 200
//! logins); a semaphore bounds hashes in flight, not what malloc keeps, and a pool kept
//! forever would hold `hash_concurrency` × 19 MiB on an idle server. Hashes libsodium takes
//! (every one the server makes) map and unmap memory of their own and leave a permit's
//! memory unallocated: the pool serves RustCrypto's engine, for the rest.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use pop3_auth::HashMemory;
use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};

/// The semaphore and the memory pool behind it.
pub(crate) struct HashPermits {
    semaphore: Arc<Semaphore>,
    pool: Arc<Pool>,
}

/// The memories not lent out, how many exist in all, and how many hashes wait for a permit.
struct Pool {
    memories: Mutex<Memories>,
    waiting: AtomicUsize,
}

struct Memories {
    free: Vec<HashMemory>,
    created: usize,
}

/// One hash's right to run, and its memory. Dropping it returns both.
pub(crate) struct HashPermit {
    /// `Some` until `Drop` puts it back.
    memory: Option<HashMemory>,
    pool: Arc<Pool>,
    /// Declared last: fields drop after `Drop::drop`, so the memory is back in the pool
    /// before the next waiter is let in.
    _permit: OwnedSemaphorePermit,
}

impl HashPermits {
    /// `concurrency` permits (at least one), and no memory yet.
    pub(crate) fn new(concurrency: usize) -> HashPermits {
        HashPermits {
            semaphore: Arc::new(Semaphore::new(concurrency.max(1))),
            pool: Arc::new(Pool {
                memories: Mutex::new(Memories {
                    free: Vec::new(),
                    created: 0,
                }),
                waiting: AtomicUsize::new(0),
            }),
        }
    }

    /// Waits for a permit; fails only if the semaphore was closed (never while the server
    /// runs).
    pub(crate) async fn acquire(&self) -> Result<HashPermit, AcquireError> {
        let permit = {
            let _waiting = Waiting::count(&self.pool.waiting);
            self.semaphore.clone().acquire_owned().await?
        };
        let mut memories = self.pool.lock();
        // Each outstanding permit holds one memory, and this one is not yet counted: when
        // `free` is empty, `created` memories are lent to fewer than `concurrency` holders.
        let memory = match memories.free.pop() {
            Some(memory) => memory,
            None => {
                memories.created += 1;
                HashMemory::new()
            }
        };
        drop(memories);
        Ok(HashPermit {
            memory: Some(memory),
            pool: self.pool.clone(),
            _permit: permit,
        })
    }

    /// How many memories exist (lent out or free); never above the permits.
    #[cfg(test)]
    fn created(&self) -> usize {
        self.pool.lock().created
    }

    /// How many acquisitions wait for a permit now.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.pool.waiting.load(Ordering::SeqCst)
    }
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, Memories> {
        // A panic while the lock is held cannot leave the pool half-updated (a push, a pop or
        // a count), so a poisoned lock is still good.
        self.memories.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Counts one waiting acquisition for as long as it lives (also when the wait is cancelled).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn count(waiting: &'a AtomicUsize) -> Waiting<'a> {
        waiting.fetch_add(1, Ordering::SeqCst);
        Waiting(waiting)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl HashPermit {
    /// The memory every hash of this permit runs in.
    pub(crate) fn memory(&mut self) -> &mut HashMemory {
        self.memory.get_or_insert_with(HashMemory::new)
    }
}

impl Drop for HashPermit {
    fn drop(&mut self) {
        let Some(memory) = self.memory.take() else {
            return;
        };
        let mut memories = self.pool.lock();
        // One free memory for each waiting hash: a second permit released for the same
        // waiter frees its memory rather than leave it in the pool.
        if memories.free.len() < self.pool.waiting.load(Ordering::SeqCst) {
            memories.free.push(memory);
        } else {
            // Nobody waits for it: back to the kernel (outside the lock).
            memories.created -= 1;
            drop(memories);
            drop(memory);
        }
    }
}

#[cfg(test)]
mod tests;
