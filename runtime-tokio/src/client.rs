//! The client's connector on tokio: HTTP/1.1 (hyper) and WebSocket (tokio-tungstenite) over
//! TCP or TLS (rustls, `https://` / `wss://`).

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use socketio::client::BuildError;
use socketio::client::connect::{ConnectionPool, ConnectorOptions, Target};
use socketio::client::{
    BodyLimit, BoxFuture, BoxWebSocket, Client, ClientBuilder, Connector, ConnectorError,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::TokioRuntime;

/// A byte stream: TCP or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

struct Inner {
    tls: TlsConnector,
    websocket: WebSocketConfig,
    /// Idle HTTP/1.1 connections (hyper senders), by `scheme://authority`.
    pool: ConnectionPool<SendRequest<Full<Bytes>>>,
}

/// The [`Connector`] for tokio: polling requests over HTTP/1.1 (hyper, keep-alive
/// connections reused; response bodies read up to the request's [`BodyLimit`]), WebSockets
/// with tokio-tungstenite ([`client_websocket_config`](socketio::client::connect::client_websocket_config):
/// 4 KiB buffers and 1 MB messages like the server, the write buffer bounded), TLS with rustls
/// and the Mozilla roots (`webpki-roots`) plus any added root.
///
/// ```no_run
/// # async fn f() {
/// use socketio_tokio::{ClientBuilderExt, TokioConnector};
/// let connector = TokioConnector::builder()
///     .add_root_certificate(std::fs::read("ca.der").unwrap())
///     .unwrap()
///     .build();
/// let client = socketio_tokio::Client::builder("https://localhost:3443")
///     .connect_tokio_with(connector)
///     .unwrap();
/// # }
/// ```
#[derive(Clone)]
pub struct TokioConnector(Arc<Inner>);

impl std::fmt::Debug for TokioConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokioConnector").finish_non_exhaustive()
    }
}

impl Default for TokioConnector {
    fn default() -> Self {
        TokioConnector::builder().build()
    }
}

impl TokioConnector {
    /// A connector with the default roots and WebSocket configuration.
    ///
    /// ```
    /// let connector = socketio_tokio::TokioConnector::new();
    /// # let _ = connector;
    /// ```
    pub fn new() -> Self {
        TokioConnector::default()
    }

    /// Options: extra root certificates, WebSocket configuration.
    ///
    /// ```
    /// let connector = socketio_tokio::TokioConnector::builder().build();
    /// # let _ = connector;
    /// ```
    pub fn builder() -> TokioConnectorBuilder {
        TokioConnectorBuilder {
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
        let limit = BodyLimit::of(&request);
        let (mut parts, body) = request.into_parts();
        let target = Target::from_uri(&parts.uri)?;
        let key = socketio::client::origin_form(&mut parts)?;
        let request = http::Request::from_parts(parts, Full::new(body));
        let mut sender = loop {
            match self.0.pool.take(&key) {
                Some(mut sender) => {
                    if sender.ready().await.is_ok() {
                        break sender;
                    }
                }
                None => {
                    let io = self.dial(&target).await?;
                    let (sender, connection) =
                        hyper::client::conn::http1::handshake(TokioIo::new(io))
                            .await
                            .map_err(ConnectorError::new)?;
                    tokio::spawn(async move {
                        if let Err(error) = connection.await {
                            tracing::debug!(%error, "client HTTP connection");
                        }
                    });
                    break sender;
                }
            }
        };
        let response = sender
            .send_request(request)
            .await
            .map_err(ConnectorError::new)?;
        let (parts, body) = response.into_parts();
        // At most `limit` bytes: past it the connection is dropped, not pooled, unread.
        let body = socketio::client::read_body(body, limit).await?;
        self.0.pool.put(key, sender);
        Ok(http::Response::from_parts(parts, body))
    }

    async fn open_websocket(
        self,
        request: http::Request<()>,
    ) -> Result<BoxWebSocket, ConnectorError> {
        let target = Target::from_uri(request.uri())?;
        let handshake = socketio::client::websocket_handshake(&request)?;
        let io = self.dial(&target).await?;
        let (ws, _) =
            tokio_tungstenite::client_async_with_config(handshake, io, Some(self.0.websocket))
                .await
                .map_err(ConnectorError::new)?;
        Ok(Box::new(ws))
    }
}

impl Connector for TokioConnector {
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

/// Options of a [`TokioConnector`].
///
/// ```
/// let connector = socketio_tokio::TokioConnector::builder()
///     .websocket_config(socketio_tokio::default_websocket_config())
///     .build();
/// # let _ = connector;
/// ```
#[derive(Debug)]
pub struct TokioConnectorBuilder {
    options: ConnectorOptions,
}

impl TokioConnectorBuilder {
    /// Trusts another root certificate (DER), e.g. a test or private CA.
    ///
    /// ```no_run
    /// let builder = socketio_tokio::TokioConnector::builder()
    ///     .add_root_certificate(std::fs::read("ca.der").unwrap())
    ///     .unwrap();
    /// # let _ = builder;
    /// ```
    pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Result<Self, ConnectorError> {
        self.options.add_root_certificate(der)?;
        Ok(self)
    }

    /// Accepts any server certificate without verifying it (tests against a self-signed
    /// server only: the server is no longer authenticated).
    ///
    /// ```
    /// let connector = socketio_tokio::TokioConnector::builder()
    ///     .danger_accept_invalid_certs(true)
    ///     .build();
    /// # let _ = connector;
    /// ```
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.options.danger_accept_invalid_certs(accept);
        self
    }

    /// The WebSocket configuration (default:
    /// [`client_websocket_config`](socketio::client::connect::client_websocket_config): 4 KiB
    /// buffers, 1 MB messages, a bounded write buffer). Keep `max_message_size` and
    /// `max_write_buffer_size` set: they bound what a server can make the client hold.
    ///
    /// ```
    /// let builder = socketio_tokio::TokioConnector::builder()
    ///     .websocket_config(socketio_tokio::default_websocket_config());
    /// # let _ = builder;
    /// ```
    pub fn websocket_config(mut self, config: WebSocketConfig) -> Self {
        self.options.set_websocket_config(config);
        self
    }

    /// The connector.
    ///
    /// ```
    /// let connector = socketio_tokio::TokioConnector::builder().build();
    /// # let _ = connector;
    /// ```
    pub fn build(self) -> TokioConnector {
        TokioConnector(Arc::new(Inner {
            tls: TlsConnector::from(self.options.tls_config()),
            websocket: self.options.websocket_config(),
            pool: ConnectionPool::new(),
        }))
    }
}

/// Builds a [`Client`] that runs on tokio.
pub trait ClientBuilderExt {
    /// `build` with a [`TokioRuntime`] and a default [`TokioConnector`] (not connected yet:
    /// register handlers, then [`Client::connect`]).
    fn build_tokio(self) -> Result<Client, BuildError>;
    /// `connect` with a [`TokioRuntime`] and a default [`TokioConnector`].
    fn connect_tokio(self) -> Result<Client, BuildError>;
    /// `build` with a [`TokioRuntime`] and `connector`.
    fn build_tokio_with(self, connector: TokioConnector) -> Result<Client, BuildError>;
    /// `connect` with a [`TokioRuntime`] and `connector`.
    fn connect_tokio_with(self, connector: TokioConnector) -> Result<Client, BuildError>;
}

impl ClientBuilderExt for ClientBuilder {
    fn build_tokio(self) -> Result<Client, BuildError> {
        self.build_tokio_with(TokioConnector::new())
    }

    fn connect_tokio(self) -> Result<Client, BuildError> {
        self.connect_tokio_with(TokioConnector::new())
    }

    fn build_tokio_with(self, connector: TokioConnector) -> Result<Client, BuildError> {
        self.build(Arc::new(TokioRuntime::new()), Arc::new(connector))
    }

    fn connect_tokio_with(self, connector: TokioConnector) -> Result<Client, BuildError> {
        self.connect(Arc::new(TokioRuntime::new()), Arc::new(connector))
    }
}
