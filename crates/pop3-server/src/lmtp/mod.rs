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
use tokio::net::{TcpListener, UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::shared::Shared;

/// The bound LMTP listeners and who may use the Unix one.
pub(crate) struct LmtpListeners {
    unix: Option<UnixListener>,
    tcp: Option<TcpListener>,
    /// Unix users allowed on the socket besides root and the server's own user.
    clients: Vec<u32>,
}

impl LmtpListeners {
    /// Binds what `[lmtp]` names: a stale socket file is replaced, anything else at the
    /// path is an error. Client names are resolved now (a name with no user is logged and
    /// skipped: Postfix may be installed later).
    pub(crate) async fn bind(lmtp: &pop3_config::Lmtp) -> Result<LmtpListeners> {
        let unix = match &lmtp.socket {
            Some(path) => Some(bind_socket(path)?),
            None => None,
        };
        let tcp = match lmtp.address {
            Some(address) => Some(
                TcpListener::bind(address)
                    .await
                    .with_context(|| format!("`lmtp.address`: cannot listen on {address}"))?,
            ),
            None => None,
        };
        let mut clients = Vec::new();
        for name in &lmtp.clients {
            match nix::unistd::User::from_name(name) {
                Ok(Some(user)) => clients.push(user.uid.as_raw()),
                _ => warn!(user = %name, "`lmtp.clients`: no such user; ignored"),
            }
        }
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
        let permits = Arc::new(Semaphore::new(lmtp.connections));
        let mut sessions = JoinSet::new();
        let mut shutdown = shared.shutdown.clone();
        let allowed = Allowed::new(self.clients);
        loop {
            if *shutdown.borrow() {
                break;
            }
            tokio::select! {
                _ = shutdown.changed() => {}
                accepted = accept_unix(self.unix.as_ref()) => {
                    let Some(stream) = accepted else { continue };
                    let Some(peer) = allowed.check(&stream) else { continue };
                    spawn(&mut sessions, &permits, shared.clone(), stream, peer);
                }
                accepted = accept_tcp(self.tcp.as_ref()) => {
                    let Some((stream, address)) = accepted else { continue };
                    spawn(&mut sessions, &permits, shared.clone(), stream, address.to_string());
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
        // Over the limit: closed at once; the MTA retries on its own schedule.
        warn!(%peer, "LMTP connection limit reached; connection closed");
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

/// The uids allowed on the Unix socket.
struct Allowed {
    uids: Vec<u32>,
}

impl Allowed {
    fn new(mut clients: Vec<u32>) -> Allowed {
        clients.push(0);
        clients.push(nix::unistd::Uid::effective().as_raw());
        Allowed { uids: clients }
    }

    /// The peer's name for logs if it may deliver; else logs why not and `None` (the
    /// connection is dropped without a reply).
    fn check(&self, stream: &UnixStream) -> Option<String> {
        match stream.peer_cred() {
            Ok(cred) if self.uids.contains(&cred.uid()) => Some(format!(
                "uid {} pid {}",
                cred.uid(),
                cred.pid().unwrap_or(0)
            )),
            Ok(cred) => {
                warn!(
                    uid = cred.uid(),
                    "LMTP: a peer not in `lmtp.clients` was refused"
                );
                None
            }
            Err(e) => {
                warn!(error = %e, "LMTP: cannot read the peer's credentials; refused");
                None
            }
        }
    }
}

/// Binds the socket, mode 0666 (the peer check is the gate).
fn bind_socket(path: &Path) -> Result<UnixListener> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_socket() {
            std::fs::remove_file(path)
                .with_context(|| format!("`lmtp.socket`: cannot replace {}", path.display()))?;
        } else {
            anyhow::bail!(
                "`lmtp.socket`: {} exists and is not a socket",
                path.display()
            );
        }
    }
    let listener = UnixListener::bind(path)
        .with_context(|| format!("`lmtp.socket`: cannot listen on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
        .with_context(|| format!("`lmtp.socket`: cannot set the mode of {}", path.display()))?;
    info!(socket = %path.display(), "LMTP listening");
    Ok(listener)
}
