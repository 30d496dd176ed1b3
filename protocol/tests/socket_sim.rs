//! A simulated Socket.IO pair: the client manager ([`ClientManager`]) against the engine server
//! plus one [`ServerConnection`] per engine session, joined by an in-memory network under one
//! virtual clock (the pattern of `engine_sim.rs`).
//!
//! The network is a FIFO of deliveries with no latency; time only moves when everything is
//! idle, to the earliest timer. Faults are scheduled at random: a WebSocket or an HTTP request
//! dies, the server closes the session, or the network goes silent for a while. The property:
//! with `retries`, every emit reaches the server at least once and in order.

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
use socketio_protocol::socket::Payload;
use socketio_protocol::socket::client::{
    ClientManager, EmitOptions, Event, ManagerConfig, SocketId,
};
use socketio_protocol::socket::server::{self as sio, ServerConnection};
use socketio_protocol::value::Value;
use socketio_protocol::{Instant, Str};

const PING_INTERVAL: u64 = 300;
const PING_TIMEOUT: u64 = 200;

#[derive(Debug)]
enum Delivery {
    ToServer(client::Transmit),
    ToClient(server::Transmit),
}

struct Sim {
    now: Instant,
    manager: ClientManager,
    server: Server,
    sio_config: sio::Config,
    conns: BTreeMap<Str, ServerConnection>,
    net: VecDeque<Delivery>,
    bodies: Vec<(u64, Bytes)>,
    outstanding_http: BTreeSet<u64>,
    open_ws: BTreeSet<u64>,
    partitioned: bool,
    /// Event indices the server received, in order, duplicates included.
    received: Vec<u64>,
    client_events: Vec<Event>,
    sid_counter: u8,
    /// The server application leaves the next event unanswered.
    ignore_next: bool,
    /// The server crashes (closes the session) right after receiving the next event.
    crash_next: bool,
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
    config.retries = Some(u32::MAX - 1);
    config.ack_timeout = Some(Duration::from_millis(1000));
    config.seed = seed;
    config
}

impl Sim {
    fn new(config: ManagerConfig) -> Sim {
        let mut counter = 0u8;
        let server = Server::new(engine_server_config(), move || {
            counter = counter.wrapping_add(1);
            [counter; 15]
        });
        Sim {
            now: Instant::ZERO,
            manager: ClientManager::new(config).unwrap(),
            server,
            sio_config: sio::Config::default(),
            conns: BTreeMap::new(),
            net: VecDeque::new(),
            bodies: Vec::new(),
            outstanding_http: BTreeSet::new(),
            open_ws: BTreeSet::new(),
            partitioned: false,
            received: Vec::new(),
            client_events: Vec::new(),
            sid_counter: 0,
            ignore_next: false,
            crash_next: false,
        }
    }

    fn collect(&mut self) {
        while let Some(transmit) = self.manager.poll_transmit() {
            self.net.push_back(Delivery::ToServer(transmit));
        }
        while let Some(event) = self.manager.poll_event() {
            self.client_events.push(event);
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
                }
                server::Event::Closed { sid, reason } => {
                    if let Some(mut conn) = self.conns.remove(&sid) {
                        conn.handle_engine_closed(self.now, reason);
                        while conn.poll_event().is_some() {}
                    }
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

    /// The server application: accept every namespace, ack every event, record its index.
    fn run_app(&mut self, engine_sid: &Str) {
        let Some(conn) = self.conns.get_mut(engine_sid) else {
            return;
        };
        let mut close = false;
        while let Some(event) = conn.poll_event() {
            match event {
                sio::Event::ConnectRequest { nsp, .. } => {
                    conn.accept_connect(&nsp).unwrap();
                }
                sio::Event::Message { sid, data, ack, .. } => {
                    let value = data.to_value().unwrap();
                    let index = value.as_array().unwrap()[1].clone();
                    let Value::Number(n) = index else {
                        panic!("bad event {value:?}")
                    };
                    self.received.push(n.as_u64().unwrap());
                    let id = ack.expect("retries always request an ack");
                    if std::mem::take(&mut self.crash_next) {
                        close = true;
                    } else if !std::mem::take(&mut self.ignore_next) {
                        conn.ack(&sid, id, Payload::Value(Value::Array(vec![])))
                            .unwrap();
                    }
                }
                sio::Event::CloseConnection { violation, .. } => {
                    assert!(
                        violation.is_none(),
                        "the client broke the protocol: {violation:?}"
                    );
                    close = true;
                }
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

    fn pump(&mut self) {
        for _ in 0..100_000 {
            self.collect();
            let Some(delivery) = self.net.pop_front() else {
                return;
            };
            if self.partitioned {
                continue;
            }
            self.deliver(delivery);
        }
        panic!("the pair never went idle");
    }

    fn deliver(&mut self, delivery: Delivery) {
        let now = self.now;
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
                self.manager.handle_http_response(
                    now,
                    ClientId(request.0),
                    response.status,
                    response.body,
                );
            }
            Delivery::ToClient(server::Transmit::Abort { request }) => {
                self.outstanding_http.remove(&request.0);
                self.manager.handle_http_error(now, ClientId(request.0));
            }
            Delivery::ToClient(server::Transmit::AcceptWebSocket { connection, .. }) => {
                if self.open_ws.contains(&connection.0) {
                    self.manager.handle_ws_opened(now, ClientId(connection.0));
                }
            }
            Delivery::ToClient(server::Transmit::RefuseWebSocket { connection, .. }) => {
                if self.open_ws.remove(&connection.0) {
                    self.manager.handle_ws_closed(now, ClientId(connection.0));
                }
            }
            Delivery::ToClient(
                server::Transmit::Frame { connection, frame }
                | server::Transmit::Heartbeat { connection, frame },
            ) => {
                if self.open_ws.contains(&connection.0) {
                    self.manager
                        .handle_ws_frame(now, ClientId(connection.0), frame);
                }
            }
            Delivery::ToClient(server::Transmit::CloseWebSocket { connection }) => {
                if self.open_ws.remove(&connection.0) {
                    self.manager.handle_ws_closed(now, ClientId(connection.0));
                }
            }
            Delivery::ToClient(other) => panic!("unknown server transmit {other:?}"),
        }
    }

    fn next_timer(&self) -> Option<Instant> {
        let mut all = vec![self.manager.poll_timeout(), self.server.poll_timeout()];
        all.extend(self.conns.values().map(ServerConnection::poll_timeout));
        all.into_iter().flatten().min()
    }

    fn advance_to(&mut self, until: Instant) {
        self.pump();
        for _ in 0..1_000_000 {
            match self.next_timer() {
                Some(at) if at <= until => {
                    self.now = self.now.max(at);
                    self.manager.handle_timeout(self.now);
                    self.server.handle_timeout(self.now);
                    for conn in self.conns.values_mut() {
                        conn.handle_timeout(self.now);
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

    fn emit(&mut self, socket: SocketId, index: u64) {
        let data = Value::Array(vec!["e".into(), Value::from(index)]);
        self.manager
            .emit(self.now, socket, data.into(), EmitOptions::default())
            .unwrap();
        self.pump();
    }

    /// Every emit `0..count` arrived at least once, in order (indices never go back).
    fn assert_at_least_once_in_order(&self, count: u64) {
        assert!(
            self.received.windows(2).all(|w| w[0] <= w[1]),
            "out of order: {:?}",
            self.received
        );
        let distinct: BTreeSet<u64> = self.received.iter().copied().collect();
        assert_eq!(
            distinct,
            (0..count).collect::<BTreeSet<u64>>(),
            "received {:?}",
            self.received
        );
    }
}

#[derive(Debug, Clone)]
enum Op {
    Emit,
    Advance(u64),
    DropWebSocket,
    AbortRequest,
    ServerClose,
    Silence(u64),
    IgnoreNextEvent,
    CrashAfterNextEvent,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => Just(Op::Emit),
        6 => (0u64..1500).prop_map(Op::Advance),
        1 => Just(Op::DropWebSocket),
        1 => Just(Op::AbortRequest),
        1 => Just(Op::ServerClose),
        1 => (100u64..3000).prop_map(Op::Silence),
        2 => Just(Op::IgnoreNextEvent),
        1 => Just(Op::CrashAfterNextEvent),
    ]
}

fn transports() -> impl Strategy<Value = Vec<TransportKind>> {
    prop_oneof![
        Just(vec![TransportKind::Polling]),
        Just(vec![TransportKind::WebSocket]),
        Just(vec![TransportKind::Polling, TransportKind::WebSocket]),
    ]
}

/// Runs a schedule, then heals the network and waits for the queue to drain.
fn run(transports: Vec<TransportKind>, seed: u64, ops: Vec<Op>) -> Sim {
    let mut sim = Sim::new(manager_config(transports, seed));
    let socket = sim.manager.open_socket(sim.now, "/", None).unwrap();
    sim.pump();
    let mut emitted = 0u64;
    for op in ops {
        match op {
            Op::Emit => {
                sim.emit(socket, emitted);
                emitted += 1;
            }
            Op::Advance(millis) => sim.advance(millis),
            Op::DropWebSocket => {
                if let Some(&id) = sim.open_ws.iter().next() {
                    sim.open_ws.remove(&id);
                    sim.manager.handle_ws_closed(sim.now, ClientId(id));
                    let _ = sim
                        .server
                        .handle_websocket_closed(sim.now, ConnectionId(id));
                    sim.pump();
                }
            }
            Op::AbortRequest => {
                if let Some(&id) = sim.outstanding_http.iter().next() {
                    sim.outstanding_http.remove(&id);
                    sim.manager.handle_http_error(sim.now, ClientId(id));
                    let _ = sim.server.handle_request_aborted(sim.now, RequestId(id));
                    sim.pump();
                }
            }
            Op::ServerClose => {
                let sids: Vec<Str> = sim.conns.keys().cloned().collect();
                for sid in sids {
                    let _ = sim.server.close(sim.now, &sid);
                }
                sim.pump();
            }
            Op::IgnoreNextEvent => sim.ignore_next = true,
            Op::CrashAfterNextEvent => sim.crash_next = true,
            Op::Silence(millis) => {
                sim.partitioned = true;
                sim.advance(millis);
                sim.partitioned = false;
                sim.pump();
            }
        }
        assert!(
            sim.received.windows(2).all(|w| w[0] <= w[1]),
            "out of order: {:?}",
            sim.received
        );
    }
    // Heal: run until everything was acknowledged (reconnecting as needed).
    for _ in 0..600 {
        if sim.manager.queue_len(socket) == 0 {
            break;
        }
        sim.advance(1000);
    }
    assert_eq!(
        sim.manager.queue_len(socket),
        0,
        "the queue drains once the network heals"
    );
    sim.assert_at_least_once_in_order(emitted);
    sim
}

#[test]
fn emits_reach_the_server_in_order_without_faults() {
    let sim = run(vec![TransportKind::WebSocket], 1, vec![Op::Emit; 20]);
    assert_eq!(sim.received, (0..20).collect::<Vec<_>>());
}

#[test]
fn emits_survive_a_dropped_websocket() {
    let ops = vec![
        Op::Emit,
        Op::Emit,
        Op::DropWebSocket,
        Op::Emit,
        Op::Advance(3000),
        Op::Emit,
    ];
    let sim = run(vec![TransportKind::WebSocket], 7, ops);
    assert!(
        sim.client_events
            .iter()
            .any(|e| matches!(e, Event::Reconnect(_)))
    );
}

#[test]
fn an_unanswered_emit_is_resent_and_arrives_twice() {
    let ops = vec![Op::IgnoreNextEvent, Op::Emit, Op::Emit, Op::Advance(1500)];
    let sim = run(vec![TransportKind::WebSocket], 5, ops);
    assert_eq!(sim.received, [0, 0, 1]);
}

#[test]
fn an_emit_received_before_a_server_crash_is_resent_after_reconnect() {
    let ops = vec![
        Op::CrashAfterNextEvent,
        Op::Emit,
        Op::Emit,
        Op::Advance(3000),
    ];
    let sim = run(
        vec![TransportKind::Polling, TransportKind::WebSocket],
        9,
        ops,
    );
    assert_eq!(sim.received, [0, 0, 1]);
}

#[test]
fn emits_survive_a_silent_network_over_polling() {
    let ops = vec![
        Op::Emit,
        Op::Silence(2000),
        Op::Emit,
        Op::Emit,
        Op::Advance(500),
    ];
    run(vec![TransportKind::Polling], 3, ops);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn with_retries_every_emit_arrives_at_least_once_in_order(
        transports in transports(),
        seed in any::<u64>(),
        ops in proptest::collection::vec(op(), 0..40),
    ) {
        run(transports, seed, ops);
    }
}
