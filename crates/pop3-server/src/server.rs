//! Listeners, connection limits and shutdown.
//!
//! `Server::bind` opens every listener (so a privilege drop can follow), `Server::run` accepts
//! until the shutdown future completes, then tells every session to stop and waits for them up
//! to the grace period. **Each connection holds an RAII permit for the total limit and one for
//! its address; both are released on every exit path.** Over a limit a plaintext connection
//! gets `-ERR [SYS/TEMP]` and is closed at once; an implicit-TLS one is closed without a
//! plaintext byte.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use pop3_auth::{Authenticator, Throttle};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use pop3_metrics::Metrics;

use crate::config::{Config, TlsMode};
use crate::connection;
use crate::http;
use crate::registry::Registry;
use crate::tls::Tls;

/// What every connection shares.
pub(crate) struct Shared {
    pub(crate) config: Config,
    /// The protocol policy for STLS listeners, and for the others.
    pub(crate) protocol_starttls: Arc<pop3_proto::Config>,
    pub(crate) protocol_plain: Arc<pop3_proto::Config>,
    pub(crate) authenticator: Arc<Authenticator>,
    /// Bounds concurrent argon2 computations, so a PASS flood cannot exhaust memory or CPU.
    pub(crate) hash_permits: Arc<Semaphore>,
    pub(crate) throttle: Mutex<Throttle>,
    pub(crate) tls: Option<Tls>,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) registry: Arc<Registry>,
    pub(crate) metrics: Arc<Metrics>,
    next_session: AtomicU64,
    connections: Arc<Semaphore>,
    per_ip: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Shared {
    pub(crate) fn next_session_id(&self) -> u64 {
        self.next_session.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// A server with its listeners bound.
pub struct Server {
    shared: Arc<Shared>,
    listeners: Vec<(TcpListener, TlsMode)>,
    metrics_listener: Option<TcpListener>,
    admin_listener: Option<tokio::net::UnixListener>,
    shutdown_tx: watch::Sender<bool>,
}

impl Server {
    /// Binds the listeners, loads TLS and prepares authentication (one hash, for the dummy).
    pub async fn bind(config: Config) -> Result<Server> {
        let tls = match &config.tls {
            Some(files) => Some(Tls::load(files)?),
            None => None,
        };
        let mut listeners = Vec::new();
        for listener in &config.listeners {
            let socket = listen(listener.address)
                .with_context(|| format!("cannot listen on {}", listener.address))?;
            listeners.push((socket, listener.tls));
        }
        let metrics_listener = match config.metrics_address {
            Some(address) => Some(http::bind_metrics(address).await?),
            None => None,
        };
        let admin_listener = match &config.admin_socket {
            Some(path) => Some(http::bind_admin(path)?),
            None => None,
        };
        let authenticator = Arc::new(
            Authenticator::new(config.argon2, config.protocol.apop)
                .context("authentication setup")?,
        );
        let (shutdown_tx, shutdown) = watch::channel(false);
        let protocol_starttls = Arc::new(pop3_proto::Config {
            starttls: true,
            ..config.protocol.clone()
        });
        let protocol_plain = Arc::new(config.protocol.clone());
        let shared = Arc::new(Shared {
            hash_permits: Arc::new(Semaphore::new(config.hash_concurrency)),
            throttle: Mutex::new(Throttle::new(config.throttle.clone())),
            connections: Arc::new(Semaphore::new(config.max_connections)),
            per_ip: Arc::new(Mutex::new(HashMap::new())),
            next_session: AtomicU64::new(0),
            protocol_starttls,
            protocol_plain,
            authenticator,
            tls,
            shutdown,
            registry: Arc::new(Registry::default()),
            metrics: Arc::new(Metrics::new(env!("CARGO_PKG_VERSION"))),
            config,
        });
        Ok(Server {
            shared,
            listeners,
            metrics_listener,
            admin_listener,
            shutdown_tx,
        })
    }

    /// The bound addresses, in configuration order (useful with port 0).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|(l, _)| l.local_addr().ok())
            .collect()
    }

    /// Where `/metrics` is served, if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// The TLS setup, for SIGHUP reloads.
    pub fn tls(&self) -> Option<Tls> {
        self.shared.tls.clone()
    }

    /// Accepts connections until `shutdown` completes; then asks every session to stop and
    /// waits for them, up to the grace period. UPDATEs in progress complete.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<()> {
        let mut sessions = JoinSet::new();
        let mut accepts = JoinSet::new();
        if let Some(listener) = self.metrics_listener {
            let (registry, metrics) = (self.shared.registry.clone(), self.shared.metrics.clone());
            accepts.spawn(http::serve_metrics_on(listener, registry, metrics));
        }
        if let Some(listener) = self.admin_listener {
            let (registry, metrics) = (self.shared.registry.clone(), self.shared.metrics.clone());
            accepts.spawn(http::serve_admin_on(listener, registry, metrics));
        }
        let (conn_tx, mut conn_rx) =
            tokio::sync::mpsc::channel::<(TcpStream, SocketAddr, TlsMode)>(64);
        for (listener, mode) in self.listeners {
            let tx = conn_tx.clone();
            accepts.spawn(async move {
                loop {
                    match listener.accept().await {
                        Ok((stream, peer)) => {
                            if tx.send((stream, peer, mode)).await.is_err() {
                                return;
                            }
                        }
                        // Out of file descriptors and the like: pause rather than spin.
                        Err(e) => {
                            warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            });
        }
        drop(conn_tx);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = conn_rx.recv() => {
                    let Some((stream, peer, mode)) = accepted else { break };
                    let shared = self.shared.clone();
                    match admit(&shared, peer.ip()) {
                        Some(permits) => {
                            sessions.spawn(async move {
                                connection::serve(shared, stream, peer, mode).await;
                                drop(permits);
                            });
                        }
                        None => {
                            shared.metrics.rejected("limit");
                            sessions.spawn(refuse(stream, peer, mode));
                        }
                    }
                }
                Some(joined) = sessions.join_next(), if !sessions.is_empty() => {
                    // A panic ends that session only: unwinding dropped its maildrop (the
                    // lock), its registry entry and its permits.
                    if let Err(e) = joined
                        && e.is_panic()
                    {
                        error!("a session panicked and was closed; other sessions continue");
                    }
                }
            }
        }
        info!(sessions = sessions.len(), "shutting down");
        accepts.abort_all();
        let _ = self.shutdown_tx.send(true);
        let grace = self.shared.config.timeouts.shutdown_grace;
        let drained = tokio::time::timeout(grace, async {
            while sessions.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            warn!(
                left = sessions.len(),
                "sessions still running after the grace period"
            );
            sessions.abort_all();
            while sessions.join_next().await.is_some() {}
        }
        Ok(())
    }
}

/// The permits a connection holds: one of the total, one of its address's.
struct Permits {
    _total: OwnedSemaphorePermit,
    _per_ip: PerIpPermit,
}

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

fn admit(shared: &Shared, ip: IpAddr) -> Option<Permits> {
    let total = shared.connections.clone().try_acquire_owned().ok()?;
    let mut map = shared.per_ip.lock().ok()?;
    let count = map.entry(ip).or_insert(0);
    if *count >= shared.config.max_connections_per_ip {
        return None;
    }
    *count += 1;
    drop(map);
    Some(Permits {
        _total: total,
        _per_ip: PerIpPermit {
            map: shared.per_ip.clone(),
            ip,
        },
    })
}

async fn refuse(mut stream: TcpStream, peer: SocketAddr, mode: TlsMode) {
    warn!(rip = %peer.ip(), "connection refused: over the connection limits");
    if mode != TlsMode::Implicit {
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            stream.write_all(b"-ERR [SYS/TEMP] too many connections, try again later\r\n"),
        )
        .await;
    }
    let _ = stream.shutdown().await;
}

/// The accept queue's length (the kernel caps it at `net.core.somaxconn`). tokio's default of
/// 1,024 overflows when a burst of connections (a slowloris attack, a reconnect storm after a
/// restart) arrives while the accept loop is short of CPU; an overflowing queue drops
/// handshakes, and legitimate clients then wait for SYN retransmissions, seconds each.
const LISTEN_BACKLOG: u32 = 4096;

/// Binds a listener with address reuse (a restart finds its port free at once) and a deep
/// accept queue.
fn listen(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}
