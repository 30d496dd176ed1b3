//! The adapter: [`RedisNode`] (one per server) and [`RedisAdapter`] (one per namespace), in
//! the classic, sharded or streams flavour.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use futures_channel::{mpsc, oneshot};
use futures_util::future::{Either, join, select};
use socketio::adapter::{
    Adapter, AdapterError, BoxFuture, BroadcastAcks, BroadcastMessage, BroadcastOptions,
    DisconnectReason, InMemoryAdapter, LocalNamespace, RemoteSocket, Restored, SessionRecord,
};
use socketio::protocol::Str;
use socketio::{RemoteHandshake, Runtime, Value};

use crate::cluster_wire::{self, ClusterMessage, MessageType, ShardedChannels, SubscriptionMode};
use crate::conn::{
    Incoming, Publisher, Reconnect, StreamEntry, Subscription, random_id, subscribe_loop,
};
use crate::error::RedisAdapterError;
use crate::resp::{Change, ShardedSubscription, sharded_loop};
use crate::streams::{EntrySink, Sinks, StreamsOptions, read_loop};
use crate::wire::{self, Channels, Message, OptsOrder, RequestType, WireBroadcast};

/// The options of the classic adapter, named and defaulted as the official ones.
#[derive(Debug, Clone)]
pub struct RedisAdapterOptions {
    /// `key`: the prefix of every channel (default `socket.io`).
    pub key: String,
    /// `requestsTimeout`: how long a cluster request waits for the other nodes (default 5 s).
    pub requests_timeout: Duration,
    /// `publishOnSpecificResponseChannel`: answer requests on the requester's own response
    /// channel (`<key>-response#<nsp>#<uid>#`) instead of the shared one (default false).
    pub publish_on_specific_response_channel: bool,
    /// `parser`: how broadcasts are encoded (default msgpack as notepack writes it).
    pub parser: Parser,
    /// How many messages may wait to be published (default 4096); past that they are dropped.
    pub publish_queue: usize,
    /// How many cluster requests may wait for answers at once, and how many answers to other
    /// nodes' requests may be in progress at once (default 1024 each).
    pub max_pending_requests: usize,
    /// How many answers one request collects at most (default 100,000).
    pub max_responses: usize,
    /// The largest message read from Redis, in bytes (default 16 MiB); larger ones are dropped.
    pub max_message_size: usize,
    /// Reconnection delays when Redis goes away.
    pub reconnect: Reconnect,
    /// Which official adapter to speak: the classic one (`createAdapter`, the default) or the
    /// sharded one (`createShardedAdapter`, whose `channelPrefix` is `key`), or the streams one
    /// (whose `streamName` and `channelPrefix` are `key`).
    pub flavor: Flavor,
}

/// Which official adapter a [`RedisNode`] speaks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Flavor {
    /// `createAdapter`: PUBLISH / PSUBSCRIBE, the classic requests.
    #[default]
    Classic,
    /// `createShardedAdapter` (Redis 7): SPUBLISH / SSUBSCRIBE, the ClusterAdapter messages,
    /// with its `subscriptionMode`.
    Sharded(SubscriptionMode),
    /// `@socket.io/redis-streams-adapter` 0.3: durable messages in the stream named `key`, or
    /// spread over `streamCount` streams (XADD / XREAD), the others with PUBLISH (or SPUBLISH
    /// with `useShardedPubSub`) on `key` as `channelPrefix`; with connection state recovery
    /// on, sessions kept in Redis and restored on any node.
    Streams(StreamsOptions),
}

impl Default for RedisAdapterOptions {
    fn default() -> Self {
        RedisAdapterOptions {
            key: "socket.io".to_owned(),
            requests_timeout: Duration::from_millis(5000),
            publish_on_specific_response_channel: false,
            parser: Parser::Msgpack,
            publish_queue: 4096,
            max_pending_requests: 1024,
            max_responses: 100_000,
            max_message_size: 16 << 20,
            reconnect: Reconnect::default(),
            flavor: Flavor::Classic,
        }
    }
}

impl RedisAdapterOptions {
    /// The default options with `key`.
    pub fn with_key(key: impl Into<String>) -> Self {
        RedisAdapterOptions {
            key: key.into(),
            ..Self::default()
        }
    }
}

/// The `parser` option: the encoding of broadcasts and of the msgpack requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Parser {
    /// `notepack.io` (the official default).
    #[default]
    Msgpack,
}

/// Answers server-side events that want an ack: gets the event and its arguments, returns
/// the ack.
pub type ServerSideAckHandler =
    Arc<dyn Fn(String, Vec<Value>) -> Pin<Box<dyn Future<Output = Value> + Send>> + Send + Sync>;

/// One server node's link to Redis: its publishing connection, its options, and the
/// handlers of acked server-side events. Make one per server, then its
/// [`factory`](Self::factory) for [`ServerBuilder::adapter`](socketio::ServerBuilder::adapter).
///
/// ```no_run
/// # fn f(runtime: std::sync::Arc<dyn socketio::Runtime>) -> Result<(), redis::RedisError> {
/// use socketio_redis::{RedisAdapterOptions, RedisNode};
/// let client = redis::Client::open("redis://127.0.0.1:6379")?;
/// let node = RedisNode::new(client, runtime.clone(), RedisAdapterOptions::default());
/// let io = socketio::Server::builder().adapter(node.factory()).build(runtime);
/// # let _ = io; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisNode {
    shared: Arc<NodeShared>,
}

impl std::fmt::Debug for RedisNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisNode")
            .field("options", &self.shared.options)
            .finish_non_exhaustive()
    }
}

struct NodeShared {
    client: redis::Client,
    runtime: Arc<dyn Runtime>,
    options: RedisAdapterOptions,
    publisher: Publisher,
    ack_handlers: Mutex<HashMap<String, ServerSideAckHandler>>,
    /// Streams flavour: the namespaces' adapters, for the node's stream reader.
    stream_sinks: Arc<Sinks>,
    stream_reader: std::sync::Once,
    /// Sessions being written (`persist_session`), for `flush`.
    persisting: Arc<std::sync::atomic::AtomicUsize>,
    /// Where the connections report their reconnections (the server's metrics).
    reports: crate::conn::Reports,
}

impl RedisNode {
    /// A node on `client`, spawning its connection tasks on `runtime` (that of the server).
    /// Connects in the background: nothing fails here if Redis is not up yet.
    pub fn new(
        client: redis::Client,
        runtime: Arc<dyn Runtime>,
        options: RedisAdapterOptions,
    ) -> Self {
        let reports = crate::conn::Reports::default();
        let publisher = Publisher::start(
            client.clone(),
            runtime.clone(),
            options.publish_queue,
            options.reconnect,
            reports.clone(),
        );
        RedisNode {
            shared: Arc::new(NodeShared {
                client,
                runtime,
                options,
                publisher,
                ack_handlers: Mutex::new(HashMap::new()),
                stream_sinks: Arc::new(Mutex::new(HashMap::new())),
                stream_reader: std::sync::Once::new(),
                persisting: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
                reports,
            }),
        }
    }

    /// The options.
    pub fn options(&self) -> &RedisAdapterOptions {
        &self.shared.options
    }

    /// The adapter factory: one [`RedisAdapter`] per namespace.
    pub fn factory(&self) -> impl Fn(LocalNamespace) -> Arc<dyn Adapter> + Send + Sync + 'static {
        let node = self.shared.clone();
        move |local: LocalNamespace| RedisAdapter::new(node.clone(), local) as Arc<dyn Adapter>
    }

    /// Answers the server-side events of namespace `nsp` that other nodes send with an ack
    /// (`io.serverSideEmit("ev", cb)` in Node, [`server_side_emit`](socketio::Server::server_side_emit)
    /// here): `handler` gets the event and its arguments and returns the ack. The
    /// [`on_server_side_emit`](socketio::Server::on_server_side_emit) handlers run as well.
    pub fn on_server_side_ack<F, Fut>(&self, nsp: &str, handler: F)
    where
        F: Fn(String, Vec<Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Value> + Send + 'static,
    {
        let handler: ServerSideAckHandler =
            Arc::new(move |event, args| Box::pin(handler(event, args)));
        lock(&self.shared.ack_handlers).insert(nsp.to_owned(), handler);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A request this node waits on.
enum Pending {
    Fetch {
        expected: usize,
        received: usize,
        sockets: Vec<Value>,
    },
    ServerSide {
        expected: usize,
        responses: Vec<Value>,
    },
    BroadcastAck {
        /// Other nodes, once `PUBSUB NUMSUB` answered.
        expected_servers: Option<usize>,
        servers: usize,
        clients: usize,
        responses: Vec<Vec<Value>>,
    },
}

impl Pending {
    fn complete(&self) -> bool {
        match self {
            Pending::Fetch {
                expected, received, ..
            } => received >= expected,
            Pending::ServerSide {
                expected,
                responses,
            } => responses.len() >= *expected,
            Pending::BroadcastAck {
                expected_servers,
                servers,
                clients,
                responses,
            } => expected_servers.is_some_and(|e| *servers >= e) && responses.len() >= *clients,
        }
    }
}

struct PendingEntry {
    state: Pending,
    done: Option<oneshot::Sender<()>>,
}

/// Whom an answer goes to: the requesting node and its request id.
struct Reply {
    requester: String,
    id: String,
}

impl Reply {
    fn classic(requester: String, id: String) -> Reply {
        Reply { requester, id }
    }
}

/// An answer to another node's request.
enum Answer {
    /// This node's sockets a fetch selected (as the reference describes them).
    Sockets(Value),
    /// This node's ack to a server-side event.
    ServerSide(Value),
    /// How many of this node's clients a broadcast with acks went to.
    ClientCount(usize),
    /// One client's ack.
    ClientAck(Value),
}

/// The streams flavour's state of a namespace.
struct Streams {
    channels: ShardedChannels,
    options: StreamsOptions,
    /// The namespace's stream (`key`, or one of `streamCount` streams).
    stream: String,
    /// With `useShardedPubSub`: the sharded subscriber's queue of changes, held open (its
    /// channels never change here; a closed queue would stop it).
    _changes: mpsc::UnboundedSender<Change>,
}

/// The sharded flavour's state of a namespace.
struct Sharded {
    channels: ShardedChannels,
    mode: SubscriptionMode,
    /// Dynamic room subscriptions, to the subscriber task.
    changes: mpsc::UnboundedSender<Change>,
    /// The rooms whose channels are subscribed.
    subscribed: Mutex<BTreeSet<String>>,
}

/// The Redis adapter of one namespace, in its node's [`Flavor`]: the in-memory adapter for
/// this node's sockets, plus Redis for the others (see the [crate docs](crate)).
pub struct RedisAdapter {
    inner: Arc<InMemoryAdapter>,
    node: Arc<NodeShared>,
    uid: String,
    channels: Channels,
    /// With the sharded flavour: its channels and dynamic subscriptions.
    sharded: Option<Sharded>,
    /// With the streams flavour: its channels and stream.
    streams: Option<Streams>,
    pending: Mutex<HashMap<String, PendingEntry>>,
    /// Answers to other nodes' requests still being made (bounded by `max_pending_requests`).
    answering: Arc<AtomicUsize>,
    me: Weak<RedisAdapter>,
    /// Dropping it stops the subscriber task.
    _stop: oneshot::Sender<()>,
}

impl std::fmt::Debug for RedisAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAdapter")
            .field("uid", &self.uid)
            .field("nsp", &self.inner.local().name())
            .finish_non_exhaustive()
    }
}

impl RedisAdapter {
    fn new(node: Arc<NodeShared>, local: LocalNamespace) -> Arc<RedisAdapter> {
        let uid = random_id(6);
        let channels = Channels::new(&node.options.key, local.name(), &uid);
        let (stop_tx, stop_rx) = oneshot::channel();
        let (changes_tx, changes_rx) = mpsc::unbounded();
        let sharded = match &node.options.flavor {
            Flavor::Sharded(mode) => Some(Sharded {
                channels: ShardedChannels::new(&node.options.key, local.name(), &uid),
                mode: *mode,
                changes: changes_tx.clone(),
                subscribed: Mutex::new(BTreeSet::new()),
            }),
            _ => None,
        };
        let streams = match &node.options.flavor {
            Flavor::Streams(options) => Some(Streams {
                channels: ShardedChannels::new(&node.options.key, local.name(), &uid),
                options: options.clone(),
                stream: crate::streams::stream_of(
                    &node.options.key,
                    options.stream_count,
                    local.name(),
                ),
                _changes: changes_tx.clone(),
            }),
            _ => None,
        };
        let cluster_channels = |c: &ShardedChannels| vec![c.public.clone(), c.private.clone()];
        let (fixed, stream_channels) = match (&sharded, &streams) {
            (Some(sharded), _) => (Some(cluster_channels(&sharded.channels)), None),
            (_, Some(streams)) if streams.options.use_sharded_pub_sub => {
                (Some(cluster_channels(&streams.channels)), None)
            }
            (_, Some(streams)) => (None, Some(cluster_channels(&streams.channels))),
            _ => (None, None),
        };
        node.reports.get_or_init(|| local.metrics());
        let adapter = Arc::new_cyclic(|me| RedisAdapter {
            inner: InMemoryAdapter::new(local),
            node: node.clone(),
            uid,
            channels: channels.clone(),
            sharded,
            streams,
            pending: Mutex::new(HashMap::new()),
            answering: Arc::new(AtomicUsize::new(0)),
            me: me.clone(),
            _stop: stop_tx,
        });
        let weak = Arc::downgrade(&adapter);
        let handle = move |incoming| match weak.upgrade() {
            Some(adapter) => {
                adapter.on_message(incoming);
                true
            }
            None => false,
        };
        match fixed {
            Some(fixed) => {
                let subscription = ShardedSubscription {
                    client: node.client.clone(),
                    runtime: node.runtime.clone(),
                    fixed,
                    reconnect: node.options.reconnect,
                    max_message: node.options.max_message_size,
                    reports: node.reports.clone(),
                };
                let task = sharded_loop(subscription, changes_rx, stop_rx, handle);
                node.runtime.spawn(Box::pin(task));
            }
            None => {
                let (patterns, subscribed) = match stream_channels {
                    Some(stream_channels) => (Vec::new(), stream_channels),
                    None => (
                        vec![channels.broadcast_pattern()],
                        vec![
                            channels.request.clone(),
                            channels.response.clone(),
                            channels.specific_response.clone(),
                        ],
                    ),
                };
                let subscription = Subscription {
                    client: node.client.clone(),
                    runtime: node.runtime.clone(),
                    patterns,
                    channels: subscribed,
                    reconnect: node.options.reconnect,
                    max_message: node.options.max_message_size,
                    reports: node.reports.clone(),
                };
                let task = subscribe_loop(subscription, stop_rx, handle);
                node.runtime.spawn(Box::pin(task));
            }
        }
        if let Some(streams) = &adapter.streams {
            let sink: Weak<dyn EntrySink> = Arc::downgrade(&adapter) as Weak<dyn EntrySink>;
            // A list: the server may make two adapters of a namespace at once and keep one;
            // the other is dropped at once (and pruned here later).
            let mut sinks = lock(&node.stream_sinks);
            let list = sinks.entry(adapter.nsp().to_owned()).or_default();
            list.retain(|sink| sink.strong_count() > 0);
            list.push(sink);
            drop(sinks);
            node.stream_reader.call_once(|| {
                let task = read_loop(crate::streams::StreamReader {
                    client: node.client.clone(),
                    runtime: node.runtime.clone(),
                    streams: crate::streams::streams_read(
                        &node.options.key,
                        streams.options.stream_count,
                    ),
                    options: streams.options.clone(),
                    reconnect: node.options.reconnect,
                    sinks: Arc::downgrade(&node.stream_sinks),
                    start: crate::streams::start_offset(),
                    reports: node.reports.clone(),
                });
                node.runtime.spawn(Box::pin(task));
            });
        }
        adapter
    }

    /// This node's uid in the namespace's messages.
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// The in-memory adapter holding this node's sockets.
    pub fn local(&self) -> &Arc<InMemoryAdapter> {
        &self.inner
    }

    fn nsp(&self) -> &str {
        self.inner.local().name()
    }

    /// Whether pub/sub is sharded (`SPUBLISH`, `SSUBSCRIBE`, `PUBSUB SHARDNUMSUB`).
    fn sharded_pub_sub(&self) -> bool {
        self.sharded.is_some()
            || self
                .streams
                .as_ref()
                .is_some_and(|s| s.options.use_sharded_pub_sub)
    }

    fn publish(&self, channel: String, payload: Vec<u8>) {
        let command = if self.sharded_pub_sub() {
            "SPUBLISH"
        } else {
            "PUBLISH"
        };
        if let Err(error) = self.node.publisher.publish(command, channel, payload) {
            tracing::debug!(%error, "not published");
        }
    }

    fn publish_response(&self, requester: &str, payload: Vec<u8>) {
        let channel = self.channels.response_channel(
            self.node.options.publish_on_specific_response_channel,
            requester,
        );
        self.publish(channel, payload);
    }

    /// `PUBSUB NUMSUB` of the request channel (classic), `PUBSUB SHARDNUMSUB` of the
    /// namespace channel (sharded), either of the namespace channel (streams, as
    /// `useShardedPubSub` says): the nodes of the namespace.
    async fn count(
        node: &NodeShared,
        (which, channel): (&'static str, String),
    ) -> Result<usize, RedisAdapterError> {
        node.publisher.numsub(which, &channel).await
    }

    /// What [`count`](Self::count) asks.
    fn count_target(&self) -> (&'static str, String) {
        match (&self.sharded, &self.streams) {
            (Some(sharded), _) => ("SHARDNUMSUB", sharded.channels.public.clone()),
            (_, Some(streams)) => {
                let which = if streams.options.use_sharded_pub_sub {
                    "SHARDNUMSUB"
                } else {
                    "NUMSUB"
                };
                (which, streams.channels.public.clone())
            }
            _ => ("NUMSUB", self.channels.request.clone()),
        }
    }

    /// Publishes a ClusterAdapter message (sharded flavour) on `channel`.
    fn cluster_publish(&self, channel: String, kind: MessageType, data: Value) {
        let payload = if self.streams.is_some() {
            // The streams adapter reads its pub/sub messages as msgpack only.
            cluster_wire::encode_msgpack(kind, data, &self.uid, self.nsp())
        } else {
            cluster_wire::encode(kind, data, &self.uid, self.nsp())
        };
        self.publish(channel, payload);
    }

    /// The cluster flavours' channels.
    fn cluster_channels(&self) -> Option<&ShardedChannels> {
        match (&self.sharded, &self.streams) {
            (Some(sharded), _) => Some(&sharded.channels),
            (_, Some(streams)) => Some(&streams.channels),
            _ => None,
        }
    }

    /// Streams flavour: appends a durable message to the stream; `done` gets its id.
    fn stream_append(
        &self,
        streams: &Streams,
        kind: MessageType,
        data: &Value,
        done: Box<dyn FnOnce(Option<String>) + Send>,
    ) {
        self.node.publisher.xadd(StreamEntry {
            stream: streams.stream.clone(),
            max_len: streams.options.max_len,
            fields: crate::streams::encode_entry(kind, data, &self.uid, self.nsp()),
            done,
        });
    }

    /// Delivers a broadcast to this node's sockets, its stream offset appended when
    /// connection state recovery is on and it is not volatile.
    fn deliver_with_offset(&self, mut message: BroadcastMessage, offset: Option<String>) -> usize {
        if let Some(offset) = offset
            && !message.volatile
            && self.inner.local().recovery().is_some()
            && let Value::Array(items) = &mut message.data
        {
            items.push(Value::String(offset));
        }
        let sids = self.inner.local_sockets(&message.opts);
        self.inner.local().deliver(&message, &sids)
    }

    /// Registers a request; its `done` fires when it is complete.
    fn register(
        &self,
        state: Pending,
    ) -> Result<(String, oneshot::Receiver<()>), RedisAdapterError> {
        let mut pending = lock(&self.pending);
        if pending.len() >= self.node.options.max_pending_requests {
            return Err(RedisAdapterError::TooManyRequests);
        }
        let id = random_id(6);
        let (done, rx) = oneshot::channel();
        pending.insert(
            id.clone(),
            PendingEntry {
                state,
                done: Some(done),
            },
        );
        Ok((id, rx))
    }

    /// Applies `update` to request `id`, firing `done` if it completes.
    fn update(&self, id: &str, update: impl FnOnce(&mut Pending, usize)) {
        let mut pending = lock(&self.pending);
        if let Some(entry) = pending.get_mut(id) {
            update(&mut entry.state, self.node.options.max_responses);
            if entry.state.complete()
                && let Some(done) = entry.done.take()
            {
                let _ = done.send(());
            }
        }
    }

    /// Waits for request `id` to complete or time out, then takes it out.
    fn wait(
        &self,
        id: String,
        done: oneshot::Receiver<()>,
        timeout: Duration,
    ) -> impl Future<Output = Option<(Pending, bool)>> + Send + 'static {
        let me = self.me.clone();
        let sleep = self.node.runtime.sleep(timeout);
        async move {
            let complete = matches!(select(done, sleep).await, Either::Left((Ok(()), _)));
            let me = me.upgrade()?;
            let entry = lock(&me.pending).remove(&id)?;
            let complete = complete || entry.state.complete();
            Some((entry.state, complete))
        }
    }

    /// Runs `task` (an answer to another node) unless `max_pending_requests` answers are
    /// already being made, in which case the request is dropped.
    fn answer(&self, task: impl Future<Output = ()> + Send + 'static) {
        let answering = self.answering.clone();
        if answering.fetch_add(1, Ordering::AcqRel) >= self.node.options.max_pending_requests {
            answering.fetch_sub(1, Ordering::AcqRel);
            tracing::warn!("too many requests from other nodes: one dropped");
            return;
        }
        self.node.runtime.spawn(Box::pin(async move {
            task.await;
            answering.fetch_sub(1, Ordering::AcqRel);
        }));
    }

    // ---- receiving ------------------------------------------------------------------

    fn on_message(&self, incoming: Incoming) {
        if let Some(channels) = self.cluster_channels() {
            return self.on_cluster(channels, incoming);
        }
        let Incoming { channel, payload } = incoming;
        if let Some(room) = self.channels.room_of(&channel) {
            self.on_broadcast(room, &payload);
        } else if channel == self.channels.request {
            self.on_request(&payload);
        } else if channel.starts_with(&self.channels.response) {
            self.on_response(&payload);
        }
    }

    fn on_broadcast(&self, room: &str, payload: &[u8]) {
        if !room.is_empty() && self.inner.sockets_in(room).is_empty() {
            return; // a room this node does not hold
        }
        let message = match wire::decode_broadcast(payload) {
            Ok(message) => message,
            Err(error) => {
                tracing::debug!(%error, "broadcast dropped");
                return;
            }
        };
        if message.uid == self.uid || message.nsp != self.nsp() {
            return;
        }
        let opts = wire::opts_from_lists(message.rooms, message.except);
        self.inner
            .broadcast(BroadcastMessage::new(message.data, opts).volatile(message.volatile));
    }

    fn on_request(&self, payload: &[u8]) {
        let request = match Message::decode(payload) {
            Ok(request) => request,
            Err(error) => {
                tracing::debug!(%error, "request dropped");
                return;
            }
        };
        let from = request.str("uid").unwrap_or_default().to_owned();
        if from == self.uid {
            return; // our own request: applied locally already
        }
        let request_id = request.request_id().map(str::to_owned);
        let Some(kind) = request.kind() else {
            return;
        };
        match kind {
            RequestType::Sockets => {
                let Some(id) = request_id else { return };
                let opts = wire::opts_from_lists(wire::room_list(request.get("rooms")), Vec::new());
                let sockets = self
                    .inner
                    .local_sockets(&opts)
                    .into_iter()
                    .map(|sid| Value::String(sid.to_string()))
                    .collect();
                self.publish_response(
                    &from,
                    wire::encode_response(&id, vec![("sockets", Value::Array(sockets))]),
                );
            }
            RequestType::AllRooms => {
                let Some(id) = request_id else { return };
                let mut rooms = BTreeSet::new();
                for sid in self.inner.local_sockets(&BroadcastOptions::new()) {
                    rooms.extend(self.inner.socket_rooms(&sid));
                }
                let rooms = rooms
                    .into_iter()
                    .map(|r| Value::String(r.to_string()))
                    .collect();
                self.publish_response(
                    &from,
                    wire::encode_response(&id, vec![("rooms", Value::Array(rooms))]),
                );
            }
            RequestType::RemoteJoin | RequestType::RemoteLeave => {
                let join = kind == RequestType::RemoteJoin;
                if let Some(opts) = request.opts() {
                    let rooms = wire::room_list(request.get("rooms"));
                    if join {
                        self.inner.add_sockets(opts, rooms);
                    } else {
                        self.inner.del_sockets(opts, rooms);
                    }
                    return;
                }
                // The legacy form: one socket, one room, answered.
                let (Some(sid), Some(room)) = (request.str("sid"), request.str("room")) else {
                    return;
                };
                let sockets = self.inner.local().sockets(&[Str::from(sid.to_owned())]);
                let Some(socket) = sockets.first() else {
                    return;
                };
                if join {
                    socket.join(room.to_owned());
                } else {
                    socket.leave(room);
                }
                if let Some(id) = request_id {
                    self.publish_response(&from, wire::encode_response(&id, Vec::new()));
                }
            }
            RequestType::RemoteDisconnect => {
                let close = matches!(request.get("close"), Some(Value::Bool(true)));
                if let Some(opts) = request.opts() {
                    self.inner.disconnect_sockets(opts, close);
                    return;
                }
                let Some(sid) = request.str("sid") else {
                    return;
                };
                let sockets = self.inner.local().sockets(&[Str::from(sid.to_owned())]);
                let Some(socket) = sockets.first() else {
                    return;
                };
                socket.disconnect(close);
                if let Some(id) = request_id {
                    self.publish_response(&from, wire::encode_response(&id, Vec::new()));
                }
            }
            RequestType::RemoteFetch => {
                let (Some(id), Some(opts)) = (request_id, request.opts()) else {
                    return;
                };
                self.answer_fetch(Reply::classic(from, id), opts);
            }
            RequestType::ServerSideEmit => {
                let Some(Value::Array(data)) = request.get("data").cloned() else {
                    return;
                };
                let reply = request_id.map(|id| Reply::classic(from, id));
                self.answer_server_side(data, reply);
            }
            RequestType::Broadcast => {
                let (Some(id), Some(opts)) = (request_id, request.opts()) else {
                    return;
                };
                let Some(data @ Value::Array(_)) =
                    request.get("packet").and_then(|p| p.get("data")).cloned()
                else {
                    return;
                };
                let message = BroadcastMessage::new(data, opts).volatile(request.flag_volatile());
                self.answer_broadcast(Reply::classic(from, id), message, request.flag_timeout());
            }
            RequestType::BroadcastClientCount | RequestType::BroadcastAck => {}
        }
    }

    /// Answers a fetch request with this node's selected sockets.
    fn answer_fetch(&self, reply: Reply, opts: BroadcastOptions) {
        let local = self.inner.fetch_sockets(opts);
        let me = self.me.clone();
        self.answer(async move {
            let Ok(sockets) = local.await else { return };
            let Some(me) = me.upgrade() else { return };
            let sockets = Value::Array(sockets.iter().map(describe).collect());
            me.reply(&reply, Answer::Sockets(sockets));
        });
    }

    /// Hands a server-side event to the application; with `reply`, answers it with this
    /// node's ack handler (if there is one).
    fn answer_server_side(&self, data: Vec<Value>, reply: Option<Reply>) {
        self.inner
            .local()
            .server_side_event(Value::Array(data.clone()));
        let Some(reply) = reply else { return };
        let handler = lock(&self.node.ack_handlers).get(self.nsp()).cloned();
        let Some(handler) = handler else { return };
        let mut items = data.into_iter();
        let Some(Value::String(event)) = items.next() else {
            return;
        };
        let answer = handler(event, items.collect());
        let me = self.me.clone();
        self.answer(async move {
            let answer = answer.await;
            if let Some(me) = me.upgrade() {
                me.reply(&reply, Answer::ServerSide(answer));
            }
        });
    }

    /// Delivers another node's broadcast with acks to this node's sockets: reports the client
    /// count at once, then each client's ack (its first argument).
    fn answer_broadcast(&self, reply: Reply, message: BroadcastMessage, timeout_ms: Option<u64>) {
        if lock(&self.pending).contains_key(&reply.id) {
            return; // our own
        }
        let timeout = timeout_ms
            .map(Duration::from_millis)
            .unwrap_or(self.node.options.requests_timeout);
        let sids = self.inner.local_sockets(&message.opts);
        let (count, answers) = self
            .inner
            .local()
            .deliver_with_ack(&message, &sids, timeout);
        self.reply(&reply, Answer::ClientCount(count));
        let me = self.me.clone();
        self.answer(async move {
            let answers = answers.await;
            if let Some(me) = me.upgrade() {
                for answer in answers.responses {
                    let first = answer.into_iter().next().unwrap_or(Value::Null);
                    me.reply(&reply, Answer::ClientAck(first));
                }
            }
        });
    }

    /// Sends an answer to the node `reply` names, in this flavour's format.
    fn reply(&self, reply: &Reply, answer: Answer) {
        let id = reply.id.as_str();
        if let Some(channels) = self.cluster_channels() {
            let (kind, data) = match answer {
                Answer::Sockets(sockets) => (
                    MessageType::FetchSocketsResponse,
                    cluster_wire::response_data(id, "sockets", sockets),
                ),
                Answer::ServerSide(value) => (
                    MessageType::ServerSideEmitResponse,
                    cluster_wire::response_data(id, "packet", value),
                ),
                Answer::ClientCount(n) => (
                    MessageType::BroadcastClientCount,
                    cluster_wire::response_data(id, "clientCount", Value::from(n as u64)),
                ),
                Answer::ClientAck(value) => (
                    MessageType::BroadcastAck,
                    cluster_wire::response_data(id, "packet", value),
                ),
            };
            let channel = channels.response_to(&reply.requester);
            self.cluster_publish(channel, kind, data);
            return;
        }
        match answer {
            Answer::Sockets(sockets) => self.publish_response(
                &reply.requester,
                wire::encode_response(id, vec![("sockets", sockets)]),
            ),
            // The official adapter answers these on the shared response channel.
            Answer::ServerSide(value) => self.publish(
                self.channels.response.clone(),
                wire::encode_server_side_ack(id, &value),
            ),
            Answer::ClientCount(n) => {
                self.publish_response(&reply.requester, wire::encode_client_count(id, n))
            }
            Answer::ClientAck(value) => {
                self.publish_response(&reply.requester, wire::encode_client_ack(id, &value))
            }
        }
    }

    fn on_response(&self, payload: &[u8]) {
        let response = match Message::decode(payload) {
            Ok(response) => response,
            Err(error) => {
                tracing::debug!(%error, "response dropped");
                return;
            }
        };
        let Some(id) = response.request_id() else {
            return;
        };
        let kind = response.kind();
        self.update(id, |state, max| match state {
            Pending::Fetch {
                received, sockets, ..
            } => {
                *received += 1;
                if let Some(Value::Array(list)) = response.get("sockets") {
                    let room = max.saturating_sub(sockets.len());
                    sockets.extend(list.iter().take(room).cloned());
                }
            }
            Pending::ServerSide { responses, .. } => {
                if kind == Some(RequestType::ServerSideEmit) && responses.len() < max {
                    responses.push(response.get("data").cloned().unwrap_or(Value::Null));
                }
            }
            Pending::BroadcastAck {
                servers,
                clients,
                responses,
                ..
            } => match kind {
                Some(RequestType::BroadcastClientCount) => {
                    *servers += 1;
                    if let Some(Value::Number(n)) = response.get("clientCount") {
                        *clients = clients.saturating_add(n.as_u64().unwrap_or(0) as usize);
                    }
                }
                Some(RequestType::BroadcastAck) if responses.len() < max => {
                    responses.push(vec![response.get("packet").cloned().unwrap_or(Value::Null)]);
                }
                _ => {}
            },
        });
    }

    // ---- sending, in the flavour's format ---------------------------------------------

    fn send_broadcast(&self, message: &BroadcastMessage) {
        if let Some(sharded) = &self.sharded {
            let data = cluster_wire::broadcast_data(
                self.nsp(),
                &message.data,
                &message.opts,
                message.volatile,
                None,
            );
            // A single-room broadcast goes on the room's channel in the dynamic modes.
            let room = match (message.opts.rooms.len(), message.opts.rooms.iter().next()) {
                (1, Some(room)) => Some(room),
                _ => None,
            };
            let channel = match (sharded.mode, room) {
                (SubscriptionMode::DynamicPrivate, Some(room)) => sharded.channels.room(room),
                (SubscriptionMode::Dynamic, Some(room))
                    if !cluster_wire::looks_like_a_socket_id(room) =>
                {
                    sharded.channels.room(room)
                }
                _ => sharded.channels.public.clone(),
            };
            return self.cluster_publish(channel, MessageType::Broadcast, data);
        }
        let (rooms, except) = wire::opts_lists(&message.opts);
        let wire_message = WireBroadcast {
            uid: self.uid.clone(),
            nsp: self.nsp().to_owned(),
            data: message.data.clone(),
            rooms,
            except,
            volatile: message.volatile,
        };
        let channel = self.channels.broadcast_channel(&message.opts);
        self.publish(
            channel,
            wire::encode_broadcast(&wire_message, OptsOrder::Adapter),
        );
    }

    fn send_broadcast_request(&self, id: &str, message: &BroadcastMessage, timeout_ms: u64) {
        if let Some(channels) = self.cluster_channels() {
            let data = cluster_wire::broadcast_data(
                self.nsp(),
                &message.data,
                &message.opts,
                message.volatile,
                Some((id, timeout_ms)),
            );
            let channel = channels.public.clone();
            return self.cluster_publish(channel, MessageType::Broadcast, data);
        }
        self.publish(
            self.channels.request.clone(),
            wire::encode_broadcast_request(
                &self.uid,
                id,
                self.nsp(),
                &message.data,
                &message.opts,
                message.volatile,
                timeout_ms,
            ),
        );
    }

    fn send_fetch(&self, id: &str, opts: &BroadcastOptions) {
        match self.cluster_channels() {
            Some(channels) => self.cluster_publish(
                channels.public.clone(),
                MessageType::FetchSockets,
                cluster_wire::fetch_data(opts, id),
            ),
            None => self.publish(
                self.channels.request.clone(),
                wire::encode_fetch(&self.uid, id, opts),
            ),
        }
    }

    fn send_rooms(&self, join: bool, opts: &BroadcastOptions, rooms: &[Str]) {
        let kind = if join {
            MessageType::SocketsJoin
        } else {
            MessageType::SocketsLeave
        };
        if let Some(streams) = &self.streams {
            let data = cluster_wire::rooms_data(opts, rooms);
            return self.stream_append(streams, kind, &data, Box::new(|_| {}));
        }
        match &self.sharded {
            Some(sharded) => self.cluster_publish(
                sharded.channels.public.clone(),
                if join {
                    MessageType::SocketsJoin
                } else {
                    MessageType::SocketsLeave
                },
                cluster_wire::rooms_data(opts, rooms),
            ),
            None => self.publish(
                self.channels.request.clone(),
                wire::encode_remote_rooms(Some(&self.uid), join, opts, rooms),
            ),
        }
    }

    fn send_disconnect(&self, opts: &BroadcastOptions, close: bool) {
        if let Some(streams) = &self.streams {
            let data = cluster_wire::disconnect_data(opts, close);
            let kind = MessageType::DisconnectSockets;
            return self.stream_append(streams, kind, &data, Box::new(|_| {}));
        }
        match &self.sharded {
            Some(sharded) => self.cluster_publish(
                sharded.channels.public.clone(),
                MessageType::DisconnectSockets,
                cluster_wire::disconnect_data(opts, close),
            ),
            None => self.publish(
                self.channels.request.clone(),
                wire::encode_remote_disconnect(Some(&self.uid), opts, close),
            ),
        }
    }

    fn send_server_side(&self, id: &str, data: &Value) {
        match self.cluster_channels() {
            Some(channels) => self.cluster_publish(
                channels.public.clone(),
                MessageType::ServerSideEmit,
                cluster_wire::server_side_data(Some(id), data),
            ),
            None => self.publish(
                self.channels.request.clone(),
                wire::encode_server_side_emit(&self.uid, Some(id), data),
            ),
        }
    }

    /// Sharded dynamic modes: subscribes to the channels of `rooms` this node now holds and
    /// unsubscribes from those it no longer holds.
    fn reconcile(&self, rooms: &[Str]) {
        let Some(sharded) = &self.sharded else { return };
        if sharded.mode == SubscriptionMode::Static {
            return;
        }
        let mut subscribed = lock(&sharded.subscribed);
        for room in rooms {
            // A socket's own room is private (this node's socket ids have rooms).
            let private = !self.inner.socket_rooms(room).is_empty();
            let separate = sharded.mode == SubscriptionMode::DynamicPrivate || !private;
            let want = separate && !self.inner.sockets_in(room).is_empty();
            let has = subscribed.contains(room.as_ref());
            let channel = sharded.channels.room(room);
            if want && !has {
                subscribed.insert(room.to_string());
                let _ = sharded.changes.unbounded_send(Change::Subscribe(channel));
            } else if !want && has {
                subscribed.remove(room.as_ref());
                let _ = sharded.changes.unbounded_send(Change::Unsubscribe(channel));
            }
        }
    }

    // ---- receiving, sharded flavour ----------------------------------------------------

    fn on_cluster(&self, channels: &ShardedChannels, incoming: Incoming) {
        let message = match cluster_wire::decode(&incoming.payload) {
            Ok(message) => message,
            Err(error) => {
                tracing::debug!(%error, "cluster message dropped");
                return;
            }
        };
        if message.uid == self.uid || message.nsp != self.nsp() {
            return;
        }
        if incoming.channel == channels.private {
            self.on_cluster_response(message);
        } else {
            self.on_cluster_message(message);
        }
    }

    fn on_cluster_message(&self, message: ClusterMessage) {
        let ClusterMessage {
            kind,
            uid: from,
            data,
            ..
        } = message;
        let opts = data.opts();
        match kind {
            MessageType::Broadcast => {
                let Some(opts) = opts else { return };
                let Some(event @ Value::Array(_)) =
                    data.get("packet").and_then(|p| p.get("data")).cloned()
                else {
                    return;
                };
                let message = BroadcastMessage::new(event, opts).volatile(data.flag_volatile());
                match data.request_id() {
                    Some(id) => {
                        let reply = Reply::classic(from, id.to_owned());
                        self.answer_broadcast(reply, message, data.flag_timeout());
                    }
                    None if self.streams.is_some() => {
                        self.deliver_with_offset(message, None);
                    }
                    None => {
                        self.inner.broadcast(message);
                    }
                }
            }
            MessageType::SocketsJoin | MessageType::SocketsLeave => {
                let Some(opts) = opts else { return };
                let rooms = wire::room_list(data.get("rooms"));
                if kind == MessageType::SocketsJoin {
                    self.inner.add_sockets(opts, rooms.clone());
                } else {
                    self.inner.del_sockets(opts, rooms.clone());
                }
                self.reconcile(&rooms);
            }
            MessageType::DisconnectSockets => {
                let Some(opts) = opts else { return };
                let close = matches!(data.get("close"), Some(Value::Bool(true)));
                self.inner.disconnect_sockets(opts, close);
            }
            MessageType::FetchSockets => {
                let (Some(opts), Some(id)) = (opts, data.request_id()) else {
                    return;
                };
                self.answer_fetch(Reply::classic(from, id.to_owned()), opts);
            }
            MessageType::ServerSideEmit => {
                let Some(Value::Array(packet)) = data.get("packet").cloned() else {
                    return;
                };
                let reply = data
                    .request_id()
                    .map(|id| Reply::classic(from, id.to_owned()));
                self.answer_server_side(packet, reply);
            }
            _ => {}
        }
    }

    fn on_cluster_response(&self, message: ClusterMessage) {
        let Some(id) = message.data.request_id() else {
            return;
        };
        let data = &message.data;
        self.update(id, |state, max| match (state, message.kind) {
            (
                Pending::Fetch {
                    received, sockets, ..
                },
                MessageType::FetchSocketsResponse,
            ) => {
                *received += 1;
                if let Some(Value::Array(list)) = data.get("sockets") {
                    let room = max.saturating_sub(sockets.len());
                    sockets.extend(list.iter().take(room).cloned());
                }
            }
            (Pending::ServerSide { responses, .. }, MessageType::ServerSideEmitResponse)
                if responses.len() < max =>
            {
                responses.push(data.get("packet").cloned().unwrap_or(Value::Null));
            }
            (
                Pending::BroadcastAck {
                    servers, clients, ..
                },
                MessageType::BroadcastClientCount,
            ) => {
                *servers += 1;
                if let Some(Value::Number(n)) = data.get("clientCount") {
                    *clients = clients.saturating_add(n.as_u64().unwrap_or(0) as usize);
                }
            }
            (Pending::BroadcastAck { responses, .. }, MessageType::BroadcastAck)
                if responses.len() < max =>
            {
                responses.push(vec![data.get("packet").cloned().unwrap_or(Value::Null)]);
            }
            _ => {}
        });
    }

    fn this(&self) -> Option<Arc<dyn Adapter>> {
        self.me.upgrade().map(|me| me as Arc<dyn Adapter>)
    }
}

/// A local socket as the official adapter describes it in a fetch answer.
fn describe(socket: &RemoteSocket) -> Value {
    let handshake = socketio::to_value(socket.handshake()).unwrap_or(Value::Null);
    Value::Object(vec![
        ("id".to_owned(), Value::String(socket.id().to_owned())),
        ("handshake".to_owned(), handshake),
        (
            "rooms".to_owned(),
            Value::Array(socket.rooms().into_iter().map(Value::String).collect()),
        ),
        (
            "data".to_owned(),
            socket.data::<Value>().unwrap_or(Value::Null),
        ),
    ])
}

/// A socket of another node, from its fetch answer.
fn remote_socket(value: &Value, adapter: Arc<dyn Adapter>) -> Option<RemoteSocket> {
    let id = value.get("id")?.as_str()?.to_owned();
    let rooms = wire::room_list(value.get("rooms"));
    let data = value.get("data").cloned().unwrap_or(Value::Null);
    let handshake = value
        .get("handshake")
        .cloned()
        .and_then(|h| socketio::from_value::<RemoteHandshake>(h).ok())
        .unwrap_or_default();
    Some(RemoteSocket::new(Str::from(id), rooms, data, adapter).with_handshake(handshake))
}

impl Adapter for RedisAdapter {
    fn local_room_count(&self) -> Option<usize> {
        self.inner.local_room_count()
    }

    fn add_all(&self, sid: &Str, rooms: &[Str]) {
        self.inner.add_all(sid, rooms);
        self.reconcile(rooms);
    }

    fn del(&self, sid: &Str, room: &Str) {
        self.inner.del(sid, room);
        self.reconcile(std::slice::from_ref(room));
    }

    fn del_all(&self, sid: &Str) -> Vec<Str> {
        let rooms = self.inner.del_all(sid);
        self.reconcile(&rooms);
        rooms
    }

    fn socket_rooms(&self, sid: &Str) -> Vec<Str> {
        self.inner.socket_rooms(sid)
    }

    fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<Str> {
        self.inner.local_sockets(opts)
    }

    fn broadcast(&self, message: BroadcastMessage) -> usize {
        if let Some(streams) = &self.streams {
            if message.local {
                return self.deliver_with_offset(message, None);
            }
            // Appended first, delivered here once the stream gave its offset (in order: one
            // publishing queue), as the reference does.
            let count = self.inner.local_sockets(&message.opts).len();
            let data = cluster_wire::broadcast_data(
                self.nsp(),
                &message.data,
                &message.opts,
                message.volatile,
                None,
            );
            let me = self.me.clone();
            let done = Box::new(move |offset: Option<String>| {
                if let Some(me) = me.upgrade() {
                    me.deliver_with_offset(message, offset);
                }
            });
            self.stream_append(streams, MessageType::Broadcast, &data, done);
            return count;
        }
        if !message.local {
            self.send_broadcast(&message);
        }
        self.inner.broadcast(message)
    }

    fn broadcast_with_ack(
        &self,
        message: BroadcastMessage,
        timeout: Duration,
    ) -> BoxFuture<BroadcastAcks> {
        if message.local {
            return self.inner.broadcast_with_ack(message, timeout);
        }
        let registered = self.register(Pending::BroadcastAck {
            expected_servers: None,
            servers: 0,
            clients: 0,
            responses: Vec::new(),
        });
        let sids = self.inner.local_sockets(&message.opts);
        let (_, local) = self
            .inner
            .local()
            .deliver_with_ack(&message, &sids, timeout);
        let Ok((id, done)) = registered else {
            return local; // too many requests: this node's answers only
        };
        self.send_broadcast_request(&id, &message, timeout.as_millis() as u64);
        let node = self.node.clone();
        let target = self.count_target();
        let me = self.me.clone();
        let wait = self.wait(id.clone(), done, timeout);
        Box::pin(async move {
            let remote = async move {
                let servers = RedisAdapter::count(&node, target).await.unwrap_or(1);
                if let Some(me) = me.upgrade() {
                    me.update(&id, |state, _| {
                        if let Pending::BroadcastAck {
                            expected_servers, ..
                        } = state
                        {
                            *expected_servers = Some(servers.saturating_sub(1));
                        }
                    });
                }
                wait.await
            };
            let (local, remote) = join(local, remote).await;
            let mut acks = local;
            match remote {
                Some((Pending::BroadcastAck { responses, .. }, complete)) => {
                    acks.responses.extend(responses);
                    acks.complete &= complete;
                }
                _ => acks.complete = false,
            }
            acks
        })
    }

    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<Result<Vec<RemoteSocket>, AdapterError>> {
        let local = self.inner.fetch_sockets(opts.clone());
        let node = self.node.clone();
        let me = self.me.clone();
        let target = self.count_target();
        let timeout = self.node.options.requests_timeout;
        Box::pin(async move {
            let mut sockets = local.await?;
            let servers = RedisAdapter::count(&node, target).await?;
            if servers <= 1 {
                return Ok(sockets);
            }
            let me = me.upgrade().ok_or(RedisAdapterError::Closed)?;
            let expected = servers - 1;
            let (id, done) = me.register(Pending::Fetch {
                expected,
                received: 0,
                sockets: Vec::new(),
            })?;
            me.send_fetch(&id, &opts);
            let wait = me.wait(id, done, timeout);
            let adapter = me.this().ok_or(RedisAdapterError::Closed)?;
            drop(me);
            match wait.await {
                Some((
                    Pending::Fetch {
                        sockets: remote, ..
                    },
                    true,
                )) => {
                    sockets.extend(
                        remote
                            .iter()
                            .filter_map(|v| remote_socket(v, adapter.clone())),
                    );
                    Ok(sockets)
                }
                Some((Pending::Fetch { received, .. }, false)) => Err(RedisAdapterError::Timeout {
                    operation: "fetchSockets",
                    received,
                    expected,
                }
                .into()),
                _ => Err(RedisAdapterError::Closed.into()),
            }
        })
    }

    fn add_sockets(&self, opts: BroadcastOptions, rooms: Vec<Str>) {
        self.send_rooms(true, &opts, &rooms);
        self.inner.add_sockets(opts, rooms.clone());
        self.reconcile(&rooms);
    }

    fn del_sockets(&self, opts: BroadcastOptions, rooms: Vec<Str>) {
        self.send_rooms(false, &opts, &rooms);
        self.inner.del_sockets(opts, rooms.clone());
        self.reconcile(&rooms);
    }

    fn disconnect_sockets(&self, opts: BroadcastOptions, close: bool) {
        self.send_disconnect(&opts, close);
        self.inner.disconnect_sockets(opts, close)
    }

    fn server_side_emit(&self, data: Value) -> BoxFuture<Result<Vec<Value>, AdapterError>> {
        let node = self.node.clone();
        let me = self.me.clone();
        let target = self.count_target();
        let timeout = self.node.options.requests_timeout;
        Box::pin(async move {
            let servers = RedisAdapter::count(&node, target).await?;
            let me = me.upgrade().ok_or(RedisAdapterError::Closed)?;
            let expected = servers.saturating_sub(1);
            if expected == 0 {
                return Ok(Vec::new());
            }
            let (id, done) = me.register(Pending::ServerSide {
                expected,
                responses: Vec::new(),
            })?;
            me.send_server_side(&id, &data);
            let wait = me.wait(id, done, timeout);
            drop(me);
            match wait.await {
                Some((Pending::ServerSide { responses, .. }, true)) => Ok(responses),
                Some((Pending::ServerSide { responses, .. }, false)) => {
                    Err(RedisAdapterError::Timeout {
                        operation: "serverSideEmit",
                        received: responses.len(),
                        expected,
                    }
                    .into())
                }
                _ => Err(RedisAdapterError::Closed.into()),
            }
        })
    }

    fn persist_session(&self, session: SessionRecord, reason: DisconnectReason) {
        let Some(streams) = &self.streams else {
            return self.inner.persist_session(session, reason);
        };
        let Some(recovery) = self.inner.local().recovery() else {
            return;
        };
        if !reason.is_recoverable() {
            return;
        }
        let Ok(mut conn) = self.node.publisher.connection() else {
            tracing::warn!("redis unavailable: session not kept");
            return;
        };
        let key = format!("{}{}", streams.options.session_key_prefix, session.pid);
        let value = crate::streams::encode_session(&session);
        let ttl = recovery.max_disconnection_duration.as_millis() as u64;
        let persisting = self.node.persisting.clone();
        persisting.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.node.runtime.spawn(Box::pin(async move {
            let stored: Result<(), _> = redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(ttl)
                .query_async(&mut conn)
                .await;
            persisting.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
            if let Err(error) = stored {
                tracing::warn!(%error, "session not kept");
            }
        }));
    }

    fn flush(&self) -> BoxFuture<()> {
        if self.streams.is_none() {
            return self.inner.flush();
        }
        let persisting = self.node.persisting.clone();
        let runtime = self.node.runtime.clone();
        let deadline = runtime.now() + self.node.options.requests_timeout;
        Box::pin(async move {
            // (Each write ends within the connection's own timeouts; the deadline bounds a
            // Redis that stopped answering.)
            while persisting.load(std::sync::atomic::Ordering::Acquire) > 0
                && runtime.now() < deadline
            {
                runtime.sleep(Duration::from_millis(1)).await;
            }
        })
    }

    fn restore_session(&self, pid: Str, offset: Str) -> BoxFuture<Option<Restored>> {
        let Some(streams) = &self.streams else {
            return self.inner.restore_session(pid, offset);
        };
        let conn = self.node.publisher.connection();
        let stream = streams.stream.clone();
        let key = format!("{}{}", streams.options.session_key_prefix, pid);
        let nsp = self.nsp().to_owned();
        Box::pin(async move {
            let mut conn = conn.ok()?;
            crate::streams::restore(&mut conn, &stream, &key, &nsp, &offset).await
        })
    }

    fn missed_since(
        &self,
        sid: Str,
        rooms: Vec<Str>,
        offset: Str,
    ) -> BoxFuture<Vec<socketio::protocol::socket::Packet>> {
        let Some(streams) = &self.streams else {
            return self.inner.missed_since(sid, rooms, offset);
        };
        let conn = self.node.publisher.connection();
        let stream = streams.stream.clone();
        let nsp = self.nsp().to_owned();
        Box::pin(async move {
            if !crate::streams::valid_offset(&offset) {
                return Vec::new();
            }
            let Ok(mut conn) = conn else {
                return Vec::new();
            };
            let rooms: BTreeSet<Str> = rooms.into_iter().collect();
            crate::streams::broadcasts_after(&mut conn, &stream, &nsp, &rooms, &offset)
                .await
                .unwrap_or_default()
        })
    }

    fn server_count(&self) -> BoxFuture<Result<usize, AdapterError>> {
        let node = self.node.clone();
        let target = self.count_target();
        Box::pin(async move { Ok(RedisAdapter::count(&node, target).await?) })
    }
}

impl EntrySink for RedisAdapter {
    fn on_entry(&self, id: &str, message: ClusterMessage) {
        if message.uid == self.uid || message.nsp != self.nsp() {
            return; // our own entries were delivered when appended
        }
        if message.kind == MessageType::Broadcast && message.data.request_id().is_none() {
            let data = &message.data;
            let (Some(opts), Some(event @ Value::Array(_))) = (
                data.opts(),
                data.get("packet").and_then(|p| p.get("data")).cloned(),
            ) else {
                return;
            };
            let message = BroadcastMessage::new(event, opts).volatile(data.flag_volatile());
            self.deliver_with_offset(message, Some(id.to_owned()));
            return;
        }
        self.on_cluster_message(message);
    }
}
