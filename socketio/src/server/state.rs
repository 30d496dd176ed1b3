//! The Socket.IO layer on the shared driver (`crate::driver`): per connection, its
//! `ServerConnection` and sockets ([`SioConn`], under that connection's lock); per server, the
//! namespaces' socket maps and the broadcasts with acks waiting (leaf locks of their own).
//!
//! Under a connection's lock, after each input the driver calls [`SioLayer::flush`]:
//!
//! ```text
//! loop {
//!     core.poll_transmit() → session.send (unless a connect handler holds them)
//!     core.poll_event()    → on_socket_event: a connect request to admission (connect.rs),
//!                            an event to its socket's runner, an ack to its waiter, a
//!                            disconnect to the adapter and the runner (after the lock)
//! }
//! ```
//!
//! `send_event` encodes an event once, outside every lock, and hands the same bytes to each
//! recipient under that recipient's lock only.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};

use futures_channel::oneshot;
use socketio_protocol::connection::{Connection, Event as ConnEvent};
use socketio_protocol::engine::server::{
    ConnectionId, Handshake as EngineHandshake, PreparedMessage, Session, TransportId,
    TransportKind,
};
use socketio_protocol::engine::{Data, Frame};
use socketio_protocol::recovery::{SessionRecord, offset_order};
use socketio_protocol::socket::ack::{BroadcastAck, BroadcastAckStatus};
use socketio_protocol::socket::parser::{common, msgpack};
use socketio_protocol::socket::server::{Event as SocketEvent, Parser};
use socketio_protocol::socket::{Packet, Payload, ProtocolVersion};
use socketio_protocol::{Instant, Str, Value};

use super::ServerSideHandler;
use super::connect::Accepting;
use crate::adapter::Adapter;
use crate::config::Config;
use crate::driver::{Conn, ConnState, Cx, Driver, Effects, Layer, RequestCtx};
use crate::fasthash::IdMap;
use crate::flow::Gate;
use crate::handshake::HttpHandshake;
use crate::hooks::TransportEvent;
use crate::ids::id_generator;
use crate::namespace::{Registry, lock};
use crate::probe::{Dir, Probe, Transport};
use crate::socket::Incoming;
use crate::wsio::{TextMemo, Writer};
use crate::{AckError, Socket};

/// The Socket.IO server's driver.
pub(crate) type Inner = Driver<SioLayer>;

/// A Socket.IO connection's driver-side handle.
pub(crate) type SioCell = Conn<SioLayer>;

/// What the Socket.IO server keeps beside the driver.
pub(crate) struct SioLayer {
    pub(crate) config: Config,
    pub(crate) registry: Mutex<Registry>,
    /// Each namespace's adapter (see [`Inner::adapter`]).
    pub(crate) adapters: Mutex<HashMap<String, Arc<dyn Adapter>>>,
    /// Handlers of server-side events from other nodes, per namespace.
    pub(crate) server_side: Mutex<HashMap<String, Vec<ServerSideHandler>>>,
    /// Per namespace, its sockets on this node (a leaf lock: never held while a
    /// connection's lock is taken).
    pub(crate) nsps: RwLock<HashMap<String, NsState>>,
    /// Broadcasts with acks waiting for their answers (a leaf lock).
    pub(crate) broadcasts: Mutex<Broadcasts>,
    /// What the server reports to its metrics (nothing without them).
    pub(crate) probe: Probe,
    /// The server-wide observers (`crate::hooks`).
    pub(crate) hooks: Arc<crate::hooks::Hooks>,
}

/// One engine session's Socket.IO state, under its connection's lock.
pub(crate) struct SioConn {
    pub(super) http: Arc<HttpHandshake>,
    /// The connection itself (for the sockets and tasks it makes).
    pub(super) me: Weak<SioCell>,
    websocket: Option<ConnectionId>,
    /// Namespaces accepted but whose `Connected` event is not handled yet.
    pub(super) accepting: HashMap<String, Accepting>,
    /// The session's incoming side (backpressure): events waiting for their handlers, and
    /// whoever paused reading.
    pub(super) gate: Arc<Gate>,
    /// The connection's sockets (one per namespace joined).
    pub(super) sockets: Vec<Socket>,
    /// Who waits for the acks of this connection's sockets.
    pub(super) acks: IdMap<(Str, u64), AckTarget>,
    /// Its sockets restored by connection state recovery (usually none).
    pub(super) recovered: Vec<Recovered>,
}

/// A restored socket's place in its namespace's event order: the live deliveries it already
/// got through its restore are skipped, and while its catch-up runs (the events broadcast
/// while it was being restored, asked of the adapter once it is back in its rooms) live ones
/// wait, so its client gets every event once and in order.
pub(super) struct Recovered {
    pub(super) sid: Str,
    /// The order of the last event given (see `offset_order`).
    pub(super) given: (u64, u64),
    /// While the catch-up runs: the live events that came meanwhile, with their order.
    pub(super) waiting: Option<Vec<Waiting>>,
}

/// A live event kept while a restored socket's catch-up runs: its offset's order and its
/// encoded messages.
pub(super) type Waiting = ((u64, u64), Vec<Data>);

/// What a live delivery with an offset does for a restored socket.
pub(super) enum Catchup {
    /// Not restored, or past what it was given: deliver.
    Deliver,
    /// Already given by its restore.
    Skip,
    /// Its catch-up runs: keep it until it is done.
    Wait,
}

impl SioConn {
    /// See [`Catchup`].
    pub(super) fn catchup(&mut self, sid: &Str, order: (u64, u64), frames: &[Data]) -> Catchup {
        let Some(recovered) = self.recovered.iter_mut().find(|r| r.sid == *sid) else {
            return Catchup::Deliver;
        };
        if order <= recovered.given {
            return Catchup::Skip;
        }
        match &mut recovered.waiting {
            Some(waiting) => {
                waiting.push((order, frames.to_vec()));
                Catchup::Wait
            }
            None => {
                recovered.given = order;
                Catchup::Deliver
            }
        }
    }
}

/// A connected socket of a namespace.
pub(crate) struct SocketEntry {
    pub(super) socket: Socket,
    pub(super) pid: Option<Str>,
}

/// A namespace's sockets on this node, and its ack ids.
#[derive(Default)]
pub(crate) struct NsState {
    pub(super) sockets: IdMap<Str, SocketEntry>,
    pub(super) next_ack: AtomicU64,
}

pub(super) type AckReply = Result<Payload, AckError>;

/// Who waits for an ack: one emit, or a broadcast with acks (its namespace and id).
pub(super) enum AckTarget {
    Single(oneshot::Sender<AckReply>),
    Broadcast(String, u64),
}

/// A broadcast with acks waiting for its answers.
pub(crate) struct BroadcastWait {
    pub(super) ack: BroadcastAck<Vec<Value>>,
    pub(super) tx: Option<oneshot::Sender<(Vec<Vec<Value>>, bool)>>,
    pub(super) members: Vec<Socket>,
}

/// The broadcasts with acks waiting, and their deadlines.
#[derive(Default)]
pub(crate) struct Broadcasts {
    pub(super) waits: HashMap<(String, u64), BroadcastWait>,
    pub(super) deadlines: BTreeSet<(Instant, String, u64)>,
}

impl SioLayer {
    pub(super) fn new(config: Config, me: &Weak<Inner>) -> SioLayer {
        #[cfg(feature = "metrics")]
        let probe = match &config.metrics {
            Some(metrics) => metrics.attach(me.clone(), config.socket.parser == Parser::Msgpack),
            None => Probe::NONE,
        };
        #[cfg(not(feature = "metrics"))]
        let probe = {
            let _ = me;
            Probe::NONE
        };
        SioLayer {
            probe,
            config,
            registry: Mutex::new(Registry::default()),
            adapters: Mutex::new(HashMap::new()),
            server_side: Mutex::new(HashMap::new()),
            nsps: RwLock::new(HashMap::new()),
            broadcasts: Mutex::new(Broadcasts::default()),
            hooks: Arc::new(crate::hooks::Hooks::default()),
        }
    }

    /// Tells the transport listeners of `event`, after the connection's lock.
    fn transport_event(&self, cx: &mut Cx<'_, Self>, event: impl FnOnce() -> TransportEvent) {
        if self.hooks.transports.is_set() {
            let event = event();
            let hooks = self.hooks.clone();
            cx.fx.after.push(Box::new(move || hooks.transport(&event)));
        }
    }

    /// The next ack id of namespace `nsp`.
    pub(super) fn next_ack_id(&self, nsp: &str) -> u64 {
        if let Some(ns) = read(&self.nsps).get(nsp) {
            return ns.next_ack.fetch_add(1, Ordering::Relaxed);
        }
        write(&self.nsps)
            .entry(nsp.to_owned())
            .or_default()
            .next_ack
            .fetch_add(1, Ordering::Relaxed)
    }
}

pub(crate) fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Layer for SioLayer {
    type Machine = Connection;
    type Conn = SioConn;

    fn machine(&self, now: Instant, session: Session) -> Option<(Connection, EngineHandshake)> {
        Connection::open(now, session, &self.config.socket, id_generator())
    }

    fn open(
        &self,
        cx: &mut Cx<'_, Self>,
        cell: &Weak<SioCell>,
        handshake: EngineHandshake,
        ctx: RequestCtx<'_>,
    ) -> SioConn {
        let websocket = match handshake.transport {
            TransportId::WebSocket(connection) => Some(connection),
            _ => None,
        };
        self.transport_event(cx, || TransportEvent::Opened {
            client_id: handshake.sid.to_string(),
            transport: match websocket {
                Some(_) => TransportKind::WebSocket,
                None => TransportKind::Polling,
            },
        });
        SioConn {
            http: Arc::new(HttpHandshake::new(ctx.parts, ctx.remote)),
            me: cell.clone(),
            websocket,
            accepting: HashMap::new(),
            recovered: Vec::new(),
            gate: Arc::new(Gate::default()),
            sockets: Vec::new(),
            acks: IdMap::default(),
        }
    }

    fn on_event(&self, st: &mut ConnState<Self>, cx: &mut Cx<'_, Self>, event: ConnEvent) {
        match event {
            ConnEvent::Socket(event) => self.on_socket_event(st, cx, event),
            ConnEvent::Upgraded { connection } => {
                tracing::debug!(sid = %st.session.sid(), "engine.io session upgraded to websocket");
                st.layer.websocket = Some(connection);
                self.probe.upgrade();
                Inner::upgraded(st, connection);
                self.transport_event(cx, || TransportEvent::Upgraded {
                    client_id: st.session.sid().to_string(),
                    transport: TransportKind::WebSocket,
                });
            }
            ConnEvent::Closed { reason } => {
                tracing::debug!(sid = %st.session.sid(), %reason, "engine.io session closed");
                st.layer.gate.close();
                self.transport_event(cx, || TransportEvent::Closed {
                    client_id: st.session.sid().to_string(),
                    reason: reason.to_string(),
                });
            }
            _ => {}
        }
    }

    fn gate(conn: &SioConn) -> &Arc<Gate> {
        &conn.gate
    }

    fn probe(&self) -> &Probe {
        &self.probe
    }

    fn traffic(&self) -> &crate::hooks::TrafficCounters {
        &self.hooks.traffic
    }

    fn on_timer(driver: &Inner, now: Instant) {
        let due: Vec<(String, u64)> = {
            let mut broadcasts = lock(&driver.broadcasts);
            let mut due = Vec::new();
            while let Some((at, _, _)) = broadcasts.deadlines.first() {
                if *at > now {
                    break;
                }
                if let Some((_, nsp, id)) = broadcasts.deadlines.pop_first() {
                    due.push((nsp, id));
                }
            }
            due
        };
        for (nsp, id) in due {
            let members = driver.check_broadcast(now, &nsp, id);
            driver.forget_broadcast_acks(members, id);
        }
    }
}

impl SioLayer {
    fn on_socket_event(&self, st: &mut ConnState<Self>, cx: &mut Cx<'_, Self>, event: SocketEvent) {
        match event {
            SocketEvent::ConnectRequest {
                nsp,
                auth,
                recovery,
            } => super::connect::on_connect_request(st, cx, nsp, auth, recovery),
            SocketEvent::Connected {
                nsp,
                sid,
                pid,
                recovered,
            } => super::connect::connected(st, cx, nsp, sid, pid, recovered),
            SocketEvent::Message {
                sid,
                nsp,
                data,
                ack,
            } => {
                let Some(socket) = st
                    .layer
                    .sockets
                    .iter()
                    .find(|socket| socket.0.id == sid && *socket.0.nsp == *nsp)
                else {
                    return;
                };
                // The payload stays as it came (validated JSON text): its tree is built by the
                // socket's runner when the handler starts, outside the lock, and only then, so
                // events waiting for their handlers cost their wire size.
                socket.incoming(Incoming::Event { data, ack });
            }
            SocketEvent::AckReceived { sid, id, data } => {
                match st.layer.acks.remove(&(sid, id)) {
                    Some(AckTarget::Single(tx)) => {
                        // Read by the waiting emitter, outside the lock.
                        let _ = tx.send(Ok(data));
                    }
                    Some(AckTarget::Broadcast(nsp, id)) => {
                        // One answer that cannot be read counts as an answer without arguments.
                        let args = data.ack_args().unwrap_or_default();
                        let driver = cx.driver;
                        let complete = {
                            let mut broadcasts = lock(&driver.broadcasts);
                            match broadcasts.waits.get_mut(&(nsp.clone(), id)) {
                                Some(waiting) => {
                                    waiting.ack.record(args);
                                    waiting.ack.is_complete()
                                }
                                None => false,
                            }
                        };
                        if complete {
                            let members = driver.check_broadcast(cx.now, &nsp, id);
                            // The other members' connections are locked after this one's.
                            let server = driver.arc();
                            cx.fx.after.push(Box::new(move || {
                                server.forget_broadcast_acks(members, id);
                            }));
                        }
                    }
                    None => {}
                }
            }
            SocketEvent::AckTimedOut { sid, id } => {
                if let Some(AckTarget::Single(tx)) = st.layer.acks.remove(&(sid, id)) {
                    self.probe.ack_timeout(crate::probe::AckKind::Emit);
                    let _ = tx.send(Err(AckError::Timeout));
                }
            }
            SocketEvent::AckCancelled { sid, id } => {
                if let Some(AckTarget::Single(tx)) = st.layer.acks.remove(&(sid, id)) {
                    let _ = tx.send(Err(AckError::Disconnected));
                }
            }
            SocketEvent::Disconnected { sid, nsp, reason } => {
                tracing::debug!(%sid, nsp, %reason, "socket disconnected");
                let Some(at) = st
                    .layer
                    .sockets
                    .iter()
                    .position(|socket| socket.0.id == sid && *socket.0.nsp == *nsp)
                else {
                    return;
                };
                let socket = st.layer.sockets.swap_remove(at);
                self.probe.disconnect(reason);
                let entry = write(&self.nsps)
                    .get_mut(&nsp)
                    .and_then(|ns| ns.sockets.remove(&sid));
                let pid = entry.and_then(|entry| entry.pid);
                socket.0.connected.store(false, Ordering::Release);
                let recoverable = self.config.recovery.is_some() && reason.is_recoverable();
                // The adapter is called after the lock; then the session is saved and the
                // disconnect handlers queued.
                let server = cx.driver.arc();
                cx.fx.after.push(Box::new(move || {
                    let rooms = server.adapter(&nsp).del_all(&sid);
                    *lock(&socket.0.last_rooms) = rooms.clone();
                    if let (true, Some(pid)) = (recoverable, pid) {
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
                // (The connection machine closes its session.)
                match &violation {
                    Some(violation) => {
                        tracing::info!(sid = %st.session.sid(), %reason, %violation, "closing connection")
                    }
                    None => tracing::debug!(sid = %st.session.sid(), %reason, "closing connection"),
                }
            }
            _ => {}
        }
    }
}

/// An event encoded once for every recipient.
pub(super) struct Encoded {
    /// The packet's messages (a text and its attachments, or one msgpack message).
    frames: Vec<Data>,
    /// The same, with their WebSocket frames made once (for plain emits).
    prepared: Vec<PreparedMessage>,
    /// With recovery on, the order of the offset the event carries (its last argument).
    pub(super) offset: Option<(u64, u64)>,
}

impl Encoded {
    /// Encodes `value` as an event of `nsp` (with ack `ack_id`) with the server's parser.
    pub(super) fn new(
        config: &Config,
        nsp: &str,
        value: Value,
        volatile: bool,
        ack_id: Option<u64>,
    ) -> Encoded {
        let offset = match (&config.recovery, &value) {
            (Some(_), Value::Array(items)) => match items.last() {
                Some(Value::String(last)) => offset_order(last),
                _ => None,
            },
            _ => None,
        };
        let mut packet = Packet::event(nsp.to_owned(), Payload::Value(value));
        if let Some(id) = ack_id {
            packet = packet.with_id(id);
        }
        let frames: Vec<Data> = match config.socket.parser {
            Parser::Msgpack => vec![Data::Binary(msgpack::encode(&packet))],
            _ => {
                let encoded = common::encode(&packet, ProtocolVersion::V5);
                std::iter::once(Data::Text(encoded.text))
                    .chain(encoded.attachments.into_iter().map(Data::Binary))
                    .collect()
            }
        };
        // A plain emit goes straight to the engine session with its WebSocket frame encoded
        // once for every recipient (the connection core would only queue it unchanged).
        let prepared = match (ack_id, volatile) {
            (None, false) => frames.iter().cloned().map(PreparedMessage::new).collect(),
            _ => Vec::new(),
        };
        Encoded {
            frames,
            prepared,
            offset,
        }
    }
}

impl NsState {
    /// How many sockets the namespace has on this node.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn socket_count(&self) -> usize {
        self.sockets.len()
    }
}

impl SioConn {
    /// Whether `socket` is one of this connection's connected sockets.
    pub(super) fn has(&self, socket: &Socket) -> bool {
        self.sockets.iter().any(|s| s == socket)
    }
}

/// A plain emit written straight to the connection's WebSocket when nothing else waits before
/// it (no packet held or queued by either machine): the frame goes to the writer without
/// feeding the machines. The outcome (sent, machines fed), or `None` to go the long way.
fn write_direct(
    st: &mut ConnState<SioLayer>,
    now: Instant,
    encoded: &Encoded,
    limits: &crate::Backpressure,
    memo: &mut TextMemo,
    direct: &mut DirectWrites,
) -> Option<(bool, bool)> {
    let [message] = encoded.prepared.as_slice() else {
        return None;
    };
    let (connection, frame) = st.session.direct_frame(message)?;
    let len = frame.len();
    if direct.sample.is_none() {
        direct.sample = Some(frame.clone());
    }
    let message = memo.message(frame)?;
    match st.io.write_message(now, connection, message, len, limits) {
        None => {
            direct.count += 1;
            Some((true, false))
        }
        Some(failed) => {
            // A slow consumer: its session fails (`transport error`).
            let _ = st.session.handle_websocket_gone(
                now,
                failed,
                socketio_protocol::engine::CloseReason::TransportError,
            );
            Some((false, true))
        }
    }
}

/// A broadcast's frames queued straight on WebSocket writers, for the metrics (counted once
/// per broadcast: the frame is the same for every recipient).
#[derive(Default)]
struct DirectWrites {
    count: u64,
    sample: Option<Frame>,
}

/// Queues an encoded event for socket `sid` of connection `st` (with ack `ack_id` for a
/// broadcast with acks of `nsp`). Whether it was queued.
pub(super) fn send_to(
    st: &mut ConnState<SioLayer>,
    nsp: &str,
    sid: &Str,
    encoded: &Encoded,
    volatile: bool,
    ack_id: Option<u64>,
) -> bool {
    let conn = &mut st.session;
    if !encoded.prepared.is_empty() {
        return encoded
            .prepared
            .iter()
            .all(|message| conn.send_prepared(message).is_ok());
    }
    if volatile {
        let busy = conn.session().transport() == TransportKind::WebSocket
            && st
                .layer
                .websocket
                .is_none_or(|c| st.io.writer(c).is_none_or(Writer::is_busy));
        return !busy && conn.send_volatile(&encoded.frames);
    }
    if let Some(id) = ack_id {
        if conn.socket_mut().expect_ack(sid, id, None).is_err() {
            return false;
        }
        st.layer
            .acks
            .insert((sid.clone(), id), AckTarget::Broadcast(nsp.to_owned(), id));
    }
    conn.socket_mut()
        .send_encoded(encoded.frames.iter().cloned())
        .is_ok()
}

impl Inner {
    /// Encodes an event once and queues it for the sockets `targets` (the adapter selected
    /// them and stored it for recovery), each under its own connection's lock; with `ack_id`,
    /// registers the ack on each. The sockets it was queued for.
    pub(super) fn send_event(
        &self,
        nsp: &str,
        targets: &[Str],
        value: Value,
        volatile: bool,
        ack_id: Option<u64>,
    ) -> Vec<Socket> {
        if targets.is_empty() {
            return Vec::new();
        }
        let encoded = Encoded::new(&self.config, nsp, value, volatile, ack_id);
        let sockets: Vec<Socket> = {
            let nsps = read(&self.nsps);
            let Some(ns) = nsps.get(nsp) else {
                return Vec::new();
            };
            targets
                .iter()
                .filter_map(|sid| ns.sockets.get(sid).map(|entry| entry.socket.clone()))
                .collect()
        };
        let mut fx = Effects::default();
        let mut reached = Vec::with_capacity(sockets.len());
        let clock = self.now();
        let mut memo = TextMemo::default();
        let mut direct = DirectWrites::default();
        for socket in sockets {
            let sent = self.drive_at(&socket.0.conn, &mut fx, clock, |st, cx| {
                // Set under this lock when the socket leaves.
                if !socket.connected() {
                    return (false, false);
                }
                if let (Some(order), false) = (encoded.offset, st.layer.recovered.is_empty()) {
                    match st.layer.catchup(&socket.0.id, order, &encoded.frames) {
                        Catchup::Deliver => {}
                        Catchup::Skip => return (false, false),
                        Catchup::Wait => return (true, false),
                    }
                }
                if let Some(written) =
                    write_direct(st, cx.now, &encoded, &self.limits, &mut memo, &mut direct)
                {
                    if !written.0 {
                        self.probe.slow_consumer(Transport::WebSocket);
                    }
                    return written;
                }
                let sent = send_to(st, nsp, &socket.0.id, &encoded, volatile, ack_id);
                if volatile && !sent {
                    self.probe.volatile_drop();
                }
                (sent, true)
            });
            if sent {
                reached.push(socket);
            }
        }
        self.run_effects(fx);
        self.probe.deliveries(reached.len());
        if let Some(frame) = direct.sample.filter(|_| direct.count > 0) {
            let (bytes, binary) = match &frame {
                Frame::Text(text) => (&text.as_bytes()[..], false),
                Frame::Binary(bytes) => (&bytes[..], true),
            };
            self.probe
                .frames(Dir::Out, Transport::WebSocket, bytes, binary, direct.count);
            self.hooks
                .traffic
                .frames(Dir::Out, bytes, binary, direct.count);
        }
        reached
    }

    /// Reports a broadcast-with-ack outcome if it is complete or due; the members whose ack
    /// entries are left to forget.
    pub(super) fn check_broadcast(&self, now: Instant, nsp: &str, id: u64) -> Vec<Socket> {
        let key = (nsp.to_owned(), id);
        let mut broadcasts = lock(&self.broadcasts);
        let Some(waiting) = broadcasts.waits.get_mut(&key) else {
            return Vec::new();
        };
        let outcome = match waiting.ack.poll(now) {
            BroadcastAckStatus::Complete(responses) => (responses, true),
            BroadcastAckStatus::TimedOut(responses) => (responses, false),
            _ => return Vec::new(),
        };
        let Some(waiting) = broadcasts.waits.remove(&key) else {
            return Vec::new();
        };
        if let Some(at) = waiting.ack.poll_timeout() {
            broadcasts.deadlines.remove(&(at, key.0, id));
        }
        drop(broadcasts);
        if let Some(tx) = waiting.tx {
            let _ = tx.send(outcome);
        }
        waiting.members
    }

    /// Forgets the ack entries of a finished broadcast with acks, each under its connection's
    /// lock (no other lock held).
    pub(super) fn forget_broadcast_acks(&self, members: Vec<Socket>, id: u64) {
        for socket in members {
            socket.0.conn.with_state(|st| {
                st.layer.acks.remove(&(socket.0.id.clone(), id));
            });
        }
    }
}
