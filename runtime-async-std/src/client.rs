//! The client's connector on async-net: HTTP/1.1 ([`crate::h1`]) and WebSocket
//! (async-tungstenite) over TCP or TLS (futures-rustls, `https://` / `wss://`).

use std::sync::Arc;

use async_net::TcpStream;
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use bytes::Bytes;
use futures_lite::{AsyncRead, AsyncWrite};
use futures_rustls::TlsConnector;
use socketio::client::{
    BoxFuture, BoxWebSocket, BuildError, Client, ClientBuilder, Connector, ConnectorError,
    connect::{ConnectionPool, ConnectorOptions, Target},
    origin_form,
};

use crate::{AsyncIoRuntime, h1};

/// A byte stream: TCP or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A reader that notes whether any byte came through it.
struct NoticeRead<'a, R> {
    io: &'a mut R,
    read_any: &'a mut bool,
}

impl<R: AsyncRead + Unpin> AsyncRead for NoticeRead<'_, R> {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let poll = std::pin::Pin::new(&mut *this.io).poll_read(cx, buf);
        if let std::task::Poll::Ready(Ok(read)) = poll
            && read > 0
        {
            *this.read_any = true;
        }
        poll
    }
}

struct Inner {
    tls: TlsConnector,
    websocket: WebSocketConfig,
    pool: ConnectionPool<Box<dyn Io>>,
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

    async fn request(
        self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, ConnectorError> {
        let (mut parts, body) = request.into_parts();
        let target = Target::from_uri(&parts.uri)?;
        let key = origin_form(&mut parts)?;
        // An idle connection may have been closed by the server: then once more on a new one,
        // but only if no byte of an answer came back. A partial answer means the server took
        // the request, and sending it again could deliver a POST's packets twice.
        loop {
            let idle = self.0.pool.take(&key);
            let reused = idle.is_some();
            let mut io = match idle {
                Some(io) => io,
                None => self.dial(&target).await?,
            };
            let mut answered = false;
            let exchange = async {
                h1::write_request(&mut io, &parts, &body).await?;
                let mut reader = NoticeRead {
                    io: &mut io,
                    read_any: &mut answered,
                };
                h1::read_response(&mut reader, parts.method == http::Method::HEAD).await
            };
            let result = exchange.await;
            match result {
                Ok((response, reusable)) => {
                    if reusable {
                        self.0.pool.put(key, io);
                    }
                    return Ok(response);
                }
                Err(_) if reused && !answered => continue,
                Err(error) => return Err(ConnectorError::new(error)),
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
