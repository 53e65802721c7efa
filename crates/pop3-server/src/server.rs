//! Listeners, connection limits and shutdown.
//!
//! `Server::bind` opens every listener (so a privilege drop can follow), `Server::run` accepts
//! until the shutdown future completes, then tells every session to stop and waits for them up
//! to the grace period. **Each connection holds an RAII permit for the total limit and one for
//! its address; both are released on every exit path.** The total is taken when the
//! connection is accepted, the address's once `peer::identify` has named the client (on a
//! PROXY listener, after its header). Over a limit a plaintext connection gets
//! `-ERR [SYS/TEMP]` and is closed at once; an implicit-TLS one is closed without a plaintext
//! byte. A connection `identify` refuses is closed without any reply.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use pop3_admin_api::ListenerFacts;
use pop3_metrics::Metrics;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use crate::activation::Inherited;
use crate::config::{Config, TlsMode};
use crate::connection;
use crate::http;
use crate::limits::ConnectionLimits;
use crate::lmtp::LmtpListeners;
use crate::login::Login;
use crate::overview::Overview;
use crate::peer::{self, canonical_peer};
use crate::shared::Shared;
use crate::tls::Tls;
use crate::user_terms::PolicyRefresh;

/// How long startup waits for the first read of which users have their own values.
const PER_USER_FIRST_READ: Duration = Duration::from_secs(2);

/// A server with its listeners bound.
pub struct Server {
    shared: Arc<Shared>,
    limits: ConnectionLimits,
    listeners: Vec<(TcpListener, Arc<ListenerKind>)>,
    metrics_listener: Option<TcpListener>,
    admin_listener: Option<tokio::net::UnixListener>,
    lmtp_listeners: Option<LmtpListeners>,
    shutdown_tx: watch::Sender<bool>,
    overview: Arc<Overview>,
}

impl Server {
    /// Binds the listeners, loads TLS and prepares authentication (one hash, for the dummy).
    pub async fn bind(config: Config) -> Result<Server> {
        Server::bind_activated(config, Inherited::default()).await
    }

    /// [`Server::bind`], except that a listener (POP3 or LMTP) for which the service manager
    /// passed a socket of its name takes that socket instead of binding its own. A passed
    /// socket of the wrong kind, or named by no listener or by several, is an error.
    pub async fn bind_activated(config: Config, mut inherited: Inherited) -> Result<Server> {
        let tls = match &config.tls {
            Some(files) => Some(Tls::load(files)?),
            None => None,
        };
        let mut listeners = Vec::new();
        for listener in &config.listeners {
            let name = &listener.name;
            let sharing = config.listeners.iter().filter(|l| &l.name == name).count();
            if sharing > 1 && inherited.names().contains(name) {
                bail!(
                    "socket activation: {sharing} listeners are named `{name}`; give each its \
                     own `name` in [[listener]] to say which one takes the passed socket"
                );
            }
            let key = format!("listener {name} ({})", listener.address);
            let socket = match inherited.take_tcp(name, listener.address, &key)? {
                Some(socket) => socket,
                None => listen(listener.address)
                    .with_context(|| format!("cannot listen on {}", listener.address))?,
            };
            let kind = ListenerKind {
                tls: listener.tls,
                trusted_proxies: listener.trusted_proxies.clone(),
            };
            listeners.push((socket, Arc::new(kind)));
        }
        let metrics_listener = match config.metrics_address {
            Some(address) => Some(http::bind_metrics(address).await?),
            None => None,
        };
        let admin_listener = match &config.admin_socket {
            Some(path) => Some(http::bind_admin(path)?),
            None => None,
        };
        let lmtp_listeners = match &config.lmtp {
            Some(lmtp) => Some(LmtpListeners::bind(lmtp, &mut inherited).await?),
            None => None,
        };
        inherited.finish()?;
        let (shutdown_tx, shutdown) = watch::channel(false);
        let metrics = Arc::new(Metrics::new(env!("CARGO_PKG_VERSION")));
        let login = Login::new(&config, metrics.clone()).context("authentication setup")?;
        let limits = ConnectionLimits::new(
            config.max_connections,
            config.max_connections_per_ip,
            config.ipv6_prefix,
        );
        let overview = Arc::new(Overview::new(listener_facts(
            &config,
            &listeners,
            lmtp_listeners.as_ref(),
        )));
        let shared = Arc::new(Shared::new(config, login, tls, shutdown, metrics));
        // Whether some user has their own LOGIN-DELAY or EXPIRE, known before the first
        // client (a database that does not answer in time is read again later).
        let _ = tokio::time::timeout(PER_USER_FIRST_READ, shared.per_user.read()).await;
        Ok(Server {
            shared,
            limits,
            listeners,
            metrics_listener,
            admin_listener,
            lmtp_listeners,
            shutdown_tx,
            overview,
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

    /// Where LMTP is served over TCP, if it is (useful with port 0).
    pub fn lmtp_addr(&self) -> Option<SocketAddr> {
        self.lmtp_listeners
            .as_ref()
            .and_then(LmtpListeners::tcp_addr)
    }

    /// The metrics, for what `main` counts (certificate reloads).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.shared.metrics.clone()
    }

    /// A handle to read the users' own LOGIN-DELAY and EXPIRE again now (SIGHUP).
    pub fn policy_refresh(&self) -> PolicyRefresh {
        PolicyRefresh(self.shared.per_user.clone())
    }

    /// The TLS setup, for SIGHUP reloads.
    pub fn tls(&self) -> Option<Tls> {
        self.shared.tls.clone()
    }

    /// Accepts connections until `shutdown` completes; then asks every session to stop and
    /// waits for them, up to the grace period. UPDATEs in progress complete.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<()> {
        let mut accepts = JoinSet::new();
        let shared = &self.shared;
        let limits = shared.config.http_limits;
        if let Some(listener) = self.metrics_listener {
            let (registry, metrics) = (shared.registry.clone(), shared.metrics.clone());
            accepts.spawn(http::serve_metrics_on(listener, limits, registry, metrics));
        }
        if let Some(listener) = self.admin_listener {
            // The history is kept only where someone can ask for it.
            let overview = self.overview.clone();
            accepts.spawn(overview.clone().sample_every_second(shared.clone()));
            accepts.spawn(http::serve_admin_on(
                listener,
                limits,
                shared.clone(),
                overview,
            ));
        }
        // LMTP is not aborted with the accept loops: it stops accepting on the shutdown
        // signal and finishes a message in flight (its own grace period).
        let grace = shared.config.timeouts.shutdown_grace;
        let lmtp = self
            .lmtp_listeners
            .map(|listeners| tokio::spawn(listeners.serve(shared.clone(), grace)));
        let (conn_tx, mut conn_rx) = tokio::sync::mpsc::channel::<Accepted>(64);
        for (listener, kind) in self.listeners {
            accepts.spawn(accept_loop(listener, kind, conn_tx.clone()));
        }
        drop(conn_tx);
        let mut sessions = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = conn_rx.recv() => {
                    let Some(accepted) = accepted else { break };
                    sessions.spawn(admit(shared.clone(), &self.limits, accepted));
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
        drain(sessions, shared.config.timeouts.shutdown_grace).await;
        if let Some(lmtp) = lmtp {
            let _ = lmtp.await;
        }
        // An aborted session's UPDATE goes on in the blocking pool: the unlinks complete
        // before the process exits (bounded, for a dead disk).
        if !shared.commits.wait_idle(COMMIT_EXIT_WAIT).await {
            warn!("an UPDATE was still running at exit");
        }
        Ok(())
    }
}

/// The listeners as the admin overview shows them: the POP3 ones by their bound address and
/// TLS mode, then LMTP's socket and TCP address (`lmtp`).
fn listener_facts(
    config: &Config,
    listeners: &[(TcpListener, Arc<ListenerKind>)],
    lmtp: Option<&LmtpListeners>,
) -> Vec<ListenerFacts> {
    let pop3 = config
        .listeners
        .iter()
        .zip(listeners)
        .map(|(config, (socket, _))| {
            let bound = socket.local_addr().map_or(config.address, |a| a);
            (bound.to_string(), Shared::listener_name(config.tls))
        });
    let lmtp_socket = config.lmtp.as_ref().and_then(|l| l.socket.as_ref());
    let lmtp_socket = lmtp_socket.map(|path| (path.display().to_string(), "lmtp"));
    let lmtp_tcp = lmtp.and_then(LmtpListeners::tcp_addr);
    let lmtp_tcp = lmtp_tcp.map(|address| (address.to_string(), "lmtp"));
    pop3.chain(lmtp_socket)
        .chain(lmtp_tcp)
        .map(|(address, kind)| ListenerFacts {
            address,
            kind: kind.to_owned(),
        })
        .collect()
}

/// How long the exit waits for UPDATEs still running after the sessions ended.
const COMMIT_EXIT_WAIT: Duration = Duration::from_secs(60);

/// What the connections of one listener share: its TLS mode and, on a PROXY protocol
/// listener, the proxies whose headers it believes.
struct ListenerKind {
    tls: TlsMode,
    trusted_proxies: Option<Vec<pop3_config::Cidr>>,
}

/// A connection taken from a listener: its socket, the socket's peer (not yet the client:
/// see `peer::identify`) and its listener.
type Accepted = (TcpStream, SocketAddr, Arc<ListenerKind>);

/// Accepts on one listener and hands each connection to the server's loop.
async fn accept_loop(listener: TcpListener, kind: Arc<ListenerKind>, tx: mpsc::Sender<Accepted>) {
    loop {
        match listener.accept().await {
            Ok((stream, socket_peer)) => {
                if tx.send((stream, socket_peer, kind.clone())).await.is_err() {
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
}

/// The task of one accepted connection: its client identified (the one place the address
/// enters, `peer::identify`), then served with its permits, or refused over a limit.
fn admit(
    shared: Arc<Shared>,
    limits: &ConnectionLimits,
    (mut stream, socket_peer, kind): Accepted,
) -> impl Future<Output = ()> + Send + 'static {
    let total = limits.total();
    let limits = limits.clone();
    async move {
        let timeout = shared.config.timeouts.proxy_header;
        let trusted = kind.trusted_proxies.as_deref();
        let peer = match peer::identify(&mut stream, socket_peer, trusted, timeout).await {
            Ok(peer) => peer,
            Err(refused) => {
                shared.metrics.rejected(refused.reason());
                let from = canonical_peer(socket_peer).ip();
                warn!(peer = %from, reason = %refused, "PROXY listener: connection closed without a reply");
                return;
            }
        };
        match total.and_then(|total| limits.per_address(total, peer.addr.ip())) {
            Some(permits) => {
                connection::serve(shared, stream, peer, kind.tls).await;
                drop(permits);
            }
            None => {
                shared.metrics.rejected("limit");
                refuse(stream, peer.addr, kind.tls).await;
            }
        }
    }
}

/// Waits for the sessions to end, up to `grace`; then ends the rest.
async fn drain(mut sessions: JoinSet<()>, grace: Duration) {
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
