//! The client's connector on tokio: HTTP/1.1 (hyper) and WebSocket (tokio-tungstenite) over
//! TCP or TLS (rustls, `https://` / `wss://`).

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use socketio::client::BuildError;
use socketio::client::{BoxFuture, BoxWebSocket, Client, ClientBuilder, Connector, ConnectorError};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, RootCertStore, pki_types};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::{TokioRuntime, default_websocket_config};

/// A byte stream: TCP or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Idle HTTP/1.1 connections, by `scheme://authority`.
type Pool = Mutex<HashMap<String, Vec<SendRequest<Full<Bytes>>>>>;

struct Inner {
    tls: TlsConnector,
    websocket: WebSocketConfig,
    pool: Pool,
}

/// The [`Connector`] for tokio: polling requests over HTTP/1.1 (hyper, keep-alive
/// connections reused), WebSockets with tokio-tungstenite (4 KiB buffers, like the server),
/// TLS with rustls and the Mozilla roots (`webpki-roots`) plus any added root.
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
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        TokioConnectorBuilder {
            roots,
            websocket: default_websocket_config(),
        }
    }

    async fn dial(&self, uri: &http::Uri) -> io::Result<Box<dyn Io>> {
        let secure = matches!(uri.scheme_str(), Some("https") | Some("wss"));
        let host = uri
            .host()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let tcp = TcpStream::connect((host, port)).await?;
        let _ = tcp.set_nodelay(true);
        if !secure {
            return Ok(Box::new(tcp));
        }
        let name = pki_types::ServerName::try_from(host.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let tls = self.0.tls.connect(name, tcp).await?;
        Ok(Box::new(tls))
    }

    async fn request(
        self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, ConnectorError> {
        let (mut parts, body) = request.into_parts();
        let uri = parts.uri.clone();
        let key = socketio::client::origin_form(&mut parts)?;
        let request = http::Request::from_parts(parts, Full::new(body));
        let mut sender = loop {
            let idle = self
                .0
                .pool
                .lock()
                .ok()
                .and_then(|mut p| p.get_mut(&key)?.pop());
            match idle {
                Some(mut sender) => {
                    if sender.ready().await.is_ok() {
                        break sender;
                    }
                }
                None => {
                    let io = self.dial(&uri).await.map_err(ConnectorError::new)?;
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
        let body = body
            .collect()
            .await
            .map_err(ConnectorError::new)?
            .to_bytes();
        if let Ok(mut pool) = self.0.pool.lock() {
            let idle = pool.entry(key).or_default();
            if idle.len() < 4 {
                idle.push(sender);
            }
        }
        Ok(http::Response::from_parts(parts, body))
    }

    async fn open_websocket(
        self,
        request: http::Request<()>,
    ) -> Result<BoxWebSocket, ConnectorError> {
        let uri = request.uri().clone();
        let handshake = socketio::client::websocket_handshake(&request)?;
        let io = self.dial(&uri).await.map_err(ConnectorError::new)?;
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
pub struct TokioConnectorBuilder {
    roots: RootCertStore,
    websocket: WebSocketConfig,
}

impl std::fmt::Debug for TokioConnectorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokioConnectorBuilder")
            .field("roots", &self.roots.len())
            .finish_non_exhaustive()
    }
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
        self.roots
            .add(pki_types::CertificateDer::from(der.into()))
            .map_err(ConnectorError::new)?;
        Ok(self)
    }

    /// The WebSocket configuration (default: [`default_websocket_config`], 4 KiB buffers).
    ///
    /// ```
    /// let builder = socketio_tokio::TokioConnector::builder()
    ///     .websocket_config(socketio_tokio::default_websocket_config());
    /// # let _ = builder;
    /// ```
    pub fn websocket_config(mut self, config: WebSocketConfig) -> Self {
        self.websocket = config;
        self
    }

    /// The connector.
    ///
    /// ```
    /// let connector = socketio_tokio::TokioConnector::builder().build();
    /// # let _ = connector;
    /// ```
    pub fn build(self) -> TokioConnector {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default protocol versions")
            .with_root_certificates(self.roots)
            .with_no_client_auth();
        TokioConnector(Arc::new(Inner {
            tls: TlsConnector::from(Arc::new(config)),
            websocket: self.websocket,
            pool: Mutex::new(HashMap::new()),
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
