//! [`EngineServer`]: the handle, on the shared driver (`crate::driver`) with the engine-only
//! layer: per connection, the application's [`EngineSocket`] and the sending end of its
//! message queue.
//!
//! Every entry point (an HTTP request, a WebSocket frame, an API call, the timer) takes the
//! lock of the one connection it concerns, feeds its session and drains its outputs
//! (`Driver::drive`). Responses go to oneshot channels, frames to per-WebSocket queues,
//! messages to per-session queues read by [`EngineSocket::recv`]; connection handlers are
//! spawned after the lock is released.
//!
//! Backpressure as [`Server`](crate::Server)'s: every session has a [`Gate`] on which a
//! received message counts until [`EngineSocket::recv`] takes it. The gate is attached to the
//! session's WebSocket writer (at the handshake or the upgrade), so the reader pauses while
//! the backlog or the outgoing bytes are above the marks; over polling, a POST is answered
//! only once the session is back below them. A GET answered for the session, the upgrade and
//! a `recv` wake the gate; the session's close closes it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;
use futures_channel::mpsc;
use http_body_util::Full;
use socketio_protocol::Instant;
use socketio_protocol::engine::server::{
    Error as CoreError, Event, Handshake as CoreHandshake, Session, TransportId,
};
use socketio_protocol::engine::{CloseReason, Data};

use super::builder::EngineConfig;
use super::{EngineBuilder, EngineSocket, Message, SendError};
use crate::driver::{Conn, ConnState, Cx, Driver, Layer, RequestCtx, Ticket};
use crate::flow::Gate;
use crate::namespace::lock;
use crate::{BoxTask, Endpoint, Runtime};

type Handler = Arc<dyn Fn(EngineSocket) -> BoxTask + Send + Sync>;

/// An Engine.IO server without the Socket.IO layer, on any [`Runtime`]: the counterpart of the
/// `engine.io` package's `Server`. Each client session is an [`EngineSocket`], handed to the
/// [`on_connection`](Self::on_connection) handler when it opens. A cheap clonable handle.
///
/// A runtime crate serves it over HTTP like the Socket.IO server, through [`Endpoint`]
/// (`socketio_tokio::HttpServer::new(engine)`, `socketio_async_std::HttpServer::new(engine)`).
///
/// ```no_run
/// # fn runtime() -> std::sync::Arc<dyn socketio::Runtime> { unimplemented!() }
/// use std::time::Duration;
/// use socketio::engine::{EngineServer, EngineSocket};
///
/// let engine = EngineServer::builder()
///     .ping_interval(Duration::from_secs(10))
///     .build(runtime());
/// // An echo server: every message goes back as it came.
/// engine.on_connection(|socket: EngineSocket| async move {
///     while let Some(message) = socket.recv().await {
///         if socket.send(message).is_err() {
///             break;
///         }
///     }
///     let reason = socket.closed().await;
///     tracing::info!(id = socket.id(), %reason, "closed");
/// });
/// ```
#[derive(Clone)]
pub struct EngineServer(Arc<Inner>);

impl std::fmt::Debug for EngineServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineServer")
            .field("config", &self.0.config)
            .finish_non_exhaustive()
    }
}

/// The engine server's driver.
pub(crate) type Inner = Driver<EngineLayer>;

/// An engine connection's driver-side handle.
pub(crate) type EngineCell = Conn<EngineLayer>;

/// What the engine server keeps beside the driver.
pub(crate) struct EngineLayer {
    config: EngineConfig,
    handler: Mutex<Option<Handler>>,
    probe: crate::probe::Probe,
}

/// An open session: the application's handle and the sending end of its message queue
/// (none when no connection handler took the session: its messages are dropped).
pub(crate) struct EngineConn {
    socket: EngineSocket,
    incoming: Option<mpsc::UnboundedSender<Message>>,
}

impl Drop for EngineConn {
    // A session dropped still open (its server dropped): its socket sees a forced close.
    fn drop(&mut self) {
        self.socket.gate().close();
        self.socket.set_closed(CloseReason::ForcedClose);
    }
}

impl Layer for EngineLayer {
    type Machine = Session;
    type Conn = EngineConn;

    fn machine(&self, _now: Instant, mut session: Session) -> Option<(Session, CoreHandshake)> {
        // A session's first event is its `Opened`.
        match session.poll_event()? {
            Event::Opened(handshake) => Some((session, handshake)),
            _ => None,
        }
    }

    fn open(
        &self,
        cx: &mut Cx<'_, Self>,
        cell: &Weak<EngineCell>,
        handshake: CoreHandshake,
        ctx: RequestCtx<'_>,
    ) -> EngineConn {
        let (tx, rx) = mpsc::unbounded();
        let socket = EngineSocket::new(
            handshake.sid,
            handshake.protocol,
            matches!(handshake.transport, TransportId::WebSocket(_)),
            ctx.parts,
            ctx.remote,
            cx.driver.self_ref.clone(),
            cell.clone(),
            rx,
            Arc::new(Gate::default()),
        );
        let incoming = match lock(&self.handler).clone() {
            Some(handler) => {
                // Called in the task, not here under the lock: the handler's synchronous part
                // may call any API.
                let socket = socket.clone();
                cx.fx
                    .spawn
                    .push(Box::pin(async move { handler(socket).await }));
                Some(tx)
            }
            None => {
                tracing::debug!("no connection handler: the session's messages are dropped");
                None
            }
        };
        EngineConn { socket, incoming }
    }

    fn on_event(&self, st: &mut ConnState<Self>, _cx: &mut Cx<'_, Self>, event: Event) {
        if let Event::Upgraded { connection, .. } = &event {
            self.probe.upgrade();
            Inner::upgraded(st, *connection);
        }
        let session = &st.layer;
        match event {
            Event::Message { data, .. } => {
                let Some(incoming) = &session.incoming else {
                    return;
                };
                // Counted until `recv` takes it (and before it can be taken, so `recv` never
                // uncounts it first): past the mark, the session's reading pauses (the
                // WebSocket reader, or the answer to the POST that carried it).
                let gate = session.socket.gate();
                gate.queued();
                if incoming.unbounded_send(Message::from(data)).is_err() {
                    gate.started();
                }
            }
            Event::Upgraded { sid, .. } => {
                tracing::debug!(%sid, "engine.io session upgraded to websocket");
                session.socket.set_websocket();
            }
            Event::Closed { sid, reason } => {
                tracing::debug!(%sid, %reason, "engine.io session closed");
                session.socket.gate().close();
                session.socket.set_closed(reason);
            }
            _ => {}
        }
    }

    fn probe(&self) -> &crate::probe::Probe {
        &self.probe
    }

    fn gate(conn: &EngineConn) -> &Arc<Gate> {
        conn.socket.gate()
    }
}

impl EngineServer {
    /// A builder with the reference defaults (see [`EngineBuilder`]).
    ///
    /// ```
    /// let builder = socketio::engine::EngineServer::builder().path("/engine.io");
    /// # let _ = builder;
    /// ```
    pub fn builder() -> EngineBuilder {
        EngineBuilder::new()
    }

    pub(crate) fn from_config(mut config: EngineConfig, runtime: Arc<dyn Runtime>) -> Self {
        config.core.verify_handshakes = config.allow_request.is_some();
        // One pause mark for the received messages: `incoming_queue` when set, else the
        // backpressure's `max_backlog`.
        if let Some(messages) = config.incoming_queue {
            config.backpressure.max_backlog = messages;
        }
        // A polling session's buffer is bounded in bytes, as a WebSocket's queue: an echo of a
        // whole POST (up to `maxPayload`) always fits, the next POST waits for the GETs.
        config.core.max_buffered_bytes = config.backpressure.limit;
        let core = config.core.clone();
        let limits = config.backpressure;
        let allow_request = config.allow_request.clone();
        #[cfg(feature = "metrics")]
        let probe = config.metrics.as_ref().map_or(
            crate::probe::Probe::NONE,
            crate::metrics::Metrics::engine_probe,
        );
        #[cfg(not(feature = "metrics"))]
        let probe = crate::probe::Probe::NONE;
        EngineServer(Driver::new(core, limits, allow_request, runtime, |_| {
            EngineLayer {
                config,
                handler: Mutex::new(None),
                probe,
            }
        }))
    }

    /// Sets the `connection` handler: it runs (as a task of its own) for every session that
    /// opens from now on, with its [`EngineSocket`]. Set it before serving: a session that
    /// opens without a handler is still served, but its messages are dropped. A new call
    /// replaces the handler for later sessions.
    ///
    /// ```no_run
    /// # fn engine() -> socketio::engine::EngineServer { unimplemented!() }
    /// use socketio::engine::EngineSocket;
    /// engine().on_connection(|socket: EngineSocket| async move {
    ///     socket.send("welcome").ok();
    /// });
    /// ```
    pub fn on_connection<F, Fut>(&self, handler: F)
    where
        F: Fn(EngineSocket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |socket| Box::pin(handler(socket)));
        *lock(&self.0.layer.handler) = Some(handler);
    }

    /// The open sessions.
    ///
    /// ```no_run
    /// # fn engine() -> socketio::engine::EngineServer { unimplemented!() }
    /// for socket in engine().sockets() {
    ///     socket.send("broadcast").ok();
    /// }
    /// ```
    pub fn sockets(&self) -> Vec<EngineSocket> {
        self.0
            .conns()
            .iter()
            .filter_map(|conn| conn.with_state(|st| open_socket(st)))
            .collect()
    }

    /// The open session `id`, if any.
    ///
    /// ```no_run
    /// # fn engine() -> socketio::engine::EngineServer { unimplemented!() }
    /// if let Some(socket) = engine().socket("AAAAAAAAAAAAAAAAAAAA") { socket.close(); }
    /// ```
    pub fn socket(&self, id: &str) -> Option<EngineSocket> {
        self.0.conn(id)?.with_state(|st| open_socket(st))
    }

    /// How many sessions are open (`clientsCount`).
    ///
    /// ```no_run
    /// # fn engine() -> socketio::engine::EngineServer { unimplemented!() }
    /// println!("{} clients", engine().client_count());
    /// ```
    pub fn client_count(&self) -> usize {
        self.0
            .conns()
            .iter()
            .filter(|conn| conn.with_state(|st| !st.session.is_closed()))
            .count()
    }

    /// Whether a request path belongs to this server (it starts with `path + "/"`).
    ///
    /// ```no_run
    /// # fn engine() -> socketio::engine::EngineServer { unimplemented!() }
    /// assert!(engine().handles("/engine.io/"));
    /// ```
    pub fn handles(&self, path: &str) -> bool {
        self.0.handles(path)
    }

    /// The runtime this server was built with.
    pub fn runtime(&self) -> Arc<dyn Runtime> {
        self.0.runtime.clone()
    }

    /// The largest message or POST body accepted, in bytes (`maxPayload`).
    ///
    /// ```no_run
    /// # fn engine() -> socketio::engine::EngineServer { unimplemented!() }
    /// let limit = engine().max_payload();
    /// ```
    pub fn max_payload(&self) -> usize {
        self.0.layer.config.core.max_payload
    }

    /// Answers a non-upgrade HTTP request of this server: polling GET/POST, handshake, CORS
    /// preflight, or an Engine.IO error. Reads the body itself (at most `maxPayload + 1`
    /// bytes). A held poll completes when there is something to send; dropping this future
    /// before it completes aborts the request (`transport error` for the session).
    ///
    /// ```no_run
    /// # async fn f(engine: socketio::engine::EngineServer) {
    /// let request = http::Request::get("/engine.io/?EIO=4&transport=polling")
    ///     .body(http_body_util::Empty::<bytes::Bytes>::new())
    ///     .unwrap();
    /// let response = engine.handle_http(request, None).await;
    /// assert_eq!(response.status(), 200);
    /// # }
    /// ```
    pub async fn handle_http<B>(
        &self,
        request: http::Request<B>,
        remote: Option<SocketAddr>,
    ) -> http::Response<Full<Bytes>>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.0.handle_http(request, remote).await
    }

    /// The engine's verdict on a WebSocket upgrade request of this server. On `Ok`, answer
    /// `101 Switching Protocols` (adding [`EngineTicket::headers`]) and pass the socket to
    /// [`serve_websocket`](Self::serve_websocket); on `Err`, write that response.
    ///
    /// ```no_run
    /// # fn f(engine: socketio::engine::EngineServer, parts: http::request::Parts) {
    /// match engine.accept_websocket(&parts, None) {
    ///     Ok(ticket) => { /* 101, then engine.serve_websocket(ticket, ws).await */ }
    ///     Err(response) => { /* write response */ }
    /// }
    /// # }
    /// ```
    #[allow(clippy::result_large_err)] // the refusal is the response to write
    pub fn accept_websocket(
        &self,
        request: &http::request::Parts,
        remote: Option<SocketAddr>,
    ) -> Result<EngineTicket, http::Response<Full<Bytes>>> {
        self.0
            .accept_websocket(request, remote)
            .map(|ticket| EngineTicket { ticket })
    }

    /// Serves an accepted WebSocket until it closes: reads frames into the engine, writes the
    /// connection's queue (flushed when the queue is empty). A WebSocket that ends (with or
    /// without a close frame, or reset) closes its session with `transport close`; any other
    /// error (a protocol violation, an oversized message) with `transport error`.
    ///
    /// Reading pauses while the session's received messages not yet taken by
    /// [`EngineSocket::recv`] are above [`EngineBuilder::incoming_queue`], or the connection's
    /// outgoing bytes above [`Backpressure::high_water`](crate::Backpressure::high_water); it
    /// resumes at half of them.
    ///
    /// ```no_run
    /// # async fn f<S>(engine: socketio::engine::EngineServer, ticket: socketio::engine::EngineTicket, ws: S)
    /// # where S: futures_core::Stream<Item = Result<tungstenite::Message, tungstenite::Error>>
    /// #   + futures_sink::Sink<tungstenite::Message, Error = tungstenite::Error> + Send + Unpin + 'static {
    /// engine.serve_websocket(ticket, ws).await;
    /// # }
    /// ```
    pub fn serve_websocket<S>(
        &self,
        ticket: EngineTicket,
        socket: S,
    ) -> impl Future<Output = ()> + Send + '_
    where
        S: futures_core::Stream<Item = Result<tungstenite::Message, tungstenite::Error>>
            + futures_sink::Sink<tungstenite::Message, Error = tungstenite::Error>
            + Send
            + Unpin
            + 'static,
    {
        self.0.serve_websocket(ticket.ticket, socket)
    }

    /// Shuts down gracefully: every session closes (`forced close`) — WebSockets at once, held
    /// polls answered with the close packet, a polling client with no GET pending gets it on
    /// its next request — while new handshakes and WebSockets get `503`. Waits (at most
    /// [`EngineBuilder::shutdown_timeout`]) for the sessions to end, closes whatever is left,
    /// stops the timer and waits (within the same deadline) for the connection handlers and
    /// WebSocket loops to finish.
    ///
    /// ```no_run
    /// # async fn f(engine: socketio::engine::EngineServer) {
    /// engine.shutdown().await;
    /// # }
    /// ```
    pub async fn shutdown(&self) {
        let inner = &self.0;
        if inner.shut_down.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::info!("engine.io server shutting down");
        for conn in inner.conns() {
            inner.drive(&conn, |st, cx| st.session.close(cx.now));
        }
        let deadline = inner.runtime.now() + inner.layer.config.shutdown_timeout;
        inner.finish_shutdown(deadline).await;
        tracing::info!("engine.io server shut down");
    }
}

impl Endpoint for EngineServer {
    type Ticket = EngineTicket;

    fn handles(&self, path: &str) -> bool {
        EngineServer::handles(self, path)
    }

    fn runtime(&self) -> Arc<dyn Runtime> {
        EngineServer::runtime(self)
    }

    fn max_payload(&self) -> usize {
        EngineServer::max_payload(self)
    }

    fn handle_http<B>(
        &self,
        request: http::Request<B>,
        remote: Option<SocketAddr>,
    ) -> impl Future<Output = http::Response<Full<Bytes>>> + Send
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<crate::BoxError>,
    {
        EngineServer::handle_http(self, request, remote)
    }

    fn accept_websocket(
        &self,
        request: &http::request::Parts,
        remote: Option<SocketAddr>,
    ) -> Result<EngineTicket, http::Response<Full<Bytes>>> {
        EngineServer::accept_websocket(self, request, remote)
    }

    fn websocket_headers(ticket: &EngineTicket) -> Vec<(http::HeaderName, http::HeaderValue)> {
        ticket.headers().to_vec()
    }

    fn serve_websocket<S>(&self, ticket: EngineTicket, socket: S) -> impl Future<Output = ()> + Send
    where
        S: futures_core::Stream<Item = Result<tungstenite::Message, tungstenite::Error>>
            + futures_sink::Sink<tungstenite::Message, Error = tungstenite::Error>
            + Send
            + Unpin
            + 'static,
    {
        EngineServer::serve_websocket(self, ticket, socket)
    }

    fn shutdown(&self) -> impl Future<Output = ()> + Send {
        EngineServer::shutdown(self)
    }
}

/// The engine's acceptance of a WebSocket upgrade, to pass to
/// [`EngineServer::serve_websocket`] after answering `101`. Dropping it unused tells the engine
/// the WebSocket failed.
///
/// ```no_run
/// # fn f(ticket: socketio::engine::EngineTicket) {
/// for (name, value) in ticket.headers() {
///     println!("{name}: {value:?}");
/// }
/// # }
/// ```
pub struct EngineTicket {
    ticket: Ticket<EngineLayer>,
}

impl std::fmt::Debug for EngineTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineTicket")
            .field("connection", &self.ticket.connection.0)
            .field("headers", &self.ticket.headers)
            .finish()
    }
}

impl EngineTicket {
    /// Extra headers for the `101` response (CORS).
    ///
    /// ```no_run
    /// # fn f(ticket: socketio::engine::EngineTicket) {
    /// let extra = ticket.headers().len();
    /// # }
    /// ```
    pub fn headers(&self) -> &[(http::HeaderName, http::HeaderValue)] {
        &self.ticket.headers
    }
}

/// The open socket of a connection (none once its session closed).
fn open_socket(st: &ConnState<EngineLayer>) -> Option<EngineSocket> {
    (!st.session.is_closed()).then(|| st.layer.socket.clone())
}

impl Inner {
    /// [`EngineSocket::send`].
    pub(crate) fn send(&self, conn: &Arc<EngineCell>, data: Data) -> Result<(), SendError> {
        self.drive(conn, |st, _| {
            st.session.send(data).map_err(|error| match error {
                CoreError::QueueFull => SendError::QueueFull,
                _ => SendError::Closed,
            })
        })
    }

    /// [`EngineSocket::close`].
    pub(crate) fn close_session(&self, conn: &Arc<EngineCell>) {
        self.drive(conn, |st, cx| st.session.close(cx.now));
    }
}
