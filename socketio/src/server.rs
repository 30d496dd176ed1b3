//! The server handle, the shared state every entry point drives, and the timer task.
//!
//! Design: one `Mutex<State>` per server holds the Engine.IO core (every session), one
//! `ServerConnection` per session, and per namespace its `RoomIndex`, sockets and
//! `RecoveryStore`. Every entry point (an HTTP request, a WebSocket frame, an API command, the
//! timer) locks it, feeds the cores, drains their outputs ([`State::pump`]) and unlocks; the
//! outputs go to oneshot channels (polling responses) and per-WebSocket queues, and the
//! user's handlers are spawned on the runtime after the lock is released — never run under
//! it. One timer task per server sleeps until the earliest deadline of all cores.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_channel::{mpsc, oneshot};
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use socketio_protocol::engine::Data;
use socketio_protocol::engine::server::{
    ConnectionId, Event as EngineEvent, Method, PreparedMessage, RequestHead, RequestId, Response,
    Server as Engine, TransportId,
};
use socketio_protocol::recovery::{Restored, SessionRecord};
use socketio_protocol::rooms::BroadcastOptions;
use socketio_protocol::socket::ack::{BroadcastAck, BroadcastAckStatus};
use socketio_protocol::socket::parser::{common, msgpack};
use socketio_protocol::socket::server::{
    Event as SocketEvent, Parser, RestoredSession, ServerConnection,
};
use socketio_protocol::socket::{Packet, Payload, ProtocolVersion};
use socketio_protocol::{Instant, Str, Value};

use crate::adapter::{Adapter, BroadcastAcks, BroadcastMessage, LocalNamespace};
use crate::config::Config;
use crate::fasthash::IdMap;
use crate::flow::Gate;
use crate::handshake::HttpHandshake;
use crate::namespace::{ConnectHandler, DynamicNamespace, Namespace, NsDef, Registry, lock};
use crate::plumbing::{Plumbing, upgrade_headers};
use crate::socket::Incoming;
use crate::wsio::{self, Writer, WriterEnd};
use crate::{
    AckError, BoxTask, BroadcastOperator, EmitError, Handshake, Runtime, ServerBuilder, Socket,
};

/// A Socket.IO server: a cheap clonable handle (an `Arc` inside).
///
/// Build it with [`Server::builder`], define namespaces with [`ns`](Self::ns) /
/// [`dynamic_ns`](Self::dynamic_ns), and let a runtime crate feed it HTTP requests and
/// WebSockets ([`handle_http`](Self::handle_http), [`accept_websocket`](Self::accept_websocket),
/// [`serve_websocket`](Self::serve_websocket)). Operators on the server act on `/`.
///
/// ```no_run
/// # fn runtime() -> std::sync::Arc<dyn socketio::Runtime> { unimplemented!() }
/// use socketio::{AckSender, Server, Socket};
///
/// let io = Server::builder().build(runtime());
/// io.ns("/", |socket: Socket| async move {
///     socket.on("echo", |socket: Socket, msg: String, ack: Option<AckSender>| async move {
///         match ack {
///             Some(ack) => { ack.send(&msg).ok(); }
///             None => { socket.emit("echo", &msg).ok(); }
///         }
///     });
/// });
/// io.emit("hello", "everyone").ok();
/// ```
#[derive(Clone)]
pub struct Server(pub(crate) Arc<Inner>);

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.0.config)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    self_ref: std::sync::Weak<Inner>,
    runtime: Arc<dyn Runtime>,
    pub(crate) config: Config,
    epoch: std::time::Instant,
    state: Mutex<State>,
    registry: Mutex<Registry>,
    /// Each namespace's adapter (see [`Inner::adapter`]).
    adapters: Mutex<HashMap<String, Arc<dyn Adapter>>>,
    /// Handlers of server-side events from other nodes, per namespace.
    pub(crate) server_side: Mutex<HashMap<String, Vec<ServerSideHandler>>>,
    wake: Mutex<Option<mpsc::Sender<()>>>,
    next_id: AtomicU64,
    /// Handler tasks still running.
    tasks: Arc<AtomicUsize>,
    /// WebSockets being served.
    websockets: AtomicUsize,
    timer_running: AtomicBool,
    shut_down: AtomicBool,
}

/// One engine session's Socket.IO state.
struct Conn {
    core: ServerConnection,
    http: Arc<HttpHandshake>,
    websocket: Option<ConnectionId>,
    armed: Option<Instant>,
    /// Namespaces accepted but whose `Connected` event is not handled yet.
    accepting: HashMap<String, Accepting>,
    /// Accepted sockets whose connection handler has not run yet (its synchronous part).
    /// While any is pending, the core's packets wait: the client must not see its CONNECT
    /// before the handler has joined its rooms, or a broadcast made as soon as it sees it
    /// would miss it (the reference runs the handler in the same tick as the CONNECT).
    held: u32,
    /// The session's incoming side (backpressure): events waiting for their handlers, and
    /// whoever paused reading.
    gate: Arc<Gate>,
}

struct Accepting {
    def: Arc<NsDef>,
    handshake: Handshake,
    restored: Option<(BTreeSet<Str>, Value)>,
}

struct SocketEntry {
    engine_sid: Str,
    socket: Socket,
    pid: Option<Str>,
}

/// A handler of server-side events (`event`, `args`).
pub(crate) type ServerSideHandler = Arc<dyn Fn(String, Vec<Value>) -> BoxTask + Send + Sync>;

#[derive(Default)]
struct NsState {
    sockets: IdMap<Str, SocketEntry>,
    next_ack: u64,
}

type AckReply = Result<Vec<Value>, AckError>;

enum AckTarget {
    Single(oneshot::Sender<AckReply>),
    Broadcast(String, u64),
}

struct BroadcastWait {
    ack: BroadcastAck<Vec<Value>>,
    tx: Option<oneshot::Sender<(Vec<Vec<Value>>, bool)>>,
    members: Vec<Str>,
}

/// The request being handled, for the handshake hooks.
#[derive(Clone, Copy)]
struct RequestCtx<'a> {
    parts: Option<&'a http::request::Parts>,
    remote: Option<SocketAddr>,
}

const NO_CTX: RequestCtx<'static> = RequestCtx {
    parts: None,
    remote: None,
};

pub(crate) struct State {
    engine: Engine,
    conns: IdMap<Str, Conn>,
    conn_timers: BTreeSet<(Instant, Str)>,
    dirty: Vec<Str>,
    nsps: HashMap<String, NsState>,
    io: Plumbing,
    acks: IdMap<(Str, u64), AckTarget>,
    broadcasts: HashMap<(String, u64), BroadcastWait>,
    broadcast_timers: BTreeSet<(Instant, String, u64)>,
    timer_target: Option<Instant>,
    /// The latest `now` fed to the cores: a clock read before waiting for the lock may be
    /// older, and the cores must never see time go back.
    last_now: Instant,
    /// Tasks to spawn once the lock is released.
    spawn: Vec<BoxTask>,
    /// Handshakes waiting for `allow_request`, run by the request's caller after the lock.
    handshake_checks: Vec<TransportId>,
    /// Calls to make once the lock is released, in order, before the tasks are spawned
    /// (adapter calls: an adapter may call back into the server).
    after: Vec<Box<dyn FnOnce() + Send>>,
    limits: crate::Backpressure,
}

/// Session, socket and recovery ids: 15 bytes from the operating system's CSPRNG (as the
/// reference's `crypto.randomBytes`), so ids cannot be guessed. Should the OS source ever fail,
/// the bytes come from SipHash keyed by the OS (`RandomState`) over a counter instead.
pub(crate) fn id_generator() -> impl FnMut() -> [u8; 15] + Send + 'static {
    use std::hash::{BuildHasher, Hasher};
    let keys = std::collections::hash_map::RandomState::new();
    let mut counter: u64 = 0;
    move || {
        let mut id = [0u8; 15];
        if getrandom::fill(&mut id).is_ok() {
            return id;
        }
        tracing::warn!("OS random source failed; falling back to keyed SipHash ids");
        let mut out = [0u8; 16];
        for chunk in out.chunks_mut(8) {
            counter = counter.wrapping_add(1);
            let mut hasher = keys.build_hasher();
            hasher.write_u64(counter);
            chunk.copy_from_slice(&hasher.finish().to_le_bytes());
        }
        id.copy_from_slice(&out[..15]);
        id
    }
}

impl Server {
    /// A builder with the reference defaults (see [`ServerBuilder`]).
    ///
    /// ```
    /// let builder = socketio::Server::builder().path("/socket.io");
    /// # let _ = builder;
    /// ```
    pub fn builder() -> ServerBuilder {
        ServerBuilder::new()
    }

    pub(crate) fn from_config(mut config: Config, runtime: Arc<dyn Runtime>) -> Server {
        config.engine.verify_handshakes = config.allow_request.is_some();
        config.engine.max_buffered_bytes = config.backpressure.limit;
        let engine = Engine::new(config.engine.clone(), id_generator());
        let (wake_tx, wake_rx) = mpsc::channel(1);
        let limits = config.backpressure;
        let inner = Arc::new_cyclic(|self_ref| Inner {
            self_ref: self_ref.clone(),
            epoch: runtime.now(),
            runtime,
            config,
            state: Mutex::new(State {
                engine,
                conns: IdMap::default(),
                conn_timers: BTreeSet::new(),
                dirty: Vec::new(),
                nsps: HashMap::new(),
                io: Plumbing::default(),
                acks: IdMap::default(),
                broadcasts: HashMap::new(),
                broadcast_timers: BTreeSet::new(),
                timer_target: None,
                last_now: Instant::from_millis(0),
                spawn: Vec::new(),
                handshake_checks: Vec::new(),
                after: Vec::new(),
                limits,
            }),
            registry: Mutex::new(Registry::default()),
            adapters: Mutex::new(HashMap::new()),
            server_side: Mutex::new(HashMap::new()),
            wake: Mutex::new(Some(wake_tx)),
            next_id: AtomicU64::new(1),
            tasks: Arc::new(AtomicUsize::new(0)),
            websockets: AtomicUsize::new(0),
            timer_running: AtomicBool::new(true),
            shut_down: AtomicBool::new(false),
        });
        let timer = inner.clone();
        inner.runtime.spawn(Box::pin(timer_task(timer, wake_rx)));
        Server(inner)
    }

    /// Defines (or replaces) the static namespace `name`; `handler` runs for every socket that
    /// joins it. Register the socket's handlers before the handler's first `.await`.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// use socketio::Socket;
    /// io().ns("/chat", |socket: Socket| async move {
    ///     socket.join("lobby");
    /// });
    /// ```
    pub fn ns<F, Fut>(&self, name: impl Into<String>, handler: F) -> Namespace
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let name = normalize(name.into());
        let handler: ConnectHandler = Arc::new(move |socket| Box::pin(handler(socket)));
        let def = Arc::new(NsDef {
            handler,
            middlewares: Mutex::new(Vec::new()),
        });
        lock(&self.0.registry).insert(name.clone(), def.clone());
        Namespace {
            server: self.clone(),
            name: Arc::from(name.as_str()),
            def: Some(def),
        }
    }

    /// Defines dynamic namespaces: every requested name `matcher` accepts is served by
    /// `handler` (static namespaces take precedence).
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// use socketio::Socket;
    /// io().dynamic_ns(|name: &str| name.starts_with("/room-"), |socket: Socket| async move {
    ///     println!("joined {}", socket.ns());
    /// });
    /// ```
    pub fn dynamic_ns<M, F, Fut>(&self, matcher: M, handler: F) -> DynamicNamespace
    where
        M: Fn(&str) -> bool + Send + Sync + 'static,
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let handler: ConnectHandler = Arc::new(move |socket| Box::pin(handler(socket)));
        let def = Arc::new(NsDef {
            handler,
            middlewares: Mutex::new(Vec::new()),
        });
        lock(&self.0.registry).insert_dynamic(Arc::new(matcher), def.clone());
        DynamicNamespace { def }
    }

    /// The namespace `name`, to emit to or operate on (defined or not).
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().of("/chat").emit("news", "hello").ok();
    /// ```
    pub fn of(&self, name: impl Into<String>) -> Namespace {
        let name = normalize(name.into());
        let def = lock(&self.0.registry).get_static(&name);
        Namespace {
            server: self.clone(),
            name: Arc::from(name.as_str()),
            def,
        }
    }

    fn root(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.0.clone(), Arc::from("/"))
    }

    /// Operator on `/`: target the sockets in `room`.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().to("lobby").emit("news", "hi").ok();
    /// ```
    pub fn to(&self, room: impl Into<String>) -> BroadcastOperator {
        self.root().to(room)
    }

    /// Operator on `/`: leave out the sockets in `room`.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().except("muted").emit("news", "hi").ok();
    /// ```
    pub fn except(&self, room: impl Into<String>) -> BroadcastOperator {
        self.root().except(room)
    }

    /// Operator on `/`: this server's sockets only (always the case here).
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().local().emit("news", "hi").ok();
    /// ```
    pub fn local(&self) -> BroadcastOperator {
        self.root()
    }

    /// Operator on `/`: every socket.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().broadcast().emit("news", "hi").ok();
    /// ```
    pub fn broadcast(&self) -> BroadcastOperator {
        self.root()
    }

    /// Operator on `/`: volatile emits (see [`BroadcastOperator::volatile`]).
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().volatile().emit("tick", &1).ok();
    /// ```
    pub fn volatile(&self) -> BroadcastOperator {
        self.root().volatile()
    }

    /// Operator on `/`: the deadline of `emit_with_ack`.
    ///
    /// ```no_run
    /// # async fn f(io: socketio::Server) {
    /// let r = io.timeout(std::time::Duration::from_secs(1)).emit_with_ack::<u32, _>("q", &()).await;
    /// # }
    /// ```
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.root().timeout(timeout)
    }

    /// Emits to every socket of `/`.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().emit("news", &("title", 1)).ok();
    /// ```
    pub fn emit<T: serde::Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<usize, EmitError> {
        self.root().emit(event, data)
    }

    /// Emits to every socket of `/` with acks (see [`BroadcastOperator::emit_with_ack`]).
    ///
    /// ```no_run
    /// # async fn f(io: socketio::Server) {
    /// let answers = io.emit_with_ack::<String, _>("q", &()).await;
    /// # }
    /// ```
    pub async fn emit_with_ack<R, T>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<Vec<R>, crate::BroadcastAckError<R>>
    where
        R: serde::de::DeserializeOwned,
        T: serde::Serialize + ?Sized,
    {
        self.root().emit_with_ack(event, data).await
    }

    /// The sockets of `/` on every server node (see
    /// [`BroadcastOperator::fetch_sockets`]).
    ///
    /// ```no_run
    /// # async fn f(io: socketio::Server) {
    /// println!("{} connected", io.fetch_sockets().await.map(|s| s.len()).unwrap_or(0));
    /// # }
    /// ```
    pub async fn fetch_sockets(
        &self,
    ) -> Result<Vec<crate::adapter::RemoteSocket>, crate::adapter::AdapterError> {
        self.root().fetch_sockets().await
    }

    /// [`Namespace::server_side_emit`] on `/`.
    ///
    /// ```no_run
    /// # async fn f(io: socketio::Server) {
    /// let acks = io.server_side_emit("hello", &"nodes").await;
    /// # }
    /// ```
    pub async fn server_side_emit<T: serde::Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<Vec<Value>, crate::adapter::AdapterError> {
        self.of("/").server_side_emit(event, data).await
    }

    /// [`Namespace::server_count`] on `/`.
    ///
    /// ```no_run
    /// # async fn f(io: socketio::Server) {
    /// let nodes = io.server_count().await;
    /// # }
    /// ```
    pub async fn server_count(&self) -> Result<usize, crate::adapter::AdapterError> {
        self.of("/").server_count().await
    }

    /// [`Namespace::on_server_side_emit`] on `/`.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().on_server_side_emit(|event: String, _args: Vec<socketio::Value>| async move {
    ///     println!("{event}");
    /// });
    /// ```
    pub fn on_server_side_emit<F, Fut>(&self, handler: F)
    where
        F: Fn(String, Vec<Value>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.of("/").on_server_side_emit(handler)
    }

    /// Makes every socket of `/` join `room`.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().sockets_join("everyone");
    /// ```
    pub fn sockets_join(&self, room: impl Into<String>) {
        self.root().sockets_join(room)
    }

    /// Makes every socket of `/` leave `room`.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().sockets_leave("everyone");
    /// ```
    pub fn sockets_leave(&self, room: &str) {
        self.root().sockets_leave(room)
    }

    /// Disconnects every socket of `/`.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().disconnect_sockets(false);
    /// ```
    pub fn disconnect_sockets(&self, close: bool) {
        self.root().disconnect_sockets(close)
    }

    /// Whether a request path belongs to this server (it starts with `path + "/"`).
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// assert!(io().handles("/socket.io/"));
    /// ```
    pub fn handles(&self, path: &str) -> bool {
        path.starts_with(&self.0.config.engine.path_prefix())
    }

    /// The runtime this server was built with (for the HTTP glue's own tasks).
    pub fn runtime(&self) -> Arc<dyn Runtime> {
        self.0.runtime.clone()
    }

    /// The largest message or POST body accepted, in bytes: the builder's
    /// `max_http_buffer_size` (default 1 000 000), announced to clients as `maxPayload`.
    /// Runtime crates use it to bound WebSocket messages and frames.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// let limit = io().max_payload();
    /// ```
    pub fn max_payload(&self) -> usize {
        self.0.config.engine.max_payload
    }

    /// Answers a non-upgrade HTTP request of this server: polling GET/POST, handshake,
    /// CORS preflight, or an Engine.IO error. Reads the body itself (at most
    /// `max_http_buffer_size + 1` bytes) and sets `Content-Length`. A held poll completes
    /// when there is something to send (or the heartbeat ends it); dropping this future
    /// before it completes aborts the request (`transport error` for the session).
    ///
    /// ```no_run
    /// # async fn f(io: socketio::Server) {
    /// let request = http::Request::get("/socket.io/?EIO=4&transport=polling")
    ///     .body(http_body_util::Empty::<bytes::Bytes>::new())
    ///     .unwrap();
    /// let response = io.handle_http(request, None).await;
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
        // While shutting down, sessions still open get their answers (a polling client's close
        // packet waits for its next GET); only new handshakes are refused.
        if inner.shut_down.load(Ordering::Acquire) && !has_sid(&parts) {
            return plain(503, "server shutting down");
        }
        let head = head_from_parts(&parts);
        let method = head.method;
        let body = if head.method == Method::Post {
            match read_body(body, inner.config.engine.max_payload + 1).await {
                Ok(body) => body,
                Err(()) => return plain(400, "body read error"),
            }
        } else {
            drop(body);
            Bytes::new()
        };
        let id = RequestId(inner.next_id.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        let ctx = RequestCtx {
            parts: Some(&parts),
            remote,
        };
        let checks = inner.with_state(ctx, |st, now, inner| {
            st.io.start_request(&mut st.engine, now, id, head, body, tx);
            st.pump(inner, now, ctx);
            std::mem::take(&mut st.handshake_checks)
        });
        inner.verify_handshakes(ctx, checks);
        let mut guard = AbortGuard {
            inner: inner.clone(),
            id,
            armed: true,
        };
        let response = rx.await;
        guard.armed = false;
        if let Some(sid) = session_of(&parts) {
            inner.after_poll(method, sid).await;
        }
        match response {
            Ok(response) => to_http(response),
            Err(_) => plain(400, ""),
        }
    }

    /// The engine's verdict on a WebSocket upgrade request of this server. On `Ok`, answer
    /// `101 Switching Protocols` (adding [`WebSocketTicket::headers`]) and pass the socket to
    /// [`serve_websocket`](Self::serve_websocket); on `Err`, write that response.
    ///
    /// ```no_run
    /// # fn f(io: socketio::Server, parts: http::request::Parts) {
    /// match io.accept_websocket(&parts, None) {
    ///     Ok(ticket) => { /* 101, then io.serve_websocket(ticket, ws).await */ }
    ///     Err(response) => { /* write response */ }
    /// }
    /// # }
    /// ```
    #[allow(clippy::result_large_err)] // the signature the runtime crates build against
    pub fn accept_websocket(
        &self,
        request: &http::request::Parts,
        remote: Option<SocketAddr>,
    ) -> Result<WebSocketTicket, http::Response<Full<Bytes>>> {
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
                .start_websocket(&mut st.engine, now, connection, head, writer);
            st.pump(inner, now, ctx);
            std::mem::take(&mut st.handshake_checks)
        });
        inner.verify_handshakes(ctx, checks);
        let verdict = inner.with_state(NO_CTX, |st, _, _| st.io.take_verdict(connection));
        match verdict {
            Some(Ok(headers)) => Ok(WebSocketTicket {
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
    /// connection's queue (batched: flushed when the queue is empty).
    ///
    /// As with the reference (`ws` `close` vs `error`), a WebSocket that ends — with a close
    /// frame, or without one (the stream ends, or fails with `ConnectionClosed`,
    /// `AlreadyClosed`, `ResetWithoutClosingHandshake` or a connection reset) — closes its
    /// session with `transport close`; any other error (a protocol violation, an oversized
    /// message, invalid UTF-8, another IO error) with `transport error`.
    ///
    /// ```no_run
    /// # async fn f<S>(io: socketio::Server, ticket: socketio::WebSocketTicket, ws: S)
    /// # where S: futures_core::Stream<Item = Result<tungstenite::Message, tungstenite::Error>>
    /// #   + futures_sink::Sink<tungstenite::Message, Error = tungstenite::Error> + Send + Unpin + 'static {
    /// io.serve_websocket(ticket, ws).await;
    /// # }
    /// ```
    pub async fn serve_websocket<S>(&self, mut ticket: WebSocketTicket, socket: S)
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
        let _count = Decrement(&inner.websockets);
        let limits = inner.config.backpressure;
        let clean = wsio::serve(socket, end, limits, |frame| {
            inner.with_state(NO_CTX, |st, now, inner| {
                let _ = st.engine.handle_frame(now, connection, frame);
                st.pump(inner, now, NO_CTX);
                st.io.gate(connection)
            })
        })
        .await;
        inner.with_state(NO_CTX, |st, now, inner| {
            st.io
                .websocket_ended(&mut st.engine, now, connection, clean);
            st.pump(inner, now, NO_CTX);
        });
        tracing::debug!(connection = connection.0, clean, "websocket ended");
    }

    /// Shuts down gracefully: every socket leaves with `server shutting down` (recoverable:
    /// with recovery on, its session is kept) and every engine session closes (`forced
    /// close`), as the reference's `io.close()`: WebSockets get their close at once, held
    /// polls are answered with the close packet, and a polling client with no GET pending gets
    /// it on its next request (so it sees `transport close`). Meanwhile requests for existing
    /// sessions are still served; new handshakes and WebSockets get `503`.
    ///
    /// Waits (at most `shutdown_timeout`) until every session is gone, then closes whatever
    /// is left at once, ends the timer task and waits (within the same deadline) for the
    /// handler tasks and WebSocket loops to finish.
    ///
    /// ```no_run
    /// # async fn f(io: socketio::Server) {
    /// io.shutdown().await;
    /// # }
    /// ```
    pub async fn shutdown(&self) {
        let inner = &self.0;
        if inner.shut_down.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::info!("socket.io server shutting down");
        inner.with_state(NO_CTX, |st, now, inner| {
            let sids: Vec<Str> = st.conns.keys().cloned().collect();
            for sid in sids {
                if let Some(conn) = st.conns.get_mut(&sid) {
                    let _ = conn.core.shutdown();
                    st.dirty.push(sid);
                }
            }
            st.pump(inner, now, NO_CTX);
            // (Each core asked for its engine session's close; make sure none is left open.)
            let sids: Vec<Str> = st.conns.keys().cloned().collect();
            for sid in sids {
                let _ = st.engine.close(now, &sid);
            }
            st.pump(inner, now, NO_CTX);
            for (_, waiting) in st.broadcasts.drain() {
                if let Some(tx) = waiting.tx {
                    let _ = tx.send((Vec::new(), false));
                }
            }
            st.acks.clear();
        });
        let deadline = inner.runtime.now() + inner.config.shutdown_timeout;
        // The engine sessions close as their clients come back (polling) or at once.
        while inner.with_state(NO_CTX, |st, _, _| st.engine.session_count() > 0)
            && inner.runtime.now() < deadline
        {
            inner.runtime.sleep(Duration::from_millis(5)).await;
        }
        inner.with_state(NO_CTX, |st, now, inner| {
            st.engine.close_all(now);
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
        // Dropped after the lock: the closures' captures may run user code in their `Drop`.
        let registry = std::mem::take(&mut *lock(&inner.registry));
        drop(registry);
        tracing::info!("socket.io server shut down");
    }
}

/// The session the request names (`sid` in its query).
fn session_of(parts: &http::request::Parts) -> Option<&str> {
    parts
        .uri
        .query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("sid="))
}

/// Whether the request names a session (`sid` in its query).
pub(crate) fn has_sid(parts: &http::request::Parts) -> bool {
    parts
        .uri
        .query()
        .is_some_and(|query| query.split('&').any(|pair| pair.starts_with("sid=")))
}

struct Decrement<'a>(&'a AtomicUsize);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
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
            st.io.abort_request(&mut st.engine, now, id);
            st.pump(inner, now, NO_CTX);
        });
    }
}

/// The engine's acceptance of a WebSocket upgrade, to pass to
/// [`Server::serve_websocket`] after answering `101`. Dropping it unused tells the engine the
/// WebSocket failed.
///
/// ```no_run
/// # fn f(ticket: socketio::WebSocketTicket) {
/// for (name, value) in ticket.headers() {
///     println!("{name}: {value:?}");
/// }
/// # }
/// ```
pub struct WebSocketTicket {
    server: Option<Server>,
    connection: ConnectionId,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
    end: Option<WriterEnd>,
}

impl std::fmt::Debug for WebSocketTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketTicket")
            .field("connection", &self.connection.0)
            .field("headers", &self.headers)
            .finish()
    }
}

impl WebSocketTicket {
    /// Extra headers for the `101` response (CORS).
    ///
    /// ```no_run
    /// # fn f(ticket: socketio::WebSocketTicket) {
    /// let extra = ticket.headers().len();
    /// # }
    /// ```
    pub fn headers(&self) -> &[(http::HeaderName, http::HeaderValue)] {
        &self.headers
    }
}

impl Drop for WebSocketTicket {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let connection = self.connection;
            server.0.with_state(NO_CTX, |st, now, inner| {
                st.io
                    .websocket_ended(&mut st.engine, now, connection, false);
                st.pump(inner, now, NO_CTX);
            });
        }
    }
}

async fn timer_task(inner: Arc<Inner>, mut wake: mpsc::Receiver<()>) {
    loop {
        let target = inner.with_state(NO_CTX, |st, now, inner| {
            st.on_timer(inner, now);
            st.pump(inner, now, NO_CTX);
            let next = st.next_deadline();
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

impl Inner {
    fn now(&self) -> Instant {
        Instant::from_duration(self.runtime.now().saturating_duration_since(self.epoch))
    }

    /// The server's clock, as its cores see it (for adapters).
    pub(crate) fn clock(&self) -> Instant {
        self.now()
    }

    /// Spawns a handler task, counted for shutdown.
    pub(crate) fn spawn(&self, task: BoxTask) {
        let tasks = self.tasks.clone();
        tasks.fetch_add(1, Ordering::AcqRel);
        self.runtime.spawn(Box::pin(async move {
            let _count = Decrement(&tasks);
            task.await;
        }));
    }

    /// Locks the state, runs `f`, re-arms the timer, unlocks, spawns the queued tasks.
    fn with_state<R>(
        &self,
        ctx: RequestCtx<'_>,
        f: impl FnOnce(&mut State, Instant, &Inner) -> R,
    ) -> R {
        let _ = ctx;
        // The clock is read before locking: a user's `Runtime::now` is user code.
        let clock = self.now();
        let (result, spawn, after, wake) = {
            let mut st = lock(&self.state);
            let now = clock.max(st.last_now);
            st.last_now = now;
            let result = f(&mut st, now, self);
            let next = st.next_deadline();
            let wake = match (next, st.timer_target) {
                (Some(next), Some(target)) => next < target,
                (Some(_), None) => true,
                _ => false,
            };
            if wake {
                st.timer_target = next;
            }
            (
                result,
                std::mem::take(&mut st.spawn),
                std::mem::take(&mut st.after),
                wake,
            )
        };
        if wake && let Some(tx) = lock(&self.wake).as_mut() {
            let _ = tx.try_send(());
        }
        for call in after {
            call();
        }
        for task in spawn {
            self.spawn(task);
        }
        result
    }

    // --- API commands ------------------------------------------------------------------------

    /// `socket.emit`. With connection state recovery on, the event goes through the adapter
    /// to the socket's own room as in the reference, so it is stored with its offset and
    /// replayed if the client comes back: an emit made while it is briefly away is not lost
    /// (and, as in the reference, it is `Ok` whether or not the session comes back).
    pub(crate) fn emit_to_socket(
        &self,
        nsp: &str,
        sid: &Str,
        pid: Option<&Str>,
        value: Value,
    ) -> Result<(), EmitError> {
        let opts = BroadcastOptions::new().to(sid.clone());
        if self.config.recovery.is_some() && pid.is_some() {
            self.adapter(nsp)
                .broadcast(BroadcastMessage::new(value, opts));
            return Ok(());
        }
        self.with_state(NO_CTX, |st, now, inner| {
            let Some(ns) = st.nsps.get(nsp) else {
                return Err(EmitError::Disconnected);
            };
            let connected = ns.sockets.contains_key(sid);
            if !connected {
                return Err(EmitError::Disconnected);
            }
            st.send_event(
                inner,
                now,
                nsp,
                std::slice::from_ref(sid),
                &opts,
                value,
                false,
                None,
            );
            st.pump(inner, now, NO_CTX);
            Ok(())
        })
    }

    pub(crate) fn emit_with_ack_to_socket(
        &self,
        nsp: &str,
        sid: &Str,
        value: Value,
        timeout: Option<Duration>,
    ) -> Result<oneshot::Receiver<AckReply>, EmitError> {
        self.with_state(NO_CTX, |st, now, inner| {
            let Some(ns) = st.nsps.get_mut(nsp) else {
                return Err(EmitError::Disconnected);
            };
            let Some(engine_sid) = ns.sockets.get(sid).map(|e| e.engine_sid.clone()) else {
                return Err(EmitError::Disconnected);
            };
            let id = ns.next_ack;
            ns.next_ack += 1;
            let deadline = timeout.map(|t| now + t);
            let Some(conn) = st.conns.get_mut(&engine_sid) else {
                return Err(EmitError::Disconnected);
            };
            conn.core
                .emit_with_ack_id(sid, id, Payload::Value(value), deadline)
                .map_err(|_| EmitError::Disconnected)?;
            st.dirty.push(engine_sid);
            let (tx, rx) = oneshot::channel();
            st.acks.insert((sid.clone(), id), AckTarget::Single(tx));
            st.pump(inner, now, NO_CTX);
            Ok(rx)
        })
    }

    pub(crate) fn ack(
        &self,
        engine_sid: &Str,
        sid: &str,
        id: u64,
        args: Value,
    ) -> Result<(), EmitError> {
        self.with_state(NO_CTX, |st, now, inner| {
            let conn = st
                .conns
                .get_mut(engine_sid)
                .ok_or(EmitError::Disconnected)?;
            conn.core
                .ack(sid, id, Payload::Value(args))
                .map_err(|_| EmitError::Disconnected)?;
            st.dirty.push(engine_sid.clone());
            st.pump(inner, now, NO_CTX);
            Ok(())
        })
    }

    /// The adapter of namespace `nsp`, made on first use (the factory runs outside every
    /// lock; a concurrent first use keeps the first one made).
    pub(crate) fn adapter(&self, nsp: &str) -> Arc<dyn Adapter> {
        if let Some(adapter) = lock(&self.adapters).get(nsp) {
            return adapter.clone();
        }
        let local = LocalNamespace::new(self.self_ref.clone(), Arc::from(nsp));
        let made = (self.config.adapter)(local);
        lock(&self.adapters)
            .entry(nsp.to_owned())
            .or_insert(made)
            .clone()
    }

    /// [`LocalNamespace::deliver`]: `message` to this node's sockets `sids`.
    pub(crate) fn deliver(&self, nsp: &str, message: &BroadcastMessage, sids: &[Str]) -> usize {
        self.with_state(NO_CTX, |st, now, inner| {
            let count = st.send_event(
                inner,
                now,
                nsp,
                sids,
                &message.opts,
                message.data.clone(),
                message.volatile,
                None,
            );
            st.pump(inner, now, NO_CTX);
            count
        })
    }

    /// [`LocalNamespace::deliver_with_ack`].
    pub(crate) fn deliver_with_ack(
        &self,
        nsp: &str,
        message: &BroadcastMessage,
        sids: &[Str],
        timeout: Duration,
    ) -> (usize, crate::adapter::BoxFuture<BroadcastAcks>) {
        let (tx, rx) = oneshot::channel();
        let count = self.with_state(NO_CTX, |st, now, inner| {
            let id = {
                let ns = st.ns_state(inner, nsp);
                let id = ns.next_ack;
                ns.next_ack += 1;
                id
            };
            let count = st.send_event(
                inner,
                now,
                nsp,
                sids,
                &message.opts,
                message.data.clone(),
                message.volatile,
                Some(id),
            );
            let deadline = now + timeout;
            let reached: Vec<Str> = sids
                .iter()
                .filter(|sid| st.acks.contains_key(&((*sid).clone(), id)))
                .cloned()
                .collect();
            let ack = BroadcastAck::local(deadline, reached.len());
            st.broadcasts.insert(
                (nsp.to_owned(), id),
                BroadcastWait {
                    ack,
                    tx: Some(tx),
                    members: reached,
                },
            );
            st.broadcast_timers.insert((deadline, nsp.to_owned(), id));
            st.check_broadcast(now, nsp, id);
            st.pump(inner, now, NO_CTX);
            count
        });
        let answers = Box::pin(async move {
            let (responses, complete) = rx.await.unwrap_or((Vec::new(), false));
            BroadcastAcks {
                responses,
                complete,
            }
        });
        (count, answers)
    }

    /// [`LocalNamespace::sockets`].
    pub(crate) fn local_sockets(&self, nsp: &str, sids: &[Str]) -> Vec<Socket> {
        self.with_state(NO_CTX, |st, _, _| {
            let Some(ns) = st.nsps.get(nsp) else {
                return Vec::new();
            };
            sids.iter()
                .filter_map(|sid| ns.sockets.get(sid).map(|e| e.socket.clone()))
                .collect()
        })
    }

    /// [`LocalNamespace::server_side_event`]: the namespace's server-side handlers, in tasks.
    pub(crate) fn server_side_event(&self, nsp: &str, data: Value) {
        let Value::Array(mut items) = data else {
            return;
        };
        if items.is_empty() {
            return;
        }
        let Value::String(event) = items.remove(0) else {
            return;
        };
        let handlers = lock(&self.server_side)
            .get(nsp)
            .cloned()
            .unwrap_or_default();
        for handler in handlers {
            self.spawn(handler(event.clone(), items.clone()));
        }
    }

    /// Socket `sid` joins `rooms` (if still connected).
    pub(crate) fn join(&self, socket: &Socket, rooms: Vec<Str>) {
        if socket.connected() {
            self.adapter(&socket.0.nsp).add_all(&socket.0.id, &rooms);
        }
    }

    pub(crate) fn disconnect_socket(&self, engine_sid: &Str, sid: &str, close: bool) {
        self.with_state(NO_CTX, |st, now, inner| {
            if let Some(conn) = st.conns.get_mut(engine_sid) {
                let _ = if close {
                    conn.core.close()
                } else {
                    conn.core.disconnect(sid)
                };
                st.dirty.push(engine_sid.clone());
                st.pump(inner, now, NO_CTX);
            }
        });
    }

    /// Closes engine session `engine_sid` (`forced close` for every socket on it).
    /// A connection handler ran its synchronous part: the connection's packets (its CONNECT
    /// first) may go once no other handler is pending.
    pub(crate) fn release_held(&self, engine_sid: &Str) {
        self.with_state(NO_CTX, |st, now, inner| {
            if let Some(conn) = st.conns.get_mut(engine_sid) {
                conn.held = conn.held.saturating_sub(1);
                st.dirty.push(engine_sid.clone());
                st.pump(inner, now, NO_CTX);
            }
        });
    }

    pub(crate) fn close_transport(&self, engine_sid: &Str) {
        self.with_state(NO_CTX, |st, now, inner| {
            if st.engine.close(now, engine_sid).is_ok() {
                st.pump(inner, now, NO_CTX);
            }
        });
    }

    /// Backpressure over polling, once a request of session `sid` has its answer: a GET took
    /// the buffer, so a POST paused on it may go on; a POST is answered only once the
    /// session's buffer and backlog are below the marks (the client sends its next POST after
    /// the answer, so its sending pauses meanwhile).
    async fn after_poll(&self, method: Method, sid: &str) {
        let limits = self.config.backpressure;
        let Some(gate) = self.with_state(NO_CTX, |st, _, _| {
            let sid = Str::from(sid.to_owned());
            st.conns.get(&sid).map(|conn| conn.gate.clone())
        }) else {
            return;
        };
        if method != Method::Post {
            gate.wake();
            return;
        }
        let queued = |gate: &Gate| {
            let bytes = lock(&self.state).engine.buffered_bytes(sid).unwrap_or(0);
            (bytes, gate.backlog())
        };
        let (bytes, backlog) = queued(&gate);
        if !limits.must_pause(bytes, backlog) {
            return;
        }
        gate.wait(
            |_| {},
            |gate| {
                let (bytes, backlog) = queued(gate);
                limits.may_resume(bytes, backlog)
            },
        )
        .await;
    }

    /// Runs `allow_request` (user code, so outside the lock) on the handshakes the request in
    /// `ctx` started, then hands the verdicts to the engine.
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
            crate::plumbing::apply_verdicts(&mut st.engine, now, verdicts);
            st.pump(inner, now, ctx);
        });
    }

    /// The verdict of the middlewares on a pending namespace connection.
    fn connect_verdict(
        &self,
        engine_sid: &Str,
        nsp: &str,
        accepting: Accepting,
        restored: Option<Restored>,
        verdict: Result<(), crate::ConnectError>,
    ) {
        self.with_state(NO_CTX, |st, now, inner| {
            let Some(conn) = st.conns.get_mut(engine_sid) else {
                return;
            };
            match verdict {
                Ok(()) => st.accept(engine_sid, nsp, accepting, restored),
                Err(error) => {
                    tracing::debug!(nsp, message = %error.message, "connection refused by a middleware");
                    let _ = conn.core.refuse_connect(nsp, &error.message, error.data);
                    st.dirty.push(engine_sid.clone());
                }
            }
            st.pump(inner, now, NO_CTX);
        });
    }
}

impl State {
    /// The earliest deadline of every core.
    fn next_deadline(&self) -> Option<Instant> {
        [
            self.engine.poll_timeout(),
            self.conn_timers.first().map(|(at, _)| *at),
            self.broadcast_timers.first().map(|(at, _, _)| *at),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn on_timer(&mut self, _inner: &Inner, now: Instant) {
        if self.engine.poll_timeout().is_some_and(|at| at <= now) {
            self.engine.handle_timeout(now);
        }
        while let Some((at, sid)) = self.conn_timers.first().cloned() {
            if at > now {
                break;
            }
            self.conn_timers.pop_first();
            if let Some(conn) = self.conns.get_mut(&sid) {
                conn.armed = None;
                conn.core.handle_timeout(now);
                self.dirty.push(sid);
            }
        }
        while let Some((at, nsp, id)) = self.broadcast_timers.first().cloned() {
            if at > now {
                break;
            }
            self.broadcast_timers.pop_first();
            self.check_broadcast(now, &nsp, id);
        }
    }

    /// Reports a broadcast-with-ack outcome if it is complete or due.
    fn check_broadcast(&mut self, now: Instant, nsp: &str, id: u64) {
        let key = (nsp.to_owned(), id);
        let Some(waiting) = self.broadcasts.get_mut(&key) else {
            return;
        };
        let outcome = match waiting.ack.poll(now) {
            BroadcastAckStatus::Complete(responses) => (responses, true),
            BroadcastAckStatus::TimedOut(responses) => (responses, false),
            _ => return,
        };
        if let Some(waiting) = self.broadcasts.remove(&key) {
            if let Some(tx) = waiting.tx {
                let _ = tx.send(outcome);
            }
            for sid in waiting.members {
                self.acks.remove(&(sid, id));
            }
            if let Some(at) = waiting.ack.poll_timeout() {
                self.broadcast_timers.remove(&(at, key.0, id));
            }
        }
    }

    /// Encodes an event once and queues it for `targets` (or, with `None`, every socket `opts`
    /// selects, iterated in place rather than copied: a broadcast to 10,000 sockets would
    /// otherwise clone 10,000 ids); with `ack_id`, registers the ack on each. Returns how many
    /// sockets it was queued for.
    #[allow(clippy::too_many_arguments)]
    fn send_event(
        &mut self,
        inner: &Inner,
        now: Instant,
        nsp: &str,
        targets: &[Str],
        opts: &BroadcastOptions,
        value: Value,
        volatile: bool,
        ack_id: Option<u64>,
    ) -> usize {
        // Disjoint borrows: the selection borrows the namespace while sessions are written.
        let State {
            engine,
            conns,
            dirty,
            nsps,
            io,
            acks,
            ..
        } = self;
        let Some(ns) = nsps.get_mut(nsp) else {
            return 0;
        };
        // (Stored for recovery, with its offset, by the adapter before it came here.)
        let _ = opts;
        let mut packet = Packet::event(nsp.to_owned(), Payload::Value(value));
        if let Some(id) = ack_id {
            packet = packet.with_id(id);
        }
        let ns = &*ns;
        let mut selected = targets.iter();
        let Some(first) = selected.next() else {
            return 0;
        };
        let frames: Vec<Data> = match inner.config.socket.parser {
            Parser::Msgpack => vec![Data::Binary(msgpack::encode(&packet))],
            _ => {
                let encoded = common::encode(&packet, ProtocolVersion::V5);
                std::iter::once(Data::Text(encoded.text))
                    .chain(encoded.attachments.into_iter().map(Data::Binary))
                    .collect()
            }
        };
        // A plain emit goes straight to the engine with its WebSocket frame encoded once for
        // every recipient (the connection core would only queue it unchanged).
        let prepared: Vec<PreparedMessage> = match (ack_id, volatile) {
            (None, false) => frames.iter().cloned().map(PreparedMessage::new).collect(),
            _ => Vec::new(),
        };
        let mut count = 0;
        for sid in std::iter::once(first).chain(selected) {
            let Some(entry) = ns.sockets.get(sid) else {
                continue;
            };
            let Some(conn) = conns.get_mut(&entry.engine_sid) else {
                continue;
            };
            // Packets the core still holds for this connection go first, through it.
            if !prepared.is_empty() && !conn.core.has_transmits() && !conn.core.is_closed() {
                let mut sent = true;
                for message in &prepared {
                    match engine.send_prepared(&entry.engine_sid, message) {
                        Ok(()) => {}
                        Err(socketio_protocol::engine::server::Error::QueueFull) => {
                            tracing::warn!(sid = %entry.engine_sid, "polling buffer full: closing the slow session");
                            conn.core.handle_engine_closed(
                                now,
                                socketio_protocol::engine::CloseReason::TransportError,
                            );
                            let _ = engine.close(now, &entry.engine_sid);
                            dirty.push(entry.engine_sid.clone());
                            sent = false;
                            break;
                        }
                        Err(_) => {
                            sent = false;
                            break;
                        }
                    }
                }
                if sent {
                    count += 1;
                }
                continue;
            }
            if volatile {
                let busy = conn
                    .websocket
                    .is_some_and(|c| io.writer(c).is_none_or(Writer::is_busy));
                if busy {
                    continue;
                }
                let mut sent = true;
                for frame in frames.iter().cloned() {
                    if engine.send(&entry.engine_sid, frame).is_err() {
                        sent = false;
                        break;
                    }
                }
                if sent {
                    count += 1;
                }
                continue;
            }
            if let Some(id) = ack_id {
                if conn.core.expect_ack(sid, id, None).is_err() {
                    continue;
                }
                acks.insert((sid.clone(), id), AckTarget::Broadcast(nsp.to_owned(), id));
            }
            if conn.core.send_encoded(frames.iter().cloned()).is_ok() {
                count += 1;
                dirty.push(entry.engine_sid.clone());
            }
        }
        count
    }

    /// Accepts a pending namespace connection (fresh or restored).
    fn accept(
        &mut self,
        engine_sid: &Str,
        nsp: &str,
        mut accepting: Accepting,
        restored: Option<Restored>,
    ) {
        let Some(conn) = self.conns.get_mut(engine_sid) else {
            return;
        };
        let result = match restored {
            Some(restored) => {
                accepting.restored = Some((restored.rooms, restored.data));
                let missed = restored
                    .missed
                    .into_iter()
                    .filter_map(|packet| packet.data)
                    .collect();
                conn.core.accept_recovered(
                    nsp,
                    RestoredSession {
                        sid: restored.sid,
                        pid: restored.pid,
                        missed,
                    },
                )
            }
            None => conn.core.accept_connect(nsp),
        };
        if result.is_ok() {
            // One hold per pending handler; a repeated accept replaces the pending one.
            if conn.accepting.insert(nsp.to_owned(), accepting).is_none() {
                conn.held += 1;
            }
        }
        self.dirty.push(engine_sid.clone());
    }

    /// Drains every core until nothing moves: engine transmits and events, then the output of
    /// every connection that was touched.
    fn pump(&mut self, inner: &Inner, now: Instant, ctx: RequestCtx<'_>) {
        loop {
            let mut moved = false;
            while let Some(transmit) = self.engine.poll_transmit() {
                moved = true;
                self.io
                    .on_transmit(&mut self.engine, now, transmit, &self.limits);
            }
            while let Some(event) = self.engine.poll_event() {
                moved = true;
                self.on_engine_event(inner, now, ctx, event);
            }
            let dirty = std::mem::take(&mut self.dirty);
            let mut seen = HashSet::new();
            for sid in dirty {
                if seen.insert(sid.clone()) {
                    moved = true;
                    self.flush_conn(inner, now, &sid);
                }
            }
            if !moved {
                break;
            }
        }
    }

    fn on_engine_event(
        &mut self,
        inner: &Inner,
        now: Instant,
        ctx: RequestCtx<'_>,
        event: EngineEvent,
    ) {
        match event {
            EngineEvent::HandshakeRequest { transport, .. } => {
                // `allow_request` is user code: the request's caller runs it once the lock is
                // released ([`Inner::verify_handshakes`]).
                self.handshake_checks.push(transport);
            }
            EngineEvent::Opened(handshake) => {
                tracing::debug!(sid = %handshake.sid, "engine.io session opened");
                let websocket = match handshake.transport {
                    socketio_protocol::engine::server::TransportId::WebSocket(c) => Some(c),
                    _ => None,
                };
                let core = ServerConnection::new(
                    now,
                    &inner.config.socket,
                    handshake.sid.clone(),
                    handshake.protocol,
                    id_generator(),
                );
                let gate = Arc::new(Gate::default());
                if let Some(connection) = websocket {
                    self.io.attach_gate(connection, gate.clone());
                }
                self.conns.insert(
                    handshake.sid.clone(),
                    Conn {
                        core,
                        http: Arc::new(HttpHandshake::new(ctx.parts, ctx.remote)),
                        websocket,
                        armed: None,
                        accepting: HashMap::new(),
                        held: 0,
                        gate,
                    },
                );
                self.dirty.push(handshake.sid);
            }
            EngineEvent::Message { sid, data } => {
                if let Some(conn) = self.conns.get_mut(&sid) {
                    conn.core.handle_message(now, data);
                    self.dirty.push(sid);
                }
            }
            EngineEvent::Upgraded { sid, connection } => {
                tracing::debug!(%sid, "engine.io session upgraded to websocket");
                if let Some(conn) = self.conns.get_mut(&sid) {
                    conn.websocket = Some(connection);
                    self.io.attach_gate(connection, conn.gate.clone());
                    // A POST paused on the polling buffer waits no more.
                    conn.gate.wake();
                }
            }
            EngineEvent::Closed { sid, reason } => {
                tracing::debug!(%sid, %reason, "engine.io session closed");
                if let Some(conn) = self.conns.get_mut(&sid) {
                    conn.core.handle_engine_closed(now, reason);
                    self.flush_conn(inner, now, &sid);
                }
                if let Some(conn) = self.conns.remove(&sid) {
                    conn.gate.close();
                    if let Some(at) = conn.armed {
                        self.conn_timers.remove(&(at, sid));
                    }
                }
            }
            _ => {}
        }
    }

    /// Passes a connection's messages to the engine and handles its events.
    fn flush_conn(&mut self, inner: &Inner, now: Instant, engine_sid: &Str) {
        loop {
            let Some(conn) = self.conns.get_mut(engine_sid) else {
                return;
            };
            let mut moved = false;
            while conn.held == 0
                && let Some(data) = conn.core.poll_transmit()
            {
                moved = true;
                match self.engine.send(engine_sid, data) {
                    Ok(()) => {}
                    Err(socketio_protocol::engine::server::Error::QueueFull) => {
                        tracing::warn!(sid = %engine_sid, "polling buffer full: closing the slow session");
                        // Its sockets leave now (`transport error`); the engine session ends
                        // at the next GET or after the polling close timeout.
                        conn.core.handle_engine_closed(
                            now,
                            socketio_protocol::engine::CloseReason::TransportError,
                        );
                        let _ = self.engine.close(now, engine_sid);
                        break;
                    }
                    Err(_) => {}
                }
            }
            let Some(conn) = self.conns.get_mut(engine_sid) else {
                return;
            };
            let mut events = Vec::new();
            while let Some(event) = conn.core.poll_event() {
                events.push(event);
            }
            for event in events {
                moved = true;
                self.on_socket_event(inner, now, engine_sid, event);
            }
            if !moved {
                break;
            }
        }
        // Re-file the connection's timer.
        if let Some(conn) = self.conns.get_mut(engine_sid) {
            let deadline = conn.core.poll_timeout();
            if deadline != conn.armed {
                if let Some(at) = conn.armed {
                    self.conn_timers.remove(&(at, engine_sid.clone()));
                }
                if let Some(at) = deadline {
                    self.conn_timers.insert((at, engine_sid.clone()));
                }
                conn.armed = deadline;
            }
        }
    }

    fn on_socket_event(
        &mut self,
        inner: &Inner,
        now: Instant,
        engine_sid: &Str,
        event: SocketEvent,
    ) {
        match event {
            SocketEvent::ConnectRequest {
                nsp,
                auth,
                recovery,
            } => self.on_connect_request(inner, now, engine_sid, nsp, auth, recovery),
            SocketEvent::Connected {
                nsp,
                sid,
                pid,
                recovered,
            } => {
                let Some(conn) = self.conns.get_mut(engine_sid) else {
                    return;
                };
                let Some(accepting) = conn.accepting.remove(&nsp) else {
                    return;
                };
                let gate = conn.gate.clone();
                tracing::debug!(%sid, nsp, recovered, "socket connected");
                let ns = self.ns_state(inner, &nsp);
                // Its rooms join in the adapter when its runner starts (outside the lock),
                // before the connect handler and before the client sees its CONNECT.
                let mut rooms = vec![sid.clone()];
                let data = match accepting.restored {
                    Some((restored, data)) => {
                        rooms.extend(restored.into_iter().filter(|room| *room != sid));
                        data
                    }
                    None => Value::Null,
                };
                let (queue_tx, queue) = mpsc::unbounded();
                let socket = Socket::new(
                    sid.clone(),
                    Arc::from(nsp.as_str()),
                    engine_sid.clone(),
                    accepting.handshake,
                    recovered,
                    pid.clone(),
                    data,
                    inner.arc(),
                    queue_tx,
                    gate,
                );
                ns.sockets.insert(
                    sid,
                    SocketEntry {
                        engine_sid: engine_sid.clone(),
                        socket: socket.clone(),
                        pid,
                    },
                );
                self.spawn
                    .push(socket.runner(accepting.def.handler.clone(), rooms, queue));
            }
            SocketEvent::Message {
                sid,
                nsp,
                data,
                ack,
            } => {
                let Some(socket) = self
                    .nsps
                    .get(&nsp)
                    .and_then(|ns| ns.sockets.get(&sid))
                    .map(|e| e.socket.clone())
                else {
                    return;
                };
                let Ok(Value::Array(mut items)) = data.to_value() else {
                    return;
                };
                if items.is_empty() {
                    return;
                }
                let event = match items.remove(0) {
                    Value::String(name) => name,
                    Value::Number(n) => match n.as_i64() {
                        Some(i) => i.to_string(),
                        None => n.as_f64().to_string(),
                    },
                    _ => return,
                };
                let incoming = Incoming::Event {
                    event,
                    args: items,
                    ack,
                };
                socket.incoming(incoming);
            }
            SocketEvent::AckReceived { sid, id, data } => {
                let args = match data.to_value() {
                    Ok(Value::Array(items)) => items,
                    Ok(other) => vec![other],
                    Err(_) => Vec::new(),
                };
                match self.acks.remove(&(sid, id)) {
                    Some(AckTarget::Single(tx)) => {
                        let _ = tx.send(Ok(args));
                    }
                    Some(AckTarget::Broadcast(nsp, id)) => {
                        if let Some(waiting) = self.broadcasts.get_mut(&(nsp.clone(), id)) {
                            waiting.ack.record(args);
                        }
                        self.check_broadcast(now, &nsp, id);
                    }
                    None => {}
                }
            }
            SocketEvent::AckTimedOut { sid, id } => {
                if let Some(AckTarget::Single(tx)) = self.acks.remove(&(sid, id)) {
                    let _ = tx.send(Err(AckError::Timeout));
                }
            }
            SocketEvent::AckCancelled { sid, id } => {
                if let Some(AckTarget::Single(tx)) = self.acks.remove(&(sid, id)) {
                    let _ = tx.send(Err(AckError::Disconnected));
                }
            }
            SocketEvent::Disconnected { sid, nsp, reason } => {
                tracing::debug!(%sid, nsp, %reason, "socket disconnected");
                let Some(ns) = self.nsps.get_mut(&nsp) else {
                    return;
                };
                let Some(entry) = ns.sockets.remove(&sid) else {
                    return;
                };
                let socket = entry.socket;
                socket.0.connected.store(false, Ordering::Release);
                let recoverable = inner.config.recovery.is_some() && reason.is_recoverable();
                // The adapter is called after the lock; then the session is saved and the
                // disconnect handlers queued.
                let server = inner.arc();
                self.after.push(Box::new(move || {
                    let rooms = server.adapter(&nsp).del_all(&sid);
                    *lock(&socket.0.last_rooms) = rooms.clone();
                    if let (true, Some(pid)) = (recoverable, entry.pid) {
                        let record = SessionRecord {
                            sid: sid.clone(),
                            pid,
                            rooms: rooms.into_iter().collect(),
                            data: socket.data_value(),
                        };
                        server.adapter(&nsp).persist_session(record, reason);
                    }
                    socket.incoming(Incoming::Disconnect(reason));
                    socket.0.queue.close_channel();
                }));
            }
            SocketEvent::CloseConnection { reason, violation } => {
                match &violation {
                    Some(violation) => {
                        tracing::info!(sid = %engine_sid, %reason, %violation, "closing connection")
                    }
                    None => tracing::debug!(sid = %engine_sid, %reason, "closing connection"),
                }
                let _ = self.engine.close(now, engine_sid);
            }
            _ => {}
        }
    }

    fn ns_state(&mut self, inner: &Inner, nsp: &str) -> &mut NsState {
        let _ = inner;
        self.nsps.entry(nsp.to_owned()).or_default()
    }

    fn on_connect_request(
        &mut self,
        inner: &Inner,
        now: Instant,
        engine_sid: &Str,
        nsp: String,
        auth: Option<Payload>,
        recovery: Option<socketio_protocol::socket::server::RecoveryRequest>,
    ) {
        let (def, dynamics) = {
            let registry = lock(&inner.registry);
            match registry.known(&nsp) {
                Some(def) => (Some(def), Vec::new()),
                None => (None, registry.dynamics()),
            }
        };
        if def.is_none() && !dynamics.is_empty() {
            // The matchers are user code: they run in a task, outside the lock.
            let server = inner.arc();
            let engine_sid = engine_sid.clone();
            self.spawn.push(Box::pin(async move {
                let def = crate::namespace::match_dynamic(&dynamics, &nsp)
                    .map(|def| lock(&server.registry).remember(&nsp, def));
                server.with_state(NO_CTX, |st, now, inner| {
                    st.resolve_connect(inner, now, &engine_sid, nsp, def, auth, recovery);
                    st.pump(inner, now, NO_CTX);
                });
            }));
            return;
        }
        self.resolve_connect(inner, now, engine_sid, nsp, def, auth, recovery);
    }

    /// Goes on with a connect request once the namespace's definition is known (`None`: no
    /// such namespace).
    #[allow(clippy::too_many_arguments)]
    fn resolve_connect(
        &mut self,
        inner: &Inner,
        now: Instant,
        engine_sid: &Str,
        nsp: String,
        def: Option<Arc<NsDef>>,
        auth: Option<Payload>,
        recovery: Option<socketio_protocol::socket::server::RecoveryRequest>,
    ) {
        let Some(conn) = self.conns.get_mut(engine_sid) else {
            return;
        };
        let Some(def) = def else {
            tracing::debug!(nsp, "connect to an unknown namespace");
            let _ = conn.core.refuse_namespace(&nsp);
            self.dirty.push(engine_sid.clone());
            return;
        };
        let auth = auth
            .and_then(|payload| payload.to_value().ok())
            .unwrap_or(Value::Object(Vec::new()));
        let handshake = Handshake {
            http: conn.http.clone(),
            namespace: Arc::from(nsp.as_str()),
            auth: Arc::new(auth),
        };
        let accepting = Accepting {
            def: def.clone(),
            handshake: handshake.clone(),
            restored: None,
        };
        if let (Some(request), true) = (recovery, inner.config.recovery.is_some()) {
            // The session comes from the adapter (maybe from another node): asked in a task,
            // without the lock.
            let server = inner.arc();
            let engine_sid = engine_sid.clone();
            self.spawn.push(Box::pin(async move {
                let restored = server
                    .adapter(&nsp)
                    .restore_session(Str::from(request.pid), Str::from(request.offset))
                    .await;
                if restored.is_none() {
                    tracing::debug!(nsp, "session not restored");
                }
                server.with_state(NO_CTX, |st, now, inner| {
                    st.admit(inner, now, &engine_sid, nsp, accepting, restored);
                    st.pump(inner, now, NO_CTX);
                });
            }));
            return;
        }
        self.admit(inner, now, engine_sid, nsp, accepting, None);
    }

    /// Admits a connect request (its session restored or not): through the middlewares, or
    /// at once.
    fn admit(
        &mut self,
        inner: &Inner,
        _now: Instant,
        engine_sid: &Str,
        nsp: String,
        accepting: Accepting,
        restored: Option<Restored>,
    ) {
        if !self.conns.contains_key(engine_sid) {
            return;
        }
        let def = accepting.def.clone();
        let handshake = accepting.handshake.clone();
        let skip = restored.is_some()
            && inner
                .config
                .recovery
                .as_ref()
                .is_some_and(|r| r.skip_middlewares);
        let middlewares = def.middlewares();
        if skip || middlewares.is_empty() {
            self.accept(engine_sid, &nsp, accepting, restored);
            return;
        }
        let server = inner.arc();
        let engine_sid = engine_sid.clone();
        self.spawn.push(Box::pin(async move {
            let mut verdict = Ok(());
            for middleware in middlewares {
                verdict = middleware(handshake.clone()).await;
                if verdict.is_err() {
                    break;
                }
            }
            server.connect_verdict(&engine_sid, &nsp, accepting, restored, verdict);
        }));
    }
}

impl Inner {
    pub(crate) fn registry_ref(&self) -> &Mutex<Registry> {
        &self.registry
    }

    /// This server as an `Arc` (the state lives inside it).
    fn arc(&self) -> Arc<Inner> {
        self.self_ref
            .upgrade()
            .expect("an Inner is only reached through an Arc")
    }
}

fn normalize(name: String) -> String {
    if name.starts_with('/') {
        name
    } else {
        format!("/{name}")
    }
}

pub(crate) fn head_from_parts(parts: &http::request::Parts) -> RequestHead {
    let method = Method::parse(parts.method.as_str());
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or("").to_owned();
    let mut head = RequestHead::new(method, path, query);
    let header = |name: http::header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| Str::from(v.to_owned()))
    };
    if let Some(origin) = header(http::header::ORIGIN) {
        head = head.with_origin(origin);
    }
    if let Some(content_type) = header(http::header::CONTENT_TYPE) {
        head = head.with_content_type(content_type);
    }
    if let Some(requested) = header(http::header::ACCESS_CONTROL_REQUEST_HEADERS) {
        head = head.with_access_control_request_headers(requested);
    }
    head
}

pub(crate) async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, ()>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut body = Box::pin(body);
    let mut out = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ())?;
        if let Ok(data) = frame.into_data() {
            out.extend_from_slice(&data);
            if out.len() >= limit {
                out.truncate(limit);
                break;
            }
        }
    }
    Ok(out.freeze())
}

pub(crate) fn to_http(response: Response) -> http::Response<Full<Bytes>> {
    let mut builder = http::Response::builder().status(response.status);
    for (name, value) in &response.headers {
        if let Ok(value) = http::HeaderValue::from_str(value) {
            builder = builder.header(*name, value);
        }
    }
    builder
        .header(http::header::CONTENT_LENGTH, response.body.len())
        .body(Full::new(response.body))
        .unwrap_or_else(|_| plain(500, ""))
}

pub(crate) fn plain(status: u16, body: &'static str) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
    response.headers_mut().insert(
        http::header::CONTENT_LENGTH,
        http::HeaderValue::from(body.len()),
    );
    response
}

/// A lower-case static header name for `HeaderName::from_static`.
pub(crate) fn static_lower(name: &'static str) -> Option<&'static str> {
    const NAMES: [&str; 6] = [
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "access-control-expose-headers",
        "vary",
        "set-cookie",
        "access-control-allow-headers",
    ];
    NAMES.into_iter().find(|n| n.eq_ignore_ascii_case(name))
}
