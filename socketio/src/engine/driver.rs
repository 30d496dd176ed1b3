//! [`EngineServer`]: the handle, the locked state every entry point drives, and the timer task.
//!
//! The structure of [`Server`](crate::Server)'s driver, without the Socket.IO layer: one
//! `Mutex<State>` holds the sans-IO engine core (every session); every entry point (an HTTP
//! request, a WebSocket frame, an API call, the timer) locks it, feeds the core, drains its
//! outputs ([`State::pump`]) and unlocks. Responses go to oneshot channels, frames to
//! per-WebSocket queues, messages to per-session queues read by [`EngineSocket::recv`];
//! connection handlers are spawned after the lock is released.
//!
//! Backpressure as [`Server`](crate::Server)'s: every session has a [`Gate`] on which a
//! received message counts until [`EngineSocket::recv`] takes it. The gate is attached to the
//! session's WebSocket writer (at the handshake or the upgrade), so the reader
//! ([`wsio::serve`]) pauses while the backlog or the outgoing bytes are above the marks; over
//! polling, a POST is answered only once the session is back below them
//! ([`Inner::after_poll`]). A GET answered for the session, the upgrade and a `recv` wake the
//! gate; the session's close closes it.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures_channel::{mpsc, oneshot};
use futures_util::StreamExt;
use http_body_util::Full;
use socketio_protocol::engine::server::{
    ConnectionId, Error as CoreError, Event, Method, RequestId, Server as Core, TransportId,
};
use socketio_protocol::engine::{CloseReason, Data};
use socketio_protocol::{Instant, Str};

use super::builder::EngineConfig;
use super::{EngineBuilder, EngineSocket, Message, SendError};
use crate::flow::Gate;
use crate::httputil::{
    await_answer, close_unread, has_sid, head_from_parts, plain, session_of, to_http,
};
use crate::ids::id_generator;
use crate::namespace::lock;
use crate::plumbing::{Plumbing, upgrade_headers};
use crate::wsio::{self, WriterEnd};
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

pub(crate) struct Inner {
    self_ref: Weak<Inner>,
    runtime: Arc<dyn Runtime>,
    config: EngineConfig,
    prefix: String,
    epoch: std::time::Instant,
    state: Mutex<State>,
    handler: Mutex<Option<Handler>>,
    wake: Mutex<Option<mpsc::Sender<()>>>,
    next_id: AtomicU64,
    /// Connection handler tasks still running.
    tasks: Arc<AtomicUsize>,
    /// WebSockets being served.
    websockets: AtomicUsize,
    timer_running: AtomicBool,
    shut_down: AtomicBool,
}

/// An open session: the application's handle and the sending end of its message queue
/// (none when no connection handler took the session: its messages are dropped).
struct Session {
    socket: EngineSocket,
    incoming: Option<mpsc::UnboundedSender<Message>>,
}

/// The request being handled, for the handshake hook and the socket's request info.
#[derive(Clone, Copy)]
struct RequestCtx<'a> {
    parts: Option<&'a http::request::Parts>,
    remote: Option<SocketAddr>,
}

const NO_CTX: RequestCtx<'static> = RequestCtx {
    parts: None,
    remote: None,
};

struct State {
    core: Core,
    sessions: HashMap<Str, Session>,
    io: Plumbing,
    timer_target: Option<Instant>,
    /// The latest `now` fed to the cores: a clock read before waiting for the lock may be
    /// older, and the cores must never see time go back.
    last_now: Instant,
    /// Handlers to spawn once the lock is released.
    spawn: Vec<BoxTask>,
    /// Handshakes waiting for `allow_request`, run by the request's caller after the lock.
    handshake_checks: Vec<TransportId>,
}

impl Drop for State {
    // A server dropped with sessions still open: their sockets see a forced close.
    fn drop(&mut self) {
        for session in self.sessions.values() {
            session.socket.gate().close();
            session.socket.set_closed(CloseReason::ForcedClose);
        }
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
        let core = Core::new(config.core.clone(), id_generator());
        let (wake_tx, wake_rx) = mpsc::channel(1);
        let inner = Arc::new_cyclic(|self_ref| Inner {
            self_ref: self_ref.clone(),
            epoch: runtime.now(),
            runtime,
            prefix: config.core.path_prefix(),
            config,
            state: Mutex::new(State {
                core,
                sessions: HashMap::new(),
                io: Plumbing::default(),
                timer_target: None,
                last_now: Instant::from_millis(0),
                spawn: Vec::new(),
                handshake_checks: Vec::new(),
            }),
            handler: Mutex::new(None),
            wake: Mutex::new(Some(wake_tx)),
            next_id: AtomicU64::new(1),
            tasks: Arc::new(AtomicUsize::new(0)),
            websockets: AtomicUsize::new(0),
            timer_running: AtomicBool::new(true),
            shut_down: AtomicBool::new(false),
        });
        inner
            .runtime
            .spawn(Box::pin(timer_task(inner.clone(), wake_rx)));
        EngineServer(inner)
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
        *lock(&self.0.handler) = Some(handler);
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
        let state = lock(&self.0.state);
        state.sessions.values().map(|s| s.socket.clone()).collect()
    }

    /// The open session `id`, if any.
    ///
    /// ```no_run
    /// # fn engine() -> socketio::engine::EngineServer { unimplemented!() }
    /// if let Some(socket) = engine().socket("AAAAAAAAAAAAAAAAAAAA") { socket.close(); }
    /// ```
    pub fn socket(&self, id: &str) -> Option<EngineSocket> {
        let state = lock(&self.0.state);
        state
            .sessions
            .get(&Str::from(id.to_owned()))
            .map(|s| s.socket.clone())
    }

    /// How many sessions are open (`clientsCount`).
    ///
    /// ```no_run
    /// # fn engine() -> socketio::engine::EngineServer { unimplemented!() }
    /// println!("{} clients", engine().client_count());
    /// ```
    pub fn client_count(&self) -> usize {
        lock(&self.0.state).sessions.len()
    }

    /// Whether a request path belongs to this server (it starts with `path + "/"`).
    ///
    /// ```no_run
    /// # fn engine() -> socketio::engine::EngineServer { unimplemented!() }
    /// assert!(engine().handles("/engine.io/"));
    /// ```
    pub fn handles(&self, path: &str) -> bool {
        path.starts_with(self.0.prefix.as_str())
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
        self.0.config.core.max_payload
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
        let inner = &self.0;
        let (parts, body) = request.into_parts();
        // While shutting down, open sessions still get their answers (a polling client's
        // close packet waits for its next GET); only new handshakes are refused.
        if inner.shut_down.load(Ordering::Acquire) && !has_sid(&parts) {
            return plain(503, "server shutting down");
        }
        let head = head_from_parts(&parts);
        let method = head.method;
        let id = RequestId(inner.next_id.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        let ctx = RequestCtx {
            parts: Some(&parts),
            remote,
        };
        // Classified from its head: a POST's body is read only if the core asks for it,
        // after the lock, and only until the core's `request_timeout` answers `408`.
        let (checks, wanted) = inner.with_state(ctx, |st, now, inner| {
            st.io.start_request(&mut st.core, now, id, head, tx);
            st.pump(inner, now, ctx);
            (
                std::mem::take(&mut st.handshake_checks),
                st.io.take_body_wanted(id),
            )
        });
        inner.verify_handshakes(ctx, checks);
        let mut guard = AbortGuard {
            inner: inner.clone(),
            id,
            armed: true,
        };
        let feed = |body| {
            inner.with_state(NO_CTX, |st, now, inner| {
                st.io.body_arrived(&mut st.core, now, id, body);
                st.pump(inner, now, NO_CTX);
            })
        };
        let Some((response, unread)) = await_answer(method, body, wanted, rx, feed).await else {
            // The guard aborts the request: its session closes (`transport error`).
            return close_unread(plain(400, "body read error"));
        };
        guard.armed = false;
        if let Some(sid) = session_of(&parts) {
            inner.after_poll(method, sid).await;
        }
        let response = match response {
            Ok(response) => to_http(response),
            Err(_) => plain(400, ""),
        };
        if unread {
            close_unread(response)
        } else {
            response
        }
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
        let inner = &self.0;
        if inner.shut_down.load(Ordering::Acquire) {
            return Err(plain(503, "server shutting down"));
        }
        let connection = ConnectionId(inner.next_id.fetch_add(1, Ordering::Relaxed));
        let (writer, end) = wsio::writer();
        let ctx = RequestCtx {
            parts: Some(request),
            remote,
        };
        let head = head_from_parts(request);
        let checks = inner.with_state(ctx, |st, now, inner| {
            st.io
                .start_websocket(&mut st.core, now, connection, head, writer);
            st.pump(inner, now, ctx);
            std::mem::take(&mut st.handshake_checks)
        });
        inner.verify_handshakes(ctx, checks);
        let verdict = inner.with_state(NO_CTX, |st, _, _| st.io.take_verdict(connection));
        match verdict {
            Some(Ok(headers)) => Ok(EngineTicket {
                server: Some(self.clone()),
                connection,
                headers: upgrade_headers(headers),
                end: Some(end),
            }),
            Some(Err(response)) => Err(to_http(response)),
            None => Err(plain(400, "Bad request")),
        }
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
    pub async fn serve_websocket<S>(&self, mut ticket: EngineTicket, socket: S)
    where
        S: futures_core::Stream<Item = Result<tungstenite::Message, tungstenite::Error>>
            + futures_sink::Sink<tungstenite::Message, Error = tungstenite::Error>
            + Send
            + Unpin
            + 'static,
    {
        let inner = self.0.clone();
        ticket.server = None;
        let connection = ticket.connection;
        let Some(end) = ticket.end.take() else {
            return;
        };
        inner.websockets.fetch_add(1, Ordering::AcqRel);
        let _count = Decrement(inner.clone());
        // Reading pauses on the session's gate (attached once the connection carries a
        // session): above `incoming_queue` messages not taken by `recv`, or the high water
        // mark of outgoing bytes.
        let limits = inner.config.backpressure;
        let clean =
            crate::plumbing::serve_websocket(&*inner, connection, end, limits, socket).await;
        tracing::debug!(connection = connection.0, clean, "engine websocket ended");
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
        inner.with_state(NO_CTX, |st, now, inner| {
            let sids: Vec<Str> = st.sessions.keys().cloned().collect();
            for sid in sids {
                let _ = st.core.close(now, &sid);
            }
            st.pump(inner, now, NO_CTX);
        });
        let deadline = inner.runtime.now() + inner.config.shutdown_timeout;
        while inner.with_state(NO_CTX, |st, _, _| st.core.session_count() > 0)
            && inner.runtime.now() < deadline
        {
            inner.runtime.sleep(Duration::from_millis(5)).await;
        }
        inner.with_state(NO_CTX, |st, now, inner| {
            st.core.close_all(now);
            st.pump(inner, now, NO_CTX);
            st.io.close_all();
        });
        // Stop the timer task.
        lock(&inner.wake).take();
        while (inner.tasks.load(Ordering::Acquire) > 0
            || inner.websockets.load(Ordering::Acquire) > 0
            || inner.timer_running.load(Ordering::Acquire))
            && inner.runtime.now() < deadline
        {
            inner.runtime.sleep(Duration::from_millis(5)).await;
        }
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
    server: Option<EngineServer>,
    connection: ConnectionId,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
    end: Option<WriterEnd>,
}

impl std::fmt::Debug for EngineTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineTicket")
            .field("connection", &self.connection.0)
            .field("headers", &self.headers)
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
        &self.headers
    }
}

impl Drop for EngineTicket {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let connection = self.connection;
            server.0.with_state(NO_CTX, |st, now, inner| {
                st.io.websocket_ended(&mut st.core, now, connection, false);
                st.pump(inner, now, NO_CTX);
            });
        }
    }
}

/// Decrements the WebSocket count when a WebSocket loop ends.
struct Decrement(Arc<Inner>);

impl Drop for Decrement {
    fn drop(&mut self) {
        self.0.websockets.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Aborts a polling request whose future was dropped before its answer.
struct AbortGuard {
    inner: Arc<Inner>,
    id: RequestId,
    armed: bool,
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let id = self.id;
        self.inner.with_state(NO_CTX, |st, now, inner| {
            st.io.abort_request(&mut st.core, now, id);
            st.pump(inner, now, NO_CTX);
        });
    }
}

async fn timer_task(inner: Arc<Inner>, mut wake: mpsc::Receiver<()>) {
    loop {
        let target = inner.with_state(NO_CTX, |st, now, inner| {
            if st.core.poll_timeout().is_some_and(|at| at <= now) {
                st.core.handle_timeout(now);
            }
            st.pump(inner, now, NO_CTX);
            let next = st.core.poll_timeout();
            st.timer_target = next;
            next
        });
        if inner.shut_down.load(Ordering::Acquire) && lock(&inner.wake).is_none() {
            break;
        }
        let woken = match target {
            None => wake.next().await.is_some(),
            Some(at) => {
                let wait = at.saturating_duration_since(inner.now());
                let sleep = inner.runtime.sleep(wait);
                match futures_util::future::select(sleep, wake.next()).await {
                    futures_util::future::Either::Left(_) => true,
                    futures_util::future::Either::Right((woken, _)) => woken.is_some(),
                }
            }
        };
        if !woken {
            break;
        }
    }
    inner.timer_running.store(false, Ordering::Release);
}

impl crate::plumbing::EngineDriver for Inner {
    fn drive<R>(
        &self,
        input: impl FnOnce(&mut Core, &mut Plumbing, Instant),
        output: impl FnOnce(&mut Plumbing) -> R,
    ) -> R {
        self.with_state(NO_CTX, |st, now, inner| {
            input(&mut st.core, &mut st.io, now);
            st.pump(inner, now, NO_CTX);
            output(&mut st.io)
        })
    }
}

impl Inner {
    fn now(&self) -> Instant {
        Instant::from_duration(self.runtime.now().saturating_duration_since(self.epoch))
    }

    /// Spawns a connection handler, counted for shutdown.
    fn spawn(&self, task: BoxTask) {
        let tasks = self.tasks.clone();
        tasks.fetch_add(1, Ordering::AcqRel);
        self.runtime.spawn(Box::pin(async move {
            let _count = TaskCount(tasks);
            task.await;
        }));
    }

    /// Locks the state, runs `f`, wakes the timer if its deadline moved earlier, unlocks,
    /// spawns the queued handlers.
    fn with_state<R>(
        &self,
        _ctx: RequestCtx<'_>,
        f: impl FnOnce(&mut State, Instant, &Inner) -> R,
    ) -> R {
        // The clock is read before locking: a user's `Runtime::now` is user code.
        let clock = self.now();
        let (result, spawn, wake) = {
            let mut st = lock(&self.state);
            let now = clock.max(st.last_now);
            st.last_now = now;
            let result = f(&mut st, now, self);
            let next = st.core.poll_timeout();
            let wake = match (next, st.timer_target) {
                (Some(next), Some(target)) => next < target,
                (Some(_), None) => true,
                _ => false,
            };
            if wake {
                st.timer_target = next;
            }
            (result, std::mem::take(&mut st.spawn), wake)
        };
        if wake && let Some(tx) = lock(&self.wake).as_mut() {
            let _ = tx.try_send(());
        }
        for task in spawn {
            self.spawn(task);
        }
        result
    }

    /// Runs `allow_request` (user code, so outside the lock) on the handshakes the request in
    /// `ctx` started, then hands the verdicts to the core.
    fn verify_handshakes(&self, ctx: RequestCtx<'_>, checks: Vec<TransportId>) {
        if checks.is_empty() {
            return;
        }
        let verdicts = crate::plumbing::allow_request_verdicts(
            self.config.allow_request.as_ref(),
            ctx.parts,
            ctx.remote,
            checks,
        );
        self.with_state(ctx, |st, now, inner| {
            crate::plumbing::apply_verdicts(&mut st.core, now, verdicts);
            st.pump(inner, now, ctx);
        });
    }

    /// [`EngineSocket::send`].
    pub(crate) fn send(&self, sid: &Str, data: Data) -> Result<(), SendError> {
        self.with_state(NO_CTX, |st, now, inner| {
            let result = st.core.send(sid, data).map_err(|error| match error {
                CoreError::QueueFull => SendError::QueueFull,
                _ => SendError::Closed,
            });
            st.pump(inner, now, NO_CTX);
            result
        })
    }

    /// [`EngineSocket::close`].
    pub(crate) fn close_session(&self, sid: &Str) {
        self.with_state(NO_CTX, |st, now, inner| {
            if st.core.close(now, sid).is_ok() {
                st.pump(inner, now, NO_CTX);
            }
        });
    }

    /// Backpressure over polling, once a request of session `sid` has its answer (as
    /// [`Server`](crate::Server)'s): a GET took the buffer, so a POST paused on it may go on;
    /// a POST is answered only once the session's buffer (bytes waiting for a GET) and
    /// backlog (messages waiting for `recv`) are below the marks. The client sends its next
    /// POST after the answer, so its sending pauses meanwhile.
    async fn after_poll(&self, method: Method, sid: &str) {
        let sid = Str::from(sid.to_owned());
        let Some(gate) = lock(&self.state)
            .sessions
            .get(&sid)
            .map(|session| session.socket.gate().clone())
        else {
            return;
        };
        let buffered = || lock(&self.state).core.buffered_bytes(&sid).unwrap_or(0);
        crate::flow::after_poll(
            self.config.backpressure,
            method == Method::Post,
            &gate,
            buffered,
        )
        .await;
    }
}

/// Decrements the handler task count when a handler ends.
struct TaskCount(Arc<AtomicUsize>);

impl Drop for TaskCount {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl State {
    /// Drains the core until nothing moves: transmits to their requests and WebSockets,
    /// events to the sessions.
    fn pump(&mut self, inner: &Inner, now: Instant, ctx: RequestCtx<'_>) {
        loop {
            let mut moved = false;
            while let Some(transmit) = self.core.poll_transmit() {
                moved = true;
                self.io
                    .on_transmit(&mut self.core, now, transmit, &inner.config.backpressure);
            }
            while let Some(event) = self.core.poll_event() {
                moved = true;
                self.on_event(inner, ctx, event);
            }
            if !moved {
                return;
            }
        }
    }

    fn on_event(&mut self, inner: &Inner, ctx: RequestCtx<'_>, event: Event) {
        match event {
            Event::HandshakeRequest { transport, .. } => {
                // `allow_request` is user code: the request's caller runs it once the lock is
                // released ([`Inner::verify_handshakes`]).
                self.handshake_checks.push(transport);
            }
            Event::Opened(handshake) => {
                tracing::debug!(sid = %handshake.sid, "engine.io session opened");
                let (tx, rx) = mpsc::unbounded();
                let gate = Arc::new(Gate::default());
                if let TransportId::WebSocket(connection) = handshake.transport {
                    self.io.attach_gate(connection, gate.clone());
                }
                let socket = EngineSocket::new(
                    handshake.sid.clone(),
                    handshake.protocol,
                    matches!(handshake.transport, TransportId::WebSocket(_)),
                    ctx.parts,
                    ctx.remote,
                    inner.self_ref.clone(),
                    rx,
                    gate,
                );
                let incoming = match lock(&inner.handler).clone() {
                    Some(handler) => {
                        // Called in the task, not here under the lock: the handler's
                        // synchronous part may call any API.
                        let socket = socket.clone();
                        self.spawn
                            .push(Box::pin(async move { handler(socket).await }));
                        Some(tx)
                    }
                    None => {
                        tracing::debug!(
                            "no connection handler: the session's messages are dropped"
                        );
                        None
                    }
                };
                self.sessions
                    .insert(handshake.sid, Session { socket, incoming });
            }
            Event::Message { sid, data } => {
                let Some(session) = self.sessions.get(&sid) else {
                    return;
                };
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
            Event::Upgraded { sid, connection } => {
                tracing::debug!(%sid, "engine.io session upgraded to websocket");
                if let Some(session) = self.sessions.get(&sid) {
                    session.socket.set_websocket();
                    let gate = session.socket.gate();
                    self.io.attach_gate(connection, gate.clone());
                    // A POST paused on the polling buffer waits no more.
                    gate.wake();
                }
            }
            Event::Closed { sid, reason } => {
                tracing::debug!(%sid, %reason, "engine.io session closed");
                if let Some(session) = self.sessions.remove(&sid) {
                    session.socket.gate().close();
                    session.socket.set_closed(reason);
                }
            }
            _ => {}
        }
    }
}
