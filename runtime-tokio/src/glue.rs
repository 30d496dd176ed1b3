//! [`HttpServer`]: routes HTTP requests to the Socket.IO server, the client bundle or elsewhere,
//! and turns WebSocket upgrades into tungstenite streams.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use socketio::http::{default_websocket_config, is_websocket_upgrade, plain};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{protocol::Role, protocol::WebSocketConfig},
};
use tracing::Instrument;

use crate::{BoxError, ClientBundle, Endpoint, Server};

pub(crate) use socketio::http::Route;

/// Time allowed for a whole request head (Node's `headersTimeout`).
pub(crate) const HEADERS_TIMEOUT: Duration = Duration::from_secs(60);

struct Inner<E> {
    io: E,
    client: Option<ClientBundle>,
    websocket: WebSocketConfig,
    headers_timeout: Duration,
    /// The metrics' path and what it serves (`HttpServer::metrics`).
    #[cfg(feature = "metrics")]
    metrics: Option<(String, socketio::metrics::Metrics)>,
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
/// Generic over the [`Endpoint`] it serves: the Socket.IO [`Server`] by default, or the
/// Engine.IO-only [`EngineServer`](crate::engine::EngineServer).
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
                headers_timeout: HEADERS_TIMEOUT,
                #[cfg(feature = "metrics")]
                metrics: None,
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

    /// How long a client may take to send a request head (60 s, Node's `headersTimeout`),
    /// counted from the moment the server waits for it, on a new connection or between two
    /// requests; past it the connection is closed (hyper's `header_read_timeout`). Applies to
    /// the standalone server ([`listen`](Self::listen), [`serve`](Self::serve),
    /// [`serve_connection`](Self::serve_connection)), not to a tower stack.
    ///
    /// ```
    /// # fn io() -> socketio_tokio::Server { unimplemented!() }
    /// # fn f() {
    /// let http = socketio_tokio::HttpServer::new(io())
    ///     .headers_timeout(std::time::Duration::from_secs(10));
    /// # let _ = http;
    /// # }
    /// ```
    pub fn headers_timeout(self, timeout: Duration) -> Self {
        self.with_inner(|inner| inner.headers_timeout = timeout)
    }

    pub(crate) fn headers_timeout_value(&self) -> Duration {
        self.inner.headers_timeout
    }

    /// Also answers Prometheus scrapes of `metrics` at `path` (such as `"/metrics"`) on this
    /// listener (feature `metrics`); other paths are routed as before.
    ///
    /// ```
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// # fn f() {
    /// let metrics = socketio::metrics::Metrics::new();
    /// let http = socketio_tokio::HttpServer::new(io()).metrics("/metrics", &metrics);
    /// # let _ = http;
    /// # }
    /// ```
    #[cfg(feature = "metrics")]
    pub fn metrics(self, path: impl Into<String>, metrics: &socketio::metrics::Metrics) -> Self {
        let path = path.into();
        let metrics = metrics.clone();
        self.with_inner(|inner| inner.metrics = Some((path, metrics)))
    }

    /// The answer to a scrape of the metrics' path, if `request` is one.
    pub(crate) fn metrics_response<B>(
        &self,
        request: &Request<B>,
    ) -> Option<Response<Full<Bytes>>> {
        #[cfg(feature = "metrics")]
        if let Some((path, metrics)) = &self.inner.metrics {
            return metrics.answer(path, request);
        }
        let _ = request;
        None
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
            headers_timeout: shared.headers_timeout,
            #[cfg(feature = "metrics")]
            metrics: shared.metrics.clone(),
        });
        change(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    pub(crate) fn route<B>(&self, request: &Request<B>) -> Route {
        socketio::http::route(
            request.method(),
            request.uri().path(),
            self.inner.client.as_ref(),
            |path| self.inner.io.handles(path),
        )
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
        if let Some(response) = self.metrics_response(&request) {
            return response;
        }
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
        // What hyper lets through and Node refuses (no `Host`, an unknown transfer coding or
        // expectation, `100-continue` over the body limit).
        if let Some(refusal) = socketio::http::refusal(&request, self.inner.io.max_payload()) {
            tracing::debug!(?remote, status = %refusal.status(), "request refused");
            return refusal;
        }
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
        let accept = match socketio::http::websocket_accept(request.headers()) {
            Ok(accept) => accept,
            Err(refusal) => {
                tracing::debug!(
                    ?remote,
                    "websocket upgrade without a valid key or version 13"
                );
                return refusal;
            }
        };
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
        let response = socketio::http::switching_protocols(accept, E::websocket_headers(&ticket));
        let io = self.inner.io.clone();
        let config = self.inner.websocket;
        let span = tracing::info_span!("websocket", ?remote, path = parts.uri.path());
        tokio::spawn(
            async move {
                // Not matched in place: the `Result` would stay in the task for its whole life.
                let upgraded = match on_upgrade.await {
                    Ok(upgraded) => upgraded,
                    Err(error) => {
                        tracing::debug!(%error, "websocket upgrade failed");
                        return;
                    }
                };
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
            .instrument(span),
        );
        response
    }
}
