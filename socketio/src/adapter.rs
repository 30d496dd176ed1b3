//! The adapter seam: where a namespace's rooms live and how its broadcasts and requests reach
//! every server node.
//!
//! Shaped after socket.io-adapter 2.5's interface: membership (`add_all`, `del`, `del_all`,
//! `socket_rooms`), `broadcast` and `broadcast_with_ack`, and the operations a cluster answers
//! remotely (`fetch_sockets`, `add_sockets`, `del_sockets`, `disconnect_sockets`,
//! `server_side_emit`, `server_count`), which are async.
//!
//! Each namespace gets its own adapter from the server's [`AdapterFactory`]
//! ([`ServerBuilder::adapter`](crate::ServerBuilder::adapter)), made with a [`LocalNamespace`]:
//! this node's side of the namespace, through which an adapter delivers to local sockets
//! (a broadcast encoded once, queued for each recipient), answers requests about them, and
//! hands server-side events to the application. [`InMemoryAdapter`] is the default: a
//! single-node adapter, and the local part a cluster adapter builds on (it holds the room
//! index; a Redis adapter publishes, then delegates to it). Nothing private is needed to write
//! one.
//!
//! Contract: the server calls an adapter without holding any lock of its own, and an adapter
//! may call back into the server and the [`LocalNamespace`] from anywhere.
//!
//! ```
//! use std::sync::Arc;
//! use socketio::adapter::{Adapter, InMemoryAdapter, LocalNamespace};
//!
//! // A factory that wraps the in-memory adapter (a cluster adapter would publish too).
//! let factory = |local: LocalNamespace| InMemoryAdapter::new(local) as Arc<dyn Adapter>;
//! let builder = socketio::Server::builder().adapter(factory);
//! # let _ = builder;
//! ```

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use serde::de::DeserializeOwned;
use socketio_protocol::recovery::RecoveryStore;
pub use socketio_protocol::recovery::{Restored, SessionRecord};
pub use socketio_protocol::rooms::BroadcastOptions;
use socketio_protocol::rooms::RoomIndex;
pub use socketio_protocol::socket::DisconnectReason;
use socketio_protocol::socket::{Packet, Payload};
use socketio_protocol::{Instant, Str, Value};

use crate::namespace::lock;
use crate::server::Inner;
use crate::{EmitError, Socket};

/// A boxed future, as adapter methods return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Makes a namespace's adapter.
pub type AdapterFactory = Arc<dyn Fn(LocalNamespace) -> Arc<dyn Adapter> + Send + Sync>;

/// An adapter's failure (a cluster node unreachable, a request that timed out, ...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("adapter: {0}")]
pub struct AdapterError(pub String);

/// A broadcast: the event (`[name, ...args]`) and its selection and flags.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BroadcastMessage {
    /// `[event, ...args]`.
    pub data: Value,
    /// Rooms, excepted rooms and sockets.
    pub opts: BroadcastOptions,
    /// Dropped for a recipient whose queue is not empty.
    pub volatile: bool,
    /// This node only (`io.local()`): a cluster adapter must not publish it.
    pub local: bool,
}

impl BroadcastMessage {
    /// A broadcast of `data` (`[event, ...args]`) to the sockets `opts` selects.
    pub fn new(data: Value, opts: BroadcastOptions) -> Self {
        BroadcastMessage {
            data,
            opts,
            volatile: false,
            local: false,
        }
    }

    /// The same broadcast with the `volatile` flag.
    pub fn volatile(mut self, volatile: bool) -> Self {
        self.volatile = volatile;
        self
    }

    /// The same broadcast with the `local` flag.
    pub fn local(mut self, local: bool) -> Self {
        self.local = local;
        self
    }
}

/// The answers of a broadcast with acks: complete, or what came before the timeout.
#[derive(Debug, Clone, PartialEq)]
pub struct BroadcastAcks {
    /// Each client's answer (its arguments).
    pub responses: Vec<Vec<Value>>,
    /// Every counted client answered in time.
    pub complete: bool,
}

/// A namespace's adapter. See the [module docs](self).
pub trait Adapter: Send + Sync + 'static {
    /// Socket `sid` (of this node) joins `rooms`.
    fn add_all(&self, sid: &Str, rooms: &[Str]);
    /// Socket `sid` leaves `room`.
    fn del(&self, sid: &Str, room: &Str);
    /// Socket `sid` leaves every room (it disconnected); returns the rooms it was in.
    fn del_all(&self, sid: &Str) -> Vec<Str>;
    /// The rooms of this node's socket `sid`.
    fn socket_rooms(&self, sid: &Str) -> Vec<Str>;
    /// This node's sockets that `opts` selects (each once).
    fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<Str>;

    /// Sends `message` to every selected socket of the cluster (this node's through
    /// [`LocalNamespace::deliver`]); returns how many local sockets it was queued for.
    fn broadcast(&self, message: BroadcastMessage) -> usize;
    /// [`broadcast`](Self::broadcast) with an ack request: resolves with every client's
    /// answer once all counted clients answered, or with what came within `timeout`.
    fn broadcast_with_ack(
        &self,
        message: BroadcastMessage,
        timeout: Duration,
    ) -> BoxFuture<BroadcastAcks>;

    /// The sockets `opts` selects on every node.
    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<Result<Vec<RemoteSocket>, AdapterError>>;
    /// Makes the selected sockets of every node join `rooms`.
    fn add_sockets(&self, opts: BroadcastOptions, rooms: Vec<Str>);
    /// Makes the selected sockets of every node leave `rooms`.
    fn del_sockets(&self, opts: BroadcastOptions, rooms: Vec<Str>);
    /// Disconnects the selected sockets of every node (`close`: their whole connections).
    fn disconnect_sockets(&self, opts: BroadcastOptions, close: bool);
    /// Sends a server-side event (`[event, ...args]`) to every *other* node; resolves with
    /// their acks (empty on a single node).
    fn server_side_emit(&self, data: Value) -> BoxFuture<Result<Vec<Value>, AdapterError>>;
    /// How many server nodes the cluster has (1 on a single node).
    fn server_count(&self) -> BoxFuture<Result<usize, AdapterError>>;

    /// Connection state recovery: keeps the session of a socket that left for a recoverable
    /// `reason`, for the recovery window. The broadcasts it may miss meanwhile are the
    /// adapter's to store, with their offsets (appended to their arguments in `broadcast`).
    /// By default nothing is kept.
    fn persist_session(&self, session: SessionRecord, reason: DisconnectReason) {
        let _ = (session, reason);
    }

    /// Connection state recovery: the session `pid` with the packets it missed after
    /// `offset` (the last offset its client saw), if it can be restored; the session is
    /// consumed. By default there is none.
    fn restore_session(&self, pid: Str, offset: Str) -> BoxFuture<Option<Restored>> {
        let _ = (pid, offset);
        Box::pin(async { None })
    }

    /// Resolves once what this adapter was handed so far has reached its store (e.g. the
    /// sessions given to [`Adapter::persist_session`], written to Redis), or it gave up on it.
    /// [`Server::drain`](crate::Server::drain) waits for it before closing its clients'
    /// transports, so that another node can restore their sessions as soon as they come back.
    /// By default (nothing is written elsewhere) it is ready at once.
    fn flush(&self) -> BoxFuture<()> {
        Box::pin(async {})
    }

    /// Connection state recovery, second step: once a restored socket `sid` is back in its
    /// `rooms`, the packets stored for it after `offset` (the last one its restore gave),
    /// oldest first: those broadcast while it was being restored, which neither the restore
    /// nor a live delivery brought it. The server sends them before what was delivered live
    /// meanwhile, and skips live deliveries with an offset already given, so the client gets
    /// each event once and in order. By default there are none.
    fn missed_since(&self, sid: Str, rooms: Vec<Str>, offset: Str) -> BoxFuture<Vec<Packet>> {
        let _ = (sid, rooms, offset);
        Box::pin(async { Vec::new() })
    }

    /// How many rooms this node's part of the namespace has, each socket's own room included
    /// (read by the metrics' `socketio_rooms` gauge when scraped); `None` (the default) if the
    /// adapter does not count them.
    fn local_room_count(&self) -> Option<usize> {
        None
    }
}

/// Where an adapter reports its own events to the server's metrics (feature `metrics`), from
/// [`LocalNamespace::metrics`]. Without the feature, or for a server without metrics, its
/// reports do nothing.
///
/// ```
/// # fn local() -> socketio::adapter::LocalNamespace { unimplemented!() }
/// # fn f() {
/// let metrics = local().metrics();
/// metrics.reconnected("subscriber");
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct AdapterMetrics(crate::probe::Probe);

impl AdapterMetrics {
    /// One of the adapter's connections (`link`, a name from a fixed set the adapter chooses,
    /// such as `"publisher"`) came back after a failure: `socketio_adapter_reconnects_total`.
    ///
    /// ```
    /// socketio::adapter::AdapterMetrics::default().reconnected("publisher");
    /// ```
    pub fn reconnected(&self, link: &'static str) {
        self.0.adapter_reconnect(link);
    }
}

/// This node's side of a namespace, as its adapter sees it. Cheap to clone.
#[derive(Clone)]
pub struct LocalNamespace {
    server: Weak<Inner>,
    nsp: Arc<str>,
    hooks: Arc<crate::hooks::Hooks>,
}

impl std::fmt::Debug for LocalNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalNamespace")
            .field("nsp", &self.nsp)
            .finish()
    }
}

impl LocalNamespace {
    pub(crate) fn new(server: Weak<Inner>, nsp: Arc<str>, hooks: Arc<crate::hooks::Hooks>) -> Self {
        LocalNamespace { server, nsp, hooks }
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.nsp
    }

    /// Whether the server has room listeners
    /// ([`Server::on_room_change`](crate::Server::on_room_change)): an adapter may skip
    /// collecting membership changes when not.
    pub fn watches_rooms(&self) -> bool {
        self.hooks.rooms.is_set()
    }

    /// Reports that this node's socket `sid` joined `room` (it was not in it) to the server's
    /// room listeners. An adapter calls it after releasing its own locks (the listeners are
    /// user code); [`InMemoryAdapter`] does.
    pub fn room_joined(&self, sid: &str, room: &str) {
        self.room_change(sid, room, true);
    }

    /// Reports that this node's socket `sid` left `room` (see [`room_joined`](Self::room_joined)).
    pub fn room_left(&self, sid: &str, room: &str) {
        self.room_change(sid, room, false);
    }

    fn room_change(&self, sid: &str, room: &str, joined: bool) {
        if self.hooks.rooms.is_set() {
            self.hooks.room_change(&crate::hooks::RoomChange {
                nsp: self.nsp.to_string(),
                room: room.to_owned(),
                sid: sid.to_owned(),
                joined,
            });
        }
    }

    /// Queues `message` for each of this node's sockets in `sids` (unknown ids are skipped),
    /// encoded once; stores it for connection state recovery when that is on. Returns how
    /// many sockets it was queued for.
    pub fn deliver(&self, message: &BroadcastMessage, sids: &[Str]) -> usize {
        match self.server.upgrade() {
            Some(server) => server.deliver(&self.nsp, message, sids),
            None => 0,
        }
    }

    /// [`deliver`](Self::deliver) with an ack request: resolves with the answers of the
    /// sockets it was queued for, or with what came within `timeout`. The count of clients
    /// it was queued for is known at once: it is the first item.
    pub fn deliver_with_ack(
        &self,
        message: &BroadcastMessage,
        sids: &[Str],
        timeout: Duration,
    ) -> (usize, BoxFuture<BroadcastAcks>) {
        match self.server.upgrade() {
            Some(server) => server.deliver_with_ack(&self.nsp, message, sids, timeout),
            None => (
                0,
                Box::pin(async {
                    BroadcastAcks {
                        responses: Vec::new(),
                        complete: true,
                    }
                }),
            ),
        }
    }

    /// The server's clock (for a recovery store's windows).
    pub fn now(&self) -> Instant {
        match self.server.upgrade() {
            Some(server) => server.clock(),
            None => Instant::from_millis(0),
        }
    }

    /// The server's connection state recovery settings, if it is on.
    pub fn recovery(&self) -> Option<crate::RecoveryConfig> {
        self.server.upgrade()?.config.recovery.clone()
    }

    /// This node's connected sockets among `sids`.
    pub fn sockets(&self, sids: &[Str]) -> Vec<Socket> {
        match self.server.upgrade() {
            Some(server) => server.local_sockets(&self.nsp, sids),
            None => Vec::new(),
        }
    }

    /// Where the adapter reports to the server's metrics (see [`AdapterMetrics`]).
    ///
    /// ```
    /// # fn local() -> socketio::adapter::LocalNamespace { unimplemented!() }
    /// # fn f() {
    /// local().metrics().reconnected("publisher");
    /// # }
    /// ```
    pub fn metrics(&self) -> AdapterMetrics {
        AdapterMetrics(
            self.server
                .upgrade()
                .map(|server| server.probe.clone())
                .unwrap_or_default(),
        )
    }

    /// A server-side event from another node: runs the handlers registered with
    /// [`Server::on_server_side_emit`](crate::Server::on_server_side_emit) (in tasks).
    pub fn server_side_event(&self, data: Value) {
        if let Some(server) = self.server.upgrade() {
            server.server_side_event(&self.nsp, data);
        }
    }
}

/// A socket found by [`fetch_sockets`](crate::BroadcastOperator::fetch_sockets), on this
/// node or another one. Its operations go through the adapter, so they reach it wherever it
/// is.
#[derive(Clone)]
pub struct RemoteSocket {
    id: Str,
    rooms: Vec<Str>,
    data: Value,
    handshake: crate::RemoteHandshake,
    local: Option<Socket>,
    adapter: Arc<dyn Adapter>,
}

impl std::fmt::Debug for RemoteSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSocket")
            .field("id", &self.id)
            .field("rooms", &self.rooms)
            .field("local", &self.local.is_some())
            .finish_non_exhaustive()
    }
}

impl RemoteSocket {
    /// A socket of another node, as its adapter learnt it (id, rooms, per-socket data);
    /// `adapter` is the namespace's adapter, through which its operations go.
    pub fn new(id: Str, rooms: Vec<Str>, data: Value, adapter: Arc<dyn Adapter>) -> Self {
        RemoteSocket {
            id,
            rooms,
            data,
            handshake: crate::RemoteHandshake::default(),
            local: None,
            adapter,
        }
    }

    /// The same socket with its handshake, as the node holding it reported it.
    pub fn with_handshake(mut self, handshake: crate::RemoteHandshake) -> Self {
        self.handshake = handshake;
        self
    }

    /// One of this node's sockets.
    pub fn from_local(socket: Socket, adapter: Arc<dyn Adapter>) -> Self {
        RemoteSocket {
            id: Str::from(socket.id().to_owned()),
            rooms: socket.rooms().into_iter().map(Str::from).collect(),
            data: socket.data_value(),
            handshake: crate::RemoteHandshake::of(socket.handshake()),
            local: Some(socket),
            adapter,
        }
    }

    /// The socket id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Its rooms when it was fetched.
    pub fn rooms(&self) -> Vec<String> {
        self.rooms.iter().map(|room| room.to_string()).collect()
    }

    /// Its handshake (headers, address, query, auth, when it opened), in the shape the
    /// reference's `fetchSockets` gives it.
    pub fn handshake(&self) -> &crate::RemoteHandshake {
        &self.handshake
    }

    /// Its per-socket data when it was fetched, read as `T`.
    pub fn data<T: DeserializeOwned>(&self) -> Option<T> {
        socketio_protocol::value::from_value(self.data.clone()).ok()
    }

    /// The socket itself, when it is on this node.
    pub fn as_local(&self) -> Option<&Socket> {
        self.local.as_ref()
    }

    fn only_this(&self) -> BroadcastOptions {
        BroadcastOptions::new().to(self.id.clone())
    }

    /// Emits to it, wherever it is.
    pub fn emit<T: serde::Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), EmitError> {
        let value = crate::args::event_value(event, crate::args::to_args(data)?)?;
        self.adapter
            .broadcast(BroadcastMessage::new(value, self.only_this()));
        Ok(())
    }

    /// Makes it join `room`, wherever it is.
    pub fn join(&self, room: impl Into<String>) {
        self.adapter
            .add_sockets(self.only_this(), vec![Str::from(room.into())]);
    }

    /// Makes it leave `room`, wherever it is.
    pub fn leave(&self, room: &str) {
        self.adapter
            .del_sockets(self.only_this(), vec![Str::from(room.to_owned())]);
    }

    /// Disconnects it, wherever it is (`close`: its whole connection).
    pub fn disconnect(&self, close: bool) {
        self.adapter.disconnect_sockets(self.only_this(), close);
    }
}

/// The single-node adapter (the default): the room index of this node's sockets, and
/// delivery to them. A cluster adapter wraps it for its local part.
pub struct InMemoryAdapter {
    local: LocalNamespace,
    rooms: RwLock<RoomIndex>,
    /// With connection state recovery on: the namespace's stored broadcasts and sessions.
    recovery: Option<std::sync::Mutex<RecoveryStore>>,
    me: Weak<InMemoryAdapter>,
}

impl std::fmt::Debug for InMemoryAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryAdapter")
            .field("nsp", &self.local.name())
            .finish_non_exhaustive()
    }
}

impl InMemoryAdapter {
    /// The adapter of `local`'s namespace.
    pub fn new(local: LocalNamespace) -> Arc<Self> {
        let recovery = local.recovery().map(|config| {
            std::sync::Mutex::new(RecoveryStore::new(config, crate::ids::id_generator()))
        });
        Arc::new_cyclic(|me| InMemoryAdapter {
            local,
            rooms: RwLock::new(RoomIndex::new()),
            recovery,
            me: me.clone(),
        })
    }

    /// The factory of in-memory adapters ([`ServerBuilder::adapter`](crate::ServerBuilder::adapter)'s default).
    pub fn factory() -> AdapterFactory {
        Arc::new(|local| InMemoryAdapter::new(local) as Arc<dyn Adapter>)
    }

    /// The namespace's local side.
    pub fn local(&self) -> &LocalNamespace {
        &self.local
    }

    /// How many rooms exist (every socket's own room included).
    pub fn room_count(&self) -> usize {
        read(&self.rooms).room_count()
    }

    /// The sockets in `room`.
    pub fn sockets_in(&self, room: &str) -> Vec<Str> {
        read(&self.rooms)
            .sockets_in(&Str::from(room.to_owned()))
            .cloned()
            .collect()
    }

    /// Stores `message` for recovery (with recovery on, unless volatile): its offset is
    /// appended to its arguments.
    fn store(&self, message: &mut BroadcastMessage) {
        let Some(store) = &self.recovery else {
            return;
        };
        let mut packet = Packet::event(
            self.local.name().to_owned(),
            Payload::Value(std::mem::replace(&mut message.data, Value::Null)),
        );
        let now = self.local.now();
        lock(store).store_broadcast(now, &mut packet, message.volatile, &message.opts);
        message.data = match packet.data.map(|data| data.to_value()) {
            Some(Ok(value)) => value,
            _ => Value::Null,
        };
    }

    fn this(&self) -> Arc<dyn Adapter> {
        self.me.upgrade().expect("reached through its Arc") as Arc<dyn Adapter>
    }
}

fn read(rooms: &RwLock<RoomIndex>) -> std::sync::RwLockReadGuard<'_, RoomIndex> {
    rooms
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write(rooms: &RwLock<RoomIndex>) -> std::sync::RwLockWriteGuard<'_, RoomIndex> {
    rooms
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Adapter for InMemoryAdapter {
    fn local_room_count(&self) -> Option<usize> {
        Some(read(&self.rooms).room_count())
    }

    fn add_all(&self, sid: &Str, rooms: &[Str]) {
        let watch = self.local.watches_rooms();
        let mut joined = Vec::new();
        {
            let mut index = write(&self.rooms);
            index.add_socket(sid.clone());
            for room in rooms {
                if index.join(sid.clone(), room.clone()).joined && watch {
                    joined.push(room.clone());
                }
            }
        }
        for room in joined {
            self.local.room_joined(sid, &room);
        }
    }

    fn del(&self, sid: &Str, room: &Str) {
        let left = write(&self.rooms).leave(sid, room).left;
        if left {
            self.local.room_left(sid, room);
        }
    }

    fn del_all(&self, sid: &Str) -> Vec<Str> {
        let rooms = write(&self.rooms).leave_all(sid).rooms;
        if self.local.watches_rooms() {
            for room in &rooms {
                self.local.room_left(sid, room);
            }
        }
        rooms
    }

    fn socket_rooms(&self, sid: &Str) -> Vec<Str> {
        read(&self.rooms).rooms_of(sid).cloned().collect()
    }

    fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<Str> {
        read(&self.rooms).select(opts).cloned().collect()
    }

    fn broadcast(&self, mut message: BroadcastMessage) -> usize {
        // Stored even without a live target: disconnected sessions may recover it.
        self.store(&mut message);
        let sids = self.local_sockets(&message.opts);
        self.local.deliver(&message, &sids)
    }

    fn broadcast_with_ack(
        &self,
        message: BroadcastMessage,
        timeout: Duration,
    ) -> BoxFuture<BroadcastAcks> {
        let sids = self.local_sockets(&message.opts);
        self.local.deliver_with_ack(&message, &sids, timeout).1
    }

    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<Result<Vec<RemoteSocket>, AdapterError>> {
        let sids = self.local_sockets(&opts);
        let adapter = self.this();
        let sockets: Vec<RemoteSocket> = self
            .local
            .sockets(&sids)
            .into_iter()
            .map(|socket| RemoteSocket::from_local(socket, adapter.clone()))
            .collect();
        Box::pin(async move { Ok(sockets) })
    }

    fn add_sockets(&self, opts: BroadcastOptions, rooms: Vec<Str>) {
        let watch = self.local.watches_rooms();
        let mut changed = Vec::new();
        {
            let mut index = write(&self.rooms);
            let sids: BTreeSet<Str> = index.select(&opts).cloned().collect();
            for sid in sids {
                for room in &rooms {
                    if index.join(sid.clone(), room.clone()).joined && watch {
                        changed.push((sid.clone(), room.clone()));
                    }
                }
            }
        }
        for (sid, room) in changed {
            self.local.room_joined(&sid, &room);
        }
    }

    fn del_sockets(&self, opts: BroadcastOptions, rooms: Vec<Str>) {
        let watch = self.local.watches_rooms();
        let mut changed = Vec::new();
        {
            let mut index = write(&self.rooms);
            let sids: BTreeSet<Str> = index.select(&opts).cloned().collect();
            for sid in sids {
                for room in &rooms {
                    if index.leave(&sid, room).left && watch {
                        changed.push((sid.clone(), room.clone()));
                    }
                }
            }
        }
        for (sid, room) in changed {
            self.local.room_left(&sid, &room);
        }
    }

    fn disconnect_sockets(&self, opts: BroadcastOptions, close: bool) {
        let sids = self.local_sockets(&opts);
        for socket in self.local.sockets(&sids) {
            socket.disconnect(close);
        }
    }

    fn server_side_emit(&self, _data: Value) -> BoxFuture<Result<Vec<Value>, AdapterError>> {
        // No other node.
        Box::pin(async { Ok(Vec::new()) })
    }

    fn server_count(&self) -> BoxFuture<Result<usize, AdapterError>> {
        Box::pin(async { Ok(1) })
    }

    fn persist_session(&self, session: SessionRecord, reason: DisconnectReason) {
        if let Some(store) = &self.recovery {
            let now = self.local.now();
            lock(store).save_session(now, reason, session);
        }
    }

    fn restore_session(&self, pid: Str, offset: Str) -> BoxFuture<Option<Restored>> {
        let restored = self.recovery.as_ref().and_then(|store| {
            let now = self.local.now();
            lock(store)
                .restore(now, &pid, &offset)
                .map_err(|error| tracing::debug!(?error, "session not restored"))
                .ok()
        });
        Box::pin(async move { restored })
    }

    fn missed_since(&self, sid: Str, rooms: Vec<Str>, offset: Str) -> BoxFuture<Vec<Packet>> {
        let missed = self.recovery.as_ref().map(|store| {
            let now = self.local.now();
            let rooms: BTreeSet<Str> = rooms.into_iter().collect();
            lock(store)
                .missed_since(now, &sid, &rooms, &offset)
                .unwrap_or_else(|error| {
                    tracing::debug!(?error, "no catch-up after a restore");
                    Vec::new()
                })
        });
        Box::pin(async move { missed.unwrap_or_default() })
    }
}
