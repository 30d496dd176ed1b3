//! The client's connector on async-net: HTTP/1.1 (hyper's client, driven through
//! [`crate::rt`]) and WebSocket (async-tungstenite) over TCP or TLS (futures-rustls,
//! `https://` / `wss://`).

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
};

use async_net::TcpStream;
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use bytes::Bytes;
use futures_lite::{AsyncRead, AsyncWrite, future};
use futures_rustls::TlsConnector;
use http_body_util::Full;
use hyper::client::conn::http1;
use socketio::client::{
    BoxFuture, BoxWebSocket, BuildError, Client, ClientBuilder, Connector, ConnectorError,
    connect::{ConnectionPool, ConnectorOptions, Target},
    origin_form,
};

use crate::{AsyncIoRuntime, rt::HyperIo};

/// A byte stream: TCP or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A stream that notes whether any byte came through it since the flag was last cleared.
struct NoticeRead {
    io: Box<dyn Io>,
    read_any: Arc<AtomicBool>,
}

impl AsyncRead for NoticeRead {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(read)) = poll
            && read > 0
        {
            this.read_any.store(true, Ordering::Relaxed);
        }
        poll
    }
}

impl AsyncWrite for NoticeRead {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_close(cx)
    }
}

/// One HTTP/1.1 connection: hyper's sender and the connection future, driven only while a
/// request of this connector uses it (an idle pooled connection costs no task).
struct HttpConnection {
    sender: http1::SendRequest<Full<Bytes>>,
    /// `None` once it ended: dropped then, since a request still queued in it is only
    /// cancelled (and its sender woken) when it is dropped.
    connection: Option<http1::Connection<HyperIo<NoticeRead>, Full<Bytes>>>,
    /// Whether a byte of an answer came since the last request was sent.
    answered: Arc<AtomicBool>,
}

/// Drives `connection` until it ends, then drops it; never completes.
async fn drive<T>(
    connection: &mut Option<http1::Connection<HyperIo<NoticeRead>, Full<Bytes>>>,
) -> T {
    if let Some(running) = connection.as_mut()
        && let Err(error) = running.await
    {
        tracing::debug!(%error, "client HTTP connection");
    }
    *connection = None;
    future::pending().await
}

impl HttpConnection {
    /// Whether the connection can take another request (not closed by the server meanwhile:
    /// then the sender fails once the ended connection is dropped).
    async fn ready(&mut self) -> bool {
        let Self {
            sender, connection, ..
        } = self;
        future::or(async { sender.ready().await.is_ok() }, drive(connection)).await
            && connection.is_some()
    }

    /// Sends `request` and reads its whole answer; the flag: whether the connection may carry
    /// another request.
    async fn exchange(
        &mut self,
        request: http::Request<Full<Bytes>>,
        limit: socketio::client::BodyLimit,
    ) -> Result<(http::Response<Bytes>, bool), ConnectorError> {
        self.answered.store(false, Ordering::Relaxed);
        let Self {
            sender, connection, ..
        } = self;
        let exchange = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(ConnectorError::new)?;
            let (parts, body) = response.into_parts();
            // The client's cap (`BodyLimit`): a body past it fails the request, and the
            // connection, half read, is not reused.
            let body = socketio::client::read_body(body, limit).await?;
            Ok(http::Response::from_parts(parts, body))
        };
        let response = future::or(exchange, drive(connection)).await?;
        Ok((response, connection.is_some()))
    }
}

struct Inner {
    tls: TlsConnector,
    websocket: WebSocketConfig,
    pool: ConnectionPool<HttpConnection>,
}

/// The [`Connector`] on async-net: polling requests over HTTP/1.1 (keep-alive connections
/// reused), WebSockets with async-tungstenite (4 KiB buffers, like the server), TLS with
/// futures-rustls and the Mozilla roots (`webpki-roots`) plus any added root.
///
/// ```no_run
/// use socketio_async_std::{AsyncIoConnector, AsyncIoRuntime, Client, ClientBuilderExt};
/// let connector = AsyncIoConnector::builder()
///     .add_root_certificate(std::fs::read("ca.der").unwrap())
///     .unwrap()
///     .build();
/// let client = Client::builder("https://localhost:3443")
///     .connect_async_io(AsyncIoRuntime::smol(), connector)
///     .unwrap();
/// # let _ = client;
/// ```
#[derive(Clone)]
pub struct AsyncIoConnector(Arc<Inner>);

impl std::fmt::Debug for AsyncIoConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncIoConnector")
            .field("pool", &self.0.pool)
            .finish_non_exhaustive()
    }
}

impl Default for AsyncIoConnector {
    fn default() -> Self {
        AsyncIoConnector::builder().build()
    }
}

impl AsyncIoConnector {
    /// A connector with the default roots and WebSocket configuration.
    pub fn new() -> Self {
        AsyncIoConnector::default()
    }

    /// Options: extra root certificates, WebSocket configuration.
    pub fn builder() -> AsyncIoConnectorBuilder {
        AsyncIoConnectorBuilder {
            options: ConnectorOptions::new(),
        }
    }

    async fn dial(&self, target: &Target) -> Result<Box<dyn Io>, ConnectorError> {
        let server_name = match target.secure {
            true => Some(target.server_name()?),
            false => None,
        };
        let tcp = TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(ConnectorError::new)?;
        let _ = tcp.set_nodelay(true);
        match server_name {
            None => Ok(Box::new(tcp)),
            Some(name) => Ok(Box::new(
                self.0
                    .tls
                    .connect(name, tcp)
                    .await
                    .map_err(ConnectorError::new)?,
            )),
        }
    }

    async fn connect(&self, target: &Target) -> Result<HttpConnection, ConnectorError> {
        let answered = Arc::new(AtomicBool::new(false));
        let io = NoticeRead {
            io: self.dial(target).await?,
            read_any: answered.clone(),
        };
        let (sender, connection) = http1::handshake(HyperIo::new(io))
            .await
            .map_err(ConnectorError::new)?;
        Ok(HttpConnection {
            sender,
            connection: Some(connection),
            answered,
        })
    }

    async fn request(
        self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, ConnectorError> {
        let limit = socketio::client::BodyLimit::of(&request);
        let (mut parts, body) = request.into_parts();
        let target = Target::from_uri(&parts.uri)?;
        let key = origin_form(&mut parts)?;
        // An idle connection may have been closed by the server: then once more on a new one,
        // but only if no byte of an answer came back. A partial answer means the server took
        // the request, and sending it again could deliver a POST's packets twice.
        loop {
            let mut reused = None;
            while let Some(mut idle) = self.0.pool.take(&key) {
                if idle.ready().await {
                    reused = Some(idle);
                    break;
                }
            }
            let was_reused = reused.is_some();
            let mut connection = match reused {
                Some(connection) => connection,
                None => self.connect(&target).await?,
            };
            let request = http::Request::from_parts(parts.clone(), Full::new(body.clone()));
            match connection.exchange(request, limit).await {
                Ok((response, reusable)) => {
                    if reusable {
                        self.0.pool.put(key, connection);
                    }
                    return Ok(response);
                }
                Err(_) if was_reused && !connection.answered.load(Ordering::Relaxed) => continue,
                Err(error) => return Err(error),
            }
        }
    }

    async fn open_websocket(
        self,
        request: http::Request<()>,
    ) -> Result<BoxWebSocket, ConnectorError> {
        let target = Target::from_uri(request.uri())?;
        let handshake = socketio::client::websocket_handshake(&request)?;
        let io = self.dial(&target).await?;
        let (ws, _) =
            async_tungstenite::client_async_with_config(handshake, io, Some(self.0.websocket))
                .await
                .map_err(ConnectorError::new)?;
        Ok(Box::new(ws))
    }
}

impl Connector for AsyncIoConnector {
    fn http(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<Result<http::Response<Bytes>, ConnectorError>> {
        Box::pin(self.clone().request(request))
    }

    fn websocket(
        &self,
        request: http::Request<()>,
    ) -> BoxFuture<Result<BoxWebSocket, ConnectorError>> {
        Box::pin(self.clone().open_websocket(request))
    }
}

/// Options of an [`AsyncIoConnector`].
///
/// ```
/// let connector = socketio_async_std::AsyncIoConnector::builder()
///     .websocket_config(socketio_async_std::default_websocket_config())
///     .build();
/// # let _ = connector;
/// ```
#[derive(Debug)]
pub struct AsyncIoConnectorBuilder {
    options: ConnectorOptions,
}

impl AsyncIoConnectorBuilder {
    /// Trusts another root certificate (DER), e.g. a test or private CA.
    pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Result<Self, ConnectorError> {
        self.options.add_root_certificate(der)?;
        Ok(self)
    }

    /// Accepts any server certificate without verifying it (tests against a self-signed
    /// server only: the server is no longer authenticated).
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.options.danger_accept_invalid_certs(accept);
        self
    }

    /// The WebSocket configuration (default: [`crate::default_websocket_config`], 4 KiB buffers).
    pub fn websocket_config(mut self, config: WebSocketConfig) -> Self {
        self.options.set_websocket_config(config);
        self
    }

    /// The connector.
    pub fn build(self) -> AsyncIoConnector {
        AsyncIoConnector(Arc::new(Inner {
            tls: TlsConnector::from(self.options.tls_config()),
            websocket: self.options.websocket_config(),
            pool: ConnectionPool::new(),
        }))
    }
}

/// Builds a [`Client`] on an [`AsyncIoRuntime`] and an [`AsyncIoConnector`].
pub trait ClientBuilderExt {
    /// `build` (not connected yet: register handlers, then [`Client::connect`]).
    fn build_async_io(
        self,
        runtime: AsyncIoRuntime,
        connector: AsyncIoConnector,
    ) -> Result<Client, BuildError>;
    /// `connect`.
    fn connect_async_io(
        self,
        runtime: AsyncIoRuntime,
        connector: AsyncIoConnector,
    ) -> Result<Client, BuildError>;
}

impl ClientBuilderExt for ClientBuilder {
    fn build_async_io(
        self,
        runtime: AsyncIoRuntime,
        connector: AsyncIoConnector,
    ) -> Result<Client, BuildError> {
        self.build(Arc::new(runtime), Arc::new(connector))
    }

    fn connect_async_io(
        self,
        runtime: AsyncIoRuntime,
        connector: AsyncIoConnector,
    ) -> Result<Client, BuildError> {
        self.connect(Arc::new(runtime), Arc::new(connector))
    }
}
