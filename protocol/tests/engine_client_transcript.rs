//! Transcript tests for the Engine.IO client under virtual time: responses in, exact requests
//! and frames out.

use bytes::Bytes;
use socketio_protocol::engine::client::{
    ClientConfig, EngineClient, Event, Method, RequestId, SendError, Transmit, TransportKind,
};
use socketio_protocol::engine::{CloseReason, Data, Frame, ProtocolVersion};
use socketio_protocol::{Instant, Str};

const OPEN_POLLING: &str = r#"0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
const OPEN_NO_UPGRADE: &str =
    r#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
const OPEN_WS: &str =
    r#"0{"sid":"abc","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#;

fn ms(millis: u64) -> Instant {
    Instant::from_millis(millis)
}

/// A transmit in a compact, comparable text form.
fn show(transmit: &Transmit) -> String {
    match transmit {
        Transmit::Http {
            id,
            method,
            path_and_query,
            body,
            content_type,
        } => {
            let method = match method {
                Method::Get => "GET",
                Method::Post => "POST",
                _ => "?",
            };
            let mut out = format!("#{} {method} {path_and_query}", id.0);
            if !body.is_empty() {
                out.push(' ');
                out.push_str(&String::from_utf8_lossy(body));
            }
            if let Some(content_type) = content_type {
                out.push_str(&format!(" [{content_type}]"));
            }
            out
        }
        Transmit::OpenWebSocket { id, path_and_query } => format!("#{} WS {path_and_query}", id.0),
        Transmit::WsFrame { id, frame } => match frame {
            Frame::Text(text) => format!("#{} > {text}", id.0),
            Frame::Binary(bytes) => format!("#{} > bin{:?}", id.0, &bytes[..]),
        },
        Transmit::CloseWebSocket { id } => format!("#{} CLOSE", id.0),
        _ => String::from("?"),
    }
}

fn drain(client: &mut EngineClient) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(transmit) = client.poll_transmit() {
        out.push(show(&transmit));
    }
    out
}

fn events(client: &mut EngineClient) -> Vec<Event> {
    let mut out = Vec::new();
    while let Some(event) = client.poll_event() {
        out.push(event);
    }
    out
}

fn text(data: &'static str) -> Data {
    Data::Text(Str::from(data))
}

fn ok(client: &mut EngineClient, now: Instant, id: u64, body: &str) {
    client.handle_http_response(now, RequestId(id), 200, Bytes::from(body.to_owned()));
}

/// Opens a polling session with `OPEN_NO_UPGRADE`; the next GET is #1.
fn open_polling(config: ClientConfig) -> EngineClient {
    let mut client = EngineClient::new(config, ms(0)).unwrap();
    let _ = drain(&mut client);
    ok(&mut client, ms(0), 0, OPEN_NO_UPGRADE);
    let _ = events(&mut client);
    let _ = drain(&mut client);
    client
}

#[test]
fn polling_handshake_messages_and_close() {
    let mut client = EngineClient::new(ClientConfig::default(), ms(0)).unwrap();
    client.send(text("early")).unwrap();
    assert_eq!(
        drain(&mut client),
        ["#0 GET /engine.io/?EIO=4&transport=polling&t=0"]
    );
    assert_eq!(client.poll_timeout(), None);
    ok(
        &mut client,
        ms(10),
        0,
        &format!("{OPEN_NO_UPGRADE}\u{1e}4hi"),
    );
    let events_out = events(&mut client);
    assert!(matches!(&events_out[0], Event::Open(open) if open.sid == "abc"));
    assert_eq!(events_out[1], Event::Message(text("hi")));
    assert_eq!(
        drain(&mut client),
        [
            "#1 POST /engine.io/?EIO=4&transport=polling&t=1&sid=abc 4early [text/plain;charset=UTF-8]",
            "#2 GET /engine.io/?EIO=4&transport=polling&t=2&sid=abc",
        ]
    );
    assert_eq!(client.transport(), TransportKind::Polling);
    assert_eq!(client.sid().map(|sid| sid.as_str()), Some("abc"));

    // While the POST is in flight, messages queue and go out together after it.
    client.send(text("a")).unwrap();
    client
        .send(Data::Binary(Bytes::from_static(&[1, 2, 3])))
        .unwrap();
    assert!(drain(&mut client).is_empty());
    ok(&mut client, ms(20), 1, "ok");
    assert_eq!(
        drain(&mut client),
        [
            "#3 POST /engine.io/?EIO=4&transport=polling&t=3&sid=abc 4a\u{1e}bAQID [text/plain;charset=UTF-8]"
        ]
    );

    // A GET answer with several packets; then the next GET.
    ok(&mut client, ms(30), 2, "4x\u{1e}bAQID\u{1e}6");
    assert_eq!(
        events(&mut client),
        [
            Event::Message(text("x")),
            Event::Message(Data::Binary(Bytes::from_static(&[1, 2, 3]))),
        ]
    );
    assert_eq!(
        drain(&mut client),
        ["#4 GET /engine.io/?EIO=4&transport=polling&t=4&sid=abc"]
    );

    // close() waits for the POST in flight to drain, then POSTs `1`.
    client.close();
    assert_eq!(client.send(text("late")), Err(SendError::Closed));
    assert!(events(&mut client).is_empty());
    ok(&mut client, ms(40), 3, "ok");
    assert_eq!(
        drain(&mut client),
        ["#5 POST /engine.io/?EIO=4&transport=polling&t=5&sid=abc 1 [text/plain;charset=UTF-8]"]
    );
    assert_eq!(
        events(&mut client),
        [Event::Closed(CloseReason::ForcedClose)]
    );
    assert!(client.is_closed());
    assert_eq!(client.poll_timeout(), None);
    // Late answers are ignored.
    ok(&mut client, ms(50), 4, "4ignored");
    assert!(events(&mut client).is_empty());
    assert!(drain(&mut client).is_empty());
}

#[test]
fn v4_answers_pings_and_times_out_at_interval_plus_timeout() {
    let mut client = open_polling(ClientConfig::default());
    assert_eq!(client.poll_timeout(), Some(ms(45_000)));
    ok(&mut client, ms(25_000), 1, "2");
    assert_eq!(
        drain(&mut client),
        [
            "#2 POST /engine.io/?EIO=4&transport=polling&t=2&sid=abc 3 [text/plain;charset=UTF-8]",
            "#3 GET /engine.io/?EIO=4&transport=polling&t=3&sid=abc",
        ]
    );
    assert_eq!(client.poll_timeout(), Some(ms(70_000)));
    // Any packet counts as a sign of life.
    ok(&mut client, ms(30_000), 3, "4m");
    let _ = drain(&mut client);
    assert_eq!(client.poll_timeout(), Some(ms(75_000)));
    client.handle_timeout(ms(74_999));
    assert!(!client.is_closed());
    client.handle_timeout(ms(75_000));
    assert_eq!(
        events(&mut client),
        [
            Event::Message(text("m")),
            Event::Closed(CloseReason::PingTimeout)
        ]
    );
    // The official client still tells the server over polling.
    assert_eq!(
        drain(&mut client),
        ["#5 POST /engine.io/?EIO=4&transport=polling&t=5&sid=abc 1 [text/plain;charset=UTF-8]"]
    );
}

#[test]
fn one_pong_is_queued_while_a_post_is_in_flight() {
    let mut client = open_polling(ClientConfig::default());
    client.send(text("a")).unwrap();
    assert_eq!(drain(&mut client).len(), 1); // POST #2
    ok(&mut client, ms(1), 1, "2\u{1e}2");
    let _ = drain(&mut client);
    ok(&mut client, ms(2), 2, "ok");
    assert_eq!(
        drain(&mut client),
        ["#4 POST /engine.io/?EIO=4&transport=polling&t=4&sid=abc 3 [text/plain;charset=UTF-8]"]
    );
}

#[test]
fn posts_are_split_by_max_payload_like_the_official_client() {
    let mut client = EngineClient::new(ClientConfig::default(), ms(0)).unwrap();
    let _ = drain(&mut client);
    for data in ["aaaa", "bbbb", "cc", "dddddddddddd", "e"] {
        client.send(Data::Text(Str::from(data.to_owned()))).unwrap();
    }
    let open =
        r#"0{"sid":"s","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":10}"#;
    ok(&mut client, ms(0), 0, open);
    // size: 1 + 4 = 5 (first always goes); +2 +4 = 11 > 10 -> cut before "bbbb".
    let out = drain(&mut client);
    assert_eq!(
        out[0],
        "#1 POST /engine.io/?EIO=4&transport=polling&t=1&sid=s 4aaaa [text/plain;charset=UTF-8]"
    );
    ok(&mut client, ms(1), 1, "ok");
    // 1 + 4 = 5; +2 + 2 = 9 <= 10; +2 + 12 > 10 -> "bbbb", "cc".
    assert_eq!(
        drain(&mut client),
        [
            "#3 POST /engine.io/?EIO=4&transport=polling&t=3&sid=s 4bbbb\u{1e}4cc [text/plain;charset=UTF-8]"
        ]
    );
    ok(&mut client, ms(2), 3, "ok");
    // An oversized first packet still goes alone.
    assert_eq!(
        drain(&mut client),
        [
            "#4 POST /engine.io/?EIO=4&transport=polling&t=4&sid=s 4dddddddddddd [text/plain;charset=UTF-8]"
        ]
    );
    ok(&mut client, ms(3), 4, "ok");
    assert_eq!(
        drain(&mut client),
        ["#5 POST /engine.io/?EIO=4&transport=polling&t=5&sid=s 4e [text/plain;charset=UTF-8]"]
    );
    // Binary counts ceil(1.33 × length): 1 + 4 (3 bytes) = 5; +2 + 4 = 11 > 10.
    ok(&mut client, ms(4), 5, "ok");
    client
        .send(Data::Binary(Bytes::from_static(&[1, 2, 3])))
        .unwrap();
    assert_eq!(drain(&mut client).len(), 1);
    client
        .send(Data::Binary(Bytes::from_static(&[4, 5, 6])))
        .unwrap();
    client
        .send(Data::Binary(Bytes::from_static(&[7, 8, 9])))
        .unwrap();
    ok(&mut client, ms(5), 6, "ok");
    assert_eq!(
        drain(&mut client),
        ["#7 POST /engine.io/?EIO=4&transport=polling&t=7&sid=s bBAUG [text/plain;charset=UTF-8]"]
    );
}

#[test]
fn upgrade_probe_pause_and_switch() {
    let mut client = EngineClient::new(ClientConfig::default(), ms(0)).unwrap();
    let _ = drain(&mut client);
    client.send(text("before")).unwrap();
    ok(&mut client, ms(0), 0, OPEN_POLLING);
    let _ = events(&mut client);
    assert_eq!(
        drain(&mut client),
        [
            "#1 POST /engine.io/?EIO=4&transport=polling&t=1&sid=abc 4before [text/plain;charset=UTF-8]",
            "#2 WS /engine.io/?EIO=4&transport=websocket&sid=abc",
            "#3 GET /engine.io/?EIO=4&transport=polling&t=2&sid=abc",
        ]
    );
    client.handle_ws_opened(ms(5), RequestId(2));
    assert_eq!(drain(&mut client), ["#2 > 2probe"]);
    client.handle_ws_frame(ms(6), RequestId(2), Frame::Text("3probe".into()));
    // Pausing: nothing is written while GET #3 and POST #1 are in flight.
    client.send(text("during")).unwrap();
    assert!(drain(&mut client).is_empty());
    ok(&mut client, ms(7), 1, "ok");
    assert!(drain(&mut client).is_empty());
    // The server answers the pending GET with a noop (and maybe data).
    ok(&mut client, ms(8), 3, "4last-poll\u{1e}6");
    assert_eq!(
        drain(&mut client),
        ["#2 > 5", "#2 > 4during"],
        "upgrade packet, then the buffer flushes on the WebSocket"
    );
    assert_eq!(
        events(&mut client),
        [Event::Message(text("last-poll")), Event::Upgraded]
    );
    assert_eq!(client.transport(), TransportKind::WebSocket);
    assert!(client.websocket_succeeded());

    // Over the WebSocket: frames in, frames out, pings answered at once.
    client.handle_ws_frame(ms(10), RequestId(2), Frame::Text("4ws".into()));
    client.handle_ws_frame(
        ms(11),
        RequestId(2),
        Frame::Binary(Bytes::from_static(&[9])),
    );
    client.handle_ws_frame(ms(12), RequestId(2), Frame::Text("2".into()));
    assert_eq!(drain(&mut client), ["#2 > 3"]);
    client
        .send(Data::Binary(Bytes::from_static(&[1, 2])))
        .unwrap();
    assert_eq!(drain(&mut client), ["#2 > bin[1, 2]"]);
    assert_eq!(
        events(&mut client),
        [
            Event::Message(text("ws")),
            Event::Message(Data::Binary(Bytes::from_static(&[9]))),
        ]
    );
    assert_eq!(client.poll_timeout(), Some(ms(45_012)));
    // Late polling answers are ignored.
    ok(&mut client, ms(13), 3, "4stale");
    assert!(events(&mut client).is_empty());

    client.close();
    assert_eq!(drain(&mut client), ["#2 CLOSE"]);
    assert_eq!(
        events(&mut client),
        [Event::Closed(CloseReason::ForcedClose)]
    );
}

#[test]
fn failed_probe_keeps_polling() {
    let mut client = EngineClient::new(ClientConfig::default(), ms(0)).unwrap();
    let _ = drain(&mut client);
    ok(&mut client, ms(0), 0, OPEN_POLLING);
    let _ = events(&mut client);
    assert_eq!(drain(&mut client).len(), 2); // WS #1, GET #2
    client.handle_ws_opened(ms(1), RequestId(1));
    let _ = drain(&mut client);
    client.handle_ws_frame(ms(2), RequestId(1), Frame::Text("4nope".into()));
    assert_eq!(drain(&mut client), ["#1 CLOSE"]);
    assert_eq!(events(&mut client), [Event::UpgradeFailed]);
    client.send(text("still")).unwrap();
    assert_eq!(
        drain(&mut client),
        [
            "#3 POST /engine.io/?EIO=4&transport=polling&t=2&sid=abc 4still [text/plain;charset=UTF-8]"
        ]
    );
    assert_eq!(client.transport(), TransportKind::Polling);
}

#[test]
fn probe_closed_while_pausing_resumes_polling() {
    let mut client = EngineClient::new(ClientConfig::default(), ms(0)).unwrap();
    let _ = drain(&mut client);
    ok(&mut client, ms(0), 0, OPEN_POLLING);
    let _ = events(&mut client);
    let _ = drain(&mut client); // WS #1, GET #2
    client.handle_ws_opened(ms(1), RequestId(1));
    client.handle_ws_frame(ms(2), RequestId(1), Frame::Text("3probe".into()));
    let _ = drain(&mut client);
    ok(&mut client, ms(3), 2, "6");
    // Paused and switched: `5` went out. Now take a fresh client where the probe dies first.
    assert_eq!(drain(&mut client), ["#1 > 5"]);

    let mut client = EngineClient::new(ClientConfig::default(), ms(0)).unwrap();
    let _ = drain(&mut client);
    ok(&mut client, ms(0), 0, OPEN_POLLING);
    let _ = drain(&mut client);
    client.handle_ws_opened(ms(1), RequestId(1));
    client.handle_ws_frame(ms(2), RequestId(1), Frame::Text("3probe".into()));
    let _ = drain(&mut client);
    client.send(text("queued")).unwrap();
    client.handle_ws_closed(ms(3), RequestId(1));
    assert_eq!(
        drain(&mut client),
        [
            "#3 POST /engine.io/?EIO=4&transport=polling&t=2&sid=abc 4queued [text/plain;charset=UTF-8]"
        ]
    );
    // GET #2 is still in flight; its answer leads to the next GET.
    ok(&mut client, ms(4), 2, "6");
    assert_eq!(
        drain(&mut client),
        ["#4 GET /engine.io/?EIO=4&transport=polling&t=3&sid=abc"]
    );
}

#[test]
fn close_during_upgrade_waits_for_the_switch() {
    let mut client = EngineClient::new(ClientConfig::default(), ms(0)).unwrap();
    let _ = drain(&mut client);
    ok(&mut client, ms(0), 0, OPEN_POLLING);
    let _ = drain(&mut client);
    client.handle_ws_opened(ms(1), RequestId(1));
    client.handle_ws_frame(ms(2), RequestId(1), Frame::Text("3probe".into()));
    let _ = drain(&mut client);
    let _ = events(&mut client);
    client.close();
    assert!(events(&mut client).is_empty());
    ok(&mut client, ms(3), 2, "6");
    assert_eq!(drain(&mut client), ["#1 > 5", "#1 CLOSE"]);
    assert_eq!(
        events(&mut client),
        [Event::Upgraded, Event::Closed(CloseReason::ForcedClose)]
    );
}

#[test]
fn websocket_only_session() {
    let config = ClientConfig {
        transports: vec![TransportKind::WebSocket],
        ..ClientConfig::default()
    };
    let mut client = EngineClient::new(config, ms(0)).unwrap();
    client.send(text("early")).unwrap();
    assert_eq!(
        drain(&mut client),
        ["#0 WS /engine.io/?EIO=4&transport=websocket"]
    );
    client.handle_ws_opened(ms(1), RequestId(0));
    assert!(drain(&mut client).is_empty());
    client.handle_ws_frame(ms(2), RequestId(0), Frame::Text(OPEN_WS.into()));
    assert!(matches!(&events(&mut client)[..], [Event::Open(open)] if open.ping_interval == 300));
    assert_eq!(drain(&mut client), ["#0 > 4early"]);
    assert_eq!(client.poll_timeout(), Some(ms(502)));
    client.handle_ws_frame(ms(300), RequestId(0), Frame::Text("2".into()));
    assert_eq!(drain(&mut client), ["#0 > 3"]);
    assert_eq!(client.poll_timeout(), Some(ms(800)));
    client.handle_timeout(ms(799));
    assert!(!client.is_closed());
    client.handle_timeout(ms(800));
    assert_eq!(drain(&mut client), ["#0 CLOSE"]);
    assert_eq!(
        events(&mut client),
        [Event::Closed(CloseReason::PingTimeout)]
    );
}

#[test]
fn server_close_packet_and_transport_close() {
    let mut client = open_polling(ClientConfig::default());
    ok(&mut client, ms(1), 1, "4a\u{1e}1\u{1e}4b");
    assert_eq!(
        events(&mut client),
        [
            Event::Message(text("a")),
            Event::Closed(CloseReason::TransportClose)
        ]
    );

    let config = ClientConfig {
        transports: vec![TransportKind::WebSocket],
        ..ClientConfig::default()
    };
    let mut client = EngineClient::new(config, ms(0)).unwrap();
    let _ = drain(&mut client);
    client.handle_ws_opened(ms(1), RequestId(0));
    client.handle_ws_frame(ms(2), RequestId(0), Frame::Text(OPEN_WS.into()));
    let _ = events(&mut client);
    client.handle_ws_closed(ms(3), RequestId(0));
    assert!(drain(&mut client).is_empty());
    assert_eq!(
        events(&mut client),
        [Event::Closed(CloseReason::TransportClose)]
    );
}

#[test]
fn bad_input_closes_with_parse_or_transport_error() {
    // An undecodable packet after good ones: the good ones are delivered first.
    let mut client = open_polling(ClientConfig::default());
    ok(&mut client, ms(1), 1, "4a\u{1e}9bad");
    assert_eq!(
        events(&mut client),
        [
            Event::Message(text("a")),
            Event::Closed(CloseReason::ParseError)
        ]
    );

    // A bad handshake.
    let mut client = EngineClient::new(ClientConfig::default(), ms(0)).unwrap();
    let _ = drain(&mut client);
    ok(&mut client, ms(1), 0, "0{\"sid\":1}");
    assert_eq!(
        events(&mut client),
        [Event::Closed(CloseReason::ParseError)]
    );
    assert!(
        drain(&mut client).is_empty(),
        "nothing to tell a server with no session"
    );

    // A handshake answer without an open packet.
    let mut client = EngineClient::new(ClientConfig::default(), ms(0)).unwrap();
    let _ = drain(&mut client);
    ok(&mut client, ms(1), 0, "6");
    assert_eq!(
        events(&mut client),
        [Event::Closed(CloseReason::ParseError)]
    );
    assert!(drain(&mut client).is_empty());

    // A message before the handshake.
    let mut client = EngineClient::new(ClientConfig::default(), ms(0)).unwrap();
    let _ = drain(&mut client);
    ok(&mut client, ms(1), 0, "4early");
    assert_eq!(
        events(&mut client),
        [Event::Closed(CloseReason::ParseError)]
    );

    // Invalid UTF-8 in a body, and a second open.
    let mut client = open_polling(ClientConfig::default());
    client.handle_http_response(ms(1), RequestId(1), 200, Bytes::from_static(&[0xff, 0xfe]));
    assert_eq!(
        events(&mut client),
        [Event::Closed(CloseReason::ParseError)]
    );
    let mut client = open_polling(ClientConfig::default());
    ok(&mut client, ms(1), 1, OPEN_NO_UPGRADE);
    assert_eq!(
        events(&mut client),
        [Event::Closed(CloseReason::ParseError)]
    );

    // A bad frame on the WebSocket.
    let config = ClientConfig {
        transports: vec![TransportKind::WebSocket],
        ..ClientConfig::default()
    };
    let mut client = EngineClient::new(config, ms(0)).unwrap();
    let _ = drain(&mut client);
    client.handle_ws_frame(ms(2), RequestId(0), Frame::Text(OPEN_WS.into()));
    let _ = events(&mut client);
    client.handle_ws_frame(ms(3), RequestId(0), Frame::Text("".into()));
    assert_eq!(
        events(&mut client),
        [Event::Closed(CloseReason::ParseError)]
    );

    // A non-200 status, a failed request.
    let mut client = open_polling(ClientConfig::default());
    client.handle_http_response(ms(1), RequestId(1), 400, Bytes::from_static(b"{}"));
    assert_eq!(
        events(&mut client),
        [Event::Closed(CloseReason::TransportError)]
    );
    let mut client = EngineClient::new(ClientConfig::default(), ms(0)).unwrap();
    let _ = drain(&mut client);
    client.handle_http_error(ms(1), RequestId(0));
    assert_eq!(
        events(&mut client),
        [Event::Closed(CloseReason::TransportError)]
    );
}

#[test]
fn send_buffer_is_bounded() {
    let config = ClientConfig {
        max_buffered_messages: 2,
        max_buffered_bytes: 5,
        ..ClientConfig::default()
    };
    let mut client = EngineClient::new(config, ms(0)).unwrap();
    client.send(text("abcdefgh")).unwrap(); // one oversized message fits an empty buffer
    assert_eq!(client.send(text("x")), Err(SendError::BufferFull));
    let _ = drain(&mut client);
    ok(&mut client, ms(0), 0, OPEN_NO_UPGRADE);
    let _ = drain(&mut client); // POST #1 carries it; it stays counted until answered
    assert_eq!(client.buffered_messages(), 1);
    ok(&mut client, ms(1), 1, "ok");
    assert_eq!(client.buffered_messages(), 0);
    client.send(text("ab")).unwrap();
    client.send(text("cd")).unwrap();
    assert_eq!(client.send(text("e")), Err(SendError::BufferFull));
}

#[test]
fn config_query_path_and_stamps() {
    let config = ClientConfig {
        path: "/socket.io".into(),
        query: vec![("token".into(), "a b&c".into())],
        timestamp_requests: Some(true),
        timestamp_param: "ts".into(),
        timestamp_seed: 35,
        ..ClientConfig::default()
    };
    let mut client = EngineClient::new(config, ms(0)).unwrap();
    assert_eq!(
        drain(&mut client),
        ["#0 GET /socket.io/?token=a%20b%26c&EIO=4&transport=polling&ts=z"]
    );
    ok(&mut client, ms(0), 0, OPEN_POLLING);
    assert_eq!(
        drain(&mut client),
        [
            "#1 WS /socket.io/?token=a%20b%26c&EIO=4&transport=websocket&ts=10&sid=abc",
            "#2 GET /socket.io/?token=a%20b%26c&EIO=4&transport=polling&ts=11&sid=abc",
        ]
    );

    // No stamps at all, no upgrade.
    let config = ClientConfig {
        path: "/engine.io///".into(),
        timestamp_requests: Some(false),
        upgrade: false,
        ..ClientConfig::default()
    };
    let mut client = EngineClient::new(config, ms(0)).unwrap();
    assert_eq!(
        drain(&mut client),
        ["#0 GET /engine.io/?EIO=4&transport=polling"]
    );
    ok(&mut client, ms(0), 0, OPEN_POLLING);
    assert_eq!(
        drain(&mut client),
        ["#1 GET /engine.io/?EIO=4&transport=polling&sid=abc"]
    );

    // remember_upgrade opens over WebSocket after a WebSocket success.
    let config = ClientConfig {
        remember_upgrade: true,
        prior_websocket_success: true,
        ..ClientConfig::default()
    };
    let mut client = EngineClient::new(config, ms(0)).unwrap();
    assert_eq!(
        drain(&mut client),
        ["#0 WS /engine.io/?EIO=4&transport=websocket"]
    );

    let config = ClientConfig {
        transports: vec![],
        ..ClientConfig::default()
    };
    assert!(EngineClient::new(config, ms(0)).is_err());
}

#[test]
fn close_before_open() {
    let mut client = EngineClient::new(ClientConfig::default(), ms(0)).unwrap();
    let _ = drain(&mut client);
    client.close();
    assert!(drain(&mut client).is_empty());
    assert_eq!(
        events(&mut client),
        [Event::Closed(CloseReason::ForcedClose)]
    );
    client.close();
    assert!(events(&mut client).is_empty());
}

#[test]
fn v3_polling_payloads_and_client_ping_schedule() {
    let config = ClientConfig {
        version: ProtocolVersion::V3,
        ..ClientConfig::default()
    };
    let mut client = EngineClient::new(config, ms(0)).unwrap();
    client.send(text("é")).unwrap();
    client
        .send(Data::Binary(Bytes::from_static(&[1, 2, 3])))
        .unwrap();
    assert_eq!(
        drain(&mut client),
        ["#0 GET /engine.io/?EIO=3&transport=polling&t=0&b64=1"]
    );
    // v3 handshakes may omit maxPayload; Socket.IO v2 servers append `40`.
    let open = r#"0{"sid":"v3","upgrades":[],"pingInterval":1000,"pingTimeout":500}"#;
    ok(
        &mut client,
        ms(0),
        0,
        &format!("{}:{open}2:40", open.encode_utf16().count()),
    );
    let out = events(&mut client);
    assert!(matches!(&out[0], Event::Open(open) if open.max_payload.is_none()));
    assert_eq!(out[1], Event::Message(text("0")));
    assert_eq!(
        drain(&mut client),
        [
            "#1 POST /engine.io/?EIO=3&transport=polling&t=1&b64=1&sid=v3 2:4é6:b4AQID [text/plain;charset=UTF-8]",
            "#2 GET /engine.io/?EIO=3&transport=polling&t=2&b64=1&sid=v3",
        ]
    );
    ok(&mut client, ms(10), 1, "ok");
    // The client pings every pingInterval; deadline first = interval + timeout.
    assert_eq!(client.poll_timeout(), Some(ms(1_000)));
    client.handle_timeout(ms(1_000));
    assert_eq!(
        drain(&mut client),
        [
            "#3 POST /engine.io/?EIO=3&transport=polling&t=3&b64=1&sid=v3 1:2 [text/plain;charset=UTF-8]"
        ]
    );
    // A pong is expected within pingTimeout.
    assert_eq!(client.poll_timeout(), Some(ms(1_500)));
    ok(&mut client, ms(1_100), 3, "ok");
    ok(&mut client, ms(1_200), 2, "1:3");
    let _ = drain(&mut client); // next GET #4
    // Next ping pingInterval after the pong.
    assert_eq!(client.poll_timeout(), Some(ms(2_200)));
    client.handle_timeout(ms(2_200));
    assert_eq!(drain(&mut client).len(), 1);
    assert_eq!(client.poll_timeout(), Some(ms(2_700)));
    client.handle_timeout(ms(2_699));
    assert!(!client.is_closed());
    client.handle_timeout(ms(2_700));
    assert_eq!(
        events(&mut client).last(),
        Some(&Event::Closed(CloseReason::PingTimeout))
    );
}

#[test]
fn v3_websocket_binary_frames_and_server_pings_ignored() {
    let config = ClientConfig {
        version: ProtocolVersion::V3,
        transports: vec![TransportKind::WebSocket],
        ..ClientConfig::default()
    };
    let mut client = EngineClient::new(config, ms(0)).unwrap();
    assert_eq!(
        drain(&mut client),
        ["#0 WS /engine.io/?EIO=3&transport=websocket"]
    );
    client.handle_ws_opened(ms(0), RequestId(0));
    let open = r#"0{"sid":"v3","upgrades":[],"pingInterval":1000,"pingTimeout":500}"#;
    client.handle_ws_frame(ms(0), RequestId(0), Frame::Text(open.into()));
    client.handle_ws_frame(
        ms(1),
        RequestId(0),
        Frame::Binary(Bytes::from_static(&[4, 7])),
    );
    client.handle_ws_frame(ms(2), RequestId(0), Frame::Text("2".into()));
    let out = events(&mut client);
    assert_eq!(
        out[1],
        Event::Message(Data::Binary(Bytes::from_static(&[7])))
    );
    client.send(Data::Binary(Bytes::from_static(&[1]))).unwrap();
    assert_eq!(drain(&mut client), ["#0 > bin[4, 1]"]);
    client.handle_timeout(ms(1_000));
    assert_eq!(drain(&mut client), ["#0 > 2"]);
    client.handle_ws_frame(ms(1_100), RequestId(0), Frame::Text("3".into()));
    assert_eq!(client.poll_timeout(), Some(ms(2_100)));
}

#[test]
fn the_polling_body_cap_follows_the_handshake_within_bounds() {
    use socketio_protocol::engine::client::{
        DEFAULT_MAX_PAYLOAD, MAX_TRUSTED_PAYLOAD, MIN_POLL_BODY_LIMIT,
    };
    let open = |max: &str| {
        let mut client = EngineClient::new(ClientConfig::default(), ms(0)).unwrap();
        assert_eq!(client.max_response_len(), DEFAULT_MAX_PAYLOAD);
        let _ = drain(&mut client);
        let body = format!(
            r#"0{{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000{max}}}"#
        );
        ok(&mut client, ms(0), 0, &body);
        client.max_response_len()
    };
    assert_eq!(open(r#","maxPayload":50000000"#), 50_000_000);
    // Never below the floor: a poll may carry a burst the server buffered.
    assert_eq!(open(r#","maxPayload":5000"#), MIN_POLL_BODY_LIMIT);
    assert_eq!(open(""), MIN_POLL_BODY_LIMIT);
    assert_eq!(open(r#","maxPayload":0"#), MIN_POLL_BODY_LIMIT);
    // A hostile handshake cannot lift the cap past the trusted ceiling.
    assert_eq!(open(r#","maxPayload":1000000000000"#), MAX_TRUSTED_PAYLOAD);
    // The application's own cap wins.
    let config = ClientConfig {
        max_payload: Some(42),
        ..ClientConfig::default()
    };
    let mut client = open_polling(config);
    assert_eq!(client.max_response_len(), 42);
    let _ = drain(&mut client);
}

#[test]
fn an_oversized_poll_closes_with_payload_too_large_and_tells_the_server() {
    let mut client = open_polling(ClientConfig::default());
    client.handle_too_large(ms(5), RequestId(1), 1_000_000);
    assert_eq!(
        events(&mut client),
        [Event::Closed(CloseReason::PayloadTooLarge {
            limit: 1_000_000
        })]
    );
    assert_eq!(
        drain(&mut client),
        ["#2 POST /engine.io/?EIO=4&transport=polling&t=2&sid=abc 1 [text/plain;charset=UTF-8]"]
    );
    // Late answers for the aborted GET are ignored.
    ok(&mut client, ms(6), 1, "4late");
    assert!(events(&mut client).is_empty());
}

#[test]
fn an_oversized_websocket_message_closes_and_an_oversized_probe_only_fails_the_probe() {
    let config = ClientConfig {
        transports: vec![TransportKind::WebSocket],
        ..ClientConfig::default()
    };
    let mut client = EngineClient::new(config, ms(0)).unwrap();
    let _ = drain(&mut client);
    client.handle_ws_opened(ms(0), RequestId(0));
    client.handle_ws_frame(ms(0), RequestId(0), Frame::Text(Str::from(OPEN_WS)));
    let _ = events(&mut client);
    client.handle_too_large(ms(1), RequestId(0), 1_000_000);
    assert_eq!(
        events(&mut client),
        [Event::Closed(CloseReason::PayloadTooLarge {
            limit: 1_000_000
        })]
    );
    assert_eq!(drain(&mut client), ["#0 CLOSE"]);

    let mut client = EngineClient::new(ClientConfig::default(), ms(0)).unwrap();
    let _ = drain(&mut client);
    ok(&mut client, ms(0), 0, OPEN_POLLING);
    let _ = events(&mut client);
    let _ = drain(&mut client); // WS #1, GET #2
    client.handle_ws_opened(ms(1), RequestId(1));
    let _ = drain(&mut client);
    client.handle_too_large(ms(2), RequestId(1), 1_000_000);
    assert_eq!(events(&mut client), [Event::UpgradeFailed]);
    assert_eq!(drain(&mut client), ["#1 CLOSE"]);
    assert!(client.is_open());
}
