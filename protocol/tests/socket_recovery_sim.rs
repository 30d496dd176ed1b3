//! Connection state recovery end to end: client managers ([`ClientManager`]) against a server
//! application made of the engine [`Server`], one [`ServerConnection`] per engine session, one
//! [`RoomIndex`] and one [`RecoveryStore`], joined by an in-memory network under one virtual
//! clock (the pattern of `socket_sim.rs`).
//!
//! The application joins each socket to the rooms named in its auth (`{"rooms":[…]}`),
//! broadcasts `["tick", seq]` to rooms (through [`RecoveryStore::store_broadcast`], which
//! appends the offset, then [`RoomIndex::select`]), saves the session of every socket that
//! leaves recoverably, and answers a CONNECT carrying `pid`/`offset` with
//! [`RecoveryStore::restore`] + [`ServerConnection::accept_recovered`] (rejoining the rooms) when
//! it can, [`ServerConnection::accept_connect`] otherwise.
//!
//! Faults cut one client off for a chosen duration: its WebSocket / HTTP requests die (both
//! sides see it) or the network silently drops everything (both sides see a ping timeout), and
//! every delivery to or from it is dropped until the cut ends; it then reconnects with backoff.
//!
//! The property (the recovery window is shortened to 10 s): a client cut off for less than the
//! window receives every broadcast it missed exactly once, in order, with the same socket id and
//! rooms; cut off longer, it gets a fresh session and is told it was not recovered. Short cuts
//! are at most 4 s (+ ≤ 3.5 s of reconnection delay), long ones at least 11 s (detected within
//! 0.5 s), so no cut is near the window's edge. Right before each cut the application
//! broadcasts to everyone, so the cut client's last offset is fresh (a client whose last offset
//! is older than the window cannot be recovered, in the reference too).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use socketio_protocol::engine::client::{
    self, Method as ClientMethod, RequestId as ClientId, TransportKind,
};
use socketio_protocol::engine::server::{
    self, Config, ConnectionId, Method as ServerMethod, RequestHead, RequestId, Server,
};
use socketio_protocol::recovery::{RecoveryConfig, RecoveryStore, SessionRecord};
use socketio_protocol::rooms::{BroadcastOptions, RoomIndex};
use socketio_protocol::socket::client::{ClientManager, Event, ManagerConfig, SocketId};
use socketio_protocol::socket::server::{self as sio, RestoredSession, ServerConnection};
use socketio_protocol::socket::{Packet, Payload};
use socketio_protocol::value::Value;
use socketio_protocol::{Instant, Str};

const PING_INTERVAL: u64 = 300;
const PING_TIMEOUT: u64 = 200;
/// The shortened `maxDisconnectionDuration`.
const WINDOW: u64 = 10_000;
const ROOMS: [&str; 3] = ["r0", "r1", "r2"];
/// Server-side request / connection ids carry the client's index in their top byte.
const CLIENT_SHIFT: u32 = 56;

#[derive(Debug)]
enum Delivery {
    ToServer(client::Transmit),
    ToClient(server::Transmit),
}

/// What a client saw, in order.
#[derive(Debug, Clone, PartialEq)]
enum Log {
    /// A broadcast `["tick", seq, offset]`.
    Tick(u64),
    Connect {
        sid: Str,
        recovered: bool,
    },
    /// A cut started (marker written by the harness); `short` is the expectation.
    Cut {
        short: bool,
    },
}

/// One broadcast of the application.
#[derive(Debug, Clone)]
struct Sent {
    /// Target rooms (empty: everyone).
    rooms: BTreeSet<Str>,
}

struct ClientSide {
    manager: ClientManager,
    socket: SocketId,
    rooms: BTreeSet<Str>,
    log: Vec<Log>,
    partitioned: bool,
}

/// A live socket of the server application.
struct Live {
    engine_sid: Str,
    pid: Option<Str>,
}

struct Sim {
    now: Instant,
    clients: Vec<ClientSide>,
    server: Server,
    sio_config: sio::Config,
    conns: BTreeMap<Str, ServerConnection>,
    rooms: RoomIndex,
    store: RecoveryStore,
    live: BTreeMap<Str, Live>,
    net: VecDeque<Delivery>,
    bodies: Vec<(u64, Bytes)>,
    outstanding_http: BTreeSet<u64>,
    open_ws: BTreeSet<u64>,
    sid_counter: u8,
    sent: Vec<Sent>,
    /// Socket id of each fresh (not recovered) session → broadcasts sent before its accept.
    fresh_at: BTreeMap<Str, u64>,
    restores: usize,
    /// Events sent as missed before a recovered CONNECT reply.
    missed_sent: usize,
}

fn engine_server_config() -> Config {
    Config {
        ping_interval: Duration::from_millis(PING_INTERVAL),
        ping_timeout: Duration::from_millis(PING_TIMEOUT),
        path: Str::from("/socket.io/"),
        ..Config::default()
    }
}

fn manager_config(transports: Vec<TransportKind>, seed: u64) -> ManagerConfig {
    let mut config = ManagerConfig::default();
    config.engine.transports = transports;
    config.reconnection_delay = Duration::from_millis(500);
    config.reconnection_delay_max = Duration::from_millis(2000);
    config.timeout = Some(Duration::from_millis(1500));
    config.seed = seed;
    config
}

fn rooms_auth(rooms: &BTreeSet<Str>) -> Value {
    let list = rooms.iter().map(|r| Value::from(r.as_str())).collect();
    Value::Object(vec![(String::from("rooms"), Value::Array(list))])
}

fn auth_rooms(auth: Option<&Payload>) -> BTreeSet<Str> {
    let Some(value) = auth.and_then(|a| a.to_value().ok()) else {
        return BTreeSet::new();
    };
    let Some(Value::Array(items)) = value.get("rooms") else {
        return BTreeSet::new();
    };
    items
        .iter()
        .filter_map(Value::as_str)
        .map(|r| Str::from(String::from(r)))
        .collect()
}

fn tick_seq(data: &Payload) -> u64 {
    let value = data.to_value().unwrap();
    let items = value.as_array().unwrap();
    assert_eq!(items.len(), 3, "tick with its offset: {value:?}");
    assert_eq!(items[0], Value::from("tick"));
    assert!(
        matches!(items[2], Value::String(_)),
        "offset last: {value:?}"
    );
    let Value::Number(n) = &items[1] else {
        panic!("bad tick {value:?}")
    };
    n.as_u64().unwrap()
}

impl Sim {
    fn new(clients: Vec<(BTreeSet<Str>, Vec<TransportKind>)>, seed: u64) -> Sim {
        let mut counter = 0u8;
        let server = Server::new(engine_server_config(), move || {
            counter = counter.wrapping_add(1);
            [counter; 15]
        });
        let mut pid_counter = 0u8;
        let store = RecoveryStore::new(
            RecoveryConfig {
                max_disconnection_duration: Duration::from_millis(WINDOW),
                ..RecoveryConfig::default()
            },
            move || {
                pid_counter = pid_counter.wrapping_add(1);
                [pid_counter; 15]
            },
        );
        let mut sim = Sim {
            now: Instant::ZERO,
            clients: Vec::new(),
            server,
            sio_config: sio::Config {
                recovery: true,
                ..sio::Config::default()
            },
            conns: BTreeMap::new(),
            rooms: RoomIndex::new(),
            store,
            live: BTreeMap::new(),
            net: VecDeque::new(),
            bodies: Vec::new(),
            outstanding_http: BTreeSet::new(),
            open_ws: BTreeSet::new(),
            sid_counter: 0,
            sent: Vec::new(),
            fresh_at: BTreeMap::new(),
            restores: 0,
            missed_sent: 0,
        };
        for (i, (rooms, transports)) in clients.into_iter().enumerate() {
            let config = manager_config(transports, seed.wrapping_add(i as u64));
            let mut manager = ClientManager::new(config).unwrap();
            let socket = manager
                .open_socket(sim.now, "/", Some(rooms_auth(&rooms)))
                .unwrap();
            sim.clients.push(ClientSide {
                manager,
                socket,
                rooms,
                log: Vec::new(),
                partitioned: false,
            });
        }
        sim.pump();
        sim
    }

    fn collect(&mut self) {
        for (c, client) in self.clients.iter_mut().enumerate() {
            while let Some(mut transmit) = client.manager.poll_transmit() {
                let tag = |id: &mut ClientId| {
                    assert!(id.0 < 1 << CLIENT_SHIFT, "request id too large");
                    id.0 |= (c as u64) << CLIENT_SHIFT;
                };
                match &mut transmit {
                    client::Transmit::Http { id, .. }
                    | client::Transmit::OpenWebSocket { id, .. }
                    | client::Transmit::WsFrame { id, .. }
                    | client::Transmit::CloseWebSocket { id } => tag(id),
                    other => panic!("unknown client transmit {other:?}"),
                }
                self.net.push_back(Delivery::ToServer(transmit));
            }
            while let Some(event) = client.manager.poll_event() {
                match event {
                    Event::Event { data, ack, .. } => {
                        assert!(ack.is_none());
                        client.log.push(Log::Tick(tick_seq(&data)));
                    }
                    Event::Connect { sid, recovered, .. } => {
                        client.log.push(Log::Connect { sid, recovered });
                    }
                    Event::ConnectError {
                        data: Some(data), ..
                    } => {
                        panic!("refused by the server: {data:?}")
                    }
                    _ => {}
                }
            }
        }
        while let Some(event) = self.server.poll_event() {
            match event {
                server::Event::Opened(handshake) => {
                    self.sid_counter = self.sid_counter.wrapping_add(1);
                    let byte = self.sid_counter;
                    let conn = ServerConnection::new(
                        self.now,
                        &self.sio_config,
                        handshake.sid.clone(),
                        socketio_protocol::engine::ProtocolVersion::V4,
                        move || [byte; 15],
                    );
                    self.conns.insert(handshake.sid, conn);
                }
                server::Event::Message { sid, data } => {
                    if let Some(conn) = self.conns.get_mut(&sid) {
                        conn.handle_message(self.now, data);
                    }
                    self.run_app(&sid);
                }
                server::Event::Closed { sid, reason } => {
                    if let Some(conn) = self.conns.get_mut(&sid) {
                        conn.handle_engine_closed(self.now, reason);
                    }
                    self.run_app(&sid);
                    self.conns.remove(&sid);
                }
                _ => {}
            }
        }
        let sids: Vec<Str> = self.conns.keys().cloned().collect();
        for sid in sids {
            self.run_app(&sid);
        }
        while let Some(transmit) = self.server.poll_transmit() {
            self.net.push_back(Delivery::ToClient(transmit));
        }
    }

    /// The server application for one engine session.
    fn run_app(&mut self, engine_sid: &Str) {
        let Some(conn) = self.conns.get_mut(engine_sid) else {
            return;
        };
        let mut close = false;
        while let Some(event) = conn.poll_event() {
            match event {
                sio::Event::ConnectRequest {
                    nsp,
                    auth,
                    recovery,
                } => {
                    let wanted = auth_rooms(auth.as_ref());
                    let restored =
                        recovery.and_then(|r| self.store.restore(self.now, &r.pid, &r.offset).ok());
                    match restored {
                        Some(restored) => {
                            self.restores += 1;
                            let mut expected = wanted.clone();
                            expected.insert(restored.sid.clone());
                            assert_eq!(restored.rooms, expected, "restored rooms");
                            let missed: Vec<Payload> = restored
                                .missed
                                .into_iter()
                                .map(|p| p.data.expect("an event has data"))
                                .collect();
                            self.missed_sent += missed.len();
                            let session = RestoredSession {
                                sid: restored.sid.clone(),
                                pid: restored.pid,
                                missed,
                            };
                            let sid = conn.accept_recovered(&nsp, session).unwrap();
                            assert_eq!(sid, restored.sid);
                            self.rooms.join_many(sid, restored.rooms);
                        }
                        None => {
                            let sid = conn.accept_connect(&nsp).unwrap();
                            self.fresh_at.insert(sid.clone(), self.sent.len() as u64);
                            self.rooms.connect(sid.clone());
                            self.rooms.join_many(sid, wanted);
                        }
                    }
                }
                sio::Event::Connected { sid, pid, .. } => {
                    assert!(pid.is_some(), "recovery on: the reply carries a pid");
                    let previous = self.live.insert(
                        sid,
                        Live {
                            engine_sid: engine_sid.clone(),
                            pid,
                        },
                    );
                    assert!(previous.is_none(), "socket id reused while live");
                }
                sio::Event::Disconnected { sid, reason, .. } => {
                    let live = self.live.remove(&sid).expect("a live socket left");
                    let rooms: BTreeSet<Str> = self.rooms.rooms_of(&sid).cloned().collect();
                    self.rooms.leave_all(&sid);
                    let record = SessionRecord {
                        sid,
                        pid: live.pid.unwrap(),
                        rooms,
                        data: Value::Null,
                    };
                    self.store.save_session(self.now, reason, record);
                }
                sio::Event::CloseConnection { violation, .. } => {
                    assert!(
                        violation.is_none(),
                        "the client broke the protocol: {violation:?}"
                    );
                    close = true;
                }
                sio::Event::Message { .. } => panic!("clients emit nothing"),
                _ => {}
            }
        }
        while let Some(data) = conn.poll_transmit() {
            let _ = self.server.send(engine_sid, data);
        }
        if close {
            let _ = self.server.close(self.now, engine_sid);
        }
    }

    /// `["tick", seq]` to `rooms` (everyone when empty), through the recovery store.
    fn broadcast(&mut self, rooms: BTreeSet<Str>) {
        let seq = self.sent.len() as u64;
        let mut opts = BroadcastOptions::new();
        for room in &rooms {
            opts = opts.to(room.clone());
        }
        let mut packet = Packet::event("/", Value::Array(vec!["tick".into(), Value::from(seq)]));
        let offset = self
            .store
            .store_broadcast(self.now, &mut packet, false, &opts);
        assert!(offset.is_some(), "a plain event is stored");
        let data = packet.data.unwrap();
        let targets: Vec<Str> = self.rooms.select(&opts).cloned().collect();
        let mut touched = BTreeSet::new();
        for sid in targets {
            let engine_sid = self.live[&sid].engine_sid.clone();
            self.conns
                .get_mut(&engine_sid)
                .unwrap()
                .emit(&sid, data.clone())
                .unwrap();
            touched.insert(engine_sid);
        }
        self.sent.push(Sent { rooms });
        for engine_sid in touched {
            self.run_app(&engine_sid);
        }
        self.pump();
    }

    fn client_of(id: u64) -> usize {
        (id >> CLIENT_SHIFT) as usize
    }

    fn pump(&mut self) {
        for _ in 0..100_000 {
            self.collect();
            let Some(delivery) = self.net.pop_front() else {
                return;
            };
            let client = match &delivery {
                Delivery::ToServer(
                    client::Transmit::Http { id, .. }
                    | client::Transmit::OpenWebSocket { id, .. }
                    | client::Transmit::WsFrame { id, .. }
                    | client::Transmit::CloseWebSocket { id },
                ) => Self::client_of(id.0),
                Delivery::ToClient(
                    server::Transmit::ReadBody { request, .. }
                    | server::Transmit::Response { request, .. }
                    | server::Transmit::Abort { request },
                ) => Self::client_of(request.0),
                Delivery::ToClient(
                    server::Transmit::AcceptWebSocket { connection, .. }
                    | server::Transmit::RefuseWebSocket { connection, .. }
                    | server::Transmit::Frame { connection, .. }
                    | server::Transmit::Heartbeat { connection, .. }
                    | server::Transmit::CloseWebSocket { connection },
                ) => Self::client_of(connection.0),
                other => panic!("unknown delivery {other:?}"),
            };
            if self.clients[client].partitioned {
                continue;
            }
            self.deliver(client, delivery);
        }
        panic!("the network never went idle");
    }

    fn deliver(&mut self, c: usize, delivery: Delivery) {
        let now = self.now;
        let local = |id: u64| ClientId(id & ((1 << CLIENT_SHIFT) - 1));
        let manager = &mut self.clients[c].manager;
        match delivery {
            Delivery::ToServer(client::Transmit::Http {
                id,
                method,
                path_and_query,
                body,
                content_type,
            }) => {
                let method = match method {
                    ClientMethod::Get => ServerMethod::Get,
                    ClientMethod::Post => ServerMethod::Post,
                    _ => unreachable!(),
                };
                let mut head = RequestHead::from_target(method, &path_and_query);
                if let Some(content_type) = content_type {
                    head = head.with_content_type(content_type);
                }
                if method == ServerMethod::Post {
                    self.bodies.push((id.0, body));
                }
                self.outstanding_http.insert(id.0);
                self.server
                    .handle_request(now, RequestId(id.0), head)
                    .expect("fresh request id");
            }
            Delivery::ToServer(client::Transmit::OpenWebSocket { id, path_and_query }) => {
                self.open_ws.insert(id.0);
                let head = RequestHead::from_target(ServerMethod::Get, &path_and_query);
                self.server
                    .handle_websocket(now, ConnectionId(id.0), head)
                    .expect("fresh connection id");
            }
            Delivery::ToServer(client::Transmit::WsFrame { id, frame }) => {
                if self.open_ws.contains(&id.0) {
                    let _ = self.server.handle_frame(now, ConnectionId(id.0), frame);
                }
            }
            Delivery::ToServer(client::Transmit::CloseWebSocket { id }) => {
                if self.open_ws.remove(&id.0) {
                    let _ = self.server.handle_websocket_closed(now, ConnectionId(id.0));
                }
            }
            Delivery::ToServer(other) => panic!("unknown client transmit {other:?}"),
            Delivery::ToClient(server::Transmit::ReadBody { request, .. }) => {
                if let Some(index) = self.bodies.iter().position(|(id, _)| *id == request.0) {
                    let (_, body) = self.bodies.swap_remove(index);
                    let _ = self.server.handle_request_body(now, request, body);
                }
            }
            Delivery::ToClient(server::Transmit::Response { request, response }) => {
                self.outstanding_http.remove(&request.0);
                manager.handle_http_response(now, local(request.0), response.status, response.body);
            }
            Delivery::ToClient(server::Transmit::Abort { request }) => {
                self.outstanding_http.remove(&request.0);
                manager.handle_http_error(now, local(request.0));
            }
            Delivery::ToClient(server::Transmit::AcceptWebSocket { connection, .. }) => {
                if self.open_ws.contains(&connection.0) {
                    manager.handle_ws_opened(now, local(connection.0));
                }
            }
            Delivery::ToClient(server::Transmit::RefuseWebSocket { connection, .. }) => {
                if self.open_ws.remove(&connection.0) {
                    manager.handle_ws_closed(now, local(connection.0));
                }
            }
            Delivery::ToClient(
                server::Transmit::Frame { connection, frame }
                | server::Transmit::Heartbeat { connection, frame },
            ) => {
                if self.open_ws.contains(&connection.0) {
                    manager.handle_ws_frame(now, local(connection.0), frame);
                }
            }
            Delivery::ToClient(server::Transmit::CloseWebSocket { connection }) => {
                if self.open_ws.remove(&connection.0) {
                    manager.handle_ws_closed(now, local(connection.0));
                }
            }
            Delivery::ToClient(other) => panic!("unknown server transmit {other:?}"),
        }
    }

    fn next_timer(&self) -> Option<Instant> {
        let mut all = vec![self.server.poll_timeout(), self.store.poll_timeout()];
        all.extend(self.clients.iter().map(|c| c.manager.poll_timeout()));
        all.extend(self.conns.values().map(ServerConnection::poll_timeout));
        all.into_iter().flatten().min()
    }

    fn advance_to(&mut self, until: Instant) {
        self.pump();
        for _ in 0..1_000_000 {
            match self.next_timer() {
                Some(at) if at <= until => {
                    self.now = self.now.max(at);
                    let now = self.now;
                    for client in &mut self.clients {
                        client.manager.handle_timeout(now);
                    }
                    self.server.handle_timeout(now);
                    self.store.handle_timeout(now);
                    let sids: Vec<Str> = self.conns.keys().cloned().collect();
                    for sid in sids {
                        self.conns.get_mut(&sid).unwrap().handle_timeout(now);
                        self.run_app(&sid);
                    }
                    self.pump();
                }
                _ => {
                    self.now = self.now.max(until);
                    return;
                }
            }
        }
        panic!("timers never settled");
    }

    fn advance(&mut self, millis: u64) {
        self.advance_to(self.now + Duration::from_millis(millis));
    }

    fn connects(&self, c: usize) -> usize {
        self.clients[c]
            .log
            .iter()
            .filter(|l| matches!(l, Log::Connect { .. }))
            .count()
    }

    /// Runs until client `c` has `count` connects (or panics after a minute).
    fn wait_connects(&mut self, c: usize, count: usize) {
        for _ in 0..600 {
            if self.connects(c) >= count {
                return;
            }
            self.advance(100);
        }
        panic!("client {c} never reconnected: {:?}", self.clients[c].log);
    }

    /// Cuts client `c` off for `millis`: its transports die at once (`drop`) or the network
    /// silently drops its traffic; then heals and waits for its reconnection.
    fn cut(&mut self, c: usize, drop: bool, millis: u64, during: &[(u64, Target)]) {
        let short = millis < WINDOW;
        let before = self.connects(c);
        self.clients[c].log.push(Log::Cut { short });
        let end = self.now + Duration::from_millis(millis);
        if drop {
            let now = self.now;
            let mine = |id: &u64| Self::client_of(*id) == c;
            let local = |id: u64| ClientId(id & ((1 << CLIENT_SHIFT) - 1));
            let ws: Vec<u64> = self.open_ws.iter().copied().filter(mine).collect();
            for id in ws {
                self.open_ws.remove(&id);
                self.clients[c].manager.handle_ws_closed(now, local(id));
                let _ = self.server.handle_websocket_closed(now, ConnectionId(id));
            }
            let http: Vec<u64> = self.outstanding_http.iter().copied().filter(mine).collect();
            for id in http {
                self.outstanding_http.remove(&id);
                self.clients[c].manager.handle_http_error(now, local(id));
                let _ = self.server.handle_request_aborted(now, RequestId(id));
            }
        }
        self.clients[c].partitioned = true;
        self.pump();
        for (gap, target) in during {
            let at = (self.now + Duration::from_millis(*gap)).min(end);
            self.advance_to(at);
            let rooms = target.rooms();
            self.broadcast(rooms);
        }
        self.advance_to(end);
        self.clients[c].partitioned = false;
        self.pump();
        self.wait_connects(c, before + 1);
    }

    /// Checks the property for every client.
    fn check(&self) {
        for (c, client) in self.clients.iter().enumerate() {
            let matching: Vec<u64> = self
                .sent
                .iter()
                .enumerate()
                .filter(|(_, s)| s.rooms.is_empty() || !s.rooms.is_disjoint(&client.rooms))
                .map(|(i, _)| i as u64)
                .collect();
            let context = || format!("client {c}: log {:?}\nmatching {matching:?}", client.log);
            let mut last: Option<u64> = None;
            // Broadcasts before this count may be lost: a fresh session started after them.
            let mut excused_below = 0u64;
            let mut sid: Option<Str> = None;
            let mut expect: Option<bool> = None;
            let check_gap = |last: Option<u64>, upto: u64, excused_below: u64| {
                for &b in &matching {
                    if last.is_none_or(|l| b > l) && b < upto {
                        assert!(b < excused_below, "missed broadcast {b}; {}", context());
                    }
                }
            };
            for entry in &client.log {
                match entry {
                    Log::Tick(seq) => {
                        assert!(matching.contains(seq), "not for its rooms; {}", context());
                        assert!(
                            last.is_none_or(|l| *seq > l),
                            "duplicate or out of order {seq}; {}",
                            context()
                        );
                        check_gap(last, *seq, excused_below);
                        last = Some(*seq);
                        excused_below = 0;
                    }
                    Log::Cut { short } => {
                        assert!(expect.is_none(), "two cuts without a reconnect");
                        expect = Some(*short);
                    }
                    Log::Connect {
                        sid: new,
                        recovered,
                    } => {
                        match (sid.as_ref(), expect.take()) {
                            (None, None) => assert!(!recovered, "first connect"),
                            (Some(old), Some(short)) => {
                                assert_eq!(
                                    *recovered,
                                    short,
                                    "recovered iff cut shorter than the window; {}",
                                    context()
                                );
                                if short {
                                    assert_eq!(old, new, "same socket id; {}", context());
                                } else {
                                    assert_ne!(old, new, "fresh socket id; {}", context());
                                }
                            }
                            _ => panic!("unexpected connect; {}", context()),
                        }
                        if !recovered {
                            excused_below = excused_below.max(self.fresh_at[new]);
                        }
                        sid = Some(new.clone());
                    }
                }
            }
            assert!(expect.is_none(), "cut without reconnect; {}", context());
            check_gap(last, u64::MAX, excused_below);
            // The live socket is in its rooms.
            let sid = sid.expect("connected");
            let mut rooms = client.rooms.clone();
            rooms.insert(sid.clone());
            let actual: BTreeSet<Str> = self.rooms.rooms_of(&sid).cloned().collect();
            assert_eq!(actual, rooms, "client {c}'s rooms on the server");
            assert_eq!(client.manager.sid(client.socket), Some(&sid));
            assert!(client.manager.is_connected(client.socket));
        }
    }

    /// The broadcasts client `c` should get, in order.
    fn matching(&self, c: usize) -> Vec<u64> {
        let rooms = &self.clients[c].rooms;
        (0..self.sent.len() as u64)
            .filter(|&i| {
                let s = &self.sent[i as usize];
                s.rooms.is_empty() || !s.rooms.is_disjoint(rooms)
            })
            .collect()
    }

    fn ticks(&self, c: usize) -> Vec<u64> {
        self.clients[c]
            .log
            .iter()
            .filter_map(|l| match l {
                Log::Tick(seq) => Some(*seq),
                _ => None,
            })
            .collect()
    }

    fn connect_log(&self, c: usize) -> Vec<(Str, bool)> {
        self.clients[c]
            .log
            .iter()
            .filter_map(|l| match l {
                Log::Connect { sid, recovered } => Some((sid.clone(), *recovered)),
                _ => None,
            })
            .collect()
    }
}

/// Where a broadcast goes.
#[derive(Debug, Clone, Copy)]
enum Target {
    All,
    /// A non-empty subset of [`ROOMS`] as a bit mask.
    Rooms(u8),
}

impl Target {
    fn rooms(self) -> BTreeSet<Str> {
        match self {
            Target::All => BTreeSet::new(),
            Target::Rooms(mask) => mask_rooms(mask),
        }
    }
}

fn mask_rooms(mask: u8) -> BTreeSet<Str> {
    ROOMS
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, r)| Str::from(*r))
        .collect()
}

#[derive(Debug, Clone)]
enum Step {
    Broadcast(Target),
    Advance(u64),
}

#[derive(Debug, Clone)]
struct Cut {
    client: usize,
    drop: bool,
    millis: u64,
    before: Vec<Step>,
    during: Vec<(u64, Target)>,
}

#[derive(Debug, Clone)]
struct Plan {
    /// Each client's rooms (mask) and transports.
    clients: Vec<(u8, Vec<TransportKind>)>,
    seed: u64,
    cuts: Vec<Cut>,
}

fn run(plan: &Plan) -> Sim {
    let clients = plan
        .clients
        .iter()
        .map(|(mask, transports)| (mask_rooms(*mask), transports.clone()))
        .collect();
    let mut sim = Sim::new(clients, plan.seed);
    for c in 0..sim.clients.len() {
        sim.wait_connects(c, 1);
    }
    sim.advance(500);
    for cut in &plan.cuts {
        for step in &cut.before {
            match step {
                Step::Broadcast(target) => sim.broadcast(target.rooms()),
                Step::Advance(millis) => sim.advance(*millis),
            }
        }
        // Everyone's last offset is fresh when the cut starts.
        sim.broadcast(BTreeSet::new());
        let client = cut.client % sim.clients.len();
        sim.cut(client, cut.drop, cut.millis, &cut.during);
        sim.broadcast(BTreeSet::new());
        sim.advance(1000);
    }
    sim.broadcast(BTreeSet::new());
    sim.advance(2000);
    sim.check();
    sim
}

fn ws() -> Vec<TransportKind> {
    vec![TransportKind::WebSocket]
}

fn polling() -> Vec<TransportKind> {
    vec![TransportKind::Polling]
}

fn upgrade() -> Vec<TransportKind> {
    vec![TransportKind::Polling, TransportKind::WebSocket]
}

/// Two clients, in r0 and r1; client 0 is cut for `millis` while six broadcasts go to r0, r1
/// and everyone.
fn two_clients_plan(transports: Vec<TransportKind>, drop: bool, millis: u64) -> Plan {
    let during = vec![
        (200, Target::Rooms(0b001)),
        (200, Target::Rooms(0b010)),
        (300, Target::All),
        (100, Target::Rooms(0b001)),
        (400, Target::Rooms(0b011)),
        (5000, Target::Rooms(0b001)),
    ];
    Plan {
        clients: vec![(0b001, transports.clone()), (0b010, transports)],
        seed: 1,
        cuts: vec![Cut {
            client: 0,
            drop,
            millis,
            before: vec![Step::Broadcast(Target::Rooms(0b001)), Step::Advance(700)],
            during,
        }],
    }
}

#[test]
fn a_short_cut_websocket_drop_is_recovered_with_every_missed_broadcast() {
    let sim = run(&two_clients_plan(ws(), true, 3000));
    assert_eq!(sim.ticks(0), sim.matching(0));
    assert_eq!(sim.ticks(1), sim.matching(1));
    let connects = sim.connect_log(0);
    assert_eq!(connects.len(), 2);
    assert_eq!(connects[1], (connects[0].0.clone(), true));
    assert_eq!(sim.restores, 1);
    assert!(sim.missed_sent >= 4, "missed events came from the store");
}

#[test]
fn a_short_silent_cut_over_polling_is_recovered() {
    let sim = run(&two_clients_plan(polling(), false, 2500));
    assert_eq!(sim.ticks(0), sim.matching(0));
    let connects = sim.connect_log(0);
    assert_eq!(connects[1], (connects[0].0.clone(), true));
    assert!(sim.missed_sent >= 4, "missed events came from the store");
}

#[test]
fn a_short_silent_cut_after_an_upgrade_is_recovered() {
    let sim = run(&two_clients_plan(upgrade(), false, 4000));
    assert_eq!(sim.ticks(0), sim.matching(0));
    assert_eq!(sim.ticks(1), sim.matching(1));
}

#[test]
fn a_long_cut_gets_a_fresh_session_not_recovered() {
    let sim = run(&two_clients_plan(ws(), true, 13_000));
    let connects = sim.connect_log(0);
    assert_eq!(connects.len(), 2);
    assert!(!connects[1].1, "not recovered");
    assert_ne!(connects[1].0, connects[0].0, "new socket id");
    assert_eq!(sim.restores, 0);
    // The broadcasts of the cut are lost; the ones after the new session arrive.
    let ticks = sim.ticks(0);
    let matching = sim.matching(0);
    assert!(ticks.len() < matching.len());
    let fresh = sim.fresh_at[&connects[1].0];
    let after: Vec<u64> = matching.iter().copied().filter(|&b| b >= fresh).collect();
    assert!(!after.is_empty());
    assert!(ticks.ends_with(&after), "{ticks:?} / {after:?}");
    assert_eq!(sim.ticks(1), sim.matching(1));
}

#[test]
fn a_long_silent_cut_over_polling_gets_a_fresh_session() {
    let sim = run(&two_clients_plan(polling(), false, 12_000));
    let connects = sim.connect_log(0);
    assert!(!connects[1].1);
    assert_ne!(connects[1].0, connects[0].0);
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        1 => Just(Target::All),
        3 => (1u8..8).prop_map(Target::Rooms),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => target().prop_map(Step::Broadcast),
        1 => (0u64..3000).prop_map(Step::Advance),
    ]
}

fn transports() -> impl Strategy<Value = Vec<TransportKind>> {
    prop_oneof![Just(ws()), Just(polling()), Just(upgrade())]
}

fn cut() -> impl Strategy<Value = Cut> {
    (
        0usize..3,
        any::<bool>(),
        prop_oneof![1000u64..4000, 11_000u64..16_000],
        proptest::collection::vec(step(), 0..4),
        proptest::collection::vec((0u64..3000, target()), 0..5),
    )
        .prop_map(|(client, drop, millis, before, during)| Cut {
            client,
            drop,
            millis,
            before,
            during,
        })
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        proptest::collection::vec((1u8..8, transports()), 1..4),
        any::<u64>(),
        proptest::collection::vec(cut(), 1..4),
    )
        .prop_map(|(clients, seed, cuts)| Plan {
            clients,
            seed,
            cuts,
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed_2ec0_0e42),
        ..ProptestConfig::default()
    })]

    #[test]
    fn recovery_delivers_every_missed_broadcast_once_in_order_within_the_window(plan in plan()) {
        run(&plan);
    }
}
