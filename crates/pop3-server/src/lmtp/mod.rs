//! LMTP delivery (RFC 2033): the MTA hands mail to pop3d on a Unix socket or a TCP address
//! (`[lmtp]`), and pop3d writes it into the recipients' Maildirs.
//!
//! **Who may deliver on the Unix socket is decided by the peer's credentials
//! (`SO_PEERCRED`), not the file's mode**: root, the server's own user and the users named in
//! `lmtp.clients` (Postfix's `postfix`); anyone else is closed without a byte. The socket is
//! mode 0666 so that the check is the only gate, and the MTA needs no group of ours (which
//! would also open the admin socket and the user database to it). TCP peers cannot be
//! checked: keep `lmtp.address` on loopback or a private network.
//!
//! Connections are capped (`lmtp.connections`); on shutdown, sessions between messages are
//! closed with `421` at once and a message in flight is finished, within the grace period.

mod connection;
mod delivery;
mod recipient;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::activation::{Inherited, LMTP_SOCKET_NAME, LMTP_TCP_NAME};
use crate::shared::Shared;

/// The bound LMTP listeners and who may use the Unix one.
pub(crate) struct LmtpListeners {
    unix: Option<UnixListener>,
    tcp: Option<TcpListener>,
    /// Unix users allowed on the socket besides root and the server's own user, by name.
    clients: Vec<String>,
}

impl LmtpListeners {
    /// Binds what `[lmtp]` names (`unix_socket::bind`: a stale socket is replaced, a live
    /// one or anything else at the path is an error), or takes the socket the service
    /// manager passed for it (`lmtp`, `lmtp-tcp`: see `activation`).
    pub(crate) async fn bind(
        lmtp: &pop3_config::Lmtp,
        inherited: &mut Inherited,
    ) -> Result<LmtpListeners> {
        let unix = match &lmtp.socket {
            Some(path) => match inherited.take_unix(LMTP_SOCKET_NAME, path, "lmtp.socket")? {
                Some(listener) => Some(listener),
                None => Some(bind_socket(path)?),
            },
            None => None,
        };
        let tcp = match lmtp.address {
            Some(address) => match inherited.take_tcp(LMTP_TCP_NAME, address, "lmtp.address")? {
                Some(listener) => Some(listener),
                None => Some(
                    TcpListener::bind(address)
                        .await
                        .with_context(|| format!("`lmtp.address`: cannot listen on {address}"))?,
                ),
            },
            None => None,
        };
        let clients = lmtp.clients.clone();
        Ok(LmtpListeners { unix, tcp, clients })
    }

    /// Where the TCP listener is bound, if there is one (useful with port 0).
    pub(crate) fn tcp_addr(&self) -> Option<std::net::SocketAddr> {
        self.tcp.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Accepts until shutdown, then waits for the sessions (up to `grace`).
    pub(crate) async fn serve(self, shared: Arc<Shared>, grace: Duration) {
        let Some(lmtp) = shared.config.lmtp.as_ref() else {
            return;
        };
        // One pool per listener: local users who can reach a TCP port cannot take the
        // connections the MTA needs on the socket.
        let unix_permits = Arc::new(Semaphore::new(lmtp.connections));
        let tcp_permits = Arc::new(Semaphore::new(lmtp.connections));
        let mut sessions = JoinSet::new();
        let mut shutdown = shared.shutdown.clone();
        let mut allowed = Allowed::new(self.clients);
        loop {
            if *shutdown.borrow() {
                break;
            }
            tokio::select! {
                _ = shutdown.changed() => {}
                accepted = accept_unix(self.unix.as_ref()) => {
                    let Some(stream) = accepted else { continue };
                    let Some(peer) = allowed.check(&stream) else { continue };
                    spawn(&mut sessions, &unix_permits, shared.clone(), stream, peer);
                }
                accepted = accept_tcp(self.tcp.as_ref()) => {
                    let Some((stream, address)) = accepted else { continue };
                    spawn_tcp(&mut sessions, &tcp_permits, shared.clone(), stream, address);
                }
                Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            }
        }
        drop(self.unix);
        drop(self.tcp);
        if tokio::time::timeout(grace, async {
            while sessions.join_next().await.is_some() {}
        })
        .await
        .is_err()
        {
            warn!("LMTP sessions still running at the end of the grace period were stopped");
        }
    }
}

/// A TCP connection: served at once, or, with `lmtp.proxy_protocol`, once its PROXY header
/// (from a trusted proxy, within `timeouts.proxy_header_secs`) has named the MTA, which is
/// then the peer in the logs. A refused one is closed without a reply, as on the POP3
/// listeners (`peer::identify`).
fn spawn_tcp(
    sessions: &mut JoinSet<()>,
    permits: &Arc<Semaphore>,
    shared: Arc<Shared>,
    stream: tokio::net::TcpStream,
    socket_peer: std::net::SocketAddr,
) {
    let trusted = shared
        .config
        .lmtp
        .as_ref()
        .and_then(|l| l.trusted_proxies.clone());
    let Some(trusted) = trusted else {
        spawn(sessions, permits, shared, stream, socket_peer.to_string());
        return;
    };
    let Ok(permit) = permits.clone().try_acquire_owned() else {
        warn!(peer = %socket_peer, "LMTP connection limit reached; connection closed");
        return;
    };
    sessions.spawn(async move {
        let mut stream = stream;
        let timeout = shared.config.timeouts.proxy_header;
        let peer = crate::peer::identify(&mut stream, socket_peer, Some(&trusted), timeout).await;
        match peer {
            Ok(peer) => {
                let shown = match peer.proxy {
                    Some(proxy) => format!("{} (via {proxy})", peer.addr),
                    None => peer.addr.to_string(),
                };
                connection::serve(shared, stream, shown).await;
            }
            Err(refused) => {
                shared.metrics.rejected(refused.reason());
                warn!(peer = %socket_peer.ip(), reason = %refused,
                    "LMTP PROXY listener: connection closed without a reply");
            }
        }
        drop(permit);
    });
}

fn spawn<S>(
    sessions: &mut JoinSet<()>,
    permits: &Arc<Semaphore>,
    shared: Arc<Shared>,
    stream: S,
    peer: String,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let Ok(permit) = permits.clone().try_acquire_owned() else {
        // Over the limit: told so and closed; the MTA retries on its own schedule.
        warn!(%peer, "LMTP connection limit reached; connection refused with 421");
        tokio::spawn(async move {
            let mut stream = stream;
            let refusal = b"421 4.3.2 too many connections, try again later\r\n";
            let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(refusal)).await;
        });
        return;
    };
    sessions.spawn(async move {
        connection::serve(shared, stream, peer).await;
        drop(permit);
    });
}

async fn accept_unix(listener: Option<&UnixListener>) -> Option<UnixStream> {
    let Some(listener) = listener else {
        return std::future::pending().await;
    };
    match listener.accept().await {
        Ok((stream, _)) => Some(stream),
        Err(e) => {
            warn!(error = %e, "LMTP accept failed");
            tokio::time::sleep(Duration::from_millis(100)).await;
            None
        }
    }
}

async fn accept_tcp(
    listener: Option<&TcpListener>,
) -> Option<(tokio::net::TcpStream, std::net::SocketAddr)> {
    let Some(listener) = listener else {
        return std::future::pending().await;
    };
    match listener.accept().await {
        Ok(accepted) => Some(accepted),
        Err(e) => {
            warn!(error = %e, "LMTP accept failed");
            tokio::time::sleep(Duration::from_millis(100)).await;
            None
        }
    }
}

/// Who may deliver on the Unix socket: root, the server's own uid, and the users named in
/// `lmtp.clients`. **Names are matched against the peer's uid when it connects, not
/// resolved once at start**, so a `postfix` user created after pop3d started (a first
/// `apt install pop3d postfix`) is let in without a restart; uids found allowed are
/// remembered.
struct Allowed {
    names: Vec<String>,
    uids: Vec<u32>,
}

impl Allowed {
    fn new(names: Vec<String>) -> Allowed {
        let uids = vec![0, nix::unistd::Uid::effective().as_raw()];
        Allowed { names, uids }
    }

    /// The peer's name for logs if it may deliver; else logs why not and `None` (the
    /// connection is dropped without a reply).
    fn check(&mut self, stream: &UnixStream) -> Option<String> {
        let cred = match stream.peer_cred() {
            Ok(cred) => cred,
            Err(e) => {
                warn!(error = %e, "LMTP: cannot read the peer's credentials; refused");
                return None;
            }
        };
        let uid = cred.uid();
        let shown = |name: &str| format!("{name} (uid {uid}, pid {})", cred.pid().unwrap_or(0));
        if self.uids.contains(&uid) {
            return Some(shown(&user_name(uid).unwrap_or_default()));
        }
        let name = user_name(uid);
        match name {
            Some(name) if self.names.contains(&name) => {
                self.uids.push(uid);
                Some(shown(&name))
            }
            _ => {
                let name = name.unwrap_or_else(|| "(no such user)".to_owned());
                warn!(
                    uid,
                    user = %name,
                    "LMTP: a peer whose user is not in `lmtp.clients` was refused"
                );
                None
            }
        }
    }
}

/// The name of `uid` in the user database of the system (`getpwuid`).
fn user_name(uid: u32) -> Option<String> {
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok()??;
    Some(user.name)
}

/// Binds the socket, mode 0666 (the peer check is the gate).
fn bind_socket(path: &Path) -> Result<UnixListener> {
    let listener = crate::unix_socket::bind(path, 0o666, "lmtp.socket")?;
    info!(socket = %path.display(), "LMTP listening");
    Ok(listener)
}
