//! [`ServerIo`]: an accepted stream as hyper's server connection sees it, with the two duties
//! hyper has no setting for:
//! - the keep-alive timeout (Node's `keepAliveTimeout`): once the last response is written and
//!   neither a request is being served nor a byte of the next one has come, the stream reads
//!   as closed after the timeout, which hyper takes as the peer's end of an idle connection;
//! - linger: a stream dropped before the peer's end (a refusal with part of the request
//!   unread, hyper's `400`/`431` answers, a closed idle connection) is closed and drained on a
//!   task for a short while, so that the kernel does not answer the unread bytes with a reset
//!   that can destroy the response before the peer reads it.

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, future};
use socketio::Runtime;

/// Most bytes read and dropped while lingering.
const LINGER_BYTES: usize = 256 * 1024;
/// Longest wait for the peer's end while lingering.
const LINGER_TIME: Duration = Duration::from_secs(2);

/// The requests of one connection being served (between hyper's call of the service and its
/// answer), shared between the service and the stream.
#[derive(Debug, Default)]
pub(crate) struct InFlight(AtomicUsize);

impl InFlight {
    /// Counts a request until the guard is dropped.
    pub(crate) fn start(self: &Arc<Self>) -> InFlightGuard {
        self.0.fetch_add(1, Ordering::Relaxed);
        InFlightGuard(self.clone())
    }

    fn is_empty(&self) -> bool {
        self.0.load(Ordering::Relaxed) == 0
    }
}

/// One request being served (see [`InFlight::start`]).
pub(crate) struct InFlightGuard(Arc<InFlight>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An accepted stream under hyper (see the module documentation).
pub(crate) struct ServerIo<IO: AsyncRead + AsyncWrite + Send + Unpin + 'static> {
    /// `None` once handed back by [`into_stream`](Self::into_stream).
    io: Option<IO>,
    in_flight: Arc<InFlight>,
    keep_alive: Duration,
    runtime: Arc<dyn Runtime>,
    /// When the last bytes were written, once any were.
    last_write: Option<Instant>,
    /// Bytes came after the last write: a request is arriving or being served.
    read_since_write: bool,
    /// The keep-alive timer, while the connection is idle.
    idle: Option<async_io::Timer>,
    /// The keep-alive timeout passed: the stream reads as closed from now on.
    expired: bool,
    /// The peer's end was read.
    peer_closed: bool,
    /// The write side was closed.
    closed: bool,
}

impl<IO: AsyncRead + AsyncWrite + Send + Unpin + 'static> ServerIo<IO> {
    /// `io`, closed when idle for `keep_alive`, lingering on `runtime` when dropped.
    pub(crate) fn new(io: IO, keep_alive: Duration, runtime: Arc<dyn Runtime>) -> Self {
        ServerIo {
            io: Some(io),
            in_flight: Arc::default(),
            keep_alive,
            runtime,
            last_write: None,
            read_since_write: false,
            idle: None,
            expired: false,
            peer_closed: false,
            closed: false,
        }
    }

    /// The request count the service keeps for this stream.
    pub(crate) fn in_flight(&self) -> Arc<InFlight> {
        self.in_flight.clone()
    }

    /// The stream itself (after an upgrade): no keep-alive timeout, no linger.
    pub(crate) fn into_stream(mut self) -> Option<IO> {
        self.io.take()
    }

    /// Whether the keep-alive timeout passed; arms the timer while the connection is idle.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        let idle_since = match self.last_write {
            Some(at) if !self.read_since_write && self.in_flight.is_empty() => at,
            _ => {
                self.idle = None;
                return false;
            }
        };
        let deadline = idle_since + self.keep_alive;
        let timer = self
            .idle
            .get_or_insert_with(|| async_io::Timer::at(deadline));
        if Pin::new(timer).poll(cx).is_ready() {
            self.expired = true;
            self.idle = None;
            return true;
        }
        false
    }
}

impl<IO: AsyncRead + AsyncWrite + Send + Unpin + 'static> AsyncRead for ServerIo<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.expired || this.poll_expired(cx) {
            return Poll::Ready(Ok(0));
        }
        let Some(io) = this.io.as_mut() else {
            return Poll::Ready(Ok(0));
        };
        let read = std::task::ready!(Pin::new(io).poll_read(cx, buf))?;
        match read {
            0 => this.peer_closed = true,
            _ => {
                this.read_since_write = true;
                this.idle = None;
            }
        }
        Poll::Ready(Ok(read))
    }
}

impl<IO: AsyncRead + AsyncWrite + Send + Unpin + 'static> AsyncWrite for ServerIo<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(io) = this.io.as_mut() else {
            return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
        };
        let written = std::task::ready!(Pin::new(io).poll_write(cx, buf))?;
        this.wrote(written);
        Poll::Ready(Ok(written))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(io) = this.io.as_mut() else {
            return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
        };
        let written = std::task::ready!(Pin::new(io).poll_write_vectored(cx, bufs))?;
        this.wrote(written);
        Poll::Ready(Ok(written))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().io.as_mut() {
            Some(io) => Pin::new(io).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(io) = this.io.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        std::task::ready!(Pin::new(io).poll_close(cx))?;
        this.closed = true;
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncRead + AsyncWrite + Send + Unpin + 'static> ServerIo<IO> {
    fn wrote(&mut self, written: usize) {
        if written > 0 {
            self.last_write = Some(Instant::now());
            self.read_since_write = false;
            // Re-armed from this write on the next read.
            self.idle = None;
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Send + Unpin + 'static> Drop for ServerIo<IO> {
    fn drop(&mut self) {
        if let Some(io) = self.io.take()
            && !self.peer_closed
        {
            self.runtime.spawn(Box::pin(linger(io, self.closed)));
        }
    }
}

/// Closes `io` (unless `closed` already) and reads what the peer still sends, until its end,
/// [`LINGER_BYTES`] or [`LINGER_TIME`].
async fn linger<IO: AsyncRead + AsyncWrite + Unpin>(mut io: IO, closed: bool) {
    if !closed && io.close().await.is_err() {
        return;
    }
    let drain = async {
        let mut chunk = [0; 4096];
        let mut left = LINGER_BYTES;
        while left > 0 {
            match io.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => left = left.saturating_sub(read),
            }
        }
    };
    let timer = async {
        async_io::Timer::after(LINGER_TIME).await;
    };
    future::or(drain, timer).await;
}
