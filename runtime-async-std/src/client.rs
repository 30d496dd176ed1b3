//! The client's connector on async-net: HTTP/1.1 ([`crate::h1`]) and WebSocket
//! (async-tungstenite) over TCP or TLS (futures-rustls, `https://` / `wss://`).

use std::{
    collections::HashMap,
    io,
    sync::{Arc, Mutex},
};

use async_net::TcpStream;
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use bytes::Bytes;
use futures_lite::{AsyncRead, AsyncWrite};
use futures_rustls::TlsConnector;
use rustls::{RootCertStore, pki_types};
use socketio::client::{
    BoxFuture, BoxWebSocket, BuildError, Client, ClientBuilder, Connector, ConnectorError,
    origin_form,
};

use crate::{AsyncIoRuntime, default_websocket_config, h1};

/// A byte stream: TCP or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Idle HTTP/1.1 connections, by `scheme://authority`.
type Pool = Mutex<HashMap<String, Vec<Box<dyn Io>>>>;

struct Inner {
    tls: TlsConnector,
    websocket: WebSocketConfig,
    pool: Pool,
}

/// The [`Connector`] on async-net: polling requests over HTTP/1.1 (keep-alive connections
/// reused), WebSockets with async-tungstenite (4 KiB buffers, like the server), TLS with
/// futures-rustls and the Mozilla roots (`webpki-roots`) plus any added root.
#[derive(Clone)]
pub struct AsyncIoConnector(Arc<Inner>);

impl std::fmt::Debug for AsyncIoConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncIoConnector").finish_non_exhaustive()
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
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        AsyncIoConnectorBuilder {
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
        Ok(Box::new(self.0.tls.connect(name, tcp).await?))
    }

    async fn request(
        self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, ConnectorError> {
        let (mut parts, body) = request.into_parts();
        let uri = parts.uri.clone();
        let key = origin_form(&mut parts)?;
        // An idle connection may have been closed by the server: then once more on a new one.
        loop {
            let idle = self
                .0
                .pool
                .lock()
                .ok()
                .and_then(|mut p| p.get_mut(&key)?.pop());
            let reused = idle.is_some();
            let mut io = match idle {
                Some(io) => io,
                None => self.dial(&uri).await.map_err(ConnectorError::new)?,
            };
            let exchange = async {
                h1::write_request(&mut io, &parts, &body).await?;
                h1::read_response(&mut io).await
            };
            match exchange.await {
                Ok((response, reusable)) => {
                    if reusable && let Ok(mut pool) = self.0.pool.lock() {
                        let idle = pool.entry(key).or_default();
                        if idle.len() < 4 {
                            idle.push(io);
                        }
                    }
                    return Ok(response);
                }
                Err(_) if reused => continue,
                Err(error) => return Err(ConnectorError::new(error)),
            }
        }
    }

    async fn open_websocket(
        self,
        request: http::Request<()>,
    ) -> Result<BoxWebSocket, ConnectorError> {
        let uri = request.uri().clone();
        let handshake = socketio::client::websocket_handshake(&request)?;
        let io = self.dial(&uri).await.map_err(ConnectorError::new)?;
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
pub struct AsyncIoConnectorBuilder {
    roots: RootCertStore,
    websocket: WebSocketConfig,
}

impl std::fmt::Debug for AsyncIoConnectorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncIoConnectorBuilder")
            .field("roots", &self.roots.len())
            .finish_non_exhaustive()
    }
}

impl AsyncIoConnectorBuilder {
    /// Trusts another root certificate (DER), e.g. a test or private CA.
    pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Result<Self, ConnectorError> {
        self.roots
            .add(pki_types::CertificateDer::from(der.into()))
            .map_err(ConnectorError::new)?;
        Ok(self)
    }

    /// The WebSocket configuration (default: [`default_websocket_config`], 4 KiB buffers).
    pub fn websocket_config(mut self, config: WebSocketConfig) -> Self {
        self.websocket = config;
        self
    }

    /// The connector.
    pub fn build(self) -> AsyncIoConnector {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default protocol versions")
            .with_root_certificates(self.roots)
            .with_no_client_auth();
        AsyncIoConnector(Arc::new(Inner {
            tls: TlsConnector::from(Arc::new(config)),
            websocket: self.websocket,
            pool: Mutex::new(HashMap::new()),
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
