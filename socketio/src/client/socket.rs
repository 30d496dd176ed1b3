//! The client handle and its per-namespace sockets.

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_channel::oneshot;
use serde::Serialize;
use serde::de::DeserializeOwned;
use socketio_protocol::Value;
use socketio_protocol::socket::DisconnectReason;
use socketio_protocol::socket::Payload;
use socketio_protocol::socket::client::{
    ClientManager, EmitError as ManagerEmitError, EmitOptions, ManagerConfig,
};

use super::driver::{
    AnyHandler, AuthSource, CountHandler, DisconnectHandler, ErrorHandler, EventHandler, Origin,
    Shared, SocketEntry, SocketHandler, SocketHandlers, SocketRef, UnitHandler,
};
use super::{BuildError, ClientBuilder, CloseTimeout, ConnectFailed, ConnectFailedKind, Connector};
use crate::args::{event_value, from_args, to_args};
use crate::namespace::lock;
use crate::{AckError, EmitError, Runtime};

/// A Socket.IO client: one connection (reconnected with backoff), several namespaces.
///
/// Cheap to clone. Build one with [`Client::builder`]; get a namespace's socket with
/// [`socket`](Self::socket).
///
/// ```no_run
/// # fn runtime() -> std::sync::Arc<dyn socketio::Runtime> { unimplemented!() }
/// # fn connector() -> std::sync::Arc<dyn socketio::client::Connector> { unimplemented!() }
/// use socketio::client::Client;
/// let client = Client::builder("http://localhost:3000").build(runtime(), connector()).unwrap();
/// let admin = client.socket("/admin");
/// client.on_reconnect(|attempts| async move { println!("back after {attempts} attempts") });
/// client.connect();
/// admin.connect();
/// ```
#[derive(Clone)]
pub struct Client(pub(crate) Arc<Shared>);

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("namespaces", &self.0.namespaces)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Options for a client of `url` (see [`ClientBuilder::new`]).
    ///
    /// ```
    /// let builder = socketio::client::Client::builder("http://localhost:3000");
    /// # let _ = builder;
    /// ```
    pub fn builder(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(url)
    }

    pub(crate) fn new(
        runtime: Arc<dyn Runtime>,
        connector: Arc<dyn Connector>,
        config: ManagerConfig,
        origin: Origin,
        auth: AuthSource,
        namespaces: Vec<String>,
        max_pending_events: usize,
    ) -> Result<Client, BuildError> {
        let manager = ClientManager::new(config).map_err(|e| BuildError::Config(e.to_string()))?;
        let shared = Shared::start(
            runtime,
            connector,
            manager,
            origin,
            auth,
            namespaces,
            max_pending_events,
        );
        let client = Client(shared);
        for nsp in client.0.namespaces.clone() {
            client.socket(&nsp);
        }
        Ok(client)
    }

    /// The socket of namespace `nsp` (created if needed, not connected: call
    /// [`ClientSocket::connect`], or [`Client::connect`] for the namespaces of the builder).
    ///
    /// ```no_run
    /// # fn client() -> socketio::client::Client { unimplemented!() }
    /// let admin = client().socket("/admin");
    /// admin.connect();
    /// ```
    pub fn socket(&self, nsp: &str) -> ClientSocket {
        let mut st = lock(&self.0.state);
        let shared = match st.entry_by_nsp(nsp) {
            Some(entry) => entry.shared.clone(),
            None => {
                let shared = Arc::new(super::driver::SocketShared {
                    nsp: nsp.to_owned(),
                    handlers: Mutex::new(SocketHandlers::default()),
                });
                st.sockets.push(SocketEntry {
                    shared: shared.clone(),
                    id: None,
                    waiters: Vec::new(),
                    last_failure: None,
                });
                shared
            }
        };
        ClientSocket {
            client: self.clone(),
            inner: shared,
        }
    }

    /// The socket of the URL's namespace (`/` unless the URL has a path).
    ///
    /// ```no_run
    /// # fn client() -> socketio::client::Client { unimplemented!() }
    /// assert_eq!(client().default_socket().ns(), "/");
    /// ```
    pub fn default_socket(&self) -> ClientSocket {
        self.socket(&self.0.namespaces[0].clone())
    }

    /// Connects the URL's namespace and those added with [`ClientBuilder::namespace`]
    /// (opening the connection if needed). Returns at once; see
    /// [`ClientSocket::wait_connected`].
    ///
    /// ```no_run
    /// # fn client() -> socketio::client::Client { unimplemented!() }
    /// client().connect();
    /// ```
    pub fn connect(&self) {
        for nsp in self.0.namespaces.clone() {
            self.socket(&nsp).connect();
        }
    }

    /// Disconnects every namespace (`io client disconnect`) and closes the connection; no
    /// reconnection follows. Pending acks fail with [`AckError::Disconnected`].
    ///
    /// ```no_run
    /// # fn client() -> socketio::client::Client { unimplemented!() }
    /// client().disconnect();
    /// ```
    pub fn disconnect(&self) {
        self.0.with_state(|st, now| st.manager.close(now));
    }

    /// [`disconnect`](Self::disconnect), then waits until it has reached the wire: every
    /// packet emitted before (events, acks, the namespaces' `DISCONNECT`) written and the
    /// Engine.IO close sent: the last polling `POST` answered, the WebSocket close frame
    /// written. Call it before a program ends, so that nothing emitted is lost.
    ///
    /// Gives up after `limit` (a server that stopped answering) with [`CloseTimeout`]; the
    /// connection is closed either way, only the last writes may not have gone out.
    ///
    /// ```no_run
    /// # async fn f(client: socketio::client::Client) {
    /// client.socket("/").emit("bye", "see you").ok();
    /// if let Err(error) = client.close(std::time::Duration::from_secs(2)).await {
    ///     eprintln!("{error}");
    /// }
    /// # }
    /// ```
    ///
    /// Like the official client's `disconnect()`, this sends each namespace's `DISCONNECT`
    /// right after what was emitted before. The official Node server handles an event one
    /// tick after reading it and drops it if that `DISCONNECT` was read in the same tick; to
    /// end a program right after an emit without an ack, use
    /// [`close_transport`](Self::close_transport), or wait for an ack.
    pub async fn close(&self, limit: Duration) -> Result<(), CloseTimeout> {
        self.close_then_flush(limit, true).await
    }

    /// Like [`close`](Self::close), but ends the Engine.IO connection without leaving the
    /// namespaces first: the server sees `transport close` (as if the network dropped), after
    /// everything emitted before has been written. Every server then handles those events,
    /// the official Node server included (see [`close`](Self::close)).
    ///
    /// ```no_run
    /// # async fn f(client: socketio::client::Client) {
    /// client.socket("/").emit("log", "job done").ok();
    /// client.close_transport(std::time::Duration::from_secs(2)).await.ok();
    /// # }
    /// ```
    pub async fn close_transport(&self, limit: Duration) -> Result<(), CloseTimeout> {
        self.close_then_flush(limit, false).await
    }

    async fn close_then_flush(&self, limit: Duration, announce: bool) -> Result<(), CloseTimeout> {
        let flushed = self.0.with_state(|st, now| {
            if announce {
                st.manager.close(now);
            } else {
                st.manager.close_transport(now);
            }
            st.wait_flushed()
        });
        let timer = self.0.runtime.sleep(limit);
        match futures_util::future::select(flushed, timer).await {
            futures_util::future::Either::Left(_) => Ok(()),
            futures_util::future::Either::Right(_) => Err(CloseTimeout(limit)),
        }
    }

    /// True while the Engine.IO connection is open.
    ///
    /// ```no_run
    /// # fn client() -> socketio::client::Client { unimplemented!() }
    /// if client().is_open() { /* connected to the server */ }
    /// ```
    pub fn is_open(&self) -> bool {
        lock(&self.0.state).manager.is_open()
    }

    /// The transport of the open connection (`polling` or `websocket`), if any.
    ///
    /// ```no_run
    /// # fn client() -> socketio::client::Client { unimplemented!() }
    /// println!("{:?}", client().transport());
    /// ```
    pub fn transport(&self) -> Option<&'static str> {
        let st = lock(&self.0.state);
        if !st.manager.is_open() {
            return None;
        }
        st.manager.engine().map(|e| e.transport().as_str())
    }

    /// Runs on every reconnection attempt, with its number (`reconnect_attempt`). With
    /// [`ClientBuilder::auth_fn`], the auth payload is recomputed just before.
    ///
    /// ```no_run
    /// # fn client() -> socketio::client::Client { unimplemented!() }
    /// client().on_reconnect_attempt(|n| async move { println!("attempt {n}") });
    /// ```
    pub fn on_reconnect_attempt<F, Fut>(&self, handler: F)
    where
        F: Fn(u32) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let erased: CountHandler = Arc::new(move |n| Box::pin(handler(n)));
        lock(&self.0.manager_handlers)
            .reconnect_attempt
            .push(erased);
    }

    /// Runs when a reconnection succeeded, with the number of attempts (`reconnect`).
    ///
    /// ```no_run
    /// # fn client() -> socketio::client::Client { unimplemented!() }
    /// client().on_reconnect(|n| async move { println!("reconnected after {n}") });
    /// ```
    pub fn on_reconnect<F, Fut>(&self, handler: F)
    where
        F: Fn(u32) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let erased: CountHandler = Arc::new(move |n| Box::pin(handler(n)));
        lock(&self.0.manager_handlers).reconnect.push(erased);
    }

    /// Runs when a reconnection attempt failed (`reconnect_error`).
    ///
    /// ```no_run
    /// # fn client() -> socketio::client::Client { unimplemented!() }
    /// client().on_reconnect_error(|| async { println!("attempt failed") });
    /// ```
    pub fn on_reconnect_error<F, Fut>(&self, handler: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let erased: UnitHandler = Arc::new(move || Box::pin(handler()));
        lock(&self.0.manager_handlers).reconnect_error.push(erased);
    }

    /// Runs when the client gives up after `reconnection_attempts` (`reconnect_failed`).
    ///
    /// ```no_run
    /// # fn client() -> socketio::client::Client { unimplemented!() }
    /// client().on_reconnect_failed(|| async { println!("giving up") });
    /// ```
    pub fn on_reconnect_failed<F, Fut>(&self, handler: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let erased: UnitHandler = Arc::new(move || Box::pin(handler()));
        lock(&self.0.manager_handlers).reconnect_failed.push(erased);
    }
}

/// One namespace of a [`Client`]: handlers, emits, acks.
///
/// Cheap to clone. Handlers *start* in the order the events arrived; one that awaits
/// continues in a task of its own.
///
/// ```no_run
/// # fn client() -> socketio::client::Client { unimplemented!() }
/// use socketio::client::{AckSender, ClientSocket};
/// let socket = client().socket("/");
/// socket.on("ping", |_s: ClientSocket, _: (), ack: Option<AckSender>| async move {
///     if let Some(ack) = ack { ack.send(&"pong").ok(); }
/// });
/// socket.connect();
/// ```
#[derive(Clone)]
pub struct ClientSocket {
    pub(crate) client: Client,
    pub(crate) inner: Arc<super::driver::SocketShared>,
}

impl std::fmt::Debug for ClientSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSocket")
            .field("nsp", &self.inner.nsp)
            .field("connected", &self.connected())
            .finish()
    }
}

impl PartialEq for ClientSocket {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl ClientSocket {
    /// The handle of the socket the driver hands to a handler.
    fn from_driver(socket: SocketRef) -> ClientSocket {
        ClientSocket {
            client: Client(socket.client),
            inner: socket.socket,
        }
    }

    /// The handle of an ack the server asked for (its id, from the driver).
    fn ack_sender(&self, ack: Option<u64>) -> Option<AckSender> {
        ack.map(|id| AckSender {
            socket: self.clone(),
            id,
        })
    }
}

impl ClientSocket {
    /// The namespace.
    ///
    /// ```no_run
    /// # fn socket() -> socketio::client::ClientSocket { unimplemented!() }
    /// assert!(socket().ns().starts_with('/'));
    /// ```
    pub fn ns(&self) -> &str {
        &self.inner.nsp
    }

    /// The socket id the server gave (`socket.id`), while connected.
    ///
    /// ```no_run
    /// # fn socket() -> socketio::client::ClientSocket { unimplemented!() }
    /// println!("{:?}", socket().id());
    /// ```
    pub fn id(&self) -> Option<String> {
        let st = lock(&self.client.0.state);
        let id = st.socket_id(&self.inner.nsp)?;
        st.manager.sid(id).map(|sid| sid.as_str().to_owned())
    }

    /// True while the socket is connected to its namespace.
    ///
    /// ```no_run
    /// # fn socket() -> socketio::client::ClientSocket { unimplemented!() }
    /// if socket().connected() { /* ... */ }
    /// ```
    pub fn connected(&self) -> bool {
        let st = lock(&self.client.0.state);
        st.socket_id(&self.inner.nsp)
            .is_some_and(|id| st.manager.is_connected(id))
    }

    /// True if the last connection recovered the previous session (connection state
    /// recovery: same id, rooms, and the missed events delivered).
    ///
    /// ```no_run
    /// # fn socket() -> socketio::client::ClientSocket { unimplemented!() }
    /// if socket().recovered() { /* nothing was lost */ }
    /// ```
    pub fn recovered(&self) -> bool {
        let st = lock(&self.client.0.state);
        st.socket_id(&self.inner.nsp)
            .is_some_and(|id| st.manager.is_recovered(id))
    }

    /// The client this socket belongs to.
    ///
    /// ```no_run
    /// # fn socket() -> socketio::client::ClientSocket { unimplemented!() }
    /// socket().client().disconnect();
    /// ```
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// Joins the namespace (sends CONNECT with the auth payload), opening the connection if
    /// needed; after [`disconnect`](Self::disconnect), joins again.
    ///
    /// ```no_run
    /// # fn socket() -> socketio::client::ClientSocket { unimplemented!() }
    /// socket().connect();
    /// ```
    pub fn connect(&self) {
        let shared = &self.client.0;
        let auth = shared.auth.get();
        let nsp = self.inner.nsp.clone();
        shared.with_state(|st, now| match st.manager.open_socket(now, &nsp, auth) {
            Ok(id) => {
                if let Some(entry) = st.entry_by_nsp(&nsp) {
                    entry.id = Some(id);
                    entry.last_failure = None;
                }
            }
            Err(error) => tracing::warn!(%error, nsp, "cannot open the namespace"),
        });
    }

    /// Leaves the namespace (`io client disconnect`); the connection closes when no
    /// namespace is left.
    ///
    /// ```no_run
    /// # fn socket() -> socketio::client::ClientSocket { unimplemented!() }
    /// socket().disconnect();
    /// ```
    pub fn disconnect(&self) {
        let nsp = self.inner.nsp.clone();
        self.client.0.with_state(|st, now| {
            if let Some(id) = st.entry_by_nsp(&nsp).and_then(|e| e.id) {
                st.manager.disconnect(now, id);
            }
        });
    }

    /// Waits until the socket is connected, or for the next `connect_error` (a refusal by
    /// the server, or the first connection attempt failing). Fails at once with
    /// [`ConnectFailedKind::NotConnecting`] when the namespace is not being joined (no
    /// [`connect`](Self::connect), or after [`disconnect`](Self::disconnect)).
    ///
    /// ```no_run
    /// # async fn f(socket: socketio::client::ClientSocket) {
    /// match socket.wait_connected().await {
    ///     Ok(()) => println!("connected as {:?}", socket.id()),
    ///     Err(error) => println!("{} {:?}", error.message, error.data),
    /// }
    /// # }
    /// ```
    pub fn wait_connected(
        &self,
    ) -> impl Future<Output = Result<(), ConnectFailed>> + Send + 'static {
        // Registered now, so that a refusal coming after this call is the one reported; a
        // namespace not being joined yet is looked at again when first polled (a caller may
        // make the waiter first, then call `connect`).
        let now = self.register_waiter();
        let socket = self.clone();
        async move {
            let registered = match now {
                Waiter::NotJoining => socket.register_waiter(),
                other => other,
            };
            match registered {
                Waiter::Connected => Ok(()),
                Waiter::NotJoining => Err(ConnectFailed {
                    message: format!("namespace {} is not being joined", socket.inner.nsp),
                    data: None,
                    kind: ConnectFailedKind::NotConnecting,
                    detail: None,
                }),
                Waiter::Waiting(rx) => rx.await.unwrap_or_else(|_| {
                    Err(ConnectFailed {
                        message: "client closed".to_owned(),
                        data: None,
                        kind: ConnectFailedKind::Closed,
                        detail: None,
                    })
                }),
            }
        }
    }

    /// [`wait_connected`](Self::wait_connected)'s registration, under the client's lock.
    fn register_waiter(&self) -> Waiter {
        let mut st = lock(&self.client.0.state);
        let id = st.socket_id(&self.inner.nsp);
        if id.is_some_and(|id| st.manager.is_connected(id)) {
            return Waiter::Connected;
        }
        let joining = id.is_some_and(|id| st.manager.is_active(id));
        let (tx, rx) = oneshot::channel();
        // (With no entry the client is gone: `tx` is dropped, the waiter ends as closed.)
        if let Some(entry) = st.entry_by_nsp(&self.inner.nsp) {
            match entry.last_failure.clone() {
                // The latest attempt was already refused: answer at once.
                Some(failure) => {
                    let _ = tx.send(Err(failure));
                }
                None if joining => entry.waiters.push(tx),
                None => return Waiter::NotJoining,
            }
        }
        Waiter::Waiting(rx)
    }

    /// Handles event `event` with typed arguments `T` (a tuple for several, `()` for none,
    /// `bytes::Bytes` for binary) and the ack callback when the server asked for one.
    /// Arguments that do not match `T` are logged and the handler is not called. With
    /// connection state recovery, the offset the server appends is ignored when `T` does not
    /// expect it.
    ///
    /// ```no_run
    /// # fn socket() -> socketio::client::ClientSocket { unimplemented!() }
    /// use socketio::client::{AckSender, ClientSocket};
    /// socket().on("add", |_s: ClientSocket, (a, b): (i64, i64), ack: Option<AckSender>| async move {
    ///     if let Some(ack) = ack { ack.send(&(a + b)).ok(); }
    /// });
    /// ```
    pub fn on<T, F, Fut>(&self, event: impl Into<String>, handler: F)
    where
        T: DeserializeOwned + Send + 'static,
        F: Fn(ClientSocket, T, Option<AckSender>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let event = event.into();
        let name = event.clone();
        let erased: EventHandler = Arc::new(move |socket, args, ack| {
            let socket = ClientSocket::from_driver(socket);
            let ack = socket.ack_sender(ack);
            let recovering = matches!(args.last(), Some(Value::String(_)));
            let mut fallback = args.clone();
            match from_args::<T>(args) {
                Ok(value) => Box::pin(handler(socket, value, ack)),
                Err(error) => {
                    if recovering {
                        fallback.pop();
                        if let Ok(value) = from_args::<T>(fallback) {
                            return Box::pin(handler(socket, value, ack));
                        }
                    }
                    tracing::warn!(event = %name, %error, "event arguments do not match the handler");
                    Box::pin(async {})
                }
            }
        });
        lock(&self.inner.handlers).events.insert(event, erased);
    }

    /// Handles every event that has no handler of its own: the name, the raw arguments and
    /// the ack callback.
    ///
    /// ```no_run
    /// # fn socket() -> socketio::client::ClientSocket { unimplemented!() }
    /// use socketio::Value;
    /// use socketio::client::{AckSender, ClientSocket};
    /// socket().on_any(|_s: ClientSocket, event: String, args: Vec<Value>, _ack: Option<AckSender>| async move {
    ///     println!("{event}: {args:?}");
    /// });
    /// ```
    pub fn on_any<F, Fut>(&self, handler: F)
    where
        F: Fn(ClientSocket, String, Vec<Value>, Option<AckSender>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let erased: AnyHandler = Arc::new(move |socket, event, args, ack| {
            let socket = ClientSocket::from_driver(socket);
            let ack = socket.ack_sender(ack);
            Box::pin(handler(socket, event, args, ack))
        });
        lock(&self.inner.handlers).any = Some(erased);
    }

    /// Runs every time the socket joins its namespace (`connect`), reconnections included.
    ///
    /// ```no_run
    /// # fn socket() -> socketio::client::ClientSocket { unimplemented!() }
    /// socket().on_connect(|s| async move { println!("connected as {:?}", s.id()) });
    /// ```
    pub fn on_connect<F, Fut>(&self, handler: F)
    where
        F: Fn(ClientSocket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let erased: SocketHandler =
            Arc::new(move |s| Box::pin(handler(ClientSocket::from_driver(s))));
        lock(&self.inner.handlers).connect.push(erased);
    }

    /// Runs on `connect_error`: the server refused the namespace
    /// ([`ConnectFailedKind::Refused`], with the message and data of its middleware; the
    /// socket is not reconnected), or a connection attempt failed
    /// ([`ConnectFailedKind::Connection`]; the client keeps trying as its reconnection options
    /// say).
    ///
    /// ```no_run
    /// # fn socket() -> socketio::client::ClientSocket { unimplemented!() }
    /// use socketio::client::ConnectFailedKind;
    /// socket().on_connect_error(|_s, error| async move {
    ///     match error.kind {
    ///         ConnectFailedKind::Refused => println!("refused: {} {:?}", error.message, error.data),
    ///         _ => println!("attempt failed: {}", error.message),
    ///     }
    /// });
    /// ```
    pub fn on_connect_error<F, Fut>(&self, handler: F)
    where
        F: Fn(ClientSocket, ConnectFailed) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let erased: ErrorHandler =
            Arc::new(move |s, e| Box::pin(handler(ClientSocket::from_driver(s), e)));
        lock(&self.inner.handlers).connect_error.push(erased);
    }

    /// Runs when the connected socket leaves its namespace, with the reason
    /// (`io server disconnect`, `io client disconnect`, `transport close`, `ping timeout`,
    /// ...). [`DisconnectReason::allows_reconnect`] tells whether the client reconnects.
    ///
    /// ```no_run
    /// # fn socket() -> socketio::client::ClientSocket { unimplemented!() }
    /// socket().on_disconnect(|_s, reason| async move { println!("disconnected: {reason}") });
    /// ```
    pub fn on_disconnect<F, Fut>(&self, handler: F)
    where
        F: Fn(ClientSocket, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let erased: DisconnectHandler =
            Arc::new(move |s, r| Box::pin(handler(ClientSocket::from_driver(s), r)));
        lock(&self.inner.handlers).disconnect.push(erased);
    }

    /// Sends event `event` (a tuple for several arguments, `()` for none). While the socket
    /// is not connected the packet waits in the send buffer (flushed on connect).
    ///
    /// ```no_run
    /// # fn socket() -> socketio::client::ClientSocket { unimplemented!() }
    /// let socket = socket();
    /// socket.emit("hello", "world").unwrap();
    /// socket.emit("pair", &(1, "two")).unwrap();
    /// socket.emit("blob", &bytes::Bytes::from_static(b"\x01\x02")).unwrap();
    /// ```
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        self.send(event, data, EmitOptions::default()).map(|_| ())
    }

    /// Volatile emits: dropped when the transport is not writable (not connected, or still
    /// writing earlier packets), never buffered or retried.
    ///
    /// ```no_run
    /// # fn socket() -> socketio::client::ClientSocket { unimplemented!() }
    /// socket().volatile().emit("position", &(10, 20)).ok();
    /// ```
    pub fn volatile(&self) -> Volatile<'_> {
        Volatile { socket: self }
    }

    /// Sends event `event` and waits for the server's acknowledgement, read as `R`; the
    /// deadline is [`AckRequest::timeout`], else the builder's `ack_timeout` (none by
    /// default).
    ///
    /// ```no_run
    /// # async fn f(socket: socketio::client::ClientSocket) {
    /// use std::time::Duration;
    /// let reply: Result<String, socketio::AckError> =
    ///     socket.emit_with_ack("question", &"6 * 7?").timeout(Duration::from_secs(5)).await;
    /// # }
    /// ```
    pub fn emit_with_ack<R, T>(&self, event: &str, data: &T) -> AckRequest<R>
    where
        R: DeserializeOwned + Send + 'static,
        T: Serialize + ?Sized,
    {
        AckRequest {
            socket: self.clone(),
            value: to_args(data).and_then(|args| event_value(event, args)),
            timeout: None,
            raw_args: false,
            _reply: PhantomData,
        }
    }

    /// Sends event `event` with an argument list known only at run time: each item is its own
    /// argument (a tuple does the same for a fixed count).
    ///
    /// ```no_run
    /// # fn socket() -> socketio::client::ClientSocket { unimplemented!() }
    /// use socketio::Value;
    /// socket().emit_args("move", vec![Value::from(1i64), Value::from("up")]).ok();
    /// ```
    pub fn emit_args(&self, event: &str, args: Vec<Value>) -> Result<(), EmitError> {
        self.send_value(event_value(event, args)?, EmitOptions::default())
            .map(|_| ())
    }

    /// Like [`emit_args`](Self::emit_args), and waits for the acknowledgement, whose arguments
    /// come back exactly as sent: `ack([1, 2])` gives `[[1, 2]]`, `ack(1, 2)` gives `[1, 2]`,
    /// `ack()` gives `[]`.
    ///
    /// ```no_run
    /// # async fn f(socket: socketio::client::ClientSocket) {
    /// let reply = socket.emit_with_ack_args("sum", vec![1i64.into(), 2i64.into()]).await;
    /// # }
    /// ```
    pub fn emit_with_ack_args(&self, event: &str, args: Vec<Value>) -> AckRequest<Vec<Value>> {
        AckRequest {
            socket: self.clone(),
            value: event_value(event, args),
            timeout: None,
            raw_args: true,
            _reply: PhantomData,
        }
    }

    fn send<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
        options: EmitOptions,
    ) -> Result<Option<socketio_protocol::socket::client::AckId>, EmitError> {
        let value = event_value(event, to_args(data)?)?;
        self.send_value(value, options)
    }

    fn send_value(
        &self,
        value: Value,
        options: EmitOptions,
    ) -> Result<Option<socketio_protocol::socket::client::AckId>, EmitError> {
        let nsp = self.inner.nsp.clone();
        self.client.0.with_state(|st, now| {
            let id = st
                .entry_by_nsp(&nsp)
                .and_then(|e| e.id)
                .ok_or(EmitError::Disconnected)?;
            st.manager
                .emit(now, id, Payload::Value(value), options)
                .map_err(map_emit_error)
        })
    }
}

fn map_emit_error(error: ManagerEmitError) -> EmitError {
    match error {
        ManagerEmitError::ReservedEvent => EmitError::ReservedName(error.to_string()),
        ManagerEmitError::InvalidEvent => EmitError::Serialize(error.to_string()),
        ManagerEmitError::SendBufferFull | ManagerEmitError::EngineBufferFull => {
            EmitError::BufferFull
        }
        _ => EmitError::Disconnected,
    }
}

/// Volatile emits of one socket (see [`ClientSocket::volatile`]).
///
/// ```no_run
/// # fn socket() -> socketio::client::ClientSocket { unimplemented!() }
/// socket().volatile().emit("tick", &1).ok();
/// ```
#[derive(Debug)]
pub struct Volatile<'a> {
    socket: &'a ClientSocket,
}

impl Volatile<'_> {
    /// Sends event `event` if the transport is writable now; otherwise drops it (`Ok`).
    ///
    /// ```no_run
    /// # fn socket() -> socketio::client::ClientSocket { unimplemented!() }
    /// socket().volatile().emit("tick", &1).ok();
    /// ```
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        self.socket
            .send(event, data, EmitOptions::volatile())
            .map(|_| ())
    }
}

/// Answers the server's acknowledgement request of one event.
///
/// ```no_run
/// # fn socket() -> socketio::client::ClientSocket { unimplemented!() }
/// use socketio::client::{AckSender, ClientSocket};
/// socket().on("ping", |_s: ClientSocket, _: (), ack: Option<AckSender>| async move {
///     if let Some(ack) = ack { ack.send(&"pong").ok(); }
/// });
/// ```
#[derive(Debug)]
pub struct AckSender {
    pub(crate) socket: ClientSocket,
    pub(crate) id: u64,
}

impl AckSender {
    /// Sends the acknowledgement (a tuple for several arguments, `()` for none).
    ///
    /// ```no_run
    /// # fn ack() -> socketio::client::AckSender { unimplemented!() }
    /// ack().send(&("ok", 1)).unwrap();
    /// ```
    pub fn send<T: Serialize + ?Sized>(self, data: &T) -> Result<(), EmitError> {
        self.send_args(to_args(data)?)
    }

    /// Sends the acknowledgement with exactly `args` as its arguments.
    ///
    /// ```no_run
    /// # fn ack() -> socketio::client::AckSender { unimplemented!() }
    /// use socketio::Value;
    /// ack().send_args(vec![Value::from("ok"), Value::from(1u64)]).unwrap();
    /// ```
    pub fn send_args(self, args: Vec<Value>) -> Result<(), EmitError> {
        let nsp = self.socket.inner.nsp.clone();
        let ack = self.id;
        self.socket.client.0.with_state(|st, now| {
            let id = st
                .entry_by_nsp(&nsp)
                .and_then(|e| e.id)
                .ok_or(EmitError::Disconnected)?;
            st.manager
                .ack(now, id, ack, Payload::Value(Value::Array(args)))
                .map_err(map_emit_error)
        })
    }
}

/// An emit waiting for the server's acknowledgement; `.await` it (after an optional
/// [`timeout`](Self::timeout)).
///
/// ```no_run
/// # async fn f(socket: socketio::client::ClientSocket) -> Result<(), socketio::AckError> {
/// let sum: i64 = socket.emit_with_ack("add", &(1, 2)).timeout(std::time::Duration::from_secs(1)).await?;
/// # Ok(()) }
/// ```
#[must_use = "an AckRequest does nothing until awaited"]
pub struct AckRequest<R> {
    socket: ClientSocket,
    value: Result<Value, EmitError>,
    timeout: Option<Duration>,
    /// Read the reply as the whole argument list (`emit_with_ack_args`), not by the
    /// one-argument-or-tuple convention.
    raw_args: bool,
    _reply: PhantomData<fn() -> R>,
}

impl<R> std::fmt::Debug for AckRequest<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AckRequest")
            .field("socket", &self.socket)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl<R> AckRequest<R> {
    /// Fails with [`AckError::Timeout`] if no answer came within `timeout` (with `retries`:
    /// per try).
    ///
    /// ```no_run
    /// # async fn f(socket: socketio::client::ClientSocket) {
    /// let r = socket.emit_with_ack::<(), _>("x", &()).timeout(std::time::Duration::from_millis(100)).await;
    /// # }
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl<R: DeserializeOwned + Send + 'static> IntoFuture for AckRequest<R> {
    type Output = Result<R, AckError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<R, AckError>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let value = self.value?;
            let options = EmitOptions {
                ack: true,
                timeout: self.timeout,
                volatile: false,
            };
            let (tx, rx) = oneshot::channel();
            let nsp = self.socket.inner.nsp.clone();
            self.socket.client.0.with_state(|st, now| {
                let id = st
                    .entry_by_nsp(&nsp)
                    .and_then(|e| e.id)
                    .ok_or(EmitError::Disconnected)?;
                let ack = st
                    .manager
                    .emit(now, id, Payload::Value(value), options)
                    .map_err(map_emit_error)?;
                if let Some(ack) = ack {
                    st.acks.insert(ack, tx);
                }
                Ok::<_, EmitError>(())
            })?;
            let args = rx.await.map_err(|_| AckError::Disconnected)??;
            if self.raw_args {
                return socketio_protocol::value::from_value(Value::Array(args))
                    .map_err(|e| AckError::Decode(e.0));
            }
            from_args(args).map_err(AckError::Decode)
        })
    }
}

/// Where [`ClientSocket::wait_connected`] stands.
enum Waiter {
    Connected,
    /// Neither connected nor being joined.
    NotJoining,
    Waiting(oneshot::Receiver<Result<(), ConnectFailed>>),
}
