//! The server's live state, through its admin socket: versioned JSON over HTTP on a Unix
//! socket, with the types shared in `pop3_admin_api`; and [`Nodes`], the one or several pop3d
//! nodes a command watches, each asked on its own so that one down hides none of the others.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use pop3_admin_api::{
    API_VERSION, ApiError, EndedSession, KickResponse, LOCKS_PATH, LockInfo, LocksResponse,
    OVERVIEW_PATH, OverviewResponse, SESSIONS_PATH, SessionInfo, SessionsResponse,
    UserSessionsResponse, kick_path, user_sessions_path,
};
use pop3_config::AdminNode;
use serde::de::DeserializeOwned;

/// How long a whole request may take (connect to last octet) before the server counts as
/// unreachable: **a deadline per request, not a timeout per read**, so a peer trickling its
/// answer cannot hold a poll (or `status`) for longer.
const TIMEOUT: Duration = Duration::from_secs(3);
/// The largest answer read.
const MAX_ANSWER: usize = 16 * 1024 * 1024;

/// A client of one admin socket.
#[derive(Clone, Debug)]
pub struct AdminClient {
    socket: PathBuf,
    timeout: Duration,
}

impl AdminClient {
    pub fn new(socket: &Path) -> AdminClient {
        AdminClient {
            socket: socket.to_owned(),
            timeout: TIMEOUT,
        }
    }

    pub fn sessions(&self) -> Result<Vec<SessionInfo>> {
        let response: SessionsResponse = self.request("GET", SESSIONS_PATH)?;
        check_version(response.version)?;
        Ok(response.sessions)
    }

    pub fn locks(&self) -> Result<Vec<LockInfo>> {
        let response: LocksResponse = self.request("GET", LOCKS_PATH)?;
        check_version(response.version)?;
        Ok(response.locks)
    }

    /// The overview (issue 20): facts, counts and the last 15 minutes.
    pub fn overview(&self) -> Result<OverviewResponse> {
        self.request("GET", OVERVIEW_PATH)
    }

    /// `name`'s recent ended sessions, most recent first (issue 20).
    pub fn user_sessions(&self, name: &str) -> Result<Vec<EndedSession>> {
        let response: UserSessionsResponse = self.request("GET", &user_sessions_path(name))?;
        check_version(response.version)?;
        Ok(response.sessions)
    }

    /// Kicks a session; false if the server has no such session.
    pub fn kick(&self, session: u64) -> Result<bool> {
        let response: KickResponse = self.request("POST", &kick_path(session))?;
        check_version(response.version)?;
        Ok(response.kicked)
    }

    /// One request. **The API version is checked before the answer is decoded**, so a
    /// server of another version is reported as that, in one line, whatever its JSON.
    fn request<T: DeserializeOwned>(&self, method: &str, path: &str) -> Result<T> {
        let (status, body) = self.exchange(method, path)?;
        if !(200..300).contains(&status) && status != 404 {
            bail!("the server answered {status}: {}", shortened(&body));
        }
        let unexpected = || {
            Unreachable::new(
                Why::Incompatible,
                format!("unexpected answer from pop3d: {}", shortened(&body)),
            )
        };
        let value: serde_json::Value = serde_json::from_str(&body).map_err(|_| unexpected())?;
        match value.get("version").and_then(serde_json::Value::as_u64) {
            Some(version) if version == u64::from(API_VERSION) => {}
            Some(version) => {
                return Err(Unreachable::new(
                    Why::Incompatible,
                    format!(
                        "pop3d speaks admin API version {version}, this pop3-admin version \
                         {API_VERSION}: use the pop3-admin of the same release"
                    ),
                )
                .into());
            }
            None => return Err(unexpected().into()),
        }
        if status == 404 && serde_json::from_value::<ApiError>(value.clone()).is_ok() {
            return Err(Unreachable::new(
                Why::Incompatible,
                format!("this pop3d has no {path}: it is older than this pop3-admin"),
            )
            .into());
        }
        Ok(serde_json::from_value(value).map_err(|_| unexpected())?)
    }

    /// Sends one request and reads the status and body of the answer.
    fn exchange(&self, method: &str, path: &str) -> Result<(u16, String)> {
        let socket = self.socket.display();
        let mut stream = UnixStream::connect(&self.socket).map_err(|e| match e.kind() {
            std::io::ErrorKind::PermissionDenied => Unreachable::new(
                Why::Denied,
                format!(
                    "permission denied on {socket}: this user may not use pop3d's admin \
                     socket (run as root or as a member of its group)"
                ),
            ),
            std::io::ErrorKind::NotFound => Unreachable::new(
                Why::Down,
                format!("pop3d is not running at {socket} (no such socket)"),
            ),
            _ => Unreachable::new(Why::Down, format!("pop3d is not running at {socket} ({e})")),
        })?;
        let deadline = Instant::now() + self.timeout;
        let late = || {
            Unreachable::new(
                Why::Down,
                format!(
                    "pop3d did not answer on {socket} within {} s",
                    self.timeout.as_secs_f64()
                ),
            )
        };
        let left = || {
            deadline
                .checked_duration_since(Instant::now())
                .filter(|left| !left.is_zero())
        };
        stream.set_write_timeout(Some(left().ok_or_else(late)?))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: pop3d\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        )?;
        let mut response = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            stream.set_read_timeout(Some(left().ok_or_else(late)?))?;
            match stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => response.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(late().into());
                }
                Err(e) => {
                    return Err(Unreachable::new(
                        Why::Down,
                        format!("pop3d did not answer on {socket} ({e})"),
                    )
                    .into());
                }
            }
            if response.len() > MAX_ANSWER {
                bail!("the server's answer is larger than {MAX_ANSWER} octets");
            }
        }
        let text = String::from_utf8(response).context("the server's answer is not UTF-8")?;
        let (head, body) = text
            .split_once("\r\n\r\n")
            .context("the server's answer is not HTTP")?;
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("the server's answer has no status")?;
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)?
        } else {
            body.to_owned()
        };
        Ok((status, body))
    }
}

/// Why a node gave no usable answer, when the caller must tell the cases apart (`status`
/// maps them to exit codes): carried as the error's context, its message the one line shown.
#[derive(Debug)]
pub struct Unreachable {
    pub why: Why,
    message: String,
}

/// The kinds of [`Unreachable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// Nothing answers on the socket: pop3d is not running (or hangs).
    Down,
    /// This user may not open the socket.
    Denied,
    /// pop3d answered, but in another API version or shape.
    Incompatible,
}

impl Unreachable {
    pub fn new(why: Why, message: String) -> Unreachable {
        Unreachable { why, message }
    }

    /// Why `error` came about, if it is one of these.
    pub fn why(error: &anyhow::Error) -> Option<Why> {
        error.downcast_ref::<Unreachable>().map(|u| u.why)
    }
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Unreachable {}

/// The start of an answer, for an error message.
fn shortened(body: &str) -> String {
    let mut short: String = body.chars().take(200).collect();
    if short.len() < body.len() {
        short.push_str("...");
    }
    short
}

/// The nodes a command watches: the admin socket of `[admin] socket`, unnamed (neither
/// `[admin.nodes]` nor `--node` given: the tool as it always was), or named nodes.
#[derive(Clone, Debug)]
pub struct Nodes {
    nodes: Vec<(String, AdminClient)>,
    named: bool,
}

/// One node's answer.
#[derive(Debug)]
pub struct NodeAnswer<T> {
    /// The node's name ("" for the unnamed local socket).
    pub node: String,
    /// Its answer, or why there is none.
    pub answer: Result<T>,
}

/// Which session `kick` means: `ID`, or `NODE:ID` (session ids are per node).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KickTarget {
    pub node: Option<String>,
    pub session: u64,
}

impl Nodes {
    /// The one unnamed node at `socket`.
    pub fn local(socket: &Path) -> Nodes {
        Nodes {
            nodes: vec![(String::new(), AdminClient::new(socket))],
            named: false,
        }
    }

    /// Named nodes, in the order given (names checked by `pop3_config::check_node_name`
    /// and unique: the caller's parsing sees to both).
    pub fn named(nodes: &[AdminNode]) -> Nodes {
        Nodes {
            nodes: nodes
                .iter()
                .map(|n| (n.name.clone(), AdminClient::new(&n.socket)))
                .collect(),
            named: true,
        }
    }

    /// Whether the nodes have names, so that output shows them (a NODE column).
    pub fn is_named(&self) -> bool {
        self.named
    }

    pub fn names(&self) -> Vec<String> {
        self.nodes.iter().map(|(name, _)| name.clone()).collect()
    }

    /// Asks every node at once, a thread each, so a node that is down or hangs costs one
    /// request timeout in all, not one per node; the answers come in node order.
    pub fn ask<T: Send>(
        &self,
        question: impl Fn(&AdminClient) -> Result<T> + Sync,
    ) -> Vec<NodeAnswer<T>> {
        let question = &question;
        std::thread::scope(|scope| {
            let asked: Vec<_> = self
                .nodes
                .iter()
                .map(|(name, client)| (name, scope.spawn(move || question(client))))
                .collect();
            asked
                .into_iter()
                .map(|(name, thread)| NodeAnswer {
                    node: name.clone(),
                    answer: thread
                        .join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("the request panicked"))),
                })
                .collect()
        })
    }

    /// The node a kick goes to: the one named, or the only one. **A bare id with several
    /// nodes is refused**: each node numbers its own sessions, so `42` may be on any of them.
    pub fn resolve(&self, target: &KickTarget) -> Result<(&str, &AdminClient)> {
        let names = self.names().join(", ");
        match (&target.node, self.nodes.as_slice()) {
            (Some(node), _) if !self.named => bail!(
                "`{node}:{}` names a node, but no nodes are configured ([admin.nodes] or \
                 --node NAME=SOCKET); say `kick {}`",
                target.session,
                target.session
            ),
            (Some(node), nodes) => nodes
                .iter()
                .find(|(name, _)| name == node)
                .map(|(name, client)| (name.as_str(), client))
                .with_context(|| format!("no node {node} (the nodes are: {names})")),
            (None, [(name, client)]) => Ok((name.as_str(), client)),
            (None, nodes) => bail!(
                "session ids are per node, and {} nodes are watched: say which, as {}",
                nodes.len(),
                nodes
                    .iter()
                    .map(|(name, _)| format!("{name}:{}", target.session))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        }
    }
}

impl std::str::FromStr for KickTarget {
    type Err = String;

    /// `ID` or `NODE:ID`.
    fn from_str(text: &str) -> Result<KickTarget, String> {
        let (node, id) = match text.rsplit_once(':') {
            Some((node, id)) => {
                pop3_config::check_node_name(node)?;
                (Some(node.to_owned()), id)
            }
            None => (None, text),
        };
        let session = id
            .parse()
            .map_err(|_| format!("`{id}` is not a session id (a number, as `sessions` shows)"))?;
        Ok(KickTarget { node, session })
    }
}

/// Checked again on the decoded answer (`request` checked the raw one).
fn check_version(version: u32) -> Result<()> {
    if version != API_VERSION {
        bail!("pop3d speaks admin API version {version}, this pop3-admin version {API_VERSION}");
    }
    Ok(())
}

fn dechunk(mut body: &str) -> Result<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").context("bad chunked answer")?;
        let size = usize::from_str_radix(size.trim(), 16).context("bad chunk size")?;
        if size == 0 {
            return Ok(out);
        }
        let chunk = rest.get(..size).context("short chunk")?;
        out.push_str(chunk);
        body = rest[size..].strip_prefix("\r\n").unwrap_or(&rest[size..]);
    }
}

#[cfg(test)]
mod tests;
