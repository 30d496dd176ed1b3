//! Property tests of the Engine.IO server.
//!
//! - A model client drives one session through random sequences of sends, polls, pongs,
//!   upgrade steps, transport failures, garbage and time jumps: messages are delivered exactly
//!   once and in order in both directions while the session lives (across the upgrade), and a
//!   session that stops answering pings is closed within pingInterval + pingTimeout.
//! - Chaos: arbitrary requests, bodies, frames and closes on many ids never panic, every live
//!   session has a timer, and running the timers always makes progress.

use bytes::Bytes;
use core::time::Duration;
use proptest::prelude::*;
use socketio_protocol::engine::server::{
    Config, ConnectionId, Event, Method, RequestHead, RequestId, Server, Transmit,
};
use socketio_protocol::engine::{Data, Frame, Packet, ProtocolVersion, payload};
use socketio_protocol::{Instant, Str};

const INTERVAL: u64 = 1_000;
const TIMEOUT: u64 = 500;

fn config() -> Config {
    Config {
        ping_interval: Duration::from_millis(INTERVAL),
        ping_timeout: Duration::from_millis(TIMEOUT),
        upgrade_timeout: Duration::from_millis(2_000),
        polling_close_timeout: Duration::from_millis(3_000),
        allow_eio3: true,
        ..Config::default()
    }
}

fn new_server() -> Server {
    let mut next = 0u8;
    Server::new(config(), move || {
        next = next.wrapping_add(1);
        [next; 15]
    })
}

#[derive(Debug, Clone)]
enum Op {
    ClientSend,
    ServerSend,
    Get,
    ConcurrentGet,
    AbortGet,
    Pong,
    OpenProbe,
    ProbePing,
    ProbeUpgrade,
    ProbeGarbage,
    CloseProbe,
    Advance(u64),
    GarbagePost(Vec<u8>),
    GarbageFrame(String),
    ClientClose,
    ServerClose,
    CloseTransport,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::ClientSend),
        6 => Just(Op::ServerSend),
        5 => Just(Op::Get),
        1 => Just(Op::ConcurrentGet),
        1 => Just(Op::AbortGet),
        4 => Just(Op::Pong),
        2 => Just(Op::OpenProbe),
        2 => Just(Op::ProbePing),
        2 => Just(Op::ProbeUpgrade),
        1 => Just(Op::ProbeGarbage),
        1 => Just(Op::CloseProbe),
        6 => (0u64..1_500).prop_map(Op::Advance),
        1 => proptest::collection::vec(any::<u8>(), 0..16).prop_map(Op::GarbagePost),
        1 => "[^0-6b].{0,8}".prop_map(Op::GarbageFrame),
        1 => Just(Op::ClientClose),
        1 => Just(Op::ServerClose),
        1 => Just(Op::CloseTransport),
    ]
}

/// A client of one session, with what it sent and received.
struct Model {
    server: Server,
    now: u64,
    sid: String,
    open: bool,
    closing: bool,
    websocket: Option<ConnectionId>,
    probe: Option<ConnectionId>,
    closed_probe: Option<ConnectionId>,
    held_get: Option<RequestId>,
    next_id: u64,
    sent_by_client: Vec<String>,
    delivered: Vec<String>,
    sent_by_server: Vec<String>,
    received: Vec<String>,
    ping_pending: bool,
    last_alive: u64,
    /// When the server's timer queued the ping now pending (its first run after it was due).
    ping_queued_at: Option<u64>,
    /// When the pending ping reached the client.
    ping_received_at: Option<u64>,
}

impl Model {
    fn new(websocket_only: bool) -> Model {
        let mut model = Model {
            server: new_server(),
            now: 0,
            sid: String::new(),
            open: true,
            closing: false,
            websocket: None,
            probe: None,
            closed_probe: None,
            held_get: None,
            next_id: 100,
            sent_by_client: Vec::new(),
            delivered: Vec::new(),
            sent_by_server: Vec::new(),
            received: Vec::new(),
            ping_pending: false,
            last_alive: 0,
            ping_queued_at: None,
            ping_received_at: None,
        };
        let at = model.at();
        if websocket_only {
            let head = RequestHead::new(Method::Get, "/engine.io/", "EIO=4&transport=websocket");
            model
                .server
                .handle_websocket(at, ConnectionId(1), head)
                .unwrap();
            model.websocket = Some(ConnectionId(1));
        } else {
            let head = RequestHead::new(Method::Get, "/engine.io/", "EIO=4&transport=polling");
            model.server.handle_request(at, RequestId(1), head).unwrap();
            model.held_get = Some(RequestId(1));
        }
        model.drain();
        assert!(!model.sid.is_empty());
        model.received.clear();
        model
    }

    fn at(&self) -> Instant {
        Instant::from_millis(self.now)
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn query(&self, transport: &str) -> String {
        format!("EIO=4&transport={transport}&sid={}", self.sid)
    }

    fn on_packet(&mut self, packet: Packet) {
        match packet {
            Packet::Open(json) => {
                let open = socketio_protocol::engine::OpenPacket::decode(&json).unwrap();
                self.sid = open.sid.to_string();
            }
            Packet::Message(Data::Text(text)) => self.received.push(text.to_string()),
            Packet::Ping(data) if data.is_empty() => {
                self.ping_pending = true;
                self.ping_received_at.get_or_insert(self.now);
            }
            _ => {}
        }
    }

    fn drain(&mut self) {
        while let Some(transmit) = self.server.poll_transmit() {
            match transmit {
                Transmit::Response { request, response } if Some(request) == self.held_get => {
                    self.held_get = None;
                    if response.status == 200 {
                        let body = Str::from_utf8(response.body.clone()).unwrap();
                        for packet in payload::iter_v4(body) {
                            self.on_packet(packet.unwrap());
                        }
                    }
                }
                Transmit::Frame { connection, frame }
                    if Some(connection) == self.websocket || Some(connection) == self.probe =>
                {
                    let packet = Packet::decode_frame(ProtocolVersion::V4, frame).unwrap();
                    self.on_packet(packet);
                }
                Transmit::Heartbeat { connection, frame } if Some(connection) == self.websocket => {
                    let packet = Packet::decode_frame(ProtocolVersion::V4, frame).unwrap();
                    self.on_packet(packet);
                    // This writer is instantaneous.
                    let at = self.at();
                    self.server
                        .handle_heartbeat_written(at, connection)
                        .unwrap();
                }
                Transmit::CloseWebSocket { connection } if Some(connection) == self.probe => {
                    // An upgrade that completes during a server close is reported after the
                    // close of its WebSocket: remember which probe that was.
                    self.closed_probe = self.probe.take();
                }
                _ => {}
            }
        }
        while let Some(event) = self.server.poll_event() {
            match event {
                Event::Message {
                    sid,
                    data: Data::Text(text),
                } => {
                    assert_eq!(sid, self.sid.as_str());
                    self.delivered.push(text.to_string());
                }
                Event::Closed { sid, .. } => {
                    assert_eq!(sid, self.sid.as_str());
                    assert!(self.open, "closed twice");
                    self.open = false;
                }
                Event::Upgraded { connection, .. } => {
                    assert!(
                        Some(connection) == self.probe
                            || (Some(connection) == self.closed_probe && self.closing),
                        "upgraded on {connection:?}, probe {:?}",
                        self.probe
                    );
                    self.websocket = Some(connection);
                    self.probe = None;
                }
                Event::Opened(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(self.open, self.server.contains(&self.sid));
    }

    /// Sends packets the client's way: a frame on the WebSocket or a POST.
    fn client_send(&mut self, body: &[u8]) {
        let at = self.at();
        if let Some(connection) = self.websocket {
            let text = String::from_utf8_lossy(body).into_owned();
            let _ = self
                .server
                .handle_frame(at, connection, Frame::Text(text.into()));
        } else {
            let request = RequestId(self.id());
            let head = RequestHead::new(Method::Post, "/engine.io/", self.query("polling"));
            self.server.handle_request(at, request, head).unwrap();
            let _ = self
                .server
                .handle_request_body(at, request, Bytes::copy_from_slice(body));
        }
    }

    fn get(&mut self) {
        let request = RequestId(self.id());
        let head = RequestHead::new(Method::Get, "/engine.io/", self.query("polling"));
        self.server
            .handle_request(self.at(), request, head)
            .unwrap();
        if self.held_get.is_none() {
            self.held_get = Some(request);
        }
    }

    fn apply(&mut self, op: Op) {
        let at = self.at();
        match op {
            Op::ClientSend => {
                if self.open {
                    let text = format!("c{}", self.sent_by_client.len());
                    self.client_send(format!("4{text}").as_bytes());
                    // A session the server is closing takes no more messages.
                    if !self.closing {
                        self.sent_by_client.push(text);
                    }
                }
            }
            Op::ServerSend => {
                let text = format!("s{}", self.sent_by_server.len());
                if self.server.send(&self.sid, text.clone().into()).is_ok() {
                    self.sent_by_server.push(text);
                }
            }
            Op::Get => {
                if self.open && self.websocket.is_none() && self.held_get.is_none() {
                    self.get();
                }
            }
            Op::ConcurrentGet => {
                if self.open && self.websocket.is_none() && self.held_get.is_some() {
                    self.get();
                }
            }
            Op::AbortGet => {
                if let Some(request) = self.held_get.take() {
                    let _ = self.server.handle_request_aborted(at, request);
                }
            }
            Op::Pong => {
                if self.open && self.ping_pending {
                    self.ping_pending = false;
                    self.client_send(b"3");
                    self.last_alive = self.now;
                    self.ping_queued_at = None;
                    self.ping_received_at = None;
                }
            }
            Op::OpenProbe => {
                if self.open && self.probe.is_none() {
                    let connection = ConnectionId(self.id());
                    let head =
                        RequestHead::new(Method::Get, "/engine.io/", self.query("websocket"));
                    self.server.handle_websocket(at, connection, head).unwrap();
                    let accepted_only = {
                        let mut seen = Vec::new();
                        while let Some(transmit) = self.server.poll_transmit() {
                            seen.push(transmit);
                        }
                        let accepted = seen.iter().any(|t| {
                            matches!(t, Transmit::AcceptWebSocket { connection: c, .. } if *c == connection)
                        });
                        let closed = seen.iter().any(|t| {
                            matches!(t, Transmit::CloseWebSocket { connection: c } if *c == connection)
                        });
                        accepted && !closed
                    };
                    if accepted_only {
                        self.probe = Some(connection);
                    }
                }
            }
            Op::ProbePing | Op::ProbeUpgrade | Op::ProbeGarbage => {
                if let Some(connection) = self.probe {
                    let text = match op {
                        Op::ProbePing => "2probe",
                        Op::ProbeUpgrade => "5",
                        _ => "4garbage",
                    };
                    let _ = self
                        .server
                        .handle_frame(at, connection, Frame::Text(text.into()));
                }
            }
            Op::CloseProbe => {
                if let Some(connection) = self.probe.take() {
                    let _ = self.server.handle_websocket_closed(at, connection);
                }
            }
            Op::Advance(ms) => {
                self.now += ms;
                if self.ping_queued_at.is_none() && self.now >= self.last_alive + INTERVAL {
                    self.ping_queued_at = Some(self.now);
                }
                self.server.handle_timeout(self.at());
            }
            Op::GarbagePost(mut bytes) => {
                if self.open && self.websocket.is_none() {
                    bytes.insert(0, b'9');
                    self.client_send(&bytes);
                }
            }
            Op::GarbageFrame(text) => {
                if let Some(connection) = self.websocket.or(self.probe) {
                    let _ = self
                        .server
                        .handle_frame(at, connection, Frame::Text(text.into()));
                }
            }
            Op::ClientClose => {
                if self.open {
                    self.client_send(b"1");
                }
            }
            Op::ServerClose => {
                if self.server.close(at, &self.sid).is_ok() {
                    self.closing = true;
                }
            }
            Op::CloseTransport => {
                if let Some(connection) = self.websocket {
                    let _ = self.server.handle_websocket_closed(at, connection);
                } else if let Some(request) = self.held_get.take() {
                    let _ = self.server.handle_request_aborted(at, request);
                }
            }
        }
        self.drain();
        self.check();
    }

    fn check(&self) {
        assert_eq!(self.delivered, self.sent_by_client, "client → server");
        assert!(
            self.sent_by_server.starts_with(&self.received),
            "server → client: sent {:?}, received {:?}",
            self.sent_by_server,
            self.received
        );
        // The client has pingTimeout from receiving a ping; a ping its transport never takes
        // ends the session pingInterval + pingTimeout after it was queued.
        if self.open {
            if let Some(received) = self.ping_received_at {
                assert!(
                    self.now < received + TIMEOUT,
                    "alive at {} although the ping unanswered since {received}",
                    self.now
                );
            } else if let Some(queued) = self.ping_queued_at {
                assert!(
                    self.now < queued + INTERVAL + TIMEOUT,
                    "alive at {} although a ping waits since {queued}",
                    self.now
                );
            }
        }
    }

    /// While the session lives, everything the server sent reaches the client.
    fn finish(&mut self) {
        if self.open && self.websocket.is_none() && self.held_get.is_none() {
            self.get();
            self.drain();
        }
        if self.open {
            assert_eq!(self.received, self.sent_by_server);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn model_client_keeps_order_and_heartbeat(
        websocket_only in any::<bool>(),
        ops in proptest::collection::vec(op(), 0..80),
    ) {
        let mut model = Model::new(websocket_only);
        for op in ops {
            model.apply(op);
        }
        model.finish();
    }
}

#[derive(Debug, Clone)]
enum Chaos {
    Request(u8, u8, u8, Option<Vec<u8>>),
    Body(u8, Vec<u8>),
    Abort(u8),
    Upgrade(u8, u8),
    Frame(u8, bool, Vec<u8>),
    Closed(u8, bool),
    Send(u8, Vec<u8>),
    Close(u8),
    Verdict(u8, bool, bool),
    Time(u16),
}

const QUERIES: &[&str] = &[
    "EIO=4&transport=polling",
    "EIO=3&transport=polling",
    "EIO=3&transport=polling&b64=1",
    "EIO=4&transport=websocket",
    "EIO=3&transport=websocket",
    "transport=polling",
    "EIO=4",
    "EIO=4&transport=polling&sid=",
];

fn sid_of(index: u8) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE.encode([index % 4 + 1; 15])
}

fn query_of(index: u8) -> String {
    let base = QUERIES[usize::from(index) % QUERIES.len()];
    if index & 0x80 != 0 {
        let transport = if index & 0x40 != 0 {
            "websocket"
        } else {
            "polling"
        };
        format!("EIO=4&transport={transport}&sid={}", sid_of(index))
    } else {
        String::from(base)
    }
}

fn chaos() -> impl Strategy<Value = Chaos> {
    let bytes = || proptest::collection::vec(any::<u8>(), 0..24);
    prop_oneof![
        4 => (any::<u8>(), any::<u8>(), 0u8..4, proptest::option::of(bytes()))
            .prop_map(|(id, query, method, body)| Chaos::Request(id % 8, query, method, body)),
        2 => (any::<u8>(), bytes()).prop_map(|(id, body)| Chaos::Body(id % 8, body)),
        1 => any::<u8>().prop_map(|id| Chaos::Abort(id % 8)),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(id, query)| Chaos::Upgrade(id % 8, query)),
        4 => (any::<u8>(), any::<bool>(), bytes())
            .prop_map(|(id, binary, data)| Chaos::Frame(id % 8, binary, data)),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(id, error)| Chaos::Closed(id % 8, error)),
        2 => (any::<u8>(), bytes()).prop_map(|(sid, data)| Chaos::Send(sid, data)),
        1 => any::<u8>().prop_map(Chaos::Close),
        1 => (any::<u8>(), any::<bool>(), any::<bool>())
            .prop_map(|(id, ws, accept)| Chaos::Verdict(id % 8, ws, accept)),
        3 => any::<u16>().prop_map(Chaos::Time),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn chaos_never_panics_and_timers_progress(
        verify in any::<bool>(),
        inputs in proptest::collection::vec(chaos(), 0..60),
    ) {
        let mut next = 0u8;
        let mut server = Server::new(
            Config { verify_handshakes: verify, max_payload: 64, ..config() },
            move || {
                next = (next % 4) + 1;
                [next; 15]
            },
        );
        let mut now = 0u64;
        for input in inputs {
            let at = Instant::from_millis(now);
            match input {
                Chaos::Request(id, query, method, body) => {
                    let method = [Method::Get, Method::Post, Method::Options, Method::Other]
                        [usize::from(method)];
                    let mut head = RequestHead::new(method, "/engine.io/", query_of(query));
                    if query & 0x20 != 0 {
                        head = head.with_content_type("application/octet-stream");
                    }
                    let _ = server.handle_request(at, RequestId(u64::from(id)), head);
                    if let Some(body) = body {
                        let _ = server.handle_request_body(at, RequestId(u64::from(id)), body.into());
                    }
                }
                Chaos::Body(id, body) => {
                    let _ = server.handle_request_body(at, RequestId(u64::from(id)), body.into());
                }
                Chaos::Abort(id) => {
                    let _ = server.handle_request_aborted(at, RequestId(u64::from(id)));
                }
                Chaos::Upgrade(id, query) => {
                    let head = RequestHead::new(Method::Get, "/engine.io/", query_of(query | 0x40));
                    let _ = server.handle_websocket(at, ConnectionId(u64::from(id)), head);
                }
                Chaos::Frame(id, binary, data) => {
                    let frame = if binary {
                        Frame::Binary(data.into())
                    } else {
                        Frame::Text(String::from_utf8_lossy(&data).into_owned().into())
                    };
                    let _ = server.handle_frame(at, ConnectionId(u64::from(id)), frame);
                }
                Chaos::Closed(id, error) => {
                    let connection = ConnectionId(u64::from(id));
                    let _ = if error {
                        server.handle_websocket_error(at, connection)
                    } else {
                        server.handle_websocket_closed(at, connection)
                    };
                }
                Chaos::Send(sid, data) => {
                    let _ = server.send(&sid_of(sid), Data::Binary(data.into()));
                }
                Chaos::Close(sid) => {
                    let _ = server.close(at, &sid_of(sid));
                }
                Chaos::Verdict(id, websocket, accept) => {
                    let transport = if websocket {
                        socketio_protocol::engine::server::TransportId::WebSocket(ConnectionId(u64::from(id)))
                    } else {
                        socketio_protocol::engine::server::TransportId::Polling(RequestId(u64::from(id)))
                    };
                    let _ = if accept {
                        server.accept_handshake(at, transport)
                    } else {
                        server.refuse_handshake(at, transport, Some("no"))
                    };
                }
                Chaos::Time(ms) => {
                    now += u64::from(ms);
                    server.handle_timeout(Instant::from_millis(now));
                }
            }
            while server.poll_transmit().is_some() {}
            while server.poll_event().is_some() {}
            // Every live session has a timer (its heartbeat), and nothing is overdue.
            prop_assert_eq!(server.poll_timeout().is_some(), server.session_count() > 0);
            // Running due timers always moves the next deadline forward.
            if let Some(due) = server.poll_timeout() {
                let due = due.max(Instant::from_millis(now));
                server.handle_timeout(due);
                while server.poll_transmit().is_some() {}
                while server.poll_event().is_some() {}
                if let Some(next) = server.poll_timeout() {
                    prop_assert!(next > due);
                }
                now = due.since_epoch().as_millis() as u64;
            }
        }
    }
}
