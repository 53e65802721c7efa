//! Limits of the HTTP listeners (`/metrics` and the admin socket): **a cap on open
//! connections (more are closed at once), an idle timeout and a lifetime per connection**, so
//! that connections to them can never use up the descriptors and memory POP3 needs. A request
//! head is bounded by hyper (about 400 KiB, 100 headers).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

use crate::config::HttpLimits;

/// The longest any HTTP connection lives (a scrape or an admin call takes milliseconds;
/// Prometheus reconnects).
const LIFETIME: Duration = Duration::from_secs(300);

/// A listener whose connections are capped and timed.
pub(crate) struct Limited<L> {
    inner: L,
    permits: Arc<Semaphore>,
    idle: Duration,
}

impl<L> Limited<L> {
    /// `inner` under `limits`.
    pub(crate) fn new(inner: L, limits: HttpLimits) -> Limited<L> {
        Limited {
            inner,
            permits: Arc::new(Semaphore::new(limits.connections)),
            idle: limits.idle,
        }
    }
}

impl<L: Listener> Listener for Limited<L> {
    type Io = LimitedIo<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (io, addr) = self.inner.accept().await;
            if let Ok(permit) = self.permits.clone().try_acquire_owned() {
                return (LimitedIo::new(io, permit, self.idle), addr);
            }
            // Over the cap: closed at once, before a byte is read.
            drop(io);
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection holding its permit, closed when idle too long or too old.
pub(crate) struct LimitedIo<T> {
    io: T,
    _permit: OwnedSemaphorePermit,
    idle: Duration,
    idle_timer: Pin<Box<Sleep>>,
    end: Pin<Box<Sleep>>,
}

impl<T> LimitedIo<T> {
    fn new(io: T, permit: OwnedSemaphorePermit, idle: Duration) -> LimitedIo<T> {
        let now = Instant::now();
        LimitedIo {
            io,
            _permit: permit,
            idle,
            idle_timer: Box::pin(tokio::time::sleep_until(now + idle)),
            end: Box::pin(tokio::time::sleep_until(now + LIFETIME)),
        }
    }

    /// An error once the connection has lived too long.
    fn check_lifetime(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        match self.end.as_mut().poll(cx) {
            Poll::Ready(()) => Err(timed_out("connection too old")),
            Poll::Pending => Ok(()),
        }
    }
}

fn timed_out(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, why)
}

impl<T: AsyncRead + Unpin> AsyncRead for LimitedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check_lifetime(cx)?;
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(result) => {
                let deadline = Instant::now() + this.idle;
                this.idle_timer.as_mut().reset(deadline);
                Poll::Ready(result)
            }
            Poll::Pending => match this.idle_timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(timed_out("idle"))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for LimitedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check_lifetime(cx)?;
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check_lifetime(cx)?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
