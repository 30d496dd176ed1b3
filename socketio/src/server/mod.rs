//! The Socket.IO server: the [`Server`] handle, on the shared driver (`crate::driver`) with
//! the Socket.IO layer (`state.rs`): one lock per connection (its Engine.IO session and its
//! `ServerConnection`), the router behind a small lock of its own, the namespaces' socket
//! maps and the broadcasts with acks in leaf locks. Rooms and recovery are the namespace's
//! adapter's (`crate::adapter`), called without any lock. User code (handlers, middlewares,
//! matchers, `allow_request`) never runs under a lock.
//!
//! Run loop: see `crate::driver` (one connection's step) and `state.rs` (what the Socket.IO
//! layer does in it):
//!
//! - inputs: HTTP requests, WebSocket upgrades and frames (`crate::driver::entry`, behind
//!   `entry.rs`); API commands from `Socket`, `BroadcastOperator` and the adapter's
//!   `LocalNamespace` (`commands.rs`); the driver's timer task;
//! - under the connection's lock, the driver pumps the session (transmits to the plumbing,
//!   events to the layer) and the layer flushes its `ServerConnection`: a CONNECT goes
//!   through admission (`connect.rs`), an event to its socket's runner, an ack to whoever
//!   waits for it;
//! - after the lock: a closed session leaves the router's map, the queued calls run (the
//!   adapter), then the queued tasks are spawned (handlers, middlewares, matchers,
//!   `restore_session`); an entry point that started handshakes runs `allow_request` on
//!   them and hands the verdicts to the router.
//!
//! Files: `mod.rs` the handle and its public API; `entry.rs` the transport entry points;
//! `commands.rs` the API commands; `state.rs` the layer (per connection and per server);
//! `connect.rs` namespace admission.

mod commands;
mod connect;
mod entry;
mod state;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use socketio_protocol::{Instant, Value};

use crate::config::Config;
use crate::driver::Driver;
use crate::namespace::{ConnectHandler, DynamicNamespace, Namespace, NsDef, lock};
use crate::{BoxTask, BroadcastOperator, EmitError, Runtime, ServerBuilder, Socket};

pub use entry::WebSocketTicket;
pub(crate) use state::{Inner, SioCell, SioLayer};

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

/// A handler of server-side events (`event`, `args`).
pub(crate) type ServerSideHandler = Arc<dyn Fn(String, Vec<Value>) -> BoxTask + Send + Sync>;

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
        let engine = config.engine.clone();
        let limits = config.backpressure;
        let allow_request = config.allow_request.clone();
        Server(Driver::new(engine, limits, allow_request, runtime, |me| {
            SioLayer::new(config, me)
        }))
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
    pub fn to(&self, rooms: impl crate::Rooms) -> BroadcastOperator {
        self.root().to(rooms)
    }

    /// Operator on `/`: leave out the sockets in `room`.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().except("muted").emit("news", "hi").ok();
    /// ```
    pub fn except(&self, rooms: impl crate::Rooms) -> BroadcastOperator {
        self.root().except(rooms)
    }

    /// Operator on `/`: this server's sockets only (a cluster adapter does not publish it to
    /// the other nodes).
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().local().emit("news", "hi").ok();
    /// ```
    pub fn local(&self) -> BroadcastOperator {
        self.root().local()
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
        self.0.handles(path)
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
        self.0.shutdown().await
    }

    /// Drains this node for a deploy, without a reconnect storm: from the call on, new
    /// handshakes and WebSockets get `503` with `Retry-After` (and so do requests naming a
    /// session this node does not have, so that a load balancer retrying on `503`, such as
    /// nginx with `proxy_next_upstream http_503`, hands them to another node); then every
    /// client is disconnected, spread evenly over `over` rather than all at once. Each of its
    /// sockets leaves with `server shutting down`, a recoverable reason: with connection state
    /// recovery on, its session is handed to the adapter first (with a shared adapter such as
    /// the Redis streams one, any other node restores it), and the official client, seeing
    /// `transport close`, reconnects with its usual backoff. Resolves once no session is left
    /// (a polling client gets its close on its next request, or times out).
    ///
    /// The server keeps refusing new work afterwards; call [`Server::shutdown`] to end it.
    ///
    /// ```no_run
    /// # async fn f(io: socketio::Server) {
    /// use std::time::Duration;
    /// io.drain(Duration::from_secs(30)).await; // every client is on another node now
    /// io.shutdown().await;
    /// # }
    /// ```
    pub async fn drain(&self, over: Duration) {
        self.0.drain(over).await
    }

    /// Whether [`Server::drain`] was called.
    pub fn is_draining(&self) -> bool {
        self.0.draining.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Whether [`Server::shutdown`] was called.
    pub fn is_shut_down(&self) -> bool {
        self.0.shut_down.load(std::sync::atomic::Ordering::Acquire)
    }

    /// A handle that does not keep the server alive (for observers the server itself holds,
    /// which would otherwise make a cycle).
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// let weak = io().downgrade();
    /// if let Some(io) = weak.upgrade() { io.emit("tick", &()).ok(); }
    /// ```
    pub fn downgrade(&self) -> WeakServer {
        WeakServer(Arc::downgrade(&self.0))
    }

    /// Observes every socket that connects to any namespace of this server, dynamic ones
    /// included: called once it is in its rooms, before its namespace's connect handler, in
    /// the socket's runner (outside every lock). See [`hooks`](crate::hooks).
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().on_socket_connected(|socket| println!("{} on {}", socket.id(), socket.ns()));
    /// ```
    pub fn on_socket_connected<F>(&self, listener: F)
    where
        F: Fn(&Socket) + Send + Sync + 'static,
    {
        self.0.hooks.sockets.add(Arc::new(listener));
    }

    /// Observes room membership on every namespace: a socket of this node joined a room it
    /// was not in, or left one (its own room included; leaving every room when it
    /// disconnects), as the reference adapter's `join-room` / `leave-room` events. Reported by
    /// the namespace's adapter after its own locks (the in-memory adapter, and the cluster
    /// adapters built on it, do). See [`hooks`](crate::hooks).
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().on_room_change(|change| {
    ///     let verb = if change.joined { "joined" } else { "left" };
    ///     println!("{} {verb} {} on {}", change.sid, change.room, change.nsp);
    /// });
    /// ```
    pub fn on_room_change<F>(&self, listener: F)
    where
        F: Fn(&crate::hooks::RoomChange) + Send + Sync + 'static,
    {
        self.0.hooks.rooms.add(Arc::new(listener));
    }

    /// Observes the Engine.IO connections: opened (with their transport), upgraded, closed
    /// (with the reason). Called after the connection's lock. See [`hooks`](crate::hooks).
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// use socketio::hooks::TransportEvent;
    /// io().on_transport_event(|event| {
    ///     if let TransportEvent::Upgraded { client_id, .. } = event {
    ///         println!("{client_id} upgraded");
    ///     }
    /// });
    /// ```
    pub fn on_transport_event<F>(&self, listener: F)
    where
        F: Fn(&crate::hooks::TransportEvent) + Send + Sync + 'static,
    {
        self.0.hooks.transports.add(Arc::new(listener));
    }

    /// The Engine.IO packets and bytes this node read and wrote (see
    /// [`Traffic`](crate::hooks::Traffic) for what counts), since the first call: counting
    /// is off until something asks (a path that counts then pays one relaxed load per frame
    /// or polling body), so the first call starts it and returns zeros. Call it again for the
    /// totals; the difference of two calls is the traffic between them. A broadcast's frame
    /// written straight to many WebSockets is counted once for all of them.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// let io = io();
    /// let before = io.traffic(); // starts counting
    /// // … later, e.g. every few seconds:
    /// let now = io.traffic();
    /// println!(
    ///     "{} packets in, {} out, {} bytes in, {} out",
    ///     now.packets_in - before.packets_in,
    ///     now.packets_out - before.packets_out,
    ///     now.bytes_in - before.bytes_in,
    ///     now.bytes_out - before.bytes_out,
    /// );
    /// ```
    pub fn traffic(&self) -> crate::hooks::Traffic {
        let counters = &self.0.hooks.traffic;
        if !counters.on() {
            counters.enable();
        }
        counters.totals()
    }

    /// How many Engine.IO connections (clients) this node has (the reference's
    /// `engine.clientsCount`).
    pub fn clients_count(&self) -> usize {
        self.0.session_count()
    }

    /// How many of them use HTTP long-polling now (not upgraded). Looks at each connection in
    /// turn: meant for periodic statistics, not a hot path.
    pub fn polling_clients_count(&self) -> usize {
        self.0
            .conns()
            .iter()
            .filter(|conn| {
                conn.with_state(|st| {
                    st.session.session().transport() == crate::TransportKind::Polling
                })
            })
            .count()
    }

    /// This node's namespaces (the static ones, the dynamic ones matched so far, and any with
    /// sockets), each with its number of connected sockets on this node, sorted by name.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// for (name, sockets) in io().namespaces() { println!("{name}: {sockets}"); }
    /// ```
    pub fn namespaces(&self) -> Vec<(String, usize)> {
        let mut all: std::collections::BTreeMap<String, usize> = lock(&self.0.registry)
            .names()
            .map(|name| (name.to_owned(), 0))
            .collect();
        for (name, ns) in state::read(&self.0.nsps).iter() {
            *all.entry(name.clone()).or_default() = ns.sockets.len();
        }
        all.into_iter().collect()
    }

    /// The sockets (one per namespace joined) of the client with Engine.IO id `client_id`
    /// on this node (none if unknown).
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// let sockets = io().client_sockets("abc");
    /// ```
    pub fn client_sockets(&self, client_id: &str) -> Vec<Socket> {
        match self.0.conn(client_id) {
            Some(conn) => conn.with_state(|st| st.layer.sockets.clone()),
            None => Vec::new(),
        }
    }
}

/// A [`Server`] handle that does not keep it alive ([`Server::downgrade`]).
#[derive(Clone, Debug)]
pub struct WeakServer(std::sync::Weak<Inner>);

impl WeakServer {
    /// The server, if it still exists.
    pub fn upgrade(&self) -> Option<Server> {
        self.0.upgrade().map(Server)
    }
}

impl Inner {
    /// The server's clock, as its machines see it (for adapters).
    pub(crate) fn clock(&self) -> Instant {
        self.now()
    }

    pub(crate) fn registry_ref(&self) -> &Mutex<crate::namespace::Registry> {
        &self.registry
    }
}

fn normalize(name: String) -> String {
    if name.starts_with('/') {
        name
    } else {
        format!("/{name}")
    }
}
