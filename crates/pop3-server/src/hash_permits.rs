//! Hash permits: at most `hash_concurrency` argon2 hashes at once, each in memory that comes
//! with its permit.
//!
//! **argon2 memory is held only by the hash permits: at most `hash_concurrency` buffers,
//! reused, never left to the allocator.** A permit takes a [`HashMemory`] from the pool
//! (allocating one only while fewer than `hash_concurrency` exist) and puts it back before
//! its semaphore permit is released, so whoever acquires next finds it. Why: argon2's 19 MiB
//! per hash, allocated and freed on up to 64 blocking threads, stayed in glibc's per-thread
//! arenas (issue 14); a semaphore bounds hashes in flight, not what malloc keeps.

use std::sync::{Arc, Mutex, PoisonError};

use pop3_auth::HashMemory;
use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};

/// The semaphore and the memory pool behind it.
pub(crate) struct HashPermits {
    semaphore: Arc<Semaphore>,
    pool: Arc<Mutex<Pool>>,
}

/// The memories not lent out, and how many exist in all.
struct Pool {
    free: Vec<HashMemory>,
    created: usize,
}

/// One hash's right to run, and its memory. Dropping it returns both.
pub(crate) struct HashPermit {
    /// `Some` until `Drop` puts it back.
    memory: Option<HashMemory>,
    pool: Arc<Mutex<Pool>>,
    /// Declared last: fields drop after `Drop::drop`, so the memory is back in the pool
    /// before the next waiter is let in.
    _permit: OwnedSemaphorePermit,
}

impl HashPermits {
    /// `concurrency` permits (at least one); `first` is the memory the dummy hash was
    /// computed in, the pool's first.
    pub(crate) fn new(concurrency: usize, first: HashMemory) -> HashPermits {
        HashPermits {
            semaphore: Arc::new(Semaphore::new(concurrency.max(1))),
            pool: Arc::new(Mutex::new(Pool {
                free: vec![first],
                created: 1,
            })),
        }
    }

    /// Waits for a permit; fails only if the semaphore was closed (never while the server
    /// runs).
    pub(crate) async fn acquire(&self) -> Result<HashPermit, AcquireError> {
        let permit = self.semaphore.clone().acquire_owned().await?;
        // A panic while the lock is held cannot leave the pool half-updated (a push or a pop),
        // so a poisoned lock is still good.
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        // Each outstanding permit holds one memory, and this one is not yet counted: when
        // `free` is empty, `created` memories are lent to fewer than `concurrency` holders.
        let memory = match pool.free.pop() {
            Some(memory) => memory,
            None => {
                pool.created += 1;
                HashMemory::new()
            }
        };
        drop(pool);
        Ok(HashPermit {
            memory: Some(memory),
            pool: self.pool.clone(),
            _permit: permit,
        })
    }

    /// How many memories exist (lent out or free); never above the permits.
    #[cfg(test)]
    fn created(&self) -> usize {
        self.pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .created
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
        if let Some(memory) = self.memory.take() {
            self.pool
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .free
                .push(memory);
        }
    }
}

#[cfg(test)]
mod tests;
