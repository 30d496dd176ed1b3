//! The state behind the lock and its pump: the Engine.IO core, one `Conn` (a
//! `ServerConnection`, its `Gate`) per session, per namespace its sockets, the acks and
//! broadcasts with acks waiting for answers.
//!
//! After every input or command, `State::pump` drains the cores until nothing moves:
//!
//! ```text
//! loop {
//!     engine.poll_transmit() → Plumbing::on_transmit (answers, WebSocket frames, closes)
//!     engine.poll_event()    → on_engine_event: Opened → a Conn; Message → conn.core;
//!                              Upgraded; Closed → the Conn goes
//!     each dirty Conn        → flush_conn: core.poll_transmit() → engine.send (unless held),
//!                              core.poll_event() → on_socket_event, re-file its timer
//! }
//! ```
//!
//! Socket events: a connect request goes to admission (`connect.rs`), an event to its socket's
//! runner (`Socket::incoming`), an ack to its waiter, a disconnect to the adapter and the
//! runner (after the lock). `send_event` encodes an event once and queues it for every
//! recipient.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_channel::oneshot;
use socketio_protocol::engine::Data;
use socketio_protocol::engine::server::{
    ConnectionId, Event as EngineEvent, PreparedMessage, Server as Engine, TransportId,
};
use socketio_protocol::recovery::SessionRecord;
use socketio_protocol::socket::ack::{BroadcastAck, BroadcastAckStatus};
use socketio_protocol::socket::parser::{common, msgpack};
use socketio_protocol::socket::server::{Event as SocketEvent, Parser, ServerConnection};
use socketio_protocol::socket::{Packet, Payload, ProtocolVersion};
use socketio_protocol::{Instant, Str, Value};

use super::connect::Accepting;
use super::{Inner, RequestCtx};
use crate::fasthash::IdMap;
use crate::flow::Gate;
use crate::handshake::HttpHandshake;
use crate::ids::id_generator;
use crate::namespace::lock;
use crate::plumbing::Plumbing;
use crate::socket::Incoming;
use crate::wsio::Writer;
use crate::{AckError, BoxTask, Socket};

/// One engine session's Socket.IO state.
pub(super) struct Conn {
    pub(super) core: ServerConnection,
    pub(super) http: Arc<HttpHandshake>,
    websocket: Option<ConnectionId>,
    pub(super) armed: Option<Instant>,
    /// Namespaces accepted but whose `Connected` event is not handled yet.
    pub(super) accepting: HashMap<String, Accepting>,
    /// Accepted sockets whose connection handler has not run yet (its synchronous part).
    /// While any is pending, the core's packets wait: the client must not see its CONNECT
    /// before the handler has joined its rooms, or a broadcast made as soon as it sees it
    /// would miss it (the reference runs the handler in the same tick as the CONNECT).
    pub(super) held: u32,
    /// The session's incoming side (backpressure): events waiting for their handlers, and
    /// whoever paused reading.
    pub(super) gate: Arc<Gate>,
}

/// A connected socket of a namespace.
pub(super) struct SocketEntry {
    pub(super) engine_sid: Str,
    pub(super) socket: Socket,
    pub(super) pid: Option<Str>,
}

/// A namespace's sockets on this node, and its ack ids.
#[derive(Default)]
pub(super) struct NsState {
    pub(super) sockets: IdMap<Str, SocketEntry>,
    pub(super) next_ack: u64,
}

pub(super) type AckReply = Result<Payload, AckError>;

/// Who waits for an ack: one emit, or a broadcast with acks (its namespace and id).
pub(super) enum AckTarget {
    Single(oneshot::Sender<AckReply>),
    Broadcast(String, u64),
}

/// A broadcast with acks waiting for its answers.
pub(super) struct BroadcastWait {
    pub(super) ack: BroadcastAck<Vec<Value>>,
    pub(super) tx: Option<oneshot::Sender<(Vec<Vec<Value>>, bool)>>,
    pub(super) members: Vec<Str>,
}

/// Everything behind the server's lock.
pub(super) struct State {
    pub(super) engine: Engine,
    pub(super) conns: IdMap<Str, Conn>,
    pub(super) conn_timers: BTreeSet<(Instant, Str)>,
    pub(super) dirty: Vec<Str>,
    pub(super) nsps: HashMap<String, NsState>,
    pub(super) io: Plumbing,
    pub(super) acks: IdMap<(Str, u64), AckTarget>,
    pub(super) broadcasts: HashMap<(String, u64), BroadcastWait>,
    pub(super) broadcast_timers: BTreeSet<(Instant, String, u64)>,
    pub(super) timer_target: Option<Instant>,
    /// The latest `now` fed to the cores: a clock read before waiting for the lock may be
    /// older, and the cores must never see time go back.
    pub(super) last_now: Instant,
    /// Tasks to spawn once the lock is released.
    pub(super) spawn: Vec<BoxTask>,
    /// Handshakes waiting for `allow_request`, run by the request's caller after the lock.
    pub(super) handshake_checks: Vec<TransportId>,
    /// Calls to make once the lock is released, in order, before the tasks are spawned
    /// (adapter calls: an adapter may call back into the server).
    pub(super) after: Vec<Box<dyn FnOnce() + Send>>,
    limits: crate::Backpressure,
}

impl State {
    pub(super) fn new(engine: Engine, limits: crate::Backpressure) -> State {
        State {
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
        }
    }

    /// Drains every core until nothing moves: engine transmits and events, then the output of
    /// every connection that was touched.
    pub(super) fn pump(&mut self, inner: &Inner, now: Instant, ctx: RequestCtx<'_>) {
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
                        close_slow_session(&mut self.engine, &mut conn.core, now, engine_sid);
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
            } => self.on_connect_request(inner, engine_sid, nsp, auth, recovery),
            SocketEvent::Connected {
                nsp,
                sid,
                pid,
                recovered,
            } => self.connected(inner, engine_sid, nsp, sid, pid, recovered),
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
                // The payload stays as it came (validated JSON text): its tree is built by the
                // socket's runner when the handler starts, outside the lock, and only then, so
                // events waiting for their handlers cost their wire size.
                socket.incoming(Incoming::Event { data, ack });
            }
            SocketEvent::AckReceived { sid, id, data } => {
                match self.acks.remove(&(sid, id)) {
                    Some(AckTarget::Single(tx)) => {
                        // Read by the waiting emitter, outside the lock.
                        let _ = tx.send(Ok(data));
                    }
                    Some(AckTarget::Broadcast(nsp, id)) => {
                        // One answer that cannot be read counts as an answer without arguments.
                        let args = data.ack_args().unwrap_or_default();
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

    pub(super) fn ns_state(&mut self, nsp: &str) -> &mut NsState {
        self.nsps.entry(nsp.to_owned()).or_default()
    }

    /// Encodes an event once and queues it for the sockets `targets` (the adapter selected
    /// them and stored it for recovery); with `ack_id`, registers the ack on each. Returns how
    /// many sockets it was queued for.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn send_event(
        &mut self,
        inner: &Inner,
        now: Instant,
        nsp: &str,
        targets: &[Str],
        value: Value,
        volatile: bool,
        ack_id: Option<u64>,
    ) -> usize {
        // Disjoint borrows: the namespace's sockets are read while sessions are written.
        let State {
            engine,
            conns,
            dirty,
            nsps,
            io,
            acks,
            ..
        } = self;
        let Some(ns) = nsps.get(nsp) else {
            return 0;
        };
        let mut packet = Packet::event(nsp.to_owned(), Payload::Value(value));
        if let Some(id) = ack_id {
            packet = packet.with_id(id);
        }
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
                            close_slow_session(engine, &mut conn.core, now, &entry.engine_sid);
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

    /// Reports a broadcast-with-ack outcome if it is complete or due.
    pub(super) fn check_broadcast(&mut self, now: Instant, nsp: &str, id: u64) {
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
}

/// A polling session whose buffer passed its limit is a slow consumer: its sockets leave now
/// (`transport error`); the engine session ends at its next GET or after the polling close
/// timeout.
fn close_slow_session(engine: &mut Engine, core: &mut ServerConnection, now: Instant, sid: &Str) {
    tracing::warn!(%sid, "polling buffer full: closing the slow session");
    core.handle_engine_closed(now, socketio_protocol::engine::CloseReason::TransportError);
    let _ = engine.close(now, sid);
}
