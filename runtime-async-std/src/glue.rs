//! [`HttpServer`]: the standalone server on async-net — accept loop, hyper's HTTP/1.1
//! connections on async-io ([`crate::rt`], [`crate::server_io`]), WebSocket upgrades on
//! async-tungstenite, graceful shutdown.
//!
//! Limits, with what Node's HTTP server does in the same case:
//! - a request head must arrive within [`HEADERS_TIMEOUT`] (60 s, Node's `headersTimeout`),
//!   counted from the moment the server waits for it; past it hyper closes the connection
//!   (Node answers `408` first when part of the head came);
//! - a kept-alive connection with no new request within [`KEEP_ALIVE_TIMEOUT`] (5 s, Node's
//!   `keepAliveTimeout`) is closed;
//! - a head larger than [`MAX_HEAD`] (16 KiB, Node's `maxHeaderSize`) or with more than 100
//!   fields: `431`;
//! - the refusals of [`socketio::http::refusal`] (`Host`, `Transfer-Encoding`, `Expect`), and hyper's
//!   own `400`s (malformed heads, conflicting lengths, bad chunks).
//!
//! The time a body may take is the server's to limit (`socketio`), not this layer's.

use std::{
    convert::Infallible, future::Future, io, net::SocketAddr, pin::pin, sync::Arc, time::Duration,
};

use async_net::{AsyncToSocketAddrs, TcpListener, TcpStream};
use async_tungstenite::{
    WebSocketStream,
    tungstenite::protocol::{Role, WebSocketConfig},
};
use bytes::Bytes;
use futures_lite::{AsyncRead, AsyncWrite, future};
use http::{HeaderValue, Request, Response, StatusCode, Version, header};
use http_body_util::Full;
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use socketio::{
    ClientBundle, Endpoint, Runtime, Server,
    http::{
        Route, SHUTDOWN_GRACE, default_websocket_config, is_websocket_upgrade, plain,
        switching_protocols, websocket_accept,
    },
};
use tracing::Instrument;

use crate::{
    body::RequestBody,
    rt::{AsyncIoTimer, HyperIo},
    server_io::ServerIo,
};

/// Largest request head accepted (request line and headers), as Node's `maxHeaderSize`.
pub(crate) const MAX_HEAD: usize = 16 * 1024;
/// Time allowed for a whole request head, from the moment the server waits for it.
pub(crate) const HEADERS_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a kept-alive connection may wait for its next request (Node's
/// `keepAliveTimeout`).
pub(crate) const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(5);

/// The server side's time limits (see the module documentation).
#[derive(Clone, Copy, Debug)]
struct Limits {
    /// [`HEADERS_TIMEOUT`].
    headers_timeout: Duration,
    /// [`KEEP_ALIVE_TIMEOUT`].
    keep_alive_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            headers_timeout: HEADERS_TIMEOUT,
            keep_alive_timeout: KEEP_ALIVE_TIMEOUT,
        }
    }
}

struct Inner<E> {
    io: E,
    runtime: Arc<dyn Runtime>,
    client: Option<ClientBundle>,
    websocket: WebSocketConfig,
    limits: Limits,
    /// The metrics' path and what it serves (`HttpServer::metrics`).
    #[cfg(feature = "metrics")]
    metrics: Option<(String, socketio::metrics::Metrics)>,
}

/// The HTTP side of a Socket.IO [`Server`] on async-net: serves it standalone
/// ([`listen`](Self::listen), [`serve`](Self::serve)) or on one accepted stream
/// ([`serve_connection`](Self::serve_connection)), with an optional [`ClientBundle`].
/// Connections are spawned on the server's runtime. Cheap to clone.
///
/// Generic over the [`Endpoint`] it serves: the Socket.IO [`Server`] by default, or the
/// Engine.IO-only [`EngineServer`](socketio::engine::EngineServer).
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

/// The stop signal of [`HttpServer::serve_with_shutdown`], as each connection holds it: closed
/// when the server stops; `_done` is dropped when the connection ends.
#[derive(Clone)]
struct Stop {
    stopped: async_channel::Receiver<()>,
    _done: async_channel::Sender<()>,
}

impl<E: Endpoint> HttpServer<E> {
    /// Serves `io`, without a client bundle, with small WebSocket buffers
    /// ([`default_websocket_config`]).
    pub fn new(io: E) -> Self {
        Self {
            inner: Arc::new(Inner {
                runtime: io.runtime(),
                io,
                client: None,
                websocket: default_websocket_config(),
                limits: Limits::default(),
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
    /// requests; past it the connection is closed (hyper's `header_read_timeout`).
    ///
    /// ```
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// # fn f() {
    /// let http = socketio_async_std::HttpServer::new(io())
    ///     .headers_timeout(std::time::Duration::from_secs(10));
    /// # let _ = http;
    /// # }
    /// ```
    pub fn headers_timeout(self, timeout: Duration) -> Self {
        self.with_inner(|inner| inner.limits.headers_timeout = timeout)
    }

    /// How long a kept-alive connection may stay idle waiting for its next request (5 s,
    /// Node's `keepAliveTimeout`); past it the connection is closed.
    ///
    /// ```
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// # fn f() {
    /// let http = socketio_async_std::HttpServer::new(io())
    ///     .keep_alive_timeout(std::time::Duration::from_secs(15));
    /// # let _ = http;
    /// # }
    /// ```
    pub fn keep_alive_timeout(self, timeout: Duration) -> Self {
        self.with_inner(|inner| inner.limits.keep_alive_timeout = timeout)
    }

    /// Also answers Prometheus scrapes of `metrics` at `path` (such as `"/metrics"`) on this
    /// listener (feature `metrics`); other paths are routed as before.
    ///
    /// ```
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// # fn f() {
    /// let metrics = socketio::metrics::Metrics::new();
    /// let http = socketio_async_std::HttpServer::new(io()).metrics("/metrics", &metrics);
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
            runtime: shared.runtime.clone(),
            client: shared.client.clone(),
            websocket: shared.websocket,
            limits: shared.limits,
            #[cfg(feature = "metrics")]
            metrics: shared.metrics.clone(),
        });
        change(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Binds `addr` and serves until the process ends (see [`serve`](Self::serve)).
    pub async fn listen(self, addr: impl AsyncToSocketAddrs) -> io::Result<()> {
        self.serve(TcpListener::bind(addr).await?).await
    }

    /// Serves every connection accepted on `listener`, until the process ends.
    pub async fn serve(self, listener: TcpListener) -> io::Result<()> {
        self.serve_with_shutdown(listener, future::pending()).await
    }

    /// Serves connections accepted on `listener` until `signal` completes; then shuts the
    /// Socket.IO server down (every client gets `server shutting down`) while still accepting
    /// (a polling client may need one more request for its close packet), stops accepting,
    /// asks the open HTTP connections to close once their request is answered, and waits for
    /// them (at most [`SHUTDOWN_GRACE`]).
    pub async fn serve_with_shutdown(
        self,
        listener: TcpListener,
        signal: impl Future<Output = ()>,
    ) -> io::Result<()> {
        let local = listener.local_addr()?;
        tracing::info!(%local, "socket.io listening");
        let (stop_tx, stopped) = async_channel::bounded(1);
        let (done_tx, done) = async_channel::bounded(1);
        let stop = Stop {
            stopped,
            _done: done_tx,
        };
        self.accept_until(&listener, signal, &stop).await;
        tracing::info!(%local, "socket.io shutting down");
        // Keep accepting while the sessions close: a polling client may need one more request,
        // on a new connection, to receive its close packet (as with the reference server).
        self.accept_until(&listener, self.io().shutdown(), &stop)
            .await;
        drop((listener, stop_tx, stop));
        let finished = future::or(async { done.recv().await.is_err() }, async {
            async_io::Timer::after(SHUTDOWN_GRACE).await;
            false
        });
        if !finished.await {
            tracing::warn!("HTTP connections still open after the shutdown grace period");
        }
        Ok(())
    }

    /// Accepts connections on `listener` until `until` completes.
    async fn accept_until(
        &self,
        listener: &TcpListener,
        until: impl Future<Output = ()>,
        stop: &Stop,
    ) {
        let mut until = pin!(until);
        loop {
            let accepted = future::or(async { Some(listener.accept().await) }, async {
                until.as_mut().await;
                None
            });
            match accepted.await {
                Some(Ok((stream, remote))) => self.spawn_tcp(stream, remote, stop.clone()),
                Some(Err(error)) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    async_io::Timer::after(Duration::from_millis(50)).await;
                }
                None => return,
            }
        }
    }

    fn spawn_tcp(&self, stream: TcpStream, remote: SocketAddr, stop: Stop) {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY");
        }
        let span = tracing::info_span!("http", %remote);
        let http = self.clone();
        self.inner.runtime.spawn(Box::pin(
            async move { http.serve_io(stream, Some(remote), Some(stop)).await }.instrument(span),
        ));
    }

    /// Serves one already accepted connection (a TLS stream, a Unix socket, …) until it
    /// closes: HTTP/1.1 with WebSocket upgrades, `remote` as the handshake address.
    pub async fn serve_connection<IO>(self, io: IO, remote: Option<SocketAddr>)
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        self.serve_io(io, remote, None).await;
    }

    async fn serve_io<IO>(self, io: IO, remote: Option<SocketAddr>, stop: Option<Stop>)
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let limits = self.inner.limits;
        let io = ServerIo::new(io, limits.keep_alive_timeout, self.inner.runtime.clone());
        let in_flight = io.in_flight();
        let http = self.clone();
        // Accepted WebSockets hold the stop signal too: the shutdown waits for them.
        let websocket_stop = stop.clone();
        let service = service_fn(move |request: Request<Incoming>| {
            let serving = in_flight.start();
            let http = http.clone();
            let stop = websocket_stop.clone();
            async move {
                let response = http.answer::<IO>(request, remote, stop).await;
                drop(serving);
                Ok::<_, Infallible>(response)
            }
        });
        let mut builder = http1::Builder::new();
        builder
            .timer(AsyncIoTimer)
            .header_read_timeout(limits.headers_timeout)
            .max_header_size(MAX_HEAD)
            .max_buf_size(MAX_HEAD)
            // Bodies are queued as they are, not copied into a buffer that stays grown.
            .writev(true);
        let connection = builder
            .serve_connection(HyperIo::new(io), service)
            .with_upgrades();
        let mut connection = pin!(connection);
        let served = future::or(async { Some(connection.as_mut().await) }, async {
            match &stop {
                Some(stop) => drop(stop.stopped.recv().await),
                None => future::pending().await,
            }
            None
        });
        let result = match served.await {
            Some(result) => result,
            // Stopping: the request in flight is answered with `Connection: close`, an idle
            // connection is closed now.
            None => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(error) = result {
            tracing::debug!(%error, "connection ended with an error");
        }
    }

    /// Answers one request: a refusal from its head, the client bundle, Engine.IO polling, a
    /// WebSocket upgrade, or `404`.
    async fn answer<IO>(
        &self,
        request: Request<Incoming>,
        remote: Option<SocketAddr>,
        stop: Option<Stop>,
    ) -> Response<Full<Bytes>>
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        if let Some(refusal) = socketio::http::refusal(&request, self.inner.io.max_payload()) {
            tracing::debug!(status = %refusal.status(), "request refused");
            return refusal;
        }
        // hyper closes an HTTP/1.0 connection without `keep-alive` but does not say so; Node
        // does, as this crate did before hyper.
        let closes = request.version() == Version::HTTP_10
            && !request
                .headers()
                .get_all(header::CONNECTION)
                .iter()
                .any(|value| {
                    value
                        .as_bytes()
                        .split(|&b| b == b',')
                        .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"keep-alive"))
                });
        if let Some(response) = self.metrics_response(&request) {
            return response;
        }
        let route = socketio::http::route(
            request.method(),
            request.uri().path(),
            self.inner.client.as_ref(),
            |path| self.inner.io.handles(path),
        );
        let (parts, body) = request.into_parts();
        let (body, end) = RequestBody::new(body);
        let request = Request::from_parts(parts, body);
        let mut response = match route {
            Route::Bundle => {
                let (parts, _body) = request.into_parts();
                match &self.inner.client {
                    Some(bundle) => bundle.respond(&parts, |dir| self.inner.io.handles(dir)),
                    None => plain(StatusCode::NOT_FOUND, "Not Found"),
                }
            }
            Route::SocketIo if is_websocket_upgrade(request.method(), request.headers()) => {
                self.upgrade::<IO>(request, remote, stop)
            }
            Route::SocketIo => self.inner.io.handle_http(request, remote).await,
            Route::Other => plain(StatusCode::NOT_FOUND, "Not Found"),
        };
        // A body left partly unread makes hyper close the connection: said in the answer.
        let unread = !end.reached() && response.status() != StatusCode::SWITCHING_PROTOCOLS;
        if closes || unread {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }

    /// Verifies a WebSocket upgrade and answers `101`; once hyper hands the stream over, the
    /// WebSocket is served on a new task.
    #[allow(clippy::result_large_err)] // the refusal is the response to write
    fn upgrade<IO>(
        &self,
        mut request: Request<RequestBody>,
        remote: Option<SocketAddr>,
        stop: Option<Stop>,
    ) -> Response<Full<Bytes>>
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let on_upgrade = hyper::upgrade::on(&mut request);
        let (parts, _body) = request.into_parts();
        let verdict = websocket_accept(&parts.headers).and_then(|accept| {
            let ticket = self.inner.io.accept_websocket(&parts, remote)?;
            let response = switching_protocols(accept, E::websocket_headers(&ticket));
            Ok((ticket, response))
        });
        let (ticket, response) = match verdict {
            Ok(accepted) => accepted,
            Err(refusal) => {
                tracing::debug!(?remote, status = %refusal.status(), "websocket refused");
                return refusal;
            }
        };
        let io = self.inner.io.clone();
        let config = self.inner.websocket;
        let span = tracing::info_span!("websocket", ?remote, path = parts.uri.path());
        let serve = async move {
            let _stop = stop;
            let upgraded = match on_upgrade.await {
                Ok(upgraded) => upgraded,
                Err(error) => {
                    tracing::debug!(%error, "websocket upgrade failed");
                    return;
                }
            };
            // The stream hyper was given, back without its adapters, and the bytes hyper read
            // past the request head (the first WebSocket frames).
            let Ok(hyper::upgrade::Parts {
                io: stream,
                read_buf,
                ..
            }) = upgraded.downcast::<HyperIo<ServerIo<IO>>>()
            else {
                tracing::warn!("websocket upgrade on an unexpected stream type");
                return;
            };
            let Some(stream) = stream.into_inner().into_stream() else {
                return;
            };
            tracing::debug!("websocket open");
            let socket = WebSocketStream::from_partially_read(
                stream,
                read_buf.to_vec(),
                Role::Server,
                Some(config),
            )
            .await;
            io.serve_websocket(ticket, socket).await;
            tracing::debug!("websocket done");
        };
        self.inner.runtime.spawn(Box::pin(serve.instrument(span)));
        response
    }
}
