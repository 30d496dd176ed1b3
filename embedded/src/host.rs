//! Running the client on a host (feature `std`): a [`Connection`] over `std::net::TcpStream`,
//! a [`Timer`] on `std::time::Instant`, and a small URL splitter.
//!
//! These work with any executor, including a plain `block_on`: a read that finds no data
//! waits up to [`StdConnection::poll_interval`] in the OS, then yields (waking itself), so the
//! timer is checked between reads; a sleep waits in short steps the same way. That is simple
//! and costs little on a host; on a device, the TCP stack and timer of the platform
//! (embassy-net, embassy-time) wake the task instead.
//!
//! ```no_run
//! use socketio_embedded::host::{StdConnection, StdTimer, Url};
//! use socketio_embedded::{Buffers, Client, Config};
//!
//! let url = Url::parse("http://127.0.0.1:3000/custom").unwrap();
//! let mut config = Config::new(&url.host);
//! config.namespace = &url.namespace;
//! let (mut rx, mut tx) = ([0u8; 2048], [0u8; 1024]);
//! let buffers = Buffers { rx: &mut rx, tx: &mut tx };
//! let mut client = Client::new(config, StdConnection::new(&url.host), StdTimer::new(), buffers).unwrap();
//! futures_executor::block_on(async {
//!     let event = client.next_event().await.unwrap();
//!     println!("{event:?}");
//! });
//! ```

use std::io::{self, ErrorKind, Read as _, Write as _};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::string::String;
use std::time::Duration;
use std::vec::Vec;

use core::future::poll_fn;
use core::task::Poll;
use embedded_io_async::{ErrorType, Read, Write};
use socketio_protocol::Instant;

use crate::client::{Connection, Timer};

/// A plain TCP connection to `host:port`, opened by [`Connection::connect`].
#[derive(Debug)]
pub struct StdConnection {
    addr: String,
    stream: Option<TcpStream>,
    /// How long one read waits in the OS before yielding (2 ms).
    pub poll_interval: Duration,
    /// How long connecting may take (5 s).
    pub connect_timeout: Duration,
}

impl StdConnection {
    /// A connection to `addr` (`host:port`); nothing is opened yet.
    pub fn new(addr: &str) -> Self {
        StdConnection {
            addr: String::from(addr),
            stream: None,
            poll_interval: Duration::from_millis(2),
            connect_timeout: Duration::from_secs(5),
        }
    }

    fn stream(&mut self) -> io::Result<&mut TcpStream> {
        self.stream
            .as_mut()
            .ok_or_else(|| io::Error::from(ErrorKind::NotConnected))
    }
}

impl ErrorType for StdConnection {
    type Error = io::Error;
}

impl Read for StdConnection {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, io::Error> {
        poll_fn(|cx| {
            let stream = match self.stream() {
                Ok(stream) => stream,
                Err(e) => return Poll::Ready(Err(e)),
            };
            match stream.read(buf) {
                Ok(n) => Poll::Ready(Ok(n)),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                Err(e) => Poll::Ready(Err(e)),
            }
        })
        .await
    }
}

impl Write for StdConnection {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, io::Error> {
        self.stream()?.write(buf)
    }

    async fn flush(&mut self) -> Result<(), io::Error> {
        self.stream()?.flush()
    }
}

impl Connection for StdConnection {
    async fn connect(&mut self) -> Result<(), io::Error> {
        self.stream = None;
        let mut last = io::Error::from(ErrorKind::AddrNotAvailable);
        for addr in self.addr.to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, self.connect_timeout) {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    stream.set_read_timeout(Some(self.poll_interval))?;
                    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
                    self.stream = Some(stream);
                    return Ok(());
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn disconnect(&mut self) {
        if let Some(stream) = self.stream.take() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// A [`Timer`] on the std monotonic clock, its epoch when it was made.
#[derive(Debug, Clone, Copy)]
pub struct StdTimer {
    epoch: std::time::Instant,
}

impl StdTimer {
    /// A timer whose epoch is now.
    pub fn new() -> Self {
        StdTimer {
            epoch: std::time::Instant::now(),
        }
    }
}

impl Default for StdTimer {
    fn default() -> Self {
        StdTimer::new()
    }
}

impl Timer for StdTimer {
    fn now(&self) -> Instant {
        Instant::from_duration(self.epoch.elapsed())
    }

    async fn sleep_until(&mut self, at: Instant) {
        poll_fn(|cx| {
            let now = self.now();
            if now >= at {
                return Poll::Ready(());
            }
            std::thread::sleep((at - now).min(Duration::from_millis(2)));
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await
    }
}

/// A `http://host[:port][/namespace][?query]` URL split the way the official client reads
/// it: the path is the namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// `host:port` (port 80 when absent), for the TCP connection and the `Host` header.
    pub host: String,
    /// The namespace (`/` when the URL has no path).
    pub namespace: String,
    /// The query parameters, raw.
    pub query: Vec<(String, String)>,
}

/// Why a URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// Not `http://` or `ws://` (TLS is the caller's stream: see the crate docs).
    Scheme,
    /// No host.
    Host,
}

impl core::fmt::Display for UrlError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            UrlError::Scheme => "the host adapter speaks http:// and ws:// only",
            UrlError::Host => "the URL has no host",
        })
    }
}

impl core::error::Error for UrlError {}

impl Url {
    /// Splits `url`.
    ///
    /// ```
    /// let url = socketio_embedded::host::Url::parse("http://localhost:3000/custom?x=1").unwrap();
    /// assert_eq!(url.host, "localhost:3000");
    /// assert_eq!(url.namespace, "/custom");
    /// assert_eq!(url.query, vec![("x".to_string(), "1".to_string())]);
    /// ```
    pub fn parse(url: &str) -> Result<Url, UrlError> {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("ws://"))
            .ok_or(UrlError::Scheme)?;
        let (authority, rest) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(UrlError::Host);
        }
        let host = if authority.contains(':') && !authority.ends_with(']') {
            String::from(authority)
        } else {
            std::format!("{authority}:80")
        };
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let namespace = if path.is_empty() {
            String::from("/")
        } else {
            String::from(path)
        };
        let query = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (String::from(k), String::from(v))
            })
            .collect();
        Ok(Url {
            host,
            namespace,
            query,
        })
    }
}
