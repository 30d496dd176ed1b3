//! A simulated pair: the Engine.IO client and server state machines joined by an in-memory
//! transport under one virtual clock.
//!
//! The network is a FIFO of deliveries: every client transmit becomes a server input and every
//! server transmit a client input, in order, with no latency. Time only moves when both sides are
//! idle: the clock jumps to the earlier of the two `poll_timeout`s.

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use socketio_protocol::engine::client::{
    self, ClientConfig, EngineClient, Method as ClientMethod, RequestId as ClientId, TransportKind,
};
use socketio_protocol::engine::server::{
    self, Config, ConnectionId, Method as ServerMethod, RequestHead, RequestId, Server,
};
use socketio_protocol::engine::{CloseReason, Data, ProtocolVersion};
use socketio_protocol::{Instant, Str};

const PING_INTERVAL: u64 = 300;
const PING_TIMEOUT: u64 = 200;

/// One hop on the simulated network.
#[derive(Debug)]
enum Delivery {
    ToServer(client::Transmit),
    ToClient(server::Transmit),
}

/// The pair, the wire between them, and what each side observed.
struct Sim {
    now: Instant,
    client: EngineClient,
    server: Server,
    net: VecDeque<Delivery>,
    /// Bodies of POSTs the server has not read yet, by request id.
    bodies: Vec<(u64, Bytes)>,
    /// HTTP requests the client made and the server has not answered.
    outstanding_http: BTreeSet<u64>,
    /// WebSockets the client asked for and neither side closed.
    open_ws: BTreeSet<u64>,
    /// When true, everything on the wire is lost (a silent peer).
    partitioned: bool,
    sid: Option<Str>,
    client_sent: Vec<Data>,
    server_sent: Vec<Data>,
    client_received: Vec<Data>,
    server_received: Vec<Data>,
    client_events: Vec<client::Event>,
    client_closed: Option<(Instant, CloseReason)>,
    server_closed: Option<CloseReason>,
    upgraded_client: bool,
    upgraded_server: bool,
}

fn server_config() -> Config {
    Config {
        ping_interval: Duration::from_millis(PING_INTERVAL),
        ping_timeout: Duration::from_millis(PING_TIMEOUT),
        ..Config::default()
    }
}

fn client_config(transports: Vec<TransportKind>) -> ClientConfig {
    ClientConfig {
        transports,
        ..ClientConfig::default()
    }
}

impl Sim {
    fn new(client_config: ClientConfig, server_config: Config) -> Sim {
        let mut counter = 0u8;
        let server = Server::new(server_config, move || {
            counter = counter.wrapping_add(1);
            [counter; 15]
        });
        let client = EngineClient::new(client_config, Instant::ZERO).unwrap();
        let mut sim = Sim {
            now: Instant::ZERO,
            client,
            server,
            net: VecDeque::new(),
            bodies: Vec::new(),
            outstanding_http: BTreeSet::new(),
            open_ws: BTreeSet::new(),
            partitioned: false,
            sid: None,
            client_sent: Vec::new(),
            server_sent: Vec::new(),
            client_received: Vec::new(),
            server_received: Vec::new(),
            client_events: Vec::new(),
            client_closed: None,
            server_closed: None,
            upgraded_client: false,
            upgraded_server: false,
        };
        sim.pump();
        sim
    }

    /// Moves outputs onto the wire and records events.
    fn collect(&mut self) {
        while let Some(transmit) = self.client.poll_transmit() {
            self.net.push_back(Delivery::ToServer(transmit));
        }
        while let Some(transmit) = self.server.poll_transmit() {
            if let server::Transmit::Heartbeat { connection, .. } = &transmit {
                // The socket takes the ping at once, as a kernel buffer does.
                let _ = self.server.handle_heartbeat_written(self.now, *connection);
            }
            self.net.push_back(Delivery::ToClient(transmit));
        }
        while let Some(event) = self.client.poll_event() {
            match &event {
                client::Event::Message(data) => self.client_received.push(data.clone()),
                client::Event::Upgraded => self.upgraded_client = true,
                client::Event::Closed(reason) => {
                    assert!(self.client_closed.is_none(), "closed twice");
                    self.client_closed = Some((self.now, *reason));
                }
                _ => {}
            }
            self.client_events.push(event);
        }
        while let Some(event) = self.server.poll_event() {
            match event {
                server::Event::Opened(handshake) => {
                    assert!(self.sid.is_none(), "one session only");
                    self.sid = Some(handshake.sid);
                }
                server::Event::Message { sid, data } => {
                    assert_eq!(Some(&sid), self.sid.as_ref());
                    assert!(self.server_closed.is_none(), "message after close");
                    self.server_received.push(data);
                }
                server::Event::Upgraded { .. } => self.upgraded_server = true,
                server::Event::Closed { reason, .. } => {
                    assert!(self.server_closed.is_none(), "closed twice");
                    self.server_closed = Some(reason);
                }
                _ => {}
            }
        }
    }

    /// Delivers everything on the wire, until both sides are idle.
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
                    // The server may have forgotten the connection already; that is fine.
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
                let index = self
                    .bodies
                    .iter()
                    .position(|(id, _)| *id == request.0)
                    .expect("body of a known POST");
                let (_, body) = self.bodies.swap_remove(index);
                self.server
                    .handle_request_body(now, request, body)
                    .expect("body read once");
            }
            Delivery::ToClient(server::Transmit::Response { request, response }) => {
                self.outstanding_http.remove(&request.0);
                self.client.handle_http_response(
                    now,
                    ClientId(request.0),
                    response.status,
                    response.body,
                );
            }
            Delivery::ToClient(server::Transmit::Abort { request }) => {
                self.outstanding_http.remove(&request.0);
                self.client.handle_http_error(now, ClientId(request.0));
            }
            Delivery::ToClient(server::Transmit::AcceptWebSocket { connection, .. }) => {
                if self.open_ws.contains(&connection.0) {
                    self.client.handle_ws_opened(now, ClientId(connection.0));
                }
            }
            Delivery::ToClient(server::Transmit::RefuseWebSocket { connection, .. }) => {
                if self.open_ws.remove(&connection.0) {
                    self.client.handle_ws_closed(now, ClientId(connection.0));
                }
            }
            Delivery::ToClient(
                server::Transmit::Frame { connection, frame }
                | server::Transmit::Heartbeat { connection, frame },
            ) => {
                if self.open_ws.contains(&connection.0) {
                    self.client
                        .handle_ws_frame(now, ClientId(connection.0), frame);
                }
            }
            Delivery::ToClient(server::Transmit::CloseWebSocket { connection }) => {
                if self.open_ws.remove(&connection.0) {
                    self.client.handle_ws_closed(now, ClientId(connection.0));
                }
            }
            Delivery::ToClient(other) => panic!("unknown server transmit {other:?}"),
        }
    }

    /// The next instant either side wants to run its timers.
    fn next_timer(&self) -> Option<Instant> {
        match (self.client.poll_timeout(), self.server.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs both sides' timers up to `until`, delivering between them.
    fn advance_to(&mut self, until: Instant) {
        self.pump();
        for _ in 0..100_000 {
            match self.next_timer() {
                Some(at) if at <= until => {
                    self.now = self.now.max(at);
                    self.client.handle_timeout(self.now);
                    self.server.handle_timeout(self.now);
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

    fn client_send(&mut self, data: Data) {
        if self.client.send(data.clone()).is_ok() {
            self.client_sent.push(data);
        }
        self.pump();
    }

    fn server_send(&mut self, data: Data) {
        if let Some(sid) = self.sid.clone()
            && self.server.send(&sid, data.clone()).is_ok()
        {
            self.server_sent.push(data);
        }
        self.pump();
    }

    /// Both directions so far: exactly once, in order (a prefix of what was sent).
    fn assert_prefixes(&self) {
        assert!(
            self.client_sent.starts_with(&self.server_received),
            "client → server: sent {:?}, received {:?}",
            self.client_sent,
            self.server_received
        );
        assert!(
            self.server_sent.starts_with(&self.client_received),
            "server → client: sent {:?}, received {:?}",
            self.server_sent,
            self.client_received
        );
    }

    /// Both directions complete: everything sent arrived exactly once, in order.
    fn assert_all_delivered(&self) {
        assert_eq!(self.server_received, self.client_sent, "client → server");
        assert_eq!(self.client_received, self.server_sent, "server → client");
    }
}

fn text(index: usize, prefix: &str) -> Data {
    Data::Text(Str::from(format!("{prefix}{index}")))
}

fn binary(index: usize) -> Data {
    Data::Binary(Bytes::from(vec![index as u8; index % 7 + 1]))
}

/// Messages both ways, several per step, text and binary, with some time in between.
fn exchange(sim: &mut Sim, round: usize) {
    for index in 0..5 {
        let n = round * 100 + index;
        sim.client_send(text(n, "c"));
        sim.server_send(if index % 2 == 0 {
            binary(n)
        } else {
            text(n, "s")
        });
        if index == 2 {
            sim.client_send(binary(n));
        }
    }
    sim.advance(50);
    sim.assert_prefixes();
}

/// handshake → messages → (upgrade →) messages → close, for one transport setup.
fn scenario(transports: Vec<TransportKind>, expect_upgrade: bool) -> Sim {
    let mut sim = Sim::new(client_config(transports.clone()), server_config());
    assert!(sim.client.is_open(), "{:?}", sim.client_events);
    assert!(sim.sid.is_some());
    assert_eq!(sim.client.sid(), sim.sid.as_ref());
    exchange(&mut sim, 0);
    // Long enough for pings, and for the upgrade when there is one.
    sim.advance(1_000);
    assert_eq!(sim.upgraded_client, expect_upgrade);
    assert_eq!(sim.upgraded_server, expect_upgrade);
    let expected = if expect_upgrade || transports[0] == TransportKind::WebSocket {
        TransportKind::WebSocket
    } else {
        TransportKind::Polling
    };
    assert_eq!(sim.client.transport(), expected);
    exchange(&mut sim, 1);
    sim.advance(2_000);
    exchange(&mut sim, 2);
    assert!(sim.client.is_open(), "heartbeats kept the session alive");
    assert!(sim.server_closed.is_none());
    sim.assert_all_delivered();
    assert_eq!((sim.client_sent.len(), sim.server_sent.len()), (18, 15));
    sim
}

#[test]
fn polling_only_session() {
    let mut sim = scenario(vec![TransportKind::Polling], false);
    // Messages queued before close() still go out; then the server learns of the close.
    sim.client_send(text(999, "last"));
    sim.client.close();
    sim.advance(100);
    assert!(matches!(
        sim.client_closed,
        Some((_, CloseReason::ForcedClose))
    ));
    assert!(sim.server_closed.is_some());
    sim.assert_all_delivered();
    assert_eq!(sim.server.session_count(), 0);
}

#[test]
fn websocket_only_session() {
    let mut sim = scenario(vec![TransportKind::WebSocket], false);
    sim.client_send(text(999, "last"));
    sim.client.close();
    sim.advance(100);
    assert!(matches!(
        sim.client_closed,
        Some((_, CloseReason::ForcedClose))
    ));
    assert_eq!(sim.server_closed, Some(CloseReason::TransportClose));
    sim.assert_all_delivered();
}

#[test]
fn upgrade_session() {
    let mut sim = scenario(vec![TransportKind::Polling, TransportKind::WebSocket], true);
    assert!(sim.client_events.contains(&client::Event::Upgraded));
    sim.client_send(text(999, "last"));
    sim.client.close();
    sim.advance(100);
    assert!(matches!(
        sim.client_closed,
        Some((_, CloseReason::ForcedClose))
    ));
    assert!(sim.server_closed.is_some());
    sim.assert_all_delivered();
}

#[test]
fn messages_sent_during_the_upgrade_arrive_once_in_order() {
    let mut sim = Sim::new(
        client_config(vec![TransportKind::Polling, TransportKind::WebSocket]),
        server_config(),
    );
    // Interleave sends with small time steps while the probe and the pause are in progress.
    for step in 0..40 {
        sim.client_send(text(step, "c"));
        sim.server_send(text(step, "s"));
        sim.advance(10);
        sim.assert_prefixes();
    }
    assert!(sim.upgraded_client && sim.upgraded_server);
    sim.advance(100);
    sim.assert_all_delivered();
    assert_eq!(sim.client_received.len(), 40);
}

#[test]
fn server_close_reaches_the_client() {
    for transports in [
        vec![TransportKind::Polling],
        vec![TransportKind::WebSocket],
        vec![TransportKind::Polling, TransportKind::WebSocket],
    ] {
        let mut sim = Sim::new(client_config(transports), server_config());
        exchange(&mut sim, 0);
        let sid = sim.sid.clone().unwrap();
        sim.server.close(sim.now, &sid).unwrap();
        sim.advance(100);
        assert_eq!(
            sim.client_closed.map(|(_, reason)| reason),
            Some(CloseReason::TransportClose)
        );
        sim.assert_all_delivered();
    }
}

#[test]
fn a_silent_server_is_detected_after_ping_interval_plus_ping_timeout() {
    for transports in [
        vec![TransportKind::Polling],
        vec![TransportKind::WebSocket],
        vec![TransportKind::Polling, TransportKind::WebSocket],
    ] {
        let mut sim = Sim::new(client_config(transports), server_config());
        sim.advance(1_000);
        sim.partitioned = true;
        let cut = sim.now;
        sim.advance(PING_INTERVAL + PING_TIMEOUT + 1);
        let (at, reason) = sim.client_closed.expect("client noticed");
        assert_eq!(reason, CloseReason::PingTimeout);
        assert!(at <= cut + Duration::from_millis(PING_INTERVAL + PING_TIMEOUT));
        // The server gives a ping that no GET takes pingInterval + pingTimeout from when it
        // was queued (a ping written to a WebSocket: pingTimeout from then).
        sim.advance(PING_INTERVAL);
        assert_eq!(sim.server_closed, Some(CloseReason::PingTimeout));
    }
}

#[test]
fn client_without_ping_answers_is_closed_by_the_server_and_notices() {
    // The client's last sign of the server is the last ping; exactly interval + timeout later
    // it gives up.
    let mut sim = Sim::new(
        client_config(vec![TransportKind::WebSocket]),
        server_config(),
    );
    sim.advance(PING_INTERVAL); // first ping arrives and is answered
    let last_ping = sim.now;
    sim.partitioned = true;
    sim.advance_to(last_ping + Duration::from_millis(PING_INTERVAL + PING_TIMEOUT - 1));
    assert!(sim.client_closed.is_none());
    sim.advance(1);
    assert_eq!(
        sim.client_closed,
        Some((
            last_ping + Duration::from_millis(PING_INTERVAL + PING_TIMEOUT),
            CloseReason::PingTimeout
        ))
    );
}

#[test]
fn v3_session_with_client_pings() {
    let config = ClientConfig {
        version: ProtocolVersion::V3,
        ..client_config(vec![TransportKind::Polling, TransportKind::WebSocket])
    };
    let server_config = Config {
        allow_eio3: true,
        ..server_config()
    };
    let mut sim = Sim::new(config, server_config);
    assert!(sim.client.is_open(), "{:?}", sim.client_events);
    exchange(&mut sim, 0);
    sim.advance(3_000);
    assert!(
        sim.client.is_open(),
        "client pings keep the v3 session alive"
    );
    assert!(sim.upgraded_client && sim.upgraded_server);
    exchange(&mut sim, 1);
    sim.advance(100);
    sim.assert_all_delivered();
}

/// One step of a random schedule.
#[derive(Debug, Clone)]
enum Op {
    ClientSend(bool),
    ServerSend(bool),
    Advance(u64),
    DropWebSocket,
    AbortRequest,
    ClientClose,
    ServerClose,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => any::<bool>().prop_map(Op::ClientSend),
        8 => any::<bool>().prop_map(Op::ServerSend),
        6 => (0u64..700).prop_map(Op::Advance),
        1 => Just(Op::DropWebSocket),
        1 => Just(Op::AbortRequest),
        1 => Just(Op::ClientClose),
        1 => Just(Op::ServerClose),
    ]
}

fn transports() -> impl Strategy<Value = Vec<TransportKind>> {
    prop_oneof![
        Just(vec![TransportKind::Polling]),
        Just(vec![TransportKind::WebSocket]),
        Just(vec![TransportKind::Polling, TransportKind::WebSocket]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_schedules_keep_delivery_exactly_once_and_in_order(
        transports in transports(),
        ops in proptest::collection::vec(op(), 0..60),
        silent_at_end in any::<bool>(),
    ) {
        let mut sim = Sim::new(client_config(transports), server_config());
        let mut counter = 0usize;
        for op in ops {
            counter += 1;
            match op {
                Op::ClientSend(bin) => {
                    sim.client_send(if bin { binary(counter) } else { text(counter, "c") })
                }
                Op::ServerSend(bin) => {
                    sim.server_send(if bin { binary(counter) } else { text(counter, "s") })
                }
                Op::Advance(millis) => sim.advance(millis),
                Op::DropWebSocket => {
                    if let Some(&id) = sim.open_ws.iter().next() {
                        sim.open_ws.remove(&id);
                        sim.client.handle_ws_closed(sim.now, ClientId(id));
                        let _ = sim.server.handle_websocket_closed(sim.now, ConnectionId(id));
                        sim.pump();
                    }
                }
                Op::AbortRequest => {
                    if let Some(&id) = sim.outstanding_http.iter().next() {
                        sim.outstanding_http.remove(&id);
                        sim.client.handle_http_error(sim.now, ClientId(id));
                        let _ = sim.server.handle_request_aborted(sim.now, RequestId(id));
                        sim.pump();
                    }
                }
                Op::ClientClose => {
                    sim.client.close();
                    sim.pump();
                }
                Op::ServerClose => {
                    if let Some(sid) = sim.sid.clone() {
                        let _ = sim.server.close(sim.now, &sid);
                        sim.pump();
                    }
                }
            }
            sim.assert_prefixes();
        }
        if silent_at_end {
            // The server goes silent: the client notices within pingInterval + pingTimeout.
            sim.partitioned = true;
            let cut = sim.now;
            sim.advance(PING_INTERVAL + PING_TIMEOUT);
            let (at, _) = sim.client_closed.expect("a silent server is detected");
            prop_assert!(at <= cut + Duration::from_millis(PING_INTERVAL + PING_TIMEOUT));
        } else {
            sim.advance(5_000);
            if sim.client_closed.is_none() {
                // A live session delivers everything once idle.
                prop_assert!(sim.server_closed.is_none());
                sim.assert_all_delivered();
            }
        }
        sim.assert_prefixes();
    }
}

#[test]
fn posts_split_by_the_server_max_payload_are_all_accepted() {
    let server_config = Config {
        max_payload: 64,
        ..server_config()
    };
    let mut sim = Sim::new(client_config(vec![TransportKind::Polling]), server_config);
    assert_eq!(
        sim.client.handshake().and_then(|open| open.max_payload),
        Some(64)
    );
    // Queue many messages at once: the client cuts them into POSTs within 64 bytes.
    for index in 0..40 {
        if sim.client.send(text(index, "message-")).is_ok() {
            sim.client_sent.push(text(index, "message-"));
        }
    }
    sim.advance(100);
    assert!(sim.client.is_open());
    assert!(sim.server_closed.is_none());
    assert_eq!(sim.client_sent.len(), 40);
    sim.assert_all_delivered();
}
