//! The server's live state, through its admin socket: versioned JSON over HTTP on a Unix
//! socket, with the types shared in `pop3_admin_api`.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use pop3_admin_api::{
    API_VERSION, KickResponse, LOCKS_PATH, LockInfo, LocksResponse, SESSIONS_PATH, SessionInfo,
    SessionsResponse, kick_path,
};
use serde::de::DeserializeOwned;

/// How long a request may take before the server counts as unreachable.
const TIMEOUT: Duration = Duration::from_secs(3);

/// A client of one admin socket.
#[derive(Clone, Debug)]
pub struct AdminClient {
    socket: PathBuf,
}

impl AdminClient {
    pub fn new(socket: &Path) -> AdminClient {
        AdminClient {
            socket: socket.to_owned(),
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

    /// Kicks a session; false if the server has no such session.
    pub fn kick(&self, session: u64) -> Result<bool> {
        let response: KickResponse = self.request("POST", &kick_path(session))?;
        check_version(response.version)?;
        Ok(response.kicked)
    }

    fn request<T: DeserializeOwned>(&self, method: &str, path: &str) -> Result<T> {
        let mut stream = UnixStream::connect(&self.socket).with_context(|| {
            format!(
                "the server is not running at {} (or this user may not use its socket)",
                self.socket.display()
            )
        })?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: pop3d\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        )?;
        let mut response = Vec::new();
        stream
            .take(16 * 1024 * 1024)
            .read_to_end(&mut response)
            .context("the server did not answer")?;
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
        if !(200..300).contains(&status) && status != 404 {
            bail!("the server answered {status}: {body}");
        }
        serde_json::from_str(&body).with_context(|| format!("unexpected answer: {body}"))
    }
}

fn check_version(version: u32) -> Result<()> {
    if version != API_VERSION {
        bail!("the server speaks admin API version {version}; this tool knows {API_VERSION}");
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
