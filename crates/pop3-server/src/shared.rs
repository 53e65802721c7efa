//! What every connection shares: the configuration, the protocol policies, the login service,
//! TLS, the shutdown signal, the session registry and the metrics.
//!
//! Built once by `Server::bind`; each connection task holds an `Arc` of it. Nothing here
//! refers back to the accept loop, so `server.rs` depends on this module and on
//! `connection.rs`, and `connection.rs` on this one, never the other way round.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use pop3_auth::apop;
use pop3_metrics::Metrics;
use pop3_proto::Connection;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::server::TlsStream;

use crate::config::{Config, TlsMode};
use crate::login::Login;
use crate::peer::Peer;
use crate::registry::{Registry, unix_now};
use crate::stream::Stream;
use crate::tls::Tls;
use crate::user_terms::PerUserCache;

/// What every connection shares.
pub(crate) struct Shared {
    pub(crate) config: Config,
    /// The protocol policy for STLS listeners (STLS offered when TLS is configured).
    protocol_starttls: Arc<pop3_proto::Config>,
    /// The protocol policy for implicit-TLS and plaintext-only listeners.
    protocol_plain: Arc<pop3_proto::Config>,
    /// Authentication: throttle, hash permits, the user database.
    pub(crate) login: Login,
    pub(crate) tls: Option<Tls>,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) registry: Arc<Registry>,
    pub(crate) metrics: Arc<Metrics>,
    /// UPDATEs in progress, which shutdown waits for.
    pub(crate) commits: Commits,
    /// Whether some user has their own LOGIN-DELAY or EXPIRE (CAPA before login).
    pub(crate) per_user: Arc<PerUserCache>,
    next_session: AtomicU64,
}

/// The count of commits (UPDATEs) in progress in the server.
#[derive(Clone, Default)]
pub(crate) struct Commits(Arc<AtomicUsize>);

/// One commit in progress; dropping it ends it.
pub(crate) struct CommitRunning(Arc<AtomicUsize>);

impl Commits {
    /// Counts a commit until the returned guard is dropped.
    pub(crate) fn start(&self) -> CommitRunning {
        self.0.fetch_add(1, Ordering::SeqCst);
        CommitRunning(self.0.clone())
    }

    /// Waits until no commit runs, or `limit` passed; false in the second case.
    pub(crate) async fn wait_idle(&self, limit: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while self.0.load(Ordering::SeqCst) > 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        true
    }
}

impl Drop for CommitRunning {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    /// Assembles the shared state; `login` is built by the caller, which can fail.
    pub(crate) fn new(
        config: Config,
        login: Login,
        tls: Option<Tls>,
        shutdown: watch::Receiver<bool>,
        metrics: Arc<Metrics>,
    ) -> Shared {
        let protocol_starttls = Arc::new(pop3_proto::Config {
            starttls: true,
            ..config.protocol.clone()
        });
        let protocol_plain = Arc::new(config.protocol.clone());
        Shared {
            protocol_starttls,
            protocol_plain,
            login,
            tls,
            shutdown,
            registry: Arc::new(Registry::new(config.history)),
            metrics,
            commits: Commits::default(),
            per_user: PerUserCache::new(config.user_db.clone()),
            next_session: AtomicU64::new(0),
            config,
        }
    }

    /// A new session id, unique for the life of the process.
    pub(crate) fn next_session_id(&self) -> u64 {
        self.next_session.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The protocol policy for a listener: STLS is offered only where it can be served.
    pub(crate) fn protocol_for(&self, mode: TlsMode) -> Arc<pop3_proto::Config> {
        match mode {
            TlsMode::Starttls if self.tls.is_some() => self.protocol_starttls.clone(),
            _ => self.protocol_plain.clone(),
        }
    }

    /// The listener kind, for metrics and the registry.
    pub(crate) fn listener_name(mode: TlsMode) -> &'static str {
        match mode {
            TlsMode::Starttls => "starttls",
            TlsMode::Implicit => "implicit",
            TlsMode::None => "none",
        }
    }

    /// The facts of a connection the protocol needs: TLS, loopback (never through a proxy),
    /// the APOP timestamp (128 random bits, only when APOP is on).
    pub(crate) fn connection_facts(&self, peer: &Peer, secure: bool) -> Connection {
        let apop_timestamp = if self.config.protocol.apop {
            apop::timestamp(&self.config.hostname, unix_now()).ok()
        } else {
            None
        };
        Connection {
            secure,
            loopback: self.config.trust_loopback && peer.is_loopback(),
            apop_timestamp,
            per_user: self.per_user.current(),
        }
    }

    /// The client's stream on a listener of the given kind: TLS from the first byte on
    /// implicit-TLS listeners (`None` if that handshake fails), else plaintext.
    pub(crate) async fn client_stream(&self, tcp: TcpStream, implicit: bool) -> Option<Stream> {
        if implicit {
            let tls = self.handshake(tcp).await?;
            Some(Stream::Tls(Box::new(tls)))
        } else {
            Some(Stream::Plain(tcp))
        }
    }

    /// A TLS handshake with the server's certificate, bounded by the handshake timeout;
    /// `None` if TLS is off, or the handshake failed or timed out.
    pub(crate) async fn handshake(&self, tcp: TcpStream) -> Option<TlsStream<TcpStream>> {
        let timeout = self.config.timeouts.tls_handshake;
        let tls = self.tls.as_ref()?;
        tls.handshake(tcp, timeout, &self.metrics).await
    }
}
