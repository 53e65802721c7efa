//! A minimal POP3 client over plaintext TCP: enough to drive a server hard, and to check what
//! it sends (status lines, multi-line terminators, octet counts).

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// One connection.
pub struct Client {
    lines: Lines,
    writer: OwnedWriteHalf,
}

/// A reply the server must send, in order, for [`Client::pipeline`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// This exact status line.
    Line(String),
    /// `+OK` and a multi-line body of this many octets (as LIST counts them).
    Body(u64),
}

/// The reading half: lines and bodies.
struct Lines {
    reader: BufReader<OwnedReadHalf>,
    line: Vec<u8>,
}

impl Client {
    /// Connects and reads the greeting.
    pub async fn connect(addr: &str) -> Result<Client> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connect {addr}"))?;
        stream.set_nodelay(true)?;
        let (read, write) = stream.into_split();
        let mut client = Client {
            lines: Lines {
                reader: BufReader::with_capacity(256 * 1024, read),
                line: Vec::with_capacity(256),
            },
            writer: write,
        };
        client.expect_ok().await.context("greeting")?;
        Ok(client)
    }

    /// USER and PASS.
    pub async fn login(&mut self, user: &str, password: &str) -> Result<()> {
        self.command_ok(&format!("USER {user}")).await?;
        self.command_ok(&format!("PASS {password}"))
            .await
            .with_context(|| format!("login {user}"))?;
        Ok(())
    }

    /// Sends raw bytes (several commands at once for pipelining).
    pub async fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.writer.write_all(bytes).await?;
        Ok(())
    }

    /// Sends one command and requires `+OK`; returns the status line.
    pub async fn command_ok(&mut self, command: &str) -> Result<String> {
        self.send(format!("{command}\r\n").as_bytes()).await?;
        self.expect_ok().await.with_context(|| command.to_owned())
    }

    /// Reads one status line and requires `+OK`.
    pub async fn expect_ok(&mut self) -> Result<String> {
        self.lines.expect_ok().await
    }

    /// Reads one line, without its CRLF.
    pub async fn read_line(&mut self) -> Result<String> {
        self.lines.read_line().await
    }

    /// Reads a multi-line body up to `.` CRLF; returns its octets before un-stuffing, each
    /// line's CRLF included, as LIST counts them (stuffing dots removed).
    pub async fn body_octets(&mut self) -> Result<u64> {
        self.lines.body_octets().await
    }

    /// Reads a multi-line body, discarding it.
    pub async fn skip_body(&mut self) -> Result<u64> {
        self.body_octets().await
    }

    /// Writes `commands` (all at once) while reading and checking the replies, so that
    /// neither side blocks on a full socket buffer (RFC 2449 PIPELINING).
    pub async fn pipeline(&mut self, commands: &[u8], replies: &[Expect]) -> Result<()> {
        let write = async {
            self.writer.write_all(commands).await?;
            anyhow::Ok(())
        };
        tokio::try_join!(write, self.lines.check(replies))?;
        Ok(())
    }

    /// QUIT and wait for the close.
    pub async fn quit(mut self) -> Result<()> {
        self.command_ok("QUIT").await?;
        let mut rest = Vec::new();
        let _ = self.lines.reader.read_to_end(&mut rest).await;
        Ok(())
    }
}

impl Lines {
    async fn expect_ok(&mut self) -> Result<String> {
        let line = self.read_line().await?;
        if !line.starts_with("+OK") {
            bail!("server said {line:?}");
        }
        Ok(line)
    }

    async fn read_line(&mut self) -> Result<String> {
        self.line.clear();
        let n = self.reader.read_until(b'\n', &mut self.line).await?;
        if n == 0 {
            bail!("connection closed");
        }
        let end = self.line.len() - usize::from(self.line.ends_with(b"\r\n")) * 2;
        Ok(String::from_utf8_lossy(&self.line[..end.min(self.line.len())]).into_owned())
    }

    async fn body_octets(&mut self) -> Result<u64> {
        let mut octets = 0u64;
        loop {
            self.line.clear();
            let n = self.reader.read_until(b'\n', &mut self.line).await?;
            if n == 0 {
                bail!("connection closed inside a body");
            }
            if self.line == b".\r\n" {
                return Ok(octets);
            }
            let stuffed = u64::from(self.line.first() == Some(&b'.'));
            octets += n as u64 - stuffed;
        }
    }

    /// Reads one reply per entry of `replies` and compares.
    async fn check(&mut self, replies: &[Expect]) -> Result<()> {
        for (i, expect) in replies.iter().enumerate() {
            match expect {
                Expect::Line(want) => {
                    let got = self.read_line().await?;
                    if got != *want {
                        bail!("reply {}: {got:?}, expected {want:?}", i + 1);
                    }
                }
                Expect::Body(want) => {
                    self.expect_ok().await?;
                    let got = self.body_octets().await?;
                    if got != *want {
                        bail!("reply {}: {got} octets, LIST said {want}", i + 1);
                    }
                }
            }
        }
        Ok(())
    }
}
