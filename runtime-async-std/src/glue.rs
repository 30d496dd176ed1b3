//! [`HttpServer`]: the standalone server on async-net — accept loop, HTTP/1.1 connections
//! ([`crate::h1`]), WebSocket upgrades on async-tungstenite, graceful shutdown.

use std::{future::Future, io, net::SocketAddr, pin::pin, sync::Arc, time::Duration};

use async_net::{AsyncToSocketAddrs, TcpListener, TcpStream};
use async_tungstenite::{
    WebSocketStream,
    tungstenite::protocol::{Role, WebSocketConfig},
};
use futures_lite::{AsyncRead, AsyncWrite, future};
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use socketio::{
    ClientBundle, Endpoint, Runtime, Server,
    http::{
        Route, SHUTDOWN_GRACE, default_websocket_config, is_websocket_upgrade, plain,
        switching_protocols, websocket_accept,
    },
};
use tracing::Instrument;

use crate::h1;

struct Inner<E> {
    io: E,
    runtime: Arc<dyn Runtime>,
    client: Option<ClientBundle>,
    websocket: WebSocketConfig,
    limits: h1::Limits,
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
                limits: h1::Limits::default(),
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

    /// How long a client may take to send a request head (60 s, Node's `headersTimeout`);
    /// past it the connection gets `408` and is closed. An idle keep-alive connection is
    /// closed silently after the same time.
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

    /// How long a client may take to send a request body after its head (300 s, Node's
    /// `requestTimeout`); past it the connection gets `408` and is closed.
    ///
    /// ```
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// # fn f() {
    /// let http = socketio_async_std::HttpServer::new(io())
    ///     .request_timeout(std::time::Duration::from_secs(30));
    /// # let _ = http;
    /// # }
    /// ```
    pub fn request_timeout(self, timeout: Duration) -> Self {
        self.with_inner(|inner| inner.limits.request_timeout = timeout)
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

    async fn serve_io<IO>(self, mut io: IO, remote: Option<SocketAddr>, stop: Option<Stop>)
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let stopped = || stop.as_ref().is_some_and(|stop| stop.stopped.is_closed());
        let mut buf = Vec::new();
        let mut served_one = false;
        loop {
            let limits = self.inner.limits;
            let idle = served_one && buf.is_empty();
            served_one = true;
            let next = async {
                if idle && !h1::await_next_request(&mut io, &mut buf, &limits).await {
                    return Ok(None);
                }
                h1::read_head_with(&mut io, &mut buf, &limits).await
            };
            let head = future::or(next, async {
                match &stop {
                    Some(stop) => drop(stop.stopped.recv().await),
                    None => future::pending().await,
                }
                Ok(None)
            });
            let parts = match head.await {
                Ok(Some(parts)) => parts,
                Ok(None) => return,
                Err(error) => {
                    tracing::debug!(%error, "bad request head");
                    let response = plain(StatusCode::BAD_REQUEST, "Bad request");
                    drop(h1::write_response(&mut io, response, false, false).await);
                    return;
                }
            };
            let route = socketio::http::route(
                &parts.method,
                parts.uri.path(),
                self.inner.client.as_ref(),
                |path| self.inner.io.handles(path),
            );
            if route == Route::SocketIo && is_websocket_upgrade(&parts.method, &parts.headers) {
                self.upgrade(io, buf, parts, remote).await;
                return;
            }
            let keep_alive = h1::keep_alive(&parts);
            let limit = self.inner.io.max_payload() + 1;
            let read = h1::read_body_with(&mut io, &mut buf, &parts, limit, &limits).await;
            let (body, whole) = match read {
                Ok(body) => body,
                // Refused and answered by h1 (bad framing, expectation, timeout).
                Err(error) => {
                    tracing::debug!(%error, "request body");
                    return;
                }
            };
            let head_only = parts.method == Method::HEAD;
            let response = match route {
                Route::Bundle => match &self.inner.client {
                    Some(bundle) => bundle.respond(&parts, |dir| self.inner.io.handles(dir)),
                    None => plain(StatusCode::NOT_FOUND, "Not Found"),
                },
                Route::SocketIo => {
                    let request = Request::from_parts(parts, Full::new(body));
                    self.inner.io.handle_http(request, remote).await
                }
                Route::Other => plain(StatusCode::NOT_FOUND, "Not Found"),
            };
            let keep_alive = keep_alive && whole && !stopped();
            if let Err(error) = h1::write_response(&mut io, response, head_only, keep_alive).await {
                tracing::debug!(%error, "connection ended with an error");
                return;
            }
            if !keep_alive {
                if !whole {
                    // Unread input (a body past the limit): closing at once would make the
                    // kernel reset the connection and destroy the answer (413) in flight.
                    h1::linger(&mut io).await;
                }
                return;
            }
        }
    }

    /// Verifies a WebSocket upgrade, answers `101` and serves the WebSocket on this task.
    #[allow(clippy::result_large_err)] // the refusal is the response to write
    async fn upgrade<IO>(
        &self,
        mut io: IO,
        read: Vec<u8>,
        parts: http::request::Parts,
        remote: Option<SocketAddr>,
    ) where
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let verdict = websocket_accept(&parts.headers).and_then(|accept| {
            let ticket = self.inner.io.accept_websocket(&parts, remote)?;
            let response = switching_protocols(accept, E::websocket_headers(&ticket));
            Ok((ticket, response))
        });
        let (ticket, response) = match verdict {
            Ok(accepted) => accepted,
            Err(refusal) => {
                tracing::debug!(?remote, status = %refusal.status(), "websocket refused");
                drop(h1::write_response(&mut io, refusal, false, false).await);
                return;
            }
        };
        if let Err(error) = h1::write_response(&mut io, response, false, true).await {
            tracing::debug!(%error, "websocket upgrade failed");
            return;
        }
        let span = tracing::info_span!("websocket", ?remote, path = parts.uri.path());
        async move {
            tracing::debug!("websocket open");
            let config = Some(self.inner.websocket);
            let socket = WebSocketStream::from_partially_read(io, read, Role::Server, config).await;
            self.inner.io.serve_websocket(ticket, socket).await;
            tracing::debug!("websocket done");
        }
        .instrument(span)
        .await;
    }
}
