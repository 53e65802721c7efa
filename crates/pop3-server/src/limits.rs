//! Connection limits: a total and a per-address count, each held as an RAII permit.
//!
//! **Each connection holds a permit for the total limit and one for its address; both are
//! released by `Drop` on every exit path** (an ended session, a refused one, a panic).
//! An address is counted under its [`limit_key`]: IPv6 clients by their prefix.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::peer::limit_key;

/// The server's connection limits (cloning shares them).
#[derive(Clone)]
pub(crate) struct ConnectionLimits {
    total: Arc<Semaphore>,
    per_ip: Arc<Mutex<HashMap<IpAddr, usize>>>,
    max_per_ip: usize,
    ipv6_prefix: u8,
}

/// The permits a connection holds: one of the total, one of its address's.
pub(crate) struct Permits {
    _total: OwnedSemaphorePermit,
    _per_ip: PerIpPermit,
}

impl ConnectionLimits {
    /// Limits of `max_total` connections, `max_per_ip` from any one address (an IPv6
    /// address: any one `ipv6_prefix`).
    pub(crate) fn new(max_total: usize, max_per_ip: usize, ipv6_prefix: u8) -> ConnectionLimits {
        ConnectionLimits {
            total: Arc::new(Semaphore::new(max_total)),
            per_ip: Arc::new(Mutex::new(HashMap::new())),
            max_per_ip,
            ipv6_prefix,
        }
    }

    /// A permit of the total, or `None` if the server is full. Taken when a connection is
    /// accepted, before its client's address is known (a PROXY header is still to be read).
    pub(crate) fn total(&self) -> Option<OwnedSemaphorePermit> {
        self.total.clone().try_acquire_owned().ok()
    }

    /// Adds the permit of `ip`'s address to `total`, or `None` (and `total` released) if that
    /// address is at its limit.
    pub(crate) fn per_address(&self, total: OwnedSemaphorePermit, ip: IpAddr) -> Option<Permits> {
        let ip = limit_key(ip, self.ipv6_prefix);
        let mut map = self.per_ip.lock().ok()?;
        let count = map.entry(ip).or_insert(0);
        if *count >= self.max_per_ip {
            return None;
        }
        *count += 1;
        drop(map);
        Some(Permits {
            _total: total,
            _per_ip: PerIpPermit {
                map: self.per_ip.clone(),
                ip,
            },
        })
    }
}

/// One connection's share of its address's count; gives it back when dropped.
struct PerIpPermit {
    map: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl Drop for PerIpPermit {
    fn drop(&mut self) {
        if let Ok(mut map) = self.map.lock()
            && let Some(count) = map.get_mut(&self.ip)
        {
            *count -= 1;
            if *count == 0 {
                map.remove(&self.ip);
            }
        }
    }
}
