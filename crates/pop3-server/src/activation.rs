//! systemd socket activation: the listening sockets a service manager passes
//! (`sd_listen_fds_with_names(3)`: `LISTEN_PID`, `LISTEN_FDS`, `LISTEN_FDNAMES`, descriptors
//! from 3).
//!
//! [`Inherited::from_env`] takes them once, before any thread starts: the variables are then
//! unset (children do not inherit them) and each descriptor is close-on-exec. `Server::bind`
//! matches them to the configured listeners **by name** (`[[listener]] name`, default `pop3` or
//! `pop3s`; `lmtp` for `lmtp.socket`, `lmtp-tcp` for `lmtp.address`): **a listener with a
//! passed socket never binds its own, so no address is bound twice**. A passed socket must be
//! a listening stream socket of the listener's kind (TCP or Unix), else startup fails; so does
//! a name matching no configured listener (a socket nobody accepts on would hold clients in
//! its queue forever), or matching several (which one is meant is a guess).
//!
//! Non-goals: sockets without a name in `LISTEN_FDNAMES` (matched by address, as some
//! servers do); the metrics and admin sockets (pop3d binds those itself).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use anyhow::{Context, Result, bail};
use socket2::{Domain, Socket, Type};
use tracing::{info, warn};

/// The name of the LMTP Unix socket among passed sockets.
pub const LMTP_SOCKET_NAME: &str = "lmtp";
/// The name of the LMTP TCP socket among passed sockets.
pub const LMTP_TCP_NAME: &str = "lmtp-tcp";

/// Listening sockets passed by the service manager, by name, not yet claimed by a listener.
#[derive(Debug, Default)]
pub struct Inherited {
    sockets: HashMap<String, Socket>,
}

/// What a listener expects a passed socket to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    /// IPv4 or IPv6 TCP.
    Tcp,
    /// A Unix stream socket.
    Unix,
}

impl Inherited {
    /// Takes the sockets passed to this process (none without `LISTEN_FDS`, or when
    /// `LISTEN_PID` names another process) and unsets the variables.
    ///
    /// Call it before any other thread runs: unsetting environment variables is only sound
    /// in a single-threaded process.
    pub fn from_env() -> Result<Inherited> {
        // sd_listen_fds(3) ignores variables meant for another process, but sd-notify 0.4.5
        // still checks LISTEN_FDNAMES against zero descriptors then, so that case is ours.
        let ours = std::env::var("LISTEN_PID").ok() == Some(std::process::id().to_string());
        let passed = match sd_notify::listen_fds_with_names(true) {
            Ok(passed) => passed.collect::<Vec<_>>(),
            Err(_) if !ours => Vec::new(),
            Err(e) => {
                return Err(e).context("socket activation: bad LISTEN_FDS or LISTEN_FDNAMES");
            }
        };
        let mut sockets = HashMap::new();
        for (fd, name) in passed {
            let socket = adopt(fd);
            if sockets.insert(name.clone(), socket).is_some() {
                bail!(
                    "socket activation: several sockets are named `{name}`; give each socket \
                     unit its own FileDescriptorName= (one socket per name)"
                );
            }
        }
        Ok(Inherited { sockets })
    }

    /// Whether no socket is left unclaimed.
    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    /// The names of the sockets not yet claimed.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.sockets.keys().cloned().collect();
        names.sort();
        names
    }

    /// Claims the socket named `name`, if one was passed, after checking it is a listening
    /// stream socket of `family`. `key` names the listener in errors.
    fn take(&mut self, name: &str, family: Family, key: &str) -> Result<Option<Socket>> {
        let Some(socket) = self.sockets.remove(name) else {
            return Ok(None);
        };
        check(&socket, family)
            .with_context(|| format!("`{key}`: the socket passed as `{name}` does not fit"))?;
        Ok(Some(socket))
    }

    /// Claims the TCP socket named `name` for a listener configured at `configured` (named
    /// `key` in errors), as tokio's listener; a different address is logged, as the socket
    /// unit's address is the one served.
    pub(crate) fn take_tcp(
        &mut self,
        name: &str,
        configured: SocketAddr,
        key: &str,
    ) -> Result<Option<tokio::net::TcpListener>> {
        let Some(socket) = self.take(name, Family::Tcp, key)? else {
            return Ok(None);
        };
        socket.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(socket.into())?;
        let address = listener.local_addr()?;
        if address != configured {
            warn!(%name, %address, %configured,
                "`{key}`: the socket passed by the service manager is served at its own address, not the configured one");
        }
        info!(%name, %address, "listening on a socket passed by the service manager");
        Ok(Some(listener))
    }

    /// Claims the Unix socket named `name`, for `key` configured at `configured`.
    pub(crate) fn take_unix(
        &mut self,
        name: &str,
        configured: &Path,
        key: &str,
    ) -> Result<Option<tokio::net::UnixListener>> {
        let Some(socket) = self.take(name, Family::Unix, key)? else {
            return Ok(None);
        };
        socket.set_nonblocking(true)?;
        let listener = tokio::net::UnixListener::from_std(socket.into())?;
        let path = listener.local_addr()?.as_pathname().map(Path::to_path_buf);
        if path.as_deref() != Some(configured) {
            warn!(%name, socket = ?path, configured = %configured.display(),
                "`{key}`: the socket passed by the service manager is served at its own path, not the configured one");
        }
        info!(%name, socket = ?path, "listening on a socket passed by the service manager");
        Ok(Some(listener))
    }

    /// Fails if a passed socket matched no configured listener.
    pub(crate) fn finish(self) -> Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        bail!(
            "socket activation: no configured listener is named {} (listener names: \
             `[[listener]] name`, default \"pop3\" or \"pop3s\"; \"{LMTP_SOCKET_NAME}\" for \
             lmtp.socket, \"{LMTP_TCP_NAME}\" for lmtp.address)",
            self.names()
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// Owns a descriptor `sd_notify::listen_fds_with_names` returned.
#[allow(unsafe_code)]
fn adopt(fd: RawFd) -> Socket {
    // SAFETY: `fd` lies in 3..3+LISTEN_FDS, and LISTEN_PID named this process:
    // sd_listen_fds(3)'s contract is that these descriptors were opened by the service
    // manager for this process alone and nothing else in it owns them. `from_env` runs once
    // (the variables are unset after it), so each is adopted by exactly one `OwnedFd`, and
    // `listen_fds_with_names` already checked each is open (setting FD_CLOEXEC).
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    Socket::from(owned)
}

/// A listening stream socket of `family` (`SO_ACCEPTCONN`, `SO_TYPE`, `SO_DOMAIN`).
fn check(socket: &Socket, family: Family) -> Result<()> {
    let domain = socket.domain().context("not a socket")?;
    let fits = match family {
        Family::Tcp => domain == Domain::IPV4 || domain == Domain::IPV6,
        Family::Unix => domain == Domain::UNIX,
    };
    if !fits {
        bail!("expected a {family:?} socket, got {domain:?}");
    }
    if socket.r#type()? != Type::STREAM {
        bail!("not a stream socket (ListenStream=)");
    }
    if !socket.is_listener()? {
        bail!("not listening");
    }
    Ok(())
}
