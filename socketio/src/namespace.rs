//! Namespaces: static and dynamic definitions, connect middlewares, and the namespace handle.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use crate::{BoxTask, BroadcastOperator, ConnectError, Handshake, Server, Socket};

pub(crate) type ConnectHandler = Arc<dyn Fn(Socket) -> BoxTask + Send + Sync>;
pub(crate) type MiddlewareFuture = Pin<Box<dyn Future<Output = Result<(), ConnectError>> + Send>>;
pub(crate) type Middleware = Arc<dyn Fn(Handshake) -> MiddlewareFuture + Send + Sync>;
pub(crate) type Matcher = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// A namespace's connect handler and middlewares.
pub(crate) struct NsDef {
    pub(crate) handler: ConnectHandler,
    pub(crate) middlewares: Mutex<Vec<Middleware>>,
}

impl NsDef {
    pub(crate) fn middlewares(&self) -> Vec<Middleware> {
        lock(&self.middlewares).clone()
    }
}

/// Every namespace the application defined.
#[derive(Default)]
pub(crate) struct Registry {
    statics: HashMap<String, Arc<NsDef>>,
    dynamics: Vec<(Matcher, Arc<NsDef>)>,
    children: HashMap<String, Arc<NsDef>>,
}

impl Registry {
    pub(crate) fn insert(&mut self, name: String, def: Arc<NsDef>) {
        self.statics.insert(name, def);
    }

    pub(crate) fn insert_dynamic(&mut self, matcher: Matcher, def: Arc<NsDef>) {
        self.dynamics.push((matcher, def));
    }

    pub(crate) fn get_static(&self, name: &str) -> Option<Arc<NsDef>> {
        self.statics.get(name).cloned()
    }

    /// The definition already known to serve `name`: a static namespace, or a dynamic one
    /// matched before. Runs no user code (the matchers are not consulted).
    pub(crate) fn known(&self, name: &str) -> Option<Arc<NsDef>> {
        self.statics
            .get(name)
            .or_else(|| self.children.get(name))
            .cloned()
    }

    /// The names of the static namespaces and of the dynamic ones matched so far.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.statics
            .keys()
            .chain(self.children.keys())
            .map(String::as_str)
    }

    /// The dynamic definitions, for matching outside the lock (a matcher is user code).
    pub(crate) fn dynamics(&self) -> Vec<(Matcher, Arc<NsDef>)> {
        self.dynamics.clone()
    }

    /// Remembers that `name` is served by the dynamic definition `def` (the reference keeps
    /// the child namespace once created); a definition remembered meanwhile wins.
    pub(crate) fn remember(&mut self, name: &str, def: Arc<NsDef>) -> Arc<NsDef> {
        if let Some(known) = self.known(name) {
            return known;
        }
        self.children.insert(name.to_owned(), def.clone());
        def
    }
}

/// The dynamic definition serving `name`, if a matcher accepts it. Called without any lock.
pub(crate) fn match_dynamic(dynamics: &[(Matcher, Arc<NsDef>)], name: &str) -> Option<Arc<NsDef>> {
    dynamics
        .iter()
        .find(|(matcher, _)| matcher(name))
        .map(|(_, def)| def.clone())
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn middleware<F, Fut>(f: F) -> Middleware
where
    F: Fn(Handshake) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
{
    Arc::new(move |handshake| Box::pin(f(handshake)))
}

/// A namespace of a server: add connect middlewares, and emit to or operate on its sockets.
///
/// ```no_run
/// # fn io() -> socketio::Server { unimplemented!() }
/// use socketio::{ConnectError, Handshake, Socket};
///
/// let io = io();
/// let admin = io
///     .ns("/admin", |socket: Socket| async move {
///         socket.emit("welcome", "admin").ok();
///     })
///     .with(|handshake: Handshake| async move {
///         match handshake.auth_field::<String>("token").as_deref() {
///             Some("secret") => Ok(()),
///             _ => Err(ConnectError::new("not authorized")
///                 .with_data(&serde_json::json!({"hint": "send a token"}))),
///         }
///     });
/// admin.to("managers").emit("report", &42).ok();
/// ```
#[derive(Clone)]
pub struct Namespace {
    pub(crate) server: Server,
    pub(crate) name: Arc<str>,
    pub(crate) def: Option<Arc<NsDef>>,
}

impl std::fmt::Debug for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Namespace")
            .field("name", &self.name)
            .finish()
    }
}

impl Namespace {
    /// The namespace name (`/`, `/admin`, ...).
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// assert_eq!(io().of("/chat").name(), "/chat");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds a connect middleware: it sees the [`Handshake`] and may refuse the connection
    /// with a [`ConnectError`] (the client gets `connect_error`). Middlewares run in the order
    /// they were added; the first refusal wins.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// use socketio::{ConnectError, Handshake, Socket};
    /// io().ns("/", |_socket: Socket| async {})
    ///     .with(|hs: Handshake| async move {
    ///         if hs.address().is_some() { Ok(()) } else { Err(ConnectError::new("who are you")) }
    ///     });
    /// ```
    pub fn with<F, Fut>(mut self, middleware_fn: F) -> Self
    where
        F: Fn(Handshake) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        if self.def.is_none() {
            self.def = lock(self.server.0.registry_ref()).get_static(&self.name);
        }
        if let Some(def) = &self.def {
            lock(&def.middlewares).push(middleware(middleware_fn));
        }
        self
    }
}

/// A dynamic namespace family (every name a predicate accepts): add connect middlewares.
///
/// ```no_run
/// # fn io() -> socketio::Server { unimplemented!() }
/// use socketio::{ConnectError, Handshake, Socket};
/// io().dynamic_ns(|name: &str| name.starts_with("/dyn-"), |socket: Socket| async move {
///     socket.emit("hello", socket.ns()).ok();
/// })
/// .with(|_hs: Handshake| async { Ok::<(), ConnectError>(()) });
/// ```
#[derive(Clone)]
pub struct DynamicNamespace {
    pub(crate) def: Arc<NsDef>,
}

impl std::fmt::Debug for DynamicNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamicNamespace").finish_non_exhaustive()
    }
}

impl DynamicNamespace {
    /// Adds a connect middleware to every namespace of the family (see [`Namespace::with`]).
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// use socketio::{ConnectError, Handshake, Socket};
    /// io().dynamic_ns(|n: &str| n.len() > 1, |_s: Socket| async {})
    ///     .with(|_hs: Handshake| async { Err(ConnectError::new("closed")) });
    /// ```
    pub fn with<F, Fut>(self, middleware_fn: F) -> Self
    where
        F: Fn(Handshake) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        lock(&self.def.middlewares).push(middleware(middleware_fn));
        self
    }
}

impl Namespace {
    fn operator(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.server.0.clone(), self.name.clone())
    }

    /// Operator: the sockets of this namespace in `room`.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().of("/chat").to("lobby").emit("news", "hi").ok();
    /// ```
    pub fn to(&self, rooms: impl crate::Rooms) -> BroadcastOperator {
        self.operator().to(rooms)
    }

    /// Operator: every socket of this namespace but those in `room`.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().of("/chat").except("muted").emit("news", "hi").ok();
    /// ```
    pub fn except(&self, rooms: impl crate::Rooms) -> BroadcastOperator {
        self.operator().except(rooms)
    }

    /// Operator: this server's sockets of the namespace only (a cluster adapter does not
    /// publish its broadcasts).
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().of("/chat").local().emit("news", "hi").ok();
    /// ```
    pub fn local(&self) -> BroadcastOperator {
        self.operator().local()
    }

    /// Operator: every socket of the namespace.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().of("/chat").broadcast().emit("news", "hi").ok();
    /// ```
    pub fn broadcast(&self) -> BroadcastOperator {
        self.operator()
    }

    /// Operator: volatile emits.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().of("/chat").volatile().emit("tick", &1).ok();
    /// ```
    pub fn volatile(&self) -> BroadcastOperator {
        self.operator().volatile()
    }

    /// Operator: the deadline of `emit_with_ack`.
    ///
    /// ```no_run
    /// # async fn f(io: socketio::Server) {
    /// let r = io.of("/chat").timeout(std::time::Duration::from_secs(1)).emit_with_ack::<u8, _>("q", &()).await;
    /// # }
    /// ```
    pub fn timeout(&self, timeout: std::time::Duration) -> BroadcastOperator {
        self.operator().timeout(timeout)
    }

    /// Emits to every socket of the namespace; returns how many it was queued for.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().of("/chat").emit("news", "hi").ok();
    /// ```
    pub fn emit<T: serde::Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<usize, crate::EmitError> {
        self.operator().emit(event, data)
    }

    /// Emits to every socket of the namespace with acks (see
    /// [`BroadcastOperator::emit_with_ack`]).
    ///
    /// ```no_run
    /// # async fn f(io: socketio::Server) {
    /// let answers = io.of("/chat").emit_with_ack::<String, _>("q", &()).await;
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
        self.operator().emit_with_ack(event, data).await
    }

    /// The sockets of the namespace on every server node (see
    /// [`BroadcastOperator::fetch_sockets`]).
    ///
    /// ```no_run
    /// # async fn f(io: socketio::Server) {
    /// let n = io.of("/chat").fetch_sockets().await.map(|s| s.len());
    /// # }
    /// ```
    pub async fn fetch_sockets(
        &self,
    ) -> Result<Vec<crate::adapter::RemoteSocket>, crate::adapter::AdapterError> {
        self.operator().fetch_sockets().await
    }

    /// Sends a server-side event to every other server node of the cluster (`[event,
    /// ...args]`); resolves with their acks (none on a single node). Other nodes handle it
    /// with [`Server::on_server_side_emit`](crate::Server::on_server_side_emit).
    ///
    /// ```no_run
    /// # async fn f(io: socketio::Server) {
    /// let acks = io.of("/").server_side_emit("cache-flush", &"users").await;
    /// # }
    /// ```
    pub async fn server_side_emit<T: serde::Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<Vec<crate::Value>, crate::adapter::AdapterError> {
        let value = crate::args::to_args(data)
            .and_then(|args| crate::args::event_value(event, args))
            .map_err(|error| crate::adapter::AdapterError(error.to_string()))?;
        let request = self.server.0.adapter(&self.name).server_side_emit(value);
        self.server
            .0
            .timed_request(crate::probe::AdapterRequest::ServerSideEmit, request)
            .await
    }

    /// How many server nodes the cluster has (1 with the in-memory adapter).
    ///
    /// ```no_run
    /// # async fn f(io: socketio::Server) {
    /// let nodes = io.of("/").server_count().await;
    /// # }
    /// ```
    pub async fn server_count(&self) -> Result<usize, crate::adapter::AdapterError> {
        let request = self.server.0.adapter(&self.name).server_count();
        self.server
            .0
            .timed_request(crate::probe::AdapterRequest::ServerCount, request)
            .await
    }

    /// Handles server-side events other nodes send to this namespace
    /// ([`server_side_emit`](Self::server_side_emit)): `handler` gets the event name and its
    /// arguments, in a task.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().of("/").on_server_side_emit(|event: String, args: Vec<socketio::Value>| async move {
    ///     println!("{event} {args:?}");
    /// });
    /// ```
    pub fn on_server_side_emit<F, Fut>(&self, handler: F)
    where
        F: Fn(String, Vec<crate::Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: crate::server::ServerSideHandler =
            Arc::new(move |event, args| Box::pin(handler(event, args)));
        lock(&self.server.0.server_side)
            .entry(self.name.to_string())
            .or_default()
            .push(handler);
    }

    /// Makes every socket of the namespace join `room`.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().of("/chat").sockets_join("all");
    /// ```
    pub fn sockets_join(&self, room: impl Into<String>) {
        self.operator().sockets_join(room)
    }

    /// Makes every socket of the namespace leave `room`.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().of("/chat").sockets_leave("all");
    /// ```
    pub fn sockets_leave(&self, room: &str) {
        self.operator().sockets_leave(room)
    }

    /// Disconnects every socket of the namespace.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().of("/chat").disconnect_sockets(false);
    /// ```
    pub fn disconnect_sockets(&self, close: bool) {
        self.operator().disconnect_sockets(close)
    }
}
