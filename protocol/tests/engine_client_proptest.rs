//! Property tests for the Engine.IO client alone: random server behaviour (good, bad and
//! arbitrary responses and frames, failures, time jumps) never panics and keeps the invariants.

use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use socketio_protocol::engine::client::{
    ClientConfig, EngineClient, Event, Method, RequestId, Transmit, TransportKind,
};
use socketio_protocol::engine::{Data, Frame, Packet, ProtocolVersion, payload};
use socketio_protocol::{Instant, Str};

const OPEN_UPGRADE: &str = r#"0{"sid":"abc","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":40}"#;
const OPEN_PLAIN: &str =
    r#"0{"sid":"abc","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#;

/// What the fake server does next.
#[derive(Debug, Clone)]
enum Op {
    /// Answer the n-th outstanding HTTP request.
    Respond(usize, u16, Bytes),
    /// Fail the n-th outstanding HTTP request.
    HttpError(usize),
    /// Report the n-th WebSocket open.
    WsOpened(usize),
    /// A frame on the n-th WebSocket.
    WsFrame(usize, Frame),
    /// The n-th WebSocket closed.
    WsClosed(usize),
    /// Time passes, then timers run.
    Advance(u64),
    /// The application sends.
    Send(bool),
    /// The application closes.
    Close,
    /// The last WebSocket opens and answers the probe with `3probe`; a pending GET gets `6`.
    ProbeOk,
}

fn body() -> impl Strategy<Value = Bytes> {
    let canned = prop_oneof![
        Just(OPEN_UPGRADE.to_owned()),
        Just(OPEN_PLAIN.to_owned()),
        Just(format!("{OPEN_PLAIN}\u{1e}4hi")),
        Just("ok".to_owned()),
        Just("2".to_owned()),
        Just("6".to_owned()),
        Just("1".to_owned()),
        Just("4hello\u{1e}bAQID\u{1e}2".to_owned()),
        Just("3probe".to_owned()),
        Just("".to_owned()),
        "[0-6b][a-z0-9{}\":,\u{1e}]{0,12}",
    ]
    .prop_map(Bytes::from);
    prop_oneof![
        8 => canned,
        1 => proptest::collection::vec(any::<u8>(), 0..24).prop_map(Bytes::from),
    ]
}

fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        Just(Frame::Text(Str::from(OPEN_PLAIN))),
        Just(Frame::Text(Str::from_static("3probe"))),
        Just(Frame::Text(Str::from_static("2"))),
        Just(Frame::Text(Str::from_static("4msg"))),
        Just(Frame::Text(Str::from_static("1"))),
        Just(Frame::Text(Str::from_static("6"))),
        Just(Frame::Text(Str::from_static("5"))),
        "[0-9b][a-z{}]{0,6}".prop_map(|text| Frame::Text(Str::from(text))),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(|b| Frame::Binary(Bytes::from(b))),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..3, prop_oneof![24 => Just(200u16), 1 => Just(400u16), 1 => Just(500u16)], body())
            .prop_map(|(n, status, body)| Op::Respond(n, status, body)),
        1 => (0usize..3).prop_map(Op::HttpError),
        2 => (0usize..2).prop_map(Op::WsOpened),
        4 => ((0usize..2), frame()).prop_map(|(n, frame)| Op::WsFrame(n, frame)),
        1 => (0usize..2).prop_map(Op::WsClosed),
        3 => (0u64..800).prop_map(Op::Advance),
        4 => any::<bool>().prop_map(Op::Send),
        1 => Just(Op::Close),
        2 => Just(Op::ProbeOk),
    ]
}

fn config() -> impl Strategy<Value = ClientConfig> {
    (
        prop_oneof![
            Just(vec![TransportKind::Polling, TransportKind::WebSocket]),
            Just(vec![TransportKind::Polling]),
            Just(vec![TransportKind::WebSocket]),
        ],
        prop_oneof![Just(ProtocolVersion::V4), Just(ProtocolVersion::V3)],
        1usize..6,
    )
        .prop_map(
            |(transports, version, max_buffered_messages)| ClientConfig {
                transports,
                version,
                max_buffered_messages,
                ..ClientConfig::default()
            },
        )
}

/// The messages carried by a write (a POST body or a frame), in order.
fn written_messages(version: ProtocolVersion, transmit: &Transmit) -> Vec<Data> {
    let packets = match transmit {
        Transmit::Http {
            method: Method::Post,
            body,
            ..
        } => {
            let text = Str::from_utf8(body.clone()).expect("POST bodies are text");
            match version {
                ProtocolVersion::V4 => payload::decode_v4(text, usize::MAX),
                ProtocolVersion::V3 => payload::decode_v3_text(text, usize::MAX),
            }
            .expect("POST bodies decode")
        }
        Transmit::WsFrame { frame, .. } => {
            vec![Packet::decode_frame(version, frame.clone()).expect("frames decode")]
        }
        _ => Vec::new(),
    };
    packets
        .into_iter()
        .filter_map(|packet| match packet {
            Packet::Message(data) => Some(data),
            _ => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_server_behaviour_never_breaks_the_client(
        config in config(),
        handshake_first in any::<bool>(),
        ops in proptest::collection::vec(op(), 0..50),
    ) {
        let version = config.version;
        let mut now = Instant::ZERO;
        let mut client = EngineClient::new(config, now).unwrap();
        let mut gets: Vec<RequestId> = Vec::new();
        let mut posts: Vec<RequestId> = Vec::new();
        let mut sockets: Vec<RequestId> = Vec::new();
        let mut sent: Vec<Data> = Vec::new();
        let mut written: Vec<Data> = Vec::new();
        let mut received = 0usize;
        let mut closed = false;
        let mut counter = 0usize;
        let mut step = |client: &mut EngineClient,
                        gets: &mut Vec<RequestId>,
                        posts: &mut Vec<RequestId>,
                        sockets: &mut Vec<RequestId>,
                        written: &mut Vec<Data>,
                        closed: &mut bool|
         -> Result<(), TestCaseError> {
            let was_closed = *closed;
            let mut transmits = Vec::new();
            while let Some(transmit) = client.poll_transmit() {
                transmits.push(transmit);
            }
            let mut events = Vec::new();
            while let Some(event) = client.poll_event() {
                events.push(event);
            }
            if was_closed {
                prop_assert!(transmits.is_empty(), "output after close: {transmits:?}");
                prop_assert!(events.is_empty(), "events after close: {events:?}");
            }
            for (index, event) in events.iter().enumerate() {
                match event {
                    Event::Closed(_) => {
                        prop_assert_eq!(index, events.len() - 1, "Closed is the last event");
                        *closed = true;
                    }
                    Event::Message(_) => received += 1,
                    _ => {}
                }
            }
            for transmit in &transmits {
                written.extend(written_messages(version, transmit));
                match transmit {
                    Transmit::Http { id, method: Method::Get, .. } => gets.push(*id),
                    Transmit::Http { id, method: Method::Post, .. } => posts.push(*id),
                    Transmit::OpenWebSocket { id, .. } => sockets.push(*id),
                    _ => {}
                }
            }
            if !*closed {
                prop_assert!(gets.len() <= 1, "one GET in flight: {gets:?}");
                prop_assert!(posts.len() <= 1, "one POST in flight: {posts:?}");
                prop_assert!(sockets.len() <= 2);
            }
            Ok(())
        };
        step(&mut client, &mut gets, &mut posts, &mut sockets, &mut written, &mut closed)?;
        if handshake_first {
            // Start from an open session most of the time, so later steps reach deeper states.
            if let Some(id) = gets.pop() {
                client.handle_http_response(now, id, 200, Bytes::from_static(OPEN_UPGRADE.as_bytes()));
            } else if let Some(&id) = sockets.first() {
                client.handle_ws_opened(now, id);
                client.handle_ws_frame(now, id, Frame::Text(Str::from_static(OPEN_PLAIN)));
            }
            step(&mut client, &mut gets, &mut posts, &mut sockets, &mut written, &mut closed)?;
        }
        for op in ops {
            counter += 1;
            match op {
                Op::Respond(n, status, body) => {
                    let mut all: Vec<RequestId> = gets.iter().chain(posts.iter()).copied().collect();
                    all.sort();
                    if let Some(&id) = all.get(n % all.len().max(1)) {
                        gets.retain(|get| *get != id);
                        posts.retain(|post| *post != id);
                        client.handle_http_response(now, id, status, body);
                    }
                }
                Op::HttpError(n) => {
                    let mut all: Vec<RequestId> = gets.iter().chain(posts.iter()).copied().collect();
                    all.sort();
                    if let Some(&id) = all.get(n % all.len().max(1)) {
                        gets.retain(|get| *get != id);
                        posts.retain(|post| *post != id);
                        client.handle_http_error(now, id);
                    }
                }
                Op::WsOpened(n) => {
                    if let Some(&id) = sockets.get(n) {
                        client.handle_ws_opened(now, id);
                    }
                }
                Op::WsFrame(n, frame) => {
                    if let Some(&id) = sockets.get(n) {
                        client.handle_ws_frame(now, id, frame);
                    }
                }
                Op::WsClosed(n) => {
                    if n < sockets.len() {
                        let id = sockets.remove(n);
                        client.handle_ws_closed(now, id);
                    }
                }
                Op::Advance(millis) => {
                    now = now + Duration::from_millis(millis);
                    client.handle_timeout(now);
                    if let Some(at) = client.poll_timeout() {
                        prop_assert!(at > now, "a timer due after handle_timeout");
                    }
                }
                Op::Send(bin) => {
                    let data = if bin {
                        Data::Binary(Bytes::from(vec![counter as u8; 3]))
                    } else {
                        Data::Text(Str::from(format!("m{counter}")))
                    };
                    if client.send(data.clone()).is_ok() {
                        sent.push(data);
                    }
                }
                Op::Close => client.close(),
                Op::ProbeOk => {
                    if let Some(&id) = sockets.last() {
                        client.handle_ws_opened(now, id);
                        client.handle_ws_frame(now, id, Frame::Text(Str::from_static("3probe")));
                        // The server answers the pending GET with a noop.
                        if let Some(get) = gets.pop() {
                            client.handle_http_response(now, get, 200, Bytes::from_static(b"6"));
                        }
                    }
                }
            }
            step(&mut client, &mut gets, &mut posts, &mut sockets, &mut written, &mut closed)?;
            // Every accepted message is written at most once, in order.
            prop_assert!(sent.starts_with(&written), "sent {sent:?}, written {written:?}");
        }
        let _ = received;
    }
}
