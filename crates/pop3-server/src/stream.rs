//! A connection's byte stream: plaintext TCP, or TLS over it (from the start, or after STLS),
//! and [`Client`], which writes a session's output to it.
//!
//! **A client that stops reading is dropped after `output_stall_secs`**: every write and flush
//! is bounded by it, so a stalled reader cannot pin a session (and its maildrop lock).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pop3_proto::Session;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use crate::session_end::End;

/// The client's end of a session: the stream and what has been written to it.
pub(crate) struct Client {
    stream: Stream,
    /// How long one write or flush may wait for the client.
    stall: Duration,
    /// Octets written so far.
    sent: u64,
}

impl Client {
    /// A client on `stream`, whose writes may wait `stall` at most.
    pub(crate) fn new(stream: Stream, stall: Duration) -> Client {
        Client {
            stream,
            stall,
            sent: 0,
        }
    }

    /// How long a write may wait for the client; also the bound on one read of a message
    /// file, so a stuck disk ends the session like a stalled client.
    pub(crate) fn stall(&self) -> Duration {
        self.stall
    }

    /// Octets written to the client so far.
    pub(crate) fn sent(&self) -> u64 {
        self.sent
    }

    /// Reads what the client sent; `Ok(0)` at its end.
    pub(crate) async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf).await
    }

    /// Writes everything the session has produced (advancing it may produce more).
    pub(crate) async fn flush(&mut self, session: &mut Session) -> Result<(), End> {
        loop {
            let pending = session.poll_transmit();
            if pending.is_empty() {
                break;
            }
            match tokio::time::timeout(self.stall, self.stream.write(pending)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return Err(End::ClientGone),
                Ok(Ok(n)) => {
                    self.sent += n as u64;
                    session.advance_transmit(n);
                }
                Err(_) => return Err(End::OutputStalled),
            }
        }
        match tokio::time::timeout(self.stall, self.stream.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::ClientGone),
            Err(_) => Err(End::OutputStalled),
        }
    }

    /// Takes the plaintext socket out for a TLS handshake (STLS); `None` if it is not
    /// plaintext. Until [`Client::set_tls`], reads and writes fail.
    pub(crate) fn take_plain(&mut self) -> Option<TcpStream> {
        self.stream.take_plain()
    }

    /// Continues over TLS after the handshake.
    pub(crate) fn set_tls(&mut self, tls: TlsStream<TcpStream>) {
        self.stream = Stream::Tls(Box::new(tls));
    }

    /// Sends what is pending and closes the connection (the close bounded to 5 s).
    pub(crate) async fn close(&mut self, session: &mut Session) {
        let _ = self.flush(session).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.stream.shutdown()).await;
    }
}

/// Plaintext or TLS. `Upgrading` only exists while STLS swaps one for the other.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Upgrading,
}

impl Stream {
    /// Takes the plaintext socket out for a TLS handshake.
    pub(crate) fn take_plain(&mut self) -> Option<TcpStream> {
        match std::mem::replace(self, Stream::Upgrading) {
            Stream::Plain(tcp) => Some(tcp),
            other => {
                *self = other;
                None
            }
        }
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "stream is being upgraded")
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Upgrading => Poll::Ready(Err(gone())),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Upgrading => Poll::Ready(Err(gone())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s).poll_flush(cx),
            Stream::Upgrading => Poll::Ready(Err(gone())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Upgrading => Poll::Ready(Ok(())),
        }
    }
}
