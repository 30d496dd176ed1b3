//! [`HttpServer`]: routes HTTP requests to the Socket.IO server, the client bundle or elsewhere,
//! and turns WebSocket upgrades into tungstenite streams.

use std::{net::SocketAddr, sync::Arc};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{handshake::derive_accept_key, protocol::Role, protocol::WebSocketConfig},
};
use tracing::Instrument;

use crate::{BoxError, ClientBundle, Endpoint, Server};

/// Read buffer of each WebSocket connection: 4 KiB (tungstenite's default is 128 KiB). It is
/// allocated once per connection and grows only while a larger frame is being read.
pub const WEBSOCKET_READ_BUFFER: usize = 4 * 1024;
/// Write buffer target of each WebSocket connection: 4 KiB (tungstenite's default is 128 KiB).
/// Frames collect up to this size between flushes, so small packets still share one `write`.
pub const WEBSOCKET_WRITE_BUFFER: usize = 4 * 1024;

/// Largest WebSocket message (and frame) accepted by default: 1 000 000 bytes, the reference
/// server's default `maxHttpBufferSize`, which it also applies to WebSocket messages. A server
/// built with a larger `max_http_buffer_size` should raise it too, with
/// [`HttpServer::websocket_config`].
pub const WEBSOCKET_MAX_MESSAGE: usize = 1_000_000;

/// The tungstenite configuration used for every accepted WebSocket: [`WEBSOCKET_READ_BUFFER`],
/// [`WEBSOCKET_WRITE_BUFFER`], messages and frames up to [`WEBSOCKET_MAX_MESSAGE`], tungstenite's
/// defaults otherwise.
pub fn default_websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(WEBSOCKET_READ_BUFFER)
        .write_buffer_size(WEBSOCKET_WRITE_BUFFER)
        .max_message_size(Some(WEBSOCKET_MAX_MESSAGE))
        .max_frame_size(Some(WEBSOCKET_MAX_MESSAGE))
}

/// Where a request goes.
pub(crate) enum Route {
    /// A client bundle file.
    Bundle,
    /// Engine.IO / Socket.IO: polling or a WebSocket upgrade.
    SocketIo,
    /// Not ours: 404 standalone, the inner service under tower.
    Other,
}

struct Inner<E> {
    io: E,
    client: Option<ClientBundle>,
    websocket: WebSocketConfig,
}

/// The HTTP side of a Socket.IO [`Server`] on hyper and tokio: serves it standalone
/// ([`listen`](Self::listen), [`serve`](Self::serve)) or inside a tower stack
/// ([`layer`](Self::layer)), with an optional [`ClientBundle`]. Cheap to clone.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use socketio_tokio::{ClientBundle, HttpServer, Server, ServerBuilderExt};
/// let io = Server::builder().build_tokio();
/// HttpServer::new(io)
///     .serve_client(ClientBundle::from_file("node_modules/socket.io-client/dist/socket.io.min.js")?)
///     .listen("0.0.0.0:3000")
///     .await
/// # }
/// ```
///
/// Generic over the [`Endpoint`] it serves: the Socket.IO [`Server`] by default.
pub struct HttpServer<E = Server> {
    inner: Arc<Inner<E>>,
}

impl<E> Clone for HttpServer<E> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<E> std::fmt::Debug for HttpServer<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("client", &self.inner.client)
            .field("websocket", &self.inner.websocket)
            .finish_non_exhaustive()
    }
}

impl<E: Endpoint> HttpServer<E> {
    /// Serves `io`, without a client bundle, with small WebSocket buffers
    /// ([`default_websocket_config`]).
    pub fn new(io: E) -> Self {
        Self {
            inner: Arc::new(Inner {
                io,
                client: None,
                websocket: default_websocket_config(),
            }),
        }
    }

    /// Also serves the JavaScript client files of `bundle` (like socket.io's `serveClient`).
    pub fn serve_client(self, bundle: ClientBundle) -> Self {
        self.with_inner(|inner| inner.client = Some(bundle))
    }

    /// Replaces the tungstenite configuration of accepted WebSockets (buffer sizes, limits).
    pub fn websocket_config(self, config: WebSocketConfig) -> Self {
        self.with_inner(|inner| inner.websocket = config)
    }

    /// The server behind this HTTP server.
    pub fn io(&self) -> &E {
        &self.inner.io
    }

    fn with_inner(self, change: impl FnOnce(&mut Inner<E>)) -> Self {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            io: shared.io.clone(),
            client: shared.client.clone(),
            websocket: shared.websocket,
        });
        change(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    pub(crate) fn route<B>(&self, request: &Request<B>) -> Route {
        let path = request.uri().path();
        match &self.inner.client {
            Some(bundle)
                if bundle.matches(request.method(), path, |dir| self.inner.io.handles(dir)) =>
            {
                Route::Bundle
            }
            _ if self.inner.io.handles(path) => Route::SocketIo,
            _ => Route::Other,
        }
    }

    /// Answers a request: a client bundle file, an Engine.IO polling request, a WebSocket upgrade
    /// (the connection is taken over through hyper's `OnUpgrade` in the request extensions), or
    /// `404` for any other path. `remote` is the peer address shown in the handshake.
    pub async fn handle<B>(
        &self,
        request: Request<B>,
        remote: Option<SocketAddr>,
    ) -> Response<Full<Bytes>>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        match self.route(&request) {
            Route::Bundle => self.serve_bundle(request),
            Route::SocketIo => self.serve_socketio(request, remote).await,
            Route::Other => plain(StatusCode::NOT_FOUND, "Not Found"),
        }
    }

    pub(crate) fn serve_bundle<B>(&self, request: Request<B>) -> Response<Full<Bytes>> {
        let (parts, _body) = request.into_parts();
        match &self.inner.client {
            Some(bundle) => bundle.respond(&parts, |dir| self.inner.io.handles(dir)),
            None => plain(StatusCode::NOT_FOUND, "Not Found"),
        }
    }

    pub(crate) async fn serve_socketio<B>(
        &self,
        request: Request<B>,
        remote: Option<SocketAddr>,
    ) -> Response<Full<Bytes>>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        if is_websocket_upgrade(request.method(), request.headers()) {
            self.upgrade(request, remote)
        } else {
            self.inner.io.handle_http(request, remote).await
        }
    }

    /// Verifies a WebSocket upgrade, answers `101` and hands the upgraded connection to the
    /// Socket.IO server on a new task.
    fn upgrade<B>(
        &self,
        mut request: Request<B>,
        remote: Option<SocketAddr>,
    ) -> Response<Full<Bytes>> {
        let headers = request.headers();
        let version_ok = headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .is_some_and(|version| version.as_bytes() == b"13");
        let Some(key) = headers
            .get(header::SEC_WEBSOCKET_KEY)
            .filter(|_| version_ok)
        else {
            tracing::debug!(
                ?remote,
                "websocket upgrade without a valid key or version 13"
            );
            return plain(StatusCode::BAD_REQUEST, "Bad request");
        };
        let accept = derive_accept_key(key.as_bytes());
        let Some(on_upgrade) = request.extensions_mut().remove::<OnUpgrade>() else {
            tracing::warn!(
                "websocket upgrade on a connection that cannot upgrade (no hyper OnUpgrade)"
            );
            return plain(StatusCode::BAD_REQUEST, "Bad request");
        };
        let (parts, _body) = request.into_parts();
        let ticket = match self.inner.io.accept_websocket(&parts, remote) {
            Ok(ticket) => ticket,
            Err(refusal) => {
                tracing::debug!(?remote, status = %refusal.status(), "websocket refused");
                return refusal;
            }
        };
        let mut response = Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "Upgrade")
            .header(header::UPGRADE, "websocket")
            .header(
                header::SEC_WEBSOCKET_ACCEPT,
                HeaderValue::from_str(&accept).expect("base64 is a valid header value"),
            );
        for (name, value) in E::websocket_headers(&ticket) {
            response = response.header(name, value);
        }
        let response = response.body(Full::default()).expect("valid response");
        let io = self.inner.io.clone();
        let config = self.inner.websocket;
        let span = tracing::info_span!("websocket", ?remote, path = parts.uri.path());
        tokio::spawn(
            async move {
                match on_upgrade.await {
                    Ok(upgraded) => {
                        tracing::debug!("websocket open");
                        let socket = WebSocketStream::from_raw_socket(
                            TokioIo::new(upgraded),
                            Role::Server,
                            Some(config),
                        )
                        .await;
                        io.serve_websocket(ticket, socket).await;
                        tracing::debug!("websocket done");
                    }
                    Err(error) => tracing::debug!(%error, "websocket upgrade failed"),
                }
            }
            .instrument(span),
        );
        response
    }
}

/// Whether the request asks for a WebSocket: `GET` with `Upgrade: websocket` and a `Connection`
/// header listing `upgrade`.
pub(crate) fn is_websocket_upgrade(method: &Method, headers: &HeaderMap) -> bool {
    let upgrade = headers
        .get_all(header::UPGRADE)
        .iter()
        .any(|value| value.as_bytes().eq_ignore_ascii_case(b"websocket"));
    let connection = headers.get_all(header::CONNECTION).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"upgrade"))
    });
    method == Method::GET && upgrade && connection
}

/// A `text/plain` response.
pub(crate) fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from_static(text.as_bytes())))
        .expect("valid response")
}
