//! A socket: one client connected to one namespace.

use std::borrow::Cow;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_channel::mpsc;
use futures_util::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use socketio_protocol::socket::DisconnectReason;
use socketio_protocol::{Str, Value};

use crate::args::{event_value, from_args, to_args};
use crate::hooks::EventListener;
use crate::namespace::lock;
use crate::server::{Inner, SioCell};
use crate::{AckError, BoxTask, BroadcastOperator, EmitError, Handshake};

type EventHandler = Arc<dyn Fn(Socket, Vec<Value>, Option<AckSender>) -> BoxTask + Send + Sync>;
type AnyHandler =
    Arc<dyn Fn(Socket, String, Vec<Value>, Option<AckSender>) -> BoxTask + Send + Sync>;
type DisconnectHandler = Arc<dyn Fn(Socket, DisconnectReason) -> BoxTask + Send + Sync>;

/// Something for the socket's handlers, held back until the connect handler has registered
/// them (its first poll).
pub(crate) enum Incoming {
    /// An event as it came: `[name, ...args]`, read when its handler starts.
    Event {
        data: socketio_protocol::socket::Payload,
        ack: Option<u64>,
    },
    Disconnect(DisconnectReason),
}

#[derive(Default)]
struct Handlers {
    /// By event name; a socket registers a handful, so a scan beats a hash table's memory.
    events: Vec<(Cow<'static, str>, EventHandler)>,
    any: Option<AnyHandler>,
    disconnecting: Vec<DisconnectHandler>,
    disconnect: Vec<DisconnectHandler>,
    /// Observers of every incoming event ([`Socket::on_any_incoming`]).
    incoming: Vec<EventListener>,
    /// Observers of every outgoing event ([`Socket::on_any_outgoing`]).
    outgoing: Vec<EventListener>,
}

pub(crate) struct SocketInner {
    pub(crate) id: Str,
    pub(crate) nsp: Arc<str>,
    pub(crate) handshake: Handshake,
    pub(crate) recovered: bool,
    /// The private session id, with connection state recovery on.
    pub(crate) pid: Option<Str>,
    pub(crate) server: Arc<Inner>,
    /// The connection (engine session) it lives on.
    pub(crate) conn: Arc<SioCell>,
    handlers: Mutex<Handlers>,
    pub(crate) data: Mutex<Value>,
    pub(crate) connected: AtomicBool,
    /// Whether [`Socket::on_any_outgoing`] listeners are set (read on every emit).
    watch_outgoing: AtomicBool,
    pub(crate) last_rooms: Mutex<Vec<Str>>,
    pub(crate) queue: mpsc::UnboundedSender<BoxTask>,
    /// The engine session's incoming side: each queued item counts until it starts.
    gate: Arc<crate::flow::Gate>,
}

/// One client connected to one namespace: register handlers, emit, join rooms.
///
/// Cheap to clone. Handlers registered before the connect handler's first `.await` see every
/// event. The handlers of one socket *start* in the order the events arrived (each is polled
/// once by the socket's runner); one that awaits continues in a task of its own, so a slow
/// handler does not hold back the next events.
///
/// ```no_run
/// # fn io() -> socketio::Server { unimplemented!() }
/// use socketio::{AckSender, Socket};
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Chat { room: String, text: String }
///
/// io().ns("/", |socket: Socket| async move {
///     socket.on("chat", |socket: Socket, msg: Chat, ack: Option<AckSender>| async move {
///         socket.to(msg.room.as_str()).emit("chat", &msg).ok();
///         if let Some(ack) = ack {
///             ack.send(&"delivered").ok();
///         }
///     });
///     socket.on_disconnect(|socket: Socket, reason| async move {
///         println!("{} left: {reason}", socket.id());
///     });
/// });
/// ```
#[derive(Clone)]
pub struct Socket(pub(crate) Arc<SocketInner>);

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.0.id)
            .field("nsp", &self.0.nsp)
            .finish()
    }
}

impl PartialEq for Socket {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Socket {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        id: Str,
        nsp: Arc<str>,
        handshake: Handshake,
        recovered: bool,
        pid: Option<Str>,
        data: Value,
        server: Arc<Inner>,
        conn: Arc<SioCell>,
        queue: mpsc::UnboundedSender<BoxTask>,
        gate: Arc<crate::flow::Gate>,
    ) -> Socket {
        Socket(Arc::new(SocketInner {
            queue,
            gate,
            pid,
            id,
            nsp,
            handshake,
            conn,
            recovered,
            server,
            handlers: Mutex::new(Handlers::default()),
            data: Mutex::new(data),
            connected: AtomicBool::new(true),
            watch_outgoing: AtomicBool::new(false),
            last_rooms: Mutex::new(Vec::new()),
        }))
    }

    /// The socket id (`socket.id`).
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// println!("{}", socket().id());
    /// ```
    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// The namespace name.
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// assert!(socket().ns().starts_with('/'));
    /// ```
    pub fn ns(&self) -> &str {
        &self.0.nsp
    }

    /// What the client presented when it connected (headers, query, auth, address, time).
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// let token: Option<String> = socket().handshake().auth_field("token");
    /// ```
    pub fn handshake(&self) -> &Handshake {
        &self.0.handshake
    }

    /// True if connection state recovery restored this socket (same id, rooms and data; the
    /// missed events were sent before the connect reply).
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// if !socket().recovered() { /* a fresh session */ }
    /// ```
    pub fn recovered(&self) -> bool {
        self.0.recovered
    }

    /// True until the socket leaves its namespace.
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// assert!(socket().connected());
    /// ```
    pub fn connected(&self) -> bool {
        self.0.connected.load(Ordering::Acquire)
    }

    /// The server this socket belongs to.
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// socket().server().emit("someone-connected", &()).ok();
    /// ```
    pub fn server(&self) -> crate::Server {
        crate::Server(self.0.server.clone())
    }

    /// The id of the Engine.IO connection this socket lives on (the reference's
    /// `socket.conn.id`), shared by the sockets of one client in several namespaces.
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// println!("client {}", socket().client_id());
    /// ```
    pub fn client_id(&self) -> &str {
        &self.0.conn.sid
    }

    /// The transport its connection uses now (`Polling` until an upgrade to `WebSocket`).
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// println!("{:?}", socket().transport());
    /// ```
    pub fn transport(&self) -> crate::TransportKind {
        self.0
            .conn
            .with_state(|st| st.session.session().transport())
    }

    /// Observes every event this socket receives, before its handler (or
    /// [`on_any`](Self::on_any)) runs: the name and the arguments (an ack request is not
    /// among them), as the reference's `socket.onAny`. Unlike `on_any` it handles nothing and
    /// several can be set. It runs synchronously in the socket's runner, outside every lock:
    /// keep it short.
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// socket().on_any_incoming(|socket, event, args| {
    ///     println!("{} got {event} with {} arguments", socket.id(), args.len());
    /// });
    /// ```
    pub fn on_any_incoming<F>(&self, listener: F)
    where
        F: Fn(&Socket, &str, &[Value]) + Send + Sync + 'static,
    {
        lock(&self.0.handlers).incoming.push(Arc::new(listener));
    }

    /// Observes every event sent to this socket with [`emit`](Self::emit),
    /// [`emit_args`](Self::emit_args) or [`emit_with_ack`](Self::emit_with_ack) (not
    /// broadcasts), as the reference's `socket.onAnyOutgoing`: the name and the arguments.
    /// It runs synchronously in the caller of the emit, outside every lock: keep it short.
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// socket().on_any_outgoing(|socket, event, _args| println!("{} ← {event}", socket.id()));
    /// ```
    pub fn on_any_outgoing<F>(&self, listener: F)
    where
        F: Fn(&Socket, &str, &[Value]) + Send + Sync + 'static,
    {
        lock(&self.0.handlers).outgoing.push(Arc::new(listener));
        self.0.watch_outgoing.store(true, Ordering::Release);
    }

    /// Tells the outgoing listeners of `value` (`[event, ...args]`).
    fn notify_outgoing(&self, value: &Value) {
        if !self.0.watch_outgoing.load(Ordering::Acquire) {
            return;
        }
        let Value::Array(items) = value else { return };
        let Some((Value::String(event), args)) = items.split_first() else {
            return;
        };
        let listeners = lock(&self.0.handlers).outgoing.clone();
        for listener in listeners {
            listener(self, event, args);
        }
    }

    /// Handles event `event` with typed arguments `T` (a tuple for several, `()` for none;
    /// `bytes::Bytes` for binary) and the ack callback when the client asked for one.
    /// Arguments that do not match `T` are logged and the handler is not called.
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// use socketio::{AckSender, Socket};
    /// socket().on("add", |_s: Socket, (a, b): (i64, i64), ack: Option<AckSender>| async move {
    ///     if let Some(ack) = ack { ack.send(&(a + b)).ok(); }
    /// });
    /// ```
    ///
    /// The name is a `&'static str` (kept without a copy: a server registers the same handlers
    /// on every socket) or a `String`.
    pub fn on<T, F, Fut>(&self, event: impl Into<Cow<'static, str>>, handler: F)
    where
        T: DeserializeOwned + Send + 'static,
        F: Fn(Socket, T, Option<AckSender>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let event = event.into();
        let name = event.clone();
        let erased: EventHandler = Arc::new(move |socket, args, ack| match from_args::<T>(args) {
            Ok(value) => Box::pin(handler(socket, value, ack)),
            Err(error) => {
                tracing::warn!(event = %name, %error, "event arguments do not match the handler");
                Box::pin(async {})
            }
        });
        let mut handlers = lock(&self.0.handlers);
        match handlers
            .events
            .iter_mut()
            .find(|(name, _)| **name == *event)
        {
            Some((_, slot)) => *slot = erased,
            None => handlers.events.push((event, erased)),
        }
    }

    /// Handles every event that has no handler of its own: the name, the raw arguments and
    /// the ack callback.
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// use socketio::{AckSender, Socket, Value};
    /// socket().on_any(|_s: Socket, event: String, args: Vec<Value>, _ack: Option<AckSender>| async move {
    ///     println!("{event}: {args:?}");
    /// });
    /// ```
    pub fn on_any<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket, String, Vec<Value>, Option<AckSender>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let erased: AnyHandler =
            Arc::new(move |socket, event, args, ack| Box::pin(handler(socket, event, args, ack)));
        lock(&self.0.handlers).any = Some(erased);
    }

    /// Runs when the socket is about to leave (its rooms are still readable with
    /// [`rooms`](Self::rooms)), with the reason.
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// use socketio::Socket;
    /// socket().on_disconnecting(|socket: Socket, reason| async move {
    ///     println!("{} leaves {:?}: {reason}", socket.id(), socket.rooms());
    /// });
    /// ```
    pub fn on_disconnecting<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let erased: DisconnectHandler = Arc::new(move |s, r| Box::pin(handler(s, r)));
        lock(&self.0.handlers).disconnecting.push(erased);
    }

    /// Runs when the socket has left, with the reason (`transport close`, `ping timeout`,
    /// `client namespace disconnect`, `server shutting down`, ...).
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// use socketio::Socket;
    /// socket().on_disconnect(|socket: Socket, reason| async move {
    ///     println!("{} left: {reason}", socket.id());
    /// });
    /// ```
    pub fn on_disconnect<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let erased: DisconnectHandler = Arc::new(move |s, r| Box::pin(handler(s, r)));
        lock(&self.0.handlers).disconnect.push(erased);
    }

    /// Sends event `event` to this client (a tuple for several arguments, `()` for none).
    ///
    /// Never waits: the frames are queued (see the crate docs on bounded queues).
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// let socket = socket();
    /// socket.emit("hello", "world").unwrap();
    /// socket.emit("pair", &(1, "two")).unwrap();
    /// socket.emit("blob", &bytes::Bytes::from_static(b"\x01\x02")).unwrap();
    /// ```
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        let value = event_value(event, to_args(data)?)?;
        self.notify_outgoing(&value);
        self.0.server.emit_to_socket(self, value)
    }

    /// Sends event `event` with a dynamic argument list: each item of `args` is one argument
    /// (where [`emit`](Self::emit) would send a `Vec` as a single array argument). An empty
    /// list sends the event without arguments.
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// use socketio::Value;
    /// let args = vec![Value::from(1i64), Value::from("two")];
    /// socket().emit_args("pair", args).unwrap(); // 42["pair",1,"two"]
    /// ```
    pub fn emit_args(&self, event: &str, args: Vec<Value>) -> Result<(), EmitError> {
        let value = event_value(event, args)?;
        self.notify_outgoing(&value);
        self.0.server.emit_to_socket(self, value)
    }

    /// Sends event `event` and waits for the client's acknowledgement, read as `R`; set a
    /// deadline with [`AckRequest::timeout`] (none by default).
    ///
    /// ```no_run
    /// # async fn f(socket: socketio::Socket) {
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
            _reply: PhantomData,
        }
    }

    /// Joins `rooms` (one room or several: see [`Rooms`](crate::Rooms); a room is created on
    /// first join).
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// socket().join("lobby");
    /// ```
    pub fn join(&self, rooms: impl crate::Rooms) {
        self.0
            .server
            .join(self, crate::room_names::room_list(rooms));
    }

    /// Leaves `rooms` (one room or several: see [`Rooms`](crate::Rooms)).
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// socket().leave("lobby");
    /// ```
    pub fn leave(&self, rooms: impl crate::Rooms) {
        let adapter = self.0.server.adapter(&self.0.nsp);
        rooms.each_room(&mut |room| adapter.del(&self.0.id, &room));
    }

    /// The rooms of the socket, its own id room included (after it left: the rooms it was in).
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// let socket = socket();
    /// assert!(socket.rooms().iter().any(|room| room == socket.id()));
    /// ```
    pub fn rooms(&self) -> Vec<String> {
        if !self.connected() {
            return lock(&self.0.last_rooms)
                .iter()
                .map(|r| r.to_string())
                .collect();
        }
        self.0
            .server
            .adapter(&self.0.nsp)
            .socket_rooms(&self.0.id)
            .iter()
            .map(|room| room.to_string())
            .collect()
    }

    /// An operator targeting the sockets in `room` (this socket included if it is a member).
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// socket().to("lobby").emit("news", "hi").ok();
    /// ```
    pub fn to(&self, rooms: impl crate::Rooms) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// An operator targeting every socket of the namespace but those in `room` and this one.
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// socket().except("muted").emit("news", "hi").ok();
    /// ```
    pub fn except(&self, rooms: impl crate::Rooms) -> BroadcastOperator {
        self.broadcast().except(rooms)
    }

    /// An operator targeting every other socket of the namespace (`socket.broadcast`).
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// socket().broadcast().emit("joined", "someone").ok();
    /// ```
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.0.server.clone(), self.0.nsp.clone())
            .except_socket(self.0.id.clone())
    }

    /// An operator emitting to this socket only, dropped rather than queued when the client is
    /// not keeping up (`socket.volatile`).
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// socket().volatile().emit("position", &(1.5, 2.0)).ok();
    /// ```
    pub fn volatile(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.0.server.clone(), self.0.nsp.clone())
            .to(self.0.id.to_string())
            .volatile()
    }

    /// Leaves the namespace (`server namespace disconnect`); with `close`, closes the whole
    /// connection (every namespace, `forced server close`).
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// socket().disconnect(false);
    /// ```
    pub fn disconnect(&self, close: bool) {
        self.0.server.disconnect_socket(self, close);
    }

    /// Closes the underlying Engine.IO connection (the reference's `socket.conn.close()`)
    /// without sending a Socket.IO DISCONNECT: every socket of this client, in every
    /// namespace, leaves with `forced close`, and the client sees `transport close` and
    /// reconnects by itself (unlike [`disconnect`](Self::disconnect), after which the
    /// official client stays disconnected). `forced close` is recoverable: with connection
    /// state recovery on, the session is kept for the recovery window.
    ///
    /// Over WebSocket the connection closes at once. Over polling with no GET pending, the
    /// close packet waits for the client's next GET (at most the polling close timeout,
    /// 30 s), and the sockets leave then.
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// socket().close_transport();
    /// ```
    pub fn close_transport(&self) {
        self.0.server.close_transport(&self.0.conn);
    }

    /// The per-socket data (`socket.data`), read as `T` (`None` if unset or of another type).
    /// It is kept across a recovered reconnection and visible through `fetch_sockets`.
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// let socket = socket();
    /// socket.set_data(&"alice");
    /// assert_eq!(socket.data::<String>().as_deref(), Some("alice"));
    /// ```
    pub fn data<T: DeserializeOwned>(&self) -> Option<T> {
        let data = lock(&self.0.data);
        if *data == Value::Null {
            return None;
        }
        data.deserialize_ref().ok()
    }

    /// Replaces the per-socket data; a value that cannot be serialized is refused.
    ///
    /// ```no_run
    /// # fn socket() -> socketio::Socket { unimplemented!() }
    /// socket().set_data(&serde_json::json!({"name": "alice"})).unwrap();
    /// ```
    pub fn set_data<T: Serialize + ?Sized>(&self, data: &T) -> Result<(), EmitError> {
        let value =
            socketio_protocol::value::to_value(data).map_err(|e| EmitError::Serialize(e.0))?;
        *lock(&self.0.data) = value;
        Ok(())
    }

    // --- driver side -----------------------------------------------------------------------

    pub(crate) fn data_value(&self) -> Value {
        lock(&self.0.data).clone()
    }

    /// Queues an incoming event or the disconnect for the socket's runner (see
    /// [`runner`](Self::runner)).
    pub(crate) fn incoming(&self, incoming: Incoming) {
        let task = self.task_for(incoming);
        if self.0.queue.unbounded_send(task).is_ok() {
            self.0.gate.queued();
        }
    }

    /// The task of one incoming item; the handler is looked up when it starts, so handlers
    /// registered by the connect handler before its first `.await` are found.
    fn task_for(&self, incoming: Incoming) -> BoxTask {
        let socket = self.clone();
        match incoming {
            Incoming::Event { data, ack } => Box::pin(async move {
                let Some((event, args)) = data.event_parts() else {
                    return;
                };
                socket.0.server.probe.event_in(&event);
                drop(data);
                let ack = ack.map(|id| AckSender {
                    socket: socket.clone(),
                    id,
                });
                let (handler, any, observers) = {
                    let handlers = lock(&socket.0.handlers);
                    (
                        handlers
                            .events
                            .iter()
                            .find(|(name, _)| **name == *event)
                            .map(|(_, handler)| handler.clone()),
                        handlers.any.clone(),
                        (!handlers.incoming.is_empty()).then(|| handlers.incoming.clone()),
                    )
                };
                for observer in observers.into_iter().flatten() {
                    observer(&socket, &event, &args);
                }
                if let Some(handler) = handler {
                    handler(socket, args, ack).await
                } else if let Some(handler) = any {
                    handler(socket, event, args, ack).await
                } else {
                    tracing::debug!(%event, "no handler for event");
                }
            }),
            Incoming::Disconnect(reason) => Box::pin(async move {
                let all: Vec<DisconnectHandler> = {
                    let handlers = lock(&socket.0.handlers);
                    handlers
                        .disconnecting
                        .iter()
                        .chain(handlers.disconnect.iter())
                        .cloned()
                        .collect()
                };
                for handler in all {
                    handler(socket.clone(), reason).await;
                }
                // Break the cycles (handlers may hold clones of the socket).
                let mut handlers = lock(&socket.0.handlers);
                handlers.events = Vec::new();
                handlers.any = None;
                handlers.disconnecting.clear();
                handlers.disconnect.clear();
                handlers.incoming = Vec::new();
                handlers.outgoing = Vec::new();
            }),
        }
    }

    /// The socket's runner: starts the connect handler, then every incoming item, one at a
    /// time and in arrival order. Each is polled once here (so handlers *start* in order, as
    /// in the reference where they are called synchronously) and, if it has not finished,
    /// continues in a task of its own. Ends after the disconnect item.
    ///
    /// The handler itself is called inside the task, never where the runner is made: that is
    /// under the server's lock, and the handler's synchronous part may call any API.
    pub(crate) fn runner(
        &self,
        handler: crate::namespace::ConnectHandler,
        rooms: Vec<Str>,
        mut queue: mpsc::UnboundedReceiver<BoxTask>,
        catch_up: Option<Str>,
    ) -> BoxTask {
        let socket = self.clone();
        let server = self.0.server.clone();
        let conn = self.0.conn.clone();
        let gate = self.0.gate.clone();
        Box::pin(async move {
            // Its own room (and a recovered session's rooms) first: the adapter is called
            // outside the server's lock, before the client can see its CONNECT.
            let adapter = server.adapter(&socket.0.nsp);
            adapter.add_all(&socket.0.id, &rooms);
            // The server-wide observers see it in its rooms, before its connect handler.
            server.hooks.socket_connected(&socket);
            if let Some(after) = catch_up {
                // A restored socket, back in its rooms: what was broadcast while it was
                // being restored (its live events wait meanwhile).
                let (restored, server) = (socket.clone(), server.clone());
                let sid = socket.0.id.clone();
                let rooms = rooms.clone();
                server.clone().spawn(Box::pin(async move {
                    let missed = adapter.missed_since(sid, rooms, after).await;
                    server.finish_catch_up(&restored, missed);
                }));
            }
            // Not kept for the socket's life.
            drop(rooms);
            let mut connect = handler(socket);
            // The handler's synchronous part (joins, handlers, first emits) runs before the
            // client sees its CONNECT.
            let pending = futures_util::poll!(connect.as_mut()).is_pending();
            server.release_held(&conn);
            if pending {
                server.spawn(connect);
            }
            while let Some(mut task) = queue.next().await {
                let pending = futures_util::poll!(task.as_mut()).is_pending();
                gate.started();
                if pending {
                    server.spawn(task);
                }
            }
        })
    }
}

/// Answers the client's acknowledgement request of one event.
///
/// ```no_run
/// # fn socket() -> socketio::Socket { unimplemented!() }
/// use socketio::{AckSender, Socket};
/// socket().on("ping", |_s: Socket, _: (), ack: Option<AckSender>| async move {
///     if let Some(ack) = ack { ack.send(&"pong").ok(); }
/// });
/// ```
#[derive(Debug)]
pub struct AckSender {
    socket: Socket,
    id: u64,
}

impl AckSender {
    /// Sends the acknowledgement (a tuple for several arguments, `()` for none).
    ///
    /// ```no_run
    /// # fn ack() -> socketio::AckSender { unimplemented!() }
    /// ack().send(&("ok", 1)).unwrap();
    /// ```
    pub fn send<T: Serialize + ?Sized>(self, data: &T) -> Result<(), EmitError> {
        let args = to_args(data)?;
        let inner = &self.socket.0;
        inner.server.ack(&self.socket, self.id, Value::Array(args))
    }

    /// Sends the acknowledgement with a dynamic argument list: each item of `args` is one
    /// argument (where [`send`](Self::send) would send a `Vec` as a single array argument).
    ///
    /// ```no_run
    /// # fn ack() -> socketio::AckSender { unimplemented!() }
    /// use socketio::Value;
    /// ack().send_args(vec![Value::from("ok"), Value::from(1i64)]).unwrap(); // 43<id>["ok",1]
    /// ```
    pub fn send_args(self, args: Vec<Value>) -> Result<(), EmitError> {
        let inner = &self.socket.0;
        inner.server.ack(&self.socket, self.id, Value::Array(args))
    }
}

/// An emit waiting for the client's acknowledgement; `.await` it (after an optional
/// [`timeout`](Self::timeout)).
///
/// ```no_run
/// # async fn f(socket: socketio::Socket) -> Result<(), socketio::AckError> {
/// let sum: i64 = socket.emit_with_ack("add", &(1, 2)).timeout(std::time::Duration::from_secs(1)).await?;
/// # Ok(()) }
/// ```
#[must_use = "an AckRequest does nothing until awaited"]
pub struct AckRequest<R> {
    socket: Socket,
    value: Result<Value, EmitError>,
    timeout: Option<Duration>,
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
    /// Fails with [`AckError::Timeout`] if no answer came within `timeout`.
    ///
    /// ```no_run
    /// # async fn f(socket: socketio::Socket) {
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
            self.socket.notify_outgoing(&value);
            let inner = &self.socket.0;
            let server = &inner.server;
            let started = server.probe.enabled().then(|| server.runtime.now());
            let receiver = server.emit_with_ack_to_socket(&self.socket, value, self.timeout)?;
            let data = receiver.await.map_err(|_| AckError::Disconnected)??;
            if let Some(started) = started {
                let took = server.runtime.now().saturating_duration_since(started);
                server.probe.ack_latency(crate::probe::AckKind::Emit, took);
            }
            let args = data
                .ack_args()
                .map_err(|error| AckError::Decode(error.to_string()))?;
            from_args(args).map_err(AckError::Decode)
        })
    }
}
